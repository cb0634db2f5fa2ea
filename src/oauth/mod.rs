//! OAuth 2.0 installs per project: an admin asks for the provider's authorize URL, the
//! provider sends the browser back to the public callback with a code, and the code becomes
//! the project's integration records with their tokens sealed. The state binds the callback
//! to whoever asked; every way the callback can fail redirects to the front end with a code.

pub mod exchange;
pub mod providers;
pub mod refresh;
pub mod state;

use std::sync::Arc;

use serde_json::{Map, Value, json};

pub use providers::{OAuthSettings, Provider};
use state::{Pending, States};

use crate::domain::id::{IntegrationId, ProjectId, TenantId};
use crate::domain::integration::plain_name;
use crate::domain::tenant::Caller;
use crate::integrations::Integrations;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("{0:?} is not an integration type that installs with OAuth (slack, discord, teams, atlassian, zendesk)")]
    UnknownProvider(String),
    #[error("OAuth for {0} is not configured: set TASKBRIDGE_OAUTH_{1}_CLIENT_ID and _CLIENT_SECRET")]
    NotConfigured(&'static str, String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    State(#[from] state::StateError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Details an install may choose: the Zendesk account, the Microsoft tenant.
#[derive(Debug, Default, Clone)]
pub struct InstallOptions {
    pub subdomain: Option<String>,
    pub ms_tenant: Option<String>,
}

/// What the provider sent the browser back with.
#[derive(Debug, Default, Clone)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

pub struct OAuth {
    settings: OAuthSettings,
    states: States,
    store: Store,
    integrations: Integrations,
    http: reqwest::Client,
    public_url: String,
    frontend_url: String,
}

impl OAuth {
    pub fn new(
        settings: OAuthSettings,
        states: States,
        store: Store,
        integrations: Integrations,
        http: reqwest::Client,
        public_url: &str,
        frontend_url: &str,
    ) -> Arc<Self> {
        Arc::new(OAuth {
            settings,
            states,
            store,
            integrations,
            http,
            public_url: public_url.trim_end_matches('/').to_string(),
            frontend_url: frontend_url.trim_end_matches('/').to_string(),
        })
    }

    /// Revokes an installed token at its provider, where the provider allows it; `Err`
    /// says why it could not (the disconnect goes on regardless). Records not installed
    /// with OAuth have nothing to revoke.
    pub async fn revoke_at_provider(&self, tenant_id: &TenantId, id: &IntegrationId) -> Result<(), String> {
        let (record, secrets) = self.integrations.with_secrets(tenant_id, id).await.map_err(|e| e.to_string())?;
        let installed = crate::domain::integration::OAuthGrant::read(&record.settings).installed();
        let (Some(provider), true) = (refresh::provider_of(record.kind), installed) else { return Ok(()) };
        let token =
            ["access_token", "bot_token"].iter().find_map(|name| crate::domain::integration::setting(&secrets, name));
        let (Some(client), Some(token)) = (self.settings.providers.get(&provider), token) else { return Ok(()) };
        let Some(url) = &client.revoke_url else { return Ok(()) };
        let url =
            providers::endpoint(url, |field| crate::domain::integration::routed(&record.settings, &secrets, field));
        let request = match provider {
            Provider::Discord => self
                .http
                .post(&url)
                .basic_auth(&client.client_id, Some(client.client_secret.expose()))
                .form(&[("token", token), ("token_type_hint", "access_token")]),
            Provider::Zendesk => self.http.delete(&url).bearer_auth(token),
            _ => self.http.post(&url).bearer_auth(token),
        };
        let name = provider.as_str();
        let res = request.send().await.map_err(|e| {
            format!("{name} could not be reached to revoke the token: {}", crate::integrations::ssrf::describe(e))
        })?;
        let status = res.status();
        let answer: Value = res.json().await.unwrap_or(Value::Null);
        // Slack answers 200 with `ok: false`; a token already gone counts as revoked.
        let gone = answer["error"].as_str().is_some_and(|e| matches!(e, "token_revoked" | "invalid_auth"));
        if (status.is_success() && answer["ok"] != false) || gone || status == reqwest::StatusCode::UNAUTHORIZED {
            Ok(())
        } else {
            Err(format!("{name} did not revoke the token ({})", status.as_u16()))
        }
    }

    /// Disconnects an integration: its token revoked where the provider allows, its secrets
    /// deleted, the record left `revoked`.
    pub async fn disconnect(
        &self,
        tenant_id: &TenantId,
        project_id: &ProjectId,
        id: &IntegrationId,
    ) -> Result<crate::domain::integration::Integration, crate::integrations::IntegrationError> {
        self.integrations.get(tenant_id, project_id, id).await?;
        let failure = self.revoke_at_provider(tenant_id, id).await.err();
        if let Some(why) = &failure {
            tracing::warn!(integration_id = id.as_str(), why, "the token could not be revoked at the provider");
        }
        let revoked = self.integrations.revoke(tenant_id, project_id, id, failure).await?;
        tracing::info!(integration_id = %id, "integration disconnected");
        Ok(revoked)
    }

    /// The providers whose client id and secret are configured, in a fixed order.
    pub fn configured(&self) -> Vec<Provider> {
        providers::ALL.into_iter().filter(|p| self.settings.providers.contains_key(p)).collect()
    }

    pub fn redirect_uri(&self, provider: Provider) -> String {
        format!("{}/api/public/integrations/{}/callback", self.public_url, provider.as_str())
    }

    /// The provider's authorize URL for installing into `project_id`, with a fresh state.
    pub async fn install_url(
        &self,
        caller: &Caller,
        project_id: &ProjectId,
        kind: &str,
        options: &InstallOptions,
    ) -> Result<String, OAuthError> {
        let provider = Provider::parse(kind).ok_or_else(|| OAuthError::UnknownProvider(kind.to_string()))?;
        self.store.get_project(&caller.tenant_id, project_id).await?;
        let client = self
            .settings
            .providers
            .get(&provider)
            .ok_or_else(|| OAuthError::NotConfigured(provider.as_str(), provider.as_str().to_uppercase()))?;
        let mut extra = Map::new();
        let mut authorize = client.authorize_url.clone();
        if authorize.contains("{subdomain}") || client.token_url.contains("{subdomain}") {
            let subdomain =
                options.subdomain.as_deref().map(str::trim).filter(|s| plain_name(s, false)).ok_or_else(|| {
                    OAuthError::Invalid("subdomain: the Zendesk account (acme for acme.zendesk.com) is required".into())
                })?;
            extra.insert("subdomain".into(), json!(subdomain.to_ascii_lowercase()));
            authorize = authorize.replace("{subdomain}", &subdomain.to_ascii_lowercase());
        }
        if provider == Provider::Teams {
            let tenant = match options.ms_tenant.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                Some(t) if plain_name(t, true) => t.to_string(),
                Some(_) => return Err(OAuthError::Invalid("ms_tenant: a tenant id or domain".into())),
                None => self.settings.teams_tenant.clone(),
            };
            authorize = authorize.replace("{tenant}", &tenant);
            extra.insert("ms_tenant".into(), json!(tenant));
        }
        let state = state::random_token()?;
        let verifier = if provider.pkce() { Some(state::random_token()?) } else { None };
        let pending = Pending {
            tenant_id: caller.tenant_id.clone(),
            project_id: project_id.clone(),
            key_id: caller.key_id.clone(),
            provider: provider.as_str().to_string(),
            verifier: verifier.clone(),
            extra,
            expires_at: chrono::Utc::now() + chrono::Duration::from_std(state::LIFETIME).unwrap_or_default(),
        };
        self.states.put(&state, &pending).await?;
        let redirect = self.redirect_uri(provider);
        let scope = client.scope(provider);
        let mut query: Vec<(&str, &str)> = vec![("client_id", &client.client_id), ("redirect_uri", &redirect)];
        match provider {
            Provider::Slack => query.extend([("scope", scope.as_str()), ("user_scope", "")]),
            Provider::Discord => query.extend([
                ("response_type", "code"),
                ("scope", scope.as_str()),
                ("permissions", self.settings.discord_permissions.as_str()),
            ]),
            Provider::Teams => query.extend([("response_type", "code"), ("response_mode", "query"), ("scope", &scope)]),
            Provider::Atlassian => query.extend([
                ("audience", "api.atlassian.com"),
                ("response_type", "code"),
                ("prompt", "consent"),
                ("scope", scope.as_str()),
            ]),
            Provider::Zendesk => query.extend([("response_type", "code"), ("scope", scope.as_str())]),
        }
        query.push(("state", &state));
        let challenge = verifier.as_deref().map(state::challenge);
        if let Some(challenge) = &challenge {
            query.extend([("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")]);
        }
        let encoded = serde_urlencoded::to_string(&query).map_err(|e| OAuthError::Invalid(e.to_string()))?;
        let separator = if authorize.contains('?') { '&' } else { '?' };
        Ok(format!("{authorize}{separator}{encoded}"))
    }

    /// Completes an install; answers where the browser goes next (always the front end).
    pub async fn callback(&self, kind: &str, callback: &Callback) -> String {
        match self.complete(kind, callback).await {
            Ok((provider, workspace)) => {
                let mut query = vec![("integration", provider.as_str()), ("status", "success")];
                query.extend(workspace.as_deref().map(|w| ("workspace", w)));
                let query = serde_urlencoded::to_string(query).unwrap_or_default();
                format!("{}/dashboard?{query}", self.frontend_url)
            }
            Err(code) => {
                let query = serde_urlencoded::to_string([("integration", kind), ("status", "error"), ("error", &code)])
                    .unwrap_or_default();
                format!("{}/dashboard?{query}", self.frontend_url)
            }
        }
    }

    /// Installs what the provider granted; answers the provider and the workspace (team,
    /// guild, site or account) it was installed into, when the provider named one.
    async fn complete(&self, kind: &str, callback: &Callback) -> Result<(Provider, Option<String>), String> {
        let provider = Provider::parse(kind).ok_or("unknown_integration")?;
        let name = provider.as_str();
        if callback.error.as_deref().is_some_and(|e| !e.is_empty()) {
            return Err(format!("{name}_oauth_denied"));
        }
        let code = callback.code.as_deref().filter(|c| !c.is_empty()).ok_or("missing_code")?;
        let state = callback.state.as_deref().filter(|s| !s.is_empty()).ok_or("missing_state")?;
        let pending = match self.states.take(state).await {
            Ok(Some(pending)) if pending.provider == name => pending,
            Ok(_) => return Err("invalid_state".into()),
            Err(e) => {
                tracing::warn!(provider = name, error = %e, "the OAuth state could not be read");
                return Err("invalid_state".into());
            }
        };
        let client = self.settings.providers.get(&provider).ok_or("token_exchange_failed")?;
        let token_url =
            providers::endpoint(&client.token_url, |field| pending.extra.get(field).and_then(Value::as_str));
        let redirect = self.redirect_uri(provider);
        let grant = exchange::Grant {
            code,
            redirect_uri: &redirect,
            verifier: pending.verifier.as_deref(),
            token_url: &token_url,
        };
        let records = match exchange::exchange(&self.http, &self.settings, provider, client, &grant).await {
            Ok(records) => records,
            Err(why) => {
                tracing::warn!(provider = name, project_id = %pending.project_id, why, "OAuth token exchange failed");
                return Err("token_exchange_failed".into());
            }
        };
        let mut workspace = None;
        for mut record in records {
            record.installation.insert("installed_by".into(), json!(pending.key_id));
            record.installation.insert("installed_at".into(), json!(chrono::Utc::now().to_rfc3339()));
            // The account or tenant chosen at install describes it too.
            for (key, value) in &pending.extra {
                record.installation.insert(key.clone(), value.clone());
            }
            record.installation.retain(|_, v| !v.is_null());
            let named = ["team_name", "guild_name", "site_name", "subdomain"]
                .iter()
                .find_map(|field| record.installation.get(*field).and_then(Value::as_str).filter(|n| !n.is_empty()));
            workspace = workspace.or(named.map(str::to_string));
            // Sealed with the tokens: what the install is about stays encrypted at rest.
            record.secrets.insert("installation".into(), Value::Object(record.installation.clone()));
            let saved = self
                .integrations
                .install(&pending.tenant_id, &pending.project_id, record.kind, &record.settings, &record.secrets)
                .await;
            match saved {
                // Atlassian's two records share one token: each has a refresh job, the first to
                // run refreshes both, and either goes on when the other is disconnected.
                Ok(integration) => refresh::schedule(self, &pending.tenant_id, &integration).await,
                Err(e) => {
                    tracing::warn!(provider = name, project_id = %pending.project_id, error = %e, "OAuth install not saved");
                    return Err("storage_failed".into());
                }
            }
        }
        tracing::info!(provider = name, project_id = %pending.project_id, "integration installed with OAuth");
        Ok((provider, workspace))
    }
}
