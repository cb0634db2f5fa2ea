use reqwest::StatusCode;
use serde_json::json;

use super::{Browser, execute};
use crate::helpers::{ADMIN_KEY, TestApp, both_backends};

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
    assert!(html.contains("<span class=\"figure\">1</span><span class=\"figure-label\">received since"), "{html}");
    assert!(html.contains(">1</a><span class=\"figure-label\">became new tasks"), "{html}");
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
