//! Jira Cloud: tasks pushed as issues through the queue against a local fake of the REST v3
//! API (search/jql, ADF descriptions, remote links, transitions, 429 with Retry-After, 400
//! validation errors), each created once and linked; Jira's signed webhooks mirrored back.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fakes::Trouble;
use crate::fakes::jira::{fake_jira, jira_time};
use crate::helpers::{Backend, TestApp, dead_jobs, finished_run, spawn_app_with};

/// The integration body connecting a project to the fake Jira at `fake`.
fn jira_integration(fake: &str) -> Value {
    json!({"type": "jira", "settings": {"site_url": fake, "email": "bot@example.org", "project_key": "OPS"},
           "secrets": {"api_token": "jira-token-1"}})
}

async fn link_of(app: &TestApp, task_id: &str) -> Value {
    for _ in 0..1200 {
        let links = app.get(&format!("/api/v1/tasks/{task_id}/links")).await.body;
        if links.as_array().is_some_and(|l| !l.is_empty()) {
            return links[0].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    Value::Null
}

async fn jira(backend: Backend) {
    // The first answer comes too late and the next is a 500: the push
    // is retried after each, and nothing is created twice.
    let (fake, shared, troubles) =
        fake_jira(&[Trouble::Slow(std::time::Duration::from_secs(3)), Trouble::Status(500)]).await;
    let Some(app) = spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.outbound_timeout_secs = 1;
    })
    .await
    else {
        return;
    };
    let project = app.project("ops").await;
    let integration = app.integration(&project, jira_integration(&fake)).await;

    // Throttled once (429, Retry-After: 1), then created, labelled with its marker, linked back.
    let res = app
        .post(
            "/api/v1/tasks",
            json!({"project_id": project, "title": "Renew the TLS certificate",
            "description": "The billing API certificate expires on Friday.\nSee the alert.", "labels": ["needs review"],
            "due_date": "2026-12-04"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let task_id = res.id();
    let link = link_of(&app, &task_id).await;
    assert_eq!(link["tracker"], "jira", "{link}");
    assert_eq!(link["external_ref"], "OPS-1");
    assert!(troubles.lock().expect("lock").is_empty(), "the slow answer and the 500 were met");
    assert_eq!(link["url"], format!("{fake}/browse/OPS-1"));
    {
        let f = shared.lock().expect("lock");
        assert_eq!(f.issues.len(), 1);
        let fields = &f.issues[0]["fields"];
        assert_eq!(fields["summary"], "Renew the TLS certificate");
        assert_eq!(fields["issuetype"]["name"], "Task");
        assert_eq!(fields["duedate"], "2026-12-04");
        assert_eq!(fields["description"]["type"], "doc", "ADF");
        assert_eq!(fields["description"]["content"][0]["content"][1]["type"], "hardBreak");
        let labels: Vec<&str> = fields["labels"].as_array().expect("labels").iter().filter_map(Value::as_str).collect();
        assert!(labels.contains(&"needs-review") && labels.contains(&format!("tb-{task_id}").as_str()), "{labels:?}");
        assert_eq!(f.remote_links.len(), 1);
        assert_eq!(f.remote_links[0].0, "OPS-1");
        assert!(
            f.remote_links[0].1["object"]["url"]
                .as_str()
                .unwrap_or_default()
                .ends_with(&format!("/api/v1/tasks/{task_id}"))
        );
    }

    // Done here: Jira's issue takes the transition that leads to a done status.
    let path = format!("/api/v1/tasks/{task_id}/status");
    let res = app.patch(&path, json!({"status": "done"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let mut done = false;
    for _ in 0..200 {
        if shared.lock().expect("lock").issues[0]["fields"]["status"]["name"] == "Done" {
            done = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(done, "the Jira issue is done");

    // Changed in Jira (reopened, assigned): its signed webhook mirrors both here, and
    // nothing is sent back.
    let patched = app
        .patch(
            &format!("/api/v1/projects/{project}/integrations/{integration}"),
            json!({"secrets": {"webhook_secret": "jira-hook-secret"}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let transitions_before = shared.lock().expect("lock").transitions;
    let event = json!({"timestamp": 1767225600000i64, "webhookEvent": "jira:issue_updated", "issue_event_type_name": "issue_generic",
        "issue": {"id": "10001", "key": "OPS-1", "fields": {"summary": "Renew the TLS certificate",
            "status": {"name": "In Progress", "statusCategory": {"key": "indeterminate"}},
            "assignee": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Ana Pérez"}}},
        "changelog": {"items": [{"field": "status", "fromString": "Done", "toString": "In Progress"}]}})
    .to_string();
    let signature = |secret: &str| {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(event.as_bytes());
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256={hex}")
    };
    let deliver = |sig: String| {
        app.raw()
            .post(format!("{}/webhooks/jira/{integration}", app.base))
            .header("content-type", "application/json")
            .header("X-Hub-Signature", sig)
            .body(event.clone())
            .send()
    };
    assert_eq!(deliver(signature("not-the-secret")).await.expect("sent").status(), StatusCode::UNAUTHORIZED);
    assert_eq!(deliver(signature("jira-hook-secret")).await.expect("sent").status(), StatusCode::OK);
    let task = app.get(&format!("/api/v1/tasks/{task_id}")).await.body;
    assert_eq!(task["status"], "in_progress", "{task}");
    assert_eq!(task["assigned_to"], "Ana Pérez");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(shared.lock().expect("lock").transitions, transitions_before, "not echoed back to Jira");

    // Jira refuses the issue (unknown project): the push fails for good, with Jira's words.
    let patched = app
        .patch(
            &format!("/api/v1/projects/{project}/integrations/{integration}"),
            json!({"settings": {"project_key": "NOPE"}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let res = app.post("/api/v1/tasks", json!({"project_id": project, "title": "Rotate the keys"})).await;
    assert_eq!(res.status, StatusCode::CREATED);
    let dead = dead_jobs(&app).await;
    let error = dead["items"][0]["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("400") && error.contains("project: valid project is required"), "{dead}");
    assert!(!error.contains("jira-token-1"));
    assert_eq!(shared.lock().expect("lock").issues.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_sqlite() {
    jira(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_postgres() {
    jira(Backend::Postgres).await;
}

/// A Jira project's existing issues become linked tasks, page by page (token pagination).
async fn jira_import(backend: Backend) {
    let (fake, shared, _) = fake_jira(&[]).await;
    {
        let mut f = shared.lock().expect("lock");
        for n in 1..=90 {
            let category = if n % 2 == 0 { "done" } else { "indeterminate" };
            f.issues.push(json!({"id": format!("{}", 20000 + n), "key": format!("OPS-{n}"), "fields": {
                "summary": format!("Existing issue {n}"), "labels": [],
                "description": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
                    {"type": "text", "text": format!("Line one of {n}")}, {"type": "hardBreak"}, {"type": "text", "text": "line two"}]}]},
                "status": {"name": "X", "statusCategory": {"key": category}}}}));
        }
    }
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let project = app.project("ops").await;
    let integration = app.integration(&project, jira_integration(&fake)).await;
    let path = format!("/api/v1/projects/{project}/integrations/{integration}/import");
    assert_eq!(app.post(&path, json!({})).await.status, StatusCode::ACCEPTED);
    let progress = crate::helpers::finished(&app, &path).await;
    assert_eq!(progress["status"], "done", "{progress}");
    assert_eq!(progress["imported"], 90);
    assert_eq!(progress["pages"], 3, "40 + 40 + 10");
    let tasks = app.get(&format!("/api/v1/tasks?project_id={project}&limit=200&q=Existing issue 7")).await.body;
    let task = tasks["items"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["title"] == "Existing issue 7"))
        .cloned()
        .expect("issue 7");
    assert_eq!(task["status"], "in_progress");
    assert_eq!(task["description"], "Line one of 7\nline two");
    let links = app.get(&format!("/api/v1/tasks/{}/links", task["id"].as_str().expect("id"))).await.body;
    assert_eq!(links[0]["external_ref"], "OPS-7");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_import_sqlite() {
    jira_import(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_import_postgres() {
    jira_import(Backend::Postgres).await;
}

/// With polling on (no webhooks configured), changes made in Jira reach taskbridge: a
/// linked issue's new status moves its task (without a transition echoed back), and an
/// issue created in Jira becomes a task.
async fn jira_polling(backend: Backend) {
    let (fake, shared, _) = fake_jira(&[]).await;
    let Some(app) = spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.tracker_poll_secs = 1;
    })
    .await
    else {
        return;
    };
    let project = app.project("ops").await;
    let integration = app.integration(&project, jira_integration(&fake)).await;
    let task_id = app.task(&project, json!({"title": "Renew the TLS certificate"})).await["id"]
        .as_str()
        .expect("task")
        .to_string();
    let link = link_of(&app, &task_id).await;
    let key = link["external_id"].as_str().expect("pushed").to_string();

    // Someone finishes the issue in Jira and files a new one there.
    let transitions_before = {
        let mut f = shared.lock().expect("lock");
        let issue = f.issues.iter_mut().find(|i| i["key"] == key.as_str()).expect("issue");
        issue["fields"]["status"] = json!({"name": "Done", "statusCategory": {"key": "done"}});
        issue["fields"]["updated"] = json!(jira_time());
        // Enough other new work for the changes to come in several pages.
        for n in 0..45 {
            f.issues.push(json!({"id": format!("{}", 21000 + n), "key": format!("OPS-{}", 100 + n),
                "fields": {"summary": format!("Routine check {n}"), "labels": [],
                           "status": {"name": "To Do", "statusCategory": {"key": "new"}}, "updated": jira_time()}}));
        }
        f.issues.push(json!({"id": "20001", "key": "OPS-77", "fields": {"summary": "Rotate the signing keys",
            "labels": [], "status": {"name": "To Do", "statusCategory": {"key": "new"}}, "updated": jira_time()}}));
        f.transitions
    };
    let state =
        crate::helpers::polled(&app, &project, &integration, &task_id, ("done", "Rotate the signing keys", 46)).await;
    assert!(
        state["polls"].as_i64().is_some_and(|p| p >= 1),
        "the task followed Jira and the new issue came in: {state}"
    );
    assert!(state["changed"].as_i64() >= Some(1) && state["imported"].as_i64() >= Some(46), "{state}");
    assert_eq!(state["last_error"], Value::Null);
    // The status came from Jira: nothing is sent back to it.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(shared.lock().expect("lock").transitions, transitions_before);
    // Imported once however many polls saw it.
    assert_eq!(crate::helpers::titled(&app, &project, "Rotate the signing keys").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_polling_sqlite() {
    jira_polling(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_polling_postgres() {
    jira_polling(Backend::Postgres).await;
}

/// A push and a status change are journaled runs; undoing the change takes the issue back
/// to the status it had by a transition of that name, undoing the push deletes the issue.
async fn jira_undo(backend: Backend) {
    let (fake, shared, _) = fake_jira(&[]).await;
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let project = app.project("ops").await;
    app.integration(&project, jira_integration(&fake)).await;
    let task_id = app.task(&project, json!({"title": "Upgrade the ingress controller"})).await["id"]
        .as_str()
        .expect("task")
        .to_string();
    let push = finished_run(&app, &task_id, "tracker-push").await;
    let res = app.patch(&format!("/api/v1/tasks/{task_id}/status"), json!({"status": "in_progress"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let moved = finished_run(&app, &task_id, "tracker-transition").await;
    let change = &moved["changes"][0];
    assert_eq!(
        (change["before"]["status"].as_str(), change["after"]["status"].as_str()),
        (Some("To Do"), Some("In Progress"))
    );
    assert_eq!(change["reference"], "OPS-1");
    let status = || shared.lock().expect("lock").issues.first().map(|i| i["fields"]["status"]["name"].clone());
    assert_eq!(status(), Some(json!("In Progress")));

    let undo = app.post(&format!("/api/v1/sync-runs/{}/undo", moved["id"].as_str().expect("id")), json!({})).await;
    assert_eq!(undo.status, StatusCode::OK, "{}", undo.body);
    assert_eq!(status(), Some(json!("To Do")), "{}", undo.body);

    // Edited here: the issue's fields follow, journaled with what they were.
    let res = app
        .patch(
            &format!("/api/v1/tasks/{task_id}"),
            json!({"title": "Upgrade the ingress controller to 1.12", "labels": ["infra"], "due_date": "2026-12-18"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let updated = finished_run(&app, &task_id, "tracker-update").await;
    assert_eq!(updated["status"], "done", "{updated}");
    let change = &updated["changes"][0];
    assert_eq!(change["before"]["fields"]["summary"], "Upgrade the ingress controller", "{change}");
    assert_eq!(change["after"]["fields"]["summary"], "Upgrade the ingress controller to 1.12", "{change}");
    let fields = || shared.lock().expect("lock").issues.first().map(|i| i["fields"].clone()).unwrap_or_default();
    assert_eq!(fields()["duedate"], "2026-12-18");
    let labels = fields()["labels"].clone();
    assert!(labels.as_array().is_some_and(|l| l.contains(&json!("infra")) && l.len() == 2), "{labels}");
    let undo = app.post(&format!("/api/v1/sync-runs/{}/undo", updated["id"].as_str().expect("id")), json!({})).await;
    assert_eq!(undo.status, StatusCode::OK, "{}", undo.body);
    assert_eq!(fields()["summary"], "Upgrade the ingress controller", "{}", undo.body);
    assert_eq!((fields()["duedate"].clone(), fields()["labels"].as_array().map(Vec::len)), (Value::Null, Some(1)));
    assert_eq!(status(), Some(json!("To Do")), "an update leaves the status alone");

    // Comments made here are written to the issue once each: the third answer is lost, and
    // the retry finds its comment by the marker (on the second page) instead of adding one.
    for text in ["Needs a maintenance window", "Staging first", "Ping #ops when done"] {
        let res = app.post("/api/v1/comments", json!({"task_id": task_id, "content": text, "author": "ana"})).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    }
    let path = format!("/api/v1/sync-runs?task_id={task_id}&kind=tracker-comment");
    let mut runs = Value::Null;
    for _ in 0..1200 {
        runs = app.get(&path).await.body["items"].clone();
        if runs.as_array().is_some_and(|r| r.len() == 3 && r.iter().all(|r| r["status"] == "done")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let comments = || shared.lock().expect("lock").comments.clone();
    let text_of = |c: &Value| c["body"]["content"][0]["content"][0]["text"].as_str().unwrap_or_default().to_string();
    let mut texts: Vec<String> = comments().iter().map(|(_, c)| text_of(c)).collect();
    texts.sort();
    assert_eq!(texts, ["Needs a maintenance window", "Ping #ops when done", "Staging first"], "{runs}");
    assert_eq!(shared.lock().expect("lock").comment_posts, 3, "no comment posted twice");
    let run = &runs[0];
    assert_eq!(run["results"][0]["status"], "commented", "{run}");
    assert_eq!(run["results"][0]["item"]["external_ref"], "OPS-1", "{run}");
    let jira_id = run["results"][0]["comment_id"].clone();
    let undo = app.post(&format!("/api/v1/sync-runs/{}/undo", run["id"].as_str().expect("id")), json!({})).await;
    assert_eq!(undo.status, StatusCode::OK, "{}", undo.body);
    assert_eq!(undo.body["results"][0]["status"], "uncommented", "{}", undo.body);
    assert_eq!(comments().len(), 2);
    assert!(!comments().iter().any(|(_, c)| c["id"] == jira_id), "the run's comment is the one deleted");

    let undo = app.post(&format!("/api/v1/sync-runs/{}/undo", push["id"].as_str().expect("id")), json!({})).await;
    assert_eq!(undo.status, StatusCode::OK, "{}", undo.body);
    assert!(shared.lock().expect("lock").issues.is_empty(), "the issue is deleted");
    assert_eq!(app.get(&format!("/api/v1/tasks/{task_id}/links")).await.body, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_undo_sqlite() {
    jira_undo(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_undo_postgres() {
    jira_undo(Backend::Postgres).await;
}

/// An OAuth install reaches Jira through the gateway for its cloud id with its bearer
/// token; links still point at the site people open.
async fn jira_oauth(backend: Backend) {
    let (fake, shared, _) = fake_jira(&[]).await;
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let project = app.project("ops").await;
    let site = format!("{fake}/site");
    app.integration(
        &project,
        json!({"type": "jira", "settings": {"site_url": site, "api_base_url": fake, "cloud_id": "cloud-1",
               "project_key": "OPS"}, "secrets": {"access_token": "jira-oauth-1"}}),
    )
    .await;
    let task_id = app.task(&project, json!({"title": "Add SSO to the admin console"})).await["id"]
        .as_str()
        .expect("task")
        .to_string();
    let link = link_of(&app, &task_id).await;
    assert_eq!(link["external_ref"], "OPS-1", "{link}");
    assert_eq!(link["url"], json!(format!("{site}/browse/OPS-1")));
    assert_eq!(shared.lock().expect("lock").issues.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_oauth_sqlite() {
    jira_oauth(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_oauth_postgres() {
    jira_oauth(Backend::Postgres).await;
}
