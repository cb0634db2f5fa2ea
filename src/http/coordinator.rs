//! `/api/v1/ai`: the coordinator's analysis of the workspace, its chat, and the actions it
//! proposes, which wait for a person's approval.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ErrorBody, NotFoundExt};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::pages::{ActionPage, paginate};
use crate::coordinator::{Analysis, ChatAnswer, Suggestions};
use crate::domain::DomainError;
use crate::domain::coordinator::{Action, ActionStatus, ChatInput, Conversation};
use crate::domain::id::ProjectId;
use crate::domain::list::{PageParams, id_cursor};
use crate::domain::tenant::Caller;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeInput {
    /// Only this project (default: every project of the tenant).
    pub project_id: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/ai/analyze", tag = "ai", request_body = AnalyzeInput,
    responses((status = 200, description = "Findings from the data, each with evidence and a recommendation", body = Analysis),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn analyze(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<AnalyzeInput>,
) -> Result<Json<Analysis>, ApiError> {
    let project = input.project_id.as_deref().map(str::trim).filter(|p| !p.is_empty()).map(ProjectId::from);
    Ok(Json(s.coordinator.analyze(&caller.tenant_id, project.as_ref()).await.or_not_found("project")?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuggestionParams {
    /// The latest analysis of this project (default: of the whole workspace).
    pub project_id: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/ai/suggestions", tag = "ai", params(SuggestionParams),
    responses((status = 200, description = "Follow-ups proposed by the latest analysis (one is made when there is none)",
               body = Suggestions), (status = 404, body = ErrorBody)))]
pub async fn suggestions(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<SuggestionParams>,
) -> Result<Json<Suggestions>, ApiError> {
    let project = params.project_id.as_deref().map(str::trim).filter(|p| !p.is_empty()).map(ProjectId::from);
    Ok(Json(s.coordinator.suggestions(&caller.tenant_id, project.as_ref()).await.or_not_found("project")?))
}

#[utoipa::path(post, path = "/api/v1/ai/chat", tag = "ai", request_body = ChatInput,
    responses((status = 200, description = "The answer, the task ids it is based on, and the ids of the actions it proposes (each waits for approval)",
               body = ChatAnswer),
              (status = 404, description = "No such conversation or project", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn chat(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<ChatInput>,
) -> Result<Json<ChatAnswer>, ApiError> {
    Ok(Json(s.coordinator.chat(&caller, input.validate()?).await?))
}

#[utoipa::path(get, path = "/api/v1/ai/conversations/{id}", params(("id" = String, Path)), tag = "ai",
    responses((status = 200, description = "Every turn, oldest first", body = Conversation), (status = 404, body = ErrorBody)))]
pub async fn get_conversation(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Conversation>, ApiError> {
    Ok(Json(s.store.get_conversation(&caller.tenant_id, &id).await.or_not_found("conversation")?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActionListParams {
    /// `pending`, `approved`, `rejected`, `executed` or `failed`.
    pub status: Option<String>,
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/ai/actions", tag = "ai", params(ActionListParams),
    responses((status = 200, description = "Newest first", body = ActionPage), (status = 400, body = ErrorBody)))]
pub async fn list_actions(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ActionListParams>,
) -> Result<Json<ActionPage>, ApiError> {
    let status = match params.status.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(ActionStatus::parse(v).ok_or_else(|| {
            ApiError::invalid_query(DomainError::invalid(
                "status",
                format!("{v:?} is not one of pending, approved, rejected, executed, failed"),
            ))
        })?),
    };
    let page = PageParams { limit: params.limit, cursor: params.cursor }.validate().map_err(ApiError::invalid_query)?;
    let items = s.store.list_actions(&caller.tenant_id, status, &page).await?;
    Ok(Json(ActionPage::new(paginate(items, page.limit, |a| id_cursor(&a.id)))))
}

#[utoipa::path(get, path = "/api/v1/ai/actions/{id}", params(("id" = String, Path)), tag = "ai",
    responses((status = 200, body = Action), (status = 404, body = ErrorBody)))]
pub async fn get_action(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Action>, ApiError> {
    Ok(Json(s.store.get_action(&caller.tenant_id, &id).await.or_not_found("action")?))
}

#[utoipa::path(post, path = "/api/v1/ai/actions/{id}/approve", params(("id" = String, Path)), tag = "ai",
    responses((status = 200, description = "Approved and carried out: `executed`, or `failed` with the reason", body = Action),
              (status = 202, description = "Approved; still being carried out when the wait ended", body = Action),
              (status = 404, body = ErrorBody),
              (status = 409, description = "Already approved or rejected", body = ErrorBody)))]
pub async fn approve_action(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<Action>), ApiError> {
    let action = approve(&s, &caller, &id).await?;
    let code = if action.status == ActionStatus::Approved { StatusCode::ACCEPTED } else { StatusCode::OK };
    Ok((code, Json(action)))
}

/// Approves action `id` as `caller` and waits (bounded) until it has been carried out:
/// `executed` or `failed`, or still `approved` when the wait ended. The API and the console
/// approve through here.
pub async fn approve(s: &AppState, caller: &Caller, id: &str) -> Result<Action, ApiError> {
    let watch = s.store.watch(id);
    let action = s.coordinator.decide(caller, id, true).await?;
    s.wake_workers.wake(crate::jobs::Lane::Work);
    super::settle::until(
        &watch,
        s.message_wait,
        action,
        |a| a.status != ActionStatus::Approved,
        || async { s.store.get_action(&caller.tenant_id, id).await.or_not_found("action") },
    )
    .await
}

#[utoipa::path(post, path = "/api/v1/ai/actions/{id}/reject", params(("id" = String, Path)), tag = "ai",
    responses((status = 200, description = "Rejected; nothing changes", body = Action), (status = 404, body = ErrorBody),
              (status = 409, description = "Already approved or rejected", body = ErrorBody)))]
pub async fn reject_action(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Action>, ApiError> {
    Ok(Json(s.coordinator.decide(&caller, &id, false).await?))
}

#[utoipa::path(post, path = "/api/v1/ai/follow-ups", tag = "ai",
    responses((status = 200, description = "The follow-ups this check made for overdue and stale tasks (pending, or approved where the project opted in), and the tasks nothing can reach",
               body = crate::coordinator::follow_up::Checked)))]
pub async fn check_follow_ups(
    State(s): State<AppState>,
    caller: Caller,
) -> Result<Json<crate::coordinator::follow_up::Checked>, ApiError> {
    let checked = crate::coordinator::follow_up::run(&s.store, &caller.tenant_id, chrono::Utc::now()).await?;
    if !checked.actions.is_empty() {
        s.wake_workers.wake(crate::jobs::Lane::Work);
    }
    Ok(Json(checked))
}
