//! Sending into conversations and the history both ways: messages sent on request through
//! the project's integration (recorded, queued, sent by a job), answers to requests, and
//! requests received, newest first, page by page.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fakes::telegram::{Seen, fake_telegram_knowing};
use crate::helpers::{Backend, TestApp, spawn_app_with};

/// The chat the fake Bot API knows: others get Telegram's "chat not found".
const CHAT: i64 = -1001234567890;

/// The bodies of the messages Telegram was sent, in order.
fn sent_bodies(seen: &Seen) -> Vec<Value> {
    seen.lock().expect("lock").iter().map(|(_, body)| body.clone()).collect()
}

async fn history_until(app: &TestApp, query: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut body = Value::Null;
    for _ in 0..200 {
        body = app.get(&format!("/integrations/history{query}")).await.body;
        if done(&body) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    body
}

async fn history(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let (fake, seen) = fake_telegram_knowing(&[CHAT]).await;
    let project = app.project("ops").await;
    let integration = app
        .post(
            &format!("/api/v1/projects/{project}/integrations"),
            json!({"type": "telegram", "settings": {"api_base_url": fake},
                   "secrets": {"secret_token": "tg-secret-0123456789", "bot_token": "123:ABC"}}),
        )
        .await
        .id();

    // The replaced backend's alias, with its field names: recorded and queued at once.
    let sent = app
        .post(
            "/integrations/telegram/send",
            json!({"chat_id": -1001234567890i64, "message": "Deploy at 17:00", "project_id": project}),
        )
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);
    assert_eq!(sent.body["status"], "queued");
    assert_eq!(sent.body["platform"], "telegram");
    assert_eq!(sent.body["recipient"], "-1001234567890");

    // Refusals: clear errors, nothing recorded.
    let res = app.post("/integrations/telegram/send", json!({"chat_id": -100, "project_id": project})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    let res = app
        .post("/integrations/telegram/send", json!({"chat_id": "not a chat", "text": "x", "project_id": project}))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    let res = app
        .post("/integrations/email/send", json!({"to": "ana@example.org", "text": "x", "project_id": project}))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);

    // The canonical route; an unknown chat fails for good with Telegram's reason.
    let res = app
        .post(
            &format!("/api/v1/projects/{project}/integrations/{integration}/send"),
            json!({"to": "-42", "text": "Hello?"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);

    // A request comes in and is answered.
    let update = json!({"update_id": 5001, "message": {"message_id": 42, "date": 1767225600,
        "from": {"id": 7, "is_bot": false, "first_name": "Ana", "username": "anap"},
        "chat": {"id": -1001234567890i64, "type": "supergroup", "title": "Ops team"},
        "text": "/task Rotate the staging database password"}});
    let res = app
        .raw()
        .post(format!("{}/webhooks/telegram/{integration}", app.base))
        .header("X-Telegram-Bot-Api-Secret-Token", "tg-secret-0123456789")
        .json(&update)
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), StatusCode::OK);

    let settled = |b: &Value| {
        b["items"].as_array().is_some_and(|items| {
            items.len() == 4
                && items.iter().all(|i| !matches!(i["status"].as_str(), Some("queued" | "processing" | "sending")))
        })
    };
    let all = history_until(&app, "", settled).await;
    let items = all["items"].as_array().expect("items");
    assert_eq!(items.len(), 4, "{all}");
    // Newest first: the answer, the request, the failed send, the first send.
    let summary: Vec<(String, String)> = items
        .iter()
        .map(|i| (i["direction"].as_str().unwrap_or_default().into(), i["status"].as_str().unwrap_or_default().into()))
        .collect();
    assert_eq!(
        summary,
        [
            ("out".into(), "sent".into()),
            ("in".into(), "created".into()),
            ("out".into(), "failed".into()),
            ("out".into(), "sent".into())
        ],
        "{all}"
    );
    assert_eq!(items[0]["message_id"], items[1]["id"], "the answer names its request");
    assert!(items[0]["text"].as_str().unwrap_or_default().starts_with("Created task"));
    assert_eq!(items[1]["counterpart"], "anap");
    assert_eq!(items[2]["error"], "Telegram sendMessage: Bad Request: chat not found");
    assert_eq!(items[3]["text"], "Deploy at 17:00");
    let created: Vec<&str> = items.iter().filter_map(|i| i["created_at"].as_str()).collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "{created:?}");

    // What Telegram received: the send stands alone, the answer replies to the request.
    let bodies = sent_bodies(&seen);
    let first = bodies.iter().find(|b| b["text"] == "Deploy at 17:00").expect("the send");
    assert!(first.get("reply_parameters").is_none(), "{first}");
    let answer = bodies.iter().find(|b| b["text"].as_str().unwrap_or_default().starts_with("Created")).expect("answer");
    assert_eq!(answer["reply_parameters"]["message_id"], 42);

    // Page by page (two at a time): every item once, in the same order.
    let mut seen_ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("?limit=2&cursor={c}"),
            None => "?limit=2".into(),
        };
        let page = app.get(&format!("/integrations/history{query}")).await.body;
        for item in page["items"].as_array().expect("items") {
            seen_ids.push(item["id"].as_str().expect("id").to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let expected: Vec<String> = items.iter().map(|i| i["id"].as_str().expect("id").to_string()).collect();
    assert_eq!(seen_ids, expected);
    assert_eq!(seen_ids.iter().collect::<HashSet<_>>().len(), 4);

    // Filtered by platform; the canonical route answers the same.
    let api_only = app.get("/api/v1/history?platform=api").await.body;
    assert_eq!(api_only["items"], json!([]));
    let canonical = app.get("/api/v1/history").await.body;
    assert_eq!(canonical["items"], all["items"]);
    let res = app.get("/api/v1/history?limit=0").await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);

    // Another tenant sees none of it.
    let other = app.post("/api/v1/tenants", json!({"name": "other"})).await;
    let other_key = other.body["api_key"].as_str().expect("api_key").to_string();
    let res = app.request(reqwest::Method::GET, "/integrations/history", Some(&other_key), None).await;
    assert_eq!(res.body["items"], json!([]), "{}", res.body);
    let send = json!({"to": "-1001234567890", "text": "spoofed", "project_id": project});
    let res =
        app.request(reqwest::Method::POST, "/integrations/telegram/send", Some(&other_key), Some(send.clone())).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
    let path = format!("/api/v1/projects/{project}/integrations/{integration}/send");
    let res = app.request(reqwest::Method::POST, &path, Some(&other_key), Some(send)).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
    assert!(sent_bodies(&seen).iter().all(|b| b["text"] != "spoofed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_sqlite() {
    history(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_postgres() {
    history(Backend::Postgres).await;
}

/// A worker that handed a message to the platform and died before recording it leaves the
/// delivery `sending`: the next run does not send it again (the platform may have it) and
/// records why.
async fn a_send_interrupted_midway_is_not_repeated(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.workers = 0;
    })
    .await
    else {
        return;
    };
    let (fake, seen) = fake_telegram_knowing(&[CHAT]).await;
    let project = app.project("ops").await;
    let created = app
        .post(
            &format!("/api/v1/projects/{project}/integrations"),
            json!({"type": "telegram", "settings": {"api_base_url": fake},
                   "secrets": {"secret_token": "tg-secret-0123456789", "bot_token": "123:ABC"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let sent = app
        .post(
            "/integrations/telegram/send",
            json!({"chat_id": -1001234567890i64, "text": "Deploy at 17:00", "project_id": project}),
        )
        .await;
    assert_eq!(sent.body["status"], "queued", "{}", sent.body);
    let delivery = sent.body["id"].as_str().expect("id").to_string();
    let url = app.database_url.clone();
    let db = app.stop().await;

    // The dead worker's claim, as it left it.
    let store =
        taskbridge::store::Store::connect(&url, &taskbridge::store::StoreOptions::default()).await.expect("store");
    let tenant = &taskbridge::domain::tenant::default_tenant();
    assert!(store.claim_delivery(tenant, &delivery).await.expect("claim"));
    assert!(!store.claim_delivery(tenant, &delivery).await.expect("claim"), "a delivery is claimed once");
    store.close().await;

    let mut config = taskbridge::config::Config::for_tests(&url, crate::helpers::ADMIN_KEY);
    config.allow_private_urls = true;
    let again = crate::helpers::spawn_configured(db, config, backend).await;
    let history = history_until(&again, "", |b| b["items"][0]["status"] == "failed").await;
    assert_eq!(history["items"][0]["status"], "failed", "{history}");
    assert!(
        history["items"][0]["error"].as_str().unwrap_or_default().contains("interrupted while sending"),
        "{history}"
    );
    assert!(seen.lock().expect("lock").is_empty(), "not sent a second time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_interrupted_midway_is_not_repeated_sqlite() {
    a_send_interrupted_midway_is_not_repeated(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_interrupted_midway_is_not_repeated_postgres() {
    a_send_interrupted_midway_is_not_repeated(Backend::Postgres).await;
}
