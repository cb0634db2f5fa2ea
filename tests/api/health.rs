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

/// The value of one `taskbridge_jobs` series.
async fn jobs_gauge(app: &TestApp, status: &str) -> i64 {
    let text = app.raw().get(format!("{}/metrics", app.base)).send().await.expect("sent").text().await.expect("text");
    let series = format!("taskbridge_jobs{{status=\"{status}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series}in {text}"))
}

/// The queue gauges follow the queue: a status that emptied reads 0, not its last figure.
async fn the_jobs_gauge_follows_the_queue(backend: crate::helpers::Backend) {
    let Some(app) = crate::helpers::spawn_app_with(backend, |c| c.workers = 0).await else { return };
    let project = app.project("gauge").await;
    let res =
        app.post("/api/v1/messages", serde_json::json!({"project_id": project, "text": "Order new badges"})).await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    assert_eq!(jobs_gauge(&app, "queued").await, 1);
    assert_eq!(jobs_gauge(&app, "running").await, 0);
    crate::helpers::execute_sql(&app, "UPDATE jobs SET status = 'running'", &[]).await;
    assert_eq!((jobs_gauge(&app, "queued").await, jobs_gauge(&app, "running").await), (0, 1));
    crate::helpers::execute_sql(&app, "UPDATE jobs SET status = 'succeeded'", &[]).await;
    assert_eq!((jobs_gauge(&app, "running").await, jobs_gauge(&app, "succeeded").await), (0, 1));
    assert_eq!(jobs_gauge(&app, "dead").await, 0);
}
crate::helpers::each_backend!(the_jobs_gauge_follows_the_queue);

/// With Jira and Confluence connected to the default project, readiness also reads the
/// current user of each (the replaced automator's check): a refused token is not ready.
async fn readiness_checks_the_default_projects_jira_and_confluence(app: TestApp) {
    use crate::fakes::atlassian::{basic, fake_site};
    let (fake, _site) = fake_site(|s| s.options.credentials = vec![basic("bot@example.org", "t0ken")]).await;
    // The default project, as the replaced routes create it.
    let task = app.post("/taiga/create-task", serde_json::json!({"title": "x", "description": "y"})).await;
    let project = task.body["project_id"].as_str().expect("project").to_string();
    let mut jira = String::new();
    for kind in ["jira", "confluence"] {
        let res = app
            .post(
                &format!("/api/v1/projects/{project}/integrations"),
                serde_json::json!({"type": kind, "settings": {"site_url": fake, "email": "bot@example.org"},
                                   "secrets": {"api_token": "t0ken"}}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        if kind == "jira" {
            jira = res.id();
        }
    }
    let res = app.request(Method::GET, "/ready", None, None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!((&res.body["checks"]["jira"], &res.body["checks"]["confluence"]), (&"ok".into(), &"ok".into()));
    let patch = serde_json::json!({"secrets": {"api_token": "revoked"}});
    let path = format!("/api/v1/projects/{project}/integrations/{jira}");
    assert_eq!(app.patch(&path, patch).await.status, StatusCode::OK);
    let res = app.request(Method::GET, "/ready", None, None).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.body);
    assert_eq!(res.body["checks"]["jira"], "unauthorized");
    assert_eq!(res.body["checks"]["confluence"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_checks_atlassian_sqlite() {
    let app = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, |c| c.allow_private_urls = true).await;
    readiness_checks_the_default_projects_jira_and_confluence(app.expect("sqlite")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_checks_atlassian_postgres() {
    if let Some(app) =
        crate::helpers::spawn_app_with(crate::helpers::Backend::Postgres, |c| c.allow_private_urls = true).await
    {
        readiness_checks_the_default_projects_jira_and_confluence(app).await;
    }
}
