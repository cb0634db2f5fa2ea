//! Where polling each tracker for changes stands.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Result, Store, read, write};
use crate::domain::id::{IntegrationId, TenantId};

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct PollState {
    #[schema(value_type = String)]
    pub integration_id: IntegrationId,
    /// Changes at or after this time may not have been seen yet.
    pub cursor: DateTime<Utc>,
    pub polls: i64,
    /// Linked tasks whose status followed the tracker's.
    pub changed: i64,
    /// New items that became tasks.
    pub imported: i64,
    pub last_error: Option<String>,
    pub last_polled_at: DateTime<Utc>,
}

/// How one poll went.
#[derive(Debug, Clone)]
pub struct PollOutcome {
    /// Where the next poll starts.
    pub cursor: DateTime<Utc>,
    pub changed: i64,
    pub imported: i64,
    pub error: Option<String>,
}

impl Store {
    pub async fn poll_state(&self, tenant_id: &TenantId, integration_id: &IntegrationId) -> Result<Option<PollState>> {
        Ok(read!(self, |pool| {
            crate::store::query_as(
                "SELECT integration_id, cursor, polls, changed, imported, last_error, last_polled_at
                 FROM tracker_polls WHERE tenant_id = $1 AND integration_id = $2",
            )
            .bind(tenant_id)
            .bind(integration_id)
            .fetch_optional(pool)
            .await?
        }))
    }

    pub async fn record_poll(
        &self,
        tenant_id: &TenantId,
        integration_id: &IntegrationId,
        outcome: &PollOutcome,
    ) -> Result<()> {
        let now = super::now();
        let error = super::clipped(outcome.error.as_deref());
        write!(self, |pool| {
            crate::store::query(
                "INSERT INTO tracker_polls (integration_id, tenant_id, cursor, polls, changed, imported, last_error,
                                            last_polled_at)
                 VALUES ($1, $2, $3, 1, $4, $5, $6, $7)
                 ON CONFLICT (integration_id) DO UPDATE SET cursor = $3, polls = tracker_polls.polls + 1,
                     changed = tracker_polls.changed + $4, imported = tracker_polls.imported + $5, last_error = $6,
                     last_polled_at = $7",
            )
            .bind(integration_id)
            .bind(tenant_id)
            .bind(outcome.cursor)
            .bind(outcome.changed)
            .bind(outcome.imported)
            .bind(&error)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}
