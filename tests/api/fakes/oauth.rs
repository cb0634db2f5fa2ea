//! OAuth providers: a fake of each provider's token endpoint (Slack, Discord, the Microsoft
//! identity platform, Atlassian with its site list, Zendesk) and of their revocation, which
//! check the code, the redirect URI and the PKCE verifier as the providers do; shared by the
//! OAuth tests and the binary's key rotation test.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Where taskbridge's callbacks are, as the tests configure its public URL.
pub const REDIRECT_BASE: &str = "https://taskbridge.example/api/public/integrations";

#[derive(Default)]
pub struct Fake {
    /// PKCE challenges seen in install URLs, to check verifiers against.
    pub challenges: Vec<String>,
    /// How long the tokens it hands out last (default: the provider's usual).
    pub expires_in: Option<i64>,
    /// Refresh tokens presented, in order.
    pub refreshes: Vec<String>,
    /// Tokens revoked: (provider, token).
    pub revoked: Vec<(String, String)>,
    /// Token requests, as received.
    pub requests: Vec<(String, Value)>,
    /// The incoming webhook a Slack install gets (Slack's own URL by default).
    pub slack_webhook_url: Option<String>,
}

pub type Shared = Arc<Mutex<Fake>>;

fn refused(error: &str) -> Response {
    (AxumStatus::BAD_REQUEST, Json(json!({"error": error, "error_description": "The code is not valid."})))
        .into_response()
}

/// Checks what every provider checks: the code, the redirect URI, and (with PKCE) that the
/// verifier matches a challenge the install sent.
fn check(fake: &mut Fake, provider: &str, form: &Value) -> Result<(), &'static str> {
    fake.requests.push((provider.to_string(), form.clone()));
    if form["code"] != "good-code" {
        return Err("invalid_grant");
    }
    if form["redirect_uri"] != format!("{REDIRECT_BASE}/{provider}/callback") {
        return Err("invalid_redirect_uri");
    }
    if let Some(verifier) = form["code_verifier"].as_str() {
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        if !fake.challenges.contains(&challenge) {
            return Err("invalid_grant");
        }
    } else if matches!(provider, "teams" | "zendesk") {
        return Err("invalid_request");
    }
    Ok(())
}

fn form_of(body: &str) -> Value {
    let pairs: HashMap<String, String> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    json!(pairs)
}

