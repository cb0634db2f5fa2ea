//! A mailbox polled over IMAP (issue 25 §1) against a real Dovecot on loopback, over TLS:
//! the first poll takes only unseen mail; each message becomes one request, marked seen only
//! once stored; the same mail delivered twice is one request; later polls take only new
//! UIDs; with `imap_move_to` taken mail is moved there instead.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::fakes::dovecot::Dovecot;
use crate::helpers::{Backend, TestApp, spawn_app_with};

const USER: &str = "tasks@example.org";
const PASSWORD: &str = "imap-pw-1";

fn mail(id: &str, subject: &str, body: &str) -> String {
    format!(
        "Message-ID: <{id}@example.org>\nDate: Mon, 23 Nov 2026 09:12:44 +0100\nFrom: Ana Perez <ana@example.org>\n\
         To: {USER}\nSubject: {subject}\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n\n{body}\n"
    )
}

/// The titles of the project's tasks once there are `n` (or after ten seconds).
async fn titles(app: &TestApp, n: usize) -> Vec<String> {
    let mut titles = Vec::new();
    for _ in 0..400 {
        let tasks = app.get("/api/v1/tasks?limit=200").await.body;
        titles = tasks["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["title"].as_str().map(str::to_string))
            .collect();
        if titles.len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    titles.sort();
    titles
}

/// Waits until `check` holds of the inbox (or ten seconds pass).
async fn inbox_until(
    dovecot: &Dovecot,
    folder: &str,
    check: impl Fn(&[(String, bool)]) -> bool,
) -> Vec<(String, bool)> {
    let mut messages = Vec::new();
    for _ in 0..400 {
        messages = dovecot.messages(folder);
        if check(&messages) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    messages
}

async fn mailbox_polling(backend: Backend) {
    let dovecot = Dovecot::start(USER, PASSWORD).await;
    // Read before taskbridge ever looked: not a request.
    dovecot.deliver("", "1.old", &mail("old-1", "Lunch on Friday?", "Who is in?"), true);
    dovecot.deliver("", "2.new", &mail("req-1", "Renew the wildcard TLS certificate", "It expires next week."), false);
    let Some(app) = spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.extra_ca_file = Some(crate::fakes::smtp::ca_file());
        c.mailbox_poll_secs = 1;
    })
    .await
    else {
        return;
    };
    let project = app.project("mailbox").await;
    let path = format!("/api/v1/projects/{project}/integrations");
    // A polled mailbox needs its login.
    let res = app.post(&path, json!({"type": "email", "settings": {"imap_host": "localhost"}})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    let res = app
        .post(
            &path,
            json!({"type": "email", "settings": {"imap_host": "localhost", "imap_user": USER, "imap_tls": "none"},
                            "secrets": {"imap_password": PASSWORD}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "no IMAP without TLS: {}", res.body);
    let integration = app
        .integration(
            &project,
            json!({"type": "email", "settings": {"imap_host": "localhost", "imap_port": dovecot.port, "imap_user": USER},
                   "secrets": {"imap_password": PASSWORD}}),
        )
        .await;

    assert_eq!(titles(&app, 1).await.len(), 1);
    let messages = inbox_until(&dovecot, "", |m| m.iter().all(|(_, seen)| *seen)).await;
    assert!(messages.iter().all(|(_, seen)| *seen), "taken mail is marked seen: {messages:?}");
    let tasks = app.get("/api/v1/tasks").await.body;
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(1), "the old mail is not a request: {tasks}");
    let title = tasks["items"][0]["title"].as_str().unwrap_or_default().to_lowercase();
    assert!(title.contains("certificate"), "{title}");

    // New mail, one of them delivered twice: one request each, all marked.
    dovecot.deliver("", "3.new", &mail("req-2", "Order a new projector for room 4", "The old one died."), false);
    dovecot.deliver("", "4.new", &mail("req-2", "Order a new projector for room 4", "The old one died."), false);
    let messages = inbox_until(&dovecot, "", |m| m.len() == 4 && m.iter().all(|(_, seen)| *seen)).await;
    assert!(messages.len() == 4 && messages.iter().all(|(_, seen)| *seen), "{messages:?}");
    // Later polls find nothing new: nothing is taken twice.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let all = titles(&app, 2).await;
    assert_eq!(all.len(), 2, "{all:?}");
    let messages = app.get("/api/v1/history?platform=email").await.body;
    let requests = messages["items"].as_array().map(|i| i.iter().filter(|i| i["direction"] == "in").count());
    assert_eq!(requests, Some(2), "{messages}");

    // Taken mail moved to another folder instead.
    let res = app.patch(&format!("{path}/{integration}"), json!({"settings": {"imap_move_to": "Taken"}})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    dovecot.deliver("", "5.new", &mail("req-3", "Fix the flickering lobby lights", "Since Monday."), false);
    let moved = inbox_until(&dovecot, "Taken", |m| m.len() == 1).await;
    assert_eq!(moved.len(), 1, "{moved:?}");
    // A move lands in the new folder before it leaves the old one: wait for both.
    let left = inbox_until(&dovecot, "", |m| m.len() == 4).await;
    assert_eq!(left.len(), 4, "moved out of the inbox");
    assert_eq!(titles(&app, 3).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailbox_polling_sqlite() {
    mailbox_polling(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailbox_polling_postgres() {
    mailbox_polling(Backend::Postgres).await;
}
