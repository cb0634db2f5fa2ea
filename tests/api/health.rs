use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, both_backends};

async fn health_and_readiness_need_no_key(app: TestApp) {
    let res = app.request(Method::GET, "/health", None, None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["status"], "ok");
    let res = app.request(Method::GET, "/ready", None, None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["checks"]["database"], "ok");
}
both_backends!(health_and_readiness_need_no_key);

async fn every_response_carries_a_request_id(app: TestApp) {
    let res = app.request(Method::GET, "/health", None, None).await;
    let id = res.headers.get("x-request-id").expect("request id").to_str().expect("ascii");
    assert_eq!(id.len(), 36);
    let given =
        app.raw().get(format!("{}/health", app.base)).header("x-request-id", "trace-me-42").send().await.expect("sent");
    assert_eq!(given.headers()["x-request-id"], "trace-me-42");
}
both_backends!(every_response_carries_a_request_id);

async fn metrics_count_requests_by_route_and_status(app: TestApp) {
    let project = app.project("metrics").await;
    app.get(&format!("/api/v1/projects/{project}")).await;
    app.get("/api/v1/projects/missing").await;
    let res = app.raw().get(format!("{}/metrics", app.base)).send().await.expect("sent");
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.expect("text");
    assert!(
        text.contains(r#"taskbridge_http_requests_total{method="GET",route="/api/v1/projects/{id}",status="200"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"route="/api/v1/projects/{id}",status="404"} 1"#), "{text}");
    assert!(text.contains("taskbridge_http_request_duration_seconds_bucket"));
    assert!(text.contains("taskbridge_db_pool_connections"));
}
both_backends!(metrics_count_requests_by_route_and_status);
