use reqwest::StatusCode;

use super::{Browser, execute};
use crate::helpers::{ADMIN_KEY, TestApp, both_backends};

async fn signing_in_and_out(app: TestApp) {
    let mut browser = Browser::new(&app);
    // Not signed in: a page that moves on to sign in, and comes back afterwards.
    let page = browser.get("/dashboard?integration=slack&status=success").await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(
        page.html.contains("url=/sign-in?next=%2Fdashboard%3Fintegration%3Dslack%26status%3Dsuccess"),
        "{}",
        page.html
    );

    let page = browser.get("/sign-in").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("<label for=\"key\">API key</label>"), "{}", page.html);
    assert!(page.html.contains("TASKBRIDGE_API_KEY"), "the first-run hint: {}", page.html);

    let page = browser.post("/sign-in", &[("key", "tb_wrong")]).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.html.contains("the API key is not valid"), "{}", page.html);
    assert!(browser.cookie().is_none());

    let page =
        browser.post("/sign-in", &[("key", ADMIN_KEY), ("next", "/dashboard?integration=slack&status=success")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    assert_eq!(page.location(), "/dashboard?integration=slack&status=success");
    let set_cookie = page.headers["set-cookie"].to_str().expect("cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{attribute} in {set_cookie}");
    }
    assert!(set_cookie.starts_with("__Host-tb_session="), "https public URL: {set_cookie}");

    let page = browser.get("/dashboard").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("default · admin"), "tenant and role shown: {}", page.html);
    // Signed in, the sign-in page goes straight on.
    let page = browser.get("/sign-in?next=/projects").await;
    assert_eq!((page.status, page.location()), (StatusCode::SEE_OTHER, "/projects"));
    // Another site is never a destination.
    let page = browser.get("/sign-in?next=//evil.example/").await;
    assert_eq!(page.location(), "/dashboard");

    // Signing out takes the session's CSRF token.
    let cookie = browser.cookie().map(str::to_string);
    let page = browser.post("/sign-out", &[("csrf", "forged")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = browser.submit("/dashboard", "/sign-out", &[]).await;
    assert_eq!((page.status, page.location()), (StatusCode::SEE_OTHER, "/sign-in"));
    assert!(browser.cookie().is_none(), "the cookie is cleared");
    // The old cookie no longer opens anything: the session is gone on the server.
    browser.set_cookie(cookie);
    assert_eq!(browser.get("/dashboard").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(browser.get("/projects").await.status, StatusCode::UNAUTHORIZED);
}
both_backends!(signing_in_and_out);

async fn sessions_expire_and_end_with_their_key(app: TestApp) {
    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    assert_eq!(browser.get("/dashboard").await.status, StatusCode::OK);
    // Only the token's hash is stored.
    let token = browser.cookie().and_then(|c| c.split_once('=')).map(|(_, v)| v.to_string()).expect("token");
    execute(&app, &format!("DELETE FROM console_sessions WHERE token_hash = '{token}'")).await;
    assert_eq!(browser.get("/dashboard").await.status, StatusCode::OK, "the token is not what is stored");

    // Past its idle time, a session is over.
    execute(&app, "UPDATE console_sessions SET expires_at = created_at").await;
    assert_eq!(browser.get("/dashboard").await.status, StatusCode::UNAUTHORIZED);

    // A member key's session ends when the key is deleted.
    let member = app.post("/api/v1/api-keys", serde_json::json!({"name": "m"})).await;
    let mut member_browser = Browser::signed_in(&app, member.body["api_key"].as_str().expect("key")).await;
    let page = member_browser.get("/dashboard").await;
    assert!(page.html.contains("default · member"), "{}", page.html);
    assert_eq!(app.delete(&format!("/api/v1/api-keys/{}", member.id())).await.status, StatusCode::NO_CONTENT);
    assert_eq!(member_browser.get("/dashboard").await.status, StatusCode::UNAUTHORIZED);
}
both_backends!(sessions_expire_and_end_with_their_key);

#[tokio::test]
async fn another_site_cannot_sign_a_browser_in() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await.expect("app");
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let res = client
        .post(format!("{}/sign-in", app.base))
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("key={ADMIN_KEY}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn pages_are_served_under_a_strict_policy_and_assets_are_cached() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await.expect("app");
    let mut browser = Browser::signed_in(&app, ADMIN_KEY).await;
    let page = browser.get("/dashboard").await;
    let csp = page.headers["content-security-policy"].to_str().expect("csp");
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("form-action 'self'"), "{csp}");
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert_eq!(page.headers["referrer-policy"], "same-origin");
    assert_eq!(page.headers["cache-control"], "no-store");
    assert!(!page.html.contains("<script>") && !page.html.contains(" style="), "no inline script or style");

    for (asset, kind) in [("console.css", "text/css"), ("console.js", "text/javascript")] {
        let marker = format!("/{asset}\"");
        let end = page.html.find(&marker).unwrap_or_else(|| panic!("{asset} linked")) + asset.len() + 1;
        let start = page.html[..end].rfind("\"/assets/").expect("asset url") + 1;
        let url = &page.html[start..end];
        let res = browser.get(url).await;
        assert_eq!(res.status, StatusCode::OK, "{url}");
        assert!(res.headers["content-type"].to_str().expect("type").starts_with(kind));
        assert_eq!(res.headers["cache-control"], "public, max-age=31536000, immutable");
        assert!(!res.html.is_empty());
    }
    assert_eq!(browser.get("/").await.location(), "/dashboard");
    assert_eq!(browser.get("/assets/0/missing.css").await.status, StatusCode::NOT_FOUND);
}
