//! The `channel.reply` job: answers a webhook message in its conversation once intake has
//! recorded the outcome (enqueued in the same transaction, so no answer is ever lost).

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{Channel, ChannelClients, Reply, adapter};
use crate::domain::delivery::{Delivery, DeliveryStatus, NewDelivery};
use crate::domain::id::{IntegrationId, TenantId};
use crate::domain::message::{Decision, DecisionAction, Message, MessageStatus};
use crate::integrations::{IntegrationError, Integrations};
use crate::jobs::{JobContext, JobError, JobKind, Registry};
use crate::store::StoreError;
use crate::store::integrations::IntegrationRecord as Integration;

/// The `channel.reply` job: answers message `message_id` in its conversation, with its
/// outcome, or with a person's decision `decision_id` on it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AnswerMessage {
    pub message_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_id: Option<String>,
}

impl JobKind for AnswerMessage {
    const KIND: &'static str = "channel.reply";

    fn idempotency_key(&self) -> String {
        match &self.decision_id {
            Some(decision) => format!("reply:{}:{decision}", self.message_id),
            None => format!("reply:{}", self.message_id),
        }
    }
}

/// The job answering message `message_id` with its outcome.
pub fn outcome_job(message_id: &str) -> crate::jobs::NewJob {
    AnswerMessage { message_id: message_id.to_string(), decision_id: None }.job()
}

/// The job answering message `message_id` with a person's decision `decision_id`.
pub fn decision_job(message_id: &str, decision_id: &str) -> crate::jobs::NewJob {
    AnswerMessage { message_id: message_id.to_string(), decision_id: Some(decision_id.to_string()) }.job()
}

/// The `channel.send` job: sends a message recorded as a delivery (`POST …/send`, follow-ups).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SendDelivery {
    pub delivery_id: String,
}

impl JobKind for SendDelivery {
    const KIND: &'static str = "channel.send";

    fn idempotency_key(&self) -> String {
        format!("send:{}", self.delivery_id)
    }
}

/// The job sending delivery `delivery_id`.
pub fn send_job(delivery_id: &str) -> crate::jobs::NewJob {
    SendDelivery { delivery_id: delivery_id.to_string() }.job()
}

pub(super) fn register(registry: &mut Registry, shared: Arc<(Integrations, ChannelClients)>) {
    let for_answers = shared.clone();
    registry.handle(move |ctx: JobContext, job: AnswerMessage| {
        let shared = for_answers.clone();
        async move { answer(&shared.0, &shared.1, ctx, &job).await }
    });
    registry.handle(move |ctx: JobContext, job: SendDelivery| {
        let shared = shared.clone();
        async move { send(&shared.0, &shared.1, ctx, &job.delivery_id).await }
    });
}

pub fn store_failure(e: StoreError) -> JobError {
    match e {
        StoreError::NotFound => JobError::Permanent("the message or its integration no longer exists".into()),
        other => JobError::Retry(other.to_string()),
    }
}

