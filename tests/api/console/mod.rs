//! The web console, page by page: sessions, CSRF, escaping, tenant isolation, secrets.

mod browser;
mod coordinator;
mod integrations;
mod jobs;
mod overview;
mod projects;
mod requests;
mod sessions;
mod sync;
mod tasks;
mod tracker_state;
mod triage;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::helpers::TestApp;

/// A browser that keeps the session cookie and follows no redirect, so each answer can be
/// looked at.
pub struct Browser<'a> {
    pub app: &'a TestApp,
    client: reqwest::Client,
    cookie: Option<String>,
}

pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub html: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// The CSRF token the page's forms carry.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.html.find(marker).unwrap_or_else(|| panic!("no CSRF field in {}", self.html)) + marker.len();
        self.html[start..].split('"').next().unwrap_or_default().to_string()
    }
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Browser { app, client, cookie: None }
    }

    /// A browser signed in with `key`.
    pub async fn signed_in(app: &'a TestApp, key: &str) -> Self {
        let mut browser = Browser::new(app);
        let page = browser.post("/sign-in", &[("key", key)]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
        browser
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let req = self.client.get(format!("{}{path}", self.app.base));
        self.send(req).await
    }

    /// Posts a form as the page would (same origin), with exactly the fields given.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(fields).expect("form");
        let req = self
            .client
            .post(format!("{}{path}", self.app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", self.app.base.clone())
            .body(body);
        self.send(req).await
    }

    /// Posts a form with the CSRF token of the page at `from`.
    pub async fn submit(&mut self, from: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.get(from).await.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all).await
    }

    async fn send(&mut self, mut req: reqwest::RequestBuilder) -> Page {
        if let Some(cookie) = &self.cookie {
            req = req.header("cookie", cookie.clone());
        }
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let headers = res.headers().clone();
        if let Some(set) = headers.get("set-cookie").and_then(|v| v.to_str().ok()) {
            let pair = set.split(';').next().unwrap_or_default().to_string();
            self.cookie = if pair.ends_with('=') { None } else { Some(pair) };
        }
        let html = res.text().await.expect("body");
        Page { status, headers, html }
    }

    /// The cookie the browser holds, as `name=value`.
    pub fn cookie(&self) -> Option<&str> {
        self.cookie.as_deref()
    }

    pub fn set_cookie(&mut self, cookie: Option<String>) {
        self.cookie = cookie;
    }
}

/// Runs one SQL statement on the app's database (to age a session, break an integration).
pub async fn execute(app: &TestApp, sql: &str) {
    if app.database_url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&app.database_url).await.expect("sqlite");
        sqlx::query(sql).execute(&pool).await.expect("statement");
    } else {
        let pool = sqlx::PgPool::connect(&app.database_url).await.expect("pg");
        sqlx::query(sql).execute(&pool).await.expect("statement");
    }
}

/// A second tenant and its admin key.
pub async fn other_tenant(app: &TestApp) -> String {
    let res = app.post("/api/v1/tenants", serde_json::json!({"name": "Other"})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.body["api_key"].as_str().expect("key").to_string()
}
