//! Key details: what makes two requests that read alike different work.
//!
//! "Translate the pricing page into Japanese" and "… into German" share every word but one,
//! and they are two tasks. Before a candidate is merged automatically, [`conflict`] compares
//! the key details of request and candidate:
//!
//! - numbers and identifiers: `#4471`, `v2.3.1`, `50 MB`, years, `node-3`, `us-east-1`,
//!   paths (`/api/orders`), dotted names (hosts, `orders.customer_id`, files);
//! - names: capitalised words that do not start a sentence (people, customers, products),
//!   unless the line is written in Title Case;
//! - closed classes: languages, countries and major cities, browsers, platforms,
//!   environments, weekdays, months, quarters, read/write, success/failure, on/off;
//! - quoted text: a button, menu item, operation or message named in quotes;
//! - the wording: the same sentence with one word swapped for an unrelated one ("… for the
//!   design team" / "… for the product team").
//!
//! A class is in conflict when each text holds a value of it that the other text does not
//! mention: the same slot filled differently. A detail only one text has never conflicts (a
//! paraphrase often leaves one out), and a value the other text mentions in another way
//! ("Redis" / "redis", "Brazil" / "Brazilian", "50 MB" / "50MB", "disable" / "turn off")
//! matches. Offline, deterministic, and cheap: it runs on the best candidate only.

use std::collections::{BTreeSet, HashSet};

use super::text::{is_stopword, runs, stem};

/// A class of key detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Number,
    Year,
    Code,
    Path,
    Dotted,
    Language,
    Place,
    Browser,
    Platform,
    Environment,
    Weekday,
    Month,
    Quarter,
    Access,
    Outcome,
    Switch,
    Quoted,
    Name,
    Wording,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Number => "number",
            Kind::Year => "year",
            Kind::Code => "identifier",
            Kind::Path => "path",
            Kind::Dotted => "dotted name",
            Kind::Language => "language",
            Kind::Place => "place",
            Kind::Browser => "browser",
            Kind::Platform => "platform",
            Kind::Environment => "environment",
            Kind::Weekday => "weekday",
            Kind::Month => "month",
            Kind::Quarter => "quarter",
            Kind::Access => "read/write",
            Kind::Outcome => "success/failure",
            Kind::Switch => "on/off",
            Kind::Name => "name",
            Kind::Quoted => "quoted text",
            Kind::Wording => "wording",
        }
    }
}

/// A detail class that request and candidate fill with different values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub kind: Kind,
    /// The request's value (normalised).
    pub request: String,
    /// The candidate's value (normalised).
    pub candidate: String,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} differs: {:?} vs {:?}", self.kind.as_str(), self.request, self.candidate)
    }
}

/// The first detail class (in [`Kind`] order) in which `request` and `candidate` differ.
pub fn conflict(request: &str, candidate: &str) -> Option<Conflict> {
    let a = Facts::of(request);
    let b = Facts::of(candidate);
    let ours = a.unmatched(&b);
    let theirs = b.unmatched(&a);
    for (kind, value) in &ours {
        if let Some((_, other)) = theirs.iter().find(|(k, _)| k == kind) {
            return Some(Conflict { kind: *kind, request: value.clone(), candidate: other.clone() });
        }
    }
    swapped_word(request, candidate).map(|(r, c)| Conflict { kind: Kind::Wording, request: r, candidate: c })
}

/// The details of `text`, normalised, in [`Kind`] order (for tests and diagnostics).
pub fn details(text: &str) -> Vec<(Kind, String)> {
    Facts::of(text).details.into_iter().collect()
}

struct Facts {
    details: BTreeSet<(Kind, String)>,
    /// Every way the text mentions something: lower-cased tokens, their pieces, word runs
    /// and their stems.
    words: HashSet<String>,
}

impl Facts {
    fn of(text: &str) -> Facts {
        let mut words = HashSet::new();
        for token in text.split_whitespace() {
            let t = trim(token).to_lowercase();
            for piece in t.split(['/', ',', '(', ')']) {
                words.insert(piece.to_string());
            }
            words.insert(t);
        }
        for run in runs(text) {
            let lower = run.to_lowercase();
            words.insert(stem(&lower));
            words.insert(lower);
        }
        let mut details = BTreeSet::new();
        for line in text.lines() {
            extract_line(line, &mut details);
            for quote in quotes(line) {
                let words = content_words(quote).join(" ");
                if !words.is_empty() {
                    details.insert((Kind::Quoted, words));
                }
            }
        }
        Facts { details, words }
    }

    /// The details of `self` that `other` does not mention.
    fn unmatched(&self, other: &Facts) -> Vec<(Kind, String)> {
        self.details
            .iter()
            .filter(|(kind, value)| {
                let mentioned = other.words.contains(value)
                    || (*kind == Kind::Quoted && value.split(' ').all(|w| other.words.contains(w)))
                    || other.details.iter().any(|(k, v)| k == kind && compatible(*kind, value, v));
                !mentioned
            })
            .cloned()
            .collect()
    }
}