async fn answer(
    integrations: &Integrations,
    out: &ChannelClients,
    ctx: JobContext,
    job: &AnswerMessage,
) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let message_id = job.message_id.as_str();
    let message = ctx.store.get_message(tenant, message_id).await.map_err(store_failure)?;
    let Some((integration_id, reply_to)) = ctx.store.message_origin(tenant, message_id).await.map_err(store_failure)?
    else {
        return Ok(());
    };
    let (record, secrets) = with_secrets(integrations, tenant, &integration_id).await?;
    let channel = adapter(record.kind)
        .ok_or_else(|| JobError::Permanent(format!("no channel adapter for {}", record.kind.as_str())))?;
    // A person's decision comes later than the first answer: it goes where news goes, not
    // to an answer channel that expires (a Discord interaction token, a Slack response_url).
    let reply_to = match job.decision_id {
        Some(_) => match channel.later(&reply_to) {
            Some(later) => later,
            None => return Ok(()),
        },
        None => reply_to,
    };
    if !channel.sends_reply(&reply_to) {
        return Ok(());
    }
    // A possible duplicate asks whether it is the same work, where the answer can be heard.
    let ask = match (&job.decision_id, message.status) {
        (None, MessageStatus::PossibleDuplicate) if channel.hears_replies(&reply_to) => Ask::ByReply,
        (None, MessageStatus::PossibleDuplicate) if channel.hears_only_buttons(&reply_to) => Ask::ByButton,
        _ => Ask::No,
    };
    let text = match &job.decision_id {
        Some(id) => {
            let decision = ctx.store.decision(tenant, id).await.map_err(store_failure)?;
            decision_text(&ctx.store, tenant, &decision, integrations.public_url()).await
        }
        None => reply_text(&ctx.store, tenant, &message, integrations.public_url(), ask).await,
    };
    let mut reply_to = reply_to;
    if let (true, Some(target)) = (ask != Ask::No, reply_to.as_object_mut()) {
        target.insert(super::OFFER_SAME.into(), Value::String(message.id.clone()));
    }
    let new = NewDelivery::to_requester(&message, integration_id, record.kind, text, reply_to);
    // Recorded once, before sending: a run after a crash finds it and does not send twice
    // what was already sent.
    let answer = job.decision_id.as_deref().unwrap_or(crate::store::OUTCOME_ANSWER);
    let delivery = ctx.store.delivery_for_answer(tenant, &new, answer).await.map_err(store_failure)?;
    if delivery.status == DeliveryStatus::Sent {
        return Ok(());
    }
    deliver(&ctx, out, channel, &record, &secrets, &delivery, &new.target).await
}

async fn send(integrations: &Integrations, out: &ChannelClients, ctx: JobContext, id: &str) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let (delivery, target) = ctx.store.delivery(tenant, id).await.map_err(store_failure)?;
    if delivery.status == DeliveryStatus::Sent {
        return Ok(());
    }
    let (record, secrets) = match with_secrets(integrations, tenant, &delivery.integration_id).await {
        Ok(found) => found,
        Err(e) => {
            let _ = ctx.store.finish_delivery(tenant, id, DeliveryStatus::Failed, Some(&e.to_string())).await;
            return Err(e);
        }
    };
    let channel = adapter(record.kind)
        .ok_or_else(|| JobError::Permanent(format!("no channel adapter for {}", record.kind.as_str())))?;
    deliver(&ctx, out, channel, &record, &secrets, &delivery, &target).await
}

pub async fn with_secrets(
    integrations: &Integrations,
    tenant: &TenantId,
    integration_id: &IntegrationId,
) -> Result<(Integration, Map<String, Value>), JobError> {
    integrations.with_secrets(tenant, integration_id).await.map_err(|e| match e {
        IntegrationError::Store(s) => store_failure(s),
        other => JobError::Permanent(other.to_string()),
    })
}

/// Sends through the adapter and records how it went: sent, failed for good, or still
/// queued with the last error while retries remain.
pub(super) async fn deliver(
    ctx: &JobContext,
    out: &ChannelClients,
    channel: &dyn Channel,
    record: &Integration,
    secrets: &Map<String, Value>,
    delivery: &Delivery,
    target: &Value,
) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    // At most once: a run that finds the delivery mid-send (the last one died sending) does
    // not send again, since the platform may already have it.
    if !ctx.store.claim_delivery(tenant, &delivery.id).await.map_err(store_failure)? {
        let (current, _) = ctx.store.delivery(tenant, &delivery.id).await.map_err(store_failure)?;
        if current.status == DeliveryStatus::Sending {
            let why = "interrupted while sending; not sent again, to avoid a duplicate";
            ctx.store
                .finish_delivery(tenant, &delivery.id, DeliveryStatus::Failed, Some(why))
                .await
                .map_err(store_failure)?;
        }
        return Ok(());
    }
    let turn = out.in_flight.slot(record).await;
    let result = channel
        .reply(Reply {
            client: &out.out.http,
            tls: &out.out.tls,
            guard: out.out.guard,
            slack_response_hosts: &out.slack_response_hosts,
            bot: &out.bot,
            settings: &record.settings,
            secrets,
            reply_to: target,
            text: &delivery.text,
        })
        .await;
    drop(turn);
    let recorded = match &result {
        Ok(()) => ctx.store.finish_delivery(tenant, &delivery.id, DeliveryStatus::Sent, None).await,
        Err(e) => {
            let last = e.is_permanent() || ctx.job.attempts >= ctx.job.max_attempts;
            let status = if last { DeliveryStatus::Failed } else { DeliveryStatus::Queued };
            ctx.store.finish_delivery(tenant, &delivery.id, status, Some(&e.to_string())).await
        }
    };
    if let Err(e) = recorded {
        // The platform has the message; failing the job now would send it again.
        tracing::warn!(delivery_id = %delivery.id, error = %e, "delivery sent but not recorded");
    }
    result
}

