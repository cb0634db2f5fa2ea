//! Slack: a fake of the Web API's `chat.postMessage` and `conversations.replies`, of a
//! slash command's `response_url` and of incoming webhooks, recording every call.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};

/// The calls received, in order: (the method, or `response_url`, its headers, its body or query).
pub type Seen = Arc<Mutex<Vec<(String, HeaderMap, Value)>>>;

/// Slack's Web API (`chat.postMessage`, `conversations.replies`, which knows one threaded
/// reply and wants the bot token `xoxb-test`) and a slash command's `response_url`
/// (`/commands/T1/123/abc`), on one server.
pub async fn fake_slack() -> (String, Seen) {
    let seen: Seen = Arc::default();
    async fn post_message(State(seen): State<Seen>, headers: HeaderMap, Json(body): Json<Value>) -> Json<Value> {
        seen.lock().expect("lock").push(("chat.postMessage".into(), headers, body));
        Json(json!({"ok": true, "channel": "C1", "ts": "1503435956.000247"}))
    }
    async fn response_url(State(seen): State<Seen>, headers: HeaderMap, Json(body): Json<Value>) -> &'static str {
        seen.lock().expect("lock").push(("response_url".into(), headers, body));
        "ok"
    }
    /// Knows one message, a reply in a thread; a bot token is required.
    async fn replies(
        State(seen): State<Seen>,
        headers: HeaderMap,
        Query(query): Query<std::collections::HashMap<String, String>>,
    ) -> Json<Value> {
        let authorized = headers.get("authorization").is_some_and(|v| v == "Bearer xoxb-test");
        seen.lock().expect("lock").push(("conversations.replies".into(), headers, json!(query)));
        if !authorized {
            return Json(json!({"ok": false, "error": "not_authed"}));
        }
        if query.get("channel").map(String::as_str) != Some("C0LAN2Q65")
            || query.get("ts").map(String::as_str) != Some("1767225700.000200")
        {
            return Json(json!({"ok": false, "error": "thread_not_found"}));
        }
        // As Slack answers for a reply in a thread: the parent first, then the reply.
        Json(json!({"ok": true, "has_more": true, "messages": [
            {"type": "message", "user": "U0BOB", "text": "weekly sync notes", "ts": "1767225600.000100",
             "thread_ts": "1767225600.000100", "reply_count": 3},
            {"type": "message", "user": "U0ANA", "text": "the export to <https://x.example/csv|CSV> times out for big workspaces",
             "ts": "1767225700.000200", "thread_ts": "1767225600.000100", "parent_user_id": "U0BOB"}]}))
    }
    /// An incoming webhook answers `ok` in plain text; one whose channel was archived, 410
    /// with the error code.
    async fn incoming_webhook(
        State(seen): State<Seen>,
        axum::extract::Path(hook): axum::extract::Path<String>,
        headers: HeaderMap,
        Json(body): Json<Value>,
    ) -> (axum::http::StatusCode, &'static str) {
        seen.lock().expect("lock").push((format!("incoming_webhook/{hook}"), headers, body));
        match hook.as_str() {
            "archived" => (axum::http::StatusCode::GONE, "channel_is_archived"),
            _ => (axum::http::StatusCode::OK, "ok"),
        }
    }
    let app = axum::Router::new()
        .route("/services/T1/B1/{hook}", axum::routing::post(incoming_webhook))
        .route("/api/conversations.replies", axum::routing::get(replies))
        .route("/api/chat.postMessage", axum::routing::post(post_message))
        .route("/commands/T1/123/abc", axum::routing::post(response_url))
        .with_state(seen.clone());
    (crate::helpers::serve(app).await, seen)
}
