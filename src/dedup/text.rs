//! Text features for duplicate detection: word terms (letter-and-digit runs, camelCase and
//! digit splits, stopwords out, a light stemmer) and character 3–5-grams. Runs are Unicode
//! aware, so "mémoire" stays one word; on ASCII text this is the method measured in
//! docs/benchmarks.md.

use std::collections::HashMap;

const STOPWORDS: [&str; 135] = [
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "me",
    "more",
    "most",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "s",
    "t",
    "don",
    "doesn",
    "didn",
    "isn",
    "wasn",
    "aren",
    "won",
    "cannot",
];

pub const CHAR_N: (usize, usize) = (3, 5);

pub(crate) fn is_stopword(w: &str) -> bool {
    STOPWORDS.contains(&w)
}

/// Maximal runs of letters and digits; everything else separates.
pub(crate) fn runs(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|r| !r.is_empty())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Digit,
    Upper,
    Lower,
}

fn class(c: char) -> Class {
    if c.is_numeric() {
        Class::Digit
    } else if c.is_uppercase() {
        Class::Upper
    } else {
        Class::Lower
    }
}

/// Splits a run at lower→Upper, letter↔digit and UPPER→Upper+lower (`HTTPServer` →
/// `HTTP`, `Server`).
fn camel_parts(run: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = run.char_indices().collect();
    let class_at = |i: usize| class(chars[i].1);
    let mut parts = Vec::new();
    let mut start = 0;
    for i in 1..chars.len() {
        let (x, y) = (class_at(i - 1), class_at(i));
        let split = ((x == Class::Digit) != (y == Class::Digit))
            || (x == Class::Lower && y == Class::Upper)
            || (x == Class::Upper && y == Class::Upper && i + 1 < chars.len() && class_at(i + 1) == Class::Lower);
        if split {
            parts.push(&run[start..chars[i].0]);
            start = chars[i].0;
        }
    }
    parts.push(&run[start..]);
    parts
}

/// A deterministic suffix stripper; the stem keeps at least three characters.
pub(crate) fn stem(w: &str) -> String {
    // Suffixes are ASCII; the length rule counts bytes, as measured on the dev set.
    let n = w.len();
    if n <= 3 || w.chars().all(char::is_numeric) {
        return w.to_string();
    }
    if w.ends_with("ies") && n - 3 >= 3 {
        return format!("{}y", &w[..n - 3]);
    }
    if w.ends_with("sses") {
        return w[..n - 2].to_string();
    }
    for suffix in ["ing", "ed", "ly"] {
        if w.ends_with(suffix) && n - suffix.len() >= 3 {
            return w[..n - suffix.len()].to_string();
        }
    }
    if w.ends_with("es") && n - 2 >= 3 {
        if ["shes", "ches", "xes", "zes", "sses"].iter().any(|s| w.ends_with(s)) {
            return w[..n - 2].to_string();
        }
        return w[..n - 1].to_string();
    }
    if w.ends_with('s') && !w.ends_with("ss") && n > 3 {
        return w[..n - 1].to_string();
    }
    w.to_string()
}

/// Word terms: each run lower-cased, plus its camelCase/digit parts when it has several;
/// stopwords dropped, the rest stemmed.
pub fn word_terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for run in runs(text) {
        let parts = camel_parts(run);
        let whole = run.to_lowercase();
        let mut push = |t: String| {
            if !is_stopword(&t) {
                out.push(stem(&t));
            }
        };
        push(whole);
        if parts.len() > 1 {
            for p in parts {
                push(p.to_lowercase());
            }
        }
    }
    out
}

/// Character 3–5-grams of each lower-cased run, padded with a space on each side.
pub fn char_grams(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for run in runs(text) {
        let padded: Vec<char> = format!(" {} ", run.to_lowercase()).chars().collect();
        for n in CHAR_N.0..=CHAR_N.1 {
            for window in padded.windows(n) {
                out.push(window.iter().collect());
            }
        }
    }
    out
}

pub fn counts(items: Vec<String>) -> HashMap<String, u32> {
    let mut out = HashMap::new();
    for item in items {
        *out.entry(item).or_insert(0) += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_and_digits_split() {
        assert_eq!(camel_parts("HTTPServer"), vec!["HTTP", "Server"]);
        assert_eq!(camel_parts("inputConnection2"), vec!["input", "Connection", "2"]);
        assert_eq!(camel_parts("plain"), vec!["plain"]);
    }

    #[test]
    fn terms_are_stemmed_without_stopwords() {
        assert_eq!(word_terms("The tabs are crashing"), vec!["tab", "crash"]);
        assert_eq!(word_terms("getUserName"), vec!["getusername", "get", "user", "name"]);
        assert_eq!(stem("policies"), "policy");
        assert_eq!(stem("boxes"), "box");
        assert_eq!(stem("glass"), "glass");
    }

    #[test]
    fn non_ascii_words_stay_whole() {
        assert_eq!(word_terms("Mémoire pleine"), vec!["mémoire", "pleine"]);
        assert_eq!(char_grams("été")[0], " ét");
    }

    #[test]
    fn grams_are_padded() {
        let grams = char_grams("Ab");
        assert_eq!(grams, vec![" ab", "ab ", " ab "]);
    }
}
