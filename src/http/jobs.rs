//! `/api/v1/jobs`: the queue, visible and replayable.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::error::{ApiError, ErrorBody, NotFoundExt};
use super::extract::{ApiPath, ApiQuery};
use super::pages::{JobPage, paginate};
use crate::domain::DomainError;
use crate::domain::list::{PageParams, id_cursor};
use crate::domain::tenant::Caller;
use crate::jobs::{Job, JobStatus};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobListParams {
    /// `queued`, `running`, `succeeded`, `failed` or `dead`.
    pub status: Option<String>,
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", params(JobListParams),
    responses((status = 200, body = JobPage), (status = 400, body = ErrorBody)))]
pub async fn list_jobs(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<JobListParams>,
) -> Result<Json<JobPage>, ApiError> {
    Ok(Json(JobPage::new(page(&s, &caller, &params).await?)))
}

/// One page of the caller's jobs and the next page's cursor, as `GET /api/v1/jobs` answers
/// (the console's list too).
pub(in crate::http) async fn page(
    s: &AppState,
    caller: &Caller,
    params: &JobListParams,
) -> Result<(Vec<Job>, Option<String>), ApiError> {
    let status = match params.status.as_deref().filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(JobStatus::parse(v).ok_or_else(|| {
            ApiError::invalid_query(DomainError::invalid(
                "status",
                format!("{v:?} is not one of queued, running, succeeded, failed, dead"),
            ))
        })?),
    };
    let page = PageParams { limit: params.limit, cursor: params.cursor.clone() }
        .validate()
        .map_err(ApiError::invalid_query)?;
    let items = s.store.list_jobs(&caller.tenant_id, status, &page).await?;
    Ok(paginate(items, page.limit, |j| id_cursor(&j.id)))
}

#[utoipa::path(post, path = "/api/v1/jobs/{id}/retry", params(("id" = String, Path)), tag = "jobs",
    responses((status = 200, description = "Queued again to run now", body = Job), (status = 404, body = ErrorBody),
              (status = 409, description = "Only failed or dead jobs can be retried", body = ErrorBody)))]
pub async fn retry_job(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Job>, ApiError> {
    Ok(Json(retry(&s, &caller, &id).await?))
}

/// Queues a failed or dead job of the caller's again and wakes the workers: 404 for a job
/// the caller cannot see, 409 for one in another state (the console's retry too).
pub(in crate::http) async fn retry(s: &AppState, caller: &Caller, id: &str) -> Result<Job, ApiError> {
    let job = s.store.retry_job(&caller.tenant_id, id).await.or_not_found("job")?;
    s.wake_workers.wake_all();
    Ok(job)
}
