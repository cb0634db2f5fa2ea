//! The offline, deterministic language model: rules that turn a chat message into a task
//! draft. It is the default, and the fallback whenever a real provider fails.

pub mod dates;
mod title;

use super::{DraftRequest, LanguageModel, LlmError, LlmFuture};
use crate::domain::message::TaskDraft;
use crate::domain::task::Priority;

pub use title::shorten;

#[derive(Debug, Clone, Copy, Default)]
pub struct Builtin;

impl LanguageModel for Builtin {
    fn name(&self) -> &'static str {
        "builtin"
    }

    fn draft<'a>(&'a self, request: &'a DraftRequest) -> LlmFuture<'a, TaskDraft> {
        Box::pin(async move { Ok::<_, LlmError>(draft(request)) })
    }
}

/// The whole rule set, synchronous and pure.
pub fn draft(request: &DraftRequest) -> TaskDraft {
    let today = request.received_at.date_naive();
    let due = dates::find(&request.text, today);
    TaskDraft {
        title: title::title(&request.text, due.as_ref().map(|d| d.span)),
        description: description(request),
        priority: priority(&request.text),
        due_date: due.map(|d| d.date),
        labels: labels(&request.text),
        assigned_to: assignee(&request.text),
    }
}

/// The original words with their context: who asked, where, when, and a link back.
pub fn description(r: &DraftRequest) -> String {
    let mut out = r.text.trim().to_string();
    out.push_str("\n\n---\n");
    let mut said = String::from("Requested");
    if let Some(author) = &r.author {
        said.push_str(&format!(" by {author}"));
    }
    if let Some(channel) = &r.channel {
        said.push_str(&format!(" in {channel}"));
    }
    said.push_str(&format!(" via {}", r.source));
    said.push_str(&format!(" on {}", r.received_at.format("%Y-%m-%d %H:%M UTC")));
    out.push_str(&said);
    out.push('.');
    if let Some(link) = &r.link {
        out.push_str(&format!("\nConversation: {link}"));
    }
    out
}

const LOW_CUES: [&str; 19] = [
    "when you have time",
    "when you get a chance",
    "whenever",
    "no rush",
    "not urgent",
    "low priority",
    "nice to have",
    "someday",
    "no hurry",
    "at some point",
    "no es urgente",
    "sin prisa",
    "nicht dringend",
    "keine eile",
    "pas urgent",
    "pas pressé",
    "rien de pressé",
    "não é urgente",
    "sem pressa",
];
const HIGH_CUES: [&str; 30] = [
    "urgent",
    "asap",
    "a.s.a.p",
    "blocker",
    "blocking",
    "critical",
    "emergency",
    "immediately",
    "right away",
    "high priority",
    "p0",
    "p1",
    "sev1",
    "sev 1",
    "outage",
    "is down",
    "production down",
    "showstopper",
    "urgente",
    "urgentemente",
    "cuanto antes",
    "lo antes posible",
    "dringend",
    "sofort",
    "so schnell wie möglich",
    "au plus vite",
    "dès que possible",
    "le plus vite possible",
    "o mais rápido possível",
    "o quanto antes",
];

/// Priority from cues in the text; "not urgent" wins over "urgent".
pub fn priority(text: &str) -> Priority {
    let lower = format!(" {} ", text.to_lowercase());
    let has = |cue: &&str| contains_phrase(&lower, cue);
    if LOW_CUES.iter().any(has) {
        Priority::Low
    } else if HIGH_CUES.iter().any(has) || text.contains("!!") {
        Priority::High
    } else {
        Priority::Medium
    }
}

/// True when `phrase` occurs in `haystack` bounded by non-alphanumerics.
fn contains_phrase(haystack: &str, phrase: &str) -> bool {
    haystack.match_indices(phrase).any(|(i, _)| {
        let before = haystack[..i].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
        let after = haystack[i + phrase.len()..].chars().next().is_none_or(|c| !c.is_alphanumeric());
        before && after
    })
}

const LABELS: [(&str, &[&str]); 8] = [
    (
        "bug",
        &[
            "bug",
            "broken",
            "error",
            "crash",
            "crashes",
            "fails",
            "failing",
            "exception",
            "regression",
            "500",
            "doesn't",
            "not working",
        ],
    ),
    (
        "security",
        &[
            "security",
            "vulnerability",
            "cve",
            "password",
            "oauth",
            "oauth2",
            "auth",
            "login",
            "sso",
            "2fa",
            "permission",
            "permissions",
            "xss",
            "csrf",
        ],
    ),
    ("frontend", &["ui", "ux", "css", "button", "page", "layout", "frontend", "design", "screen", "modal"]),
    ("backend", &["api", "database", "db", "server", "backend", "endpoint", "migration", "query", "sql"]),
    ("performance", &["slow", "performance", "latency", "timeout", "memory", "cpu", "speed"]),
    (
        "infrastructure",
        &["deploy", "deployment", "ci", "pipeline", "kubernetes", "docker", "infra", "outage", "dns", "certificate"],
    ),
    ("documentation", &["docs", "documentation", "readme", "guide", "tutorial"]),
    ("feature", &["feature", "add", "support", "implement", "new", "introduce"]),
];

