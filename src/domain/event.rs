//! The task events outgoing webhooks carry, and their announcement.
//!
//! Every change of a task (created, updated, deleted, commented) is announced by the store
//! in the change's own transaction, carrying the row as that transaction left it, whenever
//! the project has an active outgoing webhook: an outbox, so an event is never lost to a
//! crash after the commit and always says what happened then. The announcement's job kind
//! lives here, beside the events, because the store writes it; `events` handles it, fanning
//! it out to the webhooks that take the event, and delivers each.

use serde_json::{Value, json};

use super::comment::Comment;
use super::id::ProjectId;
use super::job::{JobKind, NewJob};
use super::task::Task;

/// Every event a webhook can subscribe to.
pub const EVENTS: [&str; 5] =
    ["task.created", "task.updated", "task.status_changed", "task.deleted", "comment.created"];

/// Whether a webhook whose `events` setting is `setting` (comma-separated; all when unset)
/// takes `event`.
pub fn subscribed(setting: Option<&str>, event: &str) -> bool {
    match setting.map(str::trim).filter(|s| !s.is_empty()) {
        None => true,
        Some(list) => list.split(',').map(str::trim).any(|e| e == event),
    }
}

/// The names in an `events` setting that are not events.
pub fn unknown(setting: &str) -> Vec<String> {
    setting.split(',').map(str::trim).filter(|e| !e.is_empty() && !EVENTS.contains(e)).map(str::to_string).collect()
}

/// The `webhook.announce` job: one event of a project, to fan out to its webhooks.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Announcement {
    pub event: String,
    pub event_id: String,
    pub occurred_at: String,
    pub project_id: ProjectId,
    pub data: Value,
}

impl JobKind for Announcement {
    const KIND: &'static str = "webhook.announce";

    fn idempotency_key(&self) -> String {
        format!("announce:{}", self.event_id)
    }
}

fn announce(event: &'static str, project_id: &ProjectId, data: Value) -> NewJob {
    Announcement {
        event: event.to_string(),
        event_id: super::new_id(),
        occurred_at: chrono::Utc::now().to_rfc3339(),
        project_id: project_id.into(),
        data,
    }
    .job()
}

fn task_data(task: &Task) -> Value {
    serde_json::to_value(task).unwrap_or_default()
}

/// `task.created`.
pub fn task_created(task: &Task) -> Vec<NewJob> {
    vec![announce("task.created", &task.project_id, task_data(task))]
}

/// `task.updated`, and `task.status_changed` when the change set the status.
pub fn task_updated(task: &Task, status_set: bool) -> Vec<NewJob> {
    let mut jobs = vec![announce("task.updated", &task.project_id, task_data(task))];
    if status_set {
        jobs.push(announce("task.status_changed", &task.project_id, task_data(task)));
    }
    jobs
}

/// `task.deleted`, carrying the task as it last was.
pub fn task_deleted(task: &Task) -> Vec<NewJob> {
    vec![announce("task.deleted", &task.project_id, task_data(task))]
}

/// `comment.created` for a comment in `project_id`.
pub fn comment_created(project_id: &ProjectId, comment: &Comment) -> Vec<NewJob> {
    vec![announce("comment.created", project_id, json!({"task_id": comment.task_id, "comment": comment}))]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_name_events_or_take_all() {
        assert!(subscribed(None, "task.created"));
        assert!(subscribed(Some(" "), "task.deleted"));
        assert!(subscribed(Some("task.created, comment.created"), "comment.created"));
        assert!(!subscribed(Some("task.created"), "task.updated"));
        assert_eq!(unknown("task.created,task.exploded"), ["task.exploded"]);
    }
}
