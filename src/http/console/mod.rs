//! The web console: server-rendered pages over the same services as the REST API.
//!
//! Pages are `maud` templates (checked at compile time, escaping everything they are
//! given); assets are embedded; a session cookie stands for the API key that signed in,
//! and every form that changes something carries the session's CSRF token.

mod actions;
mod api_docs;
mod assets;
mod chat;
mod coordinator;
mod forms;
mod integrations;
mod jobs;
mod keys;
mod layout;
mod overview;
mod projects;
mod requests;
mod run_words;
mod runs;
mod session;
mod sync;
mod tasks;
mod triage;

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;

use super::AppState;
use super::error::ApiError;
pub use session::Session;

/// How the console's sessions behave.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Cookies carry `Secure` (the service is reached over https).
    pub secure_cookies: bool,
    /// A session ends after this long without a request.
    pub idle: Duration,
}

impl Settings {
    /// Settings for a service reached at `public_url`.
    pub fn for_public_url(public_url: &str) -> Self {
        Settings { secure_cookies: public_url.starts_with("https://"), idle: Duration::from_secs(8 * 3600) }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings::for_public_url("http://localhost")
    }
}

/// The console's routes, and the API reference as a page (`/docs/api`); none of them is
/// part of the API's OpenAPI document.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/sign-in", get(session::sign_in_page).post(session::sign_in))
        .route("/sign-out", post(session::sign_out))
        .route("/dashboard", get(overview::dashboard))
        .route("/requests", get(requests::list))
        .route("/requests/feed", get(requests::feed))
        .route("/requests/{id}", get(triage::show))
        .route("/requests/{id}/accept", post(triage::accept))
        .route("/requests/{id}/merge", post(triage::merge))
        .route("/requests/{id}/decline", post(triage::decline))
        .route("/requests/{id}/retry", post(triage::retry))
        .route("/projects", get(projects::list).post(projects::create))
        .route("/projects/{id}", get(projects::show).post(projects::update))
        .route("/tasks", get(tasks::list).post(tasks::create))
        .route("/tasks/{id}", get(tasks::show).post(tasks::update))
        .route("/tasks/{id}/status", post(tasks::set_status))
        .route("/tasks/{id}/delete", post(tasks::delete))
        .route("/tasks/{id}/comments", post(tasks::add_comment))
        .route("/comments/{id}", post(tasks::edit_comment))
        .route("/comments/{id}/delete", post(tasks::delete_comment))
        .route("/board", get(tasks::board))
        .route("/sync", get(sync::list))
        .route("/sync/confluence-tasks", post(sync::start_tasks))
        .route("/sync/jira-project", post(sync::start_mirror))
        .route("/sync/runs/{id}", get(runs::show))
        .route("/sync/runs/{id}/undo", get(runs::confirm).post(runs::undo))
        .route("/coordinator", get(coordinator::show))
        .route("/coordinator/analyze", post(coordinator::analyze))
        .route("/coordinator/analyses/{id}", get(coordinator::analysis))
        .route("/coordinator/chat", post(chat::send))
        .route("/coordinator/conversations/{id}", get(chat::show))
        .route("/coordinator/actions/{id}", get(actions::show))
        .route("/coordinator/actions/{id}/approve", post(actions::approve))
        .route("/coordinator/actions/{id}/reject", post(actions::reject))
        .route("/jobs", get(jobs::list))
        .route("/jobs/{id}/retry", post(jobs::retry))
        .route("/api-keys", get(keys::list).post(keys::create))
        .route("/api-keys/{id}/delete", post(keys::delete))
        .route("/projects/{id}/integrations", get(integrations::list).post(integrations::create))
        .route("/projects/{id}/integrations/connect/{provider}", post(integrations::connect))
        .route("/projects/{id}/integrations/{integration_id}", post(integrations::update))
        .route("/projects/{id}/integrations/{integration_id}/disconnect", post(integrations::disconnect))
        .route("/projects/{id}/integrations/{integration_id}/delete", post(integrations::delete))
        .route("/projects/{id}/integrations/{integration_id}/import", post(integrations::import))
        .route("/docs/api", get(api_docs::page))
        .layer(middleware::from_fn(security_headers))
        .route("/assets/{version}/{file}", get(assets::serve))
}

/// The policy every page is served under: scripts and styles only from this origin (no
/// inline script or style), no framing, forms only to this origin, no referrer.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn security_headers(req: axum::extract::Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin"));
    response
}

/// How a page fails: the API's error, shown as a page with the same status and words; a
/// missing or expired session sends the browser to sign in instead.
#[derive(Debug)]
pub enum PageError {
    Api(ApiError),
    /// No live session: sign in, then come back to `next`.
    SignIn {
        next: String,
    },
}

impl From<ApiError> for PageError {
    fn from(err: ApiError) -> Self {
        PageError::Api(err)
    }
}

impl From<crate::store::StoreError> for PageError {
    fn from(err: crate::store::StoreError) -> Self {
        PageError::Api(err.into())
    }
}

impl From<crate::domain::DomainError> for PageError {
    fn from(err: crate::domain::DomainError) -> Self {
        PageError::Api(err.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let err = match self {
            PageError::Api(err) => err,
            PageError::SignIn { next } => return sign_in_first(&next),
        };
        if let ApiError::Internal(cause) = &err {
            tracing::error!(%cause, "console page failed");
        }
        let status = err.status();
        let title = status.canonical_reason().unwrap_or("Error");
        let body = html! {
            h1 { (title) }
            p.error-message { (err.to_string()) }
            p { a href="/dashboard" { "Back to the overview" } }
        };
        (status, layout::bare(title, body)).into_response()
    }
}

/// Sends the browser to sign in. Not a redirect but a page that moves on by itself: when
/// the browser came from another site (an OAuth provider sending it back), its
/// `SameSite=Strict` cookie was withheld; the sign-in page, reached from this site, sees
/// it and goes straight on to `next`.
fn sign_in_first(next: &str) -> Response {
    let target = format!("/sign-in?{}", serde_urlencoded::to_string([("next", next)]).unwrap_or_default());
    let body = html! {
        meta http-equiv="refresh" content=(format!("0;url={target}"));
        h1 { "Sign in" }
        p { "This page needs you to be signed in. " a href=(target) { "Sign in" } }
    };
    (StatusCode::UNAUTHORIZED, layout::bare("Sign in", body)).into_response()
}

pub type PageResult = Result<Response, PageError>;
