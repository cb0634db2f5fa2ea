//! Due dates from natural language, resolved against the time the message was sent.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// English, then Spanish, German, French and Portuguese names (Portuguese ones also with
/// their `-feira`, removed before the look-up).
const WEEKDAYS: [(&str, Weekday); 43] = [
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
    ("lunes", Weekday::Mon),
    ("martes", Weekday::Tue),
    ("miércoles", Weekday::Wed),
    ("miercoles", Weekday::Wed),
    ("jueves", Weekday::Thu),
    ("viernes", Weekday::Fri),
    ("sábado", Weekday::Sat),
    ("sabado", Weekday::Sat),
    ("domingo", Weekday::Sun),
    ("montag", Weekday::Mon),
    ("dienstag", Weekday::Tue),
    ("mittwoch", Weekday::Wed),
    ("donnerstag", Weekday::Thu),
    ("freitag", Weekday::Fri),
    ("samstag", Weekday::Sat),
    ("sonntag", Weekday::Sun),
    ("lundi", Weekday::Mon),
    ("mardi", Weekday::Tue),
    ("mercredi", Weekday::Wed),
    ("jeudi", Weekday::Thu),
    ("vendredi", Weekday::Fri),
    ("samedi", Weekday::Sat),
    ("dimanche", Weekday::Sun),
    // Portuguese: "segunda" and "quinta" are also ordinals, so these count only after a
    // lead word or with "-feira" (see `weekday_at`).
    ("segunda", Weekday::Mon),
    ("terça", Weekday::Tue),
    ("terca", Weekday::Tue),
    ("quarta", Weekday::Wed),
    ("quinta", Weekday::Thu),
    ("sexta", Weekday::Fri),
];

/// Portuguese weekday names that are ordinary words too.
const AMBIGUOUS_DAYS: [&str; 6] = ["segunda", "terça", "terca", "quarta", "quinta", "sexta"];

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

const NUMBER_WORDS: [(&str, i64); 24] = [
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
    ("un", 1),
    ("una", 1),
    ("uno", 1),
    ("ein", 1),
    ("einem", 1),
    ("einer", 1),
    ("une", 1),
    ("um", 1),
    ("uma", 1),
    ("dos", 2),
    ("zwei", 2),
    ("deux", 2),
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
    let word = word.strip_suffix("-feira").unwrap_or(word);
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

/// Words that lead into a date ("by Friday", "bis Freitag", "avant vendredi", "até sexta",
/// "antes del viernes"); up to two are taken into the phrase.
const LEADS: [&str; 27] = [
    "by",
    "before",
    "on",
    "until",
    "till",
    "due",
    "for",
    "at",
    "bis",
    "vor",
    "am",
    "zum",
    "spätestens",
    "avant",
    "pour",
    "le",
    "à",
    "até",
    "ate",
    "antes",
    "para",
    "hasta",
    "el",
    "del",
    "na",
    "de",
    "da",
];

/// Leads that put a holiday's deadline on the day before it.
const BEFORE: [&str; 4] = ["before", "vor", "avant", "antes"];

/// Units of "in 3 days" and its translations.
fn unit(word: &str) -> Option<&'static str> {
    Some(match word {
        "day" | "days" | "día" | "días" | "dia" | "dias" | "tag" | "tage" | "tagen" | "jour" | "jours" => "day",
        "week" | "weeks" | "semana" | "semanas" | "woche" | "wochen" | "semaine" | "semaines" => "week",
        "month" | "months" | "mes" | "meses" | "monat" | "monate" | "monaten" | "mois" | "mês" => "month",
        "hour" | "hours" | "hr" | "hrs" | "h" | "hora" | "horas" | "stunde" | "stunden" | "heure" | "heures" => "hour",
        _ => return None,
    })
}