/// Two values of one class that name the same thing.
fn compatible(kind: Kind, a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match kind {
        // "50" and "50mb": a number with and without its unit.
        Kind::Number => {
            let digits = |s: &str| s.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect::<String>();
            let (da, db) = (digits(a), digits(b));
            !da.is_empty() && da == db && (da.len() == a.len() || db.len() == b.len())
        }
        // "/api/orders" and "/api/orders/{id}"; "orders.customer_id" and "customer_id".
        Kind::Path | Kind::Dotted => {
            let parts =
                |s: &str| s.split(['.', '/', ':']).filter(|p| !p.is_empty()).map(String::from).collect::<Vec<_>>();
            let (pa, pb) = (parts(a), parts(b));
            let (short, long) = if pa.len() <= pb.len() { (&pa, &pb) } else { (&pb, &pa) };
            !short.is_empty() && (long.starts_with(short) || long.ends_with(short))
        }
        // "Switch to tab" and "switch to tab shown": one holds most of the other.
        Kind::Quoted => {
            let (wa, wb): (HashSet<&str>, HashSet<&str>) = (a.split(' ').collect(), b.split(' ').collect());
            let shared = wa.intersection(&wb).count();
            shared * 2 >= wa.len().max(wb.len())
        }
        _ => false,
    }
}

/// Text between double quotes, or between single quotes that open and close a word.
fn quotes(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find(['"', '“', '\'']) {
        let open = rest[start..].chars().next().unwrap_or('"');
        let before = rest[..start].chars().next_back();
        let inner_start = start + open.len_utf8();
        if open == '\'' && before.is_some_and(char::is_alphanumeric) {
            rest = &rest[inner_start..];
            continue;
        }
        let close: &[char] = match open {
            '“' => &['”', '"'],
            '\'' => &['\''],
            _ => &['"', '”'],
        };
        let Some(len) = rest[inner_start..].find(|c: char| close.contains(&c)) else { break };
        let end = inner_start + len;
        let after = rest[end..].chars().nth(1);
        if open == '\'' && after.is_some_and(char::is_alphanumeric) {
            rest = &rest[inner_start..];
            continue;
        }
        out.push(&rest[inner_start..end]);
        let closing = rest[end..].chars().next().map_or(1, char::len_utf8);
        rest = &rest[end + closing..];
    }
    out
}

/// Surrounding punctuation off a whitespace-separated token.
fn trim(token: &str) -> &str {
    let t = token.trim_start_matches(['(', '[', '{', '"', '\'', '`', '<', '*', '«', '“', '‘']);
    let t = t.trim_end_matches([')', ']', '}', '"', '\'', '`', '>', '*', '»', '”', '’', ',', ';', ':', '!', '?', '.']);
    let t = t.strip_suffix("'s").or_else(|| t.strip_suffix("’s")).unwrap_or(t);
    // A parametrised test's parameters (`test_upload[#textarea]`): one test, one piece of work.
    match t.find('[') {
        Some(at) if at > 0 => &t[..at],
        _ => t,
    }
}

/// Does the token after `raw` start a sentence?
fn ends_sentence(raw: &str) -> bool {
    raw.ends_with(['.', '!', '?', ':', ';', ']', '|']) || matches!(raw, "-" | "–" | "—" | "*" | "•" | ">")
}

struct Token<'a> {
    text: &'a str,
    lower: String,
    initial: bool,
}

fn extract_line(line: &str, out: &mut BTreeSet<(Kind, String)>) {
    let mut tokens: Vec<Token> = Vec::new();
    let mut initial = true;
    for raw in line.split_whitespace() {
        let text = trim(raw);
        if !text.is_empty() {
            tokens.push(Token { text, lower: text.to_lowercase(), initial });
        }
        initial = ends_sentence(raw) || (initial && text.is_empty());
    }
    let title_case = is_title_case(&tokens);
    let mut i = 0;
    while i < tokens.len() {
        if let Some(next) = tokens.get(i + 1) {
            if let Some(found) = phrase(&tokens[i].lower, &next.lower) {
                out.insert((found.0, found.1.to_string()));
                i += 2;
                continue;
            }
            if let Some(unit) = unit(&next.lower) {
                let number = number_value(&tokens[i].lower);
                if let Some(n) = number.filter(|n| n.chars().all(|c| c.is_ascii_digit() || c == '.')) {
                    out.insert((Kind::Number, format!("{n}{unit}")));
                    i += 2;
                    continue;
                }
            }
        }
        classify(&tokens[i], title_case, out);
        i += 1;
    }
}

/// A line where most words are capitalised ("Tabs Color Not Visible In Dark Theme") says
/// nothing about names.
fn is_title_case(tokens: &[Token]) -> bool {
    let words: Vec<&Token> = tokens
        .iter()
        .filter(|t| !t.initial && t.text.chars().count() > 3 && t.text.chars().all(char::is_alphabetic))
        .filter(|t| !is_stopword(&t.lower))
        .collect();
    let capitalised = words.iter().filter(|t| t.text.chars().next().is_some_and(char::is_uppercase)).count();
    words.len() >= 3 && capitalised * 2 >= words.len()
}

