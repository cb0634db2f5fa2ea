//! The `tracker.import` job: a tracker's existing items become linked tasks of the project,
//! a page per run, so duplicate detection sees work tracked there before anything new is
//! created anywhere. Items made from taskbridge tasks (they carry a marker) are skipped.

use crate::domain::id::{IntegrationId, ProjectId, TaskId, TenantId};
use crate::domain::task::{NewTask, Priority};
use crate::jobs::{JobContext, JobError, JobKind, NewJob};
use crate::store::integrations::IntegrationRecord;
use crate::store::{Store, StoreError, TaskLink};
use crate::trackers::{Listed, Trackers, is_marker, store_failure, tracker_for, with_secrets};

/// The `tracker.import` job: the page at `cursor` (the first when `None`) of backfill `run`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ImportPage {
    pub integration_id: IntegrationId,
    pub run: String,
    pub cursor: Option<String>,
}

impl JobKind for ImportPage {
    const KIND: &'static str = "tracker.import";

    fn idempotency_key(&self) -> String {
        format!("import:{}:{}:{}", self.integration_id, self.run, self.cursor.as_deref().unwrap_or("first"))
    }
}

/// The job importing the page at `cursor` (the first when `None`) of run `run`.
pub fn import_job(integration_id: &IntegrationId, run: &str, cursor: Option<&str>) -> NewJob {
    ImportPage { integration_id: integration_id.clone(), run: run.to_string(), cursor: cursor.map(str::to_string) }
        .job()
}

/// Starts a backfill: `Conflict` while one is running.
pub async fn start(
    store: &Store,
    tenant_id: &TenantId,
    integration_id: &IntegrationId,
) -> Result<crate::store::ImportProgress, StoreError> {
    let progress = store.start_import(tenant_id, integration_id).await?;
    let run = progress.started_at.timestamp_micros().to_string();
    store.enqueue(tenant_id, &import_job(integration_id, &run, None)).await?;
    Ok(progress)
}

/// Imports a tracker item as a task linked to it; false when it is linked already.
pub(super) async fn import_item(
    store: &Store,
    tenant_id: &TenantId,
    record: &IntegrationRecord,
    listed: &Listed,
) -> Result<bool, JobError> {
    let link = TaskLink {
        task_id: TaskId::default(),
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

fn task_of(project_id: &ProjectId, listed: &Listed) -> NewTask {
    NewTask {
        project_id: project_id.clone(),
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

pub(super) async fn run(shared: &Trackers, ctx: JobContext, job: ImportPage) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let (integration_id, run, cursor) = (&job.integration_id, job.run.as_str(), job.cursor.as_deref());
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
            if e.is_permanent() || last_attempt {
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
    tracing::info!(%integration_id, imported, skipped, "tracker page imported");
    Ok(())
}
