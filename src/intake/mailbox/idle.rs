//! IDLE watchers (RFC 2177): each instance watches the mailboxes it can hold. A watcher
//! holds its mailbox through a lease in the database (renewed every third of it, so one
//! watcher or poll at a time reads a mailbox, whatever the number of instances), opens a
//! connection, takes what is new, and waits in IDLE; an `EXISTS` or `RECENT` from the
//! server starts the next pass at once. IDLE is ended and entered again at least every
//! `renew` (servers drop an IDLE after 30 minutes), each time after a pass. A server
//! without IDLE is left to the polls (looked at again every ten minutes); a broken
//! connection lets go of the mailbox, so polls cover it, and is opened again with backoff.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::reader::{Mailbox, Reader};
use super::{POLL_TIMEOUT, Shared, polled};
use crate::channels::email::imap::Session;
use crate::channels::with_secrets;
use crate::domain::id::{IntegrationId, TenantId};
use crate::domain::integration::{IntegrationStatus, IntegrationType};
use crate::jobs::JobError;
use crate::store::integrations::IntegrationRecord;
use crate::store::{MailboxMode, MailboxRead, Store};

/// A server without IDLE is asked again after this long (it may have been upgraded).
const NO_IDLE_RECHECK: Duration = Duration::from_secs(600);
/// The longest wait between two tries to reconnect.
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// A response the server started while idling must be finished within this.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct IdleOptions {
    /// IDLE is ended and entered again after this long at most (RFC 2177 asks for less
    /// than 29 minutes).
    pub renew: Duration,
    /// How long a watcher's hold on a mailbox lasts unless renewed; also how often the
    /// watchers look for mailboxes (this instance's new ones are seen at once).
    pub lease: Duration,
}

/// Tells this instance's watchers that a mailbox was added or changed.
#[derive(Clone, Default)]
pub struct Nudge(Arc<Notify>);

impl Nudge {
    pub fn nudge(&self) {
        self.0.notify_one();
    }
}

