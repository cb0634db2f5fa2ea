//! Sync runs: Confluence tasks to Jira, undo, and the journal of a run; with the replaced
//! automator's `/sync_task` and `/undo_sync_task` as aliases. A request starts a run (a
//! queued job) and waits for it, bounded: 200 with the results, or 202 with the run id.
//! `/sync_task` answers as the automator did, with the plain list (the run in headers).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ErrorBody, NotFoundExt};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::pages::paginate;
use crate::domain::id::{ProjectId, TaskId, TenantId};
use crate::domain::list::{PageParams, id_cursor};
use crate::domain::sync_run::{SyncRunKind, SyncRunStatus};
use crate::domain::tenant::Caller;
use crate::store::{RunFilter, SyncRun};
use crate::sync::confluence_tasks::Request;
use crate::sync::jira_project::ProjectRequest;
use crate::sync::{SyncError, answer};

impl From<SyncError> for ApiError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Invalid(m) => ApiError::Validation(m),
            e @ SyncError::NotUndoable { .. } => ApiError::Conflict(e.to_string()),
            e @ SyncError::NotConnected(_) => ApiError::BadRequest { code: "not_connected", message: e.to_string() },
            SyncError::Store(e) => e.into(),
            SyncError::Integration(e) => e.into(),
        }
    }
}

/// A run's answer: `{"run_id", "request_id", "status", "results", "error"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunAnswer {
    pub run_id: String,
    /// The same as `run_id` (the replaced automator's name for it).
    pub request_id: String,
    /// `running`, `done` or `failed`.
    pub status: String,
    /// One result per task (or per undone item).
    #[schema(value_type = Vec<Object>)]
    pub results: Vec<Value>,
    pub error: Option<String>,
}

/// Waits for the run, bounded; a failed run is an error. Answers the run as it then stands
/// (`running` when the wait ended).
pub(in crate::http) async fn settle(s: &AppState, tenant_id: &TenantId, run: SyncRun) -> Result<SyncRun, ApiError> {
    let run = wait(s, tenant_id, run).await?;
    match run.status {
        SyncRunStatus::Failed => Err(ApiError::BadGateway(format!(
            "sync run {} failed: {}",
            run.id,
            run.error.as_deref().unwrap_or("no details")
        ))),
        _ => Ok(run),
    }
}

/// Waits for the run, bounded, polling the store so that any instance's work is seen, and
/// answers it as it then stands, whatever its status (the console shows a failed run).
pub(in crate::http) async fn wait(s: &AppState, tenant_id: &TenantId, mut run: SyncRun) -> Result<SyncRun, ApiError> {
    let watch = s.store.watch(&run.id);
    s.wake_workers.wake(crate::jobs::Lane::Work);
    // Look at the status alone; the whole run (plan and results, megabytes for a large tree)
    // is read once, when it has ended or the wait is over.
    let status = super::settle::until(
        &watch,
        s.sync_wait,
        run.status,
        |st| *st != SyncRunStatus::Running,
        || async { s.store.sync_run_status(tenant_id, &run.id).await?.ok_or_else(|| ApiError::not_found("sync run")) },
    )
    .await?;
    if status != run.status {
        run = s.store.sync_run(tenant_id, &run.id).await?.ok_or_else(|| ApiError::not_found("sync run"))?;
    }
    Ok(run)
}

/// The whole answer: 200 with the results, 202 while the run goes on.
pub(in crate::http) fn answered(run: &SyncRun) -> (StatusCode, Json<Value>) {
    let status = if run.status == SyncRunStatus::Running { StatusCode::ACCEPTED } else { StatusCode::OK };
    (status, Json(answer(run)))
}

/// `/sync_task`'s answer while its run goes on: where to follow it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StillRunning {
    pub run_id: String,
    /// `running`.
    pub status: SyncRunStatus,
    pub message: String,
}

/// The replaced automator's answer: the plain list of results, the run named in `Location`
/// and `X-Sync-Run-Id`. A run outlasting the wait has no list yet: 202 with the same headers
/// and a [`StillRunning`] body, so a client reading only the status still learns where to look.
pub(in crate::http) fn listed(run: SyncRun) -> Response {
    let location = format!("/api/v1/sync-runs/{}", run.id);
    let headers = [(header::LOCATION, location.clone()), (HeaderName::from_static(RUN_ID_HEADER), run.id.clone())];
    if run.status == SyncRunStatus::Running {
        let message = format!("the sync is still running; its results will be at {location}");
        let body = StillRunning { run_id: run.id, status: run.status, message };
        return (StatusCode::ACCEPTED, headers, Json(body)).into_response();
    }
    let results = run.results.unwrap_or_else(|| Value::Array(Vec::new()));
    (StatusCode::OK, headers, Json(results)).into_response()
}