fn classify(token: &Token, title_case: bool, out: &mut BTreeSet<(Kind, String)>) {
    let (text, lower) = (token.text, token.lower.as_str());
    // URLs: the host, and the path if there is one.
    if let Some(rest) = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://")) {
        let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, String::new()));
        out.insert((Kind::Dotted, host.trim_start_matches("www.").to_string()));
        if path.len() > 1 {
            out.insert((Kind::Path, path.trim_end_matches('/').to_string()));
        }
        return;
    }
    if lower.len() > 1 && (lower.starts_with('/') || lower.starts_with("~/") || lower.matches('/').count() >= 2) {
        out.insert((Kind::Path, lower.trim_end_matches('/').to_string()));
        return;
    }
    if lower.contains('/') {
        // "read/write", "iOS/Android": each part on its own.
        for (part, raw) in lower.split('/').zip(text.split('/')) {
            if !part.is_empty() {
                classify(&Token { text: raw, lower: part.to_string(), initial: token.initial }, title_case, out);
            }
        }
        return;
    }
    if let Some(found) = closed_class(text, lower, token.initial) {
        out.insert((found.0, found.1.to_string()));
        return;
    }
    let has_digit = lower.chars().any(|c| c.is_ascii_digit());
    let has_alpha = lower.chars().any(char::is_alphabetic);
    if has_digit {
        if let Some(q) = quarter(lower) {
            out.insert((Kind::Quarter, q));
        } else if let Some(n) = number_value(lower) {
            let kind = if is_year(&n) { Kind::Year } else { Kind::Number };
            out.insert((kind, n));
        } else if lower.contains('.') && has_alpha && !lower.starts_with('.') {
            out.insert((Kind::Dotted, lower.to_string()));
        } else if has_alpha {
            out.insert((Kind::Code, lower.replace(['-', '_', '.'], "")));
        }
        return;
    }
    if is_dotted(lower) {
        out.insert((Kind::Dotted, lower.trim_start_matches("www.").to_string()));
        return;
    }
    if lower.contains('_') && has_alpha {
        out.insert((Kind::Code, lower.to_string()));
        return;
    }
    if let Some(name) = name(token, title_case) {
        out.insert((Kind::Name, name));
    }
}

/// `api.example.com`, `orders.customer_id`, `report.pdf`; not "e.g." or "a.m.".
fn is_dotted(lower: &str) -> bool {
    let parts: Vec<&str> = lower.split('.').collect();
    parts.len() >= 2
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-'))
        && parts.iter().any(|p| p.chars().count() > 1)
        && parts.iter().filter(|p| p.chars().count() == 1).count() < parts.len() - 1
}

/// A number, a version, a ticket number or an amount, normalised: `#4471` → `4471`,
/// `v2.3.1` → `2.3.1`, `1,000` → `1000`, `50MB` → `50mb`, `$20` → `20`.
fn number_value(lower: &str) -> Option<String> {
    let s = lower.trim_start_matches(['#', '$', '€', '£', '№']);
    let s = s.strip_prefix('v').filter(|r| r.starts_with(|c: char| c.is_ascii_digit())).unwrap_or(s);
    let s = s.strip_prefix("no.").unwrap_or(s);
    if !s.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let digits_end = s.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ',' || c == ':')).unwrap_or(s.len());
    let (digits, suffix) = s.split_at(digits_end);
    let digits = digits.trim_end_matches(['.', ',']).replace(',', "");
    if digits.contains("..") {
        return None;
    }
    let suffix = suffix.trim_start_matches(['.', ',']);
    if suffix.is_empty() {
        return Some(digits);
    }
    if matches!(suffix, "st" | "nd" | "rd" | "th" | "x" | "%") {
        return Some(format!("{digits}{suffix}"));
    }
    unit(suffix).map(|u| format!("{digits}{u}"))
}

fn is_year(n: &str) -> bool {
    n.len() == 4 && n.parse::<u32>().is_ok_and(|y| (1990..=2099).contains(&y))
}

fn quarter(lower: &str) -> Option<String> {
    let q = lower.strip_prefix('q')?;
    matches!(q, "1" | "2" | "3" | "4").then(|| format!("q{q}"))
}

/// Units of measure, normalised.
fn unit(lower: &str) -> Option<&'static str> {
    Some(match lower {
        "b" | "byte" | "bytes" => "b",
        "kb" | "kib" | "kilobytes" => "kb",
        "mb" | "mib" | "megabytes" | "megs" => "mb",
        "gb" | "gib" | "gigabytes" | "gigs" => "gb",
        "tb" | "tib" | "terabytes" => "tb",
        "ms" | "millisecond" | "milliseconds" => "ms",
        "s" | "sec" | "secs" | "second" | "seconds" => "s",
        "min" | "mins" | "minute" | "minutes" => "min",
        "h" | "hr" | "hrs" | "hour" | "hours" => "h",
        "d" | "day" | "days" => "d",
        "week" | "weeks" => "w",
        "px" | "pixels" => "px",
        "%" | "percent" => "%",
        "k" => "k",
        "fps" => "fps",
        "rps" | "qps" => "rps",
        "usd" | "eur" | "gbp" | "dollars" | "euros" => "money",
        _ => return None,
    })
}

