//! One query text for every backend: the store writes SQL once, in the form SQLite and
//! PostgreSQL share (`$1` placeholders, `ON CONFLICT … DO NOTHING`), and MySQL/MariaDB gets
//! it translated here, once per distinct text, then from a cache.
//!
//! The translation is deliberately small and mechanical (see `docs/mariadb.md`):
//! - `$n` placeholders become `?`. MySQL binds by position only, so a text's placeholders
//!   must run `$1, $2, … $n` in order, each once; a text that does not is left as it is and
//!   fails on MySQL with a syntax error rather than binding values to the wrong places
//!   (`every_store_query_numbers_its_placeholders_in_order` keeps the ported modules so).
//! - `INSERT … ON CONFLICT (cols) DO NOTHING` becomes `INSERT IGNORE …`.
//!
//! Quoted strings, quoted identifiers and comments are copied untouched. Anything else that
//! differs (no `UPDATE … RETURNING`, upserts) is a separate statement path in the module
//! that needs it, chosen with `Store::mysql`.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use sqlx::database::Database;
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{FromRow, MySql, Postgres, Sqlite};

/// How a backend wants a query text written.
pub(crate) trait Dialect: Database {
    fn text(sql: &str) -> &str;
}

impl Dialect for Sqlite {
    fn text(sql: &str) -> &str {
        sql
    }
}

impl Dialect for Postgres {
    fn text(sql: &str) -> &str {
        sql
    }
}

impl Dialect for MySql {
    fn text(sql: &str) -> &str {
        mysql_text(sql)
    }
}

/// `sqlx::query` with the text in the backend's dialect.
pub(crate) fn query<DB: Dialect>(sql: &str) -> Query<'_, DB, <DB as Database>::Arguments<'_>> {
    sqlx::query(DB::text(sql))
}

/// `sqlx::query_as` with the text in the backend's dialect.
pub(crate) fn query_as<DB: Dialect, O>(sql: &str) -> QueryAs<'_, DB, O, <DB as Database>::Arguments<'_>>
where
    O: for<'r> FromRow<'r, DB::Row>,
{
    sqlx::query_as(DB::text(sql))
}

/// `sqlx::query_scalar` with the text in the backend's dialect.
pub(crate) fn query_scalar<DB: Dialect, O>(sql: &str) -> QueryScalar<'_, DB, O, <DB as Database>::Arguments<'_>>
where
    (O,): for<'r> FromRow<'r, DB::Row>,
{
    sqlx::query_scalar(DB::text(sql))
}

/// The MySQL form of `sql`, translated on first use. Query texts are code, not data
/// (values always go through binds), so the cache holds one entry per text in the program;
/// each entry lives as long as the process, which is what lets it be handed out as `&str`.
fn mysql_text(sql: &str) -> &'static str {
    static CACHE: OnceLock<Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(text) = cache.get(sql) {
        return text;
    }
    let text: &'static str = Box::leak(translate(sql).into_boxed_str());
    cache.insert(sql.to_string(), text);
    text
}

/// The MySQL form of one query text (see the module's documentation).
pub(crate) fn translate(sql: &str) -> String {
    let placeholders = placeholders(sql);
    let in_order = placeholders.iter().enumerate().all(|(i, n)| *n == i + 1);
    let mut out = if in_order { question_marks(sql) } else { sql.to_string() };
    if let Some(rewritten) = insert_ignore(&out) {
        out = rewritten;
    }
    out
}

/// What a position of a query text is: code, or inside something copied as it is.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Code,
    Quoted(u8),
    LineComment,
}

/// Calls `each(index, part)` for every byte of `sql`.
fn scan(sql: &str, mut each: impl FnMut(usize, Part)) {
    let bytes = sql.as_bytes();
    let mut part = Part::Code;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match part {
            Part::Code => {
                if b == b'\'' || b == b'"' || b == b'`' {
                    each(i, Part::Quoted(b));
                    part = Part::Quoted(b);
                } else if b == b'-' && bytes.get(i + 1) == Some(&b'-') {
                    each(i, Part::LineComment);
                    part = Part::LineComment;
                } else {
                    each(i, Part::Code);
                }
            }
            Part::Quoted(q) => {
                each(i, part);
                // A doubled quote is an escaped one, not the end.
                if b == q {
                    if bytes.get(i + 1) == Some(&q) {
                        i += 1;
                        each(i, part);
                    } else {
                        part = Part::Code;
                    }
                }
            }
            Part::LineComment => {
                each(i, part);
                if b == b'\n' {
                    part = Part::Code;
                }
            }
        }
        i += 1;
    }
}

/// The numbers of the `$n` placeholders in `sql`, in the order they appear.
pub(crate) fn placeholders(sql: &str) -> Vec<usize> {
    let bytes = sql.as_bytes();
    let mut code = vec![false; bytes.len()];
    scan(sql, |i, part| code[i] = part == Part::Code);
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if code[i] && bytes[i] == b'$' {
            let digits = bytes[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
            if digits > 0 {
                let number = std::str::from_utf8(&bytes[i + 1..i + 1 + digits]).ok().and_then(|d| d.parse().ok());
                found.push(number.unwrap_or(0));
                i += digits;
            }
        }
        i += 1;
    }
    found
}

