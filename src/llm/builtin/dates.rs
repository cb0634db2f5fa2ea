//! Due dates from natural language, resolved against the time the message was sent.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

const WEEKDAYS: [(&str, Weekday); 14] = [
    ("monday", Weekday::Mon),
    ("tuesday", Weekday::Tue),
    ("wednesday", Weekday::Wed),
    ("thursday", Weekday::Thu),
    ("friday", Weekday::Fri),
    ("saturday", Weekday::Sat),
    ("sunday", Weekday::Sun),
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

const MONTHS: [(&str, u32); 23] = [
    ("january", 1),
    ("february", 2),
    ("march", 3),
    ("april", 4),
    ("may", 5),
    ("june", 6),
    ("july", 7),
    ("august", 8),
    ("september", 9),
    ("october", 10),
    ("november", 11),
    ("december", 12),
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("sept", 9),
    ("oct", 10),
    ("nov", 11),
];
const DEC: (&str, u32) = ("dec", 12);

const NUMBER_WORDS: [(&str, i64); 12] = [
    ("a", 1),
    ("an", 1),
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("six", 6),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
    ("ten", 10),
];

/// A due date found in `text`, and the words that said it (to keep them out of a title).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub date: NaiveDate,
    /// Byte range of the phrase in the lower-cased text, including a leading "by"/"before"/….
    pub span: (usize, usize),
}

/// Lower-cased words with their byte offsets; punctuation separates words but a few marks
/// inside dates (`-`, `/`) and ordinals stay.
fn words(text: &str) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        let keep = c.is_alphanumeric() || c == '-' || c == '/';
        match (keep, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i, text[s..i].to_lowercase()));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, text.len(), text[s..].to_lowercase()));
    }
    out
}

fn weekday(word: &str) -> Option<Weekday> {
    WEEKDAYS.iter().find(|(name, _)| *name == word).map(|(_, d)| *d)
}

fn month(word: &str) -> Option<u32> {
    let word = word.trim_end_matches('.');
    MONTHS.iter().chain(std::iter::once(&DEC)).find(|(name, _)| *name == word).map(|(_, m)| *m)
}

fn day_number(word: &str) -> Option<u32> {
    let digits = word.trim_end_matches("st").trim_end_matches("nd").trim_end_matches("rd").trim_end_matches("th");
    digits.parse::<u32>().ok().filter(|d| (1..=31).contains(d))
}

fn count(word: &str) -> Option<i64> {
    word.parse::<i64>()
        .ok()
        .filter(|n| (1..=365).contains(n))
        .or_else(|| NUMBER_WORDS.iter().find(|(w, _)| *w == word).map(|(_, n)| *n))
}

/// The first day strictly after `today` that falls on `day`.
fn upcoming(today: NaiveDate, day: Weekday) -> NaiveDate {
    let ahead = (7 + day.num_days_from_monday() as i64 - today.weekday().num_days_from_monday() as i64) % 7;
    today + Duration::days(if ahead == 0 { 7 } else { ahead })
}

/// Weeks start on Monday: "next week" is the one starting on this day.
fn next_monday(today: NaiveDate) -> NaiveDate {
    today - Duration::days(today.weekday().num_days_from_monday() as i64) + Duration::days(7)
}

/// This week's Friday, or today once it has passed.
fn end_of_week(today: NaiveDate) -> NaiveDate {
    let to_friday = Weekday::Fri.num_days_from_monday() as i64 - today.weekday().num_days_from_monday() as i64;
    if to_friday >= 0 { today + Duration::days(to_friday) } else { today }
}

fn end_of_month(year: i32, month: u32) -> Option<NaiveDate> {
    let (y, m) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    NaiveDate::from_ymd_opt(y, m, 1).map(|d| d - Duration::days(1))
}

/// A month and day without a year: this year's, or next year's if already past.
fn month_day(today: NaiveDate, month: u32, day: u32) -> Option<NaiveDate> {
    let this_year = NaiveDate::from_ymd_opt(today.year(), month, day)?;
    if this_year >= today { Some(this_year) } else { NaiveDate::from_ymd_opt(today.year() + 1, month, day) }
}

const LEADS: [&str; 8] = ["by", "before", "on", "until", "till", "due", "for", "at"];