/// Labels from a keyword map over the message's words, in the map's order.
pub fn labels(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let words: Vec<&str> =
        lower.split(|c: char| !(c.is_alphanumeric() || c == '\'')).filter(|w| !w.is_empty()).collect();
    let mut out: Vec<String> = LABELS
        .iter()
        .filter(|(_, keys)| keys.iter().any(|k| if k.contains(' ') { lower.contains(k) } else { words.contains(k) }))
        .map(|(label, _)| label.to_string())
        .collect();
    out.sort();
    out
}

const NOT_PEOPLE: [&str; 7] = ["here", "channel", "everyone", "all", "taskbridge", "bot", "team"];

/// The first @mention that names a person.
pub fn assignee(text: &str) -> Option<String> {
    text.split_whitespace()
        .filter_map(|w| w.strip_prefix('@'))
        .map(|w| w.trim_end_matches(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '.')))
        .map(|w| w.trim_end_matches('.'))
        .find(|w| !w.is_empty() && !NOT_PEOPLE.contains(&w.to_lowercase().as_str()))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn request(text: &str) -> DraftRequest {
        DraftRequest {
            text: text.to_string(),
            author: Some("ana".into()),
            channel: Some("#beta".into()),
            source: "slack".into(),
            received_at: chrono::Utc.with_ymd_and_hms(2026, 11, 22, 9, 30, 0).single().expect("time"),
            link: Some("https://chat.example/t/1".into()),
        }
    }

    #[test]
    fn the_issue_example_becomes_a_good_task() {
        let d = draft(&request("we need OAuth2 login on the platform before Friday, it's blocking the beta"));
        assert_eq!(d.title, "Add OAuth2 login on the platform");
        assert_eq!(d.priority, Priority::High);
        assert_eq!(d.due_date.map(|d| d.to_string()).as_deref(), Some("2026-11-27"));
        assert!(d.labels.contains(&"security".to_string()), "{:?}", d.labels);
        assert!(d.description.starts_with("we need OAuth2 login on the platform before Friday"));
        assert!(d.description.contains("Requested by ana in #beta via slack on 2026-11-22 09:30 UTC."));
        assert!(d.description.contains("https://chat.example/t/1"));
    }

    #[test]
    fn priority_cues() {
        assert_eq!(priority("this is urgent"), Priority::High);
        assert_eq!(priority("ASAP please"), Priority::High);
        assert_eq!(priority("not urgent, when you have time"), Priority::Low);
        assert_eq!(priority("update the footer"), Priority::Medium);
        assert_eq!(priority("the blockers list"), Priority::Medium);
        assert_eq!(priority("es urgente, la factura no sale"), Priority::High);
        assert_eq!(priority("Bitte dringend prüfen"), Priority::High);
        assert_eq!(priority("c'est urgent"), Priority::High);
        assert_eq!(priority("preciso disso o quanto antes"), Priority::High);
        assert_eq!(priority("nicht dringend, aber wichtig"), Priority::Low);
        assert_eq!(priority("no es urgente"), Priority::Low);
    }

    #[test]
    fn a_request_in_another_language_keeps_its_language() {
        let d =
            draft(&request("Hola equipo, por favor arreglar la exportación de facturas antes del viernes, es urgente"));
        assert_eq!(d.title, "Arreglar la exportación de facturas");
        assert_eq!(d.due_date.map(|d| d.to_string()).as_deref(), Some("2026-11-27"));
        assert_eq!(d.priority, Priority::High);
        let d = draft(&request("Hallo, bitte die Rechnungsvorlage bis Freitag aktualisieren, dringend"));
        assert_eq!(d.title, "Die Rechnungsvorlage aktualisieren");
        assert_eq!((d.due_date.map(|d| d.to_string()), d.priority), (Some("2026-11-27".into()), Priority::High));
        let d = draft(&request("Bonjour, il faut corriger la page de connexion avant vendredi"));
        assert_eq!(d.title, "Corriger la page de connexion");
        assert_eq!(d.due_date.map(|d| d.to_string()).as_deref(), Some("2026-11-27"));
        let d = draft(&request("Olá, precisamos atualizar o certificado até sexta"));
        assert_eq!(d.title, "Atualizar o certificado");
        assert_eq!(d.due_date.map(|d| d.to_string()).as_deref(), Some("2026-11-27"));
    }

    #[test]
    fn assignees_come_from_mentions() {
        assert_eq!(assignee("@taskbridge can @maria.lopez fix this?").as_deref(), Some("maria.lopez"));
        assert_eq!(assignee("@here anyone?"), None);
        assert_eq!(assignee("no mention"), None);
    }

    #[test]
    fn labels_come_from_keywords() {
        assert_eq!(labels("The API is slow"), vec!["backend", "performance"]);
        assert_eq!(labels("login page crashes"), vec!["bug", "frontend", "security"]);
        assert!(labels("lunch on friday").is_empty());
    }
}
