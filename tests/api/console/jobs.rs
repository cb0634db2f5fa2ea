use axum::http::StatusCode as AxumStatus;
use reqwest::StatusCode;
use serde_json::json;

use super::{Browser, other_tenant};
use crate::helpers::{ADMIN_KEY, Backend, dead_jobs, each_backend, spawn_app_with};

/// A job that was given up is listed with its error, and the overview's count links to it.
async fn jobs_given_up_are_listed(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    // A webhook subscriber that refuses every delivery: the delivery fails for good.
    let refusing = crate::helpers::serve(
        axum::Router::new().route("/hook", axum::routing::post(|| async { (AxumStatus::GONE, "subscriber <gone>") })),
    )
    .await;
    let project = app.project("ops").await;
    app.integration(
        &project,
        json!({"type": "webhook", "name": "audit", "settings": {"url": format!("{refusing}/hook")},
               "secrets": {"signing_secret": "whsec-never-shown"}}),
    )
    .await;
    app.task(&project, json!({"title": "Rotate the keys"})).await;
    let dead = dead_jobs(&app).await;
    let job = &dead["items"][0];
    let error = job["last_error"].as_str().unwrap_or_else(|| panic!("a dead job: {dead}")).to_string();

    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    let overview = browser.get("/dashboard").await;
    assert!(
        overview.html.contains("<a class=\"figure\" href=\"/jobs?status=dead\">1</a>"),
        "the count links to its list: {}",
        overview.html
    );
    let page = browser.get("/jobs?status=dead").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let kind = job["kind"].as_str().expect("kind");
    assert!(
        page.html.contains(&format!("<td><code>{kind}</code></td><td><span class=\"pill dead\">dead</span>")),
        "{}",
        page.html
    );
    assert!(
        page.html.contains(&format!("<td>{}</td>", error.replace('<', "&lt;").replace('>', "&gt;"))),
        "{error}: {}",
        page.html
    );
    assert!(!page.html.contains("whsec-never-shown"));
    assert!(page.html.contains("<option value=\"dead\" selected>"), "{}", page.html);
    assert!(browser.get("/jobs?status=queued").await.html.contains("No jobs here."));
    // A status the API refuses is refused in its words.
    let api = app.get("/api/v1/jobs?status=stuck").await;
    let words = api.body["error"]["message"].as_str().expect("message").replace('"', "&quot;");
    let page = browser.get("/jobs?status=stuck").await;
    assert!(page.html.contains(&words), "{words}: {}", page.html);

    // Another tenant sees none of it.
    let key = other_tenant(&app).await;
    let mut stranger = Browser::signed_in(&app, &key).await;
    let page = stranger.get("/jobs?status=dead").await;
    assert!(page.html.contains("No job was given up.") && !page.html.contains(kind), "{}", page.html);
    // Signed out, there is no page.
    assert_eq!(Browser::new(&app).get("/jobs").await.status, StatusCode::UNAUTHORIZED);
}
each_backend!(jobs_given_up_are_listed);
