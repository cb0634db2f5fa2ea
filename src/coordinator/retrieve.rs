//! Finding the tasks a question is about: who it names, the time it asks about, whether
//! it asks what blocks something, and the words it shares with tasks, their projects and
//! their comments. Deterministic, so a builtin answer is the same for the same data.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, NaiveDate};

use crate::dedup::text::word_terms;
use crate::domain::comment::Comment;
use crate::domain::project::Project;
use crate::domain::task::{Priority, Task, TaskStatus};

/// The most tasks one answer cites.
pub const MAX_HITS: usize = 10;

/// Words that say what kind of question it is, not what it is about.
const CUES: &str = "block blocker blocked blocking week today tonight tomorrow overdue late due have has work task tasks \
                    does doing this open assign assigned show list stuck left anything everything something going \
                    happening status update updates news tell give please holding";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// Due on or before this day.
    DueBy(NaiveDate),
    /// Due before this day.
    Overdue(NaiveDate),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The assignee it names, as the tasks spell it.
    pub person: Option<String>,
    pub window: Option<Window>,
    /// "What is blocking …": high-priority and blocked work first.
    pub blocking: bool,
    /// What it is about, as comparable terms.
    pub terms: Vec<String>,
}

impl Question {
    pub fn is_open_ended(&self) -> bool {
        self.person.is_none() && self.window.is_none() && !self.blocking && self.terms.is_empty()
    }
}

/// The Sunday ending the week of `day`.
pub fn end_of_week(day: NaiveDate) -> NaiveDate {
    day + chrono::Duration::days(i64::from(6 - day.weekday().num_days_from_monday()))
}

/// Reads `text` against the people who have tasks (`assignees`) as of `today`.
pub fn understand(text: &str, assignees: &[&str], today: NaiveDate) -> Question {
    let lower = text.to_lowercase();
    let words: Vec<String> = lower
        .split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '.' && c != '-' && c != '_')
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).trim_end_matches("'s").to_string())
        .filter(|w| !w.is_empty())
        .collect();
    let person = assignees
        .iter()
        .find(|a| {
            let a = a.to_lowercase();
            let first = a.split_whitespace().next().unwrap_or("").to_string();
            words.iter().any(|w| *w == a || *w == first || a.split('@').next() == Some(w.as_str()))
        })
        .map(|a| a.to_string());
    let has = |phrase: &str| lower.contains(phrase);
    let window = if has("overdue") || has("late") || has("past due") {
        Some(Window::Overdue(today))
    } else if has("this week") || has("by friday") || has("end of the week") {
        Some(Window::DueBy(end_of_week(today)))
    } else if has("today") || has("tonight") {
        Some(Window::DueBy(today))
    } else if has("tomorrow") {
        Some(Window::DueBy(today + chrono::Duration::days(1)))
    } else {
        None
    };
    let blocking = ["block", "stuck", "holding up", "holds up", "in the way"].iter().any(|c| has(c));
    let named: HashSet<String> = person.iter().flat_map(|p| word_terms(p)).collect();
    let cues: HashSet<String> = word_terms(CUES).into_iter().collect();
    let mut terms: Vec<String> = word_terms(text)
        .into_iter()
        .filter(|t| !cues.contains(t) && !named.contains(t) && t.chars().count() > 1)
        .collect();
    terms.dedup();
    Question { person, window, blocking, terms }
}

/// The words of `text` as written (lower-cased) that give one of `terms`, at most `max`:
/// what a plain text search looks for, since a stemmed term ("deliveri") is not in the text.
pub fn written_words(text: &str, terms: &[String], max: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        let word = word.to_lowercase();
        if out.len() < max && !out.contains(&word) && word_terms(&word).iter().any(|t| terms.contains(t)) {
            out.push(word);
        }
    }
    out
}

/// What a task is matched against: its own words and those of its project and comments.
struct Haystack {
    title: HashSet<String>,
    labels: HashSet<String>,
    project: HashSet<String>,
    body: HashSet<String>,
}

fn terms_of(text: &str) -> HashSet<String> {
    word_terms(text).into_iter().collect()
}

