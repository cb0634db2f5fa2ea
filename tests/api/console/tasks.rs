use reqwest::StatusCode;
use serde_json::json;

use super::{Browser, other_tenant};
use crate::helpers::{ADMIN_KEY, TestApp, both_backends};

async fn the_task_list_filters_sorts_and_pages_as_the_api_does(app: TestApp) {
    let project = app.project("ops").await;
    let other_project = app.project("web").await;
    app.task(&project, json!({"title": "Renew certificate", "priority": "high", "assigned_to": "ana", "labels": ["infra"], "due_date": "2026-01-10"})).await;
    app.task(&project, json!({"title": "Order chairs", "priority": "low", "status": "done"})).await;
    app.task(
        &project,
        json!({"title": "Rotate keys", "priority": "high", "labels": ["infra"], "due_date": "2026-03-01"}),
    )
    .await;
    app.task(&other_project, json!({"title": "Fix footer", "priority": "high"})).await;

    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    let titles = |html: &str| -> Vec<String> {
        html.split("<td><a href=\"/tasks/")
            .skip(1)
            .filter_map(|s| s.split_once("\">").and_then(|(_, r)| r.split_once("</a>")).map(|(t, _)| t.to_string()))
            .collect()
    };
    let page = browser.get("/tasks").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(titles(&page.html), ["Renew certificate", "Order chairs", "Rotate keys", "Fix footer"]);
    let page = browser.get(&format!("/tasks?project_id={project}&priority=high&label=infra&sort=-due_date")).await;
    assert_eq!(titles(&page.html), ["Rotate keys", "Renew certificate"]);
    let page = browser.get("/tasks?status=done").await;
    assert_eq!(titles(&page.html), ["Order chairs"]);
    let page = browser.get("/tasks?assigned_to=ana&due_before=2026-02-01&q=CERT").await;
    assert_eq!(titles(&page.html), ["Renew certificate"]);
    // The filter form shows what is filtered by, empty fields included.
    let page = browser.get("/tasks?status=&priority=high&assigned_to=&label=&due_before=&q=&sort=title").await;
    assert_eq!(titles(&page.html), ["Fix footer", "Renew certificate", "Rotate keys"]);
    assert!(page.html.contains("<option value=\"high\" selected>High</option>"), "{}", page.html);
    // A filter the API refuses is refused in its words.
    let page = browser.get("/tasks?status=closed").await;
    assert!(page.html.contains("status: &quot;closed&quot; is not one of todo, in_progress, done"), "{}", page.html);

    // Keyset pages: the next page's link keeps the filters.
    let page = browser.get("/tasks?priority=high&limit=2").await;
    assert_eq!(titles(&page.html), ["Renew certificate", "Rotate keys"]);
    let start = page.html.find("href=\"/tasks?priority=high&amp;limit=2&amp;cursor=").expect("next page link") + 6;
    let link = page.html[start..].split('"').next().expect("link").replace("&amp;", "&");
    let page = browser.get(&link).await;
    assert_eq!(titles(&page.html), ["Fix footer"]);
    assert!(!page.html.contains("Next page"));

    // Another tenant sees none of them.
    let key = other_tenant(&app).await;
    let mut stranger = Browser::signed_in(&app, &key).await;
    assert!(titles(&stranger.get("/tasks").await.html).is_empty());
    assert!(stranger.get("/tasks").await.html.contains("Create a project first"));
}
both_backends!(the_task_list_filters_sorts_and_pages_as_the_api_does);

