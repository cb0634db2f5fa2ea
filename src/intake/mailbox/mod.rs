//! Polling a mailbox: an e-mail integration with `imap_host` has its IMAP folder read by a
//! `mailbox.poll` job per time slot (each schedules the next; the slot in the key keeps one
//! chain however many instances schedule it). Each new message is stored as a request first
//! and only then marked seen (or moved): a crash in between finds it again, and the request's
//! Message-ID makes the second store a no-op, so mail is never lost and never taken twice.
//! Which messages are new is the folder's UIDVALIDITY and the last UID taken; the first poll
//! (or one after the UIDVALIDITY changed) takes the unseen ones.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::channels::email::imap::{self, ImapError, Session};
use crate::channels::{Channel, ChannelClients, Inbound, WebhookRequest, store_failure, with_secrets};
use crate::domain::id::{IntegrationId, TenantId};
use crate::domain::integration::{Integration, IntegrationStatus, IntegrationType, setting};
use crate::integrations::Integrations;
use crate::jobs::{JobContext, JobError, JobKind, NewJob, Registry, slot_of, slot_start};
use crate::store::{Store, StoreError};

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

/// Messages taken per poll at most; the rest wait for the next.
const BATCH: usize = 50;
/// A larger message is left in the mailbox (unmarked) and named in the poll's error.
pub const MESSAGE_MAX: u64 = 25 * 1024 * 1024;
/// The whole exchange of one poll.
const POLL_TIMEOUT: Duration = Duration::from_secs(120);

fn poll_job(integration_id: &IntegrationId, slot: i64, interval: Duration) -> NewJob {
    PollMailbox { integration_id: integration_id.clone(), slot }.job().at(slot_start(slot, interval))
}

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

/// Schedules a poll of every active e-mail integration (at start-up; those without a
/// mailbox end their chain at once).
pub async fn schedule_all(store: &Store, interval: Duration) -> Result<usize, StoreError> {
    let mut scheduled = 0;
    for (tenant, id, _) in store.active_integrations().await?.iter().filter(|(_, _, k)| *k == IntegrationType::Email) {
        schedule(store, tenant, id, interval).await?;
        scheduled += 1;
    }
    Ok(scheduled)
}

/// Registers the `mailbox.poll` job.
pub fn register(registry: &mut Registry, integrations: Integrations, clients: ChannelClients, interval: Duration) {
    let shared = Arc::new((integrations, clients));
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
    let state = ctx.store.mailbox_state(tenant, &record.id).await.map_err(store_failure)?;
    let mut poll = Poll { taken: 0, at: state.as_ref().map(|s| (s.uid_validity, s.last_uid)), problem: None };
    let outcome = tokio::time::timeout(POLL_TIMEOUT, poll.run(&ctx, out, &record, &secrets)).await;
    let error = match outcome {
        Ok(Ok(())) => poll.problem.clone(),
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!("the mailbox did not answer within {POLL_TIMEOUT:?}")),
    };
    if let Some(error) = &error {
        tracing::warn!(integration_id = %record.id, %error, "mailbox poll incomplete");
    }
    // A poll that never reached the folder keeps UIDVALIDITY 0: the next takes the unseen mail.
    let at = poll.at.unwrap_or((0, 0));
    ctx.store.record_mailbox(tenant, &record.id, at, poll.taken, error.as_deref()).await.map_err(store_failure)?;
    // The next poll, however this one went: the chain goes on.
    let next = (job.slot + 1).max(slot_of(Utc::now(), interval) + 1);
    ctx.store.enqueue(tenant, &poll_job(&record.id, next, interval)).await.map_err(store_failure)?;
    let kept = Utc::now() - chrono::Duration::hours(24);
    if let Err(e) = ctx.store.forget_succeeded_jobs(&format!("mailbox:{}:", record.id), kept).await {
        tracing::warn!(integration_id = %record.id, error = %e, "could not forget finished mailbox polls");
    }
    Ok(())
}

/// One poll's progress: what it took, and how far it got (UIDVALIDITY, last UID).
struct Poll {
    taken: i64,
    at: Option<(i64, i64)>,
    /// Why a message was left behind (too large), though the poll went on.
    problem: Option<String>,
}

