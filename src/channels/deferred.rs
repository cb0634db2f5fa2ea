//! The `channel.fetch` job: a request the webhook only pointed at (a Slack reaction names a
//! message, not its text) is read from the platform, then accepted like any other.

use std::sync::Arc;

use super::reply::{store_failure, with_secrets};
use super::{Fetch, Outbound, adapter};
use crate::integrations::Integrations;
use crate::jobs::{JobContext, JobError, Registry};
use crate::store::StoreError;

pub const FETCH_JOB: &str = "channel.fetch";

pub(super) fn register(registry: &mut Registry, shared: Arc<(Integrations, Outbound)>) {
    registry.register(FETCH_JOB, move |ctx: JobContext| {
        let shared = shared.clone();
        async move { fetch(&shared.0, &shared.1, ctx).await }
    });
}

async fn fetch(integrations: &Integrations, out: &Outbound, ctx: JobContext) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let payload = &ctx.job.payload;
    let (Some(integration_id), Some(external_id)) =
        (payload["integration_id"].as_str(), payload["external_id"].as_str())
    else {
        return Err(JobError::Permanent("payload has no integration_id or external_id".into()));
    };
    let (record, secrets) = with_secrets(integrations, tenant, integration_id).await?;
    let channel = adapter(record.kind)
        .ok_or_else(|| JobError::Permanent(format!("no channel adapter for {}", record.kind.as_str())))?;
    let fetched = channel
        .fetch(Fetch {
            client: &out.http,
            settings: &record.settings,
            secrets: &secrets,
            external_id,
            data: &payload["data"],
        })
        .await?;
    let Some(request) = fetched else { return Ok(()) };
    let new = request.into_message(record.kind, &record.id, &record.project_id);
    match ctx.store.create_message(tenant, &new, crate::intake::process_job).await {
        // Another reaction to the same message, or a run after a crash: one request.
        Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(store_failure(e)),
    }
}
