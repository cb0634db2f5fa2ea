use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, both_backends};

async fn projects_have_full_crud(app: TestApp) {
    let res = app
        .post(
            "/api/v1/projects",
            json!({"name": " Beta launch ", "description": "Ship the beta", "deadline": "2026-12-01"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let id = res.id();
    assert_eq!(res.body["name"], "Beta launch");
    assert_eq!(res.body["status"], "active");
    assert_eq!(res.body["deadline"], "2026-12-01");

    let res = app.get(&format!("/api/v1/projects/{id}")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["description"], "Ship the beta");

    let res = app.patch(&format!("/api/v1/projects/{id}"), json!({"status": "on_hold", "deadline": null})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["status"], "on_hold");
    assert_eq!(res.body["deadline"], serde_json::Value::Null);
    assert_eq!(res.body["name"], "Beta launch", "fields left out stay");
    assert_ne!(res.body["updated_at"], res.body["created_at"]);

    let res = app.delete(&format!("/api/v1/projects/{id}")).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let res = app.get(&format!("/api/v1/projects/{id}")).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.code(), "not_found");
}
both_backends!(projects_have_full_crud);

async fn deleting_a_project_deletes_its_tasks(app: TestApp) {
    let project = app.project("gone").await;
    let task = app.task(&project, json!({"title": "orphan?", "labels": ["x"]})).await;
    let comment = app.post("/api/v1/comments", json!({"task_id": task["id"], "content": "hi"})).await;
    assert_eq!(app.delete(&format!("/api/v1/projects/{project}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/api/v1/tasks/{}", task["id"].as_str().expect("id"))).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get(&format!("/api/v1/comments/{}", comment.id())).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/labels").await.body["items"], json!([]));
}
both_backends!(deleting_a_project_deletes_its_tasks);

async fn project_lists_page_with_a_stable_cursor(app: TestApp) {
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(app.project(&format!("p{i}")).await);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/projects?limit=2&cursor={c}"),
            None => "/api/v1/projects?limit=2".to_string(),
        };
        let res = app.get(&path).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        pages += 1;
        for item in res.body["items"].as_array().expect("items") {
            seen.push(item["id"].as_str().expect("id").to_string());
        }
        // A project added while paging lands after the pages already read.
        if pages == 1 {
            created.push(app.project("late").await);
        }
        match res.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, created);
    assert_eq!(pages, 3);
}
both_backends!(project_lists_page_with_a_stable_cursor);