impl Poll {
    async fn run(
        &mut self,
        ctx: &JobContext,
        out: &ChannelClients,
        record: &crate::store::integrations::IntegrationRecord,
        secrets: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), JobError> {
        let settings = &record.settings;
        let missing = |what: &str| JobError::Permanent(format!("the mailbox has no {what}"));
        let host = setting(settings, "imap_host").ok_or_else(|| missing("imap_host"))?;
        let user = setting(settings, "imap_user").ok_or_else(|| missing("imap_user"))?;
        let password = setting(secrets, "imap_password").ok_or_else(|| missing("imap_password"))?;
        let tls =
            imap::Tls::of(settings).ok_or_else(|| JobError::Permanent("imap_tls must be tls or starttls".into()))?;
        let port = match settings.get("imap_port") {
            None | Some(serde_json::Value::Null) => Some(tls.default_port()),
            Some(value) => crate::domain::integration::smtp_port(value),
        }
        .ok_or_else(|| JobError::Permanent("imap_port is not a port number".into()))?;
        let folder = setting(settings, "imap_folder").unwrap_or("INBOX");
        let move_to = setting(settings, "imap_move_to");
        let server = imap::Server { host, port, tls, user, password, guard: out.out.guard };
        let literal_max = usize::try_from(MESSAGE_MAX).unwrap_or(usize::MAX) + 4096;
        let mut session = Session::open(&server, &out.out.tls, literal_max).await.map_err(failure)?;
        let validity = i64::from(session.select(folder).await.map_err(failure)?);
        let uids = match self.at {
            Some((known, last)) if known == validity => {
                // `n:*` always matches the last message, even below n: keep only newer ones.
                let found = session.search(&format!("UID {}:*", last + 1)).await.map_err(failure)?;
                found.into_iter().filter(|uid| i64::from(*uid) > last).collect()
            }
            // First poll, or the folder was rebuilt: what nobody has read yet.
            _ => {
                self.at = Some((validity, 0));
                session.search("UNSEEN").await.map_err(failure)?
            }
        };
        for uid in uids.into_iter().take(BATCH) {
            self.take(ctx, record, &mut session, uid, move_to).await?;
            self.at = Some((validity, i64::from(uid)));
        }
        session.logout().await;
        Ok(())
    }

    /// Stores message `uid` as a request, then marks it seen or moves it.
    async fn take(
        &mut self,
        ctx: &JobContext,
        record: &crate::store::integrations::IntegrationRecord,
        session: &mut Session,
        uid: u32,
        move_to: Option<&str>,
    ) -> Result<(), JobError> {
        match session.size(uid).await.map_err(failure)? {
            None => return Ok(()), // expunged meanwhile
            Some(size) if size > MESSAGE_MAX => {
                self.problem = Some(format!(
                    "message UID {uid} ({size} octets) is larger than {MESSAGE_MAX}: left in the mailbox"
                ));
                return Ok(());
            }
            Some(_) => {}
        }
        let Some(raw) = session.fetch(uid).await.map_err(failure)? else { return Ok(()) };
        let headers = axum::http::HeaderMap::new();
        let request = WebhookRequest { headers: &headers, body: &raw, url: "", bot: None, now: Utc::now() };
        match crate::channels::email::Email.parse(&request, &record.settings) {
            Ok(Inbound::Request(r)) => {
                let new = r.into_message(record.kind, &record.id, &record.project_id);
                let id = crate::domain::new_id();
                match ctx.store.create_message(&ctx.job.tenant_id, &id, &new, &super::process_job(&id)).await {
                    // Taken before (a crash before the mark, or the gateway sent it too): one request.
                    Ok(_) => self.taken += 1,
                    Err(StoreError::Conflict(_)) => {}
                    Err(e) => return Err(store_failure(e)),
                }
            }
            // Auto-replies, bounces, our own mail: not requests, but handled.
            Ok(_) => {}
            Err(e) => {
                self.problem = Some(format!("message UID {uid} is not readable mail ({e}): left in the mailbox"));
                return Ok(());
            }
        }
        match move_to {
            Some(folder) => session.move_to(uid, folder).await.map_err(failure),
            None => session.mark_seen(uid).await.map_err(failure),
        }
    }
}

fn failure(e: ImapError) -> JobError {
    match e {
        ImapError::Transient(m) => JobError::Retry(m),
        ImapError::Permanent(m) => JobError::Permanent(m),
    }
}
