//! Outgoing webhooks: a project's `webhook` integration receives the task events it
//! subscribes to, signed (HMAC-SHA256 over timestamp and body), retried through the queue
//! with the same delivery id, against a local receiver.

use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::fakes::webhook::{Received, receiver};
use crate::helpers::{Backend, TestApp, spawn_app_with};

/// Deliveries of `event` received (successful or not), once `count` have arrived.
async fn deliveries(received: &Received, event: &str, count: usize) -> Vec<(Value, Value)> {
    for _ in 0..800 {
        let found: Vec<(Value, Value)> = received
            .lock()
            .expect("lock")
            .iter()
            .filter(|(h, _)| h["x-taskbridge-event"] == event)
            .map(|(h, b)| (h.clone(), serde_json::from_str(b).unwrap_or_default()))
            .collect();
        if found.len() >= count {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("fewer than {count} {event} deliveries: {:?}", received.lock().expect("lock"));
}

fn verify(secret: &str, headers: &Value, body: &str) -> bool {
    let timestamp = headers["x-taskbridge-timestamp"].as_str().unwrap_or_default();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    headers["x-taskbridge-signature"] == format!("sha256={expected}")
}

async fn task_events_reach_subscribers(backend: Backend) {
    let (url, received) = receiver().await;
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let project = app.project("ops").await;
    let base = format!("/api/v1/projects/{project}/integrations");
    for (body, why) in [
        (
            json!({"type": "webhook", "settings": {"url": url, "events": "task.exploded"}, "secrets": {"signing_secret": "s"}}),
            "unknown event",
        ),
        (
            json!({"type": "webhook", "settings": {"events": "task.created"}, "secrets": {"signing_secret": "s"}}),
            "no url",
        ),
        (json!({"type": "webhook", "settings": {"url": url}}), "no secret"),
    ] {
        let res = app.post(&base, body).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{why}: {}", res.body);
    }
    let events = "task.created,task.status_changed,task.deleted,comment.created";
    let hook = json!({"type": "webhook", "settings": {"url": url, "events": events}, "secrets": {"signing_secret": "whsec-1"}});
    app.integration(&project, hook).await;
    // A second subscriber of the same project, with its own address, secret and events.
    let (other_url, other) = receiver().await;
    let second = json!({"type": "webhook", "name": "audit log", "settings": {"url": other_url, "events": "task.updated"},
                        "secrets": {"signing_secret": "whsec-2"}});
    app.integration(&project, second).await;
    let listed = app.get(&base).await.body;
    let webhooks = listed["items"].as_array().expect("items").iter().filter(|i| i["type"] == "webhook").count();
    assert_eq!(webhooks, 2, "{listed}");

    // Created: the first attempt meets a 500, the retry carries the same delivery id.
    let task = app.task(&project, json!({"title": "Renew the wildcard certificate"})).await;
    let task_id = task["id"].as_str().expect("id").to_string();
    let created = deliveries(&received, "task.created", 2).await;
    assert_eq!(created[0].0["x-taskbridge-delivery"], created[1].0["x-taskbridge-delivery"], "one delivery, retried");
    let (headers, body) = &created[1];
    assert_eq!(body["event"], "task.created");
    assert_eq!(
        (body["data"]["id"].as_str(), body["project_id"].as_str()),
        (Some(task_id.as_str()), Some(project.as_str()))
    );
    assert_eq!(body["id"], headers["x-taskbridge-delivery"]);
    let raw = received.lock().expect("lock")[1].1.clone();
    assert!(verify("whsec-1", headers, &raw), "the signature verifies: {headers}");
    assert!(!verify("another-secret", headers, &raw));

    // An edit that is not a status change is not subscribed to; a status change is.
    assert_eq!(
        app.patch(&format!("/api/v1/tasks/{task_id}"), json!({"title": "Renew the certificate"})).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.patch(&format!("/api/v1/tasks/{task_id}/status"), json!({"status": "done"})).await.status,
        StatusCode::OK
    );
    let changed = deliveries(&received, "task.status_changed", 1).await;
    assert_eq!(changed[0].1["data"]["status"], "done");
    let res = app.post("/api/v1/comments", json!({"task_id": task_id, "content": "Installed on all hosts"})).await;
    assert_eq!(res.status, StatusCode::CREATED);
    let commented = deliveries(&received, "comment.created", 1).await;
    assert_eq!(commented[0].1["data"]["comment"]["content"], "Installed on all hosts");
    assert_eq!(app.delete(&format!("/api/v1/tasks/{task_id}")).await.status, StatusCode::NO_CONTENT);
    let deleted = deliveries(&received, "task.deleted", 1).await;
    assert_eq!(deleted[0].1["data"]["title"], "Renew the certificate", "the task as it was");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let updated =
        received.lock().expect("lock").iter().filter(|(h, _)| h["x-taskbridge-event"] == "task.updated").count();
    assert_eq!(updated, 0, "task.updated is not subscribed to");

    // The second subscriber got only what it asked for: the two edits (title, status).
    let edits = deliveries(&other, "task.updated", 3).await;
    assert_eq!(edits.len(), 3, "the first answered 500 and was retried");
    let raw = other.lock().expect("lock")[1].1.clone();
    assert!(verify("whsec-2", &edits[1].0, &raw));
    assert!(other.lock().expect("lock").iter().all(|(h, _)| h["x-taskbridge-event"] == "task.updated"));
}

/// An instance whose queue nobody works, so what a change queued can be read back.
async fn without_workers(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.workers = 0;
    })
    .await
}

