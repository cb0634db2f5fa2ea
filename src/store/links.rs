//! Links between taskbridge tasks and the items that mirror them in connected trackers.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Result, Store, read, write};

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
    pub created_at: DateTime<Utc>,
}

impl Store {
    /// Records a link; an existing link of the task to that integration is kept.
    pub async fn link_task(&self, tenant_id: &str, link: &TaskLink) -> Result<()> {
        write!(self, |pool| {
            sqlx::query(
                "INSERT INTO task_links (tenant_id, task_id, integration_id, tracker, external_id, external_ref, url,
                                         created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (task_id, integration_id) DO NOTHING",
            )
            .bind(tenant_id)
            .bind(&link.task_id)
            .bind(&link.integration_id)
            .bind(&link.tracker)
            .bind(&link.external_id)
            .bind(&link.external_ref)
            .bind(&link.url)
            .bind(link.created_at)
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
                "SELECT task_id, integration_id, tracker, external_id, external_ref, url, created_at
                 FROM task_links WHERE tenant_id = $1 AND task_id = $2 ORDER BY created_at, integration_id",
            )
            .bind(tenant_id)
            .bind(task_id)
            .fetch_all(pool)
            .await?
        }))
    }
}
