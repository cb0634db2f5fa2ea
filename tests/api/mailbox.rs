//! A mailbox read over IMAP (issue 25 §1) against a real Dovecot on loopback, over TLS:
//! the first read takes only unseen mail; each message becomes one request, marked seen only
//! once stored; the same mail delivered twice is one request; later reads take only new
//! UIDs; with `imap_move_to` taken mail is moved there instead. Where the server offers
//! IDLE, mail is taken as it arrives (polls an hour apart cannot explain it); without IDLE,
//! or after the connection dropped, it is still taken. Two instances take each message
//! once. How reading stands is shown by the API and the console, errors without secrets.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use serde_json::Value;

use crate::fakes::dovecot::Dovecot;
use crate::helpers::{Backend, TestApp, each_backend, spawn_app_with, spawn_configured};

const USER: &str = "tasks@example.org";
const PASSWORD: &str = "imap-pw-1";

fn mail(id: &str, subject: &str, body: &str) -> String {
    format!(
        "Message-ID: <{id}@example.org>\nDate: Mon, 23 Nov 2026 09:12:44 +0100\nFrom: Ana Perez <ana@example.org>\n\
         To: {USER}\nSubject: {subject}\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n\n{body}\n"
    )
}

/// The titles of the project's tasks once there are `n` (or after twenty seconds).
async fn titles(app: &TestApp, n: usize) -> Vec<String> {
    let mut titles = Vec::new();
    for _ in 0..800 {
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

/// The rules of taking mail, the same whoever reads: polls every second (IDLE off), or a
/// watcher in IDLE (polls an hour apart).
async fn mailbox_reading(backend: Backend, idle: bool) {
    let dovecot = Dovecot::start(USER, PASSWORD).await;
    // Read before taskbridge ever looked: not a request.
    dovecot.deliver("", "1.old", &mail("old-1", "Lunch on Friday?", "Who is in?"), true);
    dovecot.deliver("", "2.new", &mail("req-1", "Renew the wildcard TLS certificate", "It expires next week."), false);
    let Some(app) = spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.extra_ca_file = Some(crate::fakes::smtp::ca_file());
        c.mailbox_poll_secs = if idle { HOUR } else { 1 };
        c.mailbox_idle_secs = if idle { 1740 } else { 0 };
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
    // The mail delivered twice was stored once.
    let state = state_until(&app, &format!("{path}/{integration}/mailbox"), |s| s["taken"] == 3).await;
    assert_eq!(state["mode"], if idle { "idle" } else { "poll" }, "{state}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailbox_polling_sqlite() {
    mailbox_reading(Backend::Sqlite, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailbox_polling_postgres() {
    mailbox_reading(Backend::Postgres, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailbox_idling_sqlite() {
    mailbox_reading(Backend::Sqlite, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailbox_idling_postgres() {
    mailbox_reading(Backend::Postgres, true).await;
}

/// Polls an hour apart: within a test only IDLE can take new mail.
const HOUR: u64 = 3600;

/// An app reading mailboxes, polling every `poll_secs`.
async fn reading_app(backend: Backend, poll_secs: u64) -> Option<TestApp> {
    spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.extra_ca_file = Some(crate::fakes::smtp::ca_file());
        c.mailbox_poll_secs = poll_secs;
    })
    .await
}

/// An e-mail integration reading `dovecot`'s inbox with `password`; its mailbox path.
async fn mailbox_of(app: &TestApp, project: &str, dovecot: &Dovecot, password: &str) -> String {
    let integration = app
        .integration(
            project,
            json!({"type": "email", "settings": {"imap_host": "localhost", "imap_port": dovecot.port, "imap_user": USER},
                   "secrets": {"imap_password": password}}),
        )
        .await;
    format!("/api/v1/projects/{project}/integrations/{integration}/mailbox")
}

/// The mailbox's state once `check` holds of it (or `null` after twenty seconds).
async fn state_until(app: &TestApp, path: &str, check: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..800 {
        let res = app.get(path).await;
        if res.status == StatusCode::OK && check(&res.body) {
            return res.body;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Value::Null
}

async fn idle_takes_mail_as_it_arrives(backend: Backend) {
    let dovecot = Dovecot::start(USER, PASSWORD).await;
    dovecot.deliver("", "1.new", &mail("idle-1", "Renew the wildcard TLS certificate", "It expires next week."), false);
    let Some(app) = reading_app(backend, HOUR).await else { return };
    let project = app.project("mailbox").await;
    let path = mailbox_of(&app, &project, &dovecot, PASSWORD).await;
    // Mail waiting when the connection opens is taken first.
    let state = state_until(&app, &path, |s| s["mode"] == "idle" && s["taken"] == 1).await;
    assert_eq!(state["mode"], "idle", "{state}");
    assert_eq!(titles(&app, 1).await.len(), 1);

    // Mail delivered while the connection waits in IDLE: the server announces it.
    dovecot.deliver("", "2.new", &mail("idle-2", "Order a new projector for room 4", "The old one died."), false);
    assert_eq!(titles(&app, 2).await.len(), 2, "taken without waiting an hour for the next poll");
    let messages = inbox_until(&dovecot, "", |m| m.len() == 2 && m.iter().all(|(_, seen)| *seen)).await;
    assert!(messages.iter().all(|(_, seen)| *seen), "marked seen once stored: {messages:?}");
    let state = state_until(&app, &path, |s| s["taken"] == 2).await;
    assert_eq!(state["mode"], "idle", "{state}");
    assert!(state["uid_validity"].as_i64() > Some(0) && state["last_uid"].as_i64() >= Some(2), "{state}");
    assert!(state["last_error"].is_null() && state["last_success_at"].is_string(), "{state}");
}
each_backend!(idle_takes_mail_as_it_arrives);

/// IDLE is ended and entered again every `TASKBRIDGE_MAILBOX_IDLE_SECS` (servers drop an
/// IDLE after 30 minutes), each time after a pass over the folder, recorded as a read.
async fn idle_is_entered_again_before_the_server_drops_it(backend: Backend) {
    let dovecot = Dovecot::start(USER, PASSWORD).await;
    let Some(app) = spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.extra_ca_file = Some(crate::fakes::smtp::ca_file());
        c.mailbox_poll_secs = HOUR;
        c.mailbox_idle_secs = 1;
    })
    .await
    else {
        return;
    };
    let project = app.project("mailbox").await;
    let path = mailbox_of(&app, &project, &dovecot, PASSWORD).await;
    let state = state_until(&app, &path, |s| s["polls"].as_i64() >= Some(3)).await;
    assert_eq!(state["mode"], "idle", "{state}");
    assert!(state["last_error"].is_null(), "one connection, IDLE after IDLE: {state}");
    dovecot.deliver("", "1.new", &mail("again-1", "Water the plants in the lobby", "Twice a week."), false);
    assert_eq!(titles(&app, 1).await.len(), 1);
}
each_backend!(idle_is_entered_again_before_the_server_drops_it);

async fn without_idle_the_mailbox_is_polled(backend: Backend) {
    let dovecot = Dovecot::start_with(USER, PASSWORD, false).await;
    let Some(app) = reading_app(backend, 1).await else { return };
    let project = app.project("mailbox").await;
    let path = mailbox_of(&app, &project, &dovecot, PASSWORD).await;
    dovecot.deliver("", "1.new", &mail("poll-1", "Fix the flickering lobby lights", "Since Monday."), false);
    assert_eq!(titles(&app, 1).await.len(), 1);
    let state = state_until(&app, &path, |s| s["taken"] == 1).await;
    assert_eq!(state["mode"], "poll", "{state}");
    assert!(state["last_error"].is_null(), "{state}");
}
each_backend!(without_idle_the_mailbox_is_polled);

async fn a_dropped_connection_recovers(backend: Backend) {
    let dovecot = Dovecot::start(USER, PASSWORD).await;
    let Some(app) = reading_app(backend, HOUR).await else { return };
    let project = app.project("mailbox").await;
    let path = mailbox_of(&app, &project, &dovecot, PASSWORD).await;
    let state = state_until(&app, &path, |s| s["mode"] == "idle").await;
    assert_eq!(state["mode"], "idle", "{state}");

    dovecot.kick();
    // The break is recorded, then the connection opened again.
    let broken = state_until(&app, &path, |s| s["last_error"].is_string()).await;
    assert!(broken["last_error"].as_str().is_some_and(|e| e.contains("closed")), "{broken}");
    dovecot.deliver("", "1.new", &mail("drop-1", "Replace the broken badge reader", "At the side door."), false);
    assert_eq!(titles(&app, 1).await.len(), 1, "taken after the drop, an hour before any poll");
    let state = state_until(&app, &path, |s| s["mode"] == "idle" && s["taken"] == 1).await;
    assert!(state["last_success_at"].as_str() > state["last_error_at"].as_str(), "{state}");
    // Idling again: the next mail comes in too.
    dovecot.deliver("", "2.new", &mail("drop-2", "Book the large meeting room", "For Thursday."), false);
    assert_eq!(titles(&app, 2).await.len(), 2);
}
each_backend!(a_dropped_connection_recovers);

/// Two instances on one database: each message is fetched once (the server's own count)
/// and becomes one request; when the instance watching stops, the other takes over.
async fn two_instances_take_each_message_once(backend: Backend) {
    let dovecot = Dovecot::start(USER, PASSWORD).await;
    let config = |url: &str| {
        let mut c = taskbridge::config::Config::for_tests(url, crate::helpers::ADMIN_KEY);
        c.allow_private_urls = true;
        c.extra_ca_file = Some(crate::fakes::smtp::ca_file());
        c.mailbox_poll_secs = HOUR;
        // Watchers look for mailboxes let go every lease.
        c.job_lease_secs = 3;
        c
    };
    let Some((db, url)) = crate::helpers::TestDb::create(backend).await else { return };
    let first = spawn_configured(db, config(&url), backend).await;
    let second = spawn_configured(crate::helpers::TestDb::Borrowed, config(&url), backend).await;
    let project = first.project("mailbox").await;
    let path = mailbox_of(&first, &project, &dovecot, PASSWORD).await;
    let state = state_until(&second, &path, |s| s["mode"] == "idle").await;
    assert_eq!(state["mode"], "idle", "{state}");
    // Both instances have looked for mailboxes to watch by now (they look every lease).
    tokio::time::sleep(Duration::from_secs(4)).await;
    for n in 1..=4 {
        let subject = format!("Restock printer paper on floor {n}");
        dovecot.deliver("", &format!("{n}.new"), &mail(&format!("two-{n}"), &subject, "Empty again."), false);
    }
    assert_eq!(titles(&first, 4).await.len(), 4);
    let messages = inbox_until(&dovecot, "", |m| m.len() == 4 && m.iter().all(|(_, seen)| *seen)).await;
    assert!(messages.iter().all(|(_, seen)| *seen), "{messages:?}");

    // One instance goes: the other takes the mailbox over and the next mail comes in.
    let db = first.stop().await;
    dovecot.deliver("", "5.new", &mail("two-5", "Restock printer paper on floor 5", "Empty again."), false);
    assert_eq!(titles(&second, 5).await.len(), 5, "the other instance took over");
    drop(second.stop().await);
    drop(db);
    // Every session has logged out: the server's count of bodies it sent, once it is written.
    for _ in 0..200 {
        if dovecot.bodies_fetched() >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(dovecot.bodies_fetched(), 5, "each message fetched once, by one instance");
}
each_backend!(two_instances_take_each_message_once);

/// The mailbox's state belongs to its tenant; a refused login is shown, in the API and
/// the console, without the password.
async fn a_refused_login_is_shown_without_the_password(backend: Backend) {
    let dovecot = Dovecot::start(USER, PASSWORD).await;
    let Some(app) = reading_app(backend, 1).await else { return };
    let project = app.project("mailbox").await;
    let wrong = "Wrong-Pass-42";
    let path = mailbox_of(&app, &project, &dovecot, wrong).await;
    let state = state_until(&app, &path, |s| s["last_error"].is_string()).await;
    let error = state["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("login refused") && error.contains(USER), "{state}");
    assert!(!state.to_string().contains(wrong), "no password in {state}");
    assert!(state["last_success_at"].is_null(), "{state}");

    let mut browser = crate::console::Browser::signed_in(&app, &app.key).await;
    let page = browser.get(&format!("/projects/{project}/integrations")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("login refused"), "the error is on the page");
    assert!(!page.html.contains(wrong), "no password on the page");

    // Another tenant sees nothing of it.
    let other = crate::console::other_tenant(&app).await;
    let res = app.with_key(&other).send(reqwest::Method::GET, &path, None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
    assert_eq!(res.code(), "not_found");
    let mut browser = crate::console::Browser::signed_in(&app, &other).await;
    let page = browser.get(&format!("/projects/{project}/integrations")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!page.html.contains("login refused"));
    // Not a mailbox: nothing to show.
    let webhook = app
        .integration(
            &project,
            json!({"type": "webhook", "settings": {"url": "https://hooks.example.org/in"},
                                     "secrets": {"signing_secret": "hook-signing-secret"}}),
        )
        .await;
    let res = app.get(&format!("/api/v1/projects/{project}/integrations/{webhook}/mailbox")).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
}
each_backend!(a_refused_login_is_shown_without_the_password);
