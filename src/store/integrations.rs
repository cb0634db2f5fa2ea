//! Integration records. The store keeps what it is given: secrets arrive sealed and leave
//! sealed; only the integrations module opens them.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::heard_cache::tell;
use super::integration_cache::CHANNEL as CHANGED;
use super::{Result, Store, StoreError, parse_enum, read, write};
use crate::domain::id::{IntegrationId, ProjectId, TenantId};
use crate::domain::integration::{IntegrationStatus, IntegrationType};

/// A stored integration, secrets still sealed.
#[derive(Debug, Clone)]
pub struct IntegrationRecord {
    pub id: IntegrationId,
    pub project_id: ProjectId,
    pub kind: IntegrationType,
    pub name: String,
    pub settings: Map<String, Value>,
    pub sealed_secrets: Option<String>,
    pub secret_names: Vec<String>,
    pub status: IntegrationStatus,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: IntegrationId,
    project_id: ProjectId,
    kind: String,
    name: String,
    settings: String,
    secrets: Option<String>,
    secret_names: String,
    status: String,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct WebhookRow {
    tenant_id: TenantId,
    #[sqlx(flatten)]
    row: Row,
}

impl TryFrom<Row> for IntegrationRecord {
    type Error = StoreError;

    fn try_from(r: Row) -> Result<Self> {
        let corrupt = |what: &str, e: serde_json::Error| StoreError::Corrupt(format!("integrations.{what}: {e}"));
        Ok(IntegrationRecord {
            kind: parse_enum("integrations.kind", &r.kind, IntegrationType::parse)?,
            status: parse_enum("integrations.status", &r.status, IntegrationStatus::parse)?,
            settings: serde_json::from_str(&r.settings).map_err(|e| corrupt("settings", e))?,
            secret_names: serde_json::from_str(&r.secret_names).map_err(|e| corrupt("secret_names", e))?,
            sealed_secrets: r.secrets,
            id: r.id,
            project_id: r.project_id,
            name: r.name,
            last_error: r.last_error,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

const COLUMNS: &str =
    "id, project_id, kind, name, settings, secrets, secret_names, status, last_error, created_at, updated_at";

fn json(v: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Enqueues `$jobs` (announcements of a change) inside the caller's transaction, only when
/// the project has an active outgoing webhook: nobody else reads them, and a project without
/// subscribers should not grow the queue with every change.
macro_rules! enqueue_if_subscribed {
    ($tx:expr, $tenant_id:expr, $project_id:expr, $jobs:expr, $now:expr) => {{
        let jobs: &[crate::domain::job::NewJob] = $jobs;
        if !jobs.is_empty() {
            let subscribed: Option<i32> = crate::store::query_scalar(
                "SELECT 1 FROM integrations WHERE tenant_id = $1 AND project_id = $2 AND kind = 'webhook'
                 AND status = 'active' LIMIT 1",
            )
            .bind($tenant_id)
            .bind($project_id)
            .fetch_optional(&mut *$tx)
            .await?;
            if subscribed.is_some() {
                for job in jobs {
                    let _ = crate::store::jobs::enqueue_job!(&mut *$tx, $tenant_id, job, $now);
                }
            }
        }
    }};
}
pub(crate) use enqueue_if_subscribed;

impl Store {
    /// Creates an integration of one of the tenant's projects. `NotFound` when the project
    /// is not theirs; `Conflict` when the project already has one of this type.
    pub async fn create_integration(&self, tenant_id: &TenantId, record: &IntegrationRecord) -> Result<()> {
        let (settings, names) = (json(&record.settings)?, json(&record.secret_names)?);
        let inserted = write!(self, |pool| {
            crate::store::query(
                "INSERT INTO integrations (id, tenant_id, project_id, kind, name, settings, secrets, secret_names,
                                           status, last_error, created_at, updated_at)
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, $11
                 WHERE EXISTS (SELECT 1 FROM projects WHERE id = $12 AND tenant_id = $13)",
            )
            .bind(&record.id)
            .bind(tenant_id)
            .bind(&record.project_id)
            .bind(record.kind.as_str())
            .bind(&record.name)
            .bind(&settings)
            .bind(&record.sealed_secrets)
            .bind(&names)
            .bind(record.status.as_str())
            .bind(record.created_at)
            .bind(record.created_at)
            .bind(&record.project_id)
            .bind(tenant_id)
            .execute(pool)
            .await
            .map_err(|e| StoreError::on_write(e, &format!("a {} integration of this project", record.kind.as_str())))?
            .rows_affected()
        });
        if inserted == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn get_integration(
        &self,
        tenant_id: &TenantId,
        project_id: &ProjectId,
        id: &IntegrationId,
    ) -> Result<IntegrationRecord> {
        let sql = format!("SELECT {COLUMNS} FROM integrations WHERE id = $1 AND project_id = $2 AND tenant_id = $3");
        let row: Option<Row> = read!(self, |pool| {
            crate::store::query_as(&sql).bind(id).bind(project_id).bind(tenant_id).fetch_optional(pool).await?
        });
        row.ok_or(StoreError::NotFound)?.try_into()
    }

    /// The integration a webhook names, with its tenant: webhooks carry no API key, the
    /// integration's secrets authenticate them. Integrations named lately come from the
    /// cache (see `integration_cache` for why that is safe); every change forgets them.
    pub async fn integration_for_webhook(&self, id: &IntegrationId) -> Result<(TenantId, IntegrationRecord)> {
        if let Some(found) = self.webhook_integrations.get(id.as_str()) {
            return Ok(found);
        }
        if let super::Db::Postgres(pool) = &self.db {
            self.webhook_integrations.listen(pool, super::integration_cache::CHANNEL);
        }
        let generation = self.webhook_integrations.generation();
        let found = self.integration_by_id(id).await?;
        self.webhook_integrations.put(id.as_str().to_string(), found.clone(), generation);
        Ok(found)
    }

    /// An integration of any tenant, with its tenant, as the database holds it now.
    pub async fn integration_by_id(&self, id: &IntegrationId) -> Result<(TenantId, IntegrationRecord)> {
        let sql = format!("SELECT tenant_id, {COLUMNS} FROM integrations WHERE id = $1");
        let row: Option<WebhookRow> =
            read!(self, |pool| crate::store::query_as(&sql).bind(id).fetch_optional(pool).await?);
        let row = row.ok_or(StoreError::NotFound)?;
        Ok((row.tenant_id, row.row.try_into()?))
    }

    pub async fn list_integrations(
        &self,
        tenant_id: &TenantId,
        project_id: &ProjectId,
    ) -> Result<Vec<IntegrationRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM integrations WHERE project_id = $1 AND tenant_id = $2 ORDER BY id");
        let rows: Vec<Row> =
            read!(self, |pool| crate::store::query_as(&sql).bind(project_id).bind(tenant_id).fetch_all(pool).await?);
        rows.into_iter().map(IntegrationRecord::try_from).collect()
    }

    /// Every active integration, across tenants: `(tenant_id, integration_id, type)`.
    pub async fn active_integrations(&self) -> Result<Vec<(TenantId, IntegrationId, IntegrationType)>> {
        let rows: Vec<(TenantId, IntegrationId, String)> = read!(self, |pool| {
            crate::store::query_as(
                "SELECT tenant_id, id, kind FROM integrations WHERE status = $1 ORDER BY tenant_id, id",
            )
            .bind(IntegrationStatus::Active.as_str())
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(tenant, id, kind)| Ok((tenant, id, parse_enum("integrations.kind", &kind, IntegrationType::parse)?)))
            .collect()
    }

    /// Every active integration of `kind`, across tenants (secrets sealed).
    pub async fn active_integrations_of(&self, kind: IntegrationType) -> Result<Vec<(TenantId, IntegrationRecord)>> {
        let sql = format!("SELECT tenant_id, {COLUMNS} FROM integrations WHERE kind = $1 AND status = $2 ORDER BY id");
        let rows: Vec<WebhookRow> = read!(self, |pool| {
            crate::store::query_as(&sql)
                .bind(kind.as_str())
                .bind(IntegrationStatus::Active.as_str())
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(|r| Ok((r.tenant_id, r.row.try_into()?))).collect()
    }

    /// Writes back the name, settings, sealed secrets, status and last error of an integration.
    pub async fn save_integration(&self, tenant_id: &TenantId, record: &IntegrationRecord) -> Result<()> {
        if self.write_integration(tenant_id, record, None).await? { Ok(()) } else { Err(StoreError::NotFound) }
    }

    /// Like `save_integration`, only if nobody wrote the record since `seen` (its
    /// `updated_at` when read); false when someone did (nothing written).
    pub async fn save_integration_if_unchanged(
        &self,
        tenant_id: &TenantId,
        record: &IntegrationRecord,
        seen: DateTime<Utc>,
    ) -> Result<bool> {
        self.write_integration(tenant_id, record, Some(seen)).await
    }

    async fn write_integration(
        &self,
        tenant_id: &TenantId,
        record: &IntegrationRecord,
        seen: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        let (settings, names) = (json(&record.settings)?, json(&record.secret_names)?);
        let updated = write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let updated = crate::store::query(
                "UPDATE integrations SET name = $1, settings = $2, secrets = $3, secret_names = $4, updated_at = $5,
                                         status = $6, last_error = $7
                 WHERE id = $8 AND project_id = $9 AND tenant_id = $10 AND ($11 IS NULL OR updated_at = $12)",
            )
            .bind(&record.name)
            .bind(&settings)
            .bind(&record.sealed_secrets)
            .bind(&names)
            .bind(record.updated_at)
            .bind(record.status.as_str())
            .bind(&record.last_error)
            .bind(&record.id)
            .bind(&record.project_id)
            .bind(tenant_id)
            .bind(seen)
            .bind(seen)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 1 {
                tell!(self, &mut *tx, CHANGED, record.id.as_str());
            }
            tx.commit().await?;
            updated
        });
        self.webhook_integrations.forget(record.id.as_str());
        Ok(updated == 1)
    }

    pub async fn delete_integration(
        &self,
        tenant_id: &TenantId,
        project_id: &ProjectId,
        id: &IntegrationId,
    ) -> Result<()> {
        let deleted = write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let deleted =
                crate::store::query("DELETE FROM integrations WHERE id = $1 AND project_id = $2 AND tenant_id = $3")
                    .bind(id)
                    .bind(project_id)
                    .bind(tenant_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            if deleted == 1 {
                tell!(self, &mut *tx, CHANGED, id.as_str());
            }
            tx.commit().await?;
            deleted
        });
        self.webhook_integrations.forget(id.as_str());
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

impl Store {
    /// Every integration's sealed secrets, of every tenant: what a key rotation re-seals.
    pub async fn sealed_secrets(&self) -> Result<Vec<(String, String)>> {
        Ok(read!(self, |pool| {
            crate::store::query_as("SELECT id, secrets FROM integrations WHERE secrets IS NOT NULL ORDER BY id")
                .fetch_all(pool)
                .await?
        }))
    }

    /// Replaces sealed secrets in one transaction, each only if it is still what was read
    /// (`(id, old, new)`); `Conflict` (and nothing written) when one changed meanwhile.
    pub async fn reseal_secrets(&self, changes: &[(String, String, String)]) -> Result<()> {
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            for (id, old, new) in changes {
                let updated =
                    crate::store::query("UPDATE integrations SET secrets = $1 WHERE id = $2 AND secrets = $3")
                        .bind(new)
                        .bind(id)
                        .bind(old)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                if updated == 0 {
                    return Err(StoreError::Conflict(format!("integration {id} changed during the rotation")));
                }
                tell!(self, &mut *tx, CHANGED, id);
            }
            tx.commit().await?;
        });
        for (id, _, _) in changes {
            self.webhook_integrations.forget(id);
        }
        Ok(())
    }
}

/// A new record with fresh id and timestamps.
pub fn new_record(
    project_id: &ProjectId,
    kind: IntegrationType,
    name: String,
    settings: Map<String, Value>,
) -> IntegrationRecord {
    let now = super::now();
    IntegrationRecord {
        id: IntegrationId::generate(),
        project_id: project_id.clone(),
        kind,
        name,
        settings,
        sealed_secrets: None,
        secret_names: Vec::new(),
        status: IntegrationStatus::Active,
        last_error: None,
        created_at: now,
        updated_at: now,
    }
}
