//! Polling trackers for changes, for trackers (or installations) that send no webhooks: a
//! `tracker.poll` job per integration and time slot reads the items changed since the
//! cursor, moves linked tasks to the tracker's status (without echoing it back) and imports
//! new items as tasks, so duplicate detection keeps seeing what is tracked there. Each
//! poll schedules the next; the slot in the idempotency key keeps one chain per integration
//! however many instances schedule it.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::id::{IntegrationId, TenantId};
use crate::domain::integration::{Integration, IntegrationStatus};
use crate::jobs::{JobContext, JobError, JobKind, NewJob, slot_of, slot_start};
use crate::store::{PollOutcome, Store, StoreError};
use crate::tasks::mirror::{Mirrored, TrackerChange, mirror};
use crate::trackers::{Listed, Trackers, is_marker, is_tracker, store_failure, tracker_for, with_secrets};

/// The `tracker.poll` job: integration `integration_id`'s poll of time slot `slot`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PollTracker {
    pub integration_id: IntegrationId,
    pub slot: i64,
}

impl JobKind for PollTracker {
    const KIND: &'static str = "tracker.poll";

    fn idempotency_key(&self) -> String {
        format!("poll:{}:{}", self.integration_id, self.slot)
    }
}

/// Changes are read from a minute before the cursor: clocks differ, and a change seen
/// twice is harmless.
const OVERLAP: chrono::Duration = chrono::Duration::seconds(60);
/// Pages read per poll at most; the rest waits for the next.
const MAX_PAGES: usize = 50;

/// The poll of `integration_id` in time slot `slot`.
pub fn poll_job(integration_id: &IntegrationId, slot: i64, interval: Duration) -> NewJob {
    PollTracker { integration_id: integration_id.clone(), slot }.job().at(slot_start(slot, interval))
}

/// Schedules the next poll of an integration (a no-op when it is scheduled already).
pub async fn schedule(
    store: &Store,
    tenant_id: &TenantId,
    integration_id: &IntegrationId,
    interval: Duration,
) -> Result<(), StoreError> {
    let slot = slot_of(Utc::now(), interval) + 1;
    store.enqueue(tenant_id, &poll_job(integration_id, slot, interval)).await.map(|_| ())
}

/// Starts polling `integration` when polling is on and it is an active tracker (a no-op
/// when its chain runs already). Best effort: what is not scheduled now is at the next start.
pub async fn start(store: &Store, tenant_id: &TenantId, integration: &Integration, interval: Option<Duration>) {
    let Some(interval) = interval else { return };
    if !is_tracker(integration.kind) || integration.status != IntegrationStatus::Active {
        return;
    }
    if let Err(e) = schedule(store, tenant_id, &integration.id, interval).await {
        tracing::warn!(error = %e, integration_id = %integration.id, "could not schedule tracker polling");
    }
}

/// Schedules polling of every active tracker integration (at start-up: chains that ended,
/// say with a dead job, start again).
pub async fn schedule_all(store: &Store, interval: Duration) -> Result<usize, StoreError> {
    let mut scheduled = 0;
    for (tenant, id, _) in store.active_integrations().await?.iter().filter(|(_, _, kind)| is_tracker(*kind)) {
        schedule(store, tenant, id, interval).await?;
        scheduled += 1;
    }
    Ok(scheduled)
}

