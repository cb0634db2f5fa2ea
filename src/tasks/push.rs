//! The task service's tracker jobs: a task made here is created in each of the project's
//! trackers and linked (`tracker.push`), exactly once however often the job runs; a change
//! made here is written to each linked item (`tracker.transition`, `tracker.update`),
//! journaled so it can be explained and undone.

use std::sync::Arc;

use serde_json::json;

use crate::domain::id::{IntegrationId, TaskId};
use crate::domain::sync_run::{SyncRunKind, SyncRunStatus};
use crate::domain::task::TaskStatus;
use crate::jobs::{JobContext, JobError, JobKind, Registry};
use crate::store::{FinishedRun, NewChange, NewRun, TaskLink};
use crate::trackers::{Item, Trackers, journaled, marker, store_failure, tracker_for, with_secrets};

/// The `tracker.push` job: a task to tracker `integration_id`, named by its id or by the
/// message it is made from (which may turn out a duplicate, then nothing is pushed).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PushTask {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<TaskId>,
    pub integration_id: IntegrationId,
}

impl JobKind for PushTask {
    const KIND: &'static str = "tracker.push";

    fn idempotency_key(&self) -> String {
        match (&self.task_id, &self.message_id) {
            (Some(task), _) => format!("push-task:{task}:{}", self.integration_id),
            (None, message) => format!("push:{}:{}", message.as_deref().unwrap_or_default(), self.integration_id),
        }
    }
}

/// The `tracker.transition` job: item `external_id` (linked to task `task_id`) moved to `status`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TransitionItem {
    #[serde(flatten)]
    pub item: LinkedItem,
    pub status: TaskStatus,
}

impl JobKind for TransitionItem {
    const KIND: &'static str = "tracker.transition";

    /// Every change is its own job, in the order made.
    fn idempotency_key(&self) -> String {
        self.item.key("transition")
    }
}

/// The `tracker.update` job: item `external_id` rewritten from task `task_id` as it is then.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct UpdateItem {
    #[serde(flatten)]
    pub item: LinkedItem,
}

/// A tracker item `external_id` in integration `integration_id`, linked to task `task_id`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LinkedItem {
    pub task_id: TaskId,
    pub integration_id: IntegrationId,
    pub external_id: String,
}

impl LinkedItem {
    /// Every change written to an item is its own job, in the order made.
    fn key(&self, what: &str) -> String {
        format!("{what}:{}:{}:{}", self.task_id, self.integration_id, crate::domain::new_id())
    }
}

impl JobKind for UpdateItem {
    const KIND: &'static str = "tracker.update";

    fn idempotency_key(&self) -> String {
        self.item.key("update")
    }
}

/// Registers the jobs writing tasks to trackers.
pub(super) fn register(registry: &mut Registry, trackers: &Arc<Trackers>) {
    let for_pushes = trackers.clone();
    registry.handle(move |ctx: JobContext, job: PushTask| {
        let shared = for_pushes.clone();
        async move { push(&shared, ctx, job).await }
    });
    let for_transitions = trackers.clone();
    registry.handle(move |ctx: JobContext, job: TransitionItem| {
        let shared = for_transitions.clone();
        async move { write_linked(&shared, &ctx, Write::Transition(job.status), &job.item).await }
    });
    let for_updates = trackers.clone();
    registry.handle(move |ctx: JobContext, job: UpdateItem| {
        let shared = for_updates.clone();
        async move { write_linked(&shared, &ctx, Write::Update, &job.item).await }
    });
}

