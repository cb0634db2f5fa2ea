//! Intake through the API: a message becomes a task, or a comment on the task that
//! already tracks the same work.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, both_backends};

async fn send(app: &TestApp, project: &str, text: &str, author: &str) -> Value {
    let res = app
        .post(
            "/api/v1/messages?wait=true",
            json!({"project_id": project, "text": text, "author": author, "source": "slack", "channel": "#beta",
                   "received_at": "2026-11-22T09:30:00Z"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
}

async fn a_message_becomes_a_well_formed_task(app: TestApp) {
    let project = app.project("Beta").await;
    let m =
        send(&app, &project, "we need OAuth2 login on the platform before Friday, it's blocking the beta", "ana").await;
    assert_eq!(m["status"], "created", "{m}");
    assert_eq!(m["draft"]["title"], "Add OAuth2 login on the platform");
    assert_eq!(m["draft"]["priority"], "high");
    assert_eq!(m["draft"]["due_date"], "2026-11-27");
    assert_eq!(m["candidates"], json!([]));
    let task_id = m["task_id"].as_str().expect("task id");

    let task = app.get(&format!("/api/v1/tasks/{task_id}")).await.body;
    assert_eq!(task["title"], "Add OAuth2 login on the platform");
    assert_eq!(task["priority"], "high");
    assert_eq!(task["due_date"], "2026-11-27");
    assert_eq!(task["project_id"], project.as_str());
    assert!(task["description"].as_str().unwrap_or_default().contains("Requested by ana in #beta via slack"));
    assert!(task["labels"].as_array().is_some_and(|l| l.contains(&json!("security"))));

    let again = app.get(&format!("/api/v1/messages/{}", m["id"].as_str().expect("id"))).await;
    assert_eq!(again.body["status"], "created");
    assert_eq!(again.body["task_id"], task_id);
}
both_backends!(a_message_becomes_a_well_formed_task);

async fn the_same_request_twice_is_linked_not_duplicated(app: TestApp) {
    let project = app.project("Beta").await;
    let first = send(&app, &project, "Please add OAuth2 login to the customer portal", "ana").await;
    assert_eq!(first["status"], "created");
    let task_id = first["task_id"].as_str().expect("task");
    // Unrelated work in between.
    let other = send(&app, &project, "Renew the TLS certificate of the status page", "bo").await;
    assert_eq!(other["status"], "created");

    let second = send(&app, &project, "can someone add oauth2 login for the customer portal?", "carl").await;
    assert_eq!(second["status"], "duplicate", "{second}");
    assert_eq!(second["task_id"], task_id);
    assert!(second["score"].as_f64().is_some_and(|s| s >= 0.4), "{second}");
    assert_eq!(second["candidates"][0]["task_id"], task_id);

    // The request is on the existing task as a comment; no third task exists.
    let comments = app.get(&format!("/api/v1/comments?task_id={task_id}")).await.body;
    let comment = &comments["items"][0];
    assert!(
        comment["content"].as_str().unwrap_or_default().starts_with("Also requested by carl in #beta (slack)"),
        "{comment}"
    );
    assert_eq!(comment["author"], "carl");
    assert_eq!(
        app.get(&format!("/api/v1/tasks?project_id={project}")).await.body["items"].as_array().map(Vec::len),
        Some(2)
    );
}
both_backends!(the_same_request_twice_is_linked_not_duplicated);

async fn a_message_is_accepted_before_it_is_processed(app: TestApp) {
    let project = app.project("Async").await;
    let res = app.post("/api/v1/messages", json!({"project_id": project, "text": "Update the onboarding guide"})).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    assert_eq!(res.body["status"], "queued");
    assert_eq!(res.body["source"], "api");
    let id = res.id();
    let mut status = Value::Null;
    for _ in 0..200 {
        status = app.get(&format!("/api/v1/messages/{id}")).await.body["status"].clone();
        if status == "created" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(status, "created");
}
both_backends!(a_message_is_accepted_before_it_is_processed);

async fn bad_messages_are_refused(app: TestApp) {
    let project = app.project("x").await;
    let res = app.post("/api/v1/messages", json!({"project_id": project, "text": "   "})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let res = app.post("/api/v1/messages", json!({"project_id": "nope", "text": "hello"})).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = app.post("/api/v1/messages", json!({"project_id": project, "text": "x", "received_at": "friday"})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get("/api/v1/messages/nope").await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/jobs").await.body["items"], json!([]), "nothing was queued");
}
both_backends!(bad_messages_are_refused);

async fn processing_jobs_are_visible(app: TestApp) {
    let project = app.project("jobs").await;
    let m = send(&app, &project, "Write the release notes", "ana").await;
    // The outcome is committed a moment before the worker marks its job succeeded.
    let mut jobs = app.get("/api/v1/jobs?status=succeeded").await;
    for _ in 0..200 {
        if jobs.body["items"].as_array().is_some_and(|items| !items.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        jobs = app.get("/api/v1/jobs?status=succeeded").await;
    }
    assert_eq!(jobs.status, StatusCode::OK);
    let job = &jobs.body["items"][0];
    assert_eq!(job["kind"], "intake.process");
    assert_eq!(job["payload"]["message_id"], m["id"]);
    assert_eq!(job["attempts"], 1);
    assert_eq!(job["idempotency_key"], format!("intake:{}", m["id"].as_str().expect("id")));
    assert_eq!(app.get("/api/v1/jobs?status=dead").await.body["items"], json!([]));

    let res = app.post(&format!("/api/v1/jobs/{}/retry", job["id"].as_str().expect("id")), json!({})).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "a succeeded job is not retried");
    let res = app.request(Method::GET, "/api/v1/jobs?status=stuck", Some(&app.key), None).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.post("/api/v1/jobs/nope/retry", json!({})).await.status, StatusCode::NOT_FOUND);
}
both_backends!(processing_jobs_are_visible);
