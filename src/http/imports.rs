//! `/api/v1/projects/{id}/integrations/{integration_id}/import`: backfill a tracker's
//! existing items into the project, and watch it progress.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::ApiPath;
use crate::domain::id::{IntegrationId, ProjectId};
use crate::domain::tenant::Caller;
use crate::store::{ImportProgress, PollState};

#[utoipa::path(post, path = "/api/v1/projects/{id}/integrations/{integration_id}/import", tag = "integrations",
    params(("id" = String, Path), ("integration_id" = String, Path)),
    responses(
        (status = 202, description = "Started: pages are imported by queued jobs", body = ImportProgress),
        (status = 404, body = ErrorBody),
        (status = 409, description = "An import of this integration is running", body = ErrorBody),
        (status = 422, description = "The integration is not a tracker", body = ErrorBody)))]
pub async fn start_import(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath((project_id, integration_id)): ApiPath<(ProjectId, IntegrationId)>,
) -> Result<(StatusCode, Json<ImportProgress>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(start(&s, &caller, &project_id, &integration_id).await?)))
}

/// Starts importing a tracker's items into the project (the API and the console).
pub(in crate::http) async fn start(
    s: &AppState,
    caller: &Caller,
    project_id: &ProjectId,
    integration_id: &IntegrationId,
) -> Result<ImportProgress, ApiError> {
    let integration = s.integrations.get(&caller.tenant_id, project_id, integration_id).await?;
    if !crate::trackers::is_tracker(integration.kind) {
        return Err(ApiError::Validation(format!("{} is not a tracker: nothing to import", integration.kind.as_str())));
    }
    let progress = crate::sync::import::start(&s.store, &caller.tenant_id, &integration.id).await?;
    s.wake_workers.wake(crate::jobs::Lane::Work);
    Ok(progress)
}

#[utoipa::path(get, path = "/api/v1/projects/{id}/integrations/{integration_id}/import", tag = "integrations",
    params(("id" = String, Path), ("integration_id" = String, Path)),
    responses((status = 200, description = "How far the latest import got", body = ImportProgress),
              (status = 404, body = ErrorBody)))]
pub async fn import_progress(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath((project_id, integration_id)): ApiPath<(ProjectId, IntegrationId)>,
) -> Result<Json<ImportProgress>, ApiError> {
    let integration = s.integrations.get(&caller.tenant_id, &project_id, &integration_id).await?;
    let progress = s.store.import_progress(&caller.tenant_id, &integration.id).await?;
    Ok(Json(progress.ok_or_else(|| ApiError::not_found("import"))?))
}

#[utoipa::path(get, path = "/api/v1/projects/{id}/integrations/{integration_id}/poll", tag = "integrations",
    params(("id" = String, Path), ("integration_id" = String, Path)),
    responses((status = 200, description = "Where polling the tracker for changes stands: the cursor, the polls so far, \
                                            tasks that followed the tracker, items imported, the last error",
               body = PollState),
              (status = 404, description = "No such integration, or not polled yet", body = ErrorBody)))]
pub async fn poll_state(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath((project_id, integration_id)): ApiPath<(ProjectId, IntegrationId)>,
) -> Result<Json<PollState>, ApiError> {
    let integration = s.integrations.get(&caller.tenant_id, &project_id, &integration_id).await?;
    let state = s.store.poll_state(&caller.tenant_id, &integration.id).await?;
    Ok(Json(state.ok_or_else(|| ApiError::not_found("poll"))?))
}