async fn push(shared: &Trackers, ctx: JobContext, job: PushTask) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let integration_id = &job.integration_id;
    let task_id = match job.task_id {
        Some(task_id) => task_id,
        None => {
            let message_id = job.message_id.unwrap_or_default();
            let message = ctx.store.get_message(tenant, &message_id).await.map_err(store_failure)?;
            let created = message.status.made_task();
            match message.task_id.filter(|_| created) {
                Some(task_id) => task_id,
                None => return Ok(()), // a duplicate: the existing task is already where it belongs
            }
        }
    };
    if ctx
        .store
        .task_links(tenant, &task_id)
        .await
        .map_err(store_failure)?
        .iter()
        .any(|l| l.integration_id == *integration_id)
    {
        return Ok(());
    }
    let task = ctx.store.get_task(tenant, &task_id).await.map_err(store_failure)?;
    let (record, secrets) = with_secrets(shared, tenant, integration_id).await?;
    let tracker = tracker_for(shared, &record, &secrets)?;
    let turn = shared.slot(&record).await;
    let created = tracker.create(&item_of(shared, &task), &marker(&task.id)).await?;
    drop(turn);
    let link = TaskLink {
        task_id: task.id.clone(),
        integration_id: record.id.clone(),
        tracker: record.kind.as_str().to_string(),
        external_id: created.id.clone(),
        external_ref: Some(created.reference.clone()),
        url: created.url.clone(),
        sync_run_id: Some(crate::domain::new_id()),
        created_at: crate::store::now(),
    };
    let pushed = journaled(&record, &created);
    let run = FinishedRun {
        run: NewRun {
            kind: SyncRunKind::TrackerPush,
            project_id: &task.project_id,
            task_id: Some(&task.id),
            request: json!({"task_id": task.id, "integration_id": record.id}),
        },
        results: json!([{"task_id": task.id, "status": "created", "item": pushed}]),
        change: NewChange {
            step: "create",
            target: record.kind.as_str(),
            reference: &created.reference,
            action: "created",
            before: None,
            after: Some(pushed.clone()),
        },
    };
    let item =
        LinkedItem { task_id: task.id.clone(), integration_id: record.id.clone(), external_id: created.id.clone() };
    // An edit made while the item was being made is written to it now. On a later attempt
    // the item may be an earlier attempt's, made from the task before an edit: unless the
    // task was never edited, it is written over.
    let known = ctx.job.attempts <= 1 || task.updated_at == task.created_at;
    let made_from = known.then_some(task.updated_at);
    let catch_up = |current: &crate::domain::task::Task| {
        let mut jobs = vec![UpdateItem { item: item.clone() }.job()];
        if current.status != task.status || !known {
            jobs.push(TransitionItem { item: item.clone(), status: current.status }.job());
        }
        jobs
    };
    ctx.store.link_pushed(tenant, &link, &run, made_from, catch_up).await.map_err(store_failure)?;
    tracing::info!(task_id = %task.id, integration_id = %record.id, "task pushed to the tracker");
    Ok(())
}

/// The task as a tracker item.
fn item_of(shared: &Trackers, task: &crate::domain::task::Task) -> Item {
    Item {
        title: task.title.clone(),
        description: task.description.clone(),
        status: task.status,
        priority: task.priority,
        assignee: task.assigned_to.clone(),
        due_date: task.due_date,
        labels: task.labels.clone(),
        link: format!("{}/api/v1/tasks/{}", shared.integrations.public_url(), task.id),
    }
}

/// A change here written to a linked tracker item.
#[derive(Clone, Copy)]
enum Write {
    Transition(crate::domain::task::TaskStatus),
    /// Title, description, priority, assignee, due date and labels, as the task has them
    /// when the job runs (so later edits queued behind it are already included).
    Update,
}

