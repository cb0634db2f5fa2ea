//! What the web console keeps and counts: its sessions, and the figures of its overview.

use chrono::{DateTime, Utc};

use super::{Result, Store, parse_enum, read, write};
use crate::domain::id::TenantId;
use crate::domain::tenant::{Caller, Role};

/// A live console session: who it acts as, and the token its forms must carry.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    pub caller: Caller,
    pub tenant_name: String,
    pub csrf_token: String,
}

/// How many of a tenant's rows are in each state, as `(state, count)`.
pub type Counts = Vec<(String, i64)>;

/// An integration whose last call failed or whose access was withdrawn.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IntegrationProblem {
    pub id: String,
    pub project_id: String,
    pub kind: String,
    pub name: String,
    pub status: String,
    pub last_error: Option<String>,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    tenant_id: TenantId,
    key_id: String,
    role: String,
    tenant_name: String,
    csrf_token: String,
    last_seen_at: DateTime<Utc>,
}

/// A session's expiry moves forward at most once a minute, so reading pages does not
/// write on every request.
const TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

impl Store {
    /// Keeps a new session (by its token's hash); expired sessions are cleared on the way.
    pub async fn create_console_session(
        &self,
        token_hash: &str,
        caller: &Caller,
        csrf_token: &str,
        idle: chrono::TimeDelta,
    ) -> Result<()> {
        let now = super::now();
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            crate::store::query("DELETE FROM console_sessions WHERE expires_at < $1")
                .bind(now)
                .execute(&mut *tx)
                .await?;
            crate::store::query(
                "INSERT INTO console_sessions (token_hash, tenant_id, key_id, csrf_token, created_at, last_seen_at,
                                               expires_at)
                 VALUES ($1, $2, $3, $4, $5, $5, $6)",
            )
            .bind(token_hash)
            .bind(&caller.tenant_id)
            .bind(&caller.key_id)
            .bind(csrf_token)
            .bind(now)
            .bind(now + idle)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The unexpired session of this token hash, with the role its key has now; when
    /// `touch` (a person's request, not a page polling by itself), its expiry moves `idle`
    /// past this use.
    pub async fn console_session(
        &self,
        token_hash: &str,
        idle: chrono::TimeDelta,
        touch: bool,
    ) -> Result<Option<ConsoleSession>> {
        let now = super::now();
        let row: Option<SessionRow> = read!(self, |pool| {
            crate::store::query_as(
                "SELECT s.tenant_id, s.key_id, k.role, t.name AS tenant_name, s.csrf_token, s.last_seen_at
                 FROM console_sessions s JOIN api_keys k ON k.id = s.key_id AND k.tenant_id = s.tenant_id
                 JOIN tenants t ON t.id = s.tenant_id
                 WHERE s.token_hash = $1 AND s.expires_at > $2",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_optional(pool)
            .await?
        });
        let Some(row) = row else { return Ok(None) };
        if touch && now - row.last_seen_at >= TOUCH_EVERY {
            write!(self, |pool| {
                crate::store::query(
                    "UPDATE console_sessions SET last_seen_at = $2, expires_at = $3 WHERE token_hash = $1",
                )
                .bind(token_hash)
                .bind(now)
                .bind(now + idle)
                .execute(pool)
                .await?
                .rows_affected()
            });
        }
        Ok(Some(ConsoleSession {
            caller: Caller {
                role: parse_enum("api_keys.role", &row.role, Role::parse)?,
                tenant_id: row.tenant_id,
                key_id: row.key_id,
            },
            tenant_name: row.tenant_name,
            csrf_token: row.csrf_token,
        }))
    }

    /// Ends a session; ending one that is already gone is not an error.
    pub async fn delete_console_session(&self, token_hash: &str) -> Result<()> {
        write!(self, |pool| {
            crate::store::query("DELETE FROM console_sessions WHERE token_hash = $1")
                .bind(token_hash)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    /// The tenant's tasks counted by status, from the per-project counts that triggers on
    /// `tasks` keep (migration 0021): a few rows per project, however many tasks there are.
    pub async fn task_counts(&self, tenant_id: &str) -> Result<Counts> {
        Ok(read!(self, |pool| {
            crate::store::query_as(
                "SELECT status, CAST(SUM(tasks) AS BIGINT) FROM task_status_counts WHERE tenant_id = $1
                 GROUP BY status",
            )
            .bind(tenant_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The tenant's requests received since `since`, counted by what intake made of them.
    pub async fn message_counts_since(&self, tenant_id: &str, since: DateTime<Utc>) -> Result<Counts> {
        Ok(read!(self, |pool| {
            crate::store::query_as(
                "SELECT status, COUNT(*) FROM messages WHERE tenant_id = $1 AND received_at >= $2 GROUP BY status",
            )
            .bind(tenant_id)
            .bind(since)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The tenant's integrations in `error` or `revoked` state.
    pub async fn integration_problems(&self, tenant_id: &str) -> Result<Vec<IntegrationProblem>> {
        Ok(read!(self, |pool| {
            crate::store::query_as(
                "SELECT id, project_id, kind, name, status, last_error FROM integrations
                 WHERE tenant_id = $1 AND status IN ('error', 'revoked') ORDER BY id",
            )
            .bind(tenant_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// How many of the tenant's jobs have been given up (dead letters).
    pub async fn dead_job_count(&self, tenant_id: &str) -> Result<i64> {
        let (count,): (i64,) = read!(self, |pool| {
            crate::store::query_as("SELECT COUNT(*) FROM jobs WHERE tenant_id = $1 AND status = 'dead'")
                .bind(tenant_id)
                .fetch_one(pool)
                .await?
        });
        Ok(count)
    }
}
