//! Links between taskbridge tasks and the items that mirror them in connected trackers.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Result, Store, read, write};

/// A push as a finished sync run: what was asked, what came of it, the one change made.
pub struct PushRun<'a> {
    pub kind: &'a str,
    pub request: serde_json::Value,
    pub results: serde_json::Value,
    pub change: super::NewChange<'a>,
}

/// A task's counterpart in a tracker.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
pub struct TaskLink {
    pub task_id: String,
    pub integration_id: String,
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
    pub async fn link_pushed(
        &self,
        tenant_id: &str,
        project_id: &str,
        link: &TaskLink,
        run: &PushRun<'_>,
    ) -> Result<bool> {
        let now = super::now();
        let linked = write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO task_links (tenant_id, task_id, integration_id, tracker, external_id, external_ref, url,
                                         sync_run_id, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (task_id, integration_id) DO NOTHING",
            )
            .bind(tenant_id)
            .bind(&link.task_id)
            .bind(&link.integration_id)
            .bind(&link.tracker)
            .bind(&link.external_id)
            .bind(&link.external_ref)
            .bind(&link.url)
            .bind(&link.sync_run_id)
            .bind(link.created_at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 1
                && let Some(run_id) = &link.sync_run_id
            {
                sqlx::query(
                    "INSERT INTO sync_runs (id, tenant_id, project_id, kind, status, request, results, created_at,
                                            updated_at, finished_at)
                     VALUES ($1, $2, $3, $4, 'done', $5, $6, $7, $7, $7)",
                )
                .bind(run_id)
                .bind(tenant_id)
                .bind(project_id)
                .bind(run.kind)
                .bind(run.request.to_string())
                .bind(run.results.to_string())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let c = &run.change;
                sqlx::query(
                    "INSERT INTO sync_changes (run_id, step, seq, target, reference, action, before, after, created_at)
                     VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8)",
                )
                .bind(run_id)
                .bind(c.step)
                .bind(c.target)
                .bind(c.reference)
                .bind(c.action)
                .bind(c.before.as_ref().map(serde_json::Value::to_string))
                .bind(c.after.as_ref().map(serde_json::Value::to_string))
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            inserted == 1
        });
        Ok(linked)
    }

    /// Removes the task's link to an integration (its item was deleted by an undo).
    pub async fn unlink_task(&self, tenant_id: &str, task_id: &str, integration_id: &str) -> Result<()> {
        write!(self, |pool| {
            sqlx::query("DELETE FROM task_links WHERE tenant_id = $1 AND task_id = $2 AND integration_id = $3")
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
        tenant_id: &str,
        integration_id: &str,
        external_id: &str,
    ) -> Result<Option<String>> {
        Ok(read!(self, |pool| {
            sqlx::query_scalar(
                "SELECT task_id FROM task_links WHERE tenant_id = $1 AND integration_id = $2 AND external_id = $3",
            )
            .bind(tenant_id)
            .bind(integration_id)
            .bind(external_id)
            .fetch_optional(pool)
            .await?
        }))
    }

    pub async fn task_links(&self, tenant_id: &str, task_id: &str) -> Result<Vec<TaskLink>> {
        Ok(read!(self, |pool| {
            sqlx::query_as(
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
