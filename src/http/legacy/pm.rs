//! Routes of the project-management system taskbridge replaces, kept as thin aliases.
//! They share the v1 handlers; the differences are the replaced system's: `PUT` updates
//! (partially, like v1's `PATCH`) and lists answer a plain JSON array of every match.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::domain::comment::{Comment, CommentPatchInput, CreateCommentInput, NewCommentInput};
use crate::domain::id::{ProjectId, TaskId};
use crate::domain::list::{Cursor, MAX_LIMIT, PageParams, TaskListParams, id_cursor};
use crate::domain::project::{NewProjectInput, Project, ProjectPatchInput};
use crate::domain::task::{NewTaskInput, StatusInput, Task, TaskPatchInput};
use crate::domain::tenant::Caller;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::pages::paginate;
use crate::http::{AppState, comments, projects, tasks};

/// A plain-array list stops here; the v1 routes page through any number.
pub const LEGACY_LIST_MAX: usize = 10_000;

#[utoipa::path(get, path = "/api/projects", tag = "legacy",
    responses((status = 200, body = Vec<Project>)))]
pub async fn legacy_list_projects(State(s): State<AppState>, caller: Caller) -> Result<Json<Vec<Project>>, ApiError> {
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = PageParams { limit: Some(MAX_LIMIT), cursor }.validate().map_err(ApiError::invalid_query)?;
        let (items, next) =
            paginate(s.store.list_projects(&caller.tenant_id, &page).await?, page.limit, |p| id_cursor(&p.id));
        all.extend(items);
        match next {
            Some(c) if all.len() < LEGACY_LIST_MAX => cursor = Some(c),
            _ => break,
        }
    }
    all.truncate(LEGACY_LIST_MAX);
    Ok(Json(all))
}

#[utoipa::path(post, path = "/api/projects", tag = "legacy", request_body = NewProjectInput,
    responses((status = 201, body = Project), (status = 422, body = ErrorBody)))]
pub async fn legacy_create_project(
    state: State<AppState>,
    caller: Caller,
    body: ApiJson<NewProjectInput>,
) -> Result<(StatusCode, Json<Project>), ApiError> {
    projects::create_project(state, caller, body).await
}

#[utoipa::path(get, path = "/api/projects/{id}", params(("id" = String, Path)), tag = "legacy",
    responses((status = 200, body = Project), (status = 404, body = ErrorBody)))]
pub async fn legacy_get_project(
    state: State<AppState>,
    caller: Caller,
    id: ApiPath<ProjectId>,
) -> Result<Json<Project>, ApiError> {
    projects::get_project(state, caller, id).await
}

#[utoipa::path(put, path = "/api/projects/{id}", params(("id" = String, Path)), tag = "legacy", request_body = ProjectPatchInput,
    responses((status = 200, body = Project), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn legacy_update_project(
    state: State<AppState>,
    caller: Caller,
    id: ApiPath<ProjectId>,
    body: ApiJson<ProjectPatchInput>,
) -> Result<Json<Project>, ApiError> {
    projects::update_project(state, caller, id, body).await
}

#[utoipa::path(delete, path = "/api/projects/{id}", params(("id" = String, Path)), tag = "legacy",
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)))]
pub async fn legacy_delete_project(
    state: State<AppState>,
    caller: Caller,
    id: ApiPath<ProjectId>,
) -> Result<StatusCode, ApiError> {
    projects::delete_project(state, caller, id).await
}

#[utoipa::path(get, path = "/api/tasks", tag = "legacy", params(TaskListParams),
    responses((status = 200, body = Vec<Task>), (status = 400, body = ErrorBody)))]
pub async fn legacy_list_tasks(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<TaskListParams>,
) -> Result<Json<Vec<Task>>, ApiError> {
    let params = TaskListParams { limit: Some(MAX_LIMIT), cursor: None, ..params };
    let mut query = params.validate().map_err(ApiError::invalid_query)?;
    let mut all = Vec::new();
    loop {
        let (items, next) = tasks::page(&s.store, &caller, &query).await?;
        all.extend(items);
        match next {
            Some(c) if all.len() < LEGACY_LIST_MAX => {
                query.page.after = Some(Cursor::decode(&c, &query.sort.name()).map_err(ApiError::invalid_query)?);
            }
            _ => break,
        }
    }
    all.truncate(LEGACY_LIST_MAX);
    Ok(Json(all))
}

