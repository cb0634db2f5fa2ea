//! Follow-ups: overdue and stale tasks (by the analysis's own rules) get a reminder in the
//! conversation their request came from, or by e-mail to their assignee. Each is an AI
//! action: proposed for a person to approve, or approved at once when the project opts in
//! (`auto_follow_ups`). Never twice for the same task and day, and not again while an
//! earlier one still waits.
//!
//! Scheduling: one `ai.follow_ups` job per time slot (under the default tenant) queues an
//! `ai.follow_ups.tenant` job per tenant for the slot; the slot in each idempotency key
//! keeps one of each however many instances run.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::actions::action_job;
use super::analysis::{self, Kind};
use super::route::route;
use crate::domain::coordinator::FollowUp;
use crate::domain::id::{ProjectId, TenantId};
use crate::domain::task::Task;
use crate::domain::tenant::default_tenant;
use crate::jobs::{JobContext, JobError, JobKind, NewJob, Registry, slot_of, slot_start};
use crate::store::coordinator::NewFollowUp;
use crate::store::integrations::IntegrationRecord;
use crate::store::{Store, StoreError};

/// The `ai.follow_ups` job: the fan-out of time slot `slot` to every tenant.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FollowUps {
    pub slot: i64,
}

impl JobKind for FollowUps {
    const KIND: &'static str = "ai.follow_ups";

    fn idempotency_key(&self) -> String {
        format!("follow-ups:{}", self.slot)
    }
}

/// The `ai.follow_ups.tenant` job: one tenant's check in slot `slot` (the tenant is the job's).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TenantFollowUps {
    pub slot: i64,
    /// Only the key names it: the job runs under the tenant.
    #[serde(skip)]
    tenant_id: TenantId,
}

impl JobKind for TenantFollowUps {
    const KIND: &'static str = "ai.follow_ups.tenant";

    fn idempotency_key(&self) -> String {
        format!("follow-ups:{}:{}", self.slot, self.tenant_id)
    }
}
/// Who approves the follow-ups of a project that opted in.
pub const POLICY: &str = "policy:auto_follow_ups";
/// Tenants queued per page of the fan-out.
const TENANT_PAGE: i64 = 500;

/// The fan-out of slot `slot`.
pub fn schedule_job(slot: i64, interval: Duration) -> NewJob {
    FollowUps { slot }.job().at(slot_start(slot, interval))
}

fn tenant_job(tenant_id: &TenantId, slot: i64) -> NewJob {
    TenantFollowUps { slot, tenant_id: tenant_id.clone() }.job()
}

pub fn register(registry: &mut Registry, interval: Option<Duration>) {
    let Some(interval) = interval else { return };
    registry.handle(move |ctx, job: FollowUps| fan_out(ctx, job.slot, interval));
    registry.handle(|ctx, _: TenantFollowUps| check_tenant(ctx));
}

/// Starts the chain (a no-op when it runs already): the current slot's fan-out.
pub async fn start(store: &Store, interval: Option<Duration>) -> Result<(), StoreError> {
    let Some(interval) = interval else { return Ok(()) };
    store.enqueue(&default_tenant(), &schedule_job(slot_of(Utc::now(), interval), interval)).await.map(|_| ())
}

async fn fan_out(ctx: JobContext, slot: i64, interval: Duration) -> Result<(), JobError> {
    let retry = |e: StoreError| JobError::Retry(e.to_string());
    let mut after = TenantId::default();
    loop {
        let tenants = ctx.store.tenant_ids(&after, TENANT_PAGE).await.map_err(retry)?;
        for tenant in &tenants {
            ctx.store.enqueue(tenant, &tenant_job(tenant, slot)).await.map_err(retry)?;
        }
        match tenants.last() {
            Some(last) if tenants.len() as i64 == TENANT_PAGE => after = last.clone(),
            _ => break,
        }
    }
    let next = (slot + 1).max(slot_of(Utc::now(), interval) + 1);
    ctx.store.enqueue(&default_tenant(), &schedule_job(next, interval)).await.map_err(retry)?;
    let kept = Utc::now() - chrono::Duration::hours(24);
    if let Err(e) = ctx.store.forget_succeeded_jobs("follow-ups:", kept).await {
        tracing::warn!(error = %e, "could not forget finished follow-up checks");
    }
    Ok(())
}

async fn check_tenant(ctx: JobContext) -> Result<(), JobError> {
    run(&ctx.store, &ctx.job.tenant_id, Utc::now()).await.map(|_| ()).map_err(|e| JobError::Retry(e.to_string()))
}

/// What one check did.
#[derive(Debug, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Checked {
    /// Actions made: pending, or approved and on their way for projects that opted in.
    pub actions: Vec<String>,
    /// Overdue or stale tasks with nowhere to send a reminder (no source conversation, no
    /// assignee e-mail with an e-mail integration).
    pub unreachable: Vec<String>,
}