/// Two-word members of the closed classes.
fn phrase(a: &str, b: &str) -> Option<(Kind, &'static str)> {
    Some(match (a, b) {
        ("turn" | "turned" | "turning" | "switch" | "switched" | "switching", "on") => (Kind::Switch, "on"),
        ("turn" | "turned" | "turning" | "switch" | "switched" | "switching", "off") => (Kind::Switch, "off"),
        ("read", "only") => (Kind::Access, "read"),
        ("test" | "testing", "environment" | "env" | "server" | "cluster" | "instance" | "system") => {
            (Kind::Environment, "test")
        }
        ("internet", "explorer") => (Kind::Browser, "ie"),
        ("first", "quarter") => (Kind::Quarter, "q1"),
        ("second", "quarter") => (Kind::Quarter, "q2"),
        ("third", "quarter") => (Kind::Quarter, "q3"),
        ("fourth", "quarter") => (Kind::Quarter, "q4"),
        ("new", "york") => (Kind::Place, "new york"),
        ("san", "francisco") => (Kind::Place, "san francisco"),
        ("los", "angeles") => (Kind::Place, "los angeles"),
        ("hong", "kong") => (Kind::Place, "hong kong"),
        ("são" | "sao", "paulo") => (Kind::Place, "são paulo"),
        ("mexico", "city") => (Kind::Place, "mexico city"),
        ("cape", "town") => (Kind::Place, "cape town"),
        ("tel", "aviv") => (Kind::Place, "tel aviv"),
        ("buenos", "aires") => (Kind::Place, "buenos aires"),
        ("kuala", "lumpur") => (Kind::Place, "kuala lumpur"),
        ("new", "zealand") => (Kind::Place, "new zealand"),
        ("united", "states") => (Kind::Place, "usa"),
        ("united", "kingdom") => (Kind::Place, "uk"),
        ("south", "korea") => (Kind::Place, "korea"),
        ("south", "africa") => (Kind::Place, "south africa"),
        ("saudi", "arabia") => (Kind::Place, "saudi arabia"),
        ("czech", "republic") => (Kind::Place, "czechia"),
        _ => return None,
    })
}

/// One-word members of the closed classes. Words that are common English in lower case
/// ("may", "windows", "edge", "sat") count only when capitalised inside a sentence.
fn closed_class(text: &str, lower: &str, initial: bool) -> Option<(Kind, &'static str)> {
    let capitalised = text.chars().next().is_some_and(char::is_uppercase);
    let proper = capitalised && !initial;
    let found = match lower {
        "may" if proper => (Kind::Month, "may"),
        "jan" | "feb" | "mar" | "apr" | "jun" | "jul" | "aug" | "sep" | "sept" | "oct" | "nov" | "dec"
            if capitalised =>
        {
            (Kind::Month, month_abbreviation(lower))
        }
        "windows" if capitalised => (Kind::Platform, "windows"),
        "edge" if proper => (Kind::Browser, "edge"),
        "mon" | "tue" | "tues" | "wed" | "thu" | "thur" | "thurs" | "fri" | "sat" | "sun" if proper => {
            (Kind::Weekday, weekday_abbreviation(lower))
        }
        "us" if text == "US" => (Kind::Place, "usa"),
        "eu" if text == "EU" => (Kind::Place, "eu"),
        _ => return table(lower),
    };
    Some(found)
}

fn month_abbreviation(lower: &str) -> &'static str {
    match lower {
        "jan" => "january",
        "feb" => "february",
        "mar" => "march",
        "apr" => "april",
        "jun" => "june",
        "jul" => "july",
        "aug" => "august",
        "sep" | "sept" => "september",
        "oct" => "october",
        "nov" => "november",
        _ => "december",
    }
}

fn weekday_abbreviation(lower: &str) -> &'static str {
    match lower {
        "mon" => "monday",
        "tue" | "tues" => "tuesday",
        "wed" => "wednesday",
        "thu" | "thur" | "thurs" => "thursday",
        "fri" => "friday",
        "sat" => "saturday",
        _ => "sunday",
    }
}

