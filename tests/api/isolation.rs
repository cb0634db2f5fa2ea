//! A key never sees another tenant's data: every route, with tenant B's key, on tenant A's
//! objects, answers 404 and changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, both_backends};

async fn snapshot(app: &TestApp, ids: &[(&str, &str)]) -> Vec<Value> {
    let mut out = Vec::new();
    for (kind, id) in ids {
        out.push(app.get(&format!("/api/v1/{kind}/{id}")).await.body);
    }
    for list in
        ["/api/v1/projects", "/api/v1/tasks", "/api/v1/labels", "/api/v1/comments", "/api/v1/api-keys", "/api/v1/jobs"]
    {
        out.push(app.get(list).await.body);
    }
    out
}

async fn another_tenant_sees_nothing_and_changes_nothing(app: TestApp) {
    // Tenant A is the default tenant.
    let project = app.project("A's project").await;
    let task = app.task(&project, json!({"title": "A's task", "assigned_to": "ana", "labels": ["secret"]})).await;
    let task = task["id"].as_str().expect("id").to_string();
    let comment = app.post("/api/v1/comments", json!({"task_id": task, "content": "A's comment"})).await.id();
    let label = app.get("/api/v1/labels").await.body["items"][0]["id"].as_str().expect("label").to_string();
    let a_key_id = app.get("/api/v1/api-keys").await.body["items"][0]["id"].as_str().expect("key").to_string();
    let message =
        app.post("/api/v1/messages?wait=true", json!({"project_id": project, "text": "A's request"})).await.id();
    let job = app.get("/api/v1/jobs").await.body["items"][0]["id"].as_str().expect("job").to_string();
    let ids = [
        ("projects", project.as_str()),
        ("tasks", task.as_str()),
        ("comments", comment.as_str()),
        ("labels", label.as_str()),
    ];
    let before = snapshot(&app, &ids).await;

    let b_key =
        app.post("/api/v1/tenants", json!({"name": "B"})).await.body["api_key"].as_str().expect("key").to_string();
    let b = app.with_key(&b_key);

    let p = format!("/api/v1/projects/{project}");
    let t = format!("/api/v1/tasks/{task}");
    let c = format!("/api/v1/comments/{comment}");
    let l = format!("/api/v1/labels/{label}");
    let k = format!("/api/v1/api-keys/{a_key_id}");
    let lp = format!("/api/projects/{project}");
    let lt = format!("/api/tasks/{task}");
    let lc = format!("/api/comments/{comment}");
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, p.clone(), None),
        (Method::PATCH, p.clone(), Some(json!({"name": "stolen"}))),
        (Method::DELETE, p.clone(), None),
        (Method::POST, "/api/v1/tasks".into(), Some(json!({"project_id": project, "title": "intruder"}))),
        (Method::GET, t.clone(), None),
        (Method::PATCH, t.clone(), Some(json!({"title": "stolen", "labels": ["b"]}))),
        (Method::PATCH, format!("{t}/status"), Some(json!({"status": "done"}))),
        (Method::DELETE, t.clone(), None),
        (Method::POST, "/api/v1/comments".into(), Some(json!({"task_id": task, "content": "intruder"}))),
        (Method::GET, c.clone(), None),
        (Method::PATCH, c.clone(), Some(json!({"content": "stolen"}))),
        (Method::DELETE, c.clone(), None),
        (Method::POST, "/api/v1/labels".into(), Some(json!({"project_id": project, "name": "intruder"}))),
        (Method::GET, l.clone(), None),
        (Method::PATCH, l.clone(), Some(json!({"name": "stolen"}))),
        (Method::DELETE, l.clone(), None),
        (Method::DELETE, k, None),
        (Method::GET, lp.clone(), None),
        (Method::PUT, lp.clone(), Some(json!({"name": "stolen"}))),
        (Method::DELETE, lp, None),
        (Method::POST, "/api/tasks".into(), Some(json!({"project_id": project, "title": "intruder"}))),
        (Method::GET, lt.clone(), None),
        (Method::PUT, lt.clone(), Some(json!({"title": "stolen"}))),
        (Method::PATCH, format!("{lt}/status"), Some(json!({"status": "done"}))),
        (Method::DELETE, lt, None),
        (Method::POST, "/api/comments".into(), Some(json!({"task_id": task, "content": "intruder"}))),
        (Method::GET, lc.clone(), None),
        (Method::PUT, lc.clone(), Some(json!({"content": "stolen"}))),
        (Method::DELETE, lc, None),
        (Method::GET, format!("/api/v1/messages/{message}"), None),
        (Method::POST, "/api/v1/messages".into(), Some(json!({"project_id": project, "text": "intruder"}))),
        (Method::POST, format!("/api/v1/jobs/{job}/retry"), Some(json!({}))),
    ];
    for (method, path, body) in routes {
        let res = b.send(method.clone(), &path, body).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{method} {path}: {}", res.body);
        assert_eq!(res.code(), "not_found");
    }

    // Lists and filters of B are empty, even when filtering by A's ids.
    for path in [
        "/api/v1/projects".to_string(),
        "/api/v1/tasks".to_string(),
        format!("/api/v1/tasks?project_id={project}"),
        "/api/v1/tasks?assigned_to=ana&label=secret".to_string(),
        "/api/v1/labels".to_string(),
        format!("/api/v1/labels?project_id={project}"),
        "/api/v1/comments".to_string(),
        format!("/api/v1/comments?task_id={task}"),
        "/api/v1/jobs".to_string(),
    ] {
        let res = b.send(Method::GET, &path, None).await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.body["items"], json!([]), "{path}");
    }
    for path in ["/api/projects".to_string(), "/api/tasks".to_string(), format!("/api/comments?task_id={task}")] {
        assert_eq!(b.send(Method::GET, &path, None).await.body, json!([]), "{path}");
    }
    let keys = b.send(Method::GET, "/api/v1/api-keys", None).await;
    assert_eq!(keys.body["items"].as_array().map(Vec::len), Some(1), "B sees only its own key");

    assert_eq!(snapshot(&app, &ids).await, before, "A's data is unchanged");
}
both_backends!(another_tenant_sees_nothing_and_changes_nothing);
