//! The `tracker.push` job: a task made from a request is created in the project's connected
//! tracker and linked, exactly once however often the job runs.

use std::sync::Arc;

use serde_json::json;

use super::jira::Jira;
use super::taiga::{Sessions, Taiga};
use super::zendesk::Zendesk;
use super::{Item, Tracker, marker};
use crate::domain::integration::IntegrationType;
use crate::domain::task::TaskStatus;
use crate::integrations::{IntegrationError, Integrations};
use crate::jobs::{JobContext, JobError, JobKind, NewJob, Registry};
use crate::store::integrations::IntegrationRecord;
use crate::store::{FinishedRun, NewChange, NewRun, StoreError, TaskLink};

/// The `tracker.push` job: a task to tracker `integration_id`, named by its id or by the
/// message it is made from (which may turn out a duplicate, then nothing is pushed).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PushTask {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    pub integration_id: String,
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
    pub task_id: String,
    pub integration_id: String,
    pub external_id: String,
    pub status: TaskStatus,
}

impl JobKind for TransitionItem {
    const KIND: &'static str = "tracker.transition";

    /// Every change is its own job, in the order made.
    fn idempotency_key(&self) -> String {
        format!("transition:{}:{}:{}", self.task_id, self.integration_id, crate::domain::new_id())
    }
}

/// The `tracker.update` job: item `external_id` rewritten from task `task_id` as it is then.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct UpdateItem {
    pub task_id: String,
    pub integration_id: String,
    pub external_id: String,
}

impl JobKind for UpdateItem {
    const KIND: &'static str = "tracker.update";

    fn idempotency_key(&self) -> String {
        format!("update:{}:{}:{}", self.task_id, self.integration_id, crate::domain::new_id())
    }
}

/// The `tracker.undo` job: carries out undo run `run_id`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct UndoTrackerRun {
    pub run_id: String,
}

impl JobKind for UndoTrackerRun {
    const KIND: &'static str = "tracker.undo";

    fn idempotency_key(&self) -> String {
        format!("sync:{}", self.run_id)
    }
}

/// The kinds of sync run a push, a transition and an update are journaled as.
pub const TRACKER_PUSH: &str = "tracker-push";
pub const TRACKER_TRANSITION: &str = "tracker-transition";
pub const TRACKER_UPDATE: &str = "tracker-update";
pub const TRACKER_COMMENT: &str = "tracker-comment";

/// The integration types that are trackers tasks are pushed to.
pub fn is_tracker(kind: IntegrationType) -> bool {
    matches!(kind, IntegrationType::Taiga | IntegrationType::Jira | IntegrationType::Zendesk)
}

/// The job pushing task `task_id` to `integration_id`.
pub fn push_task_job(task_id: &str, integration_id: &str) -> NewJob {
    PushTask { message_id: None, task_id: Some(task_id.to_string()), integration_id: integration_id.to_string() }.job()
}

/// The project's active tracker integrations, which its new tasks are pushed to.
pub async fn tracker_integrations(
    store: &crate::store::Store,
    tenant_id: &str,
    project_id: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(pushes_to(&store.list_integrations(tenant_id, project_id).await?))
}

/// Of a project's integrations, the trackers its new tasks are pushed to.
fn pushes_to(integrations: &[IntegrationRecord]) -> Vec<String> {
    integrations
        .iter()
        .filter(|i| is_tracker(i.kind) && i.status == crate::domain::integration::IntegrationStatus::Active)
        // A Jira connected through OAuth pushes once an admin has chosen its project.
        .filter(|i| {
            i.kind != IntegrationType::Jira || crate::domain::integration::setting(&i.settings, "project_key").is_some()
        })
        .map(|i| i.id.clone())
        .collect()
}

/// Creates a task here and queues its push to the project's trackers, in one transaction.
pub async fn create_task(
    store: &crate::store::Store,
    tenant_id: &str,
    new: &crate::domain::task::NewTask,
) -> Result<crate::domain::task::Task, StoreError> {
    create_task_as(store, tenant_id, None, new).await
}

/// [`create_task`] with the id the task takes (a new one when `None`; a taken id fails): a
/// caller that may run twice names it and looks for it first, so it never makes a copy.
pub async fn create_task_as(
    store: &crate::store::Store,
    tenant_id: &str,
    id: Option<&str>,
    new: &crate::domain::task::NewTask,
) -> Result<crate::domain::task::Task, StoreError> {
    let integrations = store.list_integrations(tenant_id, &new.project_id).await?;
    store
        .create_task_syncing(
            tenant_id,
            id,
            new,
            &pushes_to(&integrations),
            |task, integration| Some(push_task_job(task, integration)),
            crate::events::task_created,
        )
        .await
}