fn table(lower: &str) -> Option<(Kind, &'static str)> {
    use Kind::*;
    Some(match lower {
        // Languages (a nationality that is also a language counts as the language).
        "english" => (Language, "english"),
        "german" => (Language, "german"),
        "french" => (Language, "french"),
        "spanish" => (Language, "spanish"),
        "portuguese" => (Language, "portuguese"),
        "italian" => (Language, "italian"),
        "dutch" => (Language, "dutch"),
        "japanese" => (Language, "japanese"),
        "chinese" | "mandarin" | "cantonese" => (Language, "chinese"),
        "korean" => (Language, "korean"),
        "russian" => (Language, "russian"),
        "arabic" => (Language, "arabic"),
        "hindi" => (Language, "hindi"),
        "bengali" => (Language, "bengali"),
        "urdu" => (Language, "urdu"),
        "polish" => (Language, "polish"),
        "turkish" => (Language, "turkish"),
        "swedish" => (Language, "swedish"),
        "norwegian" => (Language, "norwegian"),
        "danish" => (Language, "danish"),
        "finnish" => (Language, "finnish"),
        "greek" => (Language, "greek"),
        "hebrew" => (Language, "hebrew"),
        "czech" => (Language, "czech"),
        "hungarian" => (Language, "hungarian"),
        "romanian" => (Language, "romanian"),
        "ukrainian" => (Language, "ukrainian"),
        "vietnamese" => (Language, "vietnamese"),
        "thai" => (Language, "thai"),
        "indonesian" => (Language, "indonesian"),
        "malay" => (Language, "malay"),
        "persian" | "farsi" => (Language, "persian"),
        "catalan" => (Language, "catalan"),
        "swahili" => (Language, "swahili"),
        "tagalog" | "filipino" => (Language, "tagalog"),
        // Countries and regions, with their adjectives.
        "usa" | "america" | "american" => (Place, "usa"),
        "uk" | "britain" | "british" | "england" => (Place, "uk"),
        "canada" | "canadian" => (Place, "canada"),
        "mexico" | "mexican" => (Place, "mexico"),
        "brazil" | "brazilian" => (Place, "brazil"),
        "argentina" | "argentinian" | "argentine" => (Place, "argentina"),
        "chile" | "chilean" => (Place, "chile"),
        "colombia" | "colombian" => (Place, "colombia"),
        "peru" | "peruvian" => (Place, "peru"),
        "germany" => (Place, "germany"),
        "france" => (Place, "france"),
        "spain" => (Place, "spain"),
        "portugal" => (Place, "portugal"),
        "italy" => (Place, "italy"),
        "netherlands" | "holland" => (Place, "netherlands"),
        "belgium" | "belgian" => (Place, "belgium"),
        "switzerland" | "swiss" => (Place, "switzerland"),
        "austria" | "austrian" => (Place, "austria"),
        "ireland" | "irish" => (Place, "ireland"),
        "sweden" => (Place, "sweden"),
        "norway" => (Place, "norway"),
        "denmark" => (Place, "denmark"),
        "finland" => (Place, "finland"),
        "poland" => (Place, "poland"),
        "czechia" => (Place, "czechia"),
        "hungary" => (Place, "hungary"),
        "romania" => (Place, "romania"),
        "greece" => (Place, "greece"),
        "turkey" => (Place, "turkey"),
        "ukraine" => (Place, "ukraine"),
        "russia" => (Place, "russia"),
        "israel" | "israeli" => (Place, "israel"),
        "egypt" | "egyptian" => (Place, "egypt"),
        "nigeria" | "nigerian" => (Place, "nigeria"),
        "kenya" | "kenyan" => (Place, "kenya"),
        "morocco" | "moroccan" => (Place, "morocco"),
        "india" | "indian" => (Place, "india"),
        "pakistan" | "pakistani" => (Place, "pakistan"),
        "bangladesh" => (Place, "bangladesh"),
        "china" => (Place, "china"),
        "japan" => (Place, "japan"),
        "korea" => (Place, "korea"),
        "taiwan" | "taiwanese" => (Place, "taiwan"),
        "vietnam" => (Place, "vietnam"),
        "thailand" => (Place, "thailand"),
        "indonesia" => (Place, "indonesia"),
        "malaysia" | "malaysian" => (Place, "malaysia"),
        "singapore" | "singaporean" => (Place, "singapore"),
        "philippines" => (Place, "philippines"),
        "australia" | "australian" => (Place, "australia"),
        "europe" | "european" => (Place, "europe"),
        "asia" | "asian" => (Place, "asia"),
        "africa" | "african" => (Place, "africa"),
        "emea" => (Place, "emea"),
        "apac" => (Place, "apac"),
        "latam" => (Place, "latam"),
        // Major cities.
        "london" => (Place, "london"),
        "paris" => (Place, "paris"),
        "berlin" => (Place, "berlin"),
        "munich" => (Place, "munich"),
        "hamburg" => (Place, "hamburg"),
        "frankfurt" => (Place, "frankfurt"),
        "madrid" => (Place, "madrid"),
        "barcelona" => (Place, "barcelona"),
        "lisbon" => (Place, "lisbon"),
        "rome" => (Place, "rome"),
        "milan" => (Place, "milan"),
        "amsterdam" => (Place, "amsterdam"),
        "brussels" => (Place, "brussels"),
        "vienna" => (Place, "vienna"),
        "zurich" => (Place, "zurich"),
        "geneva" => (Place, "geneva"),
        "dublin" => (Place, "dublin"),
        "stockholm" => (Place, "stockholm"),
        "oslo" => (Place, "oslo"),
        "copenhagen" => (Place, "copenhagen"),
        "helsinki" => (Place, "helsinki"),
        "warsaw" => (Place, "warsaw"),
        "prague" => (Place, "prague"),
        "budapest" => (Place, "budapest"),
        "athens" => (Place, "athens"),
        "istanbul" => (Place, "istanbul"),
        "moscow" => (Place, "moscow"),
        "kyiv" | "kiev" => (Place, "kyiv"),
        "toronto" => (Place, "toronto"),
        "vancouver" => (Place, "vancouver"),
        "montreal" => (Place, "montreal"),
        "chicago" => (Place, "chicago"),
        "boston" => (Place, "boston"),
        "seattle" => (Place, "seattle"),
        "austin" => (Place, "austin"),
        "denver" => (Place, "denver"),
        "atlanta" => (Place, "atlanta"),
        "miami" => (Place, "miami"),
        "nyc" => (Place, "new york"),
        "sf" => (Place, "san francisco"),
        "tokyo" => (Place, "tokyo"),
        "osaka" => (Place, "osaka"),
        "seoul" => (Place, "seoul"),
        "beijing" => (Place, "beijing"),
        "shanghai" => (Place, "shanghai"),
        "shenzhen" => (Place, "shenzhen"),
        "bangalore" | "bengaluru" => (Place, "bangalore"),
        "mumbai" => (Place, "mumbai"),
        "delhi" => (Place, "delhi"),
        "sydney" => (Place, "sydney"),
        "melbourne" => (Place, "melbourne"),
        "dubai" => (Place, "dubai"),
        "cairo" => (Place, "cairo"),
        "lagos" => (Place, "lagos"),
        "nairobi" => (Place, "nairobi"),
        "bogota" | "bogotá" => (Place, "bogota"),
        "lima" => (Place, "lima"),
        "santiago" => (Place, "santiago"),
        // Browsers.
        "chrome" | "chromium" => (Browser, "chrome"),
        "firefox" => (Browser, "firefox"),
        "safari" => (Browser, "safari"),
        "opera" => (Browser, "opera"),
        "brave" => (Browser, "brave"),
        "vivaldi" => (Browser, "vivaldi"),
        "ie" | "ie11" | "msie" => (Browser, "ie"),
        // Platforms.
        "android" => (Platform, "android"),
        "ios" | "iphone" | "ipad" | "ipados" => (Platform, "ios"),
        "macos" | "osx" | "mac" | "macbook" => (Platform, "macos"),
        "win10" | "win11" | "win32" | "win64" => (Platform, "windows"),
        "linux" | "ubuntu" | "debian" | "fedora" | "centos" | "rhel" => (Platform, "linux"),
        "chromeos" => (Platform, "chromeos"),
        "freebsd" => (Platform, "freebsd"),
        "mobile" => (Platform, "mobile"),
        "desktop" => (Platform, "desktop"),
        // Environments.
        "production" | "prod" => (Environment, "production"),
        "staging" | "preprod" | "pre-production" | "pre-prod" => (Environment, "staging"),
        "development" | "dev" => (Environment, "development"),
        "qa" => (Environment, "qa"),
        "uat" => (Environment, "uat"),
        "sandbox" => (Environment, "sandbox"),
        // Weekdays and months.
        "monday" | "mondays" => (Weekday, "monday"),
        "tuesday" | "tuesdays" => (Weekday, "tuesday"),
        "wednesday" | "wednesdays" => (Weekday, "wednesday"),
        "thursday" | "thursdays" => (Weekday, "thursday"),
        "friday" | "fridays" => (Weekday, "friday"),
        "saturday" | "saturdays" => (Weekday, "saturday"),
        "sunday" | "sundays" => (Weekday, "sunday"),
        "january" => (Month, "january"),
        "february" => (Month, "february"),
        "march" => (Month, "march"),
        "april" => (Month, "april"),
        "june" => (Month, "june"),
        "july" => (Month, "july"),
        "august" => (Month, "august"),
        "september" => (Month, "september"),
        "october" => (Month, "october"),
        "november" => (Month, "november"),
        "december" => (Month, "december"),
        // Read/write, success/failure, on/off.
        "read" | "reads" | "readonly" | "read-only" | "readable" => (Access, "read"),
        "write" | "writes" | "written" | "writable" | "writeable" => (Access, "write"),
        "success" | "successes" | "successful" | "successfully" | "succeed" | "succeeds" | "succeeded" => {
            (Outcome, "success")
        }
        "fail" | "fails" | "failed" | "failing" | "failure" | "failures" => (Outcome, "failure"),
        "enable" | "enables" | "enabled" | "enabling" => (Switch, "on"),
        "disable" | "disables" | "disabled" | "disabling" => (Switch, "off"),
        _ => return None,
    })
}

