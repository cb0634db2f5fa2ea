//! Outgoing webhooks: task events (created, updated, status changed, deleted, commented)
//! POSTed to each of the project's `webhook` integrations that subscribes to them, signed
//! so the receiver can verify them, and delivered by the queue with retries.
//!
//! Each delivery is `{"id", "event", "occurred_at", "project_id", "data"}` with headers
//! `X-Taskbridge-Event`, `X-Taskbridge-Delivery` (the id, the same on every retry, to
//! deduplicate on), `X-Taskbridge-Timestamp` (Unix seconds) and `X-Taskbridge-Signature:
//! sha256=<hex HMAC-SHA256 of "{timestamp}.{body}" with the signing secret>`.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::domain::event::Announcement;
use crate::domain::id::{IntegrationId, ProjectId};
use crate::domain::integration::{IntegrationStatus, IntegrationType, non_blank, setting, typed};
use crate::integrations::{IntegrationError, Integrations};
use crate::jobs::{JobContext, JobError, JobKind, Registry};
use crate::store::StoreError;
use crate::store::integrations::IntegrationRecord;

/// The `webhook.deliver` job: one event (`body`) POSTed to one webhook.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Deliver {
    pub integration_id: IntegrationId,
    pub body: Event,
}

/// An event as delivered. Its members are in name order, as the queue's JSON holds them, so
/// the body signed and sent is the same bytes on every retry.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Event {
    pub data: Value,
    pub event: String,
    pub id: String,
    pub occurred_at: String,
    pub project_id: ProjectId,
}

impl JobKind for Deliver {
    const KIND: &'static str = "webhook.deliver";
    /// A receiver may be down for a while: about a day of backoff before giving up.
    const MAX_ATTEMPTS: i32 = 16;

    /// One delivery per webhook and event: a second run of the announcement queues nothing new.
    fn idempotency_key(&self) -> String {
        format!("webhook:{}:{}", self.integration_id, self.body.id)
    }
}

/// An outgoing webhook's settings (its signing secret is a secret).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
struct WebhookSettings {
    /// Where deliveries are POSTed.
    #[serde(deserialize_with = "non_blank")]
    url: Option<String>,
    /// The events it takes, comma-separated; all when not set.
    #[serde(deserialize_with = "non_blank")]
    events: Option<String>,
}

impl WebhookSettings {
    fn read(settings: &serde_json::Map<String, Value>) -> Self {
        typed(settings)
    }
}

/// The signature of a delivery: hex HMAC-SHA256 of `"{timestamp}.{body}"`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    mac.update(format!("{timestamp}.{body}").as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Queues one delivery of an announced event per active webhook of the project that takes it.
async fn fan_out(ctx: JobContext, announced: Announcement) -> Result<(), JobError> {
    let retry = |e: StoreError| JobError::Retry(e.to_string());
    let tenant = &ctx.job.tenant_id;
    let event = announced.event.as_str();
    let hooks = ctx.store.list_integrations(tenant, &announced.project_id).await.map_err(retry)?;
    let takes = |h: &&IntegrationRecord| {
        h.kind == IntegrationType::Webhook
            && h.status == IntegrationStatus::Active
            && crate::domain::event::subscribed(WebhookSettings::read(&h.settings).events.as_deref(), event)
    };
    let body = Event {
        data: announced.data,
        event: announced.event.clone(),
        id: announced.event_id,
        occurred_at: announced.occurred_at,
        project_id: announced.project_id,
    };
    for hook in hooks.iter().filter(takes) {
        let job = Deliver { integration_id: hook.id.clone(), body: body.clone() }.job();
        ctx.store.enqueue(tenant, &job).await.map_err(retry)?;
    }
    Ok(())
}

pub fn register(registry: &mut Registry, integrations: Integrations, http: reqwest::Client) {
    let shared = Arc::new((integrations, http));
    registry.handle(fan_out);
    registry.handle(move |ctx: JobContext, job: Deliver| {
        let shared = shared.clone();
        async move { deliver(&shared.0, &shared.1, ctx, job).await }
    });
}

async fn deliver(
    integrations: &Integrations,
    http: &reqwest::Client,
    ctx: JobContext,
    job: Deliver,
) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let id = &job.integration_id;
    let (record, secrets) = match integrations.with_secrets(tenant, id).await {
        Ok(found) => found,
        Err(IntegrationError::Store(StoreError::NotFound)) => return Ok(()), // unsubscribed meanwhile
        Err(e) => return Err(JobError::Retry(e.to_string())),
    };
    if record.status != IntegrationStatus::Active {
        return Ok(());
    }
    let settings = WebhookSettings::read(&record.settings);
    let (Some(url), Some(secret)) = (settings.url.as_deref(), setting(&secrets, "signing_secret")) else {
        return Err(JobError::Permanent("the webhook has no url or signing_secret".into()));
    };
    // The client's SSRF guard checks where the URL points now, not only when it was saved.
    let body = serde_json::to_string(&job.body).map_err(|e| JobError::Permanent(e.to_string()))?;
    let timestamp = chrono::Utc::now().timestamp();
    let (event, delivery) = (job.body.event.as_str(), job.body.id.as_str());
    let res = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Taskbridge-Event", event)
        .header("X-Taskbridge-Delivery", delivery)
        .header("X-Taskbridge-Timestamp", timestamp.to_string())
        .header("X-Taskbridge-Signature", format!("sha256={}", signature(secret, timestamp, &body)))
        .body(body)
        .send()
        .await
        .map_err(|e| crate::outbound::transport_failure("webhook delivery failed", e))?;
    let status = res.status();
    if status.is_success() {
        tracing::info!(integration_id = id.as_str(), event, "webhook delivered");
        return Ok(());
    }
    // 408 and 429 are worth waiting for, like 5xx; another 4xx is the receiver's refusal.
    if status == reqwest::StatusCode::REQUEST_TIMEOUT {
        return Err(JobError::Retry("the webhook receiver timed out (408)".into()));
    }
    Err(crate::outbound::http_failure(status, res.headers(), "the webhook receiver"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_over_timestamp_and_body() {
        // printf '1767225600.{"a":1}' | openssl dgst -sha256 -hmac s3cret
        let expected = "7d4120fcebf444efab10ba7cd6c651bf463cefb039db5fad37ff9f7231ac8a4a";
        assert_eq!(signature("s3cret", 1767225600, r#"{"a":1}"#), expected);
    }
}
