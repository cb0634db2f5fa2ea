use reqwest::StatusCode;
use serde_json::json;

use super::{Browser, execute};
use crate::helpers::{ADMIN_KEY, TestApp, both_backends, join_all};

async fn the_overview_counts_the_tenants_work(app: TestApp) {
    let project = app.project("ops").await;
    // Two to do here, and a third from the request below.
    for (title, status) in [("a", "todo"), ("b", "todo"), ("c", "in_progress"), ("d", "done")] {
        app.task(&project, json!({"title": title, "status": status})).await;
    }
    let res = app
        .post(
            "/api/v1/messages?wait=true",
            json!({"text": "Please renew the TLS certificate of the shop", "project_id": project}),
        )
        .await;
    assert!(res.status.is_success(), "{}", res.body);
    let slack = app
        .integration(&project, json!({"type": "slack", "name": "Team <b>chat</b>", "settings": {}, "secrets": {"bot_token": "xoxb-1", "signing_secret": "s"}}))
        .await;
    execute(
        &app,
        &format!(
            "UPDATE integrations SET status = 'revoked', last_error = 'token_revoked <i>x</i>' WHERE id = '{slack}'"
        ),
    )
    .await;

    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    let page = browser.get("/dashboard").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let html = &page.html;
    assert!(
        html.contains("<a class=\"figure\" href=\"/tasks?status=todo\">3</a><span class=\"figure-label\">To do</span>"),
        "{html}"
    );
    assert!(
        html.contains("href=\"/tasks?status=in_progress\">1</a><span class=\"figure-label\">In progress</span>"),
        "{html}"
    );
    assert!(html.contains(">1</a><span class=\"figure-label\">received since"), "{html}");
    assert!(html.contains(">1</a><span class=\"figure-label\">became new tasks"), "{html}");
    // The request figures open the inbox under the same filter: today's requests.
    let label = html.find("\">1</a><span class=\"figure-label\">received since").expect("figure");
    let href = &html[html[..label].rfind("href=\"").expect("a link") + "href=\"".len()..label];
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(href, format!("/requests?received_since={today}"));
    let inbox = browser.get(href).await;
    assert_eq!(super::requests::rows(&inbox.html), vec![res.id()], "{}", inbox.html);
    // The broken integration, its error escaped.
    assert!(
        html.contains("Team &lt;b&gt;chat&lt;/b&gt;") && html.contains("token_revoked &lt;i&gt;x&lt;/i&gt;"),
        "{html}"
    );
    assert!(html.contains("pill revoked"), "{html}");

    // Another tenant sees none of it.
    let other = super::other_tenant(&app).await;
    let mut stranger = Browser::signed_in(&app, &other).await;
    let page = stranger.get("/dashboard").await;
    assert!(page.html.contains("Other · admin"), "{}", page.html);
    assert!(!page.html.contains("Team &lt;b&gt;"), "{}", page.html);
    assert!(page.html.contains("Every integration is working."), "{}", page.html);
}
both_backends!(the_overview_counts_the_tenants_work);

