//! Sync runs and their journal: each change a run made to another system, once per step,
//! with what was there before and after.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::jobs::enqueue_job;
use super::{Result, Store, StoreError, read, write};
use crate::domain::id::{ProjectId, TaskId, TenantId};
use crate::domain::job::NewJob;
use crate::domain::list::Page;
use crate::domain::run_outcome::Counts;
pub use crate::domain::sync_run::{SyncRunKind, SyncRunStatus};

/// Inserts a run (`status` `running`, or `done` with its results when it ended at once),
/// unless a run of that id exists.
macro_rules! insert_run {
    ($executor:expr, $id:expr, $tenant_id:expr, $run:expr, $status:expr, $results:expr, $now:expr) => {{
        let run: &crate::store::NewRun<'_> = $run;
        let status: crate::domain::sync_run::SyncRunStatus = $status;
        let finished: Option<chrono::DateTime<chrono::Utc>> =
            (status != crate::domain::sync_run::SyncRunStatus::Running).then_some($now);
        let results: Option<&serde_json::Value> = $results;
        crate::store::query(
            "INSERT INTO sync_runs (id, tenant_id, project_id, task_id, kind, status, request, results, created_at,
                                    updated_at, finished_at, result_counts)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind($id)
        .bind($tenant_id)
        .bind(run.project_id)
        .bind(run.task_id)
        .bind(run.kind.as_str())
        .bind(status.as_str())
        .bind(run.request.to_string())
        .bind(results.map(serde_json::Value::to_string))
        .bind($now)
        .bind(finished)
        .bind(results.map(crate::store::sync_runs::counts_text))
        .execute($executor)
        .await?
    }};
}
pub(crate) use insert_run;

/// Journals a step's change unless the step was journaled before; answers the rows written.
macro_rules! insert_change {
    ($executor:expr, $run_id:expr, $change:expr, $now:expr) => {{
        let change: &crate::store::NewChange<'_> = $change;
        crate::store::query(
            "INSERT INTO sync_changes (run_id, step, seq, target, reference, action, before, after, created_at)
             VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM sync_changes WHERE run_id = $1), $3, $4, $5, $6,
                     $7, $8)
             ON CONFLICT (run_id, step) DO NOTHING",
        )
        .bind($run_id)
        .bind(change.step)
        .bind(change.target)
        .bind(change.reference)
        .bind(change.action)
        .bind(change.before.as_ref().map(serde_json::Value::to_string))
        .bind(change.after.as_ref().map(serde_json::Value::to_string))
        .bind($now)
        .execute($executor)
        .await?
        .rows_affected()
    }};
}
pub(crate) use insert_change;

/// A finished run's results counted by verdict, as kept beside them.
pub(crate) fn counts_text(results: &Value) -> String {
    serde_json::to_string(&Counts::of(results)).unwrap_or_default()
}

