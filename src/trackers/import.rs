//! The `tracker.import` job: a tracker's existing items become linked tasks of the project,
//! a page per run, so duplicate detection sees work tracked there before anything new is
//! created anywhere. Items made from taskbridge tasks (they carry a marker) are skipped.

use serde_json::json;

use super::push::{Shared, store_failure, tracker_for, with_secrets};
use super::{Listed, is_marker};
use crate::domain::task::{NewTask, Priority};
use crate::jobs::{JobContext, JobError, NewJob};
use crate::store::integrations::IntegrationRecord;
use crate::store::{Store, StoreError, TaskLink};

pub const IMPORT_JOB: &str = "tracker.import";

/// The job importing the page at `cursor` (the first when `None`) of run `run`.
pub fn import_job(integration_id: &str, run: &str, cursor: Option<&str>) -> NewJob {
    NewJob::new(
        IMPORT_JOB,
        format!("import:{integration_id}:{run}:{}", cursor.unwrap_or("first")),
        json!({"integration_id": integration_id, "run": run, "cursor": cursor}),
    )
}

/// Starts a backfill: `Conflict` while one is running.
pub async fn start(
    store: &Store,
    tenant_id: &str,
    integration_id: &str,
) -> Result<crate::store::ImportProgress, StoreError> {
    let progress = store.start_import(tenant_id, integration_id).await?;
    let run = progress.started_at.timestamp_micros().to_string();
    store.enqueue(tenant_id, &import_job(integration_id, &run, None)).await?;
    Ok(progress)
}

/// Imports a tracker item as a task linked to it; false when it is linked already.
pub(super) async fn import_item(
    store: &Store,
    tenant_id: &str,
    record: &IntegrationRecord,
    listed: &Listed,
) -> Result<bool, JobError> {
    let link = TaskLink {
        task_id: String::new(),
        integration_id: record.id.clone(),
        tracker: record.kind.as_str().to_string(),
        external_id: listed.item.id.clone(),
        external_ref: Some(listed.item.reference.clone()),
        url: listed.item.url.clone(),
        sync_run_id: None,
        created_at: crate::store::now(),
    };
    store.import_task(tenant_id, &task_of(&record.project_id, listed), &link).await.map_err(store_failure)
}

fn task_of(project_id: &str, listed: &Listed) -> NewTask {
    NewTask {
        project_id: project_id.to_string(),
        title: listed.item.title.chars().take(500).collect(),
        description: listed.description.clone(),
        status: listed.status,
        priority: Priority::Medium,
        assigned_to: None,
        time_estimate: None,
        time_spent: 0,
        due_date: listed.due_date,
        labels: Vec::new(),
    }
}

pub(super) async fn run(shared: &Shared, ctx: JobContext) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let p = &ctx.job.payload;
    let (Some(integration_id), Some(run)) = (p["integration_id"].as_str(), p["run"].as_str()) else {
        return Err(JobError::Permanent("payload has no integration_id or run".into()));
    };
    let cursor = p["cursor"].as_str();
    let last_attempt = ctx.job.attempts >= ctx.job.max_attempts;
    let listing = async {
        let (record, secrets) = with_secrets(shared, tenant, integration_id).await?;
        let tracker = tracker_for(shared, &record, &secrets)?;
        Ok::<_, JobError>((record, tracker.list(cursor).await?))
    }
    .await;
    let (record, listing) = match listing {
        Ok(found) => found,
        Err(e) => {
            if matches!(e, JobError::Permanent(_)) || last_attempt {
                let _ = ctx.store.record_import_page(tenant, integration_id, 0, 0, Some(Some(&e.to_string()))).await;
            }
            return Err(e);
        }
    };
    let (mut imported, mut skipped) = (0, 0);
    for listed in &listing.items {
        if listed.labels.iter().any(|l| is_marker(l)) {
            skipped += 1;
            continue;
        }
        if import_item(&ctx.store, tenant, &record, listed).await? {
            imported += 1;
        } else {
            skipped += 1;
        }
    }
    let finished = listing.next.is_none().then_some(None);
    ctx.store.record_import_page(tenant, integration_id, imported, skipped, finished).await.map_err(store_failure)?;
    if let Some(next) = listing.next.as_deref() {
        ctx.store.enqueue(tenant, &import_job(integration_id, run, Some(next))).await.map_err(store_failure)?;
    }
    tracing::info!(integration_id, imported, skipped, "tracker page imported");
    Ok(())
}
