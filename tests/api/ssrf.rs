//! The SSRF guard at the moment of the call: URLs from a webhook (Slack's `response_url`)
//! and URLs stored while private addresses were allowed never reach loopback. Listeners on
//! 127.0.0.1 and [::1] count connections to prove that nothing arrived; no traffic leaves
//! the machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, each_backend, spawn_app_with};

/// A listener counting the connections it accepts (and closing them at once).
async fn listener(addr: &str) -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    (port, count)
}

/// Integrations saved while private addresses were allowed, used after a restart without
/// it: Taiga's login, Jira's Basic-authenticated calls and Telegram's send (its token in
/// the path) are refused when made, and never reach the listener.
async fn stored_urls_are_checked_when_used(backend: Backend) {
    let (port, count) = listener("127.0.0.1:0").await;
    let inside = format!("http://127.0.0.1:{port}");
    let Some(before) = spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.workers = 0;
    })
    .await
    else {
        return;
    };
    let project = before.project("ops").await;
    let base = format!("/api/v1/projects/{project}/integrations");
    for body in [
        json!({"type": "taiga", "settings": {"api_base_url": format!("{inside}/api/v1"), "username": "bot",
               "project_slug": "ops"}, "secrets": {"password": "taiga-pw-1"}}),
        json!({"type": "jira", "settings": {"site_url": inside, "email": "bot@example.org", "project_key": "OPS"},
               "secrets": {"api_token": "jira-token-1"}}),
        json!({"type": "telegram", "settings": {"api_base_url": inside}, "secrets": {"bot_token": "123:ABC"}}),
    ] {
        let res = before.post(&base, body).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    }
    let url = before.database_url.clone();
    let db = before.stop().await;

    // The same database, private addresses no longer allowed.
    let config = taskbridge::config::Config::for_tests(&url, crate::helpers::ADMIN_KEY);
    assert!(!config.allow_private_urls);
    let app = crate::helpers::spawn_configured(db, config, backend).await;
    let task = app.post("/api/v1/tasks", json!({"project_id": project, "title": "Rotate the keys"})).await;
    assert_eq!(task.status, StatusCode::CREATED, "{}", task.body);
    let sent = app
        .post(
            "/integrations/telegram/send",
            json!({"chat_id": -1001234567890i64, "text": "Deploy", "project_id": project}),
        )
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);

    let mut dead = Value::Null;
    for _ in 0..400 {
        dead = app.get("/api/v1/jobs?status=dead").await.body;
        if dead["items"].as_array().is_some_and(|a| a.len() >= 3) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let errors: Vec<&str> =
        dead["items"].as_array().into_iter().flatten().filter_map(|j| j["last_error"].as_str()).collect();
    assert_eq!(errors.len(), 3, "{dead}");
    for tracker in ["Taiga", "Jira", "Telegram"] {
        let error = errors.iter().find(|e| e.contains(tracker)).unwrap_or_else(|| panic!("no {tracker} job: {dead}"));
        assert!(error.contains("refused: 127.0.0.1 is a loopback address"), "{error}");
        assert!(!error.contains("123:ABC") && !error.contains("jira-token-1"), "{error}");
    }
    let history = app.get("/api/v1/history?platform=telegram").await.body;
    assert_eq!(history["items"][0]["status"], "failed", "{history}");
    assert!(history["items"][0]["error"].as_str().unwrap_or_default().contains("refused"), "{history}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(count.load(Ordering::SeqCst), 0, "no connection reached the stored address");
}
each_backend!(stored_urls_are_checked_when_used);