/// Writes a change to the linked item, journaled as a run (the job's id is the run's) with
/// the item before and after, so it can be explained and undone. What was there before is
/// fixed by the first attempt: a retry after a crash mid-way finds the item already changed
/// and must not take that as "before".
async fn write_linked(shared: &Trackers, ctx: &JobContext, write: Write, linked: &LinkedItem) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let (task_id, integration_id, external_id) = (&linked.task_id, &linked.integration_id, linked.external_id.as_str());
    let task = ctx.store.get_task(tenant, task_id).await.map_err(store_failure)?;
    let kind = match write {
        Write::Transition(_) => SyncRunKind::TrackerTransition,
        Write::Update => SyncRunKind::TrackerUpdate,
    };
    let new = NewRun { kind, project_id: &task.project_id, task_id: Some(task_id), request: ctx.job.payload.clone() };
    let run = ctx.store.open_sync_run(tenant, &ctx.job.id, &new).await.map_err(store_failure)?;
    if run.status != SyncRunStatus::Running {
        return Ok(());
    }
    let outcome = async {
        let (record, secrets) = with_secrets(shared, tenant, integration_id).await?;
        let tracker = tracker_for(shared, &record, &secrets)?;
        // Held for the read and the write: both are calls to the tracker.
        let _turn = shared.slot(&record).await;
        let before = match run.plan.clone() {
            Some(plan) => plan,
            None => {
                let current = match write {
                    Write::Transition(_) => journaled(&record, &tracker.fetch(external_id).await?),
                    Write::Update => with_fields(
                        journaled(&record, &tracker.fetch(external_id).await?),
                        tracker.fields(external_id).await?,
                    ),
                };
                ctx.store.set_sync_plan(tenant, &run.id, &current).await.map_err(store_failure)?
            }
        };
        let (step, action, after) = match write {
            Write::Transition(status) => {
                ("transition", "transitioned", journaled(&record, &tracker.transition(external_id, status).await?))
            }
            Write::Update => {
                let updated = tracker.update(external_id, &item_of(shared, &task), &marker(task_id)).await?;
                ("update", "updated", with_fields(journaled(&record, &updated), tracker.fields(external_id).await?))
            }
        };
        let change = NewChange {
            step,
            target: record.kind.as_str(),
            reference: after["external_ref"].as_str().unwrap_or(external_id),
            action,
            before: Some(before.clone()),
            after: Some(after.clone()),
        };
        ctx.store.record_sync_change(&run.id, &change).await.map_err(store_failure)?;
        Ok::<_, JobError>(json!([{"task_id": task_id, "status": action, "before": before, "item": after}]))
    };
    match outcome.await {
        Ok(results) => {
            ctx.store.finish_sync_run(tenant, &run.id, Ok(&results)).await.map_err(store_failure)?;
            tracing::info!(%integration_id, external_id, kind = kind.as_str(), "tracker item changed");
            Ok(())
        }
        Err(JobError::Permanent(m) | JobError::Gone(m)) => {
            ctx.store.finish_sync_run(tenant, &run.id, Err(&m)).await.map_err(store_failure)?;
            Err(JobError::Permanent(m))
        }
        Err(retry) => Err(retry),
    }
}

/// A journaled item with the fields an update writes, as the tracker holds them.
fn with_fields(mut item: serde_json::Value, fields: serde_json::Value) -> serde_json::Value {
    item["fields"] = fields;
    item
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::{push_job, push_task_job};

    #[test]
    fn tracker_jobs_queue_the_payloads_their_handlers_read() {
        let item = LinkedItem { task_id: "t".into(), integration_id: "i".into(), external_id: "e".into() };
        let transition = TransitionItem { item, status: TaskStatus::InProgress }.job();
        assert_eq!(transition.kind, "tracker.transition");
        let expected = json!({"task_id": "t", "integration_id": "i", "external_id": "e", "status": "in_progress"});
        assert_eq!(transition.payload, expected);
        assert!(transition.idempotency_key.starts_with("transition:t:i:"));
        let from_message = push_job("m", &"i".into());
        assert_eq!(from_message.payload, json!({"message_id": "m", "integration_id": "i"}));
        assert_eq!(from_message.idempotency_key, "push:m:i");
        let of_task = push_task_job(&"t".into(), &"i".into());
        assert_eq!(of_task.payload, json!({"task_id": "t", "integration_id": "i"}));
        assert_eq!(of_task.idempotency_key, "push-task:t:i");
        let parsed: PushTask = serde_json::from_value(of_task.payload).expect("parses back");
        assert_eq!((parsed.task_id.as_deref(), parsed.message_id), (Some("t"), None));
    }
}