/// A project with an active outgoing webhook (its receiver is never reached here).
async fn subscribed(app: &TestApp) -> String {
    let project = app.project("ops").await;
    let hook =
        json!({"type": "webhook", "settings": {"url": "http://127.0.0.1:9/hook"}, "secrets": {"signing_secret": "s"}});
    app.integration(&project, hook).await;
    project
}

/// Events are queued in the transaction of the change itself, with what the change left:
/// with no worker running, each change already has its announcement in the queue when it is
/// answered, written at the change's own instant; a project nobody subscribes to queues none.
async fn events_are_queued_with_the_change(backend: Backend) {
    let Some(app) = without_workers(backend).await else { return };
    let quiet = app.project("nobody listens").await;
    app.task(&quiet, json!({"title": "Water the plants"})).await;
    let project = subscribed(&app).await;
    let created = app.task(&project, json!({"title": "Rotate the keys"})).await;
    let task = created["id"].as_str().expect("id").to_string();
    let moved = app.patch(&format!("/api/v1/tasks/{task}/status"), json!({"status": "in_progress"})).await.body;
    app.patch(&format!("/api/v1/tasks/{task}"), json!({"status": "done", "title": "Rotate the API keys"})).await;
    app.post("/api/v1/comments", json!({"task_id": task, "content": "halfway"})).await;
    assert_eq!(app.delete(&format!("/api/v1/tasks/{task}")).await.status, StatusCode::NO_CONTENT);
    let jobs = app.get("/api/v1/jobs?status=queued&limit=200").await.body;
    let announced: Vec<&Value> =
        jobs["items"].as_array().expect("items").iter().filter(|j| j["kind"] == "webhook.announce").collect();
    let mut events: Vec<&str> = announced.iter().filter_map(|j| j["payload"]["event"].as_str()).collect();
    events.sort_unstable();
    assert_eq!(
        events,
        [
            "comment.created",
            "task.created",
            "task.deleted",
            "task.status_changed",
            "task.status_changed",
            "task.updated",
            "task.updated"
        ]
    );
    let of = |event: &str, status: &str| {
        announced.iter().find(|j| j["payload"]["event"] == event && j["payload"]["data"]["status"] == status).copied()
    };
    // Queued at the instant of the change, carrying the task as that change left it.
    let made = of("task.created", "todo").expect("created");
    assert_eq!(made["created_at"], created["created_at"], "{made}");
    let first = of("task.status_changed", "in_progress").expect("the first move");
    assert_eq!(first["created_at"], moved["updated_at"], "{first}");
    assert_eq!(first["payload"]["data"]["title"], "Rotate the keys");
    let second = of("task.status_changed", "done").expect("the second move");
    assert_eq!(second["payload"]["data"]["title"], "Rotate the API keys");
    assert_eq!(of("task.deleted", "done").map(|j| j["payload"]["project_id"].clone()), Some(json!(project)));
}

/// A task made through the replaced service's team route is announced like any other.
async fn tasks_made_with_a_team_are_announced(backend: Backend) {
    let Some(app) = without_workers(backend).await else { return };
    let project = subscribed(&app).await;
    let res = app
        .post(
            "/teams/create-task-with-team",
            json!({"title": "Plan the offsite", "team_name": "Offsite crew", "project_id": project}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let jobs = app.get("/api/v1/jobs?status=queued&limit=200").await.body;
    let announced: Vec<&Value> = jobs["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|j| j["kind"] == "webhook.announce" && j["payload"]["event"] == "task.created")
        .collect();
    assert_eq!(announced.len(), 1, "{jobs}");
    assert_eq!(announced[0]["payload"]["data"]["title"], "Plan the offsite");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_made_with_a_team_are_announced_sqlite() {
    tasks_made_with_a_team_are_announced(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_made_with_a_team_are_announced_postgres() {
    tasks_made_with_a_team_are_announced(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_queued_with_the_change_sqlite() {
    events_are_queued_with_the_change(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_queued_with_the_change_postgres() {
    events_are_queued_with_the_change(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_events_reach_subscribers_sqlite() {
    task_events_reach_subscribers(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_events_reach_subscribers_postgres() {
    task_events_reach_subscribers(Backend::Postgres).await;
}
