//! The requests inbox: every request with its outcome, filtered and paged as the API's list,
//! the feed its script polls, the retry of a failed request, and the overview's figures that
//! lead to it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Browser, execute, other_tenant};
use crate::helpers::{ADMIN_KEY, TestApp, both_backends, execute_sql, set_time};

/// A request through the API as a chat would send it, waited for until intake is done.
pub async fn request(app: &TestApp, project: &str, text: &str, author: &str, source: &str) -> Value {
    let body =
        json!({"project_id": project, "text": text, "author": author, "source": source, "channel": "#web <b>team</b>"});
    let res = app.post("/api/v1/messages?wait=true", body).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
}

pub fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_string()
}

/// The ids of the rows of an inbox page (or of its feed), in order.
pub fn rows(html: &str) -> Vec<String> {
    html.split("<tr data-id=\"").skip(1).filter_map(|s| s.split('"').next()).map(str::to_string).collect()
}

/// The HTML of one request's row.
fn row<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html.find(&format!("<tr data-id=\"{id}\"")).unwrap_or_else(|| panic!("no row {id} in {html}"));
    let len = html[start..].find("</tr>").expect("row end");
    &html[start..start + len]
}

async fn the_inbox_shows_every_request_with_its_outcome(app: TestApp) {
    let web = app.project("web").await;
    let triage = app.post("/api/v1/projects", json!({"name": "support", "intake_mode": "triage"})).await.id();
    let created = request(&app, &web, "Migrate the wiki to Confluence", "ana", "slack").await;
    let duplicate = request(&app, &web, "can someone migrate our wiki to confluence?", "bo", "teams").await;
    assert_eq!(duplicate["status"], "duplicate", "{duplicate}");
    let german = request(&app, &web, "Translate the pricing page into German", "cy", "email").await;
    let possible = request(&app, &web, "Translate the pricing page into Japanese", "di", "email").await;
    assert_eq!(possible["status"], "possible_duplicate", "{possible}");
    let hostile = request(
        &app,
        &triage,
        "<img src=x onerror=alert(1)> Fix the <b>login</b> form",
        "<script>alert(1)</script>",
        "slack",
    )
    .await;
    assert_eq!(hostile["status"], "needs_triage", "{hostile}");
    let failed = request(&app, &web, "Order new office chairs", "ed", "api").await;
    execute_sql(
        &app,
        "UPDATE messages SET status = 'failed', error = $1, task_id = NULL WHERE id = $2",
        &["the model did not answer <in time>", &id(&failed)],
    )
    .await;

    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    let page = browser.get("/requests").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let html = &page.html;
    let newest_first: Vec<String> =
        [&failed, &hostile, &possible, &german, &duplicate, &created].iter().map(|m| id(m)).collect();
    assert_eq!(rows(html), newest_first);
    assert!(html.contains("<a href=\"/requests\" aria-current=\"page\">Requests</a>"), "in the navigation: {html}");

    // Who asked, where, and what they wrote — as text.
    let row_hostile = row(html, &id(&hostile));
    assert!(row_hostile.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{row_hostile}");
    assert!(
        row_hostile.contains("&lt;img src=x onerror=alert(1)&gt; Fix the &lt;b&gt;login&lt;/b&gt; form"),
        "{row_hostile}"
    );
    assert!(row_hostile.contains("Slack · #web &lt;b&gt;team&lt;/b&gt;"), "{row_hostile}");
    assert!(!html.contains("<script>alert") && !html.contains("<img src=x"), "escaped: {html}");
    assert!(row_hostile.contains("pill needs_triage\">Needs triage</span>"), "{row_hostile}");
    assert!(
        row_hostile.contains(&format!("href=\"/requests/{}\" aria-label=\"Decide on", id(&hostile))),
        "{row_hostile}"
    );

    // Each outcome says what became of the request, with its task.
    let task = |m: &Value| m["task_id"].as_str().expect("task").to_string();
    let row_created = row(html, &id(&created));
    assert!(row_created.contains("pill created\">Created</span>"), "{row_created}");
    assert!(row_created.contains(&format!("<a href=\"/tasks/{}\">", task(&created))), "{row_created}");
    let row_duplicate = row(html, &id(&duplicate));
    assert!(row_duplicate.contains(&format!("added to <a href=\"/tasks/{}\">", task(&created))), "{row_duplicate}");
    assert!(row_duplicate.contains("(similarity 0."), "{row_duplicate}");
    let row_possible = row(html, &id(&possible));
    assert!(row_possible.contains(&format!("<a href=\"/tasks/{}\">", task(&possible))), "its own task: {row_possible}");
    assert!(
        row_possible.contains(&format!(
            "may repeat </span><a href=\"/tasks/{}\">Translate the pricing page into German</a>",
            task(&german)
        )),
        "{row_possible}"
    );
    assert!(row_possible.contains("Compare and merge"), "{row_possible}");
    let row_failed = row(html, &id(&failed));
    assert!(row_failed.contains("the model did not answer &lt;in time&gt;"), "{row_failed}");
    assert!(row_failed.contains(&format!("action=\"/requests/{}/retry\"", id(&failed))), "{row_failed}");
    // The first page follows new requests: its rows name the feed, under the same filters.
    assert!(html.contains("<tbody id=\"inbox-rows\" data-feed=\"/requests/feed\">"), "{html}");

    // Filters: project, platform, outcome, day; as the API filters.
    let ids = |m: &[&Value]| m.iter().map(|m| id(m)).collect::<Vec<_>>();
    assert_eq!(rows(&browser.get("/requests?status=needs_triage").await.html), ids(&[&hostile]));
    assert_eq!(rows(&browser.get("/requests?source=email").await.html), ids(&[&possible, &german]));
    assert_eq!(rows(&browser.get(&format!("/requests?project_id={triage}")).await.html), ids(&[&hostile]));
    let both = browser.get(&format!("/requests?project_id={web}&source=slack&status=created")).await;
    assert_eq!(rows(&both.html), ids(&[&created]));
    assert!(both.html.contains("<option value=\"slack\" selected>Slack</option>"), "{}", both.html);
    assert!(
        both.html.contains("data-feed=\"/requests/feed?project_id=")
            && both.html.contains("&amp;source=slack&amp;status=created\""),
        "the feed keeps the filters: {}",
        both.html
    );
    let today = chrono::Utc::now().date_naive();
    assert_eq!(rows(&browser.get(&format!("/requests?received_since={today}")).await.html).len(), 6);
    let tomorrow = today.succ_opt().expect("tomorrow");
    let none = browser.get(&format!("/requests?received_since={tomorrow}")).await;
    assert!(rows(&none.html).is_empty() && none.html.contains("No requests match."), "{}", none.html);
    // What the API refuses is refused in its words.
    let api = app.get("/api/v1/messages?status=waiting").await;
    assert_eq!(api.status, StatusCode::BAD_REQUEST);
    let words = api.body["error"]["message"].as_str().expect("message").replace('"', "&quot;");
    let refused = browser.get("/requests?status=waiting").await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.html.contains(&words), "{words}: {}", refused.html);
    assert_eq!(
        app.get(&format!("/api/v1/messages?source=email&received_since={today}")).await.body["items"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // Keyset pages keep the filters; later pages do not follow the feed.
    let first = browser.get(&format!("/requests?project_id={web}&limit=2")).await;
    assert_eq!(rows(&first.html), ids(&[&failed, &possible]));
    let marker = format!("href=\"/requests?project_id={web}&amp;limit=2&amp;cursor=");
    let start = first.html.find(&marker).unwrap_or_else(|| panic!("next page link: {}", first.html)) + 6;
    let link = first.html[start..].split('"').next().expect("link").replace("&amp;", "&");
    assert!(link.contains("&limit=2&cursor="), "{link}");
    let second = browser.get(&link).await;
    assert_eq!(rows(&second.html), ids(&[&german, &duplicate]));
    assert!(!second.html.contains("data-feed"), "{}", second.html);

    // Another tenant sees none of it, and its own empty inbox says where requests come from.
    let key = other_tenant(&app).await;
    let mut stranger = Browser::signed_in(&app, &key).await;
    let theirs = stranger.get("/requests").await;
    assert!(rows(&theirs.html).is_empty() && theirs.html.contains("No requests yet."), "{}", theirs.html);
    assert!(rows(&stranger.get(&format!("/requests?project_id={web}")).await.html).is_empty());
    assert!(rows(&stranger.get("/requests/feed").await.html).is_empty());
    // Signed out, there is no inbox.
    assert_eq!(Browser::new(&app).get("/requests").await.status, StatusCode::UNAUTHORIZED);
}
both_backends!(the_inbox_shows_every_request_with_its_outcome);

/// The feed is the first page's rows alone: new requests and changed outcomes show in it at
/// once; asking for it does not keep a session alive, and an ended session gets a 401.
async fn the_feed_follows_new_requests_without_keeping_the_session_alive(app: TestApp) {
    let web = app.project("web").await;
    let first = request(&app, &web, "Renew the TLS certificate of the shop", "ana", "slack").await;
    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    let feed = browser.get("/requests/feed").await;
    assert_eq!(feed.status, StatusCode::OK, "{}", feed.html);
    assert!(feed.headers["content-type"].to_str().is_ok_and(|t| t.starts_with("text/html")));
    assert!(feed.html.starts_with("<table><tbody><tr data-id=") && !feed.html.contains("<html"), "{}", feed.html);
    assert_eq!(rows(&feed.html), [id(&first)]);
    let version = |html: &str, id: &str| -> String {
        let r = row(html, id);
        r.split("data-version=\"").nth(1).and_then(|v| v.split('"').next()).expect("version").to_string()
    };
    let before = version(&feed.html, &id(&first));

    let second = request(&app, &web, "Rotate the API keys of the payment provider", "bo", "teams").await;
    let feed = browser.get("/requests/feed").await;
    assert_eq!(rows(&feed.html), [id(&second), id(&first)]);
    assert_eq!(version(&feed.html, &id(&first)), before, "unchanged rows keep their version");
    // Filtered as the page is.
    assert_eq!(rows(&browser.get("/requests/feed?source=teams").await.html), [id(&second)]);
    // An outcome that changes changes the row's version (here: failed).
    execute_sql(&app, "UPDATE messages SET status = 'failed', error = 'x' WHERE id = $1", &[&id(&first)]).await;
    set_time(&app, "messages", "updated_at", &id(&first), chrono::Utc::now() + chrono::Duration::seconds(1)).await;
    let feed = browser.get("/requests/feed").await;
    assert!(row(&feed.html, &id(&first)).contains("pill failed"), "{}", feed.html);

    // Polling is not activity: the session's idle clock does not move; a page view moves it.
    execute(&app, "UPDATE console_sessions SET last_seen_at = '2000-01-01T00:00:00+00:00'").await;
    let untouched =
        "UPDATE console_sessions SET csrf_token = csrf_token WHERE last_seen_at < '2001-01-01T00:00:00+00:00'";
    assert_eq!(browser.get("/requests/feed").await.status, StatusCode::OK);
    assert_eq!(execute_sql(&app, untouched, &[]).await, 1, "the feed left the session's clock alone");
    assert_eq!(browser.get("/requests").await.status, StatusCode::OK);
    assert_eq!(execute_sql(&app, untouched, &[]).await, 0, "a page view moved it");
    // An ended session: the feed says 401 (the script stops), it does not send to sign in.
    execute(&app, "UPDATE console_sessions SET expires_at = created_at").await;
    let ended = browser.get("/requests/feed").await;
    assert_eq!(ended.status, StatusCode::UNAUTHORIZED);
    assert!(ended.html.contains("the console session ended"), "{}", ended.html);
}
both_backends!(the_feed_follows_new_requests_without_keeping_the_session_alive);

/// A failed request is retried from the inbox: queued again through its own intake job,
/// processed to a task; retried once (409 after), within its tenant, with the form's token.
async fn a_failed_request_is_retried_from_the_inbox(app: TestApp) {
    let web = app.project("web").await;
    let failed = request(&app, &web, "Order new office chairs for the second floor", "ana", "slack").await;
    let own_task = failed["task_id"].as_str().expect("task").to_string();
    app.delete(&format!("/api/v1/tasks/{own_task}")).await;
    execute_sql(
        &app,
        "UPDATE messages SET status = 'failed', error = 'the model did not answer', task_id = NULL WHERE id = $1",
        &[&id(&failed)],
    )
    .await;
    execute_sql(
        &app,
        "UPDATE jobs SET status = 'dead', last_error = 'gave up' WHERE idempotency_key = $1",
        &[&format!("intake:{}", id(&failed))],
    )
    .await;
    let path = format!("/requests/{}/retry", id(&failed));
    let back = format!("/requests?project_id={web}&status=failed");

    // Without the session's token, or from another tenant, nothing happens.
    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    browser.get("/requests").await;
    let forged = browser.post(&path, &[("csrf", "forged"), ("back", &back)]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.html);
    let key = other_tenant(&app).await;
    let mut stranger = Browser::signed_in(&app, &key).await;
    let theirs = stranger.submit("/requests", &path, &[("back", &back)]).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.html);
    assert_eq!(app.get(&format!("/api/v1/messages/{}", id(&failed))).await.body["status"], "failed");

    let retried = browser.submit(&back, &path, &[("back", &back)]).await;
    assert_eq!((retried.status, retried.location()), (StatusCode::SEE_OTHER, back.as_str()), "{}", retried.html);
    let mut shown = Value::Null;
    for _ in 0..400 {
        shown = app.get(&format!("/api/v1/messages/{}", id(&failed))).await.body;
        if shown["status"] == "created" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!((&shown["status"], &shown["error"]), (&json!("created"), &Value::Null), "{shown}");
    let task = shown["task_id"].as_str().expect("a task now").to_string();
    assert_ne!(task, own_task);
    assert_eq!(
        app.get(&format!("/api/v1/tasks?project_id={web}")).await.body["items"].as_array().map(Vec::len),
        Some(1)
    );

    // A second retry is a conflict, on the page and through the API alike.
    let again = browser.submit(&back, &path, &[("back", &back)]).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.html);
    assert!(again.html.contains("only a failed request can be retried"), "{}", again.html);
    let api = app.post(&format!("/api/v1/messages/{}/retry", id(&failed)), json!({})).await;
    assert_eq!((api.status, api.code()), (StatusCode::CONFLICT, "conflict"), "{}", api.body);
    assert_eq!(app.post("/api/v1/messages/no-such/retry", json!({})).await.status, StatusCode::NOT_FOUND);
    // A `back` elsewhere is not followed.
    execute_sql(&app, "UPDATE messages SET status = 'failed' WHERE id = $1", &[&id(&failed)]).await;
    let elsewhere = browser.submit(&back, &path, &[("back", "//evil.example/requests")]).await;
    assert_eq!(elsewhere.location(), format!("/requests/{}", id(&failed)));
}
both_backends!(a_failed_request_is_retried_from_the_inbox);

/// The overview's request figures lead to the inbox under the same filter: today's requests,
/// of the figure's outcome.
async fn the_overview_figures_lead_to_the_inbox(app: TestApp) {
    let web = app.project("web").await;
    request(&app, &web, "Migrate the wiki to Confluence", "ana", "slack").await;
    let duplicate = request(&app, &web, "can someone migrate our wiki to confluence?", "bo", "slack").await;
    assert_eq!(duplicate["status"], "duplicate");
    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    let overview = browser.get("/dashboard").await;
    let today = chrono::Utc::now().date_naive();
    for (filter, figure, label) in [
        ("", 2, "received since midnight"),
        ("&amp;status=duplicate", 1, "were already tracked"),
        ("&amp;status=possible_duplicate", 0, "became tasks that may be duplicates"),
        ("&amp;status=needs_triage", 0, "wait for a person"),
        ("&amp;status=failed", 0, "failed"),
    ] {
        let link = format!(
            "<a class=\"figure\" href=\"/requests?received_since={today}{filter}\">{figure}</a><span class=\"figure-label\">{label}"
        );
        assert!(overview.html.contains(&link), "{link}: {}", overview.html);
        let listed = browser.get(&format!("/requests?received_since={today}{}", filter.replace("&amp;", "&"))).await;
        assert_eq!(rows(&listed.html).len(), figure, "{filter}");
    }
}
both_backends!(the_overview_figures_lead_to_the_inbox);
