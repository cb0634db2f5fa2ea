//! Trackers where teams keep their work (Taiga, Jira, Zendesk): one interface, one
//! adapter per tracker. Every write runs as a queued job; a create first looks for the
//! marker it stores on the item, so a retry after a timeout or a crash links the item made
//! by the first attempt instead of making a second one.

pub mod atlassian;
pub mod confluence;
mod connected;
pub mod inbound;
pub mod jira;
pub mod taiga;
pub mod zendesk;

pub use connected::{Trackers, check, is_tracker, journaled, store_failure, tracker_for, with_secrets};

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::task::{Priority, TaskStatus};
use crate::jobs::JobError;

/// A taskbridge task as a tracker item.
#[derive(Debug, Clone)]
pub struct Item {
    pub title: String,
    pub description: String,
    pub status: TaskStatus,
    pub priority: Priority,
    pub assignee: Option<String>,
    pub due_date: Option<NaiveDate>,
    pub labels: Vec<String>,
    /// The task in taskbridge, linked from the item.
    pub link: String,
}

/// An item in a tracker.
#[derive(Debug, Clone, PartialEq)]
pub struct External {
    pub id: String,
    /// What people call it (`#42`, `PROJ-7`).
    pub reference: String,
    pub url: Option<String>,
    pub title: String,
    /// The tracker's own status name.
    pub status: String,
    pub closed: bool,
}

/// An item read for import: what a task needs.
#[derive(Debug, Clone)]
pub struct Listed {
    pub item: External,
    pub description: String,
    pub labels: Vec<String>,
    pub status: TaskStatus,
    pub due_date: Option<NaiveDate>,
    /// When the tracker last changed it (when it says).
    pub updated_at: Option<DateTime<Utc>>,
}

/// A tracker's timestamp: RFC 3339, or ISO 8601 with a `+0000` offset as Jira (and older
/// Taiga) write it.
pub fn tracker_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// One page of a tracker's items, oldest first, and where the next starts.
#[derive(Debug, Clone)]
pub struct Listing {
    pub items: Vec<Listed>,
    pub next: Option<String>,
}

/// Failures in the queue's terms: 429/503 wait for `Retry-After`, other 5xx and network
/// errors retry, 4xx fail with the tracker's message made readable.
pub type TrackerResult<T> = Result<T, JobError>;
pub type TrackerFuture<'a, T> = Pin<Box<dyn Future<Output = TrackerResult<T>> + Send + 'a>>;

pub trait Tracker: Send + Sync {
    /// Creates the item, or finds the one an earlier attempt created (by `marker`).
    fn create<'a>(&'a self, item: &'a Item, marker: &'a str) -> TrackerFuture<'a, External>;
    /// The item the marker names, if any.
    fn find<'a>(&'a self, marker: &'a str) -> TrackerFuture<'a, Option<External>>;
    fn fetch<'a>(&'a self, id: &'a str) -> TrackerFuture<'a, External>;
    fn transition<'a>(&'a self, id: &'a str, status: TaskStatus) -> TrackerFuture<'a, External>;
    /// Puts the item back in a status it had (the tracker's own name for it, as
    /// `External::status` read it): the inverse of `transition`, for undo.
    fn restore<'a>(&'a self, id: &'a str, status: &'a str) -> TrackerFuture<'a, External>;
    /// Rewrites the item's title, description, priority, assignee, due date and labels
    /// from the task (keeping `marker`).
    fn update<'a>(&'a self, id: &'a str, item: &'a Item, marker: &'a str) -> TrackerFuture<'a, External>;
    /// The fields `update` writes, as the tracker holds them: journaled before an update.
    fn fields<'a>(&'a self, id: &'a str) -> TrackerFuture<'a, serde_json::Value>;
    /// Writes back fields `fields` read: the inverse of `update`, for undo.
    fn set_fields<'a>(&'a self, id: &'a str, fields: &'a serde_json::Value) -> TrackerFuture<'a, External>;
    /// Adds `text` (holding `marker`) as a comment — a private note where the tracker has
    /// them — unless a comment with the marker is there already (an earlier attempt's);
    /// answers the comment's id.
    fn comment<'a>(&'a self, id: &'a str, text: &'a str, marker: &'a str) -> TrackerFuture<'a, String>;
    /// Takes comment `comment_id` (its text `text`) back, for undo: deleted, or where the
    /// tracker keeps every comment (Zendesk) its text redacted.
    fn uncomment<'a>(&'a self, id: &'a str, comment_id: &'a str, text: &'a str) -> TrackerFuture<'a, ()>;
    /// A page of the project's items (`cursor` from the previous page's `next`).
    fn list<'a>(&'a self, cursor: Option<&'a str>) -> TrackerFuture<'a, Listing>;
    /// A page of the project's items changed at or after `since`, oldest change first
    /// (`cursor` from the previous page's `next`): what polling mirrors.
    fn changes<'a>(&'a self, since: DateTime<Utc>, cursor: Option<&'a str>) -> TrackerFuture<'a, Listing>;
    /// The inverse of `create`, for undo.
    fn delete<'a>(&'a self, id: &'a str) -> TrackerFuture<'a, ()>;
}

