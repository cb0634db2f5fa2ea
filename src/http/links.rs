//! `/api/v1/tasks/{id}/links`: where a task lives in connected trackers.

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::error::{ApiError, ErrorBody, NotFoundExt};
use super::extract::ApiPath;
use crate::domain::id::TaskId;
use crate::domain::tenant::Caller;
use crate::store::TaskLink;

#[utoipa::path(get, path = "/api/v1/tasks/{id}/links", tag = "tasks", params(("id" = String, Path)),
    responses((status = 200, description = "The task's items in connected trackers", body = Vec<TaskLink>),
              (status = 404, body = ErrorBody)))]
pub async fn task_links(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<TaskId>,
) -> Result<Json<Vec<TaskLink>>, ApiError> {
    s.store.get_task(&caller.tenant_id, &id).await.or_not_found("task")?;
    Ok(Json(s.store.task_links(&caller.tenant_id, &id).await?))
}
