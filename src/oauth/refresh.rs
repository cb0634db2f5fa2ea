//! Tokens are refreshed before they expire by a queued `oauth.refresh` job, one per token
//! (its idempotency key names the grant and the expiry it refreshes), so however many
//! instances run, one refresh happens per token. Atlassian's token serves a project's Jira
//! and Confluence records alike: one job refreshes both, and goes on through whichever is
//! still connected. A refused refresh marks the integrations `error` and says why; an
//! unreachable provider is retried, and marks them only when the job runs out of attempts.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::OAuth;
use super::exchange::{RefreshError, refresh, refreshed};
use super::providers::Provider;
use crate::domain::id::{IntegrationId, ProjectId, TenantId};
use crate::domain::integration::{IntegrationStatus, IntegrationType, OAuthGrant, setting};
use crate::integrations::IntegrationError;
use crate::jobs::{JobContext, JobError, JobKind, NewJob, Registry};
use crate::store::StoreError;
use crate::store::integrations::IntegrationRecord;

/// The `oauth.refresh` job: the token of integration `integration_id` that expires at
/// `expires_at` (RFC 3339).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RefreshToken {
    pub integration_id: IntegrationId,
    /// The record's project (older jobs name only their record).
    #[serde(default)]
    pub project_id: Option<ProjectId>,
    pub expires_at: String,
    /// What the token was granted to (the record, or the project's Atlassian grant): the
    /// records sharing a token name one job. Only the key needs it.
    #[serde(skip)]
    grant: String,
}

impl JobKind for RefreshToken {
    const KIND: &'static str = "oauth.refresh";

    fn idempotency_key(&self) -> String {
        format!("oauth-refresh:{}:{}", self.grant, self.expires_at)
    }
}

/// How long before expiry a token is refreshed.
pub const LEAD: Duration = Duration::from_secs(300);

/// The provider that issued a record's tokens.
pub fn provider_of(kind: IntegrationType) -> Option<Provider> {
    match kind {
        IntegrationType::Slack => Some(Provider::Slack),
        IntegrationType::Discord => Some(Provider::Discord),
        IntegrationType::MsTeams => Some(Provider::Teams),
        IntegrationType::Jira | IntegrationType::Confluence => Some(Provider::Atlassian),
        IntegrationType::Zendesk => Some(Provider::Zendesk),
        _ => None,
    }
}

/// The job refreshing the token of integration `id` (of `kind`, in `project_id`) that
/// expires at `expires_at` (RFC 3339), due `LEAD` before then (at once when that has
/// passed). The records sharing a token name one job.
pub fn refresh_job(id: &str, kind: IntegrationType, project_id: &ProjectId, expires_at: &str) -> Option<NewJob> {
    let expiry: DateTime<Utc> = DateTime::parse_from_rfc3339(expires_at).ok()?.with_timezone(&Utc);
    let due = (expiry - chrono::Duration::from_std(LEAD).ok()?).max(Utc::now());
    let grant = match provider_of(kind) {
        Some(Provider::Atlassian) => format!("{project_id}:atlassian"),
        _ => id.to_string(),
    };
    let job = RefreshToken {
        integration_id: id.into(),
        project_id: Some(project_id.clone()),
        expires_at: expires_at.to_string(),
        grant,
    };
    Some(job.job().at(due))
}

pub fn register(registry: &mut Registry, oauth: Arc<OAuth>) {
    registry.handle(move |ctx: JobContext, job: RefreshToken| {
        let oauth = oauth.clone();
        async move { run(&oauth, ctx, job).await }
    });
}

fn failure(e: IntegrationError) -> JobError {
    match e {
        IntegrationError::Store(StoreError::NotFound) => JobError::Permanent("the integration no longer exists".into()),
        other => JobError::Retry(other.to_string()),
    }
}

