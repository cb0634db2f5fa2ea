//! The replaced systems' sync routes, over the v1 handlers of `http::sync`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use crate::domain::tenant::Caller;
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::ApiJson;
use crate::http::sync::*;

#[utoipa::path(post, path = "/sync_task", tag = "legacy", request_body = LegacySyncTask,
    responses((status = 200, description = "The run finished: the plain list of results, one per open task found, as \
                                            the replaced automator answered", body = Vec<Object>,
               headers(("Location" = String, description = "/api/v1/sync-runs/{run_id}: the run and its journal"),
                       ("X-Sync-Run-Id" = String, description = "The run's id"))),
              (status = 202, description = "Still running when the wait ended: no list yet; follow the run at Location",
               body = StillRunning,
               headers(("Location" = String, description = "/api/v1/sync-runs/{run_id}"),
                       ("X-Sync-Run-Id" = String, description = "The run's id"))),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 502, body = ErrorBody)))]
pub async fn legacy_sync_task(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<LegacySyncTask>,
) -> Result<Response, ApiError> {
    let project_id = crate::http::projects::project_or_default(&s, &caller, input.project_id).await?;
    sync_tasks(&s, &caller, &project_id, &input.request).await.map(listed)
}

#[utoipa::path(post, path = "/sync_project", tag = "legacy", request_body = LegacySyncProject,
    responses((status = 200, body = RunAnswer), (status = 202, body = RunAnswer), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn legacy_sync_project(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<LegacySyncProject>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let project_id = crate::http::projects::project_or_default(&s, &caller, input.project_id).await?;
    sync_project(&s, &caller, &project_id, &input.request).await
}

#[utoipa::path(post, path = "/undo_sync_task", tag = "legacy",
    request_body(content = Object, description = "What /sync_task answered — the plain list of results (the run \
                                                   is found from them: the tenant's task sync of the project whose \
                                                   journal created every issue they name, which is marked undone) \
                                                   — or a whole answer `{run_id, results}` (with an optional \
                                                   `project_id`)"),
    responses((status = 200, body = RunAnswer), (status = 202, body = RunAnswer), (status = 400, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn legacy_undo_sync_task(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (items, project_id, of) = match body {
        Value::Array(items) => (items, None, None),
        Value::Object(mut answer) => {
            let project = answer.get("project_id").and_then(Value::as_str).map(str::to_string);
            let of = answer.get("run_id").and_then(Value::as_str).map(str::to_string);
            match answer.remove("results") {
                Some(Value::Array(items)) => (items, project, of),
                _ => return Err(ApiError::Validation("expected the results list, or an answer with `results`".into())),
            }
        }
        _ => return Err(ApiError::Validation("expected the results list, or an answer with `results`".into())),
    };
    let project_id = crate::http::projects::project_or_default(&s, &caller, project_id).await?;
    // Only a run of this tenant is marked undone; the items are what the caller sent. A
    // plain list (or an unknown run id) leaves finding the run to the items themselves.
    let of = match of {
        Some(id) => s.store.sync_run(&caller.tenant_id, &id).await?.map(|r| r.id),
        None => None,
    };
    let undo = crate::sync::start_undo(&s.store, &s.integrations, &caller.tenant_id, &project_id, of.as_deref(), items)
        .await?;
    settle(&s, &caller.tenant_id, undo).await.map(|run| answered(&run))
}
