//! Changes made in a tracker, told by its webhooks: verified as the tracker signs them and
//! read into the status (and, from Jira, the assignee) of the linked task.

use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha1::Sha1;

use crate::domain::integration::IntegrationType;
use crate::domain::task::TaskStatus;
use crate::domain::webhook::WebhookError;

/// A tracker's webhook, verified and read; `Ok(None)` when it tells of nothing to mirror.
/// `Err(Unauthorized)` when it is not signed by the tracker, `None` for trackers without
/// webhooks here.
pub fn read(
    kind: IntegrationType,
    headers: &axum::http::HeaderMap,
    body: &[u8],
    secrets: &Map<String, Value>,
) -> Option<Result<Option<StatusChange>, WebhookError>> {
    let verified = match kind {
        IntegrationType::Taiga => verify_taiga(headers, body, secrets),
        IntegrationType::Jira => verify_jira(headers, body, secrets),
        _ => return None,
    };
    Some(verified.and_then(|()| if kind == IntegrationType::Taiga { parse_taiga(body) } else { parse_jira(body) }))
}

/// What changed on a tracker item.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusChange {
    pub external_id: String,
    pub status: TaskStatus,
    /// The new assignee (`Some(None)`: unassigned), when the tracker says.
    pub assignee: Option<Option<String>>,
}

/// Jira admin webhooks sign with `X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`.
pub fn verify_jira(
    headers: &axum::http::HeaderMap,
    body: &[u8],
    secrets: &Map<String, Value>,
) -> Result<(), WebhookError> {
    use sha2::Sha256;
    use subtle::ConstantTimeEq;
    let secret = secrets
        .get("webhook_secret")
        .and_then(Value::as_str)
        .ok_or(WebhookError::Unauthorized("the integration has no webhook_secret"))?;
    let given = headers
        .get("x-hub-signature")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("sha256="))
        .ok_or(WebhookError::Unauthorized("missing signature"))?;
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return Err(WebhookError::Unauthorized("unusable webhook_secret"));
    };
    mac.update(body);
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    if bool::from(expected.as_bytes().ct_eq(given.to_ascii_lowercase().as_bytes())) {
        Ok(())
    } else {
        Err(WebhookError::Unauthorized("signature mismatch"))
    }
}

/// `jira:issue_updated` (and `_created`): the issue's status category and assignee.
pub fn parse_jira(body: &[u8]) -> Result<Option<StatusChange>, WebhookError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(format!("not JSON: {e}")))?;
    if !matches!(v["webhookEvent"].as_str(), Some("jira:issue_updated" | "jira:issue_created")) {
        return Ok(None);
    }
    let issue = &v["issue"];
    let Some(key) = issue["key"].as_str() else {
        return Err(WebhookError::Malformed("the event names no issue".into()));
    };
    let fields = &issue["fields"];
    let status = match fields["status"]["statusCategory"]["key"].as_str() {
        Some("done") => TaskStatus::Done,
        Some("indeterminate") => TaskStatus::InProgress,
        Some(_) => TaskStatus::Todo,
        None => return Ok(None),
    };
    let assignee = match &fields["assignee"] {
        Value::Null => Some(None),
        a => a["displayName"].as_str().or(a["emailAddress"].as_str()).map(|n| Some(n.to_string())),
    };
    Ok(Some(StatusChange { external_id: key.to_string(), status, assignee }))
}

/// Taiga signs with `X-TAIGA-WEBHOOK-SIGNATURE: hex(HMAC-SHA1(key, raw body))`.
pub fn verify_taiga(
    headers: &axum::http::HeaderMap,
    body: &[u8],
    secrets: &Map<String, Value>,
) -> Result<(), WebhookError> {
    use subtle::ConstantTimeEq;
    let key = secrets
        .get("webhook_key")
        .and_then(Value::as_str)
        .ok_or(WebhookError::Unauthorized("the integration has no webhook_key"))?;
    let given = headers
        .get("x-taiga-webhook-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or(WebhookError::Unauthorized("missing signature"))?;
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key.as_bytes()) else {
        return Err(WebhookError::Unauthorized("unusable webhook_key"));
    };
    mac.update(body);
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    if bool::from(expected.as_bytes().ct_eq(given.trim().to_ascii_lowercase().as_bytes())) {
        Ok(())
    } else {
        Err(WebhookError::Unauthorized("signature mismatch"))
    }
}

/// The status a Taiga status means here: closed is done, the first ones are to do, the
/// rest is work in progress.
pub fn taiga_status(status: &Value) -> TaskStatus {
    let slug = status["slug"].as_str().unwrap_or_default();
    if status["is_closed"].as_bool() == Some(true) {
        TaskStatus::Done
    } else if ["new", "todo", "to-do", "backlog", "ready"].contains(&slug) {
        TaskStatus::Todo
    } else {
        TaskStatus::InProgress
    }
}

/// A task or user story whose status is now as given; `None` for anything else (test
/// pings, other objects, other changes).
pub fn parse_taiga(body: &[u8]) -> Result<Option<StatusChange>, WebhookError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(format!("not JSON: {e}")))?;
    let kind = v["type"].as_str().unwrap_or_default();
    if !matches!(v["action"].as_str(), Some("change" | "create")) || !matches!(kind, "task" | "userstory") {
        return Ok(None);
    }
    let data = &v["data"];
    let Some(id) = data["id"].as_i64() else {
        return Err(WebhookError::Malformed("the change names no item".into()));
    };
    if !data["status"].is_object() {
        return Ok(None);
    }
    Ok(Some(StatusChange { external_id: id.to_string(), status: taiga_status(&data["status"]), assignee: None }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_read_as_taskbridge_statuses() {
        assert_eq!(taiga_status(&json!({"slug": "closed", "is_closed": true})), TaskStatus::Done);
        assert_eq!(taiga_status(&json!({"slug": "new", "is_closed": false})), TaskStatus::Todo);
        assert_eq!(taiga_status(&json!({"slug": "ready-for-test", "is_closed": false})), TaskStatus::InProgress);
    }

    #[test]
    fn jira_issue_updates_carry_status_and_assignee() {
        let event = json!({"webhookEvent": "jira:issue_updated", "issue": {"key": "OPS-1", "fields": {
            "status": {"name": "In Review", "statusCategory": {"key": "indeterminate"}},
            "assignee": {"accountId": "5b10", "displayName": "Ana Pérez"}}}});
        let parsed = parse_jira(event.to_string().as_bytes()).expect("parsed").expect("a change");
        assert_eq!(parsed.status, TaskStatus::InProgress);
        assert_eq!(parsed.assignee, Some(Some("Ana Pérez".into())));
        let other = json!({"webhookEvent": "comment_created", "issue": {"key": "OPS-1"}});
        assert_eq!(parse_jira(other.to_string().as_bytes()).expect("parsed"), None);
    }

    #[test]
    fn only_item_changes_count() {
        let change = json!({"action": "change", "type": "task", "data": {"id": 100, "status": {"slug": "closed", "is_closed": true}}});
        let parsed = parse_taiga(change.to_string().as_bytes()).expect("parsed");
        assert_eq!(parsed, Some(StatusChange { external_id: "100".into(), status: TaskStatus::Done, assignee: None }));
        let ping = json!({"action": "test", "type": "test", "data": {"test": "test"}});
        assert_eq!(parse_taiga(ping.to_string().as_bytes()).expect("parsed"), None);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse_taiga(&body);
            let _ = parse_jira(&body);
        }
    }
}