/// Deletes a task here (its tracker items stay) and announces it to the project's webhooks.
pub async fn delete_task(store: &crate::store::Store, tenant_id: &str, task_id: &str) -> Result<(), StoreError> {
    let task = store.get_task(tenant_id, task_id).await?;
    store.delete_task(tenant_id, task_id, &crate::events::task_deleted(&task)).await
}

/// The job pushing the task that message `message_id` creates to `integration_id`.
pub fn push_job(message_id: &str, integration_id: &str) -> NewJob {
    PushTask { message_id: Some(message_id.to_string()), task_id: None, integration_id: integration_id.to_string() }
        .job()
}

/// Updates a task here and queues, for each tracker item linked to it except in the
/// tracker the change came from (`from`), the status change and the change of its other
/// fields, in the same transaction.
pub async fn update_task(
    store: &crate::store::Store,
    tenant_id: &str,
    task_id: &str,
    patch: &crate::domain::task::TaskPatch,
    from: Option<&str>,
) -> Result<crate::domain::task::Task, StoreError> {
    let status = patch.status;
    let fields = patch.title.is_some()
        || patch.description.is_some()
        || patch.priority.is_some()
        || patch.assigned_to.is_some()
        || patch.due_date.is_some()
        || patch.labels.is_some();
    store
        .update_task_syncing(
            tenant_id,
            task_id,
            patch,
            |integration, external| {
                let mut jobs = Vec::new();
                if Some(integration) == from {
                    return jobs;
                }
                let (task_id, integration_id, external_id) =
                    (task_id.to_string(), integration.to_string(), external.to_string());
                if fields {
                    let update = UpdateItem {
                        task_id: task_id.clone(),
                        integration_id: integration_id.clone(),
                        external_id: external_id.clone(),
                    };
                    jobs.push(update.job());
                }
                if let Some(status) = status {
                    jobs.push(TransitionItem { task_id, integration_id, external_id, status }.job());
                }
                jobs
            },
            |task| crate::events::task_updated(task, status.is_some()),
        )
        .await
}

pub(super) struct Shared {
    integrations: Integrations,
    http: reqwest::Client,
    sessions: Arc<Sessions>,
}

/// Registers the tracker jobs; `poll` is the polling interval (no polling when `None`).
pub fn register(
    registry: &mut Registry,
    integrations: Integrations,
    http: reqwest::Client,
    poll: Option<std::time::Duration>,
) {
    let shared = Arc::new(Shared { integrations, http, sessions: Arc::default() });
    if let Some(interval) = poll {
        let for_polls = shared.clone();
        registry.handle(move |ctx: JobContext, job: super::poll::PollTracker| {
            let shared = for_polls.clone();
            async move { super::poll::run(&shared, ctx, job, interval).await }
        });
    }
    let for_pushes = shared.clone();
    registry.handle(move |ctx: JobContext, job: PushTask| {
        let shared = for_pushes.clone();
        async move { push(&shared, ctx, job).await }
    });
    let for_transitions = shared.clone();
    registry.handle(move |ctx: JobContext, job: TransitionItem| {
        let shared = for_transitions.clone();
        async move {
            let linked =
                Linked { task_id: job.task_id, integration_id: job.integration_id, external_id: job.external_id };
            write_linked(&shared, &ctx, Write::Transition(job.status), &linked).await
        }
    });
    let for_updates = shared.clone();
    registry.handle(move |ctx: JobContext, job: UpdateItem| {
        let shared = for_updates.clone();
        async move {
            let linked =
                Linked { task_id: job.task_id, integration_id: job.integration_id, external_id: job.external_id };
            write_linked(&shared, &ctx, Write::Update, &linked).await
        }
    });
    let for_comments = shared.clone();
    registry.handle(move |ctx: JobContext, job: super::comment::CommentItems| {
        let shared = for_comments.clone();
        async move { super::comment::run(&shared, ctx, job).await }
    });
    let for_undo = shared.clone();
    registry.handle(move |ctx: JobContext, job: UndoTrackerRun| {
        let shared = for_undo.clone();
        async move { super::undo::run(&shared, ctx, &job.run_id).await }
    });
    registry.handle(move |ctx: JobContext, job: super::import::ImportPage| {
        let shared = shared.clone();
        async move { super::import::run(&shared, ctx, job).await }
    });
}

pub(super) fn store_failure(e: StoreError) -> JobError {
    match e {
        StoreError::NotFound => JobError::Permanent("the task or its integration no longer exists".into()),
        other => JobError::Retry(other.to_string()),
    }
}

