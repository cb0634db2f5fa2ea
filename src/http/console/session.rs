//! Signing in and out, the session cookie, and the CSRF check of every form.
//!
//! Signing in with an API key stores a session (the hash of a random token) and hands the
//! browser the token in an `HttpOnly`, `SameSite=Strict` cookie. Each session has its own
//! CSRF token, which every state-changing form carries and [`Form`] checks.

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use maud::html;
use subtle::ConstantTimeEq;

use super::layout;
use super::{PageError, PageResult};
use crate::domain::tenant::{Caller, hash_key};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::BodyLimit;

/// The cookie's name; with `Secure` the `__Host-` prefix also pins it to this host and path.
fn cookie_name(state: &AppState) -> &'static str {
    if state.console.secure_cookies { "__Host-tb_session" } else { "tb_session" }
}

/// A signed-in browser: the key it acts as, its tenant's name, and its forms' CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    pub caller: Caller,
    pub tenant_name: String,
    pub csrf_token: String,
}

impl Session {
    /// The session the request's cookie names, if it is still alive; `touch` keeps it alive
    /// longer (a person's request).
    async fn current(headers: &HeaderMap, state: &AppState, touch: bool) -> Result<Option<Session>, PageError> {
        let Some(token) = cookie(headers, cookie_name(state)) else { return Ok(None) };
        let idle = chrono::TimeDelta::from_std(state.console.idle).unwrap_or(chrono::TimeDelta::hours(8));
        let found = state.store.console_session(&hash_key(token), idle, touch).await?;
        Ok(found.map(|s| Session { caller: s.caller, tenant_name: s.tenant_name, csrf_token: s.csrf_token }))
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let next = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/dashboard");
        Session::current(&parts.headers, state, true).await?.ok_or_else(|| PageError::SignIn { next: next.to_string() })
    }
}

/// The session of a page asking by itself (a script polling for news): it is not a person's
/// activity, so it never keeps the session from ending after the idle time; without a live
/// session the answer is a plain 401.
pub struct Polling(pub Session);

impl FromRequestParts<AppState> for Polling {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match Session::current(&parts.headers, state, false).await? {
            Some(session) => Ok(Polling(session)),
            None => Err(ApiError::Unauthorized("the console session ended: sign in again").into()),
        }
    }
}

/// The value of cookie `name` in the request.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The fields of a posted form, once its session and CSRF token are checked.
pub struct Form {
    pub session: Session,
    fields: Vec<(String, String)>,
}

impl Form {
    /// The field's value, `None` when the form did not have it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The field's value, empty when the form did not have it.
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_string()
    }

    /// A checkbox: sent (with any value) when checked.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

impl FromRequest<AppState> for Form {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        let fields = read_fields(&parts, body).await?;
        let presented = fields.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_bytes()).unwrap_or_default();
        if !bool::from(presented.ct_eq(session.csrf_token.as_bytes())) {
            return Err(ApiError::Forbidden(
                "this form was not sent from a page of this session: reload the page and try again",
            )
            .into());
        }
        Ok(Form { session, fields })
    }
}

async fn read_fields(parts: &Parts, body: axum::body::Body) -> Result<Vec<(String, String)>, PageError> {
    let limit = parts.extensions.get::<BodyLimit>().map(|l| l.0).filter(|l| *l > 0).unwrap_or(1024 * 1024);
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| ApiError::PayloadTooLarge(limit))?;
    Ok(form_urlencoded::parse(&bytes).into_owned().collect())
}

/// 32 random bytes, URL-safe.
fn random_token() -> Result<String, PageError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::Internal(format!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Where to go after signing in: a path on this site, never another origin.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/dashboard",
    }
}

#[derive(serde::Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
}

pub async fn sign_in_page(
    State(s): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<SignInQuery>,
) -> PageResult {
    let next = safe_next(q.next.as_deref());
    if Session::current(&headers, &s, true).await?.is_some() {
        return Ok(Redirect::to(next).into_response());
    }
    Ok(sign_in_form(next, None).into_response())
}

fn sign_in_form(next: &str, error: Option<&str>) -> maud::Markup {
    layout::bare(
        "Sign in",
        html! {
            h1 { "Sign in to taskbridge" }
            form.stack.card method="post" action="/sign-in" {
                input type="hidden" name="next" value=(next);
                div.field {
                    label for="key" { "API key" }
                    input id="key" type="password" name="key" required autocomplete="current-password"
                        aria-invalid=[error.map(|_| "true")] aria-describedby="key-hint key-error";
                    @if let Some(error) = error {
                        p.error-message id="key-error" { (error) }
                    }
                    p.hint id="key-hint" {
                        "An admin or member key of your tenant. On the first start the default tenant's admin key "
                        "is the one set in " code { "TASKBRIDGE_API_KEY" } ", or, when that was unset, the key "
                        "printed once in the server's log. An admin creates more keys under API keys."
                    }
                }
                div.actions { button type="submit" { "Sign in" } }
            }
        },
    )
}

/// Signing in: the key becomes a session. Only a form of this site may sign a browser in
/// (a cross-site form would sign the victim in as someone else).
pub async fn sign_in(State(s): State<AppState>, req: Request) -> PageResult {
    let (parts, body) = req.into_parts();
    if !same_origin(&parts.headers) {
        return Err(ApiError::Forbidden("sign in from this site's own sign-in page").into());
    }
    let fields = read_fields(&parts, body).await?;
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim());
    let next = safe_next(field("next"));
    let key = field("key").unwrap_or_default();
    let caller = match key {
        "" => None,
        key => s.store.authenticate(key).await?,
    };
    let Some(caller) = caller else {
        let error = if key.is_empty() { "an API key is required" } else { "the API key is not valid" };
        return Ok((StatusCode::UNAUTHORIZED, sign_in_form(next, Some(error))).into_response());
    };
    let token = random_token()?;
    let csrf = random_token()?;
    let idle = chrono::TimeDelta::from_std(s.console.idle).unwrap_or(chrono::TimeDelta::hours(8));
    s.store.create_console_session(&hash_key(&token), &caller, &csrf, idle).await?;
    tracing::info!(key_id = %caller.key_id, "console session started");
    let secure = if s.console.secure_cookies { "; Secure" } else { "" };
    let cookie = format!("{}={token}; Path=/; HttpOnly; SameSite=Strict{secure}", cookie_name(&s));
    let mut response = Redirect::to(next).into_response();
    let value = HeaderValue::from_str(&cookie).map_err(|e| ApiError::Internal(e.to_string()))?;
    response.headers_mut().insert(header::SET_COOKIE, value);
    Ok(response)
}

/// A request that names its origin names this host (browsers send `Origin` on posts).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or(origin);
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

pub async fn sign_out(State(s): State<AppState>, headers: HeaderMap, form: Form) -> PageResult {
    if let Some(token) = cookie(&headers, cookie_name(&s)) {
        s.store.delete_console_session(&hash_key(token)).await?;
    }
    tracing::info!(key_id = %form.session.caller.key_id, "console session ended");
    let secure = if s.console.secure_cookies { "; Secure" } else { "" };
    let cookie = format!("{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}", cookie_name(&s));
    let mut response = Redirect::to("/sign-in").into_response();
    let value = HeaderValue::from_str(&cookie).map_err(|e| ApiError::Internal(e.to_string()))?;
    response.headers_mut().insert(header::SET_COOKIE, value);
    Ok(response)
}