pub async fn fake_provider() -> (String, Shared) {
    let shared: Shared = Arc::default();
    async fn slack(State(s): State<Shared>, body: String) -> Response {
        let form = form_of(&body);
        let mut fake = s.lock().expect("lock");
        if form["client_id"] != "slack-client" || form["client_secret"] != "slack-secret" {
            return Json(json!({"ok": false, "error": "invalid_client_id"})).into_response();
        }
        if check(&mut fake, "slack", &form).is_err() {
            // Slack answers 200 with ok: false.
            return Json(json!({"ok": false, "error": "invalid_code"})).into_response();
        }
        let hook =
            fake.slack_webhook_url.clone().unwrap_or("https://hooks.slack.com/services/T1/B1/secret-hook".into());
        Json(json!({"ok": true, "access_token": "xoxb-17653672481-oauth-bot", "token_type": "bot",
            "scope": "chat:write,commands", "bot_user_id": "U0KRQLJ9H", "app_id": "A0KRD7HC3",
            "team": {"id": "T9TK3CUKW", "name": "Slack Softball Team"}, "enterprise": null,
            "authed_user": {"id": "U1234"},
            "incoming_webhook": {"channel": "#ops", "channel_id": "C0LAN2Q65",
                                 "url": hook}}))
        .into_response()
    }
    async fn discord(State(s): State<Shared>, headers: HeaderMap, body: String) -> Response {
        let basic =
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("discord-client:discord-secret"));
        if headers.get("authorization").is_none_or(|v| v != basic.as_str()) {
            return (AxumStatus::UNAUTHORIZED, Json(json!({"error": "invalid_client"}))).into_response();
        }
        let form = form_of(&body);
        let mut fake = s.lock().expect("lock");
        let lifetime = fake.expires_in.unwrap_or(604800);
        if form["grant_type"] == "refresh_token" {
            let presented = form["refresh_token"].as_str().unwrap_or_default().to_string();
            fake.refreshes.push(presented.clone());
            // The first refresh token works once (rotation); the second is refused.
            if presented != "discord-oauth-refresh" {
                return refused("invalid_grant");
            }
            return Json(json!({"access_token": "discord-oauth-access-2", "token_type": "Bearer",
                "expires_in": lifetime + 1, "refresh_token": "discord-oauth-refresh-2", "scope": "identify"}))
            .into_response();
        }
        if form["grant_type"] != "authorization_code" {
            return refused("unsupported_grant_type");
        }
        if let Err(refusal) = check(&mut fake, "discord", &form) {
            return refused(refusal);
        }
        Json(json!({"access_token": "discord-oauth-access", "token_type": "Bearer", "expires_in": lifetime,
            "refresh_token": "discord-oauth-refresh", "scope": "bot applications.commands identify guilds",
            "guild": {"id": "290926798626357250", "name": "Ops Guild"}}))
        .into_response()
    }
    async fn teams(State(s): State<Shared>, Path(tenant): Path<String>, body: String) -> Response {
        let form = form_of(&body);
        if tenant != "contoso.onmicrosoft.com" || form["client_secret"] != "teams-secret" {
            return (AxumStatus::UNAUTHORIZED, Json(json!({"error": "invalid_client"}))).into_response();
        }
        if !form["scope"].as_str().is_some_and(|s| s.contains("offline_access")) {
            return refused("invalid_scope");
        }
        if let Err(refusal) = check(&mut s.lock().expect("lock"), "teams", &form) {
            return refused(refusal);
        }
        Json(json!({"token_type": "Bearer", "scope": "User.Read ChannelMessage.Send", "expires_in": 3599,
            "ext_expires_in": 3599, "access_token": "eyJ0eXAi-teams-access", "refresh_token": "teams-refresh-1"}))
        .into_response()
    }
    async fn atlassian(State(s): State<Shared>, Json(body): Json<Value>) -> Response {
        if body["client_secret"] != "atl-secret" {
            return (AxumStatus::FORBIDDEN, Json(json!({"error": "access_denied"}))).into_response();
        }
        let mut fake = s.lock().expect("lock");
        let lifetime = fake.expires_in.unwrap_or(3600);
        if body["grant_type"] == "refresh_token" {
            let presented = body["refresh_token"].as_str().unwrap_or_default().to_string();
            fake.refreshes.push(presented.clone());
            let n = fake.refreshes.iter().filter(|r| r.starts_with("atl-")).count();
            // Rotating: only the latest refresh token works.
            let expected =
                if n == 1 { "atl-oauth-refresh".to_string() } else { format!("atl-oauth-refresh-{}", n - 1) };
            if presented != expected || n > 2 {
                return (
                    AxumStatus::FORBIDDEN,
                    Json(json!({"error": "invalid_grant",
                    "error_description": "Unknown or invalid refresh token."})),
                )
                    .into_response();
            }
            return Json(json!({"access_token": format!("atl-oauth-access-{n}"), "expires_in": lifetime,
                "token_type": "Bearer", "refresh_token": format!("atl-oauth-refresh-{n}"), "scope": "read:jira-work"}))
            .into_response();
        }
        if body["grant_type"] != "authorization_code" {
            return (AxumStatus::FORBIDDEN, Json(json!({"error": "access_denied"}))).into_response();
        }
        if let Err(refusal) = check(&mut fake, "atlassian", &body) {
            return refused(refusal);
        }
        Json(json!({"access_token": "atl-oauth-access", "expires_in": lifetime, "token_type": "Bearer",
            "refresh_token": "atl-oauth-refresh", "scope": "read:jira-work write:jira-work offline_access"}))
        .into_response()
    }
    async fn resources(headers: HeaderMap) -> Response {
        if headers.get("authorization").is_none_or(|v| v != "Bearer atl-oauth-access") {
            return (AxumStatus::UNAUTHORIZED, Json(json!({"code": 401, "message": "Unauthorized"}))).into_response();
        }
        Json(json!([{"id": "1324a887-45db-1bf4-1e99-ef0ff456d421", "name": "Acme", "url": "https://acme.atlassian.net",
                     "scopes": ["write:jira-work"], "avatarUrl": "https://x"}]))
        .into_response()
    }
    async fn zendesk(State(s): State<Shared>, Path(subdomain): Path<String>, Json(body): Json<Value>) -> Response {
        if subdomain != "acme" || body["client_secret"] != "zd-secret" {
            return (AxumStatus::UNAUTHORIZED, Json(json!({"error": "invalid_client"}))).into_response();
        }
        if let Err(refusal) = check(&mut s.lock().expect("lock"), "zendesk", &body) {
            return refused(refusal);
        }
        Json(json!({"access_token": "zd-oauth-access", "token_type": "bearer", "scope": "read write",
                    "refresh_token": "zd-oauth-refresh", "expires_in": 172800}))
        .into_response()
    }
    async fn slack_revoke(State(s): State<Shared>, headers: HeaderMap) -> Response {
        let token = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let token = token.strip_prefix("Bearer ").unwrap_or_default().to_string();
        s.lock().expect("lock").revoked.push(("slack".into(), token));
        Json(json!({"ok": true, "revoked": true})).into_response()
    }
    async fn discord_revoke(State(s): State<Shared>, body: String) -> Response {
        let form = form_of(&body);
        let token = form["token"].as_str().unwrap_or_default().to_string();
        s.lock().expect("lock").revoked.push(("discord".into(), token));
        Json(json!({})).into_response()
    }
    /// Zendesk's revocation is down: the disconnect goes on and says so.
    async fn zendesk_revoke() -> Response {
        (AxumStatus::SERVICE_UNAVAILABLE, Json(json!({"error": "Unavailable"}))).into_response()
    }
    let app = axum::Router::new()
        .route("/slack/revoke", axum::routing::post(slack_revoke))
        .route("/discord/revoke", axum::routing::post(discord_revoke))
        .route("/zendesk/{subdomain}/revoke", axum::routing::delete(zendesk_revoke))
        .route("/slack/token", axum::routing::post(slack))
        .route("/discord/token", axum::routing::post(discord))
        .route("/teams/{tenant}/token", axum::routing::post(teams))
        .route("/atlassian/token", axum::routing::post(atlassian))
        .route("/atlassian/resources", axum::routing::get(resources))
        .route("/zendesk/{subdomain}/token", axum::routing::post(zendesk))
        .with_state(shared.clone());
    (crate::helpers::serve(app).await, shared)
}