/// The header naming the run behind a `/sync_task` answer.
const RUN_ID_HEADER: &str = "x-sync-run-id";

pub(in crate::http) async fn sync_tasks(
    s: &AppState,
    caller: &Caller,
    project_id: &ProjectId,
    request: &Request,
) -> Result<SyncRun, ApiError> {
    let run = start_tasks(s, caller, project_id, request).await?;
    settle(s, &caller.tenant_id, run).await
}

/// Starts a Confluence task sync of the caller's project (the console's too).
pub(in crate::http) async fn start_tasks(
    s: &AppState,
    caller: &Caller,
    project_id: &ProjectId,
    request: &Request,
) -> Result<SyncRun, ApiError> {
    request.validate()?;
    s.store.get_project(&caller.tenant_id, project_id).await.or_not_found("project")?;
    Ok(crate::sync::start_task_sync(&s.store, &s.integrations, &caller.tenant_id, project_id, request).await?)
}

/// Starts mirroring a Jira project into the caller's project's Confluence (the console's too).
pub(in crate::http) async fn start_project(
    s: &AppState,
    caller: &Caller,
    project_id: &ProjectId,
    request: &ProjectRequest,
) -> Result<SyncRun, ApiError> {
    request.validate()?;
    s.store.get_project(&caller.tenant_id, project_id).await.or_not_found("project")?;
    Ok(crate::sync::start_project_sync(&s.store, &s.integrations, &caller.tenant_id, project_id, request).await?)
}

/// Starts undoing the caller's run `run_id`: the API's undo and the console's.
pub(in crate::http) async fn start_undo(s: &AppState, caller: &Caller, run_id: &str) -> Result<SyncRun, ApiError> {
    let run = s.store.sync_run(&caller.tenant_id, run_id).await?.ok_or_else(|| ApiError::not_found("sync run"))?;
    Ok(crate::sync::undo_run(&s.store, &s.integrations, &caller.tenant_id, &run).await?)
}

#[utoipa::path(post, path = "/api/v1/projects/{id}/sync/confluence-tasks", tag = "sync", params(("id" = String, Path)),
    request_body = Request,
    responses((status = 200, description = "The run finished: one result per open task found", body = RunAnswer),
              (status = 202, description = "Still running when the wait ended; follow it at /api/v1/sync-runs/{run_id}",
               body = RunAnswer),
              (status = 400, description = "The project has no Jira or Confluence integration", body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 502, description = "Jira or Confluence failed the whole run", body = ErrorBody)))]
pub async fn sync_confluence_tasks(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(project_id): ApiPath<ProjectId>,
    ApiJson(request): ApiJson<Request>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    sync_tasks(&s, &caller, &project_id, &request).await.map(|run| answered(&run))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LegacySyncTask {
    /// The project whose integrations are used; the default project when left out.
    pub project_id: Option<String>,
    #[serde(flatten)]
    pub request: Request,
}

pub(in crate::http) async fn sync_project(
    s: &AppState,
    caller: &Caller,
    project_id: &ProjectId,
    request: &ProjectRequest,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let run = start_project(s, caller, project_id, request).await?;
    settle(s, &caller.tenant_id, run).await.map(|run| answered(&run))
}

#[utoipa::path(post, path = "/api/v1/projects/{id}/sync/jira-project", tag = "sync", params(("id" = String, Path)),
    request_body = ProjectRequest,
    responses((status = 200, description = "The tree mirrors the Jira project: one result per page", body = RunAnswer),
              (status = 202, body = RunAnswer), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn sync_jira_project(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(project_id): ApiPath<ProjectId>,
    ApiJson(request): ApiJson<ProjectRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    sync_project(&s, &caller, &project_id, &request).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LegacySyncProject {
    /// The project whose integrations are used; the default project when left out.
    pub project_id: Option<String>,
    #[serde(flatten)]
    pub request: ProjectRequest,
}

#[utoipa::path(post, path = "/api/v1/sync-runs/{id}/undo", tag = "sync", params(("id" = String, Path)),
    responses((status = 200, description = "Pages restored and issues moved back, one result per item", body = RunAnswer),
              (status = 202, body = RunAnswer), (status = 404, body = ErrorBody),
              (status = 409, description = "The run is not a finished task sync or tracker push", body = ErrorBody)))]
pub async fn undo_run(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(run_id): ApiPath<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let undo = start_undo(&s, &caller, &run_id).await?;
    settle(&s, &caller.tenant_id, undo).await.map(|run| answered(&run))
}

/// A run and its journal.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunDetail {
    pub id: String,
    #[schema(value_type = String)]
    pub project_id: ProjectId,
    /// The task a tracker run (push, transition, their undo) acted for.
    #[schema(value_type = Option<String>)]
    pub task_id: Option<TaskId>,
    pub kind: SyncRunKind,
    pub status: SyncRunStatus,
    #[schema(value_type = Object)]
    pub request: Value,
    #[schema(value_type = Vec<Object>)]
    pub results: Option<Value>,
    pub error: Option<String>,
    /// The run that undid this one.
    pub undone_by: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Every change made elsewhere, in order: what, where, before and after.
    pub changes: Vec<Change>,
}

