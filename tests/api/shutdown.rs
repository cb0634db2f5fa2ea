//! Shutdown lets requests already being served finish; readiness reports a lost database.

use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, both_backends};

async fn in_flight_requests_finish_after_a_shutdown_signal(mut app: TestApp) {
    let project = app.project("shutdown").await;
    let body = format!(r#"{{"project_id": "{project}", "title": "arrives during shutdown"}}"#);
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let head = format!(
        "POST /api/v1/tasks HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        app.key,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let (first, rest) = body.split_at(10);
    stream.write_all(first.as_bytes()).await.expect("first half");
    stream.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(100)).await;

    // The request is in flight: stop the server, then finish sending it.
    app.begin_shutdown();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stream.write_all(rest.as_bytes()).await.expect("second half");
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .expect("answered in time")
        .expect("read");
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    app.wait_stopped().await;

    // New connections are refused once it has stopped.
    assert!(tokio::net::TcpStream::connect(&addr).await.is_err());
}
both_backends!(in_flight_requests_finish_after_a_shutdown_signal);

async fn readiness_fails_when_the_database_is_gone(app: TestApp) {
    let store = taskbridge::store::Store::connect(&app.database_url, &Default::default()).await.expect("store");
    let router = taskbridge::http::app(taskbridge::http::AppState::with_defaults(store.clone()), 1024);
    let call = |router: axum::Router| async move {
        use tower::ServiceExt;
        let req = axum::http::Request::get("/ready").body(axum::body::Body::empty()).expect("request");
        let res = router.oneshot(req).await.expect("infallible");
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 4096).await.expect("body");
        (status, serde_json::from_slice::<serde_json::Value>(&bytes).expect("json"))
    };
    let (status, _) = call(router.clone()).await;
    assert_eq!(status, StatusCode::OK);
    store.close().await;
    let (status, body) = call(router).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["checks"]["database"], "unreachable");
}
both_backends!(readiness_fails_when_the_database_is_gone);