/// Words that are capitalised without being names.
const NOT_NAMES: [&str; 16] = [
    "i", "i'm", "i've", "i'd", "i'll", "ok", "okay", "please", "pls", "hi", "hello", "hey", "thanks", "thank", "fyi",
    "asap",
];

/// A capitalised word inside a sentence: a person, customer, product or place.
fn name(token: &Token, title_case: bool) -> Option<String> {
    let text = token.text;
    if token.initial || title_case || text.chars().count() < 2 {
        return None;
    }
    let mut chars = text.chars();
    if !chars.next().is_some_and(char::is_uppercase) {
        return None;
    }
    if !text.chars().all(|c| c.is_alphabetic() || matches!(c, '-' | '\'' | '’' | '&')) {
        return None;
    }
    if is_stopword(&token.lower) || NOT_NAMES.contains(&token.lower.as_str()) {
        return None;
    }
    Some(stem(&token.lower))
}

/// Content words: word runs lower-cased and stemmed, stopwords out.
fn content_words(text: &str) -> Vec<String> {
    runs(text).map(str::to_lowercase).filter(|w| !is_stopword(w)).map(|w| stem(&w)).collect()
}

/// Content words, each with whether it is a plain word: letters only, in lower case or
/// capitalised (not `homeService`, `AIOOBE` or `v2`, which the other classes judge).
fn content_words_marked(text: &str) -> Vec<(String, bool)> {
    text.split_whitespace()
        .map(trim)
        .flat_map(|token| {
            // A word inside an identifier (`Test#unselect`) is not a plain word either.
            let whole = token.chars().all(|c| c.is_alphabetic() || matches!(c, '-' | '\'' | '’'));
            runs(token).map(move |w| (w, whole))
        })
        .filter(|(w, _)| !is_stopword(&w.to_lowercase()))
        .map(|(w, whole)| {
            let plain = whole && w.chars().all(char::is_alphabetic) && w.chars().skip(1).all(|c| !c.is_uppercase());
            (stem(&w.to_lowercase()), plain)
        })
        .collect()
}

/// Words this close are spellings of one word ("licence"/"license", "colour"/"color").
fn same_word(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (ca, cb): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let shorter = ca.len().min(cb.len());
    if shorter >= 3 && (ca.starts_with(&cb[..shorter]) || cb.starts_with(&ca[..shorter])) {
        return true;
    }
    edit_distance(&ca, &cb) <= 2
}

fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut row = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            row[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(row[j] + 1);
        }
        prev = row;
    }
    prev[b.len()]
}

/// Context words that must match around a swapped word.
const SWAP_CONTEXT: usize = 2;

/// A sentence of `request` that is the candidate's sentence with exactly one content word
/// other than the first swapped for an unrelated one, in the same place: the pair of swapped
/// words.
fn swapped_word(request: &str, candidate: &str) -> Option<(String, String)> {
    let theirs_marked = content_words_marked(candidate);
    let theirs: Vec<String> = theirs_marked.iter().map(|(w, _)| w.clone()).collect();
    if theirs.len() <= SWAP_CONTEXT {
        return None;
    }
    for sentence in sentences(request) {
        let ours_marked = content_words_marked(sentence);
        let ours: Vec<String> = ours_marked.iter().map(|(w, _)| w.clone()).collect();
        if ours.len() != theirs.len() {
            continue;
        }
        let differing: Vec<usize> = (0..ours.len()).filter(|&i| ours[i] != theirs[i]).collect();
        // The first word says how the work is asked for ("Add" / "Set up" / "Create"), not
        // which work it is.
        if let [i] = differing[..]
            && i > 0
        {
            let (a, b) = (&ours[i], &theirs[i]);
            let unrelated = !same_word(a, b) && !theirs.contains(a) && !ours.contains(b);
            if unrelated && ours_marked[i].1 && theirs_marked[i].1 {
                return Some((a.clone(), b.clone()));
            }
        }
    }
    None
}

