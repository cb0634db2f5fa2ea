//! Turning an authorization code into an install: each provider's token request and answer,
//! read into the settings and secrets of the integration records it makes. Failures are
//! described without any token or secret in the words.

use serde_json::{Map, Value, json};

use super::providers::{OAuthSettings, Provider, ProviderSettings};
use crate::domain::integration::IntegrationType;
use crate::integrations::ssrf::describe;

/// One integration record an install writes: `settings` hold only how it was made and when
/// its token expires; what describes the install — workspace, guild, site, account and
/// tenant ids and names, bot and app ids, scopes — is `installation`, sealed with the
/// tokens (and read from there to route requests).
#[derive(Debug)]
pub struct Record {
    pub kind: IntegrationType,
    pub settings: Map<String, Value>,
    pub secrets: Map<String, Value>,
    pub installation: Map<String, Value>,
}

/// What the callback carries beside the code.
pub struct Grant<'a> {
    pub code: &'a str,
    pub redirect_uri: &'a str,
    pub verifier: Option<&'a str>,
    /// The token URL with the install's `{tenant}`/`{subdomain}` filled in.
    pub token_url: &'a str,
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

/// The fields, `null` where the provider gave none: written over a record, a `null`
/// removes what an earlier grant left.
fn set(pairs: &[(&str, &Value)]) -> Map<String, Value> {
    pairs.iter().map(|(k, v)| (k.to_string(), (*v).clone())).collect()
}

/// When a token that lasts `expires_in` seconds runs out; the provider's figure is held
/// to between a second past the refresh lead and a year, so a refresh is never due at once
/// (no loop on a zero or negative figure) and the time never overflows.
fn expiry(answer: &Value) -> Value {
    match answer["expires_in"].as_i64() {
        Some(seconds) => {
            let seconds = seconds.clamp(super::refresh::LEAD.as_secs() as i64 + 1, 366 * 24 * 3600);
            json!((chrono::Utc::now() + chrono::Duration::seconds(seconds)).to_rfc3339())
        }
        None => Value::Null,
    }
}

/// A provider's error answer in one line: its code and its description.
fn reason(answer: &Value) -> String {
    match (answer["error"].as_str(), answer["error_description"].as_str()) {
        (Some(code), Some(text)) => format!("{code}: {text}"),
        (Some(one), None) | (None, Some(one)) => one.to_string(),
        (None, None) => "no details".into(),
    }
}

async fn post(request: reqwest::RequestBuilder, provider: Provider) -> Result<Value, String> {
    let name = provider.as_str();
    let res = request.send().await.map_err(|e| format!("{name} token request failed: {}", describe(e)))?;
    let status = res.status();
    let answer: Value = res.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(format!("{name} refused the code ({}): {}", status.as_u16(), reason(&answer)));
    }
    // Slack answers 200 with `ok: false`.
    if answer["ok"] == false {
        return Err(format!("{name} refused the code: {}", answer["error"].as_str().unwrap_or("no details")));
    }
    if answer["access_token"].as_str().is_none_or(str::is_empty) {
        return Err(format!("{name} answered without an access token"));
    }
    Ok(answer)
}

