//! The `tracker.comment` job: a comment made here (by a person, or a duplicate request's
//! "also requested by …") is written to every tracker item linked to its task, once each
//! however often the job runs, as one `tracker-comment` run (the job's id is the run's)
//! with a journaled step per item, so it can be explained and undone.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::domain::id::{TaskId, TenantId};
use crate::domain::sync_run::{SyncRunKind, SyncRunStatus};
use crate::jobs::{JobContext, JobError, JobKind, NewJob, Registry};
use crate::store::{NewChange, NewRun};
use crate::trackers::{Trackers, store_failure, tracker_for, with_secrets};

/// The `tracker.comment` job: comment `comment_id` of task `task_id` to its tracker items.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CommentItems {
    pub task_id: TaskId,
    pub comment_id: String,
}

impl JobKind for CommentItems {
    const KIND: &'static str = "tracker.comment";

    fn idempotency_key(&self) -> String {
        format!("comment:{}", self.comment_id)
    }
}

/// The job writing comment `comment_id` of task `task_id` to its tracker items.
pub fn comment_job(task_id: &TaskId, comment_id: &str) -> NewJob {
    CommentItems { task_id: task_id.clone(), comment_id: comment_id.to_string() }.job()
}

/// Adds a comment here: queued for the task's tracker items in the same transaction, and
/// announced to the project's webhooks once committed.
pub async fn add_comment(
    store: &crate::store::Store,
    tenant_id: &TenantId,
    new: &crate::domain::comment::NewComment,
) -> Result<crate::domain::comment::Comment, crate::store::StoreError> {
    add_comment_as(store, tenant_id, None, new).await
}

/// [`add_comment`] with the id the comment takes (a new one when `None`; a taken id fails):
/// a caller that may run twice names it and looks for it first.
pub async fn add_comment_as(
    store: &crate::store::Store,
    tenant_id: &TenantId,
    id: Option<&str>,
    new: &crate::domain::comment::NewComment,
) -> Result<crate::domain::comment::Comment, crate::store::StoreError> {
    let id = id.map_or_else(crate::domain::new_id, str::to_string);
    let sync = comment_job(&new.task_id, &id);
    store.create_comment(tenant_id, &id, new, &sync).await
}

/// The marker a comment carries in trackers, by which a retry finds it.
fn marker(comment_id: &str) -> String {
    format!("tb-c-{}", comment_id.to_ascii_lowercase())
}

/// The comment as written in a tracker: its text, who said it, and the marker.
fn text(comment: &crate::domain::comment::Comment) -> String {
    let who = comment.author.as_deref().unwrap_or("someone");
    format!("{}\n\n— {who}, in taskbridge ({})", comment.content, marker(&comment.id))
}

pub(super) fn register(registry: &mut Registry, trackers: &Arc<Trackers>) {
    let trackers = trackers.clone();
    registry.handle(move |ctx: JobContext, job: CommentItems| {
        let shared = trackers.clone();
        async move { run(&shared, ctx, job).await }
    });
}

async fn run(shared: &Trackers, ctx: JobContext, job: CommentItems) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let (task_id, comment_id) = (&job.task_id, job.comment_id.as_str());
    let comment = ctx.store.get_comment(tenant, comment_id).await.map_err(store_failure)?;
    let task = ctx.store.get_task(tenant, task_id).await.map_err(store_failure)?;
    let new = NewRun {
        kind: SyncRunKind::TrackerComment,
        project_id: &task.project_id,
        task_id: Some(task_id),
        request: ctx.job.payload.clone(),
    };
    let run = ctx.store.open_sync_run(tenant, &ctx.job.id, &new).await.map_err(store_failure)?;
    if run.status != SyncRunStatus::Running {
        return Ok(());
    }
    let body = text(&comment);
    let mut results = Vec::new();
    for link in ctx.store.task_links(tenant, task_id).await.map_err(store_failure)? {
        let step = format!("comment:{}", link.integration_id);
        if ctx.store.sync_change(&run.id, &step).await.map_err(store_failure)?.is_none() {
            let written = async {
                let (record, secrets) = with_secrets(shared, tenant, &link.integration_id).await?;
                let tracker = tracker_for(shared, &record, &secrets)?;
                let _turn = shared.slot(&record).await;
                tracker.comment(&link.external_id, &body, &marker(comment_id)).await
            };
            let reference = link.external_ref.as_deref().unwrap_or(&link.external_id);
            let item = json!({"tracker": link.tracker, "integration_id": link.integration_id,
                              "external_id": link.external_id, "external_ref": reference});
            let (action, after) = match written.await {
                Ok(id) => ("commented", json!({"item": item, "comment_id": id, "text": body})),
                // One tracker refusing does not keep the comment from the others.
                Err(JobError::Permanent(m) | JobError::Gone(m)) => ("failed", json!({"item": item, "error": m})),
                Err(retry) => return Err(retry),
            };
            let change =
                NewChange { step: &step, target: &link.tracker, reference, action, before: None, after: Some(after) };
            ctx.store.record_sync_change(&run.id, &change).await.map_err(store_failure)?;
        }
        if let Some(done) = ctx.store.sync_change(&run.id, &step).await.map_err(store_failure)? {
            let after = done.after.unwrap_or(Value::Null);
            results.push(json!({"task_id": task_id, "status": done.action, "item": after["item"],
                                "comment_id": after["comment_id"], "error": after["error"]}));
        }
    }
    ctx.store.finish_sync_run(tenant, &run.id, Ok(&Value::Array(results))).await.map_err(store_failure)?;
    tracing::info!(%task_id, comment_id, "comment written to the task's tracker items");
    Ok(())
}
