use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, both_backends};

async fn tasks_have_full_crud(app: TestApp) {
    let project = app.project("Beta").await;
    let res = app
        .post(
            "/api/v1/tasks",
            json!({
                "project_id": project, "title": "Add OAuth2 login", "description": "Blocking the beta",
                "priority": "high", "assigned_to": "ana", "time_estimate": 240, "due_date": "2026-11-27",
                "labels": ["backend", "auth"]
            }),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let id = res.id();
    assert_eq!(res.body["status"], "todo");
    assert_eq!(res.body["time_spent"], 0);
    assert_eq!(res.body["labels"], json!(["auth", "backend"]));

    let got = app.get(&format!("/api/v1/tasks/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, res.body, "a read returns exactly what the create answered");

    let res = app
        .patch(
            &format!("/api/v1/tasks/{id}"),
            json!({"title": "Add OAuth2 login (Google)", "assigned_to": null, "time_spent": 90,
                   "due_date": null, "labels": ["auth"]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["title"], "Add OAuth2 login (Google)");
    assert_eq!(res.body["assigned_to"], Value::Null);
    assert_eq!(res.body["due_date"], Value::Null);
    assert_eq!(res.body["time_spent"], 90);
    assert_eq!(res.body["time_estimate"], 240, "fields left out stay");
    assert_eq!(res.body["labels"], json!(["auth"]));

    let res = app.patch(&format!("/api/v1/tasks/{id}/status"), json!({"status": "in_progress"})).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["status"], "in_progress");
    let res = app.patch(&format!("/api/v1/tasks/{id}/status"), json!({"status": "closed"})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get(&format!("/api/v1/tasks/{id}")).await.body["status"], "in_progress");

    assert_eq!(app.delete(&format!("/api/v1/tasks/{id}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("/api/v1/tasks/{id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&format!("/api/v1/tasks/{id}")).await.status, StatusCode::NOT_FOUND);
    let res = app.patch(&format!("/api/v1/tasks/{id}/status"), json!({"status": "done"})).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}
both_backends!(tasks_have_full_crud);

async fn a_task_needs_an_existing_project(app: TestApp) {
    let res = app.post("/api/v1/tasks", json!({"project_id": "nope", "title": "x"})).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.code(), "not_found");
    assert!(res.body["error"]["message"].as_str().unwrap_or_default().contains("project"));
    assert_eq!(app.get("/api/v1/tasks").await.body["items"], json!([]));
}
both_backends!(a_task_needs_an_existing_project);

fn ids(res: &Value) -> Vec<String> {
    res["items"].as_array().expect("items").iter().map(|t| t["title"].as_str().expect("title").to_string()).collect()
}

async fn task_lists_filter(app: TestApp) {
    let p1 = app.project("one").await;
    let p2 = app.project("two").await;
    app.task(
        &p1,
        json!({"title": "Fix login bug", "priority": "high", "assigned_to": "ana",
                         "due_date": "2026-11-20", "labels": ["bug"]}),
    )
    .await;
    app.task(
        &p1,
        json!({"title": "Write docs", "description": "The LOGIN page too", "status": "in_progress",
                         "assigned_to": "bo", "due_date": "2026-12-20"}),
    )
    .await;
    app.task(&p1, json!({"title": "50% off banner", "status": "done", "priority": "low", "labels": ["ui", "bug"]}))
        .await;
    app.task(&p2, json!({"title": "Other project", "assigned_to": "ana"})).await;

    let cases: &[(&str, &[&str])] = &[
        ("", &["Fix login bug", "Write docs", "50% off banner", "Other project"]),
        ("project_id=PROJECT1", &["Fix login bug", "Write docs", "50% off banner"]),
        ("status=todo", &["Fix login bug", "Other project"]),
        ("status=in_progress,done", &["Write docs", "50% off banner"]),
        ("assigned_to=ana", &["Fix login bug", "Other project"]),
        ("label=bug", &["Fix login bug", "50% off banner"]),
        ("label=ui&status=done", &["50% off banner"]),
        ("priority=high,low", &["Fix login bug", "50% off banner"]),
        ("due_before=2026-11-20", &["Fix login bug"]),
        ("due_before=2026-12-31", &["Fix login bug", "Write docs"]),
        ("q=login", &["Fix login bug", "Write docs"]),
        ("q=50%25", &["50% off banner"]),
        ("q=5_%25", &[]),
        ("label=nothing", &[]),
    ];
    for (query, expected) in cases {
        let query = query.replace("PROJECT1", &p1);
        let res = app.get(&format!("/api/v1/tasks?{query}")).await;
        assert_eq!(res.status, StatusCode::OK, "{query}: {}", res.body);
        assert_eq!(ids(&res.body), *expected, "filter {query}");
    }
}
both_backends!(task_lists_filter);

async fn bad_list_queries_are_refused(app: TestApp) {
    for query in [
        "status=closed",
        "priority=urgent",
        "due_before=friday",
        "sort=colour",
        "limit=0",
        "limit=201",
        "limit=abc",
        "cursor=garbage",
    ] {
        let res = app.get(&format!("/api/v1/tasks?{query}")).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{query}: {}", res.body);
        assert_eq!(res.code(), "invalid_query", "{query}");
    }
}
both_backends!(bad_list_queries_are_refused);

/// Walks every page of `sort` two at a time.
async fn walk(app: &TestApp, sort: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/tasks?limit=2&sort={sort}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let res = app.get(&path).await;
        assert_eq!(res.status, StatusCode::OK, "{sort}: {}", res.body);
        let items = res.body["items"].as_array().expect("items");
        assert!(items.len() <= 2);
        out.extend(items.iter().map(|t| t["title"].as_str().expect("title").to_string()));
        match res.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

async fn every_sort_pages_through_all_tasks_in_order(app: TestApp) {
    let p = app.project("sorting").await;
    // Ties on every key, and missing due dates, test the id tie-break.
    let specs = [
        ("a", "high", Some("2026-12-03")),
        ("c", "low", None),
        ("b", "high", Some("2026-12-01")),
        ("e", "medium", Some("2026-12-01")),
        ("d", "low", Some("2026-12-02")),
        ("b", "medium", None),
    ];
    let mut titles_by_id = Vec::new();
    for (title, priority, due) in specs {
        let t = app.task(&p, json!({"title": title, "priority": priority, "due_date": due})).await;
        titles_by_id.push(t["title"].as_str().expect("title").to_string());
    }
    let expected: &[(&str, &[&str])] = &[
        ("created_at", &["a", "c", "b", "e", "d", "b"]),
        ("-created_at", &["b", "d", "e", "b", "c", "a"]),
        ("title", &["a", "b", "b", "c", "d", "e"]),
        ("-title", &["e", "d", "c", "b", "b", "a"]),
        ("priority", &["c", "d", "e", "b", "a", "b"]),
        ("-priority", &["b", "a", "b", "e", "d", "c"]),
        ("due_date", &["b", "e", "d", "a", "c", "b"]),
        ("-due_date", &["b", "c", "a", "d", "e", "b"]),
        ("updated_at", &["a", "c", "b", "e", "d", "b"]),
    ];
    for (sort, want) in expected {
        assert_eq!(walk(&app, sort).await, *want, "sort {sort}");
    }
    // A cursor belongs to its sort.
    let first = app.get("/api/v1/tasks?limit=2&sort=title").await;
    let cursor = first.body["next_cursor"].as_str().expect("more pages");
    let res = app.get(&format!("/api/v1/tasks?limit=2&sort=priority&cursor={cursor}")).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
}
both_backends!(every_sort_pages_through_all_tasks_in_order);

/// What one tenant writes on a line others read cannot pretend to be something else:
/// control and text-direction characters are refused in titles and names (nothing is
/// stored), kept in free text, and left out of titles drafted from requests.
async fn lines_others_read_refuse_disguising_characters(app: TestApp) {
    let project = app.project("clean").await;
    let refused = [
        ("/api/v1/tasks", json!({"project_id": project, "title": "Invoice \u{202E}fdp.exe"})),
        ("/api/v1/tasks", json!({"project_id": project, "title": "Red \u{1b}[31malert"})),
        ("/api/v1/tasks", json!({"project_id": project, "title": "ok", "assigned_to": "ana\u{2066}"})),
        ("/api/v1/tasks", json!({"project_id": project, "title": "ok", "labels": ["bug\u{7}"]})),
        ("/api/v1/projects", json!({"name": "Fin\u{202D}ance"})),
        ("/api/v1/labels", json!({"project_id": project, "name": "x\u{8}y"})),
        ("/api/v1/tenants", json!({"name": "Acme\u{202E}"})),
        ("/api/v1/api-keys", json!({"name": "bot\u{0}"})),
    ];
    for (path, body) in refused {
        let res = app.post(path, body.clone()).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{path} {body}: {}", res.body);
        assert_eq!(res.code(), "validation_failed");
    }
    assert_eq!(app.get(&format!("/api/v1/tasks?project_id={project}")).await.body["items"], json!([]));
    assert_eq!(app.get("/api/v1/projects").await.body["items"].as_array().map(Vec::len), Some(1));

    let task = app
        .task(&project, json!({"title": "Résumé – 日本語 עברית", "description": "quote: \u{202E}abc\nline two"}))
        .await;
    assert_eq!(task["title"], "Résumé – 日本語 עברית");
    assert_eq!(task["description"], "quote: \u{202E}abc\nline two", "free text is kept as written");
    let id = task["id"].as_str().expect("id");
    let res = app.patch(&format!("/api/v1/tasks/{id}"), json!({"title": "now \u{202E}spoofed"})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get(&format!("/api/v1/tasks/{id}")).await.body["title"], "Résumé – 日本語 עברית");

    let m = app
        .post(
            "/api/v1/messages?wait=true",
            json!({"project_id": project, "text": "Please rename the \u{202E}fdp.exe attachment"}),
        )
        .await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.body);
    let title = m.body["draft"]["title"].as_str().unwrap_or_default().to_string();
    assert!(!title.contains('\u{202E}') && title.contains("fdp.exe"), "{title}");
}
both_backends!(lines_others_read_refuse_disguising_characters);

/// A change's tracker jobs are made for the links the service read; when the task's links
/// are no longer those as the change is applied, the store writes nothing and says so, and
/// the service makes the jobs again.
async fn an_update_made_for_other_links_writes_nothing(app: TestApp) {
    use taskbridge::store::{Store, StoreOptions, Updated};
    let project = app.project("links").await;
    let task = app.task(&project, json!({"title": "Replace the UPS battery"})).await;
    let id = taskbridge::domain::id::TaskId::from(task["id"].as_str().expect("id"));
    let store = Store::connect(&app.database_url, &StoreOptions::default()).await.expect("store");
    let tenant = &taskbridge::domain::tenant::default_tenant();
    let patch =
        taskbridge::domain::task::TaskPatch { title: Some("Replace both UPS batteries".into()), ..Default::default() };
    let seen = [("an-integration".into(), "item-1".to_string())];
    let stale = store.update_task_syncing(tenant, &id, &patch, &seen, &[]).await.expect("update");
    assert!(matches!(stale, Updated::LinksChanged), "{stale:?}");
    assert_eq!(app.get(&format!("/api/v1/tasks/{id}")).await.body["title"], "Replace the UPS battery");
    let done = store.update_task_syncing(tenant, &id, &patch, &[], &[]).await.expect("update");
    assert!(matches!(done, Updated::Task(ref t) if t.title == "Replace both UPS batteries"), "{done:?}");
}
both_backends!(an_update_made_for_other_links_writes_nothing);