/// The open tasks that answer `q`, best first, at most [`MAX_HITS`].
pub fn rank<'a>(
    q: &Question,
    tasks: &'a [Task],
    projects: &[Project],
    comments: &[Comment],
    today: NaiveDate,
) -> Vec<&'a Task> {
    let project_names: HashMap<&str, &str> = projects.iter().map(|p| (p.id.as_str(), p.name.as_str())).collect();
    let mut said: HashMap<&str, String> = HashMap::new();
    for c in comments {
        let text = said.entry(c.task_id.as_str()).or_default();
        text.push(' ');
        text.push_str(&c.content);
    }
    let mut scored: Vec<(i64, &Task)> = tasks
        .iter()
        .filter(|t| t.status != TaskStatus::Done)
        .filter(|t| match &q.person {
            Some(p) => t.assigned_to.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(p)),
            None => true,
        })
        .filter(|t| match q.window {
            Some(Window::DueBy(day)) => {
                t.due_date.is_some_and(|d| d <= day) || (t.due_date.is_none() && t.status == TaskStatus::InProgress)
            }
            Some(Window::Overdue(day)) => t.due_date.is_some_and(|d| d < day),
            None => true,
        })
        .filter_map(|t| {
            let hay = Haystack {
                title: terms_of(&t.title),
                labels: terms_of(&t.labels.join(" ")),
                project: terms_of(project_names.get(t.project_id.as_str()).copied().unwrap_or("")),
                body: terms_of(&format!("{} {}", t.description, said.get(t.id.as_str()).map_or("", |s| s))),
            };
            let relevance: i64 = q
                .terms
                .iter()
                .map(|term| {
                    3 * i64::from(hay.title.contains(term))
                        + 2 * i64::from(hay.labels.contains(term))
                        + 2 * i64::from(hay.project.contains(term))
                        + i64::from(hay.body.contains(term))
                })
                .sum();
            if !q.terms.is_empty() && relevance == 0 {
                return None;
            }
            let mut score = relevance * 10;
            if q.blocking {
                let blocked = hay.labels.iter().chain(&hay.title).chain(&hay.body).any(|w| w.starts_with("block"));
                score += 8 * i64::from(blocked) + 5 * i64::from(t.priority == Priority::High);
                if !blocked && t.priority != Priority::High && q.terms.is_empty() {
                    return None;
                }
            }
            // Then what is most pressing: overdue, high priority, due soonest.
            score += 3 * i64::from(t.due_date.is_some_and(|d| d < today)) + i64::from(t.priority == Priority::High);
            Some((score, t))
        })
        .collect();
    scored.sort_by(|(a, x), (b, y)| {
        b.cmp(a)
            .then_with(|| x.due_date.unwrap_or(NaiveDate::MAX).cmp(&y.due_date.unwrap_or(NaiveDate::MAX)))
            .then_with(|| x.id.cmp(&y.id))
    });
    scored.into_iter().take(MAX_HITS).map(|(_, t)| t).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn task(id: &str, title: &str, who: Option<&str>, due: Option<&str>, priority: Priority) -> Task {
        let now = chrono::Utc::now();
        Task {
            id: id.into(),
            project_id: "p".into(),
            title: title.into(),
            description: String::new(),
            status: TaskStatus::Todo,
            priority,
            assigned_to: who.map(str::to_string),
            time_estimate: None,
            time_spent: 0,
            due_date: due.map(day),
            labels: vec![],
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn text_search_looks_for_the_words_as_written() {
        let q = understand("Any news on the Deliveries to Zürich?", &[], day("2026-12-02"));
        // "news" asks for updates: not a topic.
        assert_eq!(written_words("Any news on the Deliveries to Zürich?", &q.terms, 5), ["deliveries", "zürich"]);
        assert_eq!(written_words("Any news on the Deliveries to Zürich?", &q.terms, 1), ["deliveries"]);
    }

    #[test]
    fn questions_are_read_for_person_time_and_topic() {
        let today = day("2026-12-02"); // a Wednesday
        let q = understand("What does Ana have this week?", &["ana", "cy"], today);
        assert_eq!(q.person.as_deref(), Some("ana"));
        assert_eq!(q.window, Some(Window::DueBy(day("2026-12-06"))));
        assert!(q.terms.is_empty(), "{:?}", q.terms);

        let q = understand("what is blocking the beta?", &["ana"], today);
        assert!(q.blocking && q.person.is_none());
        assert_eq!(q.terms, ["beta"]);
        assert!(understand("anything?", &[], today).is_open_ended());
    }

    #[test]
    fn ranking_filters_then_orders_by_relevance_and_pressure() {
        let today = day("2026-12-02");
        let tasks = vec![
            task("1", "Renew the certificate", Some("ana"), Some("2026-12-04"), Priority::Medium),
            task("2", "Plan the offsite", Some("ana"), Some("2027-01-20"), Priority::Low),
            task("3", "Fix login for the beta", None, None, Priority::High),
            task("4", "Beta landing page copy", Some("cy"), None, Priority::Low),
        ];
        let ids = |q: &Question| rank(q, &tasks, &[], &[], today).iter().map(|t| t.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&understand("What does Ana have this week?", &["ana", "cy"], today)), ["1"]);
        assert_eq!(ids(&understand("what is blocking the beta?", &["ana", "cy"], today)), ["3", "4"]);
        assert_eq!(ids(&understand("anything about the offsite", &[], today)), ["2"]);
    }
}
