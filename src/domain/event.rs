//! The task events outgoing webhooks carry.

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