pub(super) async fn run(
    shared: &Trackers,
    ctx: JobContext,
    job: PollTracker,
    interval: Duration,
) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let (integration_id, slot) = (&job.integration_id, job.slot);
    let (record, secrets) = match with_secrets(shared, tenant, integration_id).await {
        Ok(found) => found,
        // Deleted: its chain ends here.
        Err(JobError::Permanent(_) | JobError::Gone(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    if record.status != IntegrationStatus::Active || !is_tracker(record.kind) {
        return Ok(());
    }
    let state = ctx.store.poll_state(tenant, integration_id).await.map_err(store_failure)?;
    let cursor = state.map(|s| s.cursor).unwrap_or(record.created_at);
    let started = crate::store::now();
    let mut outcome = PollOutcome { cursor, changed: 0, imported: 0, error: None };
    let mut latest: Option<DateTime<Utc>> = None;
    let polled = async {
        let tracker = tracker_for(shared, &record, &secrets)?;
        let mut page: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let listing = tracker.changes(cursor - OVERLAP, page.as_deref()).await?;
            for listed in &listing.items {
                apply(&ctx, &record, listed, &mut outcome).await?;
                latest = latest.max(listed.updated_at);
            }
            page = listing.next;
            if page.is_none() {
                return Ok::<_, JobError>(true);
            }
        }
        Ok(false)
    }
    .await;
    outcome.cursor = next_cursor(cursor, started, matches!(polled, Ok(true)), latest);
    match polled {
        Ok(true) => {}
        Ok(false) => outcome.error = Some(format!("more than {MAX_PAGES} pages of changes: the rest follows")),
        Err(e) => outcome.error = Some(e.to_string()),
    }
    ctx.store.record_poll(tenant, integration_id, &outcome).await.map_err(store_failure)?;
    if let Some(error) = &outcome.error {
        tracing::warn!(%integration_id, %error, "tracker poll incomplete");
    }
    // The next poll, however this one went: the chain goes on.
    let next = (slot + 1).max(slot_of(Utc::now(), interval) + 1);
    ctx.store.enqueue(tenant, &poll_job(integration_id, next, interval)).await.map_err(store_failure)?;
    // The poll state keeps what matters; a day of finished polls is kept for inspection.
    let kept = Utc::now() - chrono::Duration::hours(24);
    if let Err(e) = ctx.store.forget_succeeded_jobs(&format!("poll:{integration_id}:"), kept).await {
        tracing::warn!(%integration_id, error = %e, "could not forget finished polls");
    }
    Ok(())
}

/// Where the next poll starts: the start of this one when it saw everything; otherwise
/// the latest change it applied (changes come oldest first), so a backlog longer than one
/// poll, or a poll cut short by an error, still moves on.
fn next_cursor(
    cursor: DateTime<Utc>,
    started: DateTime<Utc>,
    complete: bool,
    latest: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    if complete { started } else { latest.map_or(cursor, |at| at.max(cursor)) }
}

/// One changed item: a linked task follows it (by the task service's one rule); an unknown
/// item becomes a task.
async fn apply(
    ctx: &JobContext,
    record: &crate::store::integrations::IntegrationRecord,
    listed: &Listed,
    outcome: &mut PollOutcome,
) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let change = TrackerChange { status: listed.status, assignee: None, changed_at: listed.updated_at };
    match mirror(&ctx.store, tenant, &record.id, &listed.item.id, &change).await.map_err(store_failure)? {
        Mirrored::Changed => outcome.changed += 1,
        Mirrored::Unchanged => {}
        // Made from a task here and not linked yet (its push is under way): not new work.
        Mirrored::NotLinked if listed.labels.iter().any(|l| is_marker(l)) => {}
        Mirrored::NotLinked => {
            if super::import::import_item(&ctx.store, tenant, record, listed).await? {
                outcome.imported += 1;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_fall_into_slots_and_run_at_their_start() {
        let interval = Duration::from_secs(300);
        let at = DateTime::<Utc>::from_timestamp(1_800_000_123, 0).expect("time");
        let slot = slot_of(at, interval);
        assert_eq!(slot, 1_800_000_123 / 300);
        let job = poll_job(&"i-1".into(), slot + 1, interval);
        assert_eq!(job.idempotency_key, format!("poll:i-1:{}", slot + 1));
        assert_eq!(job.run_at.map(|t| t.timestamp()), Some((slot + 1) * 300));
    }

    #[test]
    fn the_cursor_moves_to_the_start_or_to_the_latest_change_seen() {
        let at = |s: i64| DateTime::<Utc>::from_timestamp(1_800_000_000 + s, 0).expect("time");
        assert_eq!(next_cursor(at(0), at(100), true, Some(at(50))), at(100), "all seen");
        assert_eq!(next_cursor(at(0), at(100), false, Some(at(50))), at(50), "a backlog moves on");
        assert_eq!(next_cursor(at(0), at(100), false, None), at(0), "nothing applied: again from here");
        assert_eq!(next_cursor(at(60), at(100), false, Some(at(30))), at(60), "never backwards (overlap)");
    }

    #[test]
    fn a_task_follows_only_a_later_different_status() {
        use crate::domain::task::TaskStatus;
        let at = |s: i64| DateTime::<Utc>::from_timestamp(1_800_000_000 + s, 0).expect("time");
        // A poll's change as the task service's one rule takes it.
        let follows = |listed: &Listed, status: TaskStatus, updated_at: DateTime<Utc>| {
            let task = crate::domain::task::fixture(status, None, updated_at);
            let change = TrackerChange { status: listed.status, assignee: None, changed_at: listed.updated_at };
            crate::tasks::mirror::patch_for(&task, &change).is_some_and(|p| p.status.is_some())
        };
        let listed = |status, updated_at| Listed {
            item: crate::trackers::External {
                id: "1".into(),
                reference: "#1".into(),
                url: None,
                title: "Item".into(),
                status: "Done".into(),
                closed: true,
            },
            description: String::new(),
            labels: vec![],
            status,
            due_date: None,
            updated_at,
        };
        assert!(follows(&listed(TaskStatus::Done, Some(at(10))), TaskStatus::Todo, at(5)));
        assert!(!follows(&listed(TaskStatus::Done, Some(at(10))), TaskStatus::Done, at(5)), "nothing to change");
        assert!(!follows(&listed(TaskStatus::Done, Some(at(5))), TaskStatus::InProgress, at(10)), "ours is newer");
        assert!(follows(&listed(TaskStatus::Done, None), TaskStatus::Todo, at(10)), "no time given: it changed");
    }
}
