//! Undoing a journaled push: the item made in the tracker is deleted and the task's link
//! to it removed, as an `undo` sync run with its own journal, so it is explained the same
//! way and harmless when it runs again.

use serde_json::{Value, json};

use super::push::{Shared, UNDO_PUSH_JOB, store_failure, tracker_for, with_secrets};
use crate::jobs::{JobContext, JobError, NewJob};
use crate::store::{NewChange, Store, StoreError, SyncRun};

/// Starts undoing push run `of` (a finished, not yet undone `tracker-push` run).
pub async fn start(store: &Store, tenant_id: &str, of: &SyncRun) -> Result<SyncRun, StoreError> {
    let request = json!({"of": of.id});
    store
        .create_sync_run(tenant_id, &of.project_id, crate::sync::UNDO, &request, |id| {
            NewJob::new(UNDO_PUSH_JOB, format!("sync:{id}"), json!({"run_id": id}))
        })
        .await
}

pub(super) async fn run(shared: &Shared, ctx: JobContext) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let Some(run_id) = ctx.job.payload["run_id"].as_str() else {
        return Err(JobError::Permanent("payload has no run_id".into()));
    };
    let undo = ctx.store.sync_run(tenant, run_id).await.map_err(store_failure)?;
    let Some(undo) = undo.filter(|r| r.status == "running") else { return Ok(()) };
    match delete_item(shared, &ctx, &undo).await {
        Ok(results) => {
            ctx.store.finish_sync_run(tenant, run_id, Ok(&results)).await.map_err(store_failure)?;
            if let Some(of) = undo.request["of"].as_str() {
                ctx.store.mark_sync_undone(tenant, of, run_id).await.map_err(store_failure)?;
            }
            Ok(())
        }
        Err(JobError::Permanent(m)) => {
            ctx.store.finish_sync_run(tenant, run_id, Err(&m)).await.map_err(store_failure)?;
            Err(JobError::Permanent(m))
        }
        Err(retry) => Err(retry),
    }
}

/// Deletes the pushed item (once: the step is journaled) and unlinks the task.
async fn delete_item(shared: &Shared, ctx: &JobContext, undo: &SyncRun) -> Result<Value, JobError> {
    let tenant = &ctx.job.tenant_id;
    let of = undo.request["of"].as_str().unwrap_or_default();
    let pushed = ctx.store.sync_run(tenant, of).await.map_err(store_failure)?;
    let pushed = pushed.ok_or_else(|| JobError::Permanent(format!("sync run {of} does not exist")))?;
    let created = ctx.store.sync_change(of, "create").await.map_err(store_failure)?;
    let item = created.and_then(|c| c.after).ok_or_else(|| JobError::Permanent(format!("run {of} created nothing")))?;
    let (Some(task_id), Some(integration_id), Some(external_id)) =
        (pushed.request["task_id"].as_str(), item["integration_id"].as_str(), item["external_id"].as_str())
    else {
        return Err(JobError::Permanent(format!("run {of} does not name the item it created")));
    };
    if ctx.store.sync_change(&undo.id, "delete").await.map_err(store_failure)?.is_none() {
        let (record, secrets) = with_secrets(shared, tenant, integration_id).await?;
        tracker_for(shared, &record, &secrets)?.delete(external_id).await?;
        let change = NewChange {
            step: "delete",
            target: item["tracker"].as_str().unwrap_or_default(),
            reference: item["external_ref"].as_str().unwrap_or(external_id),
            action: "deleted",
            before: Some(item.clone()),
            after: None,
        };
        ctx.store.record_sync_change(&undo.id, &change).await.map_err(store_failure)?;
    }
    ctx.store.unlink_task(tenant, task_id, integration_id).await.map_err(store_failure)?;
    tracing::info!(task_id, integration_id, external_id, "pushed item deleted by an undo");
    Ok(json!([{"task_id": task_id, "status": "deleted", "item": item}]))
}
