use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, both_backends};

async fn labels_have_full_crud_and_follow_their_tasks(app: TestApp) {
    let project = app.project("l").await;
    let res = app.post("/api/v1/labels", json!({"project_id": project, "name": "bug", "color": "#FF0000"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let bug = res.id();
    assert_eq!(res.body["color"], "#ff0000");

    let res = app.post("/api/v1/labels", json!({"project_id": project, "name": "bug"})).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(res.code(), "conflict");
    let res = app.post("/api/v1/labels", json!({"project_id": project, "name": "x", "color": "red"})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);

    // A task naming a new label creates it, with the default colour.
    let task = app.task(&project, json!({"title": "t", "labels": ["bug", "ui"]})).await;
    let task_path = format!("/api/v1/tasks/{}", task["id"].as_str().expect("id"));
    let list = app.get(&format!("/api/v1/labels?project_id={project}")).await;
    let names: Vec<_> = list.body["items"].as_array().expect("items").iter().map(|l| l["name"].clone()).collect();
    assert_eq!(names, vec![json!("bug"), json!("ui")]);

    // Renaming shows on the task; deleting takes the label off it.
    let res = app.patch(&format!("/api/v1/labels/{bug}"), json!({"name": "defect"})).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(app.get(&task_path).await.body["labels"], json!(["defect", "ui"]));
    let res = app.patch(&format!("/api/v1/labels/{bug}"), json!({"name": "ui"})).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(app.delete(&format!("/api/v1/labels/{bug}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&task_path).await.body["labels"], json!(["ui"]));
    assert_eq!(app.get(&format!("/api/v1/labels/{bug}")).await.status, StatusCode::NOT_FOUND);

    let res = app.post("/api/v1/labels", json!({"project_id": "nope", "name": "bug"})).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}
both_backends!(labels_have_full_crud_and_follow_their_tasks);
