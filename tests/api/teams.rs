//! The replaced Teams→Taiga service's routes.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, TestDb, both_backends, spawn_on};

async fn teams_routes_alias_the_pipeline(app: TestApp) {
    let res = app.post("/teams/", json!({"text": "We need a staging database for the mobile team asap"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["status"], "created");
    assert_eq!(res.body["source"], "teams");
    assert_eq!(res.body["draft"]["priority"], "high");
    let inbox = res.body["project_id"].as_str().expect("project").to_string();
    let first = res.body["task_id"].clone();
    let projects = app.get("/api/v1/projects").await.body;
    assert_eq!(projects["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(projects["items"][0]["name"], "Inbox");

    // Without the trailing slash, and a similar request: not merged on a guess (the default
    // merge band is strict), but created naming the likely duplicate for a person to merge.
    let res = app.post("/teams", json!({"text": "can someone set up a staging database for the mobile team?"})).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["status"], "possible_duplicate", "{}", res.body);
    assert_eq!(res.body["candidates"][0]["task_id"], first, "{}", res.body);
    assert_eq!(res.body["project_id"], inbox.as_str());

    let res =
        app.post("/taiga/create-task", json!({"title": "Rotate API keys", "description": "Quarterly rotation"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body["project_id"], inbox.as_str());
    assert_eq!(res.body["description"], "Quarterly rotation");

    // An explicit project wins over the default one.
    let other = app.project("Other").await;
    let res = app.post("/taiga/create-task", json!({"title": "Elsewhere", "project_id": other})).await;
    assert_eq!(res.body["project_id"], other.as_str());
    let res = app.post("/taiga/create-task", json!({"title": ""})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
}
both_backends!(teams_routes_alias_the_pipeline);

async fn teams_created_with_a_task_are_persisted(app: TestApp) {
    let res = app
        .post(
            "/teams/create-task-with-team",
            json!({"title": "Launch the partner portal", "team_name": "Partner portal", "team_description": "Portal launch crew"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let task_id = res.body["task"]["id"].as_str().expect("task").to_string();
    assert_eq!(res.body["team"]["name"], "Partner portal");
    assert_eq!(res.body["team"]["channels"], json!(["General", "Tasks", "Updates"]));

    // Another instance on the same database sees it: it lives in the database.
    let other = spawn_on(TestDb::Borrowed, app.database_url.clone(), app.backend).await;
    let team = other.get(&format!("/teams/team-by-task/{task_id}")).await;
    assert_eq!(team.status, StatusCode::OK);
    assert_eq!(team.body["id"], res.body["team"]["id"]);
    assert_eq!(team.body["description"], "Portal launch crew");

    let plain = app.post("/taiga/create-task", json!({"title": "No team"})).await.id();
    assert_eq!(app.get(&format!("/teams/team-by-task/{plain}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/teams/team-by-task/nope").await.status, StatusCode::NOT_FOUND);
    let res = app.post("/teams/create-task-with-team", json!({"title": "x", "team_name": " "})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Another tenant sees none of it.
    let b = app.post("/api/v1/tenants", json!({"name": "B"})).await.body["api_key"].as_str().expect("key").to_string();
    let res = app.with_key(&b).send(Method::GET, &format!("/teams/team-by-task/{task_id}"), None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    // B's requests go to B's own default project.
    let res = app.with_key(&b).send(Method::POST, "/taiga/create-task", Some(json!({"title": "B's task"}))).await;
    assert_eq!(res.status, StatusCode::CREATED);
    assert_ne!(res.body["project_id"], app.get(&format!("/api/v1/tasks/{plain}")).await.body["project_id"]);
}
both_backends!(teams_created_with_a_task_are_persisted);

async fn concurrent_first_requests_share_one_default_project(app: TestApp) {
    let calls = (0..6).map(|i| app.post("/taiga/create-task", json!({"title": format!("task {i}")})));
    let results = crate::helpers::join_all(calls).await;
    let mut projects: Vec<String> =
        results.iter().map(|r| r.body["project_id"].as_str().expect("project").to_string()).collect();
    projects.dedup();
    assert_eq!(projects.len(), 1, "{projects:?}");
    assert_eq!(app.get("/api/v1/projects").await.body["items"].as_array().map(Vec::len), Some(1));
}
both_backends!(concurrent_first_requests_share_one_default_project);
