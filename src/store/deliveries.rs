//! Deliveries (messages sent into conversations) and the history both ways.

use crate::domain::id::TenantId;
use crate::domain::id::{IntegrationId, ProjectId, TaskId};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::jobs::enqueue_job;
use super::{Result, Store, StoreError, parse_enum, read, write};
use crate::domain::delivery::{Delivery, DeliveryStatus, HistoryItem, NewDelivery};
use crate::domain::job::NewJob;
use crate::domain::list::Page;
use crate::domain::new_id;

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: String,
    project_id: ProjectId,
    integration_id: IntegrationId,
    platform: String,
    message_id: Option<String>,
    recipient: String,
    subject: Option<String>,
    text: String,
    target: String,
    status: String,
    error: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, project_id, integration_id, platform, message_id, recipient, subject, text, target, status, \
                       error, created_at, updated_at";

impl DeliveryRow {
    fn into_parts(self) -> Result<(Delivery, Value)> {
        let target =
            serde_json::from_str(&self.target).map_err(|e| StoreError::Corrupt(format!("deliveries.target: {e}")))?;
        let delivery = Delivery {
            status: parse_enum("deliveries.status", &self.status, DeliveryStatus::parse)?,
            id: self.id,
            project_id: self.project_id,
            integration_id: self.integration_id,
            platform: self.platform,
            message_id: self.message_id,
            recipient: self.recipient,
            subject: self.subject,
            text: self.text,
            error: self.error,
            created_at: self.created_at,
            updated_at: self.updated_at,
        };
        Ok((delivery, target))
    }
}

/// A row of either side of the history.
#[derive(sqlx::FromRow)]
struct HistoryRow {
    id: String,
    direction: String,
    platform: String,
    project_id: ProjectId,
    integration_id: Option<IntegrationId>,
    counterpart: Option<String>,
    channel: Option<String>,
    text: String,
    status: String,
    task_id: Option<TaskId>,
    message_id: Option<String>,
    error: Option<String>,
    created_at: DateTime<Utc>,
}

/// Inserts delivery `$id`, unless the request already has answer `$answer` (`outcome` for
/// intake's, a decision's id for a person's).
/// The answer intake gives a request (its outcome), as told apart from a person's decisions.
pub const OUTCOME: &str = "outcome";

macro_rules! insert_delivery {
    ($executor:expr, $id:expr, $tenant_id:expr, $new:expr, $answer:expr, $now:expr) => {{
        let new: &NewDelivery = $new;
        crate::store::query(
            "INSERT INTO deliveries (id, tenant_id, project_id, integration_id, platform, message_id, recipient,
                                     subject, text, target, status, created_at, updated_at, answer)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'queued', $11, $12, $13)
             ON CONFLICT (message_id, answer) DO NOTHING",
        )
        .bind($id)
        .bind($tenant_id)
        .bind(&new.project_id)
        .bind(&new.integration_id)
        .bind(new.platform.as_str())
        .bind(&new.message_id)
        .bind(&new.recipient)
        .bind(&new.subject)
        .bind(&new.text)
        .bind(new.target.to_string())
        .bind($now)
        .bind($now)
        .bind($answer)
        .execute($executor)
        .await?
    }};
}

