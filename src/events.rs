//! Outgoing webhooks: task events (created, updated, status changed, deleted, commented)
//! POSTed to each project's `webhook` integration that subscribes to them, signed so the
//! receiver can verify them, and delivered by the queue with retries.
//!
//! Each delivery is `{"id", "event", "occurred_at", "project_id", "data"}` with headers
//! `X-Taskbridge-Event`, `X-Taskbridge-Delivery` (the id, the same on every retry, to
//! deduplicate on), `X-Taskbridge-Timestamp` (Unix seconds) and `X-Taskbridge-Signature:
//! sha256=<hex HMAC-SHA256 of "{timestamp}.{body}" with the signing secret>`.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::domain::integration::{IntegrationStatus, IntegrationType, setting};
use crate::integrations::{IntegrationError, Integrations};
use crate::jobs::{JobContext, JobError, NewJob, Registry};
use crate::store::integrations::IntegrationRecord;
use crate::store::{Store, StoreError};

pub const DELIVER_JOB: &str = "webhook.deliver";

/// The signature of a delivery: hex HMAC-SHA256 of `"{timestamp}.{body}"`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    mac.update(format!("{timestamp}.{body}").as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Queues each `(event, data)` for each active webhook of the project that takes it.
/// Called once the change is committed; a failure to queue is logged, never undoes the
/// change.
pub async fn emit(store: &Store, tenant_id: &str, project_id: &str, events: &[(&'static str, Value)]) {
    match store.list_integrations(tenant_id, project_id).await {
        Ok(integrations) => emit_to(store, tenant_id, project_id, &integrations, events).await,
        Err(e) => tracing::warn!(error = %e, "webhooks for an event could not be listed"),
    }
}

/// Like `emit`, with the project's integrations already at hand (one read less on a write).
pub async fn emit_to(
    store: &Store,
    tenant_id: &str,
    project_id: &str,
    integrations: &[IntegrationRecord],
    events: &[(&'static str, Value)],
) {
    let hooks: Vec<&IntegrationRecord> = integrations
        .iter()
        .filter(|i| i.kind == IntegrationType::Webhook && i.status == IntegrationStatus::Active)
        .collect();
    for (event, data) in events {
        // One id per event, whichever webhooks it goes to.
        let id = crate::domain::new_id();
        let occurred_at = chrono::Utc::now().to_rfc3339();
        let body =
            json!({"id": id, "event": event, "occurred_at": occurred_at, "project_id": project_id, "data": data});
        for hook in hooks.iter().filter(|h| crate::domain::event::subscribed(setting(&h.settings, "events"), event)) {
            let mut job = NewJob::new(
                DELIVER_JOB,
                format!("webhook:{}:{id}", hook.id),
                json!({"integration_id": hook.id, "body": body}),
            );
            // A receiver may be down for a while: about a day of backoff before giving up.
            job.max_attempts = 16;
            if let Err(e) = store.enqueue(tenant_id, &job).await {
                tracing::warn!(event, integration_id = %hook.id, error = %e, "a webhook delivery could not be queued");
            }
        }
    }
}

pub fn register(registry: &mut Registry, integrations: Integrations, http: reqwest::Client) {
    let shared = Arc::new((integrations, http));
    registry.register(DELIVER_JOB, move |ctx: JobContext| {
        let shared = shared.clone();
        async move { deliver(&shared.0, &shared.1, ctx).await }
    });
}

async fn deliver(integrations: &Integrations, http: &reqwest::Client, ctx: JobContext) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let Some(id) = ctx.job.payload["integration_id"].as_str() else {
        return Err(JobError::Permanent("payload has no integration_id".into()));
    };
    let (record, secrets) = match integrations.with_secrets(tenant, id).await {
        Ok(found) => found,
        Err(IntegrationError::Store(StoreError::NotFound)) => return Ok(()), // unsubscribed meanwhile
        Err(e) => return Err(JobError::Retry(e.to_string())),
    };
    if record.status != IntegrationStatus::Active {
        return Ok(());
    }
    let (Some(url), Some(secret)) = (setting(&record.settings, "url"), setting(&secrets, "signing_secret")) else {
        return Err(JobError::Permanent("the webhook has no url or signing_secret".into()));
    };
    // The SSRF guard again: the address may have changed since the URL was accepted.
    crate::integrations::ssrf::check_url(url, integrations.allows_private_urls()).map_err(JobError::Permanent)?;
    let body = ctx.job.payload["body"].to_string();
    let timestamp = chrono::Utc::now().timestamp();
    let event = ctx.job.payload["body"]["event"].as_str().unwrap_or_default();
    let delivery = ctx.job.payload["body"]["id"].as_str().unwrap_or_default();
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
        .map_err(|e| JobError::Retry(format!("webhook delivery failed: {}", e.without_url())))?;
    let status = res.status();
    if status.is_success() {
        tracing::info!(integration_id = id, event, "webhook delivered");
        return Ok(());
    }
    // 408 and 429 are worth waiting for, like 5xx; another 4xx is the receiver's refusal.
    if status == reqwest::StatusCode::REQUEST_TIMEOUT {
        return Err(JobError::Retry("the webhook receiver timed out (408)".into()));
    }
    Err(crate::channels::http_failure(status, res.headers(), "the webhook receiver"))
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
