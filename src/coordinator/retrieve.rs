//! Finding the tasks a question (read by `question`) is about: whose they are, when they
//! are due, what blocks them, and the words they share with the question through their
//! own text, their project and their comments. Deterministic, so a builtin answer is the
//! same for the same data.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, Utc};

use super::question::{Change, Intent, Question, Window};
use crate::dedup::text::word_terms;
use crate::domain::comment::Comment;
use crate::domain::project::Project;
use crate::domain::task::{Priority, Task, TaskStatus};

/// The most tasks one answer lists and cites.
pub const MAX_HITS: usize = 25;

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

/// Whether `a` and `b` name the same person: case and a leading `@` aside.
pub fn same_person(a: &str, b: &str) -> bool {
    a.trim_start_matches('@').to_lowercase() == b.trim_start_matches('@').to_lowercase()
}

/// What a question is matched against: project names by id, and comments by task.
struct Context<'a> {
    project_names: HashMap<&'a str, &'a str>,
    said: HashMap<&'a str, String>,
}

impl<'a> Context<'a> {
    fn new(projects: &'a [Project], comments: &'a [Comment]) -> Self {
        let project_names = projects.iter().map(|p| (p.id.as_str(), p.name.as_str())).collect();
        let mut said: HashMap<&str, String> = HashMap::new();
        for c in comments {
            let text = said.entry(c.task_id.as_str()).or_default();
            text.push(' ');
            text.push_str(&c.content);
        }
        Context { project_names, said }
    }

    fn haystack(&self, t: &Task) -> Haystack {
        Haystack {
            title: terms_of(&t.title),
            labels: terms_of(&t.labels.join(" ")),
            project: terms_of(self.project_names.get(t.project_id.as_str()).copied().unwrap_or("")),
            body: terms_of(&format!("{} {}", t.description, self.said.get(t.id.as_str()).map_or("", |s| s))),
        }
    }
}

/// Whether `t` passes the question's filters on who has it, its priority and its status.
fn fits(q: &Question, t: &Task) -> bool {
    let whose =
        q.people.is_empty() || t.assigned_to.as_deref().is_some_and(|a| q.people.iter().any(|p| same_person(a, p)));
    whose
        && (!q.unassigned || t.assigned_to.is_none())
        && q.priority.is_none_or(|p| t.priority == p)
        && (!q.in_progress || t.status == TaskStatus::InProgress)
}

fn in_window(w: Option<Window>, t: &Task) -> bool {
    match w {
        Some(Window::DueBy(day)) => {
            t.due_date.is_some_and(|d| d <= day) || (t.due_date.is_none() && t.status == TaskStatus::InProgress)
        }
        Some(Window::Overdue(day)) => t.due_date.is_some_and(|d| d < day),
        Some(Window::DueBetween(from, to)) => t.due_date.is_some_and(|d| from <= d && d <= to),
        None => true,
    }
}

/// The open tasks of `tasks` due in the question's window (all of them without one).
pub fn due_in_window<'a>(q: &Question, tasks: &'a [Task]) -> Vec<&'a Task> {
    tasks.iter().filter(|t| t.status != TaskStatus::Done && in_window(q.window, t)).collect()
}

/// How much `t` is about the question's terms: title words count most, comments least.
fn relevance(q: &Question, hay: &Haystack) -> i64 {
    q.terms
        .iter()
        .map(|term| {
            3 * i64::from(hay.title.contains(term))
                + 2 * i64::from(hay.labels.contains(term))
                + 2 * i64::from(hay.project.contains(term))
                + i64::from(hay.body.contains(term))
        })
        .sum()
}

/// The open tasks that answer `q`, best first.
pub fn rank<'a>(
    q: &Question,
    tasks: &'a [Task],
    projects: &[Project],
    comments: &[Comment],
    today: NaiveDate,
) -> Vec<&'a Task> {
    let context = Context::new(projects, comments);
    let mut scored: Vec<(i64, &Task)> = tasks
        .iter()
        .filter(|t| t.status != TaskStatus::Done && fits(q, t) && in_window(q.window, t))
        .filter_map(|t| {
            let hay = context.haystack(t);
            let relevance = relevance(q, &hay);
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
    scored.into_iter().map(|(_, t)| t).collect()
}

/// The tasks among `changed` (open or done) that answer a question about changes since
/// `q.since`, latest change first.
pub fn changed<'a>(q: &Question, changed: &'a [Task], projects: &[Project], comments: &[Comment]) -> Vec<&'a Task> {
    let since = q.since.and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc()).unwrap_or_else(Utc::now);
    let context = Context::new(projects, comments);
    let mut out: Vec<&Task> = changed
        .iter()
        .filter(|t| t.updated_at >= since && fits(q, t))
        .filter(|t| match q.intent {
            Intent::Changes(Change::Created) => t.created_at >= since,
            Intent::Changes(Change::Completed) => t.status == TaskStatus::Done,
            _ => true,
        })
        .filter(|t| q.terms.is_empty() || relevance(q, &context.haystack(t)) > 0)
        .collect();
    out.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then_with(|| a.id.cmp(&b.id)));
    out
}

/// Which of `terms` the tasks, their projects or `comments` mention: the workspace's side
/// of telling a topic from a word it does not know.
pub fn mentioned(terms: &[String], tasks: &[&Task], projects: &[Project], comments: &[Comment]) -> HashSet<String> {
    let wanted: HashSet<&str> = terms.iter().map(String::as_str).collect();
    let mut found = HashSet::new();
    if wanted.is_empty() {
        return found;
    }
    let mut take = |text: &str| {
        for t in word_terms(text) {
            if wanted.contains(t.as_str()) {
                found.insert(t);
            }
        }
    };
    for t in tasks {
        take(&t.title);
        take(&t.labels.join(" "));
        take(&t.description);
    }
    for p in projects {
        take(&p.name);
    }
    for c in comments {
        take(&c.content);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordinator::question::understand;

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
