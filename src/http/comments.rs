//! `/api/v1/comments`

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::error::{ApiError, ErrorBody, NotFoundExt};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::pages::{CommentPage, paginate};
use crate::domain::comment::{Comment, CommentPatchInput, CreateCommentInput};
use crate::domain::list::{PageParams, id_cursor};
use crate::domain::tenant::Caller;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommentListParams {
    /// Only the comments of this task.
    pub task_id: Option<String>,
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/comments", tag = "comments", request_body = CreateCommentInput,
    responses((status = 201, body = Comment), (status = 404, description = "No such task", body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn create_comment(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<CreateCommentInput>,
) -> Result<(StatusCode, Json<Comment>), ApiError> {
    let new = input.validate()?;
    let comment = crate::tasks::comment::add_comment(&s.store, &caller.tenant_id, &new).await.or_not_found("task")?;
    Ok((StatusCode::CREATED, Json(comment)))
}

#[utoipa::path(get, path = "/api/v1/comments", tag = "comments", params(CommentListParams),
    responses((status = 200, body = CommentPage), (status = 400, body = ErrorBody)))]
pub async fn list_comments(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<CommentListParams>,
) -> Result<Json<CommentPage>, ApiError> {
    Ok(Json(CommentPage::new(page(&s, &caller, &params).await?)))
}

pub(super) async fn page(
    s: &AppState,
    caller: &Caller,
    params: &CommentListParams,
) -> Result<(Vec<Comment>, Option<String>), ApiError> {
    let page = PageParams { limit: params.limit, cursor: params.cursor.clone() }
        .validate()
        .map_err(ApiError::invalid_query)?;
    let task_id = params.task_id.as_deref().filter(|t| !t.is_empty());
    let items = s.store.list_comments(&caller.tenant_id, task_id, &page).await?;
    Ok(paginate(items, page.limit, |c| id_cursor(&c.id)))
}

#[utoipa::path(get, path = "/api/v1/comments/{id}", params(("id" = String, Path)), tag = "comments",
    responses((status = 200, body = Comment), (status = 404, body = ErrorBody)))]
pub async fn get_comment(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Comment>, ApiError> {
    Ok(Json(s.store.get_comment(&caller.tenant_id, &id).await.or_not_found("comment")?))
}

#[utoipa::path(patch, path = "/api/v1/comments/{id}", params(("id" = String, Path)), tag = "comments", request_body = CommentPatchInput,
    responses((status = 200, body = Comment), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_comment(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<CommentPatchInput>,
) -> Result<Json<Comment>, ApiError> {
    let content = input.validate()?;
    Ok(Json(s.store.update_comment(&caller.tenant_id, &id, content.as_deref()).await.or_not_found("comment")?))
}

#[utoipa::path(delete, path = "/api/v1/comments/{id}", params(("id" = String, Path)), tag = "comments",
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)))]
pub async fn delete_comment(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    s.store.delete_comment(&caller.tenant_id, &id).await.or_not_found("comment")?;
    Ok(StatusCode::NO_CONTENT)
}
