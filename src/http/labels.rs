//! `/api/v1/labels`

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::error::{ApiError, ErrorBody, NotFoundExt};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::pages::{LabelPage, paginate};
use crate::domain::label::{Label, LabelPatchInput, NewLabelInput};
use crate::domain::list::{PageParams, id_cursor};
use crate::domain::tenant::Caller;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LabelListParams {
    /// Only the labels of this project.
    pub project_id: Option<String>,
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/labels", tag = "labels", request_body = NewLabelInput,
    responses((status = 201, body = Label), (status = 404, description = "No such project", body = ErrorBody),
              (status = 409, description = "The project has a label of this name", body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn create_label(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<NewLabelInput>,
) -> Result<(StatusCode, Json<Label>), ApiError> {
    let new = input.validate()?;
    Ok((StatusCode::CREATED, Json(s.store.create_label(&caller.tenant_id, &new).await.or_not_found("project")?)))
}

#[utoipa::path(get, path = "/api/v1/labels", tag = "labels", params(LabelListParams),
    responses((status = 200, body = LabelPage), (status = 400, body = ErrorBody)))]
pub async fn list_labels(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<LabelListParams>,
) -> Result<Json<LabelPage>, ApiError> {
    let page = PageParams { limit: params.limit, cursor: params.cursor }.validate().map_err(ApiError::invalid_query)?;
    let project_id = params.project_id.as_deref().filter(|p| !p.is_empty());
    let items = s.store.list_labels(&caller.tenant_id, project_id, &page).await?;
    Ok(Json(LabelPage::new(paginate(items, page.limit, |l| id_cursor(&l.id)))))
}

#[utoipa::path(get, path = "/api/v1/labels/{id}", params(("id" = String, Path)), tag = "labels",
    responses((status = 200, body = Label), (status = 404, body = ErrorBody)))]
pub async fn get_label(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Label>, ApiError> {
    Ok(Json(s.store.get_label(&caller.tenant_id, &id).await.or_not_found("label")?))
}

#[utoipa::path(patch, path = "/api/v1/labels/{id}", params(("id" = String, Path)), tag = "labels", request_body = LabelPatchInput,
    responses((status = 200, body = Label), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn update_label(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<LabelPatchInput>,
) -> Result<Json<Label>, ApiError> {
    let patch = input.validate()?;
    Ok(Json(s.store.update_label(&caller.tenant_id, &id, &patch).await.or_not_found("label")?))
}

#[utoipa::path(delete, path = "/api/v1/labels/{id}", params(("id" = String, Path)), tag = "labels",
    responses((status = 204, description = "Deleted and taken off every task"), (status = 404, body = ErrorBody)))]
pub async fn delete_label(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    s.store.delete_label(&caller.tenant_id, &id).await.or_not_found("label")?;
    Ok(StatusCode::NO_CONTENT)
}