async fn push(shared: &Shared, ctx: JobContext, job: PushTask) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let integration_id = job.integration_id.as_str();
    let task_id = match job.task_id {
        Some(task_id) => task_id,
        None => {
            let message_id = job.message_id.unwrap_or_default();
            let message = ctx.store.get_message(tenant, &message_id).await.map_err(store_failure)?;
            let created = message.status == crate::domain::message::MessageStatus::Created;
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
        .any(|l| l.integration_id == integration_id)
    {
        return Ok(());
    }
    let task = ctx.store.get_task(tenant, &task_id).await.map_err(store_failure)?;
    let (record, secrets) = with_secrets(shared, tenant, integration_id).await?;
    let tracker = tracker_for(shared, &record, &secrets)?;
    let created = tracker.create(&item_of(shared, &task), &marker(&task.id)).await?;
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
            kind: TRACKER_PUSH,
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
    ctx.store.link_pushed(tenant, &link, &run).await.map_err(store_failure)?;
    tracing::info!(task_id = %task.id, integration_id = %record.id, "task pushed to the tracker");
    Ok(())
}

pub(super) async fn with_secrets(
    shared: &Shared,
    tenant: &str,
    integration_id: &str,
) -> Result<(IntegrationRecord, serde_json::Map<String, serde_json::Value>), JobError> {
    shared.integrations.with_secrets(tenant, integration_id).await.map_err(|e| match e {
        IntegrationError::Store(s) => store_failure(s),
        other => JobError::Permanent(other.to_string()),
    })
}

pub(super) fn tracker_for(
    shared: &Shared,
    record: &IntegrationRecord,
    secrets: &serde_json::Map<String, serde_json::Value>,
) -> Result<Box<dyn Tracker>, JobError> {
    match record.kind {
        IntegrationType::Taiga => Ok(Box::new(Taiga::new(
            shared.http.clone(),
            &record.id,
            &record.settings,
            secrets,
            shared.sessions.clone(),
        )?)),
        IntegrationType::Jira => Ok(Box::new(Jira::new(shared.http.clone(), &record.settings, secrets)?)),
        IntegrationType::Zendesk => Ok(Box::new(Zendesk::new(shared.http.clone(), &record.settings, secrets)?)),
        other => Err(JobError::Permanent(format!("{} is not a tracker", other.as_str()))),
    }
}

/// The task as a tracker item.
fn item_of(shared: &Shared, task: &crate::domain::task::Task) -> Item {
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

/// The item a change is written to, and the task it is linked to.
struct Linked {
    task_id: String,
    integration_id: String,
    external_id: String,
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
async fn write_linked(shared: &Shared, ctx: &JobContext, write: Write, linked: &Linked) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let (task_id, integration_id, external_id) =
        (linked.task_id.as_str(), linked.integration_id.as_str(), linked.external_id.as_str());
    // The run's request is the job as queued.
    let mut request = json!({"task_id": task_id, "integration_id": integration_id, "external_id": external_id});
    if let Write::Transition(status) = write {
        request["status"] = json!(status);
    }
    let task = ctx.store.get_task(tenant, task_id).await.map_err(store_failure)?;
    let kind = match write {
        Write::Transition(_) => TRACKER_TRANSITION,
        Write::Update => TRACKER_UPDATE,
    };
    let new = NewRun { kind, project_id: &task.project_id, task_id: Some(task_id), request };
    let run = ctx.store.open_sync_run(tenant, &ctx.job.id, &new).await.map_err(store_failure)?;
    if run.status != "running" {
        return Ok(());
    }
    let outcome = async {
        let (record, secrets) = with_secrets(shared, tenant, integration_id).await?;
        let tracker = tracker_for(shared, &record, &secrets)?;
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
            tracing::info!(integration_id, external_id, kind, "tracker item changed");
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

/// An item as a run's journal keeps it.
pub(super) fn journaled(record: &IntegrationRecord, item: &super::External) -> serde_json::Value {
    json!({"tracker": record.kind.as_str(), "integration_id": record.id, "external_id": item.id,
           "external_ref": item.reference, "url": item.url, "title": item.title, "status": item.status})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracker_jobs_queue_the_payloads_their_handlers_read() {
        let transition = TransitionItem {
            task_id: "t".into(),
            integration_id: "i".into(),
            external_id: "e".into(),
            status: TaskStatus::InProgress,
        }
        .job();
        assert_eq!(transition.kind, "tracker.transition");
        let expected = json!({"task_id": "t", "integration_id": "i", "external_id": "e", "status": "in_progress"});
        assert_eq!(transition.payload, expected);
        assert!(transition.idempotency_key.starts_with("transition:t:i:"));
        let from_message = push_job("m", "i");
        assert_eq!(from_message.payload, json!({"message_id": "m", "integration_id": "i"}));
        assert_eq!(from_message.idempotency_key, "push:m:i");
        let of_task = push_task_job("t", "i");
        assert_eq!(of_task.payload, json!({"task_id": "t", "integration_id": "i"}));
        assert_eq!(of_task.idempotency_key, "push-task:t:i");
        let parsed: PushTask = serde_json::from_value(of_task.payload).expect("parses back");
        assert_eq!((parsed.task_id.as_deref(), parsed.message_id), (Some("t"), None));
    }
}
