//! Telegram end to end: updates with the webhook's secret token, a local fake of the Bot
//! API, one task and one reply per update however often it is delivered.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, spawn_app_with};

pub const SECRET: &str = "tb_webhook-secret_123";

pub type Seen = Arc<Mutex<Vec<(String, Value)>>>;

pub async fn fake_telegram() -> (String, Seen) {
    let seen: Seen = Arc::default();
    async fn send(State(seen): State<Seen>, Path(bot): Path<String>, Json(body): Json<Value>) -> Json<Value> {
        seen.lock().expect("lock").push((bot, body));
        Json(json!({"ok": true, "result": {"message_id": 43}}))
    }
    let app = axum::Router::new().route("/{bot}/sendMessage", axum::routing::post(send)).with_state(seen.clone());
    (crate::helpers::serve(app).await, seen)
}

pub fn update(id: i64, text: &str) -> Value {
    json!({"update_id": id, "message": {"message_id": 42, "date": 1767225600,
        "from": {"id": 123456789, "is_bot": false, "first_name": "Ana", "username": "anap"},
        "chat": {"id": -1001234567890i64, "type": "supergroup", "title": "Ops team"},
        "text": text, "message_thread_id": 7}})
}

pub async fn deliver(app: &TestApp, integration: &str, body: &Value, secret: Option<&str>) -> (StatusCode, Value) {
    let mut req = app.raw().post(format!("{}/webhooks/telegram/{integration}", app.base)).json(body);
    if let Some(secret) = secret {
        req = req.header("X-Telegram-Bot-Api-Secret-Token", secret);
    }
    let res = req.send().await.expect("sent");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn telegram(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let (fake, seen) = fake_telegram().await;
    let project = app.project("telegram").await;
    let integration = app
        .post(
            &format!("/api/v1/projects/{project}/integrations"),
            json!({"type": "telegram", "settings": {"api_base_url": fake},
                   "secrets": {"secret_token": SECRET, "bot_token": "123:ABC"}}),
        )
        .await
        .id();

    let request = update(727000001, "/task@TaskBridgeBot Fix the login page before Friday");
    // Refused without the right secret token; nothing stored.
    assert_eq!(deliver(&app, &integration, &request, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(deliver(&app, &integration, &request, Some("wrong")).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/api/v1/jobs").await.body["items"], json!([]));

    // Delivered three times (Telegram retries on errors): one task, one reply.
    for _ in 0..3 {
        assert_eq!(deliver(&app, &integration, &request, Some(SECRET)).await.0, StatusCode::OK);
    }
    for _ in 0..200 {
        if !seen.lock().expect("lock").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let replies = seen.lock().expect("lock").clone();
    assert_eq!(replies.len(), 1, "{replies:?}");
    let (bot, body) = &replies[0];
    assert_eq!(bot, "bot123:ABC");
    assert_eq!(body["chat_id"], -1001234567890i64);
    assert_eq!(body["reply_parameters"]["message_id"], 42);
    assert_eq!(body["message_thread_id"], 7);
    assert!(body["text"].as_str().unwrap_or_default().starts_with("Created task “Fix the login page”"), "{body}");
    let tasks = app.get("/api/v1/tasks").await.body;
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(1));
    assert!(
        tasks["items"][0]["description"]
            .as_str()
            .unwrap_or_default()
            .contains("Requested by anap in Ops team via telegram")
    );

    // Chatter is not a request in `commands` mode; an empty command gets its usage at once.
    assert_eq!(deliver(&app, &integration, &update(727000002, "good morning"), Some(SECRET)).await.0, StatusCode::OK);
    let (status, body) = deliver(&app, &integration, &update(727000003, "/task"), Some(SECRET)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["method"], "sendMessage");
    assert_eq!(app.get("/api/v1/tasks").await.body["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_webhooks_sqlite() {
    telegram(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_webhooks_postgres() {
    telegram(Backend::Postgres).await;
}
