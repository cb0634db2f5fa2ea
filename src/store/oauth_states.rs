//! OAuth states kept in the database (when no Redis is configured): put once, taken once.

use chrono::{DateTime, Utc};

use crate::domain::id::{ProjectId, TenantId};

use super::{Result, Store, write};

/// A state's binding, as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StoredState {
    pub tenant_id: TenantId,
    pub project_id: ProjectId,
    pub key_id: String,
    pub provider: String,
    pub verifier: Option<String>,
    /// JSON.
    pub extra: String,
    pub expires_at: DateTime<Utc>,
}

impl Store {
    /// Keeps a state (by its hash); states past their expiry are cleared on the way.
    pub async fn put_oauth_state(&self, state_hash: &str, state: &StoredState) -> Result<()> {
        let now = super::now();
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            crate::store::query("DELETE FROM oauth_states WHERE expires_at < $1").bind(now).execute(&mut *tx).await?;
            crate::store::query(
                "INSERT INTO oauth_states (state_hash, tenant_id, project_id, key_id, provider, verifier, extra,
                                           expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(state_hash)
            .bind(&state.tenant_id)
            .bind(&state.project_id)
            .bind(&state.key_id)
            .bind(&state.provider)
            .bind(&state.verifier)
            .bind(&state.extra)
            .bind(state.expires_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Takes the state: answered once, then gone (expired or not; the caller checks).
    pub async fn take_oauth_state(&self, state_hash: &str) -> Result<Option<StoredState>> {
        if let Some(pool) = self.mysql() {
            // No `DELETE … RETURNING`: read under a lock, then delete, in one transaction.
            let mut tx = pool.begin().await?;
            let taken: Option<StoredState> = crate::store::query_as(
                "SELECT tenant_id, project_id, key_id, provider, verifier, extra, expires_at FROM oauth_states
                 WHERE state_hash = $1 FOR UPDATE",
            )
            .bind(state_hash)
            .fetch_optional(&mut *tx)
            .await?;
            crate::store::query("DELETE FROM oauth_states WHERE state_hash = $1")
                .bind(state_hash)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(taken);
        }
        let taken: Option<StoredState> = write!(self, |pool| {
            crate::store::query_as(
                "DELETE FROM oauth_states WHERE state_hash = $1
                 RETURNING tenant_id, project_id, key_id, provider, verifier, extra, expires_at",
            )
            .bind(state_hash)
            .fetch_optional(pool)
            .await?
        });
        Ok(taken)
    }
}
