//! `/api/v1/tasks`

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;
use super::error::{ApiError, ErrorBody, NotFoundExt};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::pages::{TaskPage, paginate};
use crate::domain::id::TaskId;
use crate::domain::list::{Cursor, TaskListParams, TaskQuery};
use crate::domain::task::{NewTaskInput, StatusInput, Task, TaskPatch, TaskPatchInput};
use crate::domain::tenant::Caller;
use crate::store::Store;

#[utoipa::path(post, path = "/api/v1/tasks", tag = "tasks", request_body = NewTaskInput,
    responses((status = 201, body = Task), (status = 404, description = "No such project", body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn create_task(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<NewTaskInput>,
) -> Result<(StatusCode, Json<Task>), ApiError> {
    let new = input.validate()?;
    let task = crate::tasks::create_task(&s.store, &caller.tenant_id, &new).await.or_not_found("project")?;
    s.wake_workers.wake(crate::jobs::Lane::Work); // pushes to the project's trackers
    Ok((StatusCode::CREATED, Json(task)))
}

#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks", params(TaskListParams),
    responses((status = 200, body = TaskPage), (status = 400, body = ErrorBody)))]
pub async fn list_tasks(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<TaskListParams>,
) -> Result<Json<TaskPage>, ApiError> {
    let query = params.validate().map_err(ApiError::invalid_query)?;
    Ok(Json(TaskPage::new(page(&s.store, &caller, &query).await?)))
}

/// One page of tasks and the cursor of the next.
pub(super) async fn page(
    store: &Store,
    caller: &Caller,
    query: &TaskQuery,
) -> Result<(Vec<Task>, Option<String>), ApiError> {
    let items = store.list_tasks(&caller.tenant_id, query).await?;
    let sort = query.sort;
    Ok(paginate(items, query.page.limit, |t| {
        Cursor { sort: sort.name(), key: sort.key_of(t), id: t.id.to_string() }.encode()
    }))
}

#[utoipa::path(get, path = "/api/v1/tasks/{id}", params(("id" = String, Path)), tag = "tasks",
    responses((status = 200, body = Task), (status = 404, body = ErrorBody)))]
pub async fn get_task(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<TaskId>,
) -> Result<Json<Task>, ApiError> {
    Ok(Json(s.store.get_task(&caller.tenant_id, &id).await.or_not_found("task")?))
}

#[utoipa::path(patch, path = "/api/v1/tasks/{id}", params(("id" = String, Path)), tag = "tasks", request_body = TaskPatchInput,
    responses((status = 200, body = Task), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_task(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<TaskId>,
    ApiJson(input): ApiJson<TaskPatchInput>,
) -> Result<Json<Task>, ApiError> {
    let patch = input.validate()?;
    let task = crate::tasks::update_task(&s.store, &caller.tenant_id, &id, &patch, None).await;
    let task = task.or_not_found("task")?;
    s.wake_workers.wake(crate::jobs::Lane::Work); // status changes travel to linked trackers
    Ok(Json(task))
}

#[utoipa::path(patch, path = "/api/v1/tasks/{id}/status", params(("id" = String, Path)), tag = "tasks", request_body = StatusInput,
    responses((status = 200, body = Task), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_task_status(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<TaskId>,
    ApiJson(input): ApiJson<StatusInput>,
) -> Result<Json<Task>, ApiError> {
    let patch = TaskPatch::status(input.status);
    let task = crate::tasks::update_task(&s.store, &caller.tenant_id, &id, &patch, None).await;
    let task = task.or_not_found("task")?;
    s.wake_workers.wake(crate::jobs::Lane::Work); // status changes travel to linked trackers
    Ok(Json(task))
}

#[utoipa::path(delete, path = "/api/v1/tasks/{id}", params(("id" = String, Path)), tag = "tasks",
    responses((status = 204, description = "Deleted with its comments"), (status = 404, body = ErrorBody)))]
pub async fn delete_task(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<TaskId>,
) -> Result<StatusCode, ApiError> {
    crate::tasks::delete_task(&s.store, &caller.tenant_id, &id).await.or_not_found("task")?;
    Ok(StatusCode::NO_CONTENT)
}