/// This instance's watchers.
pub struct Watchers {
    nudge: Nudge,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Watchers {
    pub fn start(store: Store, shared: Shared, options: IdleOptions) -> Self {
        let nudge = Nudge::default();
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(supervise(store, shared, options, nudge.clone(), stopped));
        Watchers { nudge, stop, task }
    }

    pub fn nudge(&self) -> Nudge {
        self.nudge.clone()
    }

    /// Ends every IDLE and lets go of the mailboxes.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Starts a watcher for each mailbox not watched yet, at start and then every lease or
/// when nudged; a watcher ends when its integration is gone or no longer a mailbox.
async fn supervise(store: Store, shared: Shared, options: IdleOptions, nudge: Nudge, mut stop: watch::Receiver<bool>) {
    let holder = format!("idle:{}", uuid::Uuid::new_v4().simple());
    let mut watching: HashMap<IntegrationId, JoinHandle<()>> = HashMap::new();
    while !*stop.borrow() {
        watching.retain(|_, task| !task.is_finished());
        match store.active_integrations_of(IntegrationType::Email).await {
            Ok(found) => {
                for (tenant, record) in found.into_iter().filter(|(_, r)| polled(r.kind, &r.settings)) {
                    watching.entry(record.id.clone()).or_insert_with(|| {
                        let watch = Watch {
                            tenant,
                            id: record.id,
                            holder: holder.clone(),
                            store: store.clone(),
                            shared: shared.clone(),
                            options: options.clone(),
                            stop: stop.clone(),
                        };
                        tokio::spawn(watch.run())
                    });
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not list the mailboxes to watch"),
        }
        tokio::select! {
            () = nudge.0.notified() => {}
            () = tokio::time::sleep(options.lease) => {}
            changed = stop.changed() => if changed.is_err() { break },
        }
    }
    for (_, task) in watching {
        let _ = task.await;
    }
}

/// How a watcher's round ended.
enum End {
    /// Not an active mailbox any more: the watcher ends.
    Gone,
    /// Asked to stop.
    Stopped,
    /// Another reader holds the mailbox.
    Held,
    /// The server offers no IDLE: polls read it.
    NoIdle,
    /// Its settings changed: open it again with the new ones.
    Changed,
}

/// A round that failed: why (said without the password), and whether the mailbox's state
/// is still to show it (not when recorded already, nor for this service's own storage
/// failures, which are only logged).
struct Failed {
    why: String,
    to_record: bool,
}

impl Failed {
    fn new(why: impl std::fmt::Display) -> Self {
        Failed { why: why.to_string(), to_record: true }
    }

    fn quiet(why: impl std::fmt::Display) -> Self {
        Failed { why: why.to_string(), to_record: false }
    }
}

struct Watch {
    tenant: TenantId,
    id: IntegrationId,
    holder: String,
    store: Store,
    shared: Shared,
    options: IdleOptions,
    stop: watch::Receiver<bool>,
}

/// What a watcher may wait for while idling.
enum Event {
    Said(Result<(), crate::channels::email::imap::ImapError>),
    Renew,
    Check,
    Lost,
    Stop,
}

impl Watch {
    async fn run(mut self) {
        let mut failures: i32 = 0;
        loop {
            let ended = self.round(&mut failures).await;
            if let Err(e) = self.store.release_mailbox(&self.id, &self.holder).await {
                tracing::warn!(integration_id = %self.id, error = %e, "could not let go of the mailbox");
            }
            let wait = match ended {
                Ok(End::Gone | End::Stopped) => return,
                Ok(End::Changed) => Duration::ZERO,
                Ok(End::Held) => self.options.lease,
                Ok(End::NoIdle) => NO_IDLE_RECHECK,
                Err(Failed { why, to_record }) => {
                    failures += 1;
                    tracing::warn!(integration_id = %self.id, error = %why, "mailbox IDLE broke; polling until it is back");
                    // Polls read the mailbox meanwhile: recorded as such.
                    let read = MailboxRead { at: None, taken: 0, error: Some(&why), mode: MailboxMode::Poll };
                    if to_record && let Err(e) = self.store.record_mailbox(&self.tenant, &self.id, &read).await {
                        tracing::warn!(integration_id = %self.id, error = %e, "could not record the mailbox's error");
                    }
                    crate::jobs::backoff(failures, crate::jobs::jitter()).min(BACKOFF_MAX)
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = self.stop.changed() => return,
            }
        }
    }

    /// The mailbox as it is now configured; `None` when it is no longer an active mailbox.
    async fn load(&self) -> Result<Option<(IntegrationRecord, Mailbox)>, Failed> {
        let (record, secrets) = match with_secrets(&self.shared.0, &self.tenant, &self.id).await {
            Ok(found) => found,
            Err(JobError::Permanent(_) | JobError::Gone(_)) => return Ok(None),
            Err(e) => return Err(Failed::quiet(e)),
        };
        if record.status != IntegrationStatus::Active || !polled(record.kind, &record.settings) {
            return Ok(None);
        }
        // A mailbox that cannot be read as configured is the polls' to report.
        Ok(Mailbox::of(&record.settings, &secrets).ok().map(|mailbox| (record, mailbox)))
    }

    /// Holds the mailbox, opens it and reads it, idling between passes, until something ends it.
    async fn round(&mut self, failures: &mut i32) -> Result<End, Failed> {
        if *self.stop.borrow() {
            return Ok(End::Stopped);
        }
        let Some((_, mailbox)) = self.load().await? else { return Ok(End::Gone) };
        let held = self.store.hold_mailbox(&self.tenant, &self.id, &self.holder, self.options.lease).await;
        if !held.map_err(Failed::quiet)? {
            return Ok(End::Held);
        }
        let mut lease = Lease::keep(self);
        let opened = tokio::time::timeout(POLL_TIMEOUT, mailbox.open(&self.shared.1)).await;
        let (mut session, validity) = match opened {
            Ok(Ok(opened)) => opened,
            Ok(Err(e)) => return Err(Failed::new(mailbox.redact(&e.to_string()))),
            Err(_) => return Err(Failed::new(format!("the mailbox did not answer within {POLL_TIMEOUT:?}"))),
        };
        if !session.offers_idle() {
            session.logout().await;
            return Ok(End::NoIdle);
        }
        match self.watch(&mut session, validity, &mailbox, &mut lease, failures).await {
            Ok(end) => {
                session.logout().await;
                Ok(end)
            }
            Err(Failed { why, to_record }) => Err(Failed { why: mailbox.redact(&why), to_record }),
        }
    }

    /// Passes over the folder and IDLE in turn, on an open session.
    async fn watch(
        &mut self,
        session: &mut Session,
        validity: i64,
        mailbox: &Mailbox,
        lease: &mut Lease,
        failures: &mut i32,
    ) -> Result<End, Failed> {
        let state = self.store.mailbox_state(&self.tenant, &self.id).await.map_err(Failed::quiet)?;
        let mut reader = Reader::new(state.map(|s| (s.uid_validity, s.last_uid)));
        loop {
            // Passes until the server announced nothing new during one.
            loop {
                let Some((record, now)) = self.load().await? else { return Ok(End::Gone) };
                if now != *mailbox {
                    return Ok(End::Changed);
                }
                session.take_news();
                let pass = reader.pass(&self.store, &self.tenant, &record, session, validity);
                let passed = tokio::time::timeout(POLL_TIMEOUT, pass).await;
                let passed = passed.unwrap_or_else(|_| Err(JobError::Retry("a pass took too long".into())));
                let error = match &passed {
                    Ok(()) => reader.problem.take(),
                    Err(e) => Some(e.to_string()),
                };
                let error = error.map(|e| mailbox.redact(&e));
                let read = MailboxRead {
                    at: reader.at,
                    taken: std::mem::take(&mut reader.taken),
                    error: error.as_deref(),
                    mode: if passed.is_ok() { MailboxMode::Idle } else { MailboxMode::Poll },
                };
                self.store.record_mailbox(&self.tenant, &self.id, &read).await.map_err(Failed::quiet)?;
                if let Err(e) = passed {
                    return Err(Failed::quiet(mailbox.redact(&e.to_string())));
                }
                if !session.take_news() {
                    break;
                }
            }
            *failures = 0;
            let idling = session.idle().await.map_err(Failed::new)?;
            let until = Instant::now() + self.options.renew;
            let mut check = tokio::time::interval(self.options.lease / 3);
            check.tick().await;
            let end = loop {
                let event = tokio::select! {
                    said = session.readable() => Event::Said(said),
                    () = tokio::time::sleep_until(until) => Event::Renew,
                    _ = check.tick() => Event::Check,
                    _ = lease.lost.changed() => Event::Lost,
                    _ = self.stop.changed() => Event::Stop,
                };
                match event {
                    Event::Said(said) => {
                        said.map_err(Failed::new)?;
                        let response = tokio::time::timeout(RESPONSE_TIMEOUT, session.idle_response(&idling)).await;
                        response
                            .map_err(|_| Failed::new("the server stopped in mid-response"))?
                            .map_err(Failed::new)?;
                        if session.take_news() {
                            break None;
                        }
                    }
                    Event::Renew => break None,
                    Event::Check => match self.load().await? {
                        None => break Some(End::Gone),
                        Some((_, now)) if now != *mailbox => break Some(End::Changed),
                        Some(_) => {}
                    },
                    Event::Lost => return Err(Failed::new("another reader took the mailbox over")),
                    Event::Stop => break Some(End::Stopped),
                }
            };
            let done = tokio::time::timeout(RESPONSE_TIMEOUT, session.done(idling)).await;
            done.map_err(|_| Failed::new("the server did not end IDLE"))?.map_err(Failed::new)?;
            if let Some(end) = end {
                return Ok(end);
            }
        }
    }
}

/// A watcher's hold on its mailbox, renewed in the background every third of the lease;
/// `lost` changes when another reader took it over. Renewal stops when dropped.
struct Lease {
    lost: watch::Receiver<bool>,
    renewal: JoinHandle<()>,
}

impl Lease {
    fn keep(watch: &Watch) -> Self {
        let (tell, lost) = watch::channel(false);
        let (store, tenant, id, holder, lease) =
            (watch.store.clone(), watch.tenant.clone(), watch.id.clone(), watch.holder.clone(), watch.options.lease);
        let renewal = tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                match store.hold_mailbox(&tenant, &id, &holder, lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        let _ = tell.send(true);
                        return;
                    }
                    // Tried again next time; if the lease runs out meanwhile, the next renewal says so.
                    Err(e) => tracing::warn!(integration_id = %id, error = %e, "could not renew the mailbox's hold"),
                }
            }
        });
        Lease { lost, renewal }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewal.abort();
    }
}