/// `sql` with each `$n` outside quotes and comments replaced by `?`.
fn question_marks(sql: &str) -> String {
    let bytes = sql.as_bytes();
    let mut code = vec![false; bytes.len()];
    scan(sql, |i, part| code[i] = part == Part::Code);
    let mut out = String::with_capacity(sql.len());
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if code[i] && bytes[i] == b'$' {
            let digits = bytes[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
            if digits > 0 {
                out.push_str(&sql[start..i]);
                out.push('?');
                i += digits + 1;
                start = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&sql[start..]);
    out
}

/// `INSERT … ON CONFLICT (…) DO NOTHING` as `INSERT IGNORE …`; `None` for other texts.
/// Only a conflict clause that ends the statement is rewritten (there is nothing after it
/// that MySQL could misread).
fn insert_ignore(sql: &str) -> Option<String> {
    let trimmed = sql.trim_end();
    let upper = trimmed.to_ascii_uppercase();
    if !upper.ends_with("DO NOTHING") {
        return None;
    }
    let conflict = upper.rfind("ON CONFLICT")?;
    let body = trimmed[..conflict].trim_end();
    let insert = upper.find("INSERT INTO")?;
    if insert > conflict {
        return None;
    }
    Some(format!("{}INSERT IGNORE INTO{}", &body[..insert], &body[insert + "INSERT INTO".len()..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_question_marks_outside_quotes() {
        assert_eq!(
            translate("SELECT '$1', \"$2\" FROM t WHERE a = $1 AND b = $2 -- $3\n AND c = $3"),
            "SELECT '$1', \"$2\" FROM t WHERE a = ? AND b = ? -- $3\n AND c = ?"
        );
        assert_eq!(translate("SELECT 'it''s $1' WHERE x = $1"), "SELECT 'it''s $1' WHERE x = ?");
    }

    #[test]
    fn placeholders_out_of_order_are_left_for_mysql_to_refuse() {
        let sql = "UPDATE t SET a = $2 WHERE id = $1";
        assert_eq!(translate(sql), sql);
        let repeated = "SELECT 1 WHERE a = $1 OR b = $1";
        assert_eq!(translate(repeated), repeated);
    }

    #[test]
    fn placeholders_are_found_in_order_with_their_numbers() {
        assert_eq!(placeholders("VALUES ($1, $2, $10) -- $4\n '$5'"), vec![1, 2, 10]);
        assert_eq!(placeholders("no binds, only $ signs: $x"), Vec::<usize>::new());
    }

    #[test]
    fn on_conflict_do_nothing_becomes_insert_ignore() {
        assert_eq!(
            translate("INSERT INTO jobs (id, k) VALUES ($1, $2)\n ON CONFLICT (k) DO NOTHING"),
            "INSERT IGNORE INTO jobs (id, k) VALUES (?, ?)"
        );
        let upsert = "INSERT INTO t (a) VALUES ($1) ON CONFLICT (a) DO UPDATE SET a = excluded.a";
        assert_eq!(translate(upsert), "INSERT INTO t (a) VALUES (?) ON CONFLICT (a) DO UPDATE SET a = excluded.a");
    }

    /// The modules that run on MySQL, whose query texts must bind by position.
    const PORTED: [(&str, &str); 14] = [
        ("jobs.rs", include_str!("jobs.rs")),
        ("tenants.rs", include_str!("tenants.rs")),
        ("projects.rs", include_str!("projects.rs")),
        ("group_commit.rs", include_str!("group_commit.rs")),
        ("tasks.rs", include_str!("tasks.rs")),
        ("messages.rs", include_str!("messages.rs")),
        ("labels.rs", include_str!("labels.rs")),
        ("comments.rs", include_str!("comments.rs")),
        ("links.rs", include_str!("links.rs")),
        ("decisions.rs", include_str!("decisions.rs")),
        ("deliveries.rs", include_str!("deliveries.rs")),
        ("integrations.rs", include_str!("integrations.rs")),
        ("vectors.rs", include_str!("vectors.rs")),
        ("oauth_states.rs", include_str!("oauth_states.rs")),
    ];

    /// Texts that never reach MySQL (its own statement path runs instead).
    const NOT_ON_MYSQL: [&str; 1] = ["ORDER BY run_at LIMIT 1 {lock})"];

    /// The contents of the string literals in Rust source `src` (comments skipped).
    fn string_literals(src: &str) -> Vec<String> {
        let mut found = Vec::new();
        let mut chars = src.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '/' if chars.peek() == Some(&'/') => {
                    for c in chars.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                '"' => {
                    let mut text = String::new();
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => {
                                if let Some(escaped) = chars.next() {
                                    text.push('\\');
                                    text.push(escaped);
                                }
                            }
                            '"' => break,
                            c => text.push(c),
                        }
                    }
                    found.push(text);
                }
                _ => {}
            }
        }
        found
    }

    /// Within each text, placeholders run `$k, $k+1, …` (a fragment may go on numbering from
    /// the text before it): none repeated, none out of order, so `?` binds the right values.
    #[test]
    fn every_store_query_numbers_its_placeholders_in_order() {
        let mut checked = 0;
        for (file, src) in PORTED {
            for text in string_literals(src) {
                let numbers = placeholders(&text);
                if numbers.is_empty() || NOT_ON_MYSQL.iter().any(|t| text.contains(t)) {
                    continue;
                }
                checked += 1;
                assert!(
                    numbers.windows(2).all(|w| w[1] == w[0] + 1),
                    "{file}: placeholders {numbers:?} of a query MySQL runs are not in order: {text}"
                );
            }
        }
        assert!(checked > 40, "only {checked} query texts found: is the scanner still finding them?");
    }

    #[test]
    fn the_cache_answers_the_same_text() {
        let a = mysql_text("SELECT $1");
        let b = mysql_text("SELECT $1");
        assert_eq!(a, "SELECT ?");
        assert!(std::ptr::eq(a, b));
    }
}
