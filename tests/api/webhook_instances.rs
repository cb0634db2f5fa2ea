//! Two instances on one database: an integration's webhooks are looked up through a cache,
//! yet a secret rotated, an integration deleted or its project deleted through one instance
//! takes effect at once there and within moments on the other (through `NOTIFY` on
//! PostgreSQL, well before its 30 s bound; within the 1 s bound on SQLite).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use taskbridge::config::Config;

use crate::fakes::telegram::{SECRET, deliver, fake_telegram, update};
use crate::helpers::{ADMIN_KEY, Backend, TestApp, TestDb, each_backend, spawn_configured};

const ROTATED: &str = "tb_rotated-secret_456";

static UPDATE: AtomicI64 = AtomicI64::new(828000001);

/// Chatter (no request, so no work made) delivered with `secret`: the webhook's answer.
async fn chatter(app: &TestApp, integration: &str, secret: &str) -> StatusCode {
    let id = UPDATE.fetch_add(1, Ordering::Relaxed);
    deliver(app, integration, &update(id, "good morning"), Some(secret)).await.0
}

/// Waits until `app` answers `wanted` to chatter signed with `secret`, answering 200 until
/// then; fails after five seconds.
async fn until_refused(app: &TestApp, integration: &str, secret: &str, wanted: StatusCode, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let status = chatter(app, integration, secret).await;
        if status == wanted {
            return;
        }
        assert_eq!(status, StatusCode::OK, "{what}");
        assert!(Instant::now() < deadline, "{what}: still accepted on the other instance");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn telegram(app: &TestApp, project: &str, fake: &str) -> String {
    app.post(
        &format!("/api/v1/projects/{project}/integrations"),
        json!({"type": "telegram", "settings": {"api_base_url": fake},
               "secrets": {"secret_token": SECRET, "bot_token": "123:ABC"}}),
    )
    .await
    .id()
}

/// Warms the other instance's cache: it has just accepted the integration's webhooks.
async fn warm(app: &TestApp, integration: &str) {
    for _ in 0..10 {
        assert_eq!(chatter(app, integration, SECRET).await, StatusCode::OK);
    }
}

async fn a_changed_integration_changes_on_every_instance(backend: Backend) {
    let Some((db, url)) = TestDb::create(backend).await else { return };
    let config = || {
        let mut c = Config::for_tests(&url, ADMIN_KEY);
        c.allow_private_urls = true;
        c
    };
    let first = spawn_configured(db, config(), backend).await;
    let second = spawn_configured(TestDb::Borrowed, config(), backend).await;
    let (fake, _) = fake_telegram().await;
    let project = first.project("chat").await;
    let integration = telegram(&first, &project, &fake).await;
    warm(&second, &integration).await;
    warm(&first, &integration).await;

    // The secret rotated through the first instance: the old one is refused there at once,
    // and soon on the second; the new one works on both.
    let path = format!("/api/v1/projects/{project}/integrations/{integration}");
    let res = first.patch(&path, json!({"secrets": {"secret_token": ROTATED}})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(chatter(&first, &integration, SECRET).await, StatusCode::UNAUTHORIZED);
    assert_eq!(chatter(&first, &integration, ROTATED).await, StatusCode::OK);
    until_refused(&second, &integration, SECRET, StatusCode::UNAUTHORIZED, "the old secret").await;
    assert_eq!(chatter(&second, &integration, ROTATED).await, StatusCode::OK);

    // Deleted through the first instance: gone there at once, and soon on the second.
    for _ in 0..10 {
        assert_eq!(chatter(&second, &integration, ROTATED).await, StatusCode::OK);
    }
    assert_eq!(first.delete(&path).await.status, StatusCode::NO_CONTENT);
    assert_eq!(chatter(&first, &integration, ROTATED).await, StatusCode::NOT_FOUND);
    until_refused(&second, &integration, ROTATED, StatusCode::NOT_FOUND, "the deleted integration").await;

    // A project deleted takes its integrations with it, on every instance.
    let other = first.project("other chat").await;
    let integration = telegram(&first, &other, &fake).await;
    warm(&second, &integration).await;
    let res = first.delete(&format!("/api/v1/projects/{other}")).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    assert_eq!(chatter(&first, &integration, SECRET).await, StatusCode::NOT_FOUND);
    until_refused(&second, &integration, SECRET, StatusCode::NOT_FOUND, "the deleted project's integration").await;

    drop(second);
    first.stop().await;
}
each_backend!(a_changed_integration_changes_on_every_instance);
