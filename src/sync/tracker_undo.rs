//! Undoing a journaled tracker run, as an `undo` sync run with its own journal, so it is
//! explained the same way and harmless when it runs again: a push's item is deleted and the
//! task's link to it removed; a transition's item is put back in the status it had, an
//! update's in the fields it had; a comment is taken back from every item it went to. The
//! task here keeps what it was given (the change was
//! made here); polling mirrors the item.

use serde_json::{Value, json};

use crate::domain::id::{IntegrationId, TaskId, TenantId};
use crate::domain::sync_run::{SyncRunKind, SyncRunStatus};
use crate::jobs::{JobContext, JobError, JobKind};
use crate::store::{NewChange, NewRun, Store, StoreError, SyncRun};
use crate::trackers::{Trackers, journaled, store_failure, tracker_for, with_secrets};

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

/// Starts undoing tracker run `of` (a finished, not yet undone push or transition).
pub async fn start(store: &Store, tenant_id: &TenantId, of: &SyncRun) -> Result<SyncRun, StoreError> {
    let run = NewRun {
        kind: SyncRunKind::Undo,
        project_id: &of.project_id,
        task_id: of.task_id.as_ref(),
        request: json!({"of": of.id}),
    };
    let id = crate::domain::new_id();
    store.create_sync_run(tenant_id, &id, &run, &UndoTrackerRun { run_id: id.clone() }.job()).await
}

pub(super) async fn run(shared: &Trackers, ctx: JobContext, run_id: &str) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let undo = ctx.store.sync_run(tenant, run_id).await.map_err(store_failure)?;
    let Some(undo) = undo.filter(|r| r.status == SyncRunStatus::Running) else { return Ok(()) };
    let of = undo.request["of"].as_str().unwrap_or_default();
    let outcome = async {
        let original = ctx.store.sync_run(tenant, of).await.map_err(store_failure)?;
        let original = original.ok_or_else(|| JobError::Permanent(format!("sync run {of} does not exist")))?;
        match original.kind {
            SyncRunKind::TrackerPush => delete_item(shared, &ctx, &undo, &original).await,
            SyncRunKind::TrackerTransition => put_back(shared, &ctx, &undo, &original, "transition").await,
            SyncRunKind::TrackerUpdate => put_back(shared, &ctx, &undo, &original, "update").await,
            SyncRunKind::TrackerComment => take_back_comments(shared, &ctx, &undo, &original).await,
            other => Err(JobError::Permanent(format!("a {} run is not undone here", other.as_str()))),
        }
    };
    match outcome.await {
        Ok(results) => {
            // Marked before the run ends: whoever sees the undo finished also sees it stand
            // for the run (asked again, the same undo answers).
            ctx.store.mark_sync_undone(tenant, of, run_id).await.map_err(store_failure)?;
            ctx.store.finish_sync_run(tenant, run_id, Ok(&results)).await.map_err(store_failure)?;
            Ok(())
        }
        Err(JobError::Permanent(m) | JobError::Gone(m)) => {
            ctx.store.finish_sync_run(tenant, run_id, Err(&m)).await.map_err(store_failure)?;
            Err(JobError::Permanent(m))
        }
        Err(retry) => Err(retry),
    }
}

/// The item a run's step journaled (after the change), with the ids undo needs.
async fn journaled_item(
    ctx: &JobContext,
    run: &SyncRun,
    step: &str,
) -> Result<(Value, IntegrationId, String), JobError> {
    let change = ctx.store.sync_change(&run.id, step).await.map_err(store_failure)?;
    let item =
        change.and_then(|c| c.after).ok_or_else(|| JobError::Permanent(format!("run {} did no {step}", run.id)))?;
    match (item["integration_id"].as_str(), item["external_id"].as_str()) {
        (Some(integration), Some(external)) => {
            let ids = (IntegrationId::from(integration), external.to_string());
            Ok((item, ids.0, ids.1))
        }
        _ => Err(JobError::Permanent(format!("run {} does not name the item it changed", run.id))),
    }
}