/// Whether `label` is a marker: the item was made from a taskbridge task.
pub fn is_marker(label: &str) -> bool {
    label
        .strip_prefix("tb-")
        .is_some_and(|rest| rest.len() == 36 && rest.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
}

/// A tracker's refusal in the queue's terms: 429 and 5xx retry (after `Retry-After` when
/// given), other statuses fail for good with the tracker's own words (404 as gone).
pub(crate) fn failure(
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
    what: &str,
    tracker: &str,
    explained: String,
) -> JobError {
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        return crate::outbound::http_failure(status, headers, what);
    }
    let message = format!("{what}: {tracker} answered {}: {explained}", status.as_u16());
    if status == reqwest::StatusCode::NOT_FOUND { JobError::Gone(message) } else { JobError::Permanent(message) }
}

/// Sends a tracker request and reads its JSON answer (`null` for 204), or fails in the
/// queue's terms with the tracker's explanation (`explain` reads its error body).
pub(crate) async fn send_json(
    request: reqwest::RequestBuilder,
    tracker: &str,
    what: &str,
    explain: fn(&serde_json::Value) -> String,
) -> TrackerResult<serde_json::Value> {
    send_json_keeping(request, tracker, what, explain, |_, _| false).await
}

/// [`send_json`], but an answer that `keep` accepts is read as an answer whatever its
/// status (a bulk call's refusals listed per item).
pub(crate) async fn send_json_keeping(
    request: reqwest::RequestBuilder,
    tracker: &str,
    what: &str,
    explain: fn(&serde_json::Value) -> String,
    keep: impl Fn(reqwest::StatusCode, &serde_json::Value) -> bool,
) -> TrackerResult<serde_json::Value> {
    let what = format!("{tracker} {what}");
    let res = request.send().await.map_err(|e| crate::outbound::transport_failure(&what, e))?;
    let status = res.status();
    let headers = res.headers().clone();
    let answer = if status == reqwest::StatusCode::NO_CONTENT {
        serde_json::Value::Null
    } else {
        res.json().await.unwrap_or(serde_json::Value::Null)
    };
    if status.is_success() || keep(status, &answer) {
        Ok(answer)
    } else {
        Err(failure(status, &headers, &what, tracker, explain(&answer)))
    }
}

/// An undo of a create whose item is already gone is done.
pub(crate) fn deleted<T>(result: TrackerResult<T>) -> TrackerResult<()> {
    match result {
        Err(JobError::Gone(_)) => Ok(()),
        other => other.map(|_| ()),
    }
}

/// The named members of `value` (an object), the others left out; one it lacks is `null`
/// (empty), so writing the result back clears what was empty before.
pub(crate) fn pick(value: &serde_json::Value, names: &[&str]) -> serde_json::Value {
    serde_json::Value::Object(names.iter().map(|n| (n.to_string(), value[*n].clone())).collect())
}

/// The marker stored on an item created for a task (a tag, a label, a property).
pub fn marker(task_id: &str) -> String {
    format!("tb-{}", task_id.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracker_times_are_read_in_either_offset_style() {
        let expected = DateTime::parse_from_rfc3339("2026-12-02T10:15:30.250Z").map(|t| t.with_timezone(&Utc)).ok();
        assert_eq!(tracker_time("2026-12-02T10:15:30.250Z"), expected);
        assert_eq!(tracker_time("2026-12-02T11:15:30.250+0100"), expected);
        assert_eq!(tracker_time("2026-12-02T10:15:30.250+00:00"), expected);
        assert_eq!(tracker_time("yesterday"), None);
    }
}
