//! Field rules shared by every input type.

use chrono::NaiveDate;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DomainError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
}

impl DomainError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        DomainError::Invalid { field, message: message.into() }
    }
}

/// A required single-line text: trimmed, non-empty, at most `max` characters.
pub fn required_text(field: &'static str, value: &str, max: usize) -> Result<String, DomainError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    limit(field, trimmed, max)?;
    Ok(trimmed.to_string())
}

/// A required single line such as a title or a name: as [`required_text`], and without
/// the characters that make it read as something else (see [`is_disguising`]).
pub fn required_line(field: &'static str, value: &str, max: usize) -> Result<String, DomainError> {
    let line = required_text(field, value, max)?;
    undisguised(field, &line)?;
    Ok(line)
}

/// Characters a single line must not hold, because what others read would not be what it
/// is: control characters (newline and tab aside) and the bidirectional embeddings,
/// overrides and isolates (U+202E shows `gnp.exe` as `exe.png`).
pub fn is_disguising(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn undisguised(field: &'static str, value: &str) -> Result<(), DomainError> {
    match value.chars().find(|c| is_disguising(*c)) {
        Some(c) => Err(DomainError::invalid(
            field,
            format!("must not contain control or text-direction characters (found U+{:04X})", u32::from(c)),
        )),
        None => Ok(()),
    }
}

/// An optional free text (may be empty), at most `max` characters.
pub fn free_text(field: &'static str, value: &str, max: usize) -> Result<String, DomainError> {
    limit(field, value, max)?;
    Ok(value.to_string())
}

/// An optional short name such as an assignee, on one line; blank means "none".
pub fn optional_name(field: &'static str, value: Option<&str>, max: usize) -> Result<Option<String>, DomainError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => {
            limit(field, v, max)?;
            undisguised(field, v)?;
            Ok(Some(v.to_string()))
        }
    }
}

fn limit(field: &'static str, value: &str, max: usize) -> Result<(), DomainError> {
    if value.chars().count() > max {
        return Err(DomainError::invalid(field, format!("must be at most {max} characters")));
    }
    if value.chars().any(|c| c == '\0') {
        return Err(DomainError::invalid(field, "must not contain NUL characters"));
    }
    Ok(())
}

/// Minutes of work: zero or more, and below ten years of full-time work.
pub fn minutes(field: &'static str, value: i64) -> Result<i64, DomainError> {
    const MAX: i64 = 10 * 52 * 40 * 60;
    if !(0..=MAX).contains(&value) {
        return Err(DomainError::invalid(field, format!("must be between 0 and {MAX} minutes")));
    }
    Ok(value)
}

/// A calendar date written `YYYY-MM-DD`.
pub fn date(field: &'static str, value: &str) -> Result<NaiveDate, DomainError> {
    let ok_shape = value.len() == 10
        && value.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    if !ok_shape {
        return Err(DomainError::invalid(field, "must be a date written YYYY-MM-DD"));
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map_err(|_| DomainError::invalid(field, format!("{value} is not a calendar date")))
}

/// An optional date: absent, null or "" mean none.
pub fn optional_date(field: &'static str, value: Option<&str>) -> Result<Option<NaiveDate>, DomainError> {
    match value {
        None | Some("") => Ok(None),
        Some(v) => date(field, v).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(required_text("title", "  Fix login  ", 10).as_deref(), Ok("Fix login"));
        assert!(required_text("title", "   ", 10).is_err());
        assert!(required_text("title", &"x".repeat(11), 10).is_err());
        assert!(required_text("title", &"é".repeat(10), 10).is_ok());
        assert!(required_text("title", "a\0b", 10).is_err());
    }

    #[test]
    fn lines_refuse_what_disguises_them() {
        assert!(required_line("title", "Fix the \u{202E}gnp.exe upload", 100).is_err());
        assert!(required_line("title", "Bell\u{7} ringing", 100).is_err());
        assert!(required_line("title", "Escape \u{1b}[31m red", 100).is_err());
        assert!(required_line("title", "isolate \u{2067}x\u{2069}", 100).is_err());
        assert!(optional_name("assigned_to", Some("ana\u{202D}"), 100).is_err());
        assert_eq!(
            required_line("title", "Résumé – 日本語 עברית\tok", 100).as_deref(),
            Ok("Résumé – 日本語 עברית\tok")
        );
        assert!(required_text("content", "a comment may quote \u{202E} as it was", 100).is_ok());
    }

    #[test]
    fn dates_must_be_real_calendar_days() {
        assert!(date("due_date", "2026-02-28").is_ok());
        assert!(date("due_date", "2026-02-30").is_err());
        assert!(date("due_date", "2026-2-3").is_err());
        assert!(date("due_date", "+2026-02-03").is_err());
        assert_eq!(optional_date("due_date", Some("")), Ok(None));
    }

    #[test]
    fn minutes_are_bounded() {
        assert!(minutes("time_spent", -1).is_err());
        assert!(minutes("time_spent", 0).is_ok());
        assert!(minutes("time_spent", i64::MAX).is_err());
    }
}
