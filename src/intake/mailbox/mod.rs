//! Reading a mailbox: an e-mail integration with `imap_host` has its IMAP folder read for
//! requests. Where the server offers IDLE (RFC 2177) an instance's watcher ([`idle`]) keeps
//! a connection open and takes mail as the server announces it; otherwise, or while that
//! connection is broken, a `mailbox.poll` job per time slot reads it (each schedules the
//! next; the slot in the key keeps one chain however many instances schedule it).
//!
//! Whoever reads, each new message is stored as a request first and only then marked seen
//! (or moved): a crash in between finds it again, and the request's Message-ID makes the
//! second store a no-op, so mail is never lost and never taken twice. Which messages are
//! new is the folder's UIDVALIDITY and the last UID taken; the first read (or one after the
//! UIDVALIDITY changed) takes the unseen ones. One reader at a time holds the mailbox (a
//! lease in the database): a poll finding it held by a watcher leaves it to the watcher.

pub mod idle;
mod reader;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::channels::{ChannelClients, store_failure, with_secrets};
use crate::domain::id::{IntegrationId, TenantId};
use crate::domain::integration::{Integration, IntegrationStatus, IntegrationType, setting};
use crate::integrations::Integrations;
use crate::jobs::{JobContext, JobError, JobKind, NewJob, Registry, slot_of, slot_start};
use crate::store::{MailboxMode, MailboxRead, Store, StoreError};
pub use reader::MESSAGE_MAX;
use reader::{Mailbox, Reader};

/// The clients reading a mailbox needs, shared by the poll job and the IDLE watchers.
pub type Shared = Arc<(Integrations, ChannelClients)>;

/// The `mailbox.poll` job: integration `integration_id`'s poll of time slot `slot`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PollMailbox {
    pub integration_id: IntegrationId,
    pub slot: i64,
}

impl JobKind for PollMailbox {
    const KIND: &'static str = "mailbox.poll";

    fn idempotency_key(&self) -> String {
        format!("mailbox:{}:{}", self.integration_id, self.slot)
    }
}

/// The whole exchange of one poll (and of one pass of a watcher).
const POLL_TIMEOUT: Duration = Duration::from_secs(120);

fn poll_job(integration_id: &IntegrationId, slot: i64, interval: Duration) -> NewJob {
    PollMailbox { integration_id: integration_id.clone(), slot }.job().at(slot_start(slot, interval))
}

/// Whether an integration of `kind` with `settings` has a mailbox to read.
fn polled(kind: IntegrationType, settings: &serde_json::Map<String, serde_json::Value>) -> bool {
    kind == IntegrationType::Email && setting(settings, "imap_host").is_some()
}

async fn schedule(
    store: &Store,
    tenant_id: &TenantId,
    id: &IntegrationId,
    interval: Duration,
) -> Result<(), StoreError> {
    let slot = slot_of(Utc::now(), interval) + 1;
    store.enqueue(tenant_id, &poll_job(id, slot, interval)).await.map(|_| ())
}

/// Starts polling `integration` when it is an active e-mail integration with a mailbox (a
/// no-op when its chain runs already).
pub async fn start(store: &Store, tenant_id: &TenantId, integration: &Integration, interval: Option<Duration>) {
    let Some(interval) = interval else { return };
    if !polled(integration.kind, &integration.settings) || integration.status != IntegrationStatus::Active {
        return;
    }
    if let Err(e) = schedule(store, tenant_id, &integration.id, interval).await {
        tracing::warn!(error = %e, integration_id = %integration.id, "could not schedule mailbox polling");
    }
}

/// Schedules a poll of every mailbox (at start-up).
pub async fn schedule_all(store: &Store, interval: Duration) -> Result<usize, StoreError> {
    let mailboxes = store.active_integrations_of(IntegrationType::Email).await?;
    let mut scheduled = 0;
    for (tenant, record) in mailboxes.iter().filter(|(_, r)| polled(r.kind, &r.settings)) {
        schedule(store, tenant, &record.id, interval).await?;
        scheduled += 1;
    }
    Ok(scheduled)
}

/// Registers the `mailbox.poll` job.
pub fn register(registry: &mut Registry, shared: Shared, interval: Duration) {
    registry.handle(move |ctx: JobContext, job: PollMailbox| {
        let shared = shared.clone();
        async move { run(&shared.0, &shared.1, ctx, job, interval).await }
    });
}

async fn run(
    integrations: &Integrations,
    out: &ChannelClients,
    ctx: JobContext,
    job: PollMailbox,
    interval: Duration,
) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let (record, secrets) = match with_secrets(integrations, tenant, &job.integration_id).await {
        Ok(found) => found,
        // Deleted: its chain ends here.
        Err(JobError::Permanent(_) | JobError::Gone(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    if record.status != IntegrationStatus::Active || !polled(record.kind, &record.settings) {
        return Ok(());
    }
    // Held by a watcher in IDLE (or another poll still running): it reads the mailbox now.
    let holder = format!("poll:{}", ctx.job.id);
    let held = ctx.store.hold_mailbox(tenant, &record.id, &holder, POLL_TIMEOUT * 2).await.map_err(store_failure)?;
    if held {
        let polled = poll(&ctx, out, &record, &secrets).await;
        let released = ctx.store.release_mailbox(&record.id, &holder).await;
        polled?;
        released.map_err(store_failure)?;
    }
    // The next poll, however this one went: the chain goes on.
    let next = (job.slot + 1).max(slot_of(Utc::now(), interval) + 1);
    ctx.store.enqueue(tenant, &poll_job(&record.id, next, interval)).await.map_err(store_failure)?;
    let kept = Utc::now() - chrono::Duration::hours(24);
    if let Err(e) = ctx.store.forget_succeeded_jobs(&format!("mailbox:{}:", record.id), kept).await {
        tracing::warn!(integration_id = %record.id, error = %e, "could not forget finished mailbox polls");
    }
    Ok(())
}

/// One poll of a mailbox this job holds, recorded however it went.
async fn poll(
    ctx: &JobContext,
    out: &ChannelClients,
    record: &crate::store::integrations::IntegrationRecord,
    secrets: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let state = ctx.store.mailbox_state(tenant, &record.id).await.map_err(store_failure)?;
    let mut reader = Reader::new(state.as_ref().map(|s| (s.uid_validity, s.last_uid)));
    let mailbox = Mailbox::of(&record.settings, secrets);
    let outcome = match &mailbox {
        Ok(mailbox) => tokio::time::timeout(POLL_TIMEOUT, async {
            let (mut session, validity) = mailbox.open(out).await?;
            reader.pass(&ctx.store, tenant, record, &mut session, validity).await?;
            session.logout().await;
            Ok::<_, JobError>(())
        })
        .await
        .unwrap_or_else(|_| Err(JobError::Retry(format!("the mailbox did not answer within {POLL_TIMEOUT:?}")))),
        Err(e) => Err(JobError::Permanent(e.to_string())),
    };
    let error = match outcome {
        Ok(()) => reader.problem.clone(),
        Err(e) => Some(e.to_string()),
    };
    let error = error.map(|e| mailbox.as_ref().map_or(e.clone(), |m| m.redact(&e)));
    if let Some(error) = &error {
        tracing::warn!(integration_id = %record.id, %error, "mailbox poll incomplete");
    }
    // A first poll that never reached the folder leaves UIDVALIDITY 0: the next takes the unseen mail.
    let read = MailboxRead { at: reader.at, taken: reader.taken, error: error.as_deref(), mode: MailboxMode::Poll };
    ctx.store.record_mailbox(tenant, &record.id, &read).await.map_err(store_failure)
}