impl RunDetail {
    fn new(run: SyncRun, changes: Vec<crate::store::SyncChange>) -> Self {
        RunDetail {
            id: run.id,
            project_id: run.project_id,
            task_id: run.task_id,
            kind: run.kind,
            status: run.status,
            request: run.request,
            results: run.results,
            error: run.error,
            undone_by: run.undone_by,
            created_at: run.created_at,
            finished_at: run.finished_at,
            changes: changes
                .into_iter()
                .map(|c| Change {
                    seq: c.seq,
                    step: c.step,
                    target: c.target,
                    reference: c.reference,
                    action: c.action,
                    before: c.before,
                    after: c.after,
                    at: c.created_at,
                })
                .collect(),
        }
    }
}

/// A page of runs, newest first, each with its journal.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunPage {
    pub items: Vec<RunDetail>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunListParams {
    pub project_id: Option<String>,
    /// The runs that acted for this task (its pushes, transitions and their undos).
    pub task_id: Option<String>,
    /// `confluence-tasks`, `jira-project`, `tracker-push`, `tracker-transition` or `undo`.
    pub kind: Option<String>,
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/sync-runs", tag = "sync", params(RunListParams),
    responses((status = 200, description = "Runs, newest first, with their journals", body = RunPage),
              (status = 400, body = ErrorBody)))]
pub async fn list_runs(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<RunListParams>,
) -> Result<Json<RunPage>, ApiError> {
    let page = PageParams { limit: params.limit, cursor: params.cursor }.validate().map_err(ApiError::invalid_query)?;
    let given = |v: Option<String>| v.filter(|v| !v.is_empty());
    let filter = RunFilter {
        project_id: given(params.project_id).map(Into::into),
        task_id: given(params.task_id).map(Into::into),
        kind: given(params.kind),
    };
    let runs = s.store.list_sync_runs(&caller.tenant_id, &filter, &page).await?;
    let (runs, next_cursor) = paginate(runs, page.limit, |r| id_cursor(&r.id));
    let mut items = Vec::with_capacity(runs.len());
    for run in runs {
        let changes = s.store.sync_changes(&run.id).await?;
        items.push(RunDetail::new(run, changes));
    }
    Ok(Json(RunPage { items, next_cursor }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Change {
    pub seq: i64,
    pub step: String,
    /// `jira-issue` or `confluence-page` (task syncs); `taiga`, `jira` or `zendesk` (tracker runs).
    pub target: String,
    /// The issue key, page id or item reference.
    pub reference: String,
    /// `create`, `rewrite`, `restore`, `transition`, `failed`; for tracker runs `created`,
    /// `transitioned`, `restored`, `deleted`.
    pub action: String,
    #[schema(value_type = Object)]
    pub before: Option<Value>,
    #[schema(value_type = Object)]
    pub after: Option<Value>,
    pub at: chrono::DateTime<chrono::Utc>,
}

#[utoipa::path(get, path = "/api/v1/sync-runs/{id}", tag = "sync", params(("id" = String, Path)),
    responses((status = 200, description = "The run, its results and its journal", body = RunDetail),
              (status = 404, body = ErrorBody)))]
pub async fn get_run(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(run_id): ApiPath<String>,
) -> Result<Json<RunDetail>, ApiError> {
    let run = s.store.sync_run(&caller.tenant_id, &run_id).await?.ok_or_else(|| ApiError::not_found("sync run"))?;
    let changes = s.store.sync_changes(&run.id).await?;
    Ok(Json(RunDetail::new(run, changes)))
}