#[utoipa::path(post, path = "/api/tasks", tag = "legacy", request_body = NewTaskInput,
    responses((status = 201, body = Task), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn legacy_create_task(
    state: State<AppState>,
    caller: Caller,
    body: ApiJson<NewTaskInput>,
) -> Result<(StatusCode, Json<Task>), ApiError> {
    tasks::create_task(state, caller, body).await
}

#[utoipa::path(get, path = "/api/tasks/{id}", params(("id" = String, Path)), tag = "legacy",
    responses((status = 200, body = Task), (status = 404, body = ErrorBody)))]
pub async fn legacy_get_task(
    state: State<AppState>,
    caller: Caller,
    id: ApiPath<TaskId>,
) -> Result<Json<Task>, ApiError> {
    tasks::get_task(state, caller, id).await
}

#[utoipa::path(put, path = "/api/tasks/{id}", params(("id" = String, Path)), tag = "legacy", request_body = TaskPatchInput,
    responses((status = 200, body = Task), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn legacy_update_task(
    state: State<AppState>,
    caller: Caller,
    id: ApiPath<TaskId>,
    body: ApiJson<TaskPatchInput>,
) -> Result<Json<Task>, ApiError> {
    tasks::update_task(state, caller, id, body).await
}

#[utoipa::path(patch, path = "/api/tasks/{id}/status", params(("id" = String, Path)), tag = "legacy", request_body = StatusInput,
    responses((status = 200, body = Task), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn legacy_set_task_status(
    state: State<AppState>,
    caller: Caller,
    id: ApiPath<TaskId>,
    body: ApiJson<StatusInput>,
) -> Result<Json<Task>, ApiError> {
    tasks::set_task_status(state, caller, id, body).await
}

#[utoipa::path(delete, path = "/api/tasks/{id}", params(("id" = String, Path)), tag = "legacy",
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)))]
pub async fn legacy_delete_task(
    state: State<AppState>,
    caller: Caller,
    id: ApiPath<TaskId>,
) -> Result<StatusCode, ApiError> {
    tasks::delete_task(state, caller, id).await
}

#[utoipa::path(get, path = "/api/comments", tag = "legacy", params(comments::CommentListParams),
    responses((status = 200, body = Vec<Comment>), (status = 400, body = ErrorBody)))]
pub async fn legacy_list_comments(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<comments::CommentListParams>,
) -> Result<Json<Vec<Comment>>, ApiError> {
    let mut params = comments::CommentListParams { limit: Some(MAX_LIMIT), cursor: None, ..params };
    let mut all = Vec::new();
    loop {
        let (items, next) = comments::page(&s, &caller, &params).await?;
        all.extend(items);
        match next {
            Some(c) if all.len() < LEGACY_LIST_MAX => params.cursor = Some(c),
            _ => break,
        }
    }
    all.truncate(LEGACY_LIST_MAX);
    Ok(Json(all))
}

#[utoipa::path(post, path = "/api/comments", tag = "legacy", request_body = NewCommentInput,
    responses((status = 201, body = Comment), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn legacy_create_comment(
    state: State<AppState>,
    caller: Caller,
    ApiJson(comment): ApiJson<NewCommentInput>,
) -> Result<(StatusCode, Json<Comment>), ApiError> {
    comments::create_comment(state, caller, ApiJson(CreateCommentInput { comment, notify_requester: None })).await
}

#[utoipa::path(get, path = "/api/comments/{id}", params(("id" = String, Path)), tag = "legacy",
    responses((status = 200, body = Comment), (status = 404, body = ErrorBody)))]
pub async fn legacy_get_comment(
    state: State<AppState>,
    caller: Caller,
    id: ApiPath<String>,
) -> Result<Json<Comment>, ApiError> {
    comments::get_comment(state, caller, id).await
}

#[utoipa::path(put, path = "/api/comments/{id}", params(("id" = String, Path)), tag = "legacy", request_body = CommentPatchInput,
    responses((status = 200, body = Comment), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn legacy_update_comment(
    state: State<AppState>,
    caller: Caller,
    id: ApiPath<String>,
    body: ApiJson<CommentPatchInput>,
) -> Result<Json<Comment>, ApiError> {
    comments::update_comment(state, caller, id, body).await
}

#[utoipa::path(delete, path = "/api/comments/{id}", params(("id" = String, Path)), tag = "legacy",
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)))]
pub async fn legacy_delete_comment(
    state: State<AppState>,
    caller: Caller,
    id: ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    comments::delete_comment(state, caller, id).await
}
