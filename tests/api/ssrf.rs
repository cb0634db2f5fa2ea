//! The SSRF guard at the moment of the call: URLs from a webhook (Slack's `response_url`)
//! and URLs stored while private addresses were allowed never reach loopback. Listeners on
//! 127.0.0.1 and [::1] count connections to prove that nothing arrived; no traffic leaves
//! the machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use taskbridge::channels::slack::sign;

use crate::helpers::{Backend, TestApp, each_backend, spawn_app_with};

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

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

async fn slack_integration(app: &TestApp) -> String {
    let project = app.project("slack").await;
    let res = app
        .post(
            &format!("/api/v1/projects/{project}/integrations"),
            json!({"type": "slack", "secrets": {"signing_secret": SECRET, "bot_token": "xoxb-test"}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.id()
}

/// A signed slash command whose answer goes to `response_url`.
async fn slash_command(app: &TestApp, integration: &str, text: &str, response_url: &str) {
    let form = serde_urlencoded::to_string([
        ("command", "/task"),
        ("text", text),
        ("user_name", "mallory"),
        ("channel_id", "C9"),
        ("response_url", response_url),
        ("trigger_id", &format!("trigger-{}", uuid::Uuid::new_v4().simple())),
    ])
    .expect("form");
    let ts = chrono::Utc::now().timestamp().to_string();
    let res = app
        .raw()
        .post(format!("{}/webhooks/slack/{integration}", app.base))
        .header("x-slack-request-timestamp", &ts)
        .header("x-slack-signature", sign(SECRET, &ts, form.as_bytes()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), StatusCode::OK);
}

/// The answers sent (or not) to Slack, once `n` of them have settled.
async fn settled_answers(app: &TestApp, n: usize) -> Vec<Value> {
    let mut answers = Vec::new();
    for _ in 0..400 {
        let history = app.get("/api/v1/history?platform=slack").await.body;
        answers = history["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|i| i["direction"] == "out" && matches!(i["status"].as_str(), Some("sent" | "failed")))
            .cloned()
            .collect();
        if answers.len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    answers
}

/// Slack's hosts include the test's loopback addresses here, so the address guard alone
/// must refuse them: nothing arrives, and each answer is recorded as refused.
async fn response_url_to_loopback_is_refused(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| {
        c.slack_response_url_hosts = vec!["127.0.0.1".into(), "[::1]".into()];
    })
    .await
    else {
        return;
    };
    let (port, count) = listener("127.0.0.1:0").await;
    let (port6, count6) = listener("[::1]:0").await;
    let integration = slack_integration(&app).await;
    slash_command(&app, &integration, "renew the TLS certificate", &format!("http://127.0.0.1:{port}/x")).await;
    slash_command(&app, &integration, "rotate the database password", &format!("http://[::1]:{port6}/x")).await;

    let answers = settled_answers(&app, 2).await;
    assert_eq!(answers.len(), 2, "{answers:?}");
    for answer in &answers {
        assert_eq!(answer["status"], "failed", "{answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(error.contains("refused") && error.contains("loopback address"), "{answer}");
    }
    let jobs = crate::helpers::dead_jobs_at_least(&app, 2).await;
    let replies: Vec<&Value> =
        jobs["items"].as_array().into_iter().flatten().filter(|j| j["kind"] == "channel.reply").collect();
    assert_eq!(replies.len(), 2, "refused for good, not retried: {jobs}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(count.load(Ordering::SeqCst), 0, "nothing reached 127.0.0.1");
    assert_eq!(count6.load(Ordering::SeqCst), 0, "nothing reached [::1]");
}
each_backend!(response_url_to_loopback_is_refused);

/// Private addresses allowed (as for a LAN tracker), a `response_url` must still be on
/// Slack's hosts: refused before any connection, whether it points here or elsewhere.
async fn response_url_must_be_on_slacks_hosts(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let (port, count) = listener("127.0.0.1:0").await;
    let integration = slack_integration(&app).await;
    slash_command(&app, &integration, "renew the TLS certificate", &format!("http://127.0.0.1:{port}/x")).await;
    slash_command(&app, &integration, "rotate the keys", "https://hooks.slack.com.evil.example/commands/T1/2/x").await;

    let answers = settled_answers(&app, 2).await;
    assert_eq!(answers.len(), 2, "{answers:?}");
    for answer in &answers {
        assert_eq!(answer["status"], "failed", "{answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(error.contains("not one of the hosts allowed") && error.contains("hooks.slack.com"), "{answer}");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(count.load(Ordering::SeqCst), 0, "nothing reached the listener");
}
each_backend!(response_url_must_be_on_slacks_hosts);

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

    let dead = crate::helpers::dead_jobs_at_least(&app, 3).await;
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