#[tokio::test]
async fn the_overview_explains_oauth_results() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await.expect("app");
    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    let page =
        browser.get("/dashboard?integration=slack&status=success&workspace=%3Cscript%3Ealert(1)%3C/script%3E").await;
    assert!(
        page.html
            .contains("<strong>Slack is connected</strong> to <strong>&lt;script&gt;alert(1)&lt;/script&gt;</strong>."),
        "{}",
        page.html
    );
    assert!(!page.html.contains("<script>alert"), "escaped");

    for (code, words) in [
        ("invalid_state", "could not be matched to a request from this console"),
        ("token_exchange_failed", "did not accept taskbridge's request for an access token"),
        ("slack_oauth_denied", "cancelled or refused at Slack"),
        ("missing_code", "without the install's code or state"),
        ("storage_failed", "could not be saved"),
    ] {
        let page = browser.get(&format!("/dashboard?integration=slack&status=error&error={code}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.html.contains("Connecting Slack failed."), "{code}: {}", page.html);
        assert!(page.html.contains(words), "{code}: {}", page.html);
        assert!(page.html.contains(&format!("<code>{code}</code>")), "{code}");
    }
    let page = browser.get("/dashboard").await;
    assert!(!page.html.contains("banner"), "no banner without a result");
}

const STATUSES: [&str; 3] = ["todo", "in_progress", "done"];

/// The overview's figure for `status`.
fn figure(html: &str, status: &str) -> i64 {
    let marker = format!("href=\"/tasks?status={status}\">");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {status} figure in {html}")) + marker.len();
    html[start..].split('<').next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{status}: {html}"))
}

/// The tenant's tasks of `status`, counted one by one through the API's list.
async fn recount(app: &TestApp, status: &str) -> i64 {
    let res = app.get(&format!("/api/v1/tasks?status={status}&limit=200")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body["next_cursor"].is_null(), "one page holds them all");
    res.body["items"].as_array().expect("items").len() as i64
}

async fn assert_figures_match(app: &TestApp, browser: &mut Browser<'_>, when: &str) {
    let page = browser.get("/dashboard").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    for status in STATUSES {
        assert_eq!(figure(&page.html, status), recount(app, status).await, "{status} {when}");
    }
}

/// The figures are kept beside the tasks rather than counted per visit (migration 0021); they
/// stay exactly what a recount gives through creates made at once, moves in both directions
/// at once, deletes, a task made from a request and a move on the board.
async fn the_overview_figures_match_a_recount(app: TestApp) {
    let projects = [app.project("alpha").await, app.project("beta").await];
    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    assert_figures_match(&app, &mut browser, "before any task").await;
    let app = &app;

    let created = join_all((0..60).map(|i| {
        let body = json!({"project_id": projects[i % 2], "title": format!("task {i}"), "status": STATUSES[i % 3]});
        app.post("/api/v1/tasks", body)
    }))
    .await;
    let mut tasks: Vec<(String, usize)> = Vec::new();
    for (i, res) in created.iter().enumerate() {
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        tasks.push((res.id(), i % 3));
    }
    assert_figures_match(app, &mut browser, "after 60 creates at once").await;

    // Forty tasks move at once, some forward and some back, so the same two counts are
    // changed in opposite orders by concurrent transactions.
    let moved = join_all(tasks.iter().take(40).enumerate().map(|(i, (id, status))| {
        let to = STATUSES[(status + 1 + i % 2) % 3];
        let path = format!("/api/v1/tasks/{id}");
        async move { app.patch(&path, json!({"status": to})).await }
    }))
    .await;
    for res in &moved {
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    }
    // A change that keeps the status counts nothing twice.
    let res = app.patch(&format!("/api/v1/tasks/{}", tasks[0].0), json!({"title": "renamed"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_figures_match(app, &mut browser, "after moves").await;

    let deleted = join_all(tasks.iter().skip(45).map(|(id, _)| {
        let path = format!("/api/v1/tasks/{id}");
        async move { app.delete(&path).await }
    }))
    .await;
    for res in &deleted {
        assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    }
    let res = app
        .post(
            "/api/v1/messages?wait=true",
            json!({"text": "Please renew the shop's certificate", "project_id": projects[0]}),
        )
        .await;
    assert!(res.status.is_success(), "{}", res.body);
    let page = browser.submit("/board", &format!("/tasks/{}/status", tasks[41].0), &[("status", "done")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    assert_figures_match(app, &mut browser, "after deletes, a request and a board move").await;
    let total: i64 = {
        let page = browser.get("/dashboard").await;
        STATUSES.iter().map(|s| figure(&page.html, s)).sum()
    };
    assert_eq!(total, 60 - 15 + 1, "45 of the 60 remain, and the request's task");
}
both_backends!(the_overview_figures_match_a_recount);
