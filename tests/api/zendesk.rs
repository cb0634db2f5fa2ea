//! Zendesk: tasks pushed as tickets (the marker as `external_id`, found again by it), status
//! changes set on the ticket, and the replaced backend's ticket list with cursor pages, all
//! against a local fake of the Support API.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fakes::Trouble;
use crate::fakes::zendesk::{fake_zendesk, zendesk_time};
use crate::helpers::{Backend, TestApp, finished_run, spawn_app_with};

/// The integration body connecting a project to the fake Zendesk at `fake`.
fn zendesk_integration(fake: &str) -> Value {
    json!({"type": "zendesk", "settings": {"api_base_url": format!("{fake}/api/v2"), "subdomain": "acme",
           "email": "bot@example.org"}, "secrets": {"api_token": "zd-token-1"}})
}

async fn links_of(app: &TestApp, task_id: &str) -> Value {
    for _ in 0..1200 {
        let links = app.get(&format!("/api/v1/tasks/{task_id}/links")).await.body;
        if links.as_array().is_some_and(|l| !l.is_empty()) {
            return links;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    Value::Null
}

async fn zendesk(backend: Backend) {
    let (fake, shared, troubles) = fake_zendesk(&[]).await;
    {
        let mut t = shared.lock().expect("lock");
        for (i, subject) in
            ["Printer on floor 3 jams", "VPN drops every hour", "Invoice PDF is blank"].iter().enumerate()
        {
            t.push(json!({"id": 100 + i, "subject": subject, "description": "from a customer", "status": "open"}));
        }
    }
    let Some(app) = spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.outbound_timeout_secs = 1;
    })
    .await
    else {
        return;
    };
    let project = app.project("support").await;
    let integration = app.integration(&project, zendesk_integration(&fake)).await;

    // The replaced backend's list, page by page.
    let first = app.get(&format!("/integrations/zendesk/tickets?project_id={project}")).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["tickets"].as_array().map(Vec::len), Some(2));
    assert_eq!(first.body["tickets"][0]["subject"], "Printer on floor 3 jams");
    assert_eq!(first.body["tickets"][0]["url"], format!("{fake}/agent/tickets/100"));
    let cursor = first.body["next_cursor"].as_str().expect("a next page").to_string();
    let second = app.get(&format!("/integrations/zendesk/tickets?project_id={project}&cursor={cursor}")).await.body;
    assert_eq!(second["tickets"].as_array().map(Vec::len), Some(1));
    assert_eq!(second["next_cursor"], Value::Null);
    let none = app.get("/integrations/zendesk/tickets").await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "the default project has no Zendesk: {}", none.body);

    // A task becomes a ticket: the marker is its external id, the description an internal note.
    // Zendesk first answers too late, then with a 500: the push is retried.
    troubles.lock().expect("lock").extend([Trouble::Slow(std::time::Duration::from_secs(3)), Trouble::Status(500)]);
    let res = app
        .post(
            "/api/v1/tasks",
            json!({"project_id": project, "title": "Replace the floor 3 printer", "priority": "high"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let task_id = res.id();
    let links = links_of(&app, &task_id).await;
    assert_eq!(links[0]["tracker"], "zendesk", "{links}");
    assert_eq!(links[0]["external_ref"], "#4243", "one ticket, made by the attempt that got through");
    assert!(troubles.lock().expect("lock").is_empty(), "the slow answer and the 500 were met");
    {
        let t = shared.lock().expect("lock");
        let ticket = t.iter().find(|t| t["id"] == 4243).expect("ticket");
        assert_eq!(ticket["external_id"], format!("tb-{task_id}"));
        assert_eq!(ticket["priority"], "high");
        assert_eq!(ticket["comment_public"], false);
        assert!(ticket["description"].as_str().unwrap_or_default().contains(&format!("/api/v1/tasks/{task_id}")));
    }

    // Done here: solved there.
    let path = format!("/api/v1/tasks/{task_id}/status");
    let res = app.patch(&path, json!({"status": "done"})).await;
    assert_eq!(res.status, StatusCode::OK);
    let mut solved = false;
    for _ in 0..200 {
        if shared.lock().expect("lock").iter().any(|t| t["id"] == 4243 && t["status"] == "solved") {
            solved = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(solved, "the ticket is solved");

    // Import: the three tickets that were there become linked tasks (two cursor pages);
    // the ticket made from a task here is skipped by its marker.
    let path = format!("/api/v1/projects/{project}/integrations/{integration}/import");
    assert_eq!(app.post(&path, json!({})).await.status, StatusCode::ACCEPTED);
    let progress = crate::helpers::finished(&app, &path).await;
    assert_eq!(progress["status"], "done", "{progress}");
    assert_eq!((progress["imported"].as_i64(), progress["skipped"].as_i64()), (Some(3), Some(1)), "{progress}");
    assert_eq!(progress["pages"], 2);
    let tasks = app.get(&format!("/api/v1/tasks?project_id={project}&limit=50")).await.body;
    let vpn = tasks["items"].as_array().and_then(|t| t.iter().find(|t| t["title"] == "VPN drops every hour")).cloned();
    let vpn = vpn.expect("the VPN ticket is a task");
    assert_eq!(vpn["status"], "in_progress", "an open ticket is work in progress");
    assert_eq!(links_of(&app, vpn["id"].as_str().expect("id")).await[0]["external_ref"], "#101");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_sqlite() {
    zendesk(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_postgres() {
    zendesk(Backend::Postgres).await;
}

/// With polling on, the incremental export brings Zendesk's changes in: a ticket solved
/// there moves its task to done (nothing is sent back), and tickets filed there become
/// tasks, across the export's cursor pages and once each.
async fn zendesk_polling(backend: Backend) {
    let (fake, shared, _) = fake_zendesk(&[]).await;
    let Some(app) = spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.tracker_poll_secs = 1;
    })
    .await
    else {
        return;
    };
    let project = app.project("support").await;
    let integration = app.integration(&project, zendesk_integration(&fake)).await;
    let res = app.post("/api/v1/tasks", json!({"project_id": project, "title": "Replace the floor 3 printer"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let task_id = res.id();
    let external: i64 = links_of(&app, &task_id).await[0]["external_id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("pushed as a ticket id");

    // Zendesk's clock runs in seconds: the solve must come after the task's last change.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    {
        let mut t = shared.lock().expect("lock");
        let ticket = t.iter_mut().find(|t| t["id"] == external).expect("ticket");
        ticket["status"] = json!("solved");
        ticket["updated_at"] = json!(zendesk_time());
        for (n, subject) in
            ["VPN drops every hour", "Invoice PDF is blank", "Badge reader at door B"].iter().enumerate()
        {
            t.push(json!({"id": 900 + n, "subject": subject, "description": "from a customer", "status": "open",
                          "updated_at": zendesk_time()}));
        }
    }
    let state =
        crate::helpers::polled(&app, &project, &integration, &task_id, ("done", "Badge reader at door B", 3)).await;
    assert!(state["changed"].as_i64() >= Some(1) && state["imported"].as_i64() >= Some(3), "{state}");
    assert_eq!(state["last_error"], Value::Null, "{state}");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    for subject in ["VPN drops every hour", "Invoice PDF is blank", "Badge reader at door B"] {
        assert_eq!(crate::helpers::titled(&app, &project, subject).await, 1, "{subject}");
    }
    let ticket = shared.lock().expect("lock").iter().find(|t| t["id"] == external).cloned();
    assert_eq!(ticket.map(|t| t["status"].clone()), Some(json!("solved")), "left as Zendesk has it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_polling_sqlite() {
    zendesk_polling(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_polling_postgres() {
    zendesk_polling(Backend::Postgres).await;
}

/// A push and a status change are journaled runs; undoing the change reopens the ticket
/// (Zendesk lets nothing go back to `new`), undoing the push deletes it.
async fn zendesk_undo(backend: Backend) {
    let (fake, shared, _) = fake_zendesk(&[]).await;
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let project = app.project("support").await;
    app.integration(&project, zendesk_integration(&fake)).await;
    let task_id =
        app.task(&project, json!({"title": "Refund order 1182"})).await["id"].as_str().expect("task").to_string();
    let push = finished_run(&app, &task_id, "tracker-push").await;
    let res = app.patch(&format!("/api/v1/tasks/{task_id}/status"), json!({"status": "done"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let moved = finished_run(&app, &task_id, "tracker-transition").await;
    let change = &moved["changes"][0];
    assert_eq!(
        (change["before"]["status"].as_str(), change["after"]["status"].as_str()),
        (Some("new"), Some("solved"))
    );
    let ticket = |field: &str| shared.lock().expect("lock").first().map(|t| t[field].clone());

    let undo = app.post(&format!("/api/v1/sync-runs/{}/undo", moved["id"].as_str().expect("id")), json!({})).await;
    assert_eq!(undo.status, StatusCode::OK, "{}", undo.body);
    assert_eq!(ticket("status"), Some(json!("open")), "{}", undo.body);

    // A comment goes to the ticket as a private note; undo redacts it (Zendesk deletes none).
    let res =
        app.post("/api/v1/comments", json!({"task_id": task_id, "content": "Card ending 4242", "author": "li"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let commented = finished_run(&app, &task_id, "tracker-comment").await;
    assert_eq!(commented["results"][0]["status"], "commented", "{commented}");
    let notes = || ticket("_comments").and_then(|c| c.as_array().cloned()).unwrap_or_default();
    assert_eq!(notes().len(), 1);
    assert_eq!(notes()[0]["public"], false);
    assert!(notes()[0]["body"].as_str().is_some_and(|b| b.starts_with("Card ending 4242\n\n— li, in taskbridge")));
    let undo = app.post(&format!("/api/v1/sync-runs/{}/undo", commented["id"].as_str().expect("id")), json!({})).await;
    assert_eq!(undo.status, StatusCode::OK, "{}", undo.body);
    assert_eq!(notes().len(), 1, "kept, as Zendesk keeps every comment");
    assert!(!notes()[0]["body"].as_str().unwrap_or_default().contains("4242"), "{:?}", notes());

    let undo = app.post(&format!("/api/v1/sync-runs/{}/undo", push["id"].as_str().expect("id")), json!({})).await;
    assert_eq!(undo.status, StatusCode::OK, "{}", undo.body);
    assert_eq!(undo.body["results"][0]["status"], "deleted", "{}", undo.body);
    assert!(shared.lock().expect("lock").is_empty(), "the ticket is deleted");
    assert_eq!(app.get(&format!("/api/v1/tasks/{task_id}/links")).await.body, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_undo_sqlite() {
    zendesk_undo(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_undo_postgres() {
    zendesk_undo(Backend::Postgres).await;
}

/// An OAuth install's bearer token reaches the same API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_oauth_install_pushes_tickets() {
    let (fake, shared, _) = fake_zendesk(&[]).await;
    let app = spawn_app_with(Backend::Sqlite, |c| c.allow_private_urls = true).await.expect("app");
    let project = app.project("support").await;
    let body = json!({"type": "zendesk", "settings": {"api_base_url": format!("{fake}/api/v2"), "subdomain": "acme"},
                      "secrets": {"access_token": "zd-oauth-1"}});
    app.integration(&project, body).await;
    let task_id = app.task(&project, json!({"title": "Replace the broken badge reader"})).await["id"]
        .as_str()
        .expect("task")
        .to_string();
    let links = links_of(&app, &task_id).await;
    assert_eq!(links[0]["tracker"], "zendesk", "{links}");
    assert_eq!(shared.lock().expect("lock").len(), 1);
}
