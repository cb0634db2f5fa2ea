//! The `channel.fetch` job: a request the webhook only pointed at (a Slack reaction names a
//! message, not its text; a voice note must be downloaded and transcribed) is read from the
//! platform, then accepted like any other.

use std::sync::Arc;

use crate::channels::{ChannelClients, Fetch, adapter, store_failure, with_secrets};
use crate::domain::id::IntegrationId;
use crate::integrations::Integrations;
use crate::jobs::{JobContext, JobError, JobKind, Registry};
use crate::store::StoreError;

/// The `channel.fetch` job: item `external_id` of integration `integration_id`, with what
/// the webhook said of it (`data`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FetchRequest {
    pub integration_id: IntegrationId,
    pub external_id: String,
    #[serde(default)]
    pub data: serde_json::Value,
}

impl JobKind for FetchRequest {
    const KIND: &'static str = "channel.fetch";

    fn idempotency_key(&self) -> String {
        format!("fetch:{}:{}", self.integration_id, self.external_id)
    }
}

/// Registers the `channel.fetch` job.
pub fn register(registry: &mut Registry, integrations: Integrations, clients: ChannelClients) {
    let shared = Arc::new((integrations, clients));
    registry.handle(move |ctx: JobContext, job: FetchRequest| {
        let shared = shared.clone();
        async move { fetch(&shared.0, &shared.1, ctx, job).await }
    });
}

async fn fetch(
    integrations: &Integrations,
    out: &ChannelClients,
    ctx: JobContext,
    job: FetchRequest,
) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let (record, secrets) = with_secrets(integrations, tenant, &job.integration_id).await?;
    let channel = adapter(record.kind)
        .ok_or_else(|| JobError::Permanent(format!("no channel adapter for {}", record.kind.as_str())))?;
    let fetched = channel
        .fetch(Fetch {
            client: &out.out.http,
            settings: &record.settings,
            secrets: &secrets,
            external_id: &job.external_id,
            data: &job.data,
            transcriber: out.transcriber.as_ref(),
        })
        .await?;
    let Some(request) = fetched else { return Ok(()) };
    let new = request.into_message(record.kind, &record.id, &record.project_id);
    let id = crate::domain::new_id();
    match ctx.store.create_message(tenant, &id, &new, &super::process_job(&id)).await {
        // Another reaction to the same message, or a run after a crash: one request.
        Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(store_failure(e)),
    }
}