/// Deletes the pushed item (once: the step is journaled) and unlinks the task.
async fn delete_item(shared: &Trackers, ctx: &JobContext, undo: &SyncRun, pushed: &SyncRun) -> Result<Value, JobError> {
    let tenant = &ctx.job.tenant_id;
    let (item, integration_id, external_id) = journaled_item(ctx, pushed, "create").await?;
    let Some(task_id) = pushed.request["task_id"].as_str() else {
        return Err(JobError::Permanent(format!("run {} does not name its task", pushed.id)));
    };
    if ctx.store.sync_change(&undo.id, "delete").await.map_err(store_failure)?.is_none() {
        let (record, secrets) = with_secrets(shared, tenant, &integration_id).await?;
        tracker_for(shared, &record, &secrets)?.delete(&external_id).await?;
        let change = NewChange {
            step: "delete",
            target: item["tracker"].as_str().unwrap_or_default(),
            reference: item["external_ref"].as_str().unwrap_or(&external_id),
            action: "deleted",
            before: Some(item.clone()),
            after: None,
        };
        ctx.store.record_sync_change(&undo.id, &change).await.map_err(store_failure)?;
    }
    ctx.store.unlink_task(tenant, &TaskId::from(task_id), &integration_id).await.map_err(store_failure)?;
    tracing::info!(task_id, %integration_id, external_id, "pushed item deleted by an undo");
    Ok(json!([{"task_id": task_id, "status": "deleted", "item": item}]))
}

/// Puts the item back as the run's `step` found it: in its status (a transition) or with
/// its fields (an update). A repeat writes the same again, which is harmless.
async fn put_back(
    shared: &Trackers,
    ctx: &JobContext,
    undo: &SyncRun,
    changed: &SyncRun,
    step: &str,
) -> Result<Value, JobError> {
    let tenant = &ctx.job.tenant_id;
    let (item, integration_id, external_id) = journaled_item(ctx, changed, step).await?;
    let before = ctx.store.sync_change(&changed.id, step).await.map_err(store_failure)?.and_then(|c| c.before);
    let before = before.unwrap_or_default();
    let unjournaled = || JobError::Permanent(format!("run {} did not journal what it changed", changed.id));
    let (record, secrets) = with_secrets(shared, tenant, &integration_id).await?;
    let tracker = tracker_for(shared, &record, &secrets)?;
    let restored = if step == "transition" {
        let status = before["status"].as_str().filter(|s| !s.is_empty()).ok_or_else(unjournaled)?;
        journaled(&record, &tracker.restore(&external_id, status).await?)
    } else {
        let fields = Some(before["fields"].clone()).filter(Value::is_object).ok_or_else(unjournaled)?;
        let mut restored = journaled(&record, &tracker.set_fields(&external_id, &fields).await?);
        restored["fields"] = fields;
        restored
    };
    let change = NewChange {
        step: "restore",
        target: record.kind.as_str(),
        reference: item["external_ref"].as_str().unwrap_or(&external_id),
        action: "restored",
        before: Some(item.clone()),
        after: Some(restored.clone()),
    };
    ctx.store.record_sync_change(&undo.id, &change).await.map_err(store_failure)?;
    tracing::info!(%integration_id, external_id, step, "tracker item put back by an undo");
    Ok(json!([{"task_id": changed.task_id, "status": "restored", "item": restored}]))
}

/// Takes the comment back from each item it was written to, each once.
async fn take_back_comments(
    shared: &Trackers,
    ctx: &JobContext,
    undo: &SyncRun,
    commented: &SyncRun,
) -> Result<Value, JobError> {
    let tenant = &ctx.job.tenant_id;
    let mut results = Vec::new();
    for change in ctx.store.sync_changes(&commented.id).await.map_err(store_failure)? {
        let after = change.after.clone().unwrap_or_default();
        let (Some(integration_id), Some(external_id), Some(comment_id)) = (
            after["item"]["integration_id"].as_str(),
            after["item"]["external_id"].as_str(),
            after["comment_id"].as_str(),
        ) else {
            continue; // a tracker that refused the comment has nothing to take back
        };
        let step = format!("uncomment:{integration_id}");
        if ctx.store.sync_change(&undo.id, &step).await.map_err(store_failure)?.is_none() {
            let (record, secrets) = with_secrets(shared, tenant, &IntegrationId::from(integration_id)).await?;
            let text = after["text"].as_str().unwrap_or_default();
            tracker_for(shared, &record, &secrets)?.uncomment(external_id, comment_id, text).await?;
            let taken_back = NewChange {
                step: &step,
                target: &change.target,
                reference: &change.reference,
                action: "uncommented",
                before: Some(after.clone()),
                after: None,
            };
            ctx.store.record_sync_change(&undo.id, &taken_back).await.map_err(store_failure)?;
        }
        results.push(json!({"task_id": commented.task_id, "status": "uncommented", "item": after["item"],
                            "comment_id": comment_id}));
    }
    tracing::info!(run_id = %commented.id, items = results.len(), "comment taken back by an undo");
    Ok(Value::Array(results))
}
