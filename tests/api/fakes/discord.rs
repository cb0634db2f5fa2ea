//! Discord: a fake of the interaction webhook that edits the original response (how a
//! deferred command is answered) and of a bot's message to a channel, recording each.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

/// The calls received, in order: an edit as (the application id, the interaction token, the
/// body); a channel message as (`channels/{id}`, the Authorization header, the body).
pub type Seen = Arc<Mutex<Vec<(String, String, Value)>>>;

/// Discord's webhook endpoint for editing an interaction's original response.
pub async fn fake_discord() -> (String, Seen) {
    let seen: Seen = Arc::default();
    async fn edit(
        State(seen): State<Seen>,
        Path((app, token)): Path<(String, String)>,
        Json(body): Json<Value>,
    ) -> Json<Value> {
        seen.lock().expect("lock").push((app, token, body));
        Json(json!({"id": "1", "content": "ok"}))
    }
    /// A bot's message to a channel, recorded as (`channels/{id}`, its Authorization header, the body).
    async fn post(
        State(seen): State<Seen>,
        Path(channel): Path<String>,
        headers: axum::http::HeaderMap,
        Json(body): Json<Value>,
    ) -> Json<Value> {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        seen.lock().expect("lock").push((format!("channels/{channel}"), auth, body));
        Json(json!({"id": "2", "channel_id": channel}))
    }
    let app = axum::Router::new()
        .route("/webhooks/{app}/{token}/messages/@original", axum::routing::patch(edit))
        .route("/channels/{channel}/messages", axum::routing::post(post))
        .with_state(seen.clone());
    (crate::helpers::serve(app).await, seen)
}