async fn run(oauth: &OAuth, ctx: JobContext, job: RefreshToken) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let (id, expires_at) = (&job.integration_id, job.expires_at.as_str());
    // The project, named by the job (older jobs name only their record).
    let project = match job.project_id {
        Some(project) => project,
        None => match oauth.integrations.with_secrets(tenant, id).await {
            Ok((record, _)) => record.project_id,
            Err(IntegrationError::Store(StoreError::NotFound)) => return Ok(()), // disconnected meanwhile
            Err(other) => return Err(failure(other)),
        },
    };
    let listed = oauth.store.list_integrations(tenant, &project).await.map_err(|e| failure(e.into()))?;
    // The records holding this token: the job's own and, as Atlassian's tokens serve the
    // project's Jira and Confluence alike (and rotate), its other record of that grant. One
    // disconnected, installed again or refreshed already (a newer job holds the token) is
    // left out; with none left there is nothing to do.
    let own_provider = listed.iter().find(|r| r.id == *id).and_then(|r| provider_of(r.kind));
    let atlassian = own_provider.is_none_or(|p| p == Provider::Atlassian);
    let sharing: Vec<&IntegrationRecord> = listed
        .iter()
        .filter(|r| r.id == *id || (atlassian && provider_of(r.kind) == Some(Provider::Atlassian)))
        .filter(|r| {
            let grant = OAuthGrant::read(&r.settings);
            r.status != IntegrationStatus::Revoked
                && grant.installed()
                && grant.expires_at.as_deref() == Some(expires_at)
        })
        .collect();
    let Some(holder) = sharing.iter().find(|r| r.id == *id).or(sharing.first()) else { return Ok(()) };
    let (record, secrets) = match oauth.integrations.with_secrets(tenant, &holder.id).await {
        Ok(found) => found,
        Err(IntegrationError::Store(StoreError::NotFound)) => return Ok(()),
        Err(other) => return Err(failure(other)),
    };
    let Some(provider) = provider_of(record.kind) else { return Ok(()) };
    let give_up = async |why: String| {
        for integration in &sharing {
            oauth.integrations.mark_error(tenant, &integration.id, &why).await.map_err(failure)?;
        }
        tracing::warn!(integration_id = id.as_str(), why, "token refresh failed");
        Err(JobError::Permanent(why))
    };
    let Some(client) = oauth.settings.providers.get(&provider) else {
        return give_up(format!("token refresh failed: OAuth for {} is no longer configured", provider.as_str())).await;
    };
    let Some(refresh_token) = setting(&secrets, "refresh_token") else {
        return give_up("token refresh failed: the install holds no refresh token".into()).await;
    };
    let token_url = super::providers::endpoint(&client.token_url, |field| {
        crate::domain::integration::routed(&record.settings, &secrets, field)
    });
    let answer = match refresh(&oauth.http, provider, client, refresh_token, &token_url).await {
        Ok(answer) => answer,
        Err(RefreshError::Refused(why)) => return give_up(format!("token refresh failed: {why}")).await,
        Err(RefreshError::Unreachable(why)) if ctx.job.attempts >= ctx.job.max_attempts => {
            return give_up(format!("token refresh failed: {why}")).await;
        }
        Err(RefreshError::Unreachable(why)) => return Err(JobError::Retry(why)),
    };
    // The records of a shared token name the same next job: it is queued once.
    let mut next = Vec::new();
    for integration in &sharing {
        let (settings, secrets) = refreshed(integration.kind, &answer);
        let saved = oauth.integrations.apply_refresh(tenant, &integration.id, expires_at, &settings, &secrets).await;
        let Some(saved) = saved.map_err(failure)? else {
            tracing::info!(integration_id = %integration.id, "changed during the refresh: its newer state kept");
            continue;
        };
        next.extend(
            OAuthGrant::read(&saved.settings)
                .expires_at
                .and_then(|at| refresh_job(&saved.id, saved.kind, &saved.project_id, &at)),
        );
    }
    for job in &next {
        ctx.store.enqueue(tenant, job).await.map_err(|e| JobError::Retry(e.to_string()))?;
    }
    tracing::info!(integration_id = %id, provider = provider.as_str(), "token refreshed");
    Ok(())
}

/// Queues the first refresh of a fresh install's token, when it expires and can be refreshed.
pub async fn schedule(oauth: &OAuth, tenant_id: &TenantId, integration: &crate::domain::integration::Integration) {
    let refreshable = integration.secrets_set.iter().any(|s| s == "refresh_token");
    let Some(job) = OAuthGrant::read(&integration.settings)
        .expires_at
        .filter(|_| refreshable)
        .and_then(|at| refresh_job(&integration.id, integration.kind, &integration.project_id, &at))
    else {
        return;
    };
    if let Err(e) = oauth.store.enqueue(tenant_id, &job).await {
        tracing::warn!(integration_id = %integration.id, error = %e, "the token refresh could not be queued");
    }
}