/// Finds the first due-date phrase in `text`.
pub fn find(text: &str, today: NaiveDate) -> Option<Found> {
    let w = words(text);
    let word = |i: usize| w.get(i).map(|(_, _, s)| s.as_str()).unwrap_or("");
    for i in 0..w.len() {
        let (date, len) = match word(i) {
            "today" | "tonight" | "eod" => (Some(today), 1),
            "tomorrow" | "tmrw" | "tmr" => (Some(today + Duration::days(1)), 1),
            "eow" => (Some(end_of_week(today)), 1),
            "eom" => (end_of_month(today.year(), today.month()), 1),
            "end" if word(i + 1) == "of" => match word(i + 2) {
                "day" | "today" => (Some(today), 3),
                "week" | "the" if word(i + 2) == "week" || word(i + 3) == "week" => {
                    (Some(end_of_week(today)), if word(i + 2) == "the" { 4 } else { 3 })
                }
                "month" => (end_of_month(today.year(), today.month()), 3),
                "the" if word(i + 3) == "month" => (end_of_month(today.year(), today.month()), 4),
                "next" if word(i + 3) == "week" => (Some(next_monday(today) + Duration::days(4)), 4),
                _ => (None, 0),
            },
            "day" if word(i + 1) == "after" && word(i + 2) == "tomorrow" => (Some(today + Duration::days(2)), 3),
            "this" => match (word(i + 1), weekday(word(i + 1))) {
                ("week", _) => (Some(end_of_week(today)), 2),
                (_, Some(d)) => (Some(upcoming(today - Duration::days(1), d)), 2),
                _ => (None, 0),
            },
            "next" => match (word(i + 1), weekday(word(i + 1))) {
                ("week", _) => (Some(next_monday(today) + Duration::days(4)), 2),
                ("month", _) => {
                    let (y, m) =
                        if today.month() == 12 { (today.year() + 1, 1) } else { (today.year(), today.month() + 1) };
                    (end_of_month(y, m), 2)
                }
                // The named day of next week.
                (_, Some(d)) => (Some(next_monday(today) + Duration::days(d.num_days_from_monday() as i64)), 2),
                _ => (None, 0),
            },
            "in" | "within" => match (count(word(i + 1)), word(i + 2)) {
                (Some(n), "day" | "days") => (Some(today + Duration::days(n)), 3),
                (Some(n), "week" | "weeks") => (Some(today + Duration::days(7 * n)), 3),
                (Some(n), "month" | "months") => (today.checked_add_months(chrono::Months::new(n as u32)), 3),
                _ => (None, 0),
            },
            other => {
                if let Some(d) = weekday(other).filter(|_| other.len() > 3 || i > 0 && LEADS.contains(&word(i - 1))) {
                    (Some(upcoming(today, d)), 1)
                } else if let Ok(d) = NaiveDate::parse_from_str(other, "%Y-%m-%d") {
                    (Some(d), 1)
                } else if let (Some(m), Some(d)) = (month(other), day_number(word(i + 1))) {
                    // "Dec 3", "December 3rd", optionally followed by a year.
                    match word(i + 2).parse::<i32>().ok().filter(|y| (2000..=2100).contains(y)) {
                        Some(y) => (NaiveDate::from_ymd_opt(y, m, d), 3),
                        None => (month_day(today, m, d), 2),
                    }
                } else if let (Some(d), Some(m)) = (day_number(other), month(word(i + 1))) {
                    // "3 Dec", "3rd December".
                    (month_day(today, m, d), 2)
                } else if let (Some(d), "of", Some(m)) = (day_number(other), word(i + 1), month(word(i + 2))) {
                    (month_day(today, m, d), 3)
                } else {
                    (None, 0)
                }
            }
        };
        if let Some(date) = date {
            let start_word = if i > 0 && LEADS.contains(&word(i - 1)) { i - 1 } else { i };
            let end_word = i + len - 1;
            return Some(Found { date, span: (w[start_word].0, w[end_word.min(w.len() - 1)].1) });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sunday 22 November 2026.
    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).expect("date")
    }

    fn due(text: &str) -> Option<String> {
        find(text, today()).map(|f| f.date.to_string())
    }

    #[test]
    fn relative_days() {
        assert_eq!(due("fix it today").as_deref(), Some("2026-11-22"));
        assert_eq!(due("needed by EOD").as_deref(), Some("2026-11-22"));
        assert_eq!(due("by end of day please").as_deref(), Some("2026-11-22"));
        assert_eq!(due("tomorrow would be great").as_deref(), Some("2026-11-23"));
        assert_eq!(due("the day after tomorrow").as_deref(), Some("2026-11-24"));
        assert_eq!(due("in 3 days").as_deref(), Some("2026-11-25"));
        assert_eq!(due("within two weeks").as_deref(), Some("2026-12-06"));
        assert_eq!(due("in a week").as_deref(), Some("2026-11-29"));
    }

    #[test]
    fn weekdays_and_weeks() {
        assert_eq!(due("before Friday, it's blocking").as_deref(), Some("2026-11-27"));
        assert_eq!(due("by fri").as_deref(), Some("2026-11-27"));
        assert_eq!(due("next week").as_deref(), Some("2026-11-27"));
        assert_eq!(due("next Tuesday").as_deref(), Some("2026-11-24"));
        assert_eq!(due("by the end of the week").as_deref(), Some("2026-11-22"));
        assert_eq!(due("end of month").as_deref(), Some("2026-11-30"));
        // A Sunday message's "Sunday" is next week's.
        assert_eq!(due("on Sunday").as_deref(), Some("2026-11-29"));
    }

    #[test]
    fn calendar_dates() {
        assert_eq!(due("by 2026-12-01").as_deref(), Some("2026-12-01"));
        assert_eq!(due("due Dec 3").as_deref(), Some("2026-12-03"));
        assert_eq!(due("December 3rd").as_deref(), Some("2026-12-03"));
        assert_eq!(due("on 5 January").as_deref(), Some("2027-01-05"));
        assert_eq!(due("the 1st of march").as_deref(), Some("2027-03-01"));
        assert_eq!(due("Dec 3 2027").as_deref(), Some("2027-12-03"));
    }

    #[test]
    fn no_date_means_none() {
        assert_eq!(due("the login page is broken"), None);
        assert_eq!(due("may we add a button"), None);
        assert_eq!(due("sat down with the team"), None);
    }

    #[test]
    fn the_phrase_span_covers_its_lead_word() {
        let text = "Ship OAuth login before Friday, it's blocking";
        let found = find(text, today()).expect("found");
        assert_eq!(&text[found.span.0..found.span.1], "before Friday");
    }
}
