//! The job queue's table: enqueue, claim with a lease, settle, list, replay.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Backend, Result, Store, StoreError, parse_enum, read, write};
use crate::domain::id::TenantId;
use crate::domain::job::{ClaimedJob, Job, JobStatus, Lane, NewJob};
use crate::domain::list::Page;
use crate::domain::new_id;

#[derive(sqlx::FromRow)]
struct JobRow {
    id: String,
    kind: String,
    payload: String,
    idempotency_key: String,
    status: String,
    attempts: i32,
    max_attempts: i32,
    run_at: DateTime<Utc>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<JobRow> for Job {
    type Error = StoreError;

    fn try_from(r: JobRow) -> Result<Self> {
        Ok(Job {
            status: parse_enum("jobs.status", &r.status, JobStatus::parse)?,
            payload: serde_json::from_str(&r.payload).map_err(|e| StoreError::Corrupt(format!("jobs.payload: {e}")))?,
            id: r.id,
            kind: r.kind,
            idempotency_key: r.idempotency_key,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            run_at: r.run_at,
            last_error: r.last_error,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

const COLUMNS: &str =
    "id, kind, payload, idempotency_key, status, attempts, max_attempts, run_at, last_error, created_at, updated_at";

/// Inserts a job unless one with the same idempotency key exists; usable inside another
/// write's transaction, so "persist and enqueue" is one atomic step.
macro_rules! enqueue_job {
    ($executor:expr, $tenant_id:expr, $job:expr, $now:expr) => {{
        let job: &crate::domain::job::NewJob = $job;
        crate::store::query(
            "INSERT INTO jobs (id, tenant_id, kind, payload, idempotency_key, status, attempts, max_attempts,
                               run_at, created_at, updated_at, lane)
             VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $7, $8, $9, $10)
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(crate::domain::new_id())
        .bind($tenant_id)
        .bind(job.kind)
        .bind(job.payload.to_string())
        .bind(&job.idempotency_key)
        .bind(job.max_attempts)
        .bind(job.run_at.unwrap_or($now))
        .bind($now)
        .bind($now)
        .bind(crate::domain::job::Lane::of(job.kind).as_str())
        .execute($executor)
        .await?
        .rows_affected()
            == 1
    }};
}
pub(crate) use enqueue_job;

#[derive(sqlx::FromRow)]
struct ClaimRow {
    id: String,
    tenant_id: TenantId,
    kind: String,
    payload: String,
    attempts: i32,
    max_attempts: i32,
}

impl ClaimRow {
    fn claimed(self, lease_token: String) -> Result<ClaimedJob> {
        Ok(ClaimedJob {
            payload: serde_json::from_str(&self.payload)
                .map_err(|e| StoreError::Corrupt(format!("jobs.payload: {e}")))?,
            id: self.id,
            tenant_id: self.tenant_id,
            kind: self.kind,
            attempts: self.attempts,
            max_attempts: self.max_attempts,
            lease_token,
        })
    }
}

/// [`Store::claim_job`] on MySQL, which cannot `UPDATE … RETURNING` nor update the table
/// its subquery reads: the row is picked and locked first (`SKIP LOCKED` passes over rows
/// another claim holds), then leased and read back, all in one transaction. The pick goes
/// through `claim_at` (see the MySQL schema), whose index yields rows in order, so only the
/// row taken is locked.
async fn claim_job_mysql(
    pool: &sqlx::MySqlPool,
    lane: Lane,
    token: &str,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Option<ClaimedJob>> {
    let mut tx = pool.begin().await?;
    let id: Option<String> = crate::store::query_scalar(
        "SELECT id FROM jobs
         WHERE lane = $1 AND claim_at <= $2
           AND ((status IN ('queued', 'failed') AND run_at <= $3) OR (status = 'running' AND locked_until < $4))
         ORDER BY claim_at LIMIT 1 FOR UPDATE SKIP LOCKED",
    )
    .bind(lane.as_str())
    .bind(now)
    .bind(now)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = id else { return Ok(None) };
    crate::store::query(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_token = $1, locked_until = $2,
                         updated_at = $3
         WHERE id = $4",
    )
    .bind(token)
    .bind(until)
    .bind(now)
    .bind(&id)
    .execute(&mut *tx)
    .await?;
    let row: ClaimRow =
        crate::store::query_as("SELECT id, tenant_id, kind, payload, attempts, max_attempts FROM jobs WHERE id = $1")
            .bind(&id)
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;
    row.claimed(token.to_string()).map(Some)
}

impl Store {
    /// Enqueues `job`; false when a job with its idempotency key already exists.
    pub async fn enqueue(&self, tenant_id: &TenantId, job: &NewJob) -> Result<bool> {
        let now = super::now();
        Ok(write!(self, |pool| enqueue_job!(pool, tenant_id, job, now)))
    }

    /// Claims the next runnable job of `lane` (due, or running under an expired lease) for `lease`.
    /// On PostgreSQL and MySQL, `SKIP LOCKED` lets many instances claim at once without ever
    /// handing the same job to two; SQLite's single writer gives the same guarantee.
    pub async fn claim_job(&self, lane: Lane, lease: Duration) -> Result<Option<ClaimedJob>> {
        let now = super::now();
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(5));
        let token = new_id();
        if let Some(pool) = self.mysql() {
            return claim_job_mysql(pool, lane, &token, until, now).await;
        }
        let lock = match self.backend() {
            Backend::Postgres | Backend::Mysql => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        // The first runnable job of each kind is found on its own through the (lane, status,
        // run_at) index, then the earliest of the three is taken: one condition with an OR
        // made SQLite read every job the lane ever had, and the claim slowed as history grew.
        let sql = format!(
            "WITH queued AS (SELECT id, run_at FROM jobs WHERE lane = $1 AND status = 'queued' AND run_at <= $2
                             ORDER BY run_at LIMIT 1 {lock}),
                  failed AS (SELECT id, run_at FROM jobs WHERE lane = $3 AND status = 'failed' AND run_at <= $4
                             ORDER BY run_at LIMIT 1 {lock}),
                  expired AS (SELECT id, run_at FROM jobs WHERE lane = $5 AND status = 'running' AND locked_until < $6
                              ORDER BY run_at LIMIT 1 {lock})
             UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_token = $7, locked_until = $8,
                             updated_at = $9
             WHERE id = (SELECT id FROM (SELECT id, run_at FROM queued UNION ALL SELECT id, run_at FROM failed
                                         UNION ALL SELECT id, run_at FROM expired) AS runnable
                         ORDER BY run_at LIMIT 1)
             RETURNING id, tenant_id, kind, payload, attempts, max_attempts"
        );
        let row: Option<ClaimRow> = write!(self, |pool| {
            crate::store::query_as(&sql)
                .bind(lane.as_str())
                .bind(now)
                .bind(lane.as_str())
                .bind(now)
                .bind(lane.as_str())
                .bind(now)
                .bind(&token)
                .bind(until)
                .bind(now)
                .fetch_optional(pool)
                .await?
        });
        row.map(|row| row.claimed(token)).transpose()
    }

    /// Marks a claimed job done. False when the lease was lost (another worker took over).
    pub async fn complete_job(&self, job: &ClaimedJob) -> Result<bool> {
        let now = super::now();
        let n = write!(self, |pool| {
            crate::store::query(
                "UPDATE jobs SET status = 'succeeded', lease_token = NULL, locked_until = NULL, last_error = NULL,
                                 updated_at = $1
                 WHERE id = $2 AND lease_token = $3 AND status = 'running'",
            )
            .bind(now)
            .bind(&job.id)
            .bind(&job.lease_token)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Records a failed attempt: retried at `retry_at`, or dead when `retry_at` is `None`.
    pub async fn fail_job(&self, job: &ClaimedJob, error: &str, retry_at: Option<DateTime<Utc>>) -> Result<bool> {
        let now = super::now();
        let (status, run_at) = match retry_at {
            Some(at) => (JobStatus::Failed, at),
            None => (JobStatus::Dead, now),
        };
        let error: String = error.chars().take(2000).collect();
        let n = write!(self, |pool| {
            crate::store::query(
                "UPDATE jobs SET status = $1, run_at = $2, last_error = $3, lease_token = NULL, locked_until = NULL,
                                 updated_at = $4
                 WHERE id = $5 AND lease_token = $6 AND status = 'running'",
            )
            .bind(status.as_str())
            .bind(run_at)
            .bind(&error)
            .bind(now)
            .bind(&job.id)
            .bind(&job.lease_token)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Extends the lease of a job still being worked on.
    pub async fn extend_lease(&self, job: &ClaimedJob, lease: Duration) -> Result<bool> {
        let until = super::now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(5));
        let n = write!(self, |pool| {
            crate::store::query(
                "UPDATE jobs SET locked_until = $1 WHERE id = $2 AND lease_token = $3 AND status = 'running'",
            )
            .bind(until)
            .bind(&job.id)
            .bind(&job.lease_token)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    pub async fn get_job(&self, tenant_id: &TenantId, id: &str) -> Result<Job> {
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1 AND tenant_id = $2");
        let row: Option<JobRow> =
            read!(self, |pool| crate::store::query_as(&sql).bind(id).bind(tenant_id).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)?.try_into()
    }

    pub async fn list_jobs(&self, tenant_id: &TenantId, status: Option<JobStatus>, page: &Page) -> Result<Vec<Job>> {
        let after = page.after.as_ref().map(|c| c.id.as_str()).unwrap_or("");
        let rows: Vec<JobRow> = read!(self, |pool| {
            let mut q = sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM jobs WHERE tenant_id = "));
            q.push_bind(tenant_id);
            if let Some(status) = status {
                q.push(" AND status = ").push_bind(status.as_str());
            }
            q.push(" AND id > ").push_bind(after);
            q.push(" ORDER BY id LIMIT ").push_bind(i64::from(page.limit) + 1);
            q.build_query_as().fetch_all(pool).await?
        });
        rows.into_iter().map(Job::try_from).collect()
    }

    /// Puts a failed or dead job back in the queue to run now, with fresh attempts.
    /// `Conflict` when it is queued, running or already succeeded.
    pub async fn retry_job(&self, tenant_id: &TenantId, id: &str) -> Result<Job> {
        let now = super::now();
        // The answer is the job as this update left it: a worker may claim it a moment later.
        let row: Option<JobRow> = if let Some(pool) = self.mysql() {
            // No `UPDATE … RETURNING`: the row, still locked by the update, is read back.
            let mut tx = pool.begin().await?;
            let updated = crate::store::query(
                "UPDATE jobs SET status = 'queued', attempts = 0, run_at = $1, updated_at = $2
                 WHERE id = $3 AND tenant_id = $4 AND status IN ('failed', 'dead')",
            )
            .bind(now)
            .bind(now)
            .bind(id)
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1");
            let row = match updated {
                0 => None,
                _ => Some(crate::store::query_as(&sql).bind(id).fetch_one(&mut *tx).await?),
            };
            tx.commit().await?;
            row
        } else {
            let sql = format!(
                "UPDATE jobs SET status = 'queued', attempts = 0, run_at = $1, updated_at = $2
                 WHERE id = $3 AND tenant_id = $4 AND status IN ('failed', 'dead')
                 RETURNING {COLUMNS}"
            );
            write!(self, |pool| {
                crate::store::query_as(&sql).bind(now).bind(now).bind(id).bind(tenant_id).fetch_optional(pool).await?
            })
        };
        match row {
            Some(row) => row.try_into(),
            None => {
                let job = self.get_job(tenant_id, id).await?;
                Err(StoreError::Conflict(format!("a {} job cannot be retried", job.status.as_str())))
            }
        }
    }

    /// Deletes succeeded jobs whose idempotency key starts with `key_prefix` and that were
    /// due before `before`: recurring work (polls) would otherwise grow the table forever.
    pub async fn forget_succeeded_jobs(&self, key_prefix: &str, before: DateTime<Utc>) -> Result<u64> {
        // The prefix is matched literally: `%`, `_` and the escape itself are escaped.
        let pattern = format!("{}%", key_prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        // MySQL's text columns compare without regard to case; the key's byte copy does not.
        let key = if self.mysql().is_some() { "idempotency_key_bytes" } else { "idempotency_key" };
        let sql = format!("DELETE FROM jobs WHERE status = 'succeeded' AND run_at < $1 AND {key} LIKE $2 ESCAPE '\\'");
        Ok(write!(self, |pool| {
            crate::store::query(&sql).bind(before).bind(&pattern).execute(pool).await?.rows_affected()
        }))
    }

    /// The tenant's jobs not yet settled (queued, running, failed, dead), counted per kind
    /// and status, kinds in name order. Succeeded jobs are history and grow without bound,
    /// so they are not counted here (the tenant index reaches only the four statuses).
    pub async fn unsettled_job_counts(&self, tenant_id: &TenantId) -> Result<Vec<(String, JobStatus, i64)>> {
        let rows: Vec<(String, String, i64)> = read!(self, |pool| {
            crate::store::query_as(
                "SELECT kind, status, COUNT(*) FROM jobs
                 WHERE tenant_id = $1 AND status IN ('queued', 'running', 'failed', 'dead')
                 GROUP BY kind, status ORDER BY kind, status",
            )
            .bind(tenant_id)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(kind, status, n)| Ok((kind, parse_enum("jobs.status", &status, JobStatus::parse)?, n)))
            .collect()
    }

    /// Jobs per status, for metrics.
    pub async fn job_counts(&self) -> Result<Vec<(String, i64)>> {
        Ok(read!(self, |pool| {
            crate::store::query_as("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetch_all(pool).await?
        }))
    }
}
