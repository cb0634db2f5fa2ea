//! The `channel.reply` job: answers a webhook message in its conversation once intake has
//! recorded the outcome (enqueued in the same transaction, so no answer is ever lost).

use std::sync::Arc;

use super::{Outbound, Reply, adapter};
use crate::domain::message::{Message, MessageStatus};
use crate::intake::REPLY_JOB;
use crate::integrations::{IntegrationError, Integrations};
use crate::jobs::{JobContext, JobError, Registry};
use crate::store::StoreError;

pub fn register(registry: &mut Registry, integrations: Integrations, outbound: Outbound) {
    let shared = Arc::new((integrations, outbound));
    registry.register(REPLY_JOB, move |ctx: JobContext| {
        let shared = shared.clone();
        async move { answer(&shared.0, &shared.1, ctx).await }
    });
}

fn store_failure(e: StoreError) -> JobError {
    match e {
        StoreError::NotFound => JobError::Permanent("the message or its integration no longer exists".into()),
        other => JobError::Retry(other.to_string()),
    }
}

async fn answer(integrations: &Integrations, out: &Outbound, ctx: JobContext) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let message_id = ctx.job.payload["message_id"]
        .as_str()
        .ok_or_else(|| JobError::Permanent("payload has no message_id".into()))?;
    let message = ctx.store.get_message(tenant, message_id).await.map_err(store_failure)?;
    let Some((integration_id, reply_to)) = ctx.store.message_origin(tenant, message_id).await.map_err(store_failure)?
    else {
        return Ok(());
    };
    let (record, secrets) = integrations.with_secrets(tenant, &integration_id).await.map_err(|e| match e {
        IntegrationError::Store(s) => store_failure(s),
        other => JobError::Permanent(other.to_string()),
    })?;
    let channel = adapter(record.kind)
        .ok_or_else(|| JobError::Permanent(format!("no channel adapter for {}", record.kind.as_str())))?;
    let text = reply_text(&ctx.store, tenant, &message, integrations.public_url()).await;
    channel
        .reply(Reply {
            client: &out.http,
            tls: &out.tls,
            allow_private: out.allow_private,
            settings: &record.settings,
            secrets: &secrets,
            reply_to: &reply_to,
            text: &text,
        })
        .await
}

/// What the conversation is told about a message's outcome.
pub async fn reply_text(store: &crate::store::Store, tenant_id: &str, message: &Message, public_url: &str) -> String {
    let title = match &message.task_id {
        Some(id) => store.get_task(tenant_id, id).await.map(|t| t.title).unwrap_or_default(),
        None => String::new(),
    };
    let link = |id: &str| format!("{public_url}/api/v1/tasks/{id}");
    match (message.status, &message.task_id) {
        (MessageStatus::Created, Some(id)) => format!("Created task “{title}”: {}", link(id)),
        (MessageStatus::Duplicate, Some(id)) => {
            format!("Already tracked as “{title}” — I added your request to it: {}", link(id))
        }
        _ => format!(
            "Sorry, I could not turn this into a task{}.",
            message.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
        ),
    }
}