#[derive(Debug, Clone)]
pub struct SyncRun {
    pub id: String,
    pub project_id: ProjectId,
    /// The task a tracker run acted for.
    pub task_id: Option<TaskId>,
    pub kind: SyncRunKind,
    pub status: SyncRunStatus,
    pub request: Value,
    pub plan: Option<Value>,
    /// Every result; `None` while it runs, when it failed as a whole, and in a run read
    /// without them ([`Store::sync_run_head`], [`Store::list_sync_run_heads`]).
    pub results: Option<Value>,
    /// Its results counted by verdict (runs finished before migration 0034 have none).
    pub counts: Option<Counts>,
    pub error: Option<String>,
    pub undone_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct RunRow {
    id: String,
    project_id: ProjectId,
    task_id: Option<TaskId>,
    kind: String,
    status: String,
    request: String,
    plan: Option<String>,
    results: Option<String>,
    result_counts: Option<String>,
    error: Option<String>,
    undone_by: Option<String>,
    created_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

impl TryFrom<RunRow> for SyncRun {
    type Error = StoreError;

    fn try_from(r: RunRow) -> Result<Self> {
        Ok(SyncRun {
            kind: super::parse_enum("sync_runs.kind", &r.kind, SyncRunKind::parse)?,
            status: super::parse_enum("sync_runs.status", &r.status, SyncRunStatus::parse)?,
            id: r.id,
            project_id: r.project_id,
            task_id: r.task_id,
            request: json(&r.request),
            plan: r.plan.as_deref().map(json),
            results: r.results.as_deref().map(json),
            counts: r.result_counts.as_deref().and_then(|c| serde_json::from_str(c).ok()),
            error: r.error,
            undone_by: r.undone_by,
            created_at: r.created_at,
            finished_at: r.finished_at,
        })
    }
}

/// One journaled change.
#[derive(Debug, Clone)]
pub struct SyncChange {
    pub step: String,
    pub seq: i64,
    /// `jira-issue` or `confluence-page`.
    pub target: String,
    /// The issue key or page id.
    pub reference: String,
    /// `create`, `rewrite`, `restore`, `transition`, or `failed`.
    pub action: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ChangeRow {
    step: String,
    seq: i64,
    target: String,
    reference: String,
    action: String,
    before: Option<String>,
    after: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<ChangeRow> for SyncChange {
    fn from(r: ChangeRow) -> Self {
        SyncChange {
            step: r.step,
            seq: r.seq,
            target: r.target,
            reference: r.reference,
            action: r.action,
            before: r.before.as_deref().map(json),
            after: r.after.as_deref().map(json),
            created_at: r.created_at,
        }
    }
}

/// A run that ended as it was recorded (a push): what was asked, what came of it, the one
/// change it made.
pub struct FinishedRun<'a> {
    pub run: NewRun<'a>,
    pub results: Value,
    pub change: NewChange<'a>,
}

/// A run to record: what kind, for which project (and task), asked what.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    pub kind: SyncRunKind,
    pub project_id: &'a ProjectId,
    pub task_id: Option<&'a TaskId>,
    pub request: Value,
}

/// Which runs to list.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub project_id: Option<ProjectId>,
    pub task_id: Option<TaskId>,
    pub kind: Option<String>,
}

/// A change to journal.
#[derive(Debug, Clone)]
pub struct NewChange<'a> {
    pub step: &'a str,
    pub target: &'a str,
    pub reference: &'a str,
    pub action: &'a str,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

const RUN_COLUMNS: &str = "id, project_id, task_id, kind, status, request, plan, results, result_counts, error, \
                           undone_by, created_at, finished_at";
/// A run without its plan, and without its results once they are counted: what a list of
/// runs or a run's page reads, however large the run.
const HEAD_COLUMNS: &str = "id, project_id, task_id, kind, status, request, NULL AS plan, \
                            CASE WHEN result_counts IS NULL THEN results END AS results, result_counts, error, \
                            undone_by, created_at, finished_at";
const CHANGE_COLUMNS: &str = "step, seq, target, reference, action, before, after, created_at";

impl Store {
    /// Records run `id` and queues `job`, which performs it, in one transaction.
    pub async fn create_sync_run(
        &self,
        tenant_id: &TenantId,
        id: &str,
        run: &NewRun<'_>,
        job: &NewJob,
    ) -> Result<SyncRun> {
        let now = super::now();
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            insert_run!(&mut *tx, id, tenant_id, run, SyncRunStatus::Running, None, now);
            let _ = enqueue_job!(&mut *tx, tenant_id, job, now);
            tx.commit().await?;
        });
        self.sync_run(tenant_id, id).await?.ok_or(StoreError::NotFound)
    }

    /// Records run `id` as running unless it exists (a job's retry opens it again); answers
    /// it as it is.
    pub async fn open_sync_run(&self, tenant_id: &TenantId, id: &str, run: &NewRun<'_>) -> Result<SyncRun> {
        let now = super::now();
        write!(self, |pool| {
            insert_run!(pool, id, tenant_id, run, SyncRunStatus::Running, None, now);
        });
        self.sync_run(tenant_id, id).await?.ok_or(StoreError::NotFound)
    }

    /// Runs matching the filter, newest first, a page (and one more) at a time.
    pub async fn list_sync_runs(&self, tenant_id: &TenantId, filter: &RunFilter, page: &Page) -> Result<Vec<SyncRun>> {
        self.runs_with(RUN_COLUMNS, tenant_id, filter, page).await
    }

    /// As [`Store::list_sync_runs`], each run without its plan and results (see `counts`).
    pub async fn list_sync_run_heads(
        &self,
        tenant_id: &TenantId,
        filter: &RunFilter,
        page: &Page,
    ) -> Result<Vec<SyncRun>> {
        self.runs_with(HEAD_COLUMNS, tenant_id, filter, page).await
    }

    async fn runs_with(
        &self,
        columns: &str,
        tenant_id: &TenantId,
        filter: &RunFilter,
        page: &Page,
    ) -> Result<Vec<SyncRun>> {
        let rows: Vec<RunRow> = read!(self, |pool| {
            let mut q = sqlx::QueryBuilder::new(format!("SELECT {columns} FROM sync_runs WHERE tenant_id = "));
            q.push_bind(tenant_id);
            for (column, value) in [
                (" AND project_id = ", filter.project_id.as_deref()),
                (" AND task_id = ", filter.task_id.as_deref()),
                (" AND kind = ", filter.kind.as_deref()),
            ] {
                if let Some(value) = value {
                    q.push(column).push_bind(value);
                }
            }
            if let Some(after) = &page.after {
                q.push(" AND (created_at, id) < (SELECT created_at, id FROM sync_runs WHERE tenant_id = ")
                    .push_bind(tenant_id)
                    .push(" AND id = ")
                    .push_bind(after.id.as_str())
                    .push(")");
            }
            q.push(" ORDER BY created_at DESC, id DESC LIMIT ").push_bind(i64::from(page.limit) + 1);
            q.build_query_as().fetch_all(pool).await?
        });
        rows.into_iter().map(SyncRun::try_from).collect()
    }

    /// The run without its plan and (once counted) its results; see [`Store::sync_run_results`].
    pub async fn sync_run_head(&self, tenant_id: &TenantId, id: &str) -> Result<Option<SyncRun>> {
        let sql = format!("SELECT {HEAD_COLUMNS} FROM sync_runs WHERE tenant_id = $1 AND id = $2");
        let row: Option<RunRow> =
            read!(self, |pool| crate::store::query_as(&sql).bind(tenant_id).bind(id).fetch_optional(pool).await?);
        row.map(SyncRun::try_from).transpose()
    }

    /// `limit` of the run's results from the `offset`th on, in their order, read out of the
    /// stored list by the database (the rest never reaches the service).
    pub async fn sync_run_results(
        &self,
        tenant_id: &TenantId,
        id: &str,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<Value>> {
        let sql = match self.backend() {
            super::Backend::Sqlite => {
                "SELECT j.value FROM sync_runs r, json_each(r.results) j WHERE r.tenant_id = $1 AND r.id = $2
                 AND json_valid(r.results) ORDER BY j.key LIMIT $3 OFFSET $4"
            }
            super::Backend::Postgres => {
                "SELECT j.value::text FROM sync_runs r, json_array_elements(r.results::json) WITH ORDINALITY j(value, n)
                 WHERE r.tenant_id = $1 AND r.id = $2 ORDER BY j.n LIMIT $3 OFFSET $4"
            }
            super::Backend::Mysql => {
                "SELECT j.value FROM sync_runs r,
                        JSON_TABLE(r.results, '$[*]' COLUMNS (n FOR ORDINALITY, value JSON PATH '$')) j
                 WHERE r.tenant_id = $1 AND r.id = $2 AND JSON_VALID(r.results) ORDER BY j.n LIMIT $3 OFFSET $4"
            }
        };
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let rows: Vec<String> = read!(self, |pool| {
            crate::store::query_scalar(sql)
                .bind(tenant_id)
                .bind(id)
                .bind(i64::from(limit))
                .bind(offset)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.iter().map(|r| json(r)).collect())
    }

    /// The run's results about any of the Confluence tasks `task_ids` (an undo's page reads
    /// what the run it undid said of the tasks on show).
    pub async fn sync_run_results_of_tasks(
        &self,
        tenant_id: &TenantId,
        id: &str,
        task_ids: &[&str],
    ) -> Result<Vec<Value>> {
        if task_ids.is_empty() {
            return Ok(Vec::new());
        }
        let (from, task_id) = match self.backend() {
            super::Backend::Sqlite => (
                "SELECT j.value FROM sync_runs r, json_each(r.results) j WHERE json_valid(r.results) AND r.tenant_id = ",
                "json_extract(j.value, '$.confluence_task_id')",
            ),
            super::Backend::Postgres => (
                "SELECT j.value::text FROM sync_runs r, json_array_elements(r.results::json) j WHERE r.tenant_id = ",
                "j.value ->> 'confluence_task_id'",
            ),
            super::Backend::Mysql => (
                "SELECT j.value FROM sync_runs r, JSON_TABLE(r.results, '$[*]' COLUMNS (value JSON PATH '$')) j
                 WHERE JSON_VALID(r.results) AND r.tenant_id = ",
                "JSON_UNQUOTE(JSON_EXTRACT(j.value, '$.confluence_task_id'))",
            ),
        };
        let rows: Vec<String> = read!(self, |pool| {
            let mut q = sqlx::QueryBuilder::new(from);
            q.push_bind(tenant_id).push(" AND r.id = ").push_bind(id).push(format!(" AND {task_id} IN ("));
            let mut list = q.separated(", ");
            for t in task_ids {
                list.push_bind(*t);
            }
            q.push(")");
            q.build_query_scalar().fetch_all(pool).await?
        });
        Ok(rows.iter().map(|r| json(r)).collect())
    }

    pub async fn sync_run(&self, tenant_id: &TenantId, id: &str) -> Result<Option<SyncRun>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM sync_runs WHERE tenant_id = $1 AND id = $2");
        let row: Option<RunRow> =
            read!(self, |pool| crate::store::query_as(&sql).bind(tenant_id).bind(id).fetch_optional(pool).await?);
        row.map(SyncRun::try_from).transpose()
    }

    /// Only the run's status: what a bounded wait polls, without reading (and parsing) its
    /// plan and results, which grow with the run.
    pub async fn sync_run_status(&self, tenant_id: &TenantId, id: &str) -> Result<Option<SyncRunStatus>> {
        let status: Option<String> = read!(self, |pool| {
            crate::store::query_scalar("SELECT status FROM sync_runs WHERE tenant_id = $1 AND id = $2")
                .bind(tenant_id)
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        status.map(|s| super::parse_enum("sync_runs.status", &s, SyncRunStatus::parse)).transpose()
    }

    /// Fixes the run's plan unless an earlier attempt already did; answers the plan kept.
    pub async fn set_sync_plan(&self, tenant_id: &TenantId, id: &str, plan: &Value) -> Result<Value> {
        let now = super::now();
        write!(self, |pool| {
            crate::store::query(
                "UPDATE sync_runs SET plan = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4 AND plan IS NULL",
            )
            .bind(plan.to_string())
            .bind(now)
            .bind(tenant_id)
            .bind(id)
            .execute(pool)
            .await?;
        });
        let run = self.sync_run(tenant_id, id).await?.ok_or(StoreError::NotFound)?;
        Ok(run.plan.unwrap_or(Value::Null))
    }

    /// Ends the run: `done` with its results, or `failed` with why.
    pub async fn finish_sync_run(
        &self,
        tenant_id: &TenantId,
        id: &str,
        outcome: std::result::Result<&Value, &str>,
    ) -> Result<()> {
        let now = super::now();
        let (status, results, counts, error) = match outcome {
            Ok(results) => (SyncRunStatus::Done.as_str(), Some(results.to_string()), Some(counts_text(results)), None),
            Err(e) => (SyncRunStatus::Failed.as_str(), None, None, Some(e.chars().take(2000).collect::<String>())),
        };
        write!(self, |pool| {
            crate::store::query(
                "UPDATE sync_runs SET status = $1, results = $2, error = $3, updated_at = $4, finished_at = $4,
                                      result_counts = $7
                 WHERE tenant_id = $5 AND id = $6 AND status = 'running'",
            )
            .bind(status)
            .bind(results)
            .bind(error)
            .bind(now)
            .bind(tenant_id)
            .bind(id)
            .bind(&counts)
            .execute(pool)
            .await?;
        });
        self.announce(id).await;
        Ok(())
    }

    /// Which of `steps` the tenant's finished `kind` runs of the project journaled with
    /// `action`: (run id, step, reference) each. How a run is found again from what it
    /// answered; another tenant's runs are never seen.
    pub async fn journaled_steps(
        &self,
        tenant_id: &TenantId,
        project_id: &ProjectId,
        kind: SyncRunKind,
        action: &str,
        steps: &[String],
    ) -> Result<Vec<(String, String, String)>> {
        let mut found = Vec::new();
        // Bounded batches keep every query well under the backends' limits on parameters.
        for batch in steps.chunks(500) {
            let rows: Vec<(String, String, String)> = read!(self, |pool| {
                // Project-wide runs have no task: `task_id IS NULL` lets the (tenant, task)
                // index skip the project's many tracker runs; each step is a primary-key probe.
                let mut q = sqlx::QueryBuilder::new(
                    "SELECT c.run_id, c.step, c.reference FROM sync_runs r JOIN sync_changes c ON c.run_id = r.id
                     WHERE r.task_id IS NULL AND r.status = 'done' AND r.tenant_id = ",
                );
                q.push_bind(tenant_id)
                    .push(" AND r.project_id = ")
                    .push_bind(project_id)
                    .push(" AND r.kind = ")
                    .push_bind(kind.as_str())
                    .push(" AND c.action = ")
                    .push_bind(action)
                    .push(" AND c.step IN (");
                let mut list = q.separated(", ");
                for step in batch {
                    list.push_bind(step.as_str());
                }
                q.push(")");
                q.build_query_as().fetch_all(pool).await?
            });
            found.extend(rows);
        }
        Ok(found)
    }

    /// Notes that run `id` was undone by run `by`.
    pub async fn mark_sync_undone(&self, tenant_id: &TenantId, id: &str, by: &str) -> Result<()> {
        write!(self, |pool| {
            crate::store::query("UPDATE sync_runs SET undone_by = $1 WHERE tenant_id = $2 AND id = $3")
                .bind(by)
                .bind(tenant_id)
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Journals a step's change; false when the step was journaled before (nothing written).
    pub async fn record_sync_change(&self, run_id: &str, change: &NewChange<'_>) -> Result<bool> {
        let now = super::now();
        let inserted = write!(self, |pool| insert_change!(pool, run_id, change, now));
        Ok(inserted == 1)
    }

    pub async fn sync_change(&self, run_id: &str, step: &str) -> Result<Option<SyncChange>> {
        let sql = format!("SELECT {CHANGE_COLUMNS} FROM sync_changes WHERE run_id = $1 AND step = $2");
        let row: Option<ChangeRow> =
            read!(self, |pool| crate::store::query_as(&sql).bind(run_id).bind(step).fetch_optional(pool).await?);
        Ok(row.map(SyncChange::from))
    }

    /// `limit` changes of the run's journal from the `offset`th on, in the order they were
    /// written (changes journaled at once share a `seq`; their steps order them).
    pub async fn sync_changes_page(&self, run_id: &str, offset: u64, limit: u32) -> Result<Vec<SyncChange>> {
        let sql = format!(
            "SELECT {CHANGE_COLUMNS} FROM sync_changes WHERE run_id = $1 ORDER BY seq, step LIMIT $2 OFFSET $3"
        );
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let rows: Vec<ChangeRow> = read!(self, |pool| {
            crate::store::query_as(&sql).bind(run_id).bind(i64::from(limit)).bind(offset).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(SyncChange::from).collect())
    }

    /// The run's journal in the order it was written.
    pub async fn sync_changes(&self, run_id: &str) -> Result<Vec<SyncChange>> {
        let sql = format!("SELECT {CHANGE_COLUMNS} FROM sync_changes WHERE run_id = $1 ORDER BY seq");
        let rows: Vec<ChangeRow> =
            read!(self, |pool| crate::store::query_as(&sql).bind(run_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(SyncChange::from).collect())
    }
}