/// Lines, and sentences within them.
fn sentences(text: &str) -> impl Iterator<Item = &str> {
    text.lines().flat_map(|line| line.split_inclusive([';']).flat_map(|s| s.split(". ").flat_map(|s| s.split("? "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Request, existing task, and the class that must block the merge (None: the same work).
    const CASES: &[(&str, &str, Option<Kind>)] = &[
        // Different work: one key detail changed.
        ("Translate the pricing page into Japanese", "Translate the pricing page into German", Some(Kind::Language)),
        ("Add Korean to the help center", "Add Portuguese to the help center", Some(Kind::Language)),
        ("Restart the Redis cache in eu-west-1", "Restart the Redis cache in us-east-1", Some(Kind::Code)),
        ("Reboot node-3 in the cluster", "Reboot node-7 in the cluster", Some(Kind::Code)),
        ("Add the 2.4.0 changelog to the docs site", "Add the 2.3.1 changelog to the docs site", Some(Kind::Number)),
        ("Release v2.3.1 to customers", "Release v2.3.2 to customers", Some(Kind::Number)),
        (
            "Upgrade PostgreSQL to 17 on the reporting server",
            "Upgrade PostgreSQL to 16 on the reporting server",
            Some(Kind::Number),
        ),
        (
            "Ticket #4478: customer cannot download invoices",
            "Ticket #4471: customer cannot download invoices",
            Some(Kind::Number),
        ),
        ("Raise the upload limit to 100 MB", "Raise the upload limit to 50 MB", Some(Kind::Number)),
        ("Fix the broken link in the May newsletter", "Fix the broken link in the March newsletter", Some(Kind::Month)),
        ("Schedule the penetration test for June", "Schedule the penetration test for January", Some(Kind::Month)),
        ("Close the books for Q3", "Close the books for Q2", Some(Kind::Quarter)),
        ("Archive the 2023 invoices", "Archive the 2024 invoices", Some(Kind::Year)),
        ("Move the standup to Tuesday", "Move the standup to Thursday", Some(Kind::Weekday)),
        ("Investigate the 500 errors on /api/payments", "Investigate the 500 errors on /api/orders", Some(Kind::Path)),
        (
            "Renew the TLS certificate of api.example.com",
            "Renew the TLS certificate of shop.example.com",
            Some(Kind::Dotted),
        ),
        ("Add an index on orders.created_at", "Add an index on orders.customer_id", Some(Kind::Dotted)),
        (
            "Book flights to Dublin for the sales offsite",
            "Book flights to Lisbon for the sales offsite",
            Some(Kind::Place),
        ),
        ("Localize the checkout for Mexico", "Localize the checkout for Brazil", Some(Kind::Place)),
        ("The date picker is broken in Safari", "The date picker is broken in Firefox", Some(Kind::Browser)),
        (
            "Fix the crash when opening PDF attachments on iOS",
            "Fix the crash when opening PDF attachments on Android",
            Some(Kind::Platform),
        ),
        (
            "Disable the legacy SOAP endpoint in production",
            "Disable the legacy SOAP endpoint in staging",
            Some(Kind::Environment),
        ),
        (
            "Give Ana write access to the billing bucket",
            "Give Ana read access to the billing bucket",
            Some(Kind::Access),
        ),
        (
            "Add Slack notifications for successful deployments",
            "Add Slack notifications for failed deployments",
            Some(Kind::Outcome),
        ),
        ("Turn on two-factor login for contractors", "Turn off two-factor login for contractors", Some(Kind::Switch)),
        ("Send the NDA to Umbrella for signature", "Send the NDA to Initech for signature", Some(Kind::Name)),
        (
            "Move the Kibana dashboards to the new folder structure",
            "Move the Grafana dashboards to the new folder structure",
            Some(Kind::Name),
        ),
        (
            "Write unit tests for the shipping calculator",
            "Write unit tests for the tax calculator",
            Some(Kind::Wording),
        ),
        (
            "Prepare the onboarding kit for the new accountant",
            "Prepare the onboarding kit for the new designer",
            Some(Kind::Wording),
        ),
        (
            "The \"Save\" button does nothing on the invoice form",
            "The \"Cancel\" button does nothing on the invoice form",
            Some(Kind::Quoted),
        ),
        (
            "An internal error occurred during: 'Updating index'",
            "An internal error occurred during: 'Computing tooltip'",
            Some(Kind::Quoted),
        ),
        // The same work in other words: never blocked.
        ("the us-east-1 redis cache needs a restart", "Restart the Redis cache in us-east-1", None),
        ("help center should be available in Portuguese", "Add Portuguese to the help center", None),
        ("a link in the March newsletter doesn't work", "Fix the broken link in the March newsletter", None),
        ("reporting server: move postgres to version 16", "Upgrade PostgreSQL to 16 on the reporting server", None),
        ("4471 - invoices fail to download for the customer", "Ticket 4471: customer cannot download invoices", None),
        (
            "we need plane tickets to Lisbon for the sales team offsite",
            "Book flights to Lisbon for the sales offsite",
            None,
        ),
        ("post to Slack when a deploy fails", "Add Slack notifications for failed deployments", None),
        ("turn off the old SOAP API on staging", "Disable the legacy SOAP endpoint in staging", None),
        ("auth service helm values: replicas 3", "Update the Helm chart to 3 replicas for the auth service", None),
        ("/api/orders keeps returning internal server errors", "Investigate the 500 errors on /api/orders", None),
        ("docs are missing the release notes of 2.3.1", "Add the 2.3.1 changelog to the docs site", None),
        ("docs are missing the release notes of v2.3.1", "Add the 2.3.1 changelog to the docs site", None),
        ("allow uploads of up to 50MB", "Raise the upload limit to 50 MB", None),
        ("checkout needs Brazilian localisation", "Localize the checkout for Brazil", None),
        ("Android app crashes on PDF attachments", "Fix the crash when opening PDF attachments on Android", None),
        ("orders table needs an index for customer_id lookups", "Add an index on orders.customer_id", None),
        ("Initech needs to sign our NDA, send it over", "Send the NDA to Initech for signature", None),
        (
            "\"Switch to tab\" is shown for the wrong tab",
            "Intermittently, \"Switch to Tab\" is shown incorrectly",
            None,
        ),
        ("Set up a staging database for the mobile team", "Add a staging database for the mobile team", None),
        ("Create the onboarding kit for the new designer", "Prepare the onboarding kit for the new designer", None),
        ("Flaky test_upload[#textarea] on CI", "Flaky test_upload[#input] on CI", None),
        ("Flaky SelectionTest#unselect on CI", "Flaky SelectionTest#paste on CI", None),
        (
            "ClassCastException when running Checkout from Quick Access",
            "AIOOBE when running Checkout from Quick Access",
            None,
        ),
        ("Rename the “Export” menu item", "Rename the \"Export\" menu item", None),
        ("Renew the Figma license for the design team", "Renew the Figma licence for the design team", None),
        ("Translate the pricing page into German", "Translate the pricing page into German", None),
        // A detail only one side has does not block.
        ("Translate the pricing page into German by Friday", "Translate the pricing page into German", None),
        (
            "Hi Bob, the Grafana dashboards should move to the new folders",
            "Move the Grafana dashboards to the new folder structure",
            None,
        ),
        ("Crash on startup since 2.3.1 on Android and iOS", "Crash on startup on Android", None),
        // Title Case says nothing about names; "may" and "windows" in lower case are words.
        ("Tabs Color Not Visible In Dark Theme", "Tab Colours Are Invisible With Dark Themes", None),
        ("Users may lose drafts when windows close", "Drafts lost when closing windows in March", None),
    ];

    #[test]
    fn conflicting_details_are_found_and_paraphrases_pass() {
        let mut wrong = Vec::new();
        for (request, candidate, want) in CASES {
            let got = conflict(request, candidate);
            if got.as_ref().map(|c| c.kind) != *want {
                wrong.push(format!("{request:?} vs {candidate:?}: want {want:?}, got {got:?}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn conflicts_are_symmetric_in_kind() {
        for (request, candidate, want) in CASES {
            assert_eq!(conflict(candidate, request).map(|c| c.kind), *want, "{candidate:?} vs {request:?}");
        }
    }

    #[test]
    fn details_are_normalised() {
        let d = details("Raise #4471 to 50 MB on node-3 (v2.3.1), see https://api.example.com/v1/orders in Q3 2025");
        for want in [
            (Kind::Number, "4471"),
            (Kind::Number, "50mb"),
            (Kind::Number, "2.3.1"),
            (Kind::Code, "node3"),
            (Kind::Dotted, "api.example.com"),
            (Kind::Path, "/v1/orders"),
            (Kind::Quarter, "q3"),
            (Kind::Year, "2025"),
        ] {
            assert!(d.contains(&(want.0, want.1.to_string())), "{want:?} missing from {d:?}");
        }
        assert_eq!(details("Restart Redis"), vec![(Kind::Name, "redi".to_string())]);
        assert!(details("Restart the cache. Then call").is_empty());
    }
}
