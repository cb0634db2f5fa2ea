//! The replaced system's routes answer with its shapes over the same data.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, both_backends};

async fn legacy_routes_alias_the_tracker(app: TestApp) {
    let res = app.post("/api/projects", json!({"name": "Legacy"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let project = res.id();
    let list = app.get("/api/projects").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.is_array(), "legacy lists are plain arrays: {}", list.body);
    assert_eq!(list.body[0]["id"], project.as_str());
    let res = app.put(&format!("/api/projects/{project}"), json!({"status": "completed"})).await;
    assert_eq!(res.body["status"], "completed");
    assert_eq!(app.get(&format!("/api/projects/{project}")).await.body["name"], "Legacy");

    let res = app.post("/api/tasks", json!({"project_id": project, "title": "Old route", "assigned_to": "ana"})).await;
    assert_eq!(res.status, StatusCode::CREATED);
    let task = res.id();
    app.post("/api/tasks", json!({"project_id": project, "title": "Other", "status": "done"})).await;
    let res = app.get(&format!("/api/tasks?project_id={project}&status=todo&assigned_to=ana")).await;
    assert_eq!(res.body.as_array().map(Vec::len), Some(1));
    assert_eq!(res.body[0]["title"], "Old route");
    // The same task is visible through v1.
    assert_eq!(app.get(&format!("/api/v1/tasks/{task}")).await.body["title"], "Old route");

    let res = app.put(&format!("/api/tasks/{task}"), json!({"priority": "high"})).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["priority"], "high");
    let res = app.patch(&format!("/api/tasks/{task}/status"), json!({"status": "done"})).await;
    assert_eq!(res.body["status"], "done");

    let res = app.post("/api/comments", json!({"task_id": task, "content": "legacy comment"})).await;
    assert_eq!(res.status, StatusCode::CREATED);
    let comment = res.id();
    let res = app.get(&format!("/api/comments?task_id={task}")).await;
    assert_eq!(res.body.as_array().map(Vec::len), Some(1));
    let res = app.put(&format!("/api/comments/{comment}"), json!({"content": "edited"})).await;
    assert_eq!(res.body["content"], "edited");
    assert_eq!(app.get(&format!("/api/comments/{comment}")).await.body["content"], "edited");
    assert_eq!(app.delete(&format!("/api/comments/{comment}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.delete(&format!("/api/tasks/{task}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("/api/tasks/{task}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&format!("/api/projects/{project}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/projects").await.body, json!([]));
}
both_backends!(legacy_routes_alias_the_tracker);

async fn legacy_lists_return_every_match_beyond_one_page(app: TestApp) {
    let project = app.project("many").await;
    for i in 0..205 {
        app.task(&project, json!({"title": format!("t{i}")})).await;
    }
    let res = app.get("/api/tasks").await;
    assert_eq!(res.body.as_array().map(Vec::len), Some(205));
}
both_backends!(legacy_lists_return_every_match_beyond_one_page);

/// The replaced systems' clients call their routes with a trailing slash as often as
/// without: both answer the same.
async fn aliases_answer_with_or_without_a_trailing_slash(app: TestApp) {
    let res = app.post("/api/projects/", json!({"name": "Slashed"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let project = res.id();
    let res = app.post("/api/tasks/", json!({"project_id": project, "title": "Slashed task"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let task = res.id();
    let res = app.post("/api/comments/", json!({"task_id": task, "content": "slashed"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    for path in [
        "/api/projects".to_string(),
        format!("/api/projects/{project}"),
        format!("/api/tasks?project_id={project}"),
        format!("/api/tasks/{task}"),
        format!("/api/comments?task_id={task}"),
        format!("/teams/team-by-task/{task}"),
        "/api/v1/projects".to_string(),
    ] {
        let plain = app.get(&path).await;
        let slashed = match path.split_once('?') {
            Some((p, q)) => format!("{p}/?{q}"),
            None => format!("{path}/"),
        };
        let with_slash = app.get(&slashed).await;
        assert_eq!(plain.status, with_slash.status, "{slashed}: {}", with_slash.body);
        assert_eq!(plain.body, with_slash.body, "{slashed}");
    }
    assert_eq!(app.get(&format!("/api/tasks/?project_id={project}")).await.body.as_array().map(Vec::len), Some(1));

    // The replaced bot's routes.
    for (path, text) in
        [("/teams", "Order a new projector for room 4"), ("/teams/", "Renew the domain name before May")]
    {
        let res = app.post(path, json!({"text": text})).await;
        assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.body);
        assert_eq!(res.body["status"], "created", "{path}");
    }
    for path in ["/teams/create-task-with-team", "/teams/create-task-with-team/"] {
        let res = app
            .post(path, json!({"title": format!("Plan the offsite {path}"), "team_name": format!("Ops {path}")}))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{path}: {}", res.body);
    }
    assert_eq!(app.put(&format!("/api/tasks/{task}/"), json!({"priority": "high"})).await.body["priority"], "high");
    assert_eq!(app.delete(&format!("/api/tasks/{task}/")).await.status, StatusCode::NO_CONTENT);
    // A route that does not exist is still not found, slash or not.
    assert_eq!(app.get("/api/nothing/").await.status, StatusCode::NOT_FOUND);
}
both_backends!(aliases_answer_with_or_without_a_trailing_slash);