/// Exchanges the code and reads the answer into records.
pub async fn exchange(
    http: &reqwest::Client,
    settings: &OAuthSettings,
    provider: Provider,
    client: &ProviderSettings,
    grant: &Grant<'_>,
) -> Result<Vec<Record>, String> {
    let form = |extra: &[(&str, &str)]| {
        let mut fields: Vec<(&str, &str)> =
            vec![("grant_type", "authorization_code"), ("code", grant.code), ("redirect_uri", grant.redirect_uri)];
        fields.extend_from_slice(extra);
        if let Some(verifier) = grant.verifier {
            fields.push(("code_verifier", verifier));
        }
        fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<(String, String)>>()
    };
    let secret = client.client_secret.expose();
    let request = match provider {
        Provider::Slack | Provider::Teams => {
            let scope = client.scope(provider);
            let mut fields = form(&[("client_id", &client.client_id), ("client_secret", secret)]);
            if provider == Provider::Teams {
                fields.push(("scope".into(), scope));
            }
            http.post(grant.token_url).form(&fields)
        }
        Provider::Discord => http.post(grant.token_url).basic_auth(&client.client_id, Some(secret)).form(&form(&[])),
        Provider::Atlassian | Provider::Zendesk => {
            let mut body = json!({"grant_type": "authorization_code", "client_id": client.client_id,
                                  "client_secret": secret, "code": grant.code, "redirect_uri": grant.redirect_uri});
            if provider == Provider::Zendesk {
                body["scope"] = json!(client.scope(provider));
            }
            if let Some(verifier) = grant.verifier {
                body["code_verifier"] = json!(verifier);
            }
            http.post(grant.token_url).json(&body)
        }
    };
    let answer = post(request.header(reqwest::header::ACCEPT, "application/json"), provider).await?;
    let tokens = set(&[("access_token", &answer["access_token"]), ("refresh_token", &answer["refresh_token"])]);
    let expires_at = expiry(&answer);
    let routing = set(&[("auth", &json!("oauth")), ("expires_at", &expires_at)]);
    let mut about = set(&[("scopes", &answer["scope"])]);
    let app_secrets: Map<String, Value> = settings
        .app_secrets
        .get(&provider)
        .into_iter()
        .flatten()
        .map(|(name, value)| (name.to_string(), json!(value.expose())))
        .collect();
    let record = |kind, settings, secrets, installation| Record { kind, settings, secrets, installation };
    Ok(match provider {
        Provider::Slack => {
            about.extend(set(&[
                ("team_id", &answer["team"]["id"]),
                ("team_name", &answer["team"]["name"]),
                ("enterprise_id", &answer["enterprise"]["id"]),
                ("bot_user_id", &answer["bot_user_id"]),
                ("app_id", &answer["app_id"]),
                ("webhook_channel", &answer["incoming_webhook"]["channel"]),
                ("webhook_channel_id", &answer["incoming_webhook"]["channel_id"]),
            ]));
            let mut secrets = set(&[
                ("bot_token", &answer["access_token"]),
                ("refresh_token", &answer["refresh_token"]),
                ("webhook_url", &answer["incoming_webhook"]["url"]),
            ]);
            secrets.extend(app_secrets);
            vec![record(IntegrationType::Slack, routing, secrets, about)]
        }
        Provider::Discord => {
            about.extend(set(&[
                ("guild_id", &answer["guild"]["id"]),
                ("guild_name", &answer["guild"]["name"]),
                ("webhook_channel_id", &answer["webhook"]["channel_id"]),
            ]));
            let mut routing = routing;
            routing.insert("application_id".into(), json!(client.client_id));
            let mut secrets = tokens;
            secrets.extend(set(&[("webhook_url", &answer["webhook"]["url"])]));
            secrets.extend(app_secrets);
            vec![record(IntegrationType::Discord, routing, secrets, about)]
        }
        // The bot posts with its own credentials (client credentials at the Bot Framework):
        // the OAuth app's unless a separate bot registration is configured, so an install
        // can answer and send without settings written by hand.
        Provider::Teams => {
            about.insert("ms_tenant".into(), json!(settings.teams_tenant));
            let mut routing = routing;
            routing.insert("app_id".into(), json!(settings.teams_bot_app_id.as_deref().unwrap_or(&client.client_id)));
            let mut secrets = tokens;
            match app_secrets.get("app_password") {
                Some(password) => secrets.insert("app_password".into(), password.clone()),
                None if settings.teams_bot_app_id.is_none() => secrets.insert("app_password".into(), json!(secret)),
                None => None,
            };
            vec![record(IntegrationType::MsTeams, routing, secrets, about)]
        }
        Provider::Zendesk => vec![record(IntegrationType::Zendesk, routing, tokens, about)],
        Provider::Atlassian => {
            let token = answer["access_token"].as_str().unwrap_or_default();
            let site = accessible_site(http, &settings.atlassian_resources_url, token).await?;
            about.extend(set(&[("cloud_id", &site["id"]), ("site_url", &site["url"]), ("site_name", &site["name"])]));
            [IntegrationType::Jira, IntegrationType::Confluence]
                .into_iter()
                .map(|kind| record(kind, routing.clone(), tokens.clone(), about.clone()))
                .collect()
        }
    })
}

