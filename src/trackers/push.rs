//! The `tracker.push` job: a task made from a request is created in the project's connected
//! tracker and linked, exactly once however often the job runs.

use std::sync::Arc;

use serde_json::json;

use super::jira::Jira;
use super::taiga::{Sessions, Taiga};
use super::zendesk::Zendesk;
use super::{Item, Tracker, marker};
use crate::domain::integration::IntegrationType;
use crate::integrations::{IntegrationError, Integrations};
use crate::jobs::{JobContext, JobError, NewJob, Registry};
use crate::store::integrations::IntegrationRecord;
use crate::store::{FinishedRun, NewChange, NewRun, StoreError, TaskLink};

pub const PUSH_JOB: &str = "tracker.push";
pub const TRANSITION_JOB: &str = "tracker.transition";
pub const UPDATE_JOB: &str = "tracker.update";
pub const UNDO_JOB: &str = "tracker.undo";

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
    NewJob::new(
        PUSH_JOB,
        format!("push-task:{task_id}:{integration_id}"),
        json!({"task_id": task_id, "integration_id": integration_id}),
    )
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
    NewJob::new(
        PUSH_JOB,
        format!("push:{message_id}:{integration_id}"),
        json!({"message_id": message_id, "integration_id": integration_id}),
    )
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
                let mut payload = json!({"task_id": task_id, "integration_id": integration, "external_id": external});
                let key = |what: &str| format!("{what}:{task_id}:{integration}:{}", crate::domain::new_id());
                if fields {
                    jobs.push(NewJob::new(UPDATE_JOB, key("update"), payload.clone()));
                }
                if let Some(status) = status {
                    payload["status"] = json!(status.as_str());
                    jobs.push(NewJob::new(TRANSITION_JOB, key("transition"), payload));
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
        registry.register(super::poll::POLL_JOB, move |ctx: JobContext| {
            let shared = for_polls.clone();
            async move { super::poll::run(&shared, ctx, interval).await }
        });
    }
    let for_pushes = shared.clone();
    registry.register(PUSH_JOB, move |ctx: JobContext| {
        let shared = for_pushes.clone();
        async move { push(&shared, ctx).await }
    });
    let for_transitions = shared.clone();
    registry.register(TRANSITION_JOB, move |ctx: JobContext| {
        let shared = for_transitions.clone();
        async move {
            let status = ctx.job.payload["status"].as_str().and_then(crate::domain::task::TaskStatus::parse);
            let status = status.ok_or_else(|| JobError::Permanent("payload has no status".into()))?;
            write_linked(&shared, &ctx, Write::Transition(status)).await
        }
    });
    let for_updates = shared.clone();
    registry.register(UPDATE_JOB, move |ctx: JobContext| {
        let shared = for_updates.clone();
        async move { write_linked(&shared, &ctx, Write::Update).await }
    });
    let for_comments = shared.clone();
    registry.register(super::comment::COMMENT_JOB, move |ctx: JobContext| {
        let shared = for_comments.clone();
        async move { super::comment::run(&shared, ctx).await }
    });
    let for_undo = shared.clone();
    registry.register(UNDO_JOB, move |ctx: JobContext| {
        let shared = for_undo.clone();
        async move { super::undo::run(&shared, ctx).await }
    });
    registry.register(super::import::IMPORT_JOB, move |ctx: JobContext| {
        let shared = shared.clone();
        async move { super::import::run(&shared, ctx).await }
    });
}

pub(super) fn store_failure(e: StoreError) -> JobError {
    match e {
        StoreError::NotFound => JobError::Permanent("the task or its integration no longer exists".into()),
        other => JobError::Retry(other.to_string()),
    }
}

async fn push(shared: &Shared, ctx: JobContext) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let message_id = ctx.job.payload["message_id"].as_str().unwrap_or_default();
    let Some(integration_id) = ctx.job.payload["integration_id"].as_str() else {
        return Err(JobError::Permanent("payload has no integration_id".into()));
    };
    let task_id = match ctx.job.payload["task_id"].as_str() {
        Some(task_id) => task_id.to_string(),
        None => {
            let message = ctx.store.get_message(tenant, message_id).await.map_err(store_failure)?;
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
async fn write_linked(shared: &Shared, ctx: &JobContext, write: Write) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let p = &ctx.job.payload;
    let (Some(task_id), Some(integration_id), Some(external_id)) =
        (p["task_id"].as_str(), p["integration_id"].as_str(), p["external_id"].as_str())
    else {
        return Err(JobError::Permanent("payload has no task_id, integration_id or external_id".into()));
    };
    let task = ctx.store.get_task(tenant, task_id).await.map_err(store_failure)?;
    let kind = match write {
        Write::Transition(_) => TRACKER_TRANSITION,
        Write::Update => TRACKER_UPDATE,
    };
    let new = NewRun { kind, project_id: &task.project_id, task_id: Some(task_id), request: p.clone() };
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
        Err(JobError::Permanent(m)) => {
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
