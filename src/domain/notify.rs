//! Telling requesters what became of their request: the changes of a task that the people
//! who asked for it (in a chat, by e-mail) care about, which of them a project tells, and
//! the job answering each requester's thread.
//!
//! Like the webhook announcements ([`super::event`]), the store writes these jobs in the
//! change's own transaction, from the task as it was before and after, so a change is told
//! once (a change that changes nothing tells nothing) and never lost to a crash after the
//! commit. The job's kind lives here because the store writes it; `channels` handles it.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::id::TaskId;
use super::job::{JobKind, NewJob};
use super::task::{Task, TaskStatus};
use super::validate::DomainError;

/// A change of a task its requesters may be told of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequesterEvent {
    /// The task became done.
    Done,
    /// The task was deleted: the work will not be done here.
    Deleted,
    /// The due date was set, moved or cleared.
    DueDate,
    /// Someone was assigned (a new assignee; unassigning tells nothing).
    Assigned,
    /// A comment marked `notify_requester` was written.
    Comment,
}

impl RequesterEvent {
    pub const ALL: [RequesterEvent; 5] = [Self::Done, Self::Deleted, Self::DueDate, Self::Assigned, Self::Comment];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Deleted => "deleted",
            Self::DueDate => "due_date",
            Self::Assigned => "assigned",
            Self::Comment => "comment",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// What a project tells unless it says otherwise: the end of the work either way, and the
/// comments a person explicitly wrote for the requester.
pub const DEFAULT_EVENTS: [RequesterEvent; 3] =
    [RequesterEvent::Done, RequesterEvent::Deleted, RequesterEvent::Comment];

/// A project's `notify_requester_on` as given: each name an event, each once (sorted).
pub fn parse_setting(names: &[String]) -> Result<Vec<RequesterEvent>, DomainError> {
    let mut events = Vec::with_capacity(names.len());
    for name in names {
        let event = RequesterEvent::parse(name.trim()).ok_or_else(|| {
            let known: Vec<&str> = RequesterEvent::ALL.iter().map(|e| e.as_str()).collect();
            DomainError::invalid("notify_requester_on", format!("unknown event {name:?} (known: {})", known.join(", ")))
        })?;
        events.push(event);
    }
    events.sort();
    events.dedup();
    Ok(events)
}

/// The setting as stored: comma-separated names.
pub fn encode(events: &[RequesterEvent]) -> String {
    events.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(",")
}

/// The stored setting read back; a name this version does not know is skipped.
pub fn decode(stored: &str) -> Vec<RequesterEvent> {
    let mut events: Vec<RequesterEvent> = stored.split(',').filter_map(|n| RequesterEvent::parse(n.trim())).collect();
    events.sort();
    events.dedup();
    events
}

/// One change of a task, as its requesters are told of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequesterNews {
    /// Names the change: a requester is told of it once, however often its job runs.
    pub change_id: String,
    pub task_id: TaskId,
    /// The task's title when it changed (a deleted task cannot be read later).
    pub title: String,
    pub events: Vec<RequesterEvent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment_id: Option<String>,
}

impl RequesterNews {
    /// What an update did that requesters care about, if anything.
    pub fn of_update(before: &Task, after: &Task) -> Option<Self> {
        let mut events = Vec::new();
        if after.status == TaskStatus::Done && before.status != TaskStatus::Done {
            events.push(RequesterEvent::Done);
        }
        if after.due_date != before.due_date {
            events.push(RequesterEvent::DueDate);
        }
        if after.assigned_to.is_some() && after.assigned_to != before.assigned_to {
            events.push(RequesterEvent::Assigned);
        }
        (!events.is_empty()).then(|| RequesterNews {
            change_id: super::new_id(),
            task_id: after.id.clone(),
            title: after.title.clone(),
            events,
            due_date: after.due_date,
            assigned_to: after.assigned_to.clone(),
            comment_id: None,
        })
    }

    /// The task was deleted.
    pub fn of_deletion(task: &Task) -> Self {
        RequesterNews {
            // A task is deleted once.
            change_id: format!("deleted-{}", task.id),
            task_id: task.id.clone(),
            title: task.title.clone(),
            events: vec![RequesterEvent::Deleted],
            due_date: None,
            assigned_to: None,
            comment_id: None,
        }
    }

