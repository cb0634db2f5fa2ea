use reqwest::StatusCode;

use super::{Browser, other_tenant};
use crate::helpers::{ADMIN_KEY, TestApp, both_backends};

async fn projects_are_listed_created_and_edited(app: TestApp) {
    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    let page = browser.get("/projects").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("<label for=\"f-name\">Name</label>"), "{}", page.html);

    // A validation error is shown next to its field, in the API's words, with the values kept.
    let page = browser
        .submit("/projects", "/projects", &[("name", "  "), ("description", "kept"), ("status", "active")])
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.html.contains("<p class=\"error-message\" id=\"f-name-error\">name: must not be empty</p>"),
        "{}",
        page.html
    );
    assert!(page.html.contains(">kept</textarea>"), "{}", page.html);
    let page = browser
        .submit("/projects", "/projects", &[("name", "x"), ("deadline", "2026-13-40"), ("status", "active")])
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.html.contains("id=\"f-deadline-error\">deadline:"), "{}", page.html);

    let page = browser
        .submit(
            "/projects",
            "/projects",
            &[
                ("name", "<script>alert(1)</script>"),
                ("description", "Ship it"),
                ("status", "on_hold"),
                ("deadline", "2026-12-24"),
                ("auto_follow_ups", "on"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let id = page.location().trim_start_matches("/projects/").to_string();
    let api = app.get(&format!("/api/v1/projects/{id}")).await.body;
    assert_eq!((api["name"].as_str(), api["status"].as_str()), (Some("<script>alert(1)</script>"), Some("on_hold")));
    assert_eq!((api["deadline"].as_str(), api["auto_follow_ups"].as_bool()), (Some("2026-12-24"), Some(true)));

    let page = browser.get("/projects").await;
    assert!(
        page.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !page.html.contains("<script>alert"),
        "{}",
        page.html
    );

    // Editing: every field, the deadline cleared and the checkbox unchecked.
    let page = browser
        .submit(
            &format!("/projects/{id}"),
            &format!("/projects/{id}"),
            &[("name", "Launch"), ("description", ""), ("status", "completed"), ("deadline", "")],
        )
        .await;
    assert_eq!((page.status, page.location()), (StatusCode::SEE_OTHER, format!("/projects/{id}").as_str()));
    let api = app.get(&format!("/api/v1/projects/{id}")).await.body;
    assert_eq!((api["name"].as_str(), api["status"].as_str()), (Some("Launch"), Some("completed")));
    assert_eq!((api["deadline"].clone(), api["auto_follow_ups"].as_bool()), (serde_json::Value::Null, Some(false)));
    let page = browser
        .submit(&format!("/projects/{id}"), &format!("/projects/{id}"), &[("name", "Launch"), ("status", "closed")])
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.html.contains("status: must be one of active, completed, on_hold"), "{}", page.html);

    // Without the session's CSRF token nothing changes.
    let page = browser.post("/projects", &[("name", "forged")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page =
        browser.post(&format!("/projects/{id}"), &[("csrf", "nope"), ("name", "forged"), ("status", "active")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&format!("/api/v1/projects/{id}")).await.body["name"], "Launch");

    // Another tenant's project is a 404 page, to read and to change.
    let other = other_tenant(&app).await;
    let mut stranger = Browser::signed_in(&app, &other).await;
    let page = stranger.get(&format!("/projects/{id}")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.html.contains("project not found"), "{}", page.html);
    let page =
        stranger.submit("/projects", &format!("/projects/{id}"), &[("name", "mine"), ("status", "active")]).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!stranger.get("/projects").await.html.contains("Launch"));
    assert_eq!(app.get(&format!("/api/v1/projects/{id}")).await.body["name"], "Launch");
}
both_backends!(projects_are_listed_created_and_edited);
