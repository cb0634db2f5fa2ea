//! Taiga: a task made from a request is pushed to the project's Taiga through the queue,
//! against a local fake of Taiga's REST API (login, refresh on 401, project by slug, tasks
//! filtered by tag, 201 on create, 429 with Retry-After, a 502 after the write), and linked
//! exactly once.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fakes::Trouble;
use crate::fakes::taiga::{fake_taiga, taiga_integration, taiga_time};
use crate::helpers::{Backend, TestApp, finished_run, spawn_app_with};

async fn links_of(app: &TestApp, task_id: &str) -> Value {
    let mut links = Value::Null;
    for _ in 0..1200 {
        links = app.get(&format!("/api/v1/tasks/{task_id}/links")).await.body;
        if links.as_array().is_some_and(|l| !l.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    links
}

async fn request(app: &TestApp, project: &str, text: &str) -> Value {
    let res =
        app.post("/api/v1/messages?wait=true", json!({"text": text, "project_id": project, "author": "anap"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
}

async fn taiga(backend: Backend) {
    // The first answer comes too late and the next is a 500: the push
    // is retried after each, and nothing is created twice.
    let (fake, shared, troubles) =
        fake_taiga(&[Trouble::Slow(std::time::Duration::from_secs(3)), Trouble::Status(500)]).await;
    let Some(app) = spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.outbound_timeout_secs = 1;
    })
    .await
    else {
        return;
    };
    let project = app.project("ops").await;
    let integration = app.integration(&project, taiga_integration(&fake)).await;

    // Created here, then in Taiga; the first answer is lost after Taiga wrote the task, and
    // the retry finds it by its marker tag instead of creating a second one.
    let message = request(&app, &project, "Urgent: fix the checkout 500 error by 2026-12-04 @anap").await;
    assert_eq!(message["status"], "created", "{message}");
    let task_id = message["task_id"].as_str().expect("task_id").to_string();
    let links = links_of(&app, &task_id).await;
    assert_eq!(links.as_array().map(Vec::len), Some(1), "{links}");
    assert!(troubles.lock().expect("lock").is_empty(), "the slow answer and the 500 were met");
    assert_eq!(links[0]["tracker"], "taiga");
    assert_eq!(links[0]["integration_id"], json!(integration));
    assert_eq!(links[0]["external_id"], "100");
    assert_eq!(links[0]["external_ref"], "#1");
    assert_eq!(links[0]["url"], format!("{}/project/ops/task/1", fake.trim_end_matches("/api/v1")));
    {
        let f = shared.lock().expect("lock");
        assert_eq!(f.tasks.len(), 1, "one task in Taiga");
        assert_eq!(f.creates, 1, "the retry did not create again");
        assert_eq!(f.logins, 1);
        let t = &f.tasks[0];
        assert_eq!(t["status"], 10, "todo maps to the project's `new` status");
        assert_eq!(t["assigned_to"], 5, "@anap is the Taiga member anap");
        assert_eq!(t["due_date"], "2026-12-04");
        let tags: Vec<&str> = t["tags"].as_array().expect("tags").iter().filter_map(|p| p[0].as_str()).collect();
        assert!(tags.contains(&format!("tb-{task_id}").as_str()), "{tags:?}");
        assert!(tags.contains(&"priority-high"), "{tags:?}");
        assert!(t["description"].as_str().unwrap_or_default().contains(&format!("/api/v1/tasks/{task_id}")));
    }

    // The token expires meanwhile (401): refreshed, not a second login. Taiga throttles the
    // create once (429, Retry-After: 1): it is retried after the pause.
    let second = request(&app, &project, "Add throttled export of invoices as CSV for finance").await;
    let second_id = second["task_id"].as_str().expect("task_id").to_string();
    let links = links_of(&app, &second_id).await;
    assert_eq!(links[0]["external_ref"], "#2", "{links}");
    {
        let f = shared.lock().expect("lock");
        assert_eq!((f.logins, f.refreshes), (1, 1));
        assert_eq!(f.tasks.len(), 2);
    }

    // Tasks made through the API, and through the replaced service's `/taiga/create-task`,
    // go to Taiga too.
    let res = app.post("/api/v1/tasks", json!({"project_id": project, "title": "Archive the 2025 audit logs"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let links = links_of(&app, &res.id()).await;
    assert_eq!(links[0]["external_ref"], "#3", "{links}");
    assert_eq!(shared.lock().expect("lock").tasks[2]["subject"], "Archive the 2025 audit logs");
    let legacy = json!({"title": "Rotate the VPN pre-shared key", "description": "quarterly", "project_id": project});
    let res = app.post("/taiga/create-task", legacy).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(links_of(&app, &res.id()).await[0]["external_ref"], "#4");
    let with_team = json!({"title": "Plan the office move", "team_name": "Move crew", "project_id": project});
    let res = app.post("/teams/create-task-with-team", with_team).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let moved = res.body["task"]["id"].as_str().expect("task id").to_string();
    assert_eq!(links_of(&app, &moved).await[0]["external_ref"], "#5");
    // The replaced service found the team by Taiga's id of the task; both ids work.
    let taiga_id = links_of(&app, &moved).await[0]["external_id"].as_str().expect("taiga id").to_string();
    for key in [&moved, &taiga_id] {
        let team = app.get(&format!("/teams/team-by-task/{key}")).await;
        assert_eq!(team.status, StatusCode::OK, "{key}: {}", team.body);
        assert_eq!(team.body["name"], "Move crew", "{}", team.body);
    }
    assert_eq!(app.get("/teams/team-by-task/999999").await.status, StatusCode::NOT_FOUND);

    // A duplicate request adds to the existing task and pushes nothing.
    let again = request(&app, &project, "Urgent: fix the checkout 500 error by 2026-12-04 @anap").await;
    assert_eq!(again["status"], "duplicate", "{again}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(shared.lock().expect("lock").tasks.len(), 5);
    // ... and its "also requested" comment reaches the linked Taiga task.
    let mut noted = Vec::new();
    for _ in 0..400 {
        noted = shared.lock().expect("lock").history.clone();
        if !noted.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(noted.len(), 1, "{noted:?}");
    assert_eq!(noted[0].0, 100, "on the existing item");
    assert!(noted[0].1["comment"].as_str().is_some_and(|c| c.starts_with("Also requested by anap")), "{noted:?}");

    // Status both ways. Changed here: the linked Taiga task follows, through the queue.
    let path = format!("/api/v1/tasks/{task_id}/status");
    let res = app.patch(&path, json!({"status": "in_progress"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let mut followed = false;
    for _ in 0..200 {
        if shared.lock().expect("lock").tasks[0]["status"] == 11 {
            followed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(followed, "Taiga's task is in progress: {:?}", shared.lock().expect("lock").tasks[0]);
    // Changed in Taiga: its webhook (HMAC-SHA1 with the webhook key) moves the task here,
    // and nothing is sent back to Taiga.
    let patched = app
        .patch(
            &format!("/api/v1/projects/{project}/integrations/{integration}"),
            json!({"secrets": {"webhook_key": "taiga-webhook-key"}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let patches_before = shared.lock().expect("lock").patches;
    let change = json!({"action": "change", "type": "task", "by": {"username": "anap"}, "date": "2026-11-23T10:00:00Z",
        "data": {"id": 100, "ref": 1, "subject": "x", "status": {"id": 12, "name": "Closed", "slug": "closed", "is_closed": true}},
        "change": {"diff": {"status": {"from": "In progress", "to": "Closed"}}}})
    .to_string();
    let sign = |key: &str| {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).expect("key");
        mac.update(change.as_bytes());
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let hook = |signature: String| {
        app.raw()
            .post(format!("{}/webhooks/taiga/{integration}", app.base))
            .header("content-type", "application/json")
            .header("X-TAIGA-WEBHOOK-SIGNATURE", signature)
            .body(change.clone())
            .send()
    };
    assert_eq!(hook(sign("wrong-key")).await.expect("sent").status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.get(&format!("/api/v1/tasks/{task_id}")).await.body["status"], "in_progress");
    assert_eq!(hook(sign("taiga-webhook-key")).await.expect("sent").status(), StatusCode::OK);
    assert_eq!(app.get(&format!("/api/v1/tasks/{task_id}")).await.body["status"], "done");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(shared.lock().expect("lock").patches, patches_before, "the change is not echoed back");

    // A project Taiga does not know: the push fails for good, with Taiga's words.
    let patched = app
        .patch(
            &format!("/api/v1/projects/{project}/integrations/{integration}"),
            json!({"settings": {"project_slug": "no-such-project"}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    request(&app, &project, "Renew the TLS certificate of the billing API").await;
    let dead = crate::helpers::dead_jobs(&app).await;
    let error = dead["items"][0]["last_error"].as_str().unwrap_or_default();
    assert_eq!(dead["items"][0]["kind"], "tracker.push", "{dead}");
    assert!(error.contains("404") && error.contains("No Project matches the given query."), "{error}");
    assert!(!error.contains("taiga-pw-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taiga_sqlite() {
    taiga(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taiga_postgres() {
    taiga(Backend::Postgres).await;
}

/// Work already tracked in Taiga is imported, page by page, as linked tasks, so a request
/// for the same work is recognised as a duplicate; items pushed from here are skipped.
async fn taiga_import(backend: Backend) {
    let (fake, shared, _) = fake_taiga(&[]).await;
    {
        let mut f = shared.lock().expect("lock");
        for n in 0..150i64 {
            let subject = if n == 42 {
                "Migrate the build servers to the new datacenter".to_string()
            } else {
                format!("Routine item {n}")
            };
            f.tasks.push(json!({"id": 500 + n, "ref": 1000 + n, "version": 1, "subject": subject,
                "description": format!("Existing work {n}"), "status": if n % 3 == 0 { 12 } else { 10 },
                "tags": if n == 7 { json!([["tb-0192a8d2-7f3e-7a11-9c3b-1b2c3d4e5f60", null]]) } else { json!([]) },
                "due_date": null, "is_closed": n % 3 == 0}));
        }
    }
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let project = app.project("ops").await;
    let integration = app.integration(&project, taiga_integration(&fake)).await;
    let path = format!("/api/v1/projects/{project}/integrations/{integration}/import");
    assert_eq!(app.get(&path).await.status, StatusCode::NOT_FOUND);
    let started = app.post(&path, json!({})).await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
    let mut progress;
    progress = crate::helpers::finished(&app, &path).await;
    assert_eq!(progress["status"], "done", "{progress}");
    assert_eq!((progress["imported"].as_i64(), progress["skipped"].as_i64()), (Some(149), Some(1)), "{progress}");
    assert_eq!(progress["pages"], 2);
    let tasks = app.get(&format!("/api/v1/tasks?project_id={project}&limit=200")).await.body;
    let items = tasks["items"].as_array().expect("items");
    assert_eq!(items.len(), 149);
    assert_eq!(items.iter().filter(|t| t["status"] == "done").count(), 50, "closed items are done");
    let links = app.get(&format!("/api/v1/tasks/{}/links", items[0]["id"].as_str().expect("id"))).await.body;
    assert_eq!(links[0]["tracker"], "taiga", "{links}");

    // A request for work Taiga already has is a duplicate; nothing new goes to Taiga.
    let message = request(&app, &project, "we need to migrate the build servers to the new datacenter").await;
    assert_eq!(message["status"], "duplicate", "{message}");
    let linked = app.get(&format!("/api/v1/tasks/{}/links", message["task_id"].as_str().expect("task"))).await.body;
    assert_eq!(linked[0]["external_id"], "542", "{linked}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(shared.lock().expect("lock").creates, 0);

    // Again: everything is linked already.
    assert_eq!(app.post(&path, json!({})).await.status, StatusCode::ACCEPTED);
    progress = crate::helpers::finished(&app, &path).await;
    assert_eq!((progress["imported"].as_i64(), progress["skipped"].as_i64()), (Some(0), Some(150)), "{progress}");
    let other = app.project("other").await;
    let not_tracker = app
        .post(
            &format!("/api/v1/projects/{other}/integrations"),
            json!({"type": "telegram", "secrets": {"secret_token": "x1234567"}}),
        )
        .await
        .id();
    let res = app.post(&format!("/api/v1/projects/{other}/integrations/{not_tracker}/import"), json!({})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taiga_import_sqlite() {
    taiga_import(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taiga_import_postgres() {
    taiga_import(Backend::Postgres).await;
}

/// With polling on, changes made in Taiga come in: only items modified since the
/// integration was added are asked for; a linked task follows its item's status (nothing
/// is patched back) and a new item becomes a task, once.
async fn taiga_polling(backend: Backend) {
    let (fake, shared, _) = fake_taiga(&[]).await;
    {
        let mut f = shared.lock().expect("lock");
        f.tasks.push(json!({"id": 301, "ref": 31, "version": 1, "subject": "Renew the TLS certificate",
            "description": "", "status": 10, "tags": [], "due_date": null, "is_closed": false,
            "modified_date": "2025-01-11T09:00:00.000Z"}));
    }
    let Some(app) = spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.tracker_poll_secs = 1;
    })
    .await
    else {
        return;
    };
    let project = app.project("ops").await;
    let integration = app.integration(&project, taiga_integration(&fake)).await;
    // The certificate item is linked by an import.
    let path = format!("/api/v1/projects/{project}/integrations/{integration}/import");
    assert_eq!(app.post(&path, json!({})).await.status, StatusCode::ACCEPTED);
    assert_eq!(crate::helpers::finished(&app, &path).await["imported"], 1);
    let tasks = app.get(&format!("/api/v1/tasks?project_id={project}")).await.body;
    let task_id = tasks["items"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["title"] == "Renew the TLS certificate"))
        .and_then(|t| t["id"].as_str())
        .expect("imported")
        .to_string();

    // In Taiga, the certificate is closed and a new item is filed.
    let patches_before = {
        let mut f = shared.lock().expect("lock");
        let item = f.tasks.iter_mut().find(|t| t["id"] == 301).expect("item");
        item["status"] = json!(12);
        item["is_closed"] = json!(true);
        item["modified_date"] = json!(taiga_time());
        // Old, unchanged work is the import's business, not the poll's.
        f.tasks.push(json!({"id": 300, "ref": 30, "version": 3, "subject": "Clean up the wiki", "description": "",
            "status": 10, "tags": [], "due_date": null, "is_closed": false, "modified_date": "2025-01-10T09:00:00.000Z"}));
        f.tasks.push(json!({"id": 302, "ref": 32, "version": 1, "subject": "Rotate the signing keys",
            "description": "before the audit", "status": 10, "tags": [], "due_date": null, "is_closed": false,
            "modified_date": taiga_time()}));
        f.patches
    };
    let state =
        crate::helpers::polled(&app, &project, &integration, &task_id, ("done", "Rotate the signing keys", 1)).await;
    assert!(state["changed"].as_i64() >= Some(1) && state["imported"].as_i64() >= Some(1), "{state}");
    assert_eq!(state["last_error"], Value::Null, "{state}");
    assert!(shared.lock().expect("lock").change_lists >= 1, "polls ask only for what changed");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(shared.lock().expect("lock").patches, patches_before, "nothing echoed back to Taiga");
    assert_eq!(crate::helpers::titled(&app, &project, "Rotate the signing keys").await, 1);
    assert_eq!(crate::helpers::titled(&app, &project, "Clean up the wiki").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taiga_polling_sqlite() {
    taiga_polling(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taiga_polling_postgres() {
    taiga_polling(Backend::Postgres).await;
}

/// A push is a journaled sync run: its link names the run, the run explains what was
/// created where, and undoing it deletes the item and the link, once however often asked.
async fn taiga_push_undo(backend: Backend) {
    let (fake, shared, _) = fake_taiga(&[]).await;
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let project = app.project("ops").await;
    app.integration(&project, taiga_integration(&fake)).await;
    let task_id = app.task(&project, json!({"title": "Renew the TLS certificate"})).await["id"]
        .as_str()
        .expect("task")
        .to_string();
    let links = links_of(&app, &task_id).await;
    let run_id = links[0]["sync_run_id"].as_str().expect("the push is a run").to_string();

    let run = app.get(&format!("/api/v1/sync-runs/{run_id}")).await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.body);
    assert_eq!((run.body["kind"].as_str(), run.body["status"].as_str()), (Some("tracker-push"), Some("done")));
    let changes = run.body["changes"].as_array().expect("journal");
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!((changes[0]["action"].as_str(), changes[0]["target"].as_str()), (Some("created"), Some("taiga")));
    assert_eq!(changes[0]["reference"], links[0]["external_ref"]);
    assert_eq!(changes[0]["after"]["external_id"], links[0]["external_id"]);

    let undo = app.post(&format!("/api/v1/sync-runs/{run_id}/undo"), json!({})).await;
    assert_eq!(undo.status, StatusCode::OK, "{}", undo.body);
    assert_eq!(undo.body["results"][0]["status"], "deleted", "{}", undo.body);
    let undo_id = undo.body["run_id"].as_str().expect("undo run").to_string();
    assert!(shared.lock().expect("lock").tasks.is_empty(), "the item is gone from Taiga");
    assert_eq!(app.get(&format!("/api/v1/tasks/{task_id}/links")).await.body, json!([]));
    assert_eq!(app.get(&format!("/api/v1/tasks/{task_id}")).await.status, StatusCode::OK, "the task stays here");
    let detail = app.get(&format!("/api/v1/sync-runs/{undo_id}")).await.body;
    assert_eq!(detail["changes"][0]["action"], "deleted", "{detail}");
    assert_eq!(detail["changes"][0]["before"]["external_id"], changes[0]["after"]["external_id"]);
    assert_eq!(app.get(&format!("/api/v1/sync-runs/{run_id}")).await.body["undone_by"], json!(undo_id));

    // Asked again: the same undo answers, nothing more is deleted.
    let again = app.post(&format!("/api/v1/sync-runs/{run_id}/undo"), json!({})).await;
    assert_eq!((again.status, again.body["run_id"].as_str()), (StatusCode::OK, Some(undo_id.as_str())));
    assert_eq!(shared.lock().expect("lock").deletes, 1);
    // An undo run is not itself undone this way.
    let res = app.post(&format!("/api/v1/sync-runs/{undo_id}/undo"), json!({})).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taiga_push_undo_sqlite() {
    taiga_push_undo(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taiga_push_undo_postgres() {
    taiga_push_undo(Backend::Postgres).await;
}

/// A status change pushed to Taiga is a journaled run with the item's status before and
/// after; undoing it moves the item back (once), and a task's runs are listed by task.
async fn taiga_transition_undo(backend: Backend) {
    let (fake, shared, _) = fake_taiga(&[]).await;
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let project = app.project("ops").await;
    app.integration(&project, taiga_integration(&fake)).await;
    let task_id =
        app.task(&project, json!({"title": "Rotate the backup keys"})).await["id"].as_str().expect("task").to_string();
    let push = finished_run(&app, &task_id, "tracker-push").await;
    let res = app.patch(&format!("/api/v1/tasks/{task_id}/status"), json!({"status": "in_progress"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);

    let moved = finished_run(&app, &task_id, "tracker-transition").await;
    assert_eq!(moved["status"], "done", "{moved}");
    assert_eq!(moved["task_id"], json!(task_id));
    let change = &moved["changes"][0];
    assert_eq!((change["action"].as_str(), change["target"].as_str()), (Some("transitioned"), Some("taiga")));
    assert_eq!(
        (change["before"]["status"].as_str(), change["after"]["status"].as_str()),
        (Some("New"), Some("In progress"))
    );
    assert_eq!(shared.lock().expect("lock").tasks[0]["status"], 11);

    let run_id = moved["id"].as_str().expect("run id");
    let undo = app.post(&format!("/api/v1/sync-runs/{run_id}/undo"), json!({})).await;
    assert_eq!(undo.status, StatusCode::OK, "{}", undo.body);
    assert_eq!(undo.body["results"][0]["status"], "restored", "{}", undo.body);
    assert_eq!(undo.body["results"][0]["item"]["status"], "New", "{}", undo.body);
    assert_eq!(shared.lock().expect("lock").tasks[0]["status"], 10, "the item is back where it was");
    assert_eq!(shared.lock().expect("lock").tasks.len(), 1, "nothing else was touched");
    let undo_id = undo.body["run_id"].as_str().expect("undo run").to_string();
    let patches = shared.lock().expect("lock").patches;
    let again = app.post(&format!("/api/v1/sync-runs/{run_id}/undo"), json!({})).await;
    assert_eq!((again.status, again.body["run_id"].as_str()), (StatusCode::OK, Some(undo_id.as_str())));
    assert_eq!(shared.lock().expect("lock").patches, patches, "asked again, nothing more is sent");
    // The task here keeps the status it was given.
    assert_eq!(app.get(&format!("/api/v1/tasks/{task_id}")).await.body["status"], "in_progress");

    // The task's runs, newest first, a page at a time.
    let all = app.get(&format!("/api/v1/sync-runs?task_id={task_id}")).await.body;
    let ids: Vec<&str> = all["items"].as_array().expect("runs").iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids, [undo_id.as_str(), run_id, push["id"].as_str().expect("push")], "{all}");
    let first = app.get(&format!("/api/v1/sync-runs?task_id={task_id}&limit=2")).await.body;
    assert_eq!(first["items"].as_array().map(Vec::len), Some(2));
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let rest = app.get(&format!("/api/v1/sync-runs?task_id={task_id}&limit=2&cursor={cursor}")).await.body;
    assert_eq!(rest["items"][0]["id"], push["id"], "{rest}");
    assert_eq!(rest["next_cursor"], Value::Null);
    let of_project = app.get(&format!("/api/v1/sync-runs?project_id={project}&kind=undo")).await.body;
    assert_eq!(of_project["items"].as_array().map(Vec::len), Some(1), "{of_project}");
    assert_eq!(app.get("/api/v1/sync-runs?limit=0").await.status, StatusCode::BAD_REQUEST);

    // Edited here: the item's fields follow (the marker kept), and undo puts them back.
    let res = app
        .patch(&format!("/api/v1/tasks/{task_id}"), json!({"description": "Before the audit.", "assigned_to": "anap"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let updated = finished_run(&app, &task_id, "tracker-update").await;
    assert_eq!(updated["status"], "done", "{updated}");
    let item = || shared.lock().expect("lock").tasks[0].clone();
    assert_eq!(item()["assigned_to"], 5, "@anap is the project member");
    assert!(item()["description"].as_str().is_some_and(|d| d.starts_with("Before the audit.")), "{}", item());
    assert!(item()["tags"].as_array().is_some_and(|t| t.iter().any(|p| p[0] == format!("tb-{task_id}"))));
    let undo = app.post(&format!("/api/v1/sync-runs/{}/undo", updated["id"].as_str().expect("id")), json!({})).await;
    assert_eq!(undo.status, StatusCode::OK, "{}", undo.body);
    assert_eq!(item()["assigned_to"], Value::Null, "{}", undo.body);
    assert!(!item()["description"].as_str().unwrap_or_default().contains("Before the audit."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taiga_transition_undo_sqlite() {
    taiga_transition_undo(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taiga_transition_undo_postgres() {
    taiga_transition_undo(Backend::Postgres).await;
}

/// Many workers hide a slow Taiga's latency, but no more than the integration's
/// `max_in_flight` writes reach it at once. (The fake's first token expires after two calls:
/// the calls in flight that meet the expiry renew it once between them.)
async fn taiga_writes_in_flight(backend: Backend) {
    let (fake, shared, _) = fake_taiga(&[]).await;
    shared.lock().expect("lock").create_delay = Duration::from_millis(150);
    let Some(app) = spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.workers = 8;
    })
    .await
    else {
        return;
    };
    let project = app.project("ops").await;
    let mut refused = taiga_integration(&fake);
    refused["settings"]["max_in_flight"] = json!(0);
    let res = app.post(&format!("/api/v1/projects/{project}/integrations"), refused).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);

    let mut limited = taiga_integration(&fake);
    limited["settings"]["max_in_flight"] = json!(2);
    app.integration(&project, limited).await;
    let mut tasks = Vec::new();
    for n in 0..10 {
        let task = app.task(&project, json!({"title": format!("Rotate the key of service {n}")})).await;
        tasks.push(task["id"].as_str().expect("task").to_string());
    }
    for task_id in &tasks {
        assert_eq!(links_of(&app, task_id).await.as_array().map(Vec::len), Some(1), "{task_id} pushed once");
    }
    let fake = shared.lock().expect("lock");
    assert_eq!(fake.tasks.len(), 10, "one item per task");
    assert_eq!(fake.most_creating, 2, "two at a time: in parallel, and never more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taiga_writes_in_flight_sqlite() {
    taiga_writes_in_flight(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taiga_writes_in_flight_postgres() {
    taiga_writes_in_flight(Backend::Postgres).await;
}

/// A task edited while its Taiga item is being made: the edit found no item to update, so
/// the push writes it once the item exists. Taiga ends with the task as it is here. (The
/// fake loses its first create's answer: the item the retry finds was made before the edit.)
async fn an_edit_during_the_push_reaches_taiga(backend: Backend) {
    let (fake, shared, _) = fake_taiga(&[]).await;
    shared.lock().expect("lock").create_delay = Duration::from_millis(400);
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let project = app.project("ops").await;
    app.integration(&project, taiga_integration(&fake)).await;
    let task = app.task(&project, json!({"title": "Rotate the TLS certificate"})).await;
    let task_id = task["id"].as_str().expect("task").to_string();
    for _ in 0..400 {
        if shared.lock().expect("lock").creating == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(shared.lock().expect("lock").creating, 1, "the item is being made");
    let res = app
        .patch(
            &format!("/api/v1/tasks/{task_id}"),
            json!({"title": "Rotate the TLS certificate of the API", "status": "in_progress"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(links_of(&app, &task_id).await.as_array().map(Vec::len), Some(1));
    let mut item = Value::Null;
    for _ in 0..400 {
        item = shared.lock().expect("lock").tasks.first().cloned().unwrap_or_default();
        if item["subject"] == "Rotate the TLS certificate of the API" && shared.lock().expect("lock").patches >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(item["subject"], "Rotate the TLS certificate of the API", "{item}");
    let fake = shared.lock().expect("lock");
    assert_eq!(fake.tasks.len(), 1, "one item");
    assert!(fake.patches >= 2, "the fields and the status were written: {} patches", fake.patches);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_during_the_push_reaches_taiga_sqlite() {
    an_edit_during_the_push_reaches_taiga(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_during_the_push_reaches_taiga_postgres() {
    an_edit_during_the_push_reaches_taiga(Backend::Postgres).await;
}