    /// Comment `comment_id` was written for the requesters of task `task_id`, titled `title`.
    pub fn of_comment(task_id: &TaskId, title: &str, comment_id: &str) -> Self {
        RequesterNews {
            change_id: format!("comment-{comment_id}"),
            task_id: task_id.clone(),
            title: title.to_string(),
            events: vec![RequesterEvent::Comment],
            due_date: None,
            assigned_to: None,
            comment_id: Some(comment_id.to_string()),
        }
    }

    /// Only the events a project with setting `wanted` tells; `None` when none is left.
    pub fn told(mut self, wanted: &[RequesterEvent]) -> Option<Self> {
        self.events.retain(|e| wanted.contains(e));
        (!self.events.is_empty()).then_some(self)
    }

    /// The jobs telling the requesters who asked in messages `message_ids`, one each.
    pub fn jobs(&self, message_ids: &[String]) -> Vec<NewJob> {
        message_ids.iter().map(|m| NotifyRequester { message_id: m.clone(), news: self.clone() }.job()).collect()
    }
}

/// The `requester.notify` job: tells the requester of message `message_id`, in its thread,
/// of one change of the task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotifyRequester {
    pub message_id: String,
    #[serde(flatten)]
    pub news: RequesterNews,
}

impl JobKind for NotifyRequester {
    const KIND: &'static str = "requester.notify";

    fn idempotency_key(&self) -> String {
        format!("notify:{}:{}", self.news.change_id, self.message_id)
    }
}

/// At most this many requesters of one task are told of a change (a task that absorbed
/// more duplicates than this tells the earliest).
pub const REQUESTERS_MAX: i64 = 100;

#[cfg(test)]
mod tests {
    use super::*;

    fn task(status: TaskStatus, assigned_to: Option<&str>, due: Option<&str>) -> Task {
        let due_date = due.map(|d| d.parse().expect("date"));
        Task { due_date, ..crate::domain::task::fixture(status, assigned_to, chrono::Utc::now()) }
    }

    #[test]
    fn an_update_tells_done_a_moved_due_date_and_a_new_assignee() {
        let before = task(TaskStatus::Todo, None, Some("2026-12-01"));
        let after = task(TaskStatus::Done, Some("ana"), Some("2026-12-04"));
        let news = RequesterNews::of_update(&before, &after).expect("news");
        assert_eq!(news.events, [RequesterEvent::Done, RequesterEvent::DueDate, RequesterEvent::Assigned]);
        assert_eq!((news.due_date, news.assigned_to.as_deref()), (after.due_date, Some("ana")));
    }

    #[test]
    fn an_update_that_changes_nothing_told_tells_nothing() {
        let done = task(TaskStatus::Done, Some("ana"), None);
        assert_eq!(RequesterNews::of_update(&done, &done), None, "done again");
        let unassigned = task(TaskStatus::Done, None, None);
        assert_eq!(RequesterNews::of_update(&done, &unassigned), None, "unassigning");
        let reopened = task(TaskStatus::InProgress, Some("ana"), None);
        assert_eq!(RequesterNews::of_update(&done, &reopened), None, "reopening");
    }

    #[test]
    fn a_project_tells_the_events_it_names() {
        let before = task(TaskStatus::Todo, None, None);
        let after = task(TaskStatus::Done, Some("ana"), None);
        let news = RequesterNews::of_update(&before, &after).expect("news");
        assert_eq!(news.clone().told(&DEFAULT_EVENTS).expect("done").events, [RequesterEvent::Done]);
        assert_eq!(news.told(&[RequesterEvent::DueDate]), None);
    }

    #[test]
    fn the_setting_names_known_events_once() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let parsed = parse_setting(&names(&["deleted", "done", "done"])).expect("valid");
        assert_eq!(parsed, [RequesterEvent::Done, RequesterEvent::Deleted]);
        assert_eq!(decode(&encode(&parsed)), parsed);
        let err = parse_setting(&names(&["done", "exploded"])).expect_err("unknown");
        assert!(err.to_string().contains("exploded"), "{err}");
        assert_eq!(parse_setting(&[]).expect("none"), []);
        assert_eq!(decode(""), []);
    }

    #[test]
    fn each_requester_is_told_each_change_once() {
        let news = RequesterNews::of_deletion(&task(TaskStatus::Todo, None, None));
        let jobs = news.jobs(&["m1".into(), "m2".into()]);
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].kind, "requester.notify");
        assert_eq!(jobs[0].idempotency_key, "notify:deleted-t:m1");
        let back: NotifyRequester = serde_json::from_value(jobs[1].payload.clone()).expect("parses back");
        assert_eq!((back.message_id.as_str(), back.news), ("m2", news));
    }
}
