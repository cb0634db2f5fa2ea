//! Discord: a fake of the interaction webhook that edits the original response (how a
//! deferred command is answered), recording every edit.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

/// The edits received, in order: (the application id, the interaction token, the body).
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
    let app = axum::Router::new()
        .route("/webhooks/{app}/{token}/messages/@original", axum::routing::patch(edit))
        .with_state(seen.clone());
    (crate::helpers::serve(app).await, seen)
}
