//! The task service: creating, updating, deleting and commenting on tasks, and deciding
//! who hears of each change: the project's trackers (through queued jobs written in the
//! same transaction as the change) and its outgoing webhooks (announced likewise). HTTP
//! handlers, intake, the coordinator's actions and tracker polling and webhooks all change
//! tasks through here; tracker adapters only talk to their tracker. A change that came from
//! a tracker is mirrored by one rule ([`mirror`]), however it was heard of.

pub mod comment;
pub mod mirror;
pub mod push;

use std::sync::Arc;

use crate::domain::id::{IntegrationId, ProjectId, TaskId, TenantId};
use crate::domain::integration::{IntegrationStatus, IntegrationType};
use crate::domain::task::{NewTask, Task, TaskPatch};
use crate::jobs::{JobKind, NewJob, Registry};
use crate::store::integrations::IntegrationRecord;
use crate::store::{Store, StoreError, Updated};
use crate::trackers::jira::JiraSettings;
use crate::trackers::{Trackers, is_tracker};

pub use comment::{CommentItems, add_comment, add_comment_as, comment_job};
pub use push::{LinkedItem, PushTask, TransitionItem, UpdateItem};

/// Registers the jobs that write tasks and comments to trackers.
pub fn register(registry: &mut Registry, trackers: &Arc<Trackers>) {
    push::register(registry, trackers);
    comment::register(registry, trackers);
}

/// The job pushing task `task_id` to `integration_id`.
pub fn push_task_job(task_id: &TaskId, integration_id: &IntegrationId) -> NewJob {
    PushTask { message_id: None, task_id: Some(task_id.clone()), integration_id: integration_id.clone() }.job()
}

/// The project's active tracker integrations, which its new tasks are pushed to.
pub async fn tracker_integrations(
    store: &Store,
    tenant_id: &TenantId,
    project_id: &ProjectId,
) -> Result<Vec<IntegrationId>, StoreError> {
    Ok(pushes_to(&store.list_integrations(tenant_id, project_id).await?))
}

/// Of a project's integrations, the trackers its new tasks are pushed to.
fn pushes_to(integrations: &[IntegrationRecord]) -> Vec<IntegrationId> {
    integrations
        .iter()
        .filter(|i| is_tracker(i.kind) && i.status == IntegrationStatus::Active)
        // A Jira connected through OAuth pushes once an admin has chosen its project.
        .filter(|i| i.kind != IntegrationType::Jira || JiraSettings::read(&i.settings).project_key.is_some())
        .map(|i| i.id.clone())
        .collect()
}

/// Creates a task here and queues its push to the project's trackers, in one transaction.
pub async fn create_task(store: &Store, tenant_id: &TenantId, new: &NewTask) -> Result<Task, StoreError> {
    create_task_as(store, tenant_id, None, new).await
}

/// [`create_task`] with the id the task takes (a new one when `None`; a taken id fails): a
/// caller that may run twice names it and looks for it first, so it never makes a copy.
pub async fn create_task_as(
    store: &Store,
    tenant_id: &TenantId,
    id: Option<&TaskId>,
    new: &NewTask,
) -> Result<Task, StoreError> {
    let id = id.cloned().unwrap_or_else(TaskId::generate);
    let pushes = new_task_pushes(store, tenant_id, &new.project_id, &id).await?;
    store.create_task_syncing(tenant_id, &id, new, &pushes).await
}

/// The jobs pushing new task `task_id` of `project_id` to the project's trackers, written in
/// the transaction that makes the task (here, or in a triage decision).
pub async fn new_task_pushes(
    store: &Store,
    tenant_id: &TenantId,
    project_id: &ProjectId,
    task_id: &TaskId,
) -> Result<Vec<NewJob>, StoreError> {
    Ok(tracker_integrations(store, tenant_id, project_id).await?.iter().map(|i| push_task_job(task_id, i)).collect())
}

/// Creates a task and a team linked to it (the replaced Teams→Taiga service's records), and
/// queues the task's push to the project's trackers, in one transaction.
pub async fn create_task_with_team(
    store: &Store,
    tenant_id: &TenantId,
    new: &NewTask,
    team: &crate::domain::team::NewTeam,
) -> Result<(Task, crate::domain::team::Team), StoreError> {
    let task_id = TaskId::generate();
    let pushes: Vec<NewJob> = tracker_integrations(store, tenant_id, &new.project_id)
        .await?
        .iter()
        .map(|integration| push_task_job(&task_id, integration))
        .collect();
    store.create_task_with_team(tenant_id, &task_id, new, team, &pushes).await
}

/// Deletes a task here (its tracker items stay); the store announces it to the project's
/// webhooks.
pub async fn delete_task(store: &Store, tenant_id: &TenantId, task_id: &TaskId) -> Result<(), StoreError> {
    store.delete_task(tenant_id, task_id).await
}

/// The job pushing the task that message `message_id` creates to `integration_id`.
pub fn push_job(message_id: &str, integration_id: &IntegrationId) -> NewJob {
    PushTask { message_id: Some(message_id.to_string()), task_id: None, integration_id: integration_id.clone() }.job()
}

/// Updates a task here and queues, for each tracker item linked to it except in the
/// tracker the change came from (`from`), the status change and the change of its other
/// fields, in the same transaction.
pub async fn update_task(
    store: &Store,
    tenant_id: &TenantId,
    task_id: &TaskId,
    patch: &TaskPatch,
    from: Option<&IntegrationId>,
) -> Result<Task, StoreError> {
    let status = patch.status;
    let fields = patch.title.is_some()
        || patch.description.is_some()
        || patch.priority.is_some()
        || patch.assigned_to.is_some()
        || patch.due_date.is_some()
        || patch.labels.is_some();
    // The jobs are made for the links read here; the store writes them only if those are
    // still the task's links when it applies the change (a push may link one meanwhile).
    loop {
        let links: Vec<(IntegrationId, String)> = store
            .task_links(tenant_id, task_id)
            .await?
            .into_iter()
            .map(|l| (l.integration_id, l.external_id))
            .collect();
        let mut jobs = Vec::new();
        for (integration, external) in links.iter().filter(|(integration, _)| Some(integration) != from) {
            let item = LinkedItem {
                task_id: task_id.clone(),
                integration_id: integration.clone(),
                external_id: external.clone(),
            };
            if fields {
                jobs.push(UpdateItem { item: item.clone() }.job());
            }
            if let Some(status) = status {
                jobs.push(TransitionItem { item, status }.job());
            }
        }
        match store.update_task_syncing(tenant_id, task_id, patch, &links, &jobs).await? {
            Updated::Task(task) => return Ok(task),
            Updated::LinksChanged => continue,
        }
    }
}
