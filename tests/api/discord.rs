//! Discord end to end: interactions signed with Ed25519 as Discord signs them, PING/PONG,
//! the deferred `/task` command answered by editing the original response on a local fake.

use std::time::Duration;

use ed25519_dalek::{Signer, SigningKey};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fakes::discord::fake_discord;
use crate::helpers::{Backend, TestApp, spawn_app_with};

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sends `body` signed with `key` as Discord signs it (`tamper`: changed after signing).
pub async fn deliver(
    app: &TestApp,
    integration: &str,
    key: &SigningKey,
    body: &Value,
    tamper: bool,
) -> (StatusCode, Value) {
    let raw = body.to_string();
    let ts = chrono::Utc::now().timestamp().to_string();
    let signature = key.sign(format!("{ts}{raw}").as_bytes());
    let sent = if tamper { raw.replace("task", "tusk") } else { raw };
    let res = app
        .raw()
        .post(format!("{}/webhooks/discord/{integration}", app.base))
        .header("content-type", "application/json")
        .header("X-Signature-Ed25519", hex(&signature.to_bytes()))
        .header("X-Signature-Timestamp", ts)
        .body(sent)
        .send()
        .await
        .expect("sent");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn command(id: &str, text: &str) -> Value {
    json!({"id": id, "application_id": "1234567890123456789", "type": 2, "token": "tok-15-min", "version": 1,
           "guild_id": "1100000000000000004", "channel_id": "1200000000000000002",
           "data": {"id": "1250000000000000003", "name": "task", "type": 1,
                    "options": [{"name": "title", "type": 3, "value": text}]},
           "member": {"user": {"id": "1000000000000000006", "username": "ana"}}})
}

async fn discord(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let (fake, seen) = fake_discord().await;
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let project = app.project("discord").await;
    let integration = app
        .post(
            &format!("/api/v1/projects/{project}/integrations"),
            json!({"type": "discord", "settings": {"api_base_url": fake},
                   "secrets": {"public_key": hex(key.verifying_key().as_bytes()), "bot_token": "Bot-x"}}),
        )
        .await
        .id();

    // PING → PONG; Discord also probes with bad signatures, which must fail.
    let (status, body) = deliver(&app, &integration, &key, &json!({"type": 1}), false).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"type": 1}));
    let other = SigningKey::from_bytes(&[9u8; 32]);
    assert_eq!(deliver(&app, &integration, &other, &json!({"type": 1}), false).await.0, StatusCode::UNAUTHORIZED);
    let request = command("1300000000000000005", "Rotate the staging database credentials");
    assert_eq!(deliver(&app, &integration, &key, &request, true).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/api/v1/jobs").await.body["items"], json!([]), "nothing stored");

    // The command is deferred, then answered once; a redelivery changes nothing.
    let (status, body) = deliver(&app, &integration, &key, &request, false).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"type": 5}));
    assert_eq!(deliver(&app, &integration, &key, &request, false).await.0, StatusCode::OK);
    for _ in 0..200 {
        if !seen.lock().expect("lock").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let replies = seen.lock().expect("lock").clone();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].0, "1234567890123456789");
    assert_eq!(replies[0].1, "tok-15-min");
    assert!(
        replies[0].2["content"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Created task “Rotate the staging database credentials”")
    );
    assert_eq!(app.get("/api/v1/tasks").await.body["items"].as_array().map(Vec::len), Some(1));

    // An empty command gets its usage, privately and at once.
    let (status, body) = deliver(&app, &integration, &key, &command("1300000000000000006", " "), false).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["type"], 4);
    assert_eq!(body["data"]["flags"], 64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_interactions_sqlite() {
    discord(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_interactions_postgres() {
    discord(Backend::Postgres).await;
}
