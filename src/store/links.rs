//! Links between taskbridge tasks and the items that mirror them in connected trackers.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::id::{IntegrationId, TaskId, TenantId};
use crate::domain::job::NewJob;
use crate::domain::task::Task;

use super::sync_runs::{FinishedRun, insert_change, insert_run};
use super::{Result, Store, read, write};

/// Inserts `link` for task `task_id`, unless the task is linked to that integration
/// already; answers the rows written.
macro_rules! insert_link {
    ($executor:expr, $tenant_id:expr, $task_id:expr, $link:expr) => {{
        let link: &crate::store::TaskLink = $link;
        crate::store::query(
            "INSERT INTO task_links (tenant_id, task_id, integration_id, tracker, external_id, external_ref, url,
                                     sync_run_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (task_id, integration_id) DO NOTHING",
        )
        .bind($tenant_id)
        .bind($task_id)
        .bind(&link.integration_id)
        .bind(&link.tracker)
        .bind(&link.external_id)
        .bind(&link.external_ref)
        .bind(&link.url)
        .bind(&link.sync_run_id)
        .bind(link.created_at)
        .execute($executor)
        .await?
        .rows_affected()
    }};
}
pub(crate) use insert_link;

/// Enqueues `job` when task `task_id` is linked to a tracker item (a change to write there).
macro_rules! enqueue_if_linked {
    ($tx:expr, $tenant_id:expr, $task_id:expr, $job:expr, $now:expr) => {{
        let linked: Option<i32> =
            crate::store::query_scalar("SELECT 1 FROM task_links WHERE tenant_id = $1 AND task_id = $2 LIMIT 1")
                .bind($tenant_id)
                .bind($task_id)
                .fetch_optional(&mut *$tx)
                .await?;
        if linked.is_some() {
            let _ = crate::store::jobs::enqueue_job!(&mut *$tx, $tenant_id, $job, $now);
        }
    }};
}
pub(crate) use enqueue_if_linked;

/// A task's counterpart in a tracker.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
pub struct TaskLink {
    #[schema(value_type = String)]
    pub task_id: TaskId,
    #[schema(value_type = String)]
    pub integration_id: IntegrationId,
    /// `taiga`, `jira`…
    pub tracker: String,
    /// The tracker's id of the item.
    pub external_id: String,
    /// The reference people use (`#42`, `PROJ-7`).
    pub external_ref: Option<String>,
    pub url: Option<String>,
    /// The sync run that journaled the push (`GET /api/v1/sync-runs/{id}`, undoable); none
    /// for items imported from the tracker.
    pub sync_run_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Store {
    /// Records a pushed item's link and the finished run journaling the push (`run`: its
    /// id, request, results and change), in one transaction; an existing link of the task
    /// to that integration is kept, and then nothing is journaled.
    /// Records the item a push made for the task, with the push's journal. `made_from` is
    /// the `updated_at` of the task the item was made from (`None` when unknown: an earlier
    /// attempt may have made it). When the task changed since (an edit while the item was
    /// being made found no link to queue its change for), the jobs `catch_up` makes from the
    /// task as it is now are queued in the same transaction. The task's row is locked first,
    /// so an edit either commits before (and is caught up here) or finds the link and queues
    /// its own change.
    pub async fn link_pushed(
        &self,
        tenant_id: &TenantId,
        link: &TaskLink,
        run: &FinishedRun<'_>,
        made_from: Option<DateTime<Utc>>,
        catch_up: impl FnOnce(&Task) -> Vec<NewJob>,
    ) -> Result<bool> {
        let now = super::now();
        let lock = match self.backend() {
            super::Backend::Postgres | super::Backend::Mysql => " FOR UPDATE",
            super::Backend::Sqlite => "",
        };
        let linked = write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let current = super::tasks::task_in_tx!(tx, tenant_id, &link.task_id, lock);
            let inserted = insert_link!(&mut *tx, tenant_id, &link.task_id, link);
            if inserted == 1
                && let Some(run_id) = &link.sync_run_id
            {
                insert_run!(
                    &mut *tx,
                    run_id,
                    tenant_id,
                    &run.run,
                    crate::domain::sync_run::SyncRunStatus::Done,
                    Some(&run.results),
                    now
                );
                insert_change!(&mut *tx, run_id, &run.change, now);
            }
            if inserted == 1
                && let Some(current) = current.filter(|c| made_from != Some(c.updated_at))
            {
                for job in catch_up(&current) {
                    let _ = super::jobs::enqueue_job!(&mut *tx, tenant_id, &job, now);
                }
            }
            tx.commit().await?;
            inserted == 1
        });
        Ok(linked)
    }

    /// Removes the task's link to an integration (its item was deleted by an undo).
    pub async fn unlink_task(
        &self,
        tenant_id: &TenantId,
        task_id: &TaskId,
        integration_id: &IntegrationId,
    ) -> Result<()> {
        write!(self, |pool| {
            crate::store::query("DELETE FROM task_links WHERE tenant_id = $1 AND task_id = $2 AND integration_id = $3")
                .bind(tenant_id)
                .bind(task_id)
                .bind(integration_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The task linked to a tracker item.
    pub async fn linked_task(
        &self,
        tenant_id: &TenantId,
        integration_id: &IntegrationId,
        external_id: &str,
    ) -> Result<Option<TaskId>> {
        Ok(read!(self, |pool| {
            crate::store::query_scalar(
                "SELECT task_id FROM task_links WHERE tenant_id = $1 AND integration_id = $2 AND external_id = $3",
            )
            .bind(tenant_id)
            .bind(integration_id)
            .bind(external_id)
            .fetch_optional(pool)
            .await?
        }))
    }

    pub async fn task_links(&self, tenant_id: &TenantId, task_id: &TaskId) -> Result<Vec<TaskLink>> {
        Ok(read!(self, |pool| {
            crate::store::query_as(
                "SELECT task_id, integration_id, tracker, external_id, external_ref, url, sync_run_id, created_at
                 FROM task_links WHERE tenant_id = $1 AND task_id = $2 ORDER BY created_at, integration_id",
            )
            .bind(tenant_id)
            .bind(task_id)
            .fetch_all(pool)
            .await?
        }))
    }
}