impl Store {
    /// Records a message to send, as delivery `id` (a taken id fails), and enqueues `job`,
    /// which sends it, in one transaction.
    pub async fn create_delivery(
        &self,
        tenant_id: &TenantId,
        id: &str,
        new: &NewDelivery,
        job: &NewJob,
    ) -> Result<Delivery> {
        let now = super::now();
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            insert_delivery!(&mut *tx, id, tenant_id, new, OUTCOME, now);
            let _ = enqueue_job!(&mut *tx, tenant_id, job, now);
            tx.commit().await?;
        });
        Ok(self.delivery(tenant_id, id).await?.0)
    }

    /// The answer to a request, recorded once however often its job runs.
    /// `answer` tells a request's answers apart: [`OUTCOME`] for intake's, a decision's id
    /// for a person's.
    pub async fn delivery_for_answer(&self, tenant_id: &TenantId, new: &NewDelivery, answer: &str) -> Result<Delivery> {
        let now = super::now();
        let id = new_id();
        write!(self, |pool| {
            insert_delivery!(pool, &id, tenant_id, new, answer, now);
        });
        let message_id = new.message_id.as_deref().unwrap_or_default();
        let sql = format!("SELECT {COLUMNS} FROM deliveries WHERE tenant_id = $1 AND message_id = $2 AND answer = $3");
        let row: Option<DeliveryRow> = read!(self, |pool| {
            crate::store::query_as(&sql).bind(tenant_id).bind(message_id).bind(answer).fetch_optional(pool).await?
        });
        Ok(row.ok_or(StoreError::NotFound)?.into_parts()?.0)
    }

    /// A delivery and its target.
    pub async fn delivery(&self, tenant_id: &TenantId, id: &str) -> Result<(Delivery, Value)> {
        let sql = format!("SELECT {COLUMNS} FROM deliveries WHERE tenant_id = $1 AND id = $2");
        let row: Option<DeliveryRow> =
            read!(self, |pool| crate::store::query_as(&sql).bind(tenant_id).bind(id).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)?.into_parts()
    }

    /// Marks a queued delivery as being sent; false when it is not queued (sent, failed,
    /// or left mid-send by a run that died).
    pub async fn claim_delivery(&self, tenant_id: &TenantId, id: &str) -> Result<bool> {
        let now = super::now();
        let claimed = write!(self, |pool| {
            crate::store::query(
                "UPDATE deliveries SET status = 'sending', updated_at = $1
                 WHERE tenant_id = $2 AND id = $3 AND status = 'queued'",
            )
            .bind(now)
            .bind(tenant_id)
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(claimed == 1)
    }

    pub async fn finish_delivery(
        &self,
        tenant_id: &TenantId,
        id: &str,
        status: DeliveryStatus,
        error: Option<&str>,
    ) -> Result<()> {
        let now = super::now();
        let error: Option<String> = error.map(|e| e.chars().take(2000).collect());
        write!(self, |pool| {
            crate::store::query(
                "UPDATE deliveries SET status = $1, error = $2, updated_at = $3 WHERE tenant_id = $4 AND id = $5",
            )
            .bind(status.as_str())
            .bind(&error)
            .bind(now)
            .bind(tenant_id)
            .bind(id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Requests received and messages sent, newest first (ids are time-ordered). One row
    /// more than the page is returned, to tell whether another page follows.
    pub async fn history(&self, tenant_id: &TenantId, platform: Option<&str>, page: &Page) -> Result<Vec<HistoryItem>> {
        let before = page.after.as_ref().map(|c| c.id.clone());
        let limit = i64::from(page.limit) + 1;
        let (received, sent): (Vec<HistoryRow>, Vec<HistoryRow>) = read!(self, |pool| {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT id, 'in' AS direction, source AS platform, project_id, integration_id, author AS counterpart,
                        channel, text, status, task_id, NULL AS message_id, error, created_at
                 FROM messages WHERE tenant_id = ",
            );
            q.push_bind(tenant_id);
            if let Some(p) = platform {
                q.push(" AND source = ").push_bind(p);
            }
            if let Some(b) = &before {
                q.push(" AND id < ").push_bind(b);
            }
            q.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
            let received = q.build_query_as().fetch_all(pool).await?;
            let mut q = sqlx::QueryBuilder::new(
                "SELECT id, 'out' AS direction, platform, project_id, integration_id, recipient AS counterpart,
                        subject AS channel, text, status, NULL AS task_id, message_id, error, created_at
                 FROM deliveries WHERE tenant_id = ",
            );
            q.push_bind(tenant_id);
            if let Some(p) = platform {
                q.push(" AND platform = ").push_bind(p);
            }
            if let Some(b) = &before {
                q.push(" AND id < ").push_bind(b);
            }
            q.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
            (received, q.build_query_as().fetch_all(pool).await?)
        });
        let mut rows: Vec<HistoryRow> = received.into_iter().chain(sent).collect();
        rows.sort_by(|a, b| b.id.cmp(&a.id));
        rows.truncate(limit as usize);
        Ok(rows
            .into_iter()
            .map(|r| HistoryItem {
                id: r.id,
                direction: r.direction,
                platform: r.platform,
                project_id: r.project_id,
                integration_id: r.integration_id,
                counterpart: r.counterpart,
                channel: r.channel,
                text: r.text,
                status: r.status,
                task_id: r.task_id,
                message_id: r.message_id,
                error: r.error,
                created_at: r.created_at,
            })
            .collect())
    }
}
