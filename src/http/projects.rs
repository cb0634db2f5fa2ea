//! `/api/v1/projects`

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;
use super::error::{ApiError, ErrorBody, NotFoundExt};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::pages::{ProjectPage, paginate};
use crate::domain::id::ProjectId;
use crate::domain::list::{PageParams, id_cursor as cursor};
use crate::domain::project::{NewProjectInput, Project, ProjectPatchInput};
use crate::domain::tenant::Caller;

#[utoipa::path(post, path = "/api/v1/projects", tag = "projects", request_body = NewProjectInput,
    responses((status = 201, body = Project), (status = 422, body = ErrorBody)))]
pub async fn create_project(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<NewProjectInput>,
) -> Result<(StatusCode, Json<Project>), ApiError> {
    let new = input.validate()?;
    Ok((StatusCode::CREATED, Json(s.store.create_project(&caller.tenant_id, &new).await?)))
}

#[utoipa::path(get, path = "/api/v1/projects", tag = "projects", params(PageParams),
    responses((status = 200, body = ProjectPage), (status = 400, body = ErrorBody)))]
pub async fn list_projects(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<ProjectPage>, ApiError> {
    let page = params.validate().map_err(ApiError::invalid_query)?;
    let items = s.store.list_projects(&caller.tenant_id, &page).await?;
    Ok(Json(ProjectPage::new(paginate(items, page.limit, |p| cursor(&p.id)))))
}

#[utoipa::path(get, path = "/api/v1/projects/{id}", params(("id" = String, Path)), tag = "projects",
    responses((status = 200, body = Project), (status = 404, body = ErrorBody)))]
pub async fn get_project(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ProjectId>,
) -> Result<Json<Project>, ApiError> {
    Ok(Json(s.store.get_project(&caller.tenant_id, &id).await.or_not_found("project")?))
}

#[utoipa::path(patch, path = "/api/v1/projects/{id}", params(("id" = String, Path)), tag = "projects", request_body = ProjectPatchInput,
    responses((status = 200, body = Project), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_project(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ProjectId>,
    ApiJson(input): ApiJson<ProjectPatchInput>,
) -> Result<Json<Project>, ApiError> {
    let patch = input.validate()?;
    Ok(Json(s.store.update_project(&caller.tenant_id, &id, &patch).await.or_not_found("project")?))
}

#[utoipa::path(delete, path = "/api/v1/projects/{id}", params(("id" = String, Path)), tag = "projects",
    responses((status = 204, description = "Deleted with its tasks, labels and comments"), (status = 404, body = ErrorBody)))]
pub async fn delete_project(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ProjectId>,
) -> Result<StatusCode, ApiError> {
    s.store.delete_project(&caller.tenant_id, &id).await.or_not_found("project")?;
    Ok(StatusCode::NO_CONTENT)
}

/// The project named, or the caller's default project ("Inbox", made on first use) when none is.
pub(in crate::http) async fn project_or_default(
    s: &AppState,
    caller: &Caller,
    given: Option<String>,
) -> Result<ProjectId, ApiError> {
    match given.filter(|p| !p.trim().is_empty()) {
        Some(p) => Ok(p.into()),
        None => Ok(s.store.default_project(&caller.tenant_id).await.or_not_found("tenant")?),
    }
}