/// `n` working days after `today`, Saturdays and Sundays skipped.
fn business_days(today: NaiveDate, n: i64) -> NaiveDate {
    let mut day = today;
    let mut left = n;
    while left > 0 {
        day += Duration::days(1);
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    day
}

/// This week's Saturday (today on a weekend).
fn weekend(today: NaiveDate) -> NaiveDate {
    match today.weekday() {
        Weekday::Sat | Weekday::Sun => today,
        _ => upcoming(today, Weekday::Sat),
    }
}

/// A yearly holiday named by `w` (its words from here): its next date (today's included)
/// and how many words named it.
fn holiday(today: NaiveDate, w: [&str; 4]) -> Option<(NaiveDate, usize)> {
    let (month, day, len) = match w {
        ["christmas" | "xmas", "eve", ..] => (12, 24, 2),
        ["nochebuena" | "heiligabend", ..] => (12, 24, 1),
        ["christmas" | "xmas" | "navidad" | "weihnachten" | "noël" | "noel", ..] => (12, 25, 1),
        // "new year's eve": the apostrophe splits "year's".
        ["new", "year", "s", "eve"] => (12, 31, 4),
        ["new", "years", "eve", _] => (12, 31, 3),
        ["silvester" | "nochevieja" | "réveillon", ..] => (12, 31, 1),
        ["new", "year", "s", _] => (1, 1, 3),
        ["new", "year" | "years", ..] => (1, 1, 2),
        ["neujahr", ..] => (1, 1, 1),
        ["año", "nuevo", ..] | ["nouvel", "an", ..] | ["ano", "novo", ..] => (1, 1, 2),
        ["halloween", ..] => (10, 31, 1),
        ["thanksgiving", ..] => {
            // The fourth Thursday of November, this year's or next.
            let fourth = |year| {
                let first = NaiveDate::from_ymd_opt(year, 11, 1)?;
                Some(upcoming(first - Duration::days(1), Weekday::Thu) + Duration::days(21))
            };
            let this = fourth(today.year())?;
            return Some((if this >= today { this } else { fourth(today.year() + 1)? }, 1));
        }
        _ => return None,
    };
    Some((month_day(today, month, day)?, len))
}

/// "in 3 days", "within 3 business days", "within 48 hours", "dans 3 jours", "em 2 semanas":
/// the date and the phrase's length after the lead.
fn within(today: NaiveDate, n: Option<i64>, next: &str, after: &str) -> (Option<NaiveDate>, usize) {
    let Some(n) = n else { return (None, 0) };
    if matches!(next, "business" | "working" | "work") && unit(after) == Some("day") {
        return (Some(business_days(today, n)), 4);
    }
    match unit(next) {
        Some("day") => (Some(today + Duration::days(n)), 3),
        Some("week") => (Some(today + Duration::days(7 * n)), 3),
        Some("month") => (today.checked_add_months(chrono::Months::new(n as u32)), 3),
        // The date those hours end on, for a request made during the day.
        Some("hour") => (Some(today + Duration::days(n / 24)), 3),
        _ => (None, 0),
    }
}

/// Finds the first due-date phrase in `text`.
pub fn find(text: &str, today: NaiveDate) -> Option<Found> {
    let w = words(text);
    let word = |i: usize| w.get(i).map(|(_, _, s)| s.as_str()).unwrap_or("");
    let prev = |i: usize| if i > 0 { word(i - 1) } else { "" };
    let led = |i: usize| LEADS.contains(&prev(i));
    let next_week_friday = next_monday(today) + Duration::days(4);
    let next_month_end = || {
        let (y, m) = if today.month() == 12 { (today.year() + 1, 1) } else { (today.year(), today.month() + 1) };
        end_of_month(y, m)
    };
    for i in 0..w.len() {
        let (date, len) = match word(i) {
            "today" | "tonight" | "eod" | "hoy" | "heute" | "hoje" => (Some(today), 1),
            "aujourd" if word(i + 1) == "hui" => (Some(today), 2),
            "tomorrow" | "tmrw" | "tmr" | "demain" | "amanhã" | "amanha" => (Some(today + Duration::days(1)), 1),
            // "esta mañana", "por la mañana": the morning, not tomorrow.
            "mañana" | "manana" if !matches!(prev(i), "la" | "esta" | "cada" | "una") => {
                (Some(today + Duration::days(1)), 1)
            }
            "morgen" if !matches!(prev(i), "guten" | "jeden" | "heute") => (Some(today + Duration::days(1)), 1),
            "pasado" if matches!(word(i + 1), "mañana" | "manana") => (Some(today + Duration::days(2)), 2),
            "übermorgen" | "après-demain" => (Some(today + Duration::days(2)), 1),
            "depois" if word(i + 1) == "de" && matches!(word(i + 2), "amanhã" | "amanha") => {
                (Some(today + Duration::days(2)), 3)
            }
            "eow" => (Some(end_of_week(today)), 1),
            "eom" | "monatsende" => (end_of_month(today.year(), today.month()), 1),
            "end" if word(i + 1) == "of" => match word(i + 2) {
                "day" | "today" => (Some(today), 3),
                "week" | "the" if word(i + 2) == "week" || word(i + 3) == "week" => {
                    (Some(end_of_week(today)), if word(i + 2) == "the" { 4 } else { 3 })
                }
                "month" => (end_of_month(today.year(), today.month()), 3),
                "the" if word(i + 3) == "month" => (end_of_month(today.year(), today.month()), 4),
                "next" if word(i + 3) == "week" => (Some(next_week_friday), 4),
                "the" if word(i + 3) == "next" && word(i + 4) == "week" => (Some(next_week_friday), 5),
                "next" if word(i + 3) == "month" => (next_month_end(), 4),
                _ => (None, 0),
            },
            // "fin de mes", "fin du mois", "fim do mês", "ende des monats"
            "fin" | "fim" | "ende" if matches!(word(i + 2), "mes" | "mois" | "mês" | "monats") => {
                (end_of_month(today.year(), today.month()), 3)
            }
            "fin" | "fim" if word(i + 1) == "de" && word(i + 2) == "semana" => (Some(weekend(today)), 3),
            "wochenende" | "week-end" => (Some(weekend(today)), 1),
            "day" if word(i + 1) == "after" && word(i + 2) == "tomorrow" => (Some(today + Duration::days(2)), 3),
            "this" | "the" if word(i + 1) == "weekend" => (Some(weekend(today)), 2),
            "this" => match (word(i + 1), weekday(word(i + 1))) {
                ("week", _) => (Some(end_of_week(today)), 2),
                (_, Some(d)) => (Some(upcoming(today - Duration::days(1), d)), 2),
                _ => (None, 0),
            },
            "next" => match (word(i + 1), weekday(word(i + 1))) {
                ("week", _) => (Some(next_week_friday), 2),
                ("month", _) => (next_month_end(), 2),
                // The named day of next week.
                (_, Some(d)) => (Some(next_monday(today) + Duration::days(d.num_days_from_monday() as i64)), 2),
                _ => (None, 0),
            },
            // "próxima semana", "nächste Woche"; "semana que viene"; "semaine prochaine"
            "próxima" | "proxima" | "nächste" | "nächsten" | "naechste" if unit(word(i + 1)) == Some("week") => {
                (Some(next_week_friday), 2)
            }
            "semana" if word(i + 1) == "que" && word(i + 2) == "viene" => (Some(next_week_friday), 3),
            "semaine" if word(i + 1) == "prochaine" => (Some(next_week_friday), 2),
            "in" | "within" | "en" | "dans" | "em" | "innerhalb" | "binnen" => {
                within(today, count(word(i + 1)), word(i + 2), word(i + 3))
            }
            other => {
                let ambiguous = AMBIGUOUS_DAYS.contains(&other);
                let named = weekday(other).filter(|_| {
                    if ambiguous { led(i) || other.ends_with("-feira") } else { other.len() > 3 || led(i) }
                });
                let feast = holiday(today, [other, word(i + 1), word(i + 2), word(i + 3)]);
                if let Some(d) = named {
                    (Some(upcoming(today, d)), 1)
                } else if let Some((date, len)) = feast {
                    // "before Christmas" is due the day before it.
                    let before = BEFORE.contains(&prev(i)) || i > 1 && BEFORE.contains(&word(i - 2)) && led(i);
                    (Some(if before { date - Duration::days(1) } else { date }), len)
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
            // Up to two lead words ("antes del viernes", "bis zum Freitag") join the phrase.
            let mut start_word = i;
            while start_word > 0 && i - start_word < 2 && LEADS.contains(&word(start_word - 1)) {
                start_word -= 1;
            }
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
    fn spanish_german_french_and_portuguese_dates() {
        assert_eq!(due("arreglar el login mañana").as_deref(), Some("2026-11-23"));
        assert_eq!(due("lo vimos esta mañana").as_deref(), None);
        assert_eq!(due("pasado mañana").as_deref(), Some("2026-11-24"));
        assert_eq!(due("antes del viernes").as_deref(), Some("2026-11-27"));
        assert_eq!(due("la semana que viene").as_deref(), Some("2026-11-27"));
        assert_eq!(due("en 3 días").as_deref(), Some("2026-11-25"));
        assert_eq!(due("bis Freitag bitte").as_deref(), Some("2026-11-27"));
        assert_eq!(due("Guten Morgen, die Rechnung fehlt").as_deref(), None);
        assert_eq!(due("bis morgen").as_deref(), Some("2026-11-23"));
        assert_eq!(due("nächste Woche").as_deref(), Some("2026-11-27"));
        assert_eq!(due("avant vendredi").as_deref(), Some("2026-11-27"));
        assert_eq!(due("pour demain").as_deref(), Some("2026-11-23"));
        assert_eq!(due("dans deux semaines").as_deref(), Some("2026-12-06"));
        assert_eq!(due("até sexta").as_deref(), Some("2026-11-27"));
        assert_eq!(due("até sexta-feira").as_deref(), Some("2026-11-27"));
        assert_eq!(due("pela segunda vez").as_deref(), None, "an ordinal, not Monday");
        assert_eq!(due("para amanhã").as_deref(), Some("2026-11-23"));
        assert_eq!(due("fim do mês").as_deref(), Some("2026-11-30"));
    }

    #[test]
    fn business_days_hours_weekends_and_ends() {
        // Sunday the 22nd: three working days are Mon, Tue, Wed.
        assert_eq!(due("within 3 business days").as_deref(), Some("2026-11-25"));
        assert_eq!(due("in 5 working days").as_deref(), Some("2026-11-27"));
        let friday = NaiveDate::from_ymd_opt(2026, 11, 27).expect("date");
        assert_eq!(find("within 1 business day", friday).map(|f| f.date.to_string()).as_deref(), Some("2026-11-30"));
        assert_eq!(due("within 48 hours").as_deref(), Some("2026-11-24"));
        assert_eq!(due("in 36 hours").as_deref(), Some("2026-11-23"));
        assert_eq!(due("in 2 hours").as_deref(), Some("2026-11-22"));
        assert_eq!(due("weekend deploy freeze"), None);
        assert_eq!(due("by the end of the month").as_deref(), Some("2026-11-30"));
        // From a Sunday, next week starts tomorrow (as "next week" does).
        assert_eq!(due("end of next week").as_deref(), Some("2026-11-27"));
        assert_eq!(due("by the end of next month").as_deref(), Some("2026-12-31"));
        assert_eq!(due("this weekend").as_deref(), Some("2026-11-22"), "a Sunday is still the weekend");
        let wednesday = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
        assert_eq!(find("this weekend", wednesday).map(|f| f.date.to_string()).as_deref(), Some("2026-11-28"));
    }

    #[test]
    fn holidays() {
        assert_eq!(due("before Christmas").as_deref(), Some("2026-12-24"));
        assert_eq!(due("by Christmas").as_deref(), Some("2026-12-25"));
        assert_eq!(due("antes de Navidad").as_deref(), Some("2026-12-24"));
        assert_eq!(due("vor Weihnachten").as_deref(), Some("2026-12-24"));
        assert_eq!(due("by New Year's Eve").as_deref(), Some("2026-12-31"));
        assert_eq!(due("after new year").as_deref(), Some("2027-01-01"));
        assert_eq!(due("for Halloween").as_deref(), Some("2027-10-31"));
        assert_eq!(due("before thanksgiving").as_deref(), Some("2026-11-25"));
    }

    #[test]
    fn the_phrase_span_covers_its_lead_word() {
        let text = "Ship OAuth login before Friday, it's blocking";
        let found = find(text, today()).expect("found");
        assert_eq!(&text[found.span.0..found.span.1], "before Friday");
        let text = "Arreglar el login antes del viernes";
        let found = find(text, today()).expect("found");
        assert_eq!(&text[found.span.0..found.span.1], "antes del viernes");
    }
}