async fn tasks_are_created_edited_moved_and_commented(app: TestApp) {
    let project = app.project("ops").await;
    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;

    // Errors next to their fields, in the API's words.
    let page = browser
        .submit(
            "/tasks",
            "/tasks",
            &[("project_id", &project), ("title", ""), ("status", "todo"), ("priority", "high")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.html.contains("id=\"f-title-error\">title: must not be empty</p>"), "{}", page.html);
    let page = browser
        .submit(
            "/tasks",
            "/tasks",
            &[
                ("project_id", &project),
                ("title", "x"),
                ("status", "todo"),
                ("priority", "high"),
                ("time_estimate", "soon"),
            ],
        )
        .await;
    assert!(
        page.html.contains("id=\"f-time_estimate-error\">time_estimate: must be a whole number of minutes</p>"),
        "{}",
        page.html
    );

    let evil = "<script>alert(1)</script>";
    let page = browser
        .submit(
            "/tasks",
            "/tasks",
            &[
                ("project_id", &project),
                ("title", evil),
                ("description", "d"),
                ("status", "todo"),
                ("priority", "high"),
                ("assigned_to", "ana"),
                ("due_date", "2026-05-01"),
                ("labels", "infra, urgent"),
                ("time_estimate", "90"),
                ("time_spent", ""),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let id = page.location().trim_start_matches("/tasks/").to_string();
    let api = app.get(&format!("/api/v1/tasks/{id}")).await.body;
    assert_eq!(api["title"], evil);
    assert_eq!(
        (api["priority"].as_str(), api["assigned_to"].as_str(), api["due_date"].as_str()),
        (Some("high"), Some("ana"), Some("2026-05-01"))
    );
    assert_eq!((api["labels"].clone(), api["time_estimate"].as_i64()), (json!(["infra", "urgent"]), Some(90)));
    for path in ["/tasks".to_string(), format!("/tasks/{id}"), "/board".to_string()] {
        let html = browser.get(&path).await.html;
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !html.contains(evil), "{path}: {html}");
    }

    // The board moves it along.
    let page = browser.get(&format!("/board?project_id={project}")).await;
    assert!(page.html.contains(&format!("action=\"/tasks/{id}/status\"")), "{}", page.html);
    let page = browser
        .submit(
            "/board",
            &format!("/tasks/{id}/status"),
            &[("status", "in_progress"), ("back", &format!("/board?project_id={project}"))],
        )
        .await;
    assert_eq!(
        (page.status, page.location()),
        (StatusCode::SEE_OTHER, format!("/board?project_id={project}").as_str())
    );
    assert_eq!(app.get(&format!("/api/v1/tasks/{id}")).await.body["status"], "in_progress");
    let page = browser
        .submit("/board", &format!("/tasks/{id}/status"), &[("status", "done"), ("back", "https://evil.example/")])
        .await;
    assert_eq!(page.location(), format!("/tasks/{id}"), "only back to the board");
    // Without the CSRF token nothing moves.
    let page = browser.post(&format!("/tasks/{id}/status"), &[("status", "todo")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&format!("/api/v1/tasks/{id}")).await.body["status"], "done");

    // Every field edits; blank clears what may be cleared.
    let page = browser
        .submit(
            &format!("/tasks/{id}"),
            &format!("/tasks/{id}"),
            &[
                ("title", "Renew"),
                ("description", "new words"),
                ("status", "todo"),
                ("priority", "low"),
                ("assigned_to", ""),
                ("due_date", ""),
                ("labels", "infra"),
                ("time_estimate", ""),
                ("time_spent", "15"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let api = app.get(&format!("/api/v1/tasks/{id}")).await.body;
    assert_eq!(
        (api["title"].as_str(), api["description"].as_str(), api["status"].as_str()),
        (Some("Renew"), Some("new words"), Some("todo"))
    );
    assert_eq!(
        (api["assigned_to"].clone(), api["due_date"].clone(), api["time_estimate"].clone()),
        (json!(null), json!(null), json!(null))
    );
    assert_eq!(
        (api["labels"].clone(), api["time_spent"].as_i64(), api["priority"].as_str()),
        (json!(["infra"]), Some(15), Some("low"))
    );
    let page = browser
        .submit(
            &format!("/tasks/{id}"),
            &format!("/tasks/{id}"),
            &[("title", "Renew"), ("status", "todo"), ("priority", "low"), ("due_date", "tomorrow")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.html.contains("id=\"f-due_date-error\">due_date:"), "{}", page.html);

    // Comments: add, edit, delete; what people wrote is escaped.
    let page =
        browser.submit(&format!("/tasks/{id}"), &format!("/tasks/{id}/comments"), &[("content", "<b>first</b>")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let comments = app.get(&format!("/api/v1/comments?task_id={id}")).await.body;
    let comment = comments["items"][0]["id"].as_str().expect("comment").to_string();
    let html = browser.get(&format!("/tasks/{id}")).await.html;
    assert!(html.contains("&lt;b&gt;first&lt;/b&gt;</textarea>"), "{html}");
    let page = browser.submit(&format!("/tasks/{id}"), &format!("/comments/{comment}"), &[("content", "second")]).await;
    assert_eq!(page.location(), format!("/tasks/{id}#comments"));
    assert_eq!(app.get(&format!("/api/v1/comments/{comment}")).await.body["content"], "second");
    // A comment the API refuses stays on the page, its error next to its field in the API's words.
    let api = app.post("/api/v1/comments", json!({"task_id": id, "content": "  "})).await;
    assert_eq!(api.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", api.body);
    let words = api.body["error"]["message"].as_str().expect("message").to_string();
    let page = browser.submit(&format!("/tasks/{id}"), &format!("/tasks/{id}/comments"), &[("content", "  ")]).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", page.html);
    assert!(
        page.html.contains(&format!("<p class=\"error-message\" id=\"f-content-error\">{words}</p>")),
        "{}",
        page.html
    );
    assert!(page.html.contains("id=\"f-content\" name=\"content\" aria-invalid=\"true\""), "{}", page.html);
    let page = browser.submit(&format!("/tasks/{id}"), &format!("/comments/{comment}"), &[("content", "")]).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", page.html);
    assert!(
        page.html.contains(&format!("<p class=\"error-message\" id=\"comment-{comment}-error\">{words}</p>")),
        "{}",
        page.html
    );
    assert_eq!(app.get(&format!("/api/v1/comments/{comment}")).await.body["content"], "second", "nothing changed");
    assert_eq!(
        app.get(&format!("/api/v1/comments?task_id={id}")).await.body["items"].as_array().map(Vec::len),
        Some(1)
    );

    // Another tenant gets 404 pages and changes nothing.
    let key = other_tenant(&app).await;
    let mut stranger = Browser::signed_in(&app, &key).await;
    assert_eq!(stranger.get(&format!("/tasks/{id}")).await.status, StatusCode::NOT_FOUND);
    for (path, fields) in [
        (format!("/tasks/{id}"), vec![("title", "mine"), ("status", "todo"), ("priority", "low")]),
        (format!("/tasks/{id}/status"), vec![("status", "done")]),
        (format!("/tasks/{id}/comments"), vec![("content", "hi")]),
        (format!("/comments/{comment}"), vec![("content", "mine")]),
        (format!("/comments/{comment}/delete"), vec![]),
        (format!("/tasks/{id}/delete"), vec![]),
    ] {
        let page = stranger.submit("/dashboard", &path, &fields).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {}", page.html);
    }
    assert_eq!(stranger.get(&format!("/board?project_id={project}")).await.status, StatusCode::NOT_FOUND);
    stranger.submit("/projects", "/projects", &[("name", "theirs"), ("status", "active")]).await;
    let page = stranger
        .submit(
            "/dashboard",
            "/tasks",
            &[("project_id", &project), ("title", "sneak"), ("status", "todo"), ("priority", "low")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", page.html);
    assert!(page.html.contains("project_id: project not found"), "{}", page.html);
    assert_eq!(app.get(&format!("/api/v1/tasks/{id}")).await.body["title"], "Renew");
    assert_eq!(app.get(&format!("/api/v1/comments/{comment}")).await.body["content"], "second");

    let page = browser.submit(&format!("/tasks/{id}"), &format!("/comments/{comment}/delete"), &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(app.get(&format!("/api/v1/comments/{comment}")).await.status, StatusCode::NOT_FOUND);
    let page = browser.submit(&format!("/tasks/{id}"), &format!("/tasks/{id}/delete"), &[]).await;
    assert_eq!(
        (page.status, page.location()),
        (StatusCode::SEE_OTHER, format!("/tasks?project_id={project}").as_str())
    );
    assert_eq!(app.get(&format!("/api/v1/tasks/{id}")).await.status, StatusCode::NOT_FOUND);
}
both_backends!(tasks_are_created_edited_moved_and_commented);

#[tokio::test]
async fn the_task_page_shows_the_requests_behind_it() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await.expect("app");
    let project = app.project("ops").await;
    let res = app
        .post(
            "/api/v1/messages?wait=true",
            json!({"text": "Please renew the TLS certificate of <the> shop", "author": "ana", "project_id": project}),
        )
        .await;
    let task = res.body["task_id"].as_str().unwrap_or_else(|| panic!("a task: {}", res.body)).to_string();
    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    let page = browser.get(&format!("/tasks/{task}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("Please renew the TLS certificate of &lt;the&gt; shop"), "{}", page.html);
    assert!(page.html.contains("<td>ana <span class=\"muted\">via api</span></td><td>created"), "{}", page.html);
    assert!(page.html.contains("Not in any tracker yet."), "{}", page.html);

    // A request that may repeat another task names it on its own task's page.
    let res = app
        .post(
            "/api/v1/messages?wait=true",
            json!({"text": "Please renew the TLS certificate of the blog", "project_id": project}),
        )
        .await;
    assert_eq!(res.body["status"], "possible_duplicate", "{}", res.body);
    let similar = res.body["task_id"].as_str().expect("task");
    let page = browser.get(&format!("/tasks/{similar}")).await;
    assert!(page.html.contains(&format!("may repeat <a href=\"/tasks/{task}\">")), "{}", page.html);
}

/// The sort menu offers every sort the API takes (each field, both ways), and each works.
#[tokio::test]
async fn the_sort_menu_offers_every_sort_the_api_takes() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await.expect("app");
    let project = app.project("ops").await;
    let task = app.task(&project, json!({"title": "Renew", "labels": ["infra", "urgent <now>"]})).await;
    app.task(&project, json!({"title": "Other", "labels": ["later"]})).await;
    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    let page = browser.get("/tasks").await;
    let menu = page.html.split("<select id=\"filter-sort\"").nth(1).and_then(|m| m.split("</select>").next());
    let menu = menu.unwrap_or_else(|| panic!("a sort menu: {}", page.html)).to_string();
    for field in ["created_at", "updated_at", "due_date", "priority", "title"] {
        for sort in [field.to_string(), format!("-{field}")] {
            assert_eq!(app.get(&format!("/api/v1/tasks?sort={sort}")).await.status, StatusCode::OK, "{sort}");
            assert!(menu.contains(&format!("<option value=\"{sort}\"")), "{sort} offered: {menu}");
            let listed = browser.get(&format!("/tasks?sort={sort}")).await;
            assert_eq!(listed.status, StatusCode::OK);
            assert!(!listed.html.contains("error-message"), "{sort}: {}", listed.html);
            assert!(listed.html.contains(&format!("<option value=\"{sort}\" selected>")), "{sort} kept");
        }
    }
    assert_eq!(app.get("/api/v1/tasks?sort=colour").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(menu.matches("<option ").count(), 10, "no sort the API lacks: {menu}");

    // The task page shows its labels as chips linking to their lists, and names the others.
    let id = task["id"].as_str().expect("id");
    let page = browser.get(&format!("/tasks/{id}")).await;
    assert!(
        page.html
            .contains(&format!("<a class=\"pill\" href=\"/tasks?project_id={project}&amp;label=urgent+%3Cnow%3E\"")),
        "{}",
        page.html
    );
    assert!(page.html.contains("Also in this project: later."), "{}", page.html);
}
