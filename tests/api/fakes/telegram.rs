//! Telegram: a fake of the Bot API's `sendMessage` that records what it is sent, and
//! updates delivered to taskbridge's webhook as Telegram delivers them.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode as AxumStatus;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// The webhook secret token the tests configure and Telegram sends back.
pub const SECRET: &str = "tb_webhook-secret_123";

/// The messages sent, in order: (the path's `bot<token>`, the request body).
pub type Seen = Arc<Mutex<Vec<(String, Value)>>>;

/// A Bot API that answers every chat.
pub async fn fake_telegram() -> (String, Seen) {
    serve(None, Slow::default()).await
}

/// How many `sendMessage` calls a slow Bot API was answering at once: now, and at most.
#[derive(Clone, Default)]
pub struct Slow {
    pub delay: std::time::Duration,
    pub at_once: Arc<Mutex<(usize, usize)>>,
}

/// A Bot API that answers every chat after `delay`, counting the calls in flight.
pub async fn slow_telegram(delay: std::time::Duration) -> (String, Seen, Slow) {
    let slow = Slow { delay, at_once: Arc::default() };
    let (url, seen) = serve(None, slow.clone()).await;
    (url, seen, slow)
}

/// A Bot API that knows only `chats`: a message to any other gets Telegram's "chat not
/// found" (400). Every message is recorded, answered or not.
pub async fn fake_telegram_knowing(chats: &[i64]) -> (String, Seen) {
    serve(Some(chats.to_vec()), Slow::default()).await
}

#[derive(Clone)]
struct Fake {
    known: Option<Arc<Vec<i64>>>,
    seen: Seen,
    slow: Slow,
}

async fn serve(known: Option<Vec<i64>>, slow: Slow) -> (String, Seen) {
    let fake = Fake { known: known.map(Arc::new), seen: Seen::default(), slow };
    async fn send(
        State(fake): State<Fake>,
        Path(bot): Path<String>,
        Json(body): Json<Value>,
    ) -> (AxumStatus, Json<Value>) {
        if !fake.slow.delay.is_zero() {
            {
                let mut at_once = fake.slow.at_once.lock().expect("lock");
                at_once.0 += 1;
                at_once.1 = at_once.1.max(at_once.0);
            }
            tokio::time::sleep(fake.slow.delay).await;
            fake.slow.at_once.lock().expect("lock").0 -= 1;
        }
        let known = fake.known.as_ref().is_none_or(|chats| chats.iter().any(|c| body["chat_id"] == json!(c)));
        fake.seen.lock().expect("lock").push((bot, body));
        if known {
            (AxumStatus::OK, Json(json!({"ok": true, "result": {"message_id": 43}})))
        } else {
            let error = json!({"ok": false, "error_code": 400, "description": "Bad Request: chat not found"});
            (AxumStatus::BAD_REQUEST, Json(error))
        }
    }
    // Files: `getFile` names a path, the path serves `OggS-<file_id>` (a file id `gone` is
    // Telegram's "invalid file_id").
    async fn get_file(Json(body): Json<Value>) -> (AxumStatus, Json<Value>) {
        match body["file_id"].as_str() {
            Some(id) if id != "gone" => (
                AxumStatus::OK,
                Json(json!({"ok": true, "result": {"file_id": id, "file_path": format!("voice/{id}.oga")}})),
            ),
            _ => {
                let error = json!({"ok": false, "error_code": 400, "description": "Bad Request: invalid file_id"});
                (AxumStatus::BAD_REQUEST, Json(error))
            }
        }
    }
    async fn download(Path((_bot, path)): Path<(String, String)>) -> Vec<u8> {
        let id = path.trim_start_matches("voice/").trim_end_matches(".oga");
        format!("OggS-{id}").into_bytes()
    }
    let seen = fake.seen.clone();
    let app = axum::Router::new()
        .route("/{bot}/sendMessage", axum::routing::post(send))
        .route("/{bot}/getFile", axum::routing::post(get_file))
        .route("/file/{bot}/{*path}", axum::routing::get(download))
        .with_state(fake);
    (crate::helpers::serve(app).await, seen)
}

/// An update as Telegram sends it: `text` from Ana in the "Ops team" supergroup, in the
/// thread 7, as message 42.
pub fn update(id: i64, text: &str) -> Value {
    json!({"update_id": id, "message": {"message_id": 42, "date": 1767225600,
        "from": {"id": 123456789, "is_bot": false, "first_name": "Ana", "username": "anap"},
        "chat": {"id": -1001234567890i64, "type": "supergroup", "title": "Ops team"},
        "text": text, "message_thread_id": 7}})
}

/// A voice note as Telegram sends it, from Ana in the "Ops team" supergroup, with `caption`.
pub fn voice_update(id: i64, file_id: &str, caption: Option<&str>) -> Value {
    let mut update = update(id, "");
    let message = &mut update["message"];
    message.as_object_mut().map(|m| m.remove("text"));
    message["voice"] = json!({"file_id": file_id, "file_unique_id": "u1", "duration": 4, "mime_type": "audio/ogg"});
    if let Some(caption) = caption {
        message["caption"] = json!(caption);
    }
    update
}

/// Delivers `body` to the webhook of `integration`, with `secret` as Telegram's secret
/// token header (none when `None`); the status and the JSON answered (`null` if none).
pub async fn deliver(app: &TestApp, integration: &str, body: &Value, secret: Option<&str>) -> (StatusCode, Value) {
    let mut req = app.raw().post(format!("{}/webhooks/telegram/{integration}", app.base)).json(body);
    if let Some(secret) = secret {
        req = req.header("X-Telegram-Bot-Api-Secret-Token", secret);
    }
    let res = req.send().await.expect("sent");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}
