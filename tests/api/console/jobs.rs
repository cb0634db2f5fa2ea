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

/// A subscriber that refuses the first delivery for good (410) and takes every later one;
/// how many deliveries it was sent.
async fn refuses_once() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let hook = axum::routing::post(move || {
        let first = seen.fetch_add(1, Ordering::SeqCst) == 0;
        async move { if first { AxumStatus::GONE } else { AxumStatus::OK } }
    });
    (crate::helpers::serve(axum::Router::new().route("/hook", hook)).await, calls)
}

/// The job with `id` in the list of jobs in `status`, once it is there (or after ten seconds).
async fn job_in(app: &crate::helpers::TestApp, status: &str, id: &str) -> Option<serde_json::Value> {
    for _ in 0..400 {
        let listed = app.get(&format!("/api/v1/jobs?status={status}&limit=200")).await.body;
        let found = listed["items"].as_array().and_then(|items| items.iter().find(|j| j["id"] == id).cloned());
        if found.is_some() {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    None
}

/// A job given up is counted per kind and status, shown with its (escaped) last error, and
/// retried from the page through the API's retry: only with the session's CSRF token, never
/// another tenant's job (404), and a job that is not failed or dead is refused (409).
async fn a_dead_job_is_retried_from_the_page(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let (subscriber, calls) = refuses_once().await;
    let project = app.project("ops").await;
    app.integration(
        &project,
        json!({"type": "webhook", "name": "audit", "settings": {"url": format!("{subscriber}/hook")},
               "secrets": {"signing_secret": "whsec-never-shown"}}),
    )
    .await;
    app.task(&project, json!({"title": "Rotate the keys"})).await;
    let dead = dead_jobs(&app).await;
    let id = dead["items"][0]["id"].as_str().unwrap_or_else(|| panic!("a dead job: {dead}")).to_string();
    let kind = dead["items"][0]["kind"].as_str().expect("kind").to_string();
    // An upstream's words end up in a job's error; whatever they are, they stay text.
    super::execute(
        &app,
        &format!("UPDATE jobs SET last_error = '<script>alert(\"owned\")</script> & gone' WHERE id = '{id}'"),
    )
    .await;

    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    let page = browser.get("/jobs?status=dead").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt; &amp; gone"), "{}", page.html);
    assert!(!page.html.contains("<script>alert"), "{}", page.html);
    // Counted: one dead job of its kind, linking to the dead jobs.
    assert!(
        page.html.contains(&format!(
            "<tr><th scope=\"row\"><code>{kind}</code></th><td><span class=\"muted\">0</span></td>\
             <td><span class=\"muted\">0</span></td><td><span class=\"muted\">0</span></td>\
             <td><a href=\"/jobs?status=dead\">1</a></td></tr>"
        )),
        "{}",
        page.html
    );
    assert!(page.html.contains("not until retried"), "{}", page.html);
    let action = format!("/jobs/{id}/retry");
    assert!(page.html.contains(&format!("action=\"{action}\"")), "{}", page.html);

    // Without the session's token nothing happens.
    let refused = browser.post(&action, &[("status", "dead")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);
    let refused = browser.post(&action, &[("csrf", "forged"), ("status", "dead")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);
    // Another tenant cannot see or retry it.
    let key = other_tenant(&app).await;
    let mut stranger = Browser::signed_in(&app, &key).await;
    let page = stranger.get("/jobs?status=dead").await;
    assert!(page.html.contains("No job was given up.") && !page.html.contains(&id), "{}", page.html);
    assert!(page.html.contains("Nothing is queued, running, failing or given up."), "{}", page.html);
    let other = stranger.submit("/jobs", &action, &[("status", "dead")]).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "{}", other.html);
    assert!(job_in(&app, "dead", &id).await.is_some(), "still given up");
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);

    // Retried: back on the list it was asked from, which says so; the delivery is made.
    let done = browser.submit("/jobs?status=dead", &action, &[("status", "dead")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(done.location(), format!("/jobs?status=dead&retried={id}"));
    let page = browser.get(done.location()).await;
    assert!(page.html.contains(&format!("<strong>Queued again: </strong><code>{kind}</code>")), "{}", page.html);
    let succeeded = job_in(&app, "succeeded", &id).await.expect("the retried delivery succeeds");
    assert_eq!(succeeded["attempts"], 1, "fresh attempts: {succeeded}");
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);

    // A job that did not fail is not retried: 409, in the API's words, nothing changed.
    let again = browser.submit("/jobs", &action, &[("status", "")]).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.html);
    assert!(again.html.contains("a succeeded job cannot be retried"), "{}", again.html);
    let api = app.post(&format!("/api/v1/jobs/{id}/retry"), json!({})).await;
    assert_eq!(api.status, StatusCode::CONFLICT, "the API answers the same: {}", api.body);
    assert!(job_in(&app, "succeeded", &id).await.is_some());
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
}
each_backend!(a_dead_job_is_retried_from_the_page);