/// The first site the token reaches: its cloud id, URL and name.
async fn accessible_site(http: &reqwest::Client, url: &str, token: &str) -> Result<Value, String> {
    let res = http
        .get(url)
        .bearer_auth(token)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| format!("Atlassian's site list failed: {}", describe(e)))?;
    if !res.status().is_success() {
        return Err(format!("Atlassian's site list answered {}", res.status().as_u16()));
    }
    let sites: Value = res.json().await.map_err(|_| "Atlassian's site list is not JSON".to_string())?;
    sites
        .as_array()
        .and_then(|s| s.first())
        .filter(|s| s["id"].is_string() && s["url"].is_string())
        .cloned()
        .map(object)
        .map(Value::Object)
        .ok_or_else(|| "the token reaches no Atlassian site".to_string())
}

/// Why a refresh failed: refused (the grant is gone; retrying cannot help) or not reached.
#[derive(Debug)]
pub enum RefreshError {
    Refused(String),
    Unreachable(String),
}

/// Trades a refresh token for new tokens; the answer as the provider gave it (with a new
/// refresh token where the provider rotates them).
pub async fn refresh(
    http: &reqwest::Client,
    provider: Provider,
    client: &ProviderSettings,
    refresh_token: &str,
    token_url: &str,
) -> Result<Value, RefreshError> {
    let secret = client.client_secret.expose();
    let fields = |extra: &[(&str, &str)]| {
        let mut fields = vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
        fields.extend_from_slice(extra);
        fields.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<(String, String)>>()
    };
    let scope = client.scope(provider);
    let request = match provider {
        Provider::Slack => {
            http.post(token_url).form(&fields(&[("client_id", &client.client_id), ("client_secret", secret)]))
        }
        Provider::Teams => http.post(token_url).form(&fields(&[
            ("client_id", &client.client_id),
            ("client_secret", secret),
            ("scope", &scope),
        ])),
        Provider::Discord => http.post(token_url).basic_auth(&client.client_id, Some(secret)).form(&fields(&[])),
        Provider::Atlassian | Provider::Zendesk => http.post(token_url).json(&json!({
            "grant_type": "refresh_token", "client_id": client.client_id, "client_secret": secret,
            "refresh_token": refresh_token,
        })),
    };
    let name = provider.as_str();
    let res = request
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| RefreshError::Unreachable(format!("{name} token refresh failed: {}", describe(e))))?;
    let status = res.status();
    let answer: Value = res.json().await.unwrap_or(Value::Null);
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(RefreshError::Unreachable(format!("{name} answered {} to a token refresh", status.as_u16())));
    }
    if !status.is_success() || answer["ok"] == false || answer["access_token"].as_str().is_none_or(str::is_empty) {
        return Err(RefreshError::Refused(format!(
            "{name} refused the refresh ({}): {}",
            status.as_u16(),
            reason(&answer)
        )));
    }
    Ok(answer)
}

/// The secrets and settings a refresh answer changes on a record of `kind`: what it
/// gives (a provider that keeps the refresh token does not send it again).
pub fn refreshed(kind: IntegrationType, answer: &Value) -> (Map<String, Value>, Map<String, Value>) {
    let given = |m: Map<String, Value>| m.into_iter().filter(|(_, v)| !v.is_null()).collect::<Map<String, Value>>();
    let token = if kind == IntegrationType::Slack { "bot_token" } else { "access_token" };
    let secrets = given(set(&[(token, &answer["access_token"]), ("refresh_token", &answer["refresh_token"])]));
    let settings =
        given(set(&[("expires_at", &expiry(answer)), ("refreshed_at", &json!(chrono::Utc::now().to_rfc3339()))]));
    (settings, secrets)
}
