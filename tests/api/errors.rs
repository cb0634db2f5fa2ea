//! Bad input gets a precise 4xx in the one JSON error shape and changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, both_backends};

async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut req = app.raw().request(method, format!("{}{}", app.base, path)).bearer_auth(&app.key).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let res = req.send().await.expect("sent");
    let status = res.status();
    let text = res.text().await.expect("text");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    assert!(body["error"]["code"].is_string() && body["error"]["message"].is_string(), "{body}");
    (status, body)
}

async fn snapshot(app: &TestApp) -> Value {
    json!([
        app.get("/api/v1/projects").await.body,
        app.get("/api/v1/tasks").await.body,
        app.get("/api/v1/labels").await.body,
        app.get("/api/v1/comments").await.body
    ])
}

async fn bad_bodies_get_precise_errors_and_change_nothing(app: TestApp) {
    let project = app.project("errors").await;
    let task = app.task(&project, json!({"title": "existing"})).await;
    let task_id = task["id"].as_str().expect("id").to_string();
    let before = snapshot(&app).await;
    let json_ct = Some("application/json");

    type Case<'a> = (Method, String, Option<&'a str>, Vec<u8>, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (
            Method::POST,
            "/api/v1/tasks".into(),
            json_ct,
            b"{\"title\": ".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            Method::POST,
            "/api/v1/tasks".into(),
            json_ct,
            b"not json".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            Method::POST,
            "/api/v1/tasks".into(),
            Some("text/plain"),
            b"{}".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            Method::POST,
            "/api/v1/tasks".into(),
            None,
            b"{}".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            Method::POST,
            "/api/v1/tasks".into(),
            json_ct,
            br#"{"project_id": 7, "title": "x"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            Method::POST,
            "/api/v1/tasks".into(),
            json_ct,
            br#"{"title": "no project"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            Method::POST,
            "/api/v1/tasks".into(),
            json_ct,
            br#"[1, 2]"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            Method::POST,
            "/api/v1/tasks".into(),
            json_ct,
            format!(r#"{{"project_id": "{project}", "title": "x", "priority": "urgent"}}"#).into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            Method::POST,
            "/api/v1/tasks".into(),
            json_ct,
            format!(r#"{{"project_id": "{project}", "title": "   "}}"#).into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            Method::POST,
            "/api/v1/tasks".into(),
            json_ct,
            format!(r#"{{"project_id": "{project}", "title": "{}"}}"#, "x".repeat(201)).into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            Method::POST,
            "/api/v1/tasks".into(),
            json_ct,
            format!(r#"{{"project_id": "{project}", "title": "x", "due_date": "2026-02-30"}}"#).into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            Method::POST,
            "/api/v1/tasks".into(),
            json_ct,
            format!(r#"{{"project_id": "{project}", "title": "x", "due_date": "next friday"}}"#).into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            Method::POST,
            "/api/v1/tasks".into(),
            json_ct,
            format!(r#"{{"project_id": "{project}", "title": "x", "time_estimate": -1}}"#).into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            Method::POST,
            "/api/v1/tasks".into(),
            json_ct,
            format!(r#"{{"project_id": "{project}", "title": "x", "time_spent": 1e400}}"#).into_bytes(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            Method::POST,
            "/api/v1/tasks".into(),
            json_ct,
            format!(r#"{{"project_id": "{project}", "title": "x", "time_spent": 9223372036854775808}}"#).into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            Method::POST,
            "/api/v1/tasks".into(),
            json_ct,
            format!(r#"{{"project_id": "{project}", "title": "x", "labels": "bug"}}"#).into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            Method::POST,
            "/api/v1/projects".into(),
            json_ct,
            br#"{"name": "x", "status": "archived"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            Method::POST,
            "/api/v1/projects".into(),
            json_ct,
            br#"{"name": "x", "deadline": "01/12/2026"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            Method::PATCH,
            format!("/api/v1/tasks/{task_id}"),
            json_ct,
            br#"{"title": ""}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            Method::PATCH,
            format!("/api/v1/tasks/{task_id}"),
            json_ct,
            br#"{"status": "blocked"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            Method::PATCH,
            format!("/api/v1/tasks/{task_id}"),
            json_ct,
            br#"{"title": "new", "due_date": "soon"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            Method::PATCH,
            "/api/v1/tasks/unknown-id".into(),
            json_ct,
            br#"{"title": "new"}"#.to_vec(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (Method::GET, "/api/v1/tasks/unknown-id".into(), None, vec![], StatusCode::NOT_FOUND, "not_found"),
        (Method::DELETE, "/api/v1/projects/unknown-id".into(), None, vec![], StatusCode::NOT_FOUND, "not_found"),
        (Method::GET, "/api/v1/nothing-here".into(), None, vec![], StatusCode::NOT_FOUND, "not_found"),
        (
            Method::PUT,
            "/api/v1/tasks".into(),
            json_ct,
            b"{}".to_vec(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ];
    for (method, path, ct, body, status, code) in cases {
        let shown = String::from_utf8_lossy(&body).chars().take(80).collect::<String>();
        let (got, res) = raw(&app, method.clone(), &path, ct, body).await;
        assert_eq!(got, status, "{method} {path} {shown}: {res}");
        assert_eq!(res["error"]["code"], code, "{method} {path} {shown}");
    }
    assert_eq!(snapshot(&app).await, before, "rejected requests changed nothing");
}
both_backends!(bad_bodies_get_precise_errors_and_change_nothing);

async fn oversized_bodies_are_refused(app: TestApp) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let project = app.project("big").await;
    // The declared length alone is refused: the server answers without reading 2 MiB.
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let head = format!(
        "POST /api/v1/tasks HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        app.key,
        2 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    stream
        .write_all(format!(r#"{{"project_id": "{project}", "title": "x", "description": ""#).as_bytes())
        .await
        .expect("start");
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("answered without the whole body")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""code":"payload_too_large""#), "{answer}");
    assert_eq!(app.get("/api/v1/tasks").await.body["items"], json!([]));
}
both_backends!(oversized_bodies_are_refused);
