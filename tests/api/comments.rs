use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, both_backends};

async fn comments_have_full_crud(app: TestApp) {
    let project = app.project("c").await;
    let task = app.task(&project, json!({"title": "t"})).await;
    let other = app.task(&project, json!({"title": "u"})).await;
    let task_id = task["id"].as_str().expect("id");

    let res = app.post("/api/v1/comments", json!({"task_id": task_id, "content": "Looks good", "author": "ana"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let id = res.id();
    assert_eq!(res.body["author"], "ana");
    app.post("/api/v1/comments", json!({"task_id": task_id, "content": "second"})).await;
    app.post("/api/v1/comments", json!({"task_id": other["id"], "content": "elsewhere"})).await;

    let list = app.get(&format!("/api/v1/comments?task_id={task_id}")).await;
    let contents: Vec<_> = list.body["items"].as_array().expect("items").iter().map(|c| c["content"].clone()).collect();
    assert_eq!(contents, vec![json!("Looks good"), json!("second")]);
    assert_eq!(app.get("/api/v1/comments").await.body["items"].as_array().map(Vec::len), Some(3));

    let res = app.patch(&format!("/api/v1/comments/{id}"), json!({"content": "Looks great"})).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["content"], "Looks great");
    assert_eq!(app.get(&format!("/api/v1/comments/{id}")).await.body["content"], "Looks great");
    let res = app.patch(&format!("/api/v1/comments/{id}"), json!({"content": ""})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);

    assert_eq!(app.delete(&format!("/api/v1/comments/{id}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("/api/v1/comments/{id}")).await.status, StatusCode::NOT_FOUND);

    // Comments go with their task.
    assert_eq!(app.delete(&format!("/api/v1/tasks/{task_id}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("/api/v1/comments?task_id={task_id}")).await.body["items"], json!([]));
}
both_backends!(comments_have_full_crud);

async fn a_comment_needs_an_existing_task(app: TestApp) {
    let res = app.post("/api/v1/comments", json!({"task_id": "missing", "content": "x"})).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.code(), "not_found");
}
both_backends!(a_comment_needs_an_existing_task);