/// Whether, and how, a possible duplicate's answer asks the requester if it is the same
/// work as its likely task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// It names the likely task only: no answer could be heard.
    No,
    /// A reply of *same* in the conversation (and the platform's button, where it has one).
    ByReply,
    /// The button alone: the platform sends button presses, not replies (Discord).
    ByButton,
}

/// What the conversation is told about a message's outcome, asking about a possible
/// duplicate as `ask` says.
pub async fn reply_text(
    store: &crate::store::Store,
    tenant_id: &TenantId,
    message: &Message,
    public_url: &str,
    ask: Ask,
) -> String {
    let title = match &message.task_id {
        Some(id) => store.get_task(tenant_id, id).await.map(|t| t.title).unwrap_or_default(),
        None => String::new(),
    };
    let link = |id: &str| format!("{public_url}/api/v1/tasks/{id}");
    match (message.status, &message.task_id) {
        (MessageStatus::Created | MessageStatus::PossibleDuplicate, Some(id)) => {
            let created = format!("Created task “{title}”: {}", link(id));
            // A possible duplicate names the task it may repeat.
            match message.candidates.first().filter(|_| message.status == MessageStatus::PossibleDuplicate) {
                Some(similar) if ask != Ask::No => {
                    // Named as people know it: its tracker reference (ENG-12), if it has one.
                    let known_as = match store.task_links(tenant_id, &similar.task_id).await {
                        Ok(links) => links.into_iter().find_map(|l| l.external_ref).map(|r| format!("{r} ")),
                        Err(_) => None,
                    };
                    let how = if ask == Ask::ByButton { "press *Same*" } else { "reply *same*" };
                    format!(
                        "{created}. Looks like {}“{}” ({}) — {how} to add your request there instead.",
                        known_as.unwrap_or_default(),
                        similar.title,
                        link(&similar.task_id)
                    )
                }
                Some(similar) => {
                    format!("{created} — it may be the same work as “{}”: {}", similar.title, link(&similar.task_id))
                }
                None => created,
            }
        }
        (MessageStatus::Duplicate, Some(id)) => {
            format!("Already tracked as “{title}” — I added your request to it: {}", link(id))
        }
        // Said honestly: nothing is tracked yet, a person decides first (and, if they were
        // quicker than this answer, their decision is answered on its own).
        (MessageStatus::NeedsTriage | MessageStatus::Declined, _) => {
            let asked = message.draft.as_ref().map(|d| format!(" “{}”", d.title)).unwrap_or_default();
            format!("Received your request{asked}. Someone will review it and answer here.")
        }
        _ => format!(
            "Sorry, I could not turn this into a task{}.",
            message.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
        ),
    }
}

/// What the conversation is told about a person's decision on its request.
pub async fn decision_text(
    store: &crate::store::Store,
    tenant_id: &TenantId,
    decision: &Decision,
    public_url: &str,
) -> String {
    let task = async |id: &crate::domain::id::TaskId| {
        let title = store.get_task(tenant_id, id).await.map(|t| t.title).unwrap_or_default();
        format!("“{title}”: {public_url}/api/v1/tasks/{id}")
    };
    match (decision.action, &decision.task_id) {
        (DecisionAction::Accept, Some(id)) => format!("Tracked as {}", task(id).await),
        (DecisionAction::Merge, Some(id)) => format!("Added to {}", task(id).await),
        (DecisionAction::Unmerge, Some(id)) => format!("Tracked on its own as {}", task(id).await),
        _ => format!("Not taken: {}", decision.reason.as_deref().unwrap_or("no reason given")),
    }
}
