//! Backfills of trackers' existing items: each item becomes a linked task once, and the
//! progress is kept for `GET …/import`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::links::{TaskLink, insert_link};
use super::tasks::{add_labels, insert_task};
use super::{Result, Store, StoreError, read, write};
use crate::domain::id::{IntegrationId, TenantId};
use crate::domain::new_id;
use crate::domain::task::NewTask;

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct ImportProgress {
    #[schema(value_type = String)]
    pub integration_id: IntegrationId,
    /// `running`, `done` or `failed`.
    pub status: String,
    /// Items that became tasks.
    pub imported: i64,
    /// Items already linked (pushed from here, or imported before).
    pub skipped: i64,
    pub pages: i64,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "integration_id, status, imported, skipped, pages, error, started_at, updated_at, finished_at";

impl Store {
    /// Starts (or restarts) the import of an integration; `Conflict` while one runs.
    pub async fn start_import(&self, tenant_id: &TenantId, integration_id: &IntegrationId) -> Result<ImportProgress> {
        let now = super::now();
        let started = write!(self, |pool| {
            crate::store::query(
                "INSERT INTO tracker_imports (integration_id, tenant_id, status, imported, skipped, pages, started_at, updated_at)
                 VALUES ($1, $2, 'running', 0, 0, 0, $3, $3)
                 ON CONFLICT (integration_id) DO UPDATE SET status = 'running', imported = 0, skipped = 0, pages = 0,
                     error = NULL, started_at = $3, updated_at = $3, finished_at = NULL
                 WHERE tracker_imports.status <> 'running'",
            )
            .bind(integration_id)
            .bind(tenant_id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if started == 0 {
            return Err(StoreError::Conflict("an import of this integration is already running".into()));
        }
        self.import_progress(tenant_id, integration_id).await?.ok_or(StoreError::NotFound)
    }

    pub async fn import_progress(
        &self,
        tenant_id: &TenantId,
        integration_id: &IntegrationId,
    ) -> Result<Option<ImportProgress>> {
        let sql = format!("SELECT {COLUMNS} FROM tracker_imports WHERE tenant_id = $1 AND integration_id = $2");
        Ok(read!(self, |pool| crate::store::query_as(&sql)
            .bind(tenant_id)
            .bind(integration_id)
            .fetch_optional(pool)
            .await?))
    }

    /// Adds a page's counts; `finished` with or without an error ends the run.
    pub async fn record_import_page(
        &self,
        tenant_id: &TenantId,
        integration_id: &IntegrationId,
        imported: i64,
        skipped: i64,
        finished: Option<Option<&str>>,
    ) -> Result<()> {
        let now = super::now();
        let (status, error, finished_at) = match finished {
            None => ("running", None, None),
            Some(None) => ("done", None, Some(now)),
            Some(Some(e)) => ("failed", Some(e.chars().take(2000).collect::<String>()), Some(now)),
        };
        write!(self, |pool| {
            crate::store::query(
                "UPDATE tracker_imports SET imported = imported + $1, skipped = skipped + $2, pages = pages + 1,
                     status = $3, error = $4, updated_at = $5, finished_at = $6
                 WHERE tenant_id = $7 AND integration_id = $8",
            )
            .bind(imported)
            .bind(skipped)
            .bind(status)
            .bind(&error)
            .bind(now)
            .bind(finished_at)
            .bind(tenant_id)
            .bind(integration_id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Creates the task for a tracker item and links it, in one transaction; false (and
    /// nothing written) when the item is already linked to a task.
    pub async fn import_task(&self, tenant_id: &TenantId, new: &NewTask, link: &TaskLink) -> Result<bool> {
        let now = super::now();
        let id = new_id();
        let created = write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let linked: Option<String> = crate::store::query_scalar(
                "SELECT task_id FROM task_links WHERE integration_id = $1 AND external_id = $2",
            )
            .bind(&link.integration_id)
            .bind(&link.external_id)
            .fetch_optional(&mut *tx)
            .await?;
            if linked.is_some() {
                false
            } else {
                insert_task!(tx, tenant_id, &id, new, now);
                insert_link!(&mut *tx, tenant_id, &id, link);
                tx.commit().await?;
                true
            }
        });
        Ok(created)
    }
}