/// Looks at the tenant's open tasks as of `now` and makes a follow-up for each overdue or
/// stale one that can be reached and has none today.
pub async fn run(store: &Store, tenant_id: &TenantId, now: DateTime<Utc>) -> Result<Checked, StoreError> {
    let idle_since = now - chrono::Duration::days(analysis::STALE_DAYS);
    let tasks = store.tasks_to_follow_up(tenant_id, now.date_naive(), idle_since, super::MAX_TASKS).await?;
    let projects = super::all_projects(store, tenant_id).await?;
    let auto: HashSet<&str> = projects.iter().filter(|p| p.auto_follow_ups).map(|p| p.id.as_str()).collect();
    let mut integrations: HashMap<ProjectId, Vec<IntegrationRecord>> = HashMap::new();
    let mut checked = Checked::default();
    let mut seen = HashSet::new();
    for finding in analysis::analyze(&tasks, &[], now) {
        if !matches!(finding.kind, Kind::Overdue | Kind::Stale) {
            continue;
        }
        let Some(task) = finding.task_ids.first().and_then(|id| tasks.iter().find(|t| &t.id == id)) else { continue };
        if !seen.insert(task.id.clone()) {
            continue; // overdue and stale: one reminder says it
        }
        let message = reminder_text(task, finding.kind, now);
        let in_project = match integrations.entry(task.project_id.clone()) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(slot) => slot.insert(store.list_integrations(tenant_id, &task.project_id).await?),
        };
        if route(store, tenant_id, task, in_project, &message).await?.is_none() {
            checked.unreachable.push(task.id.to_string());
            continue;
        }
        let new = NewFollowUp {
            follow_up: &FollowUp { task_id: task.id.clone(), message },
            day: now.date_naive(),
            approved_by: auto.contains(task.project_id.as_str()).then_some(POLICY),
        };
        let id = crate::domain::new_id();
        if let Some(id) = store.propose_follow_up(tenant_id, &id, &new, &action_job(&id)).await? {
            checked.actions.push(id);
        }
    }
    Ok(checked)
}

/// The reminder about `task`, which is overdue or stale as of `now`.
pub fn reminder_text(task: &Task, kind: Kind, now: DateTime<Utc>) -> String {
    let ask = |question: &str| match task.assigned_to.as_deref() {
        Some(who) => format!("@{}, {question}", who.trim_start_matches('@')),
        None => super::chat::capitalize(question),
    };
    match (kind, task.due_date) {
        (Kind::Overdue, Some(due)) => format!(
            "Reminder: \"{}\" was due on {due} ({} day(s) ago) and is still {}. {}",
            task.title,
            (now.date_naive() - due).num_days(),
            task.status.as_str().replace('_', " "),
            ask("is there a new date, or is something in the way?")
        ),
        _ => format!(
            "Reminder: \"{}\" has been in progress for {} day(s) without an update. {}",
            task.title,
            (now - task.updated_at).num_days(),
            ask("how is it going, and is anything blocking it?")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::task::{Priority, TaskStatus};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).expect("time")
    }

    fn task() -> Task {
        Task {
            id: "t1".into(),
            project_id: "p1".into(),
            title: "Renew the certificate".into(),
            description: String::new(),
            status: TaskStatus::InProgress,
            priority: Priority::Medium,
            assigned_to: Some("ana".into()),
            time_estimate: None,
            time_spent: 0,
            due_date: chrono::NaiveDate::from_ymd_opt(2026, 12, 1),
            labels: Vec::new(),
            created_at: at("2026-11-01T09:00:00Z"),
            updated_at: at("2026-11-20T09:00:00Z"),
        }
    }

    #[test]
    fn reminders_say_what_is_late_and_ask_the_assignee() {
        let now = at("2026-12-04T10:00:00Z");
        let overdue = reminder_text(&task(), Kind::Overdue, now);
        assert!(overdue.contains("\"Renew the certificate\" was due on 2026-12-01 (3 day(s) ago)"), "{overdue}");
        assert!(overdue.contains("still in progress. @ana, is there a new date"), "{overdue}");
        let stale = reminder_text(&Task { assigned_to: None, ..task() }, Kind::Stale, now);
        assert!(stale.contains("in progress for 14 day(s) without an update. How is it going"), "{stale}");
    }

    #[test]
    fn slots_name_their_jobs() {
        let interval = Duration::from_secs(3600);
        let job = schedule_job(493_000, interval);
        assert_eq!(job.idempotency_key, "follow-ups:493000");
        assert_eq!(job.run_at.map(|t| t.timestamp()), Some(493_000 * 3600));
        assert_eq!(tenant_job(&"tn".into(), 7).idempotency_key, "follow-ups:7:tn");
        assert_eq!(slot_of(at("2026-12-04T10:30:00Z"), interval), at("2026-12-04T10:00:00Z").timestamp() / 3600);
    }
}
