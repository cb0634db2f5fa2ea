//! `/api/v1/ai`: the coordinator's analysis of the workspace.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ErrorBody, NotFoundExt};
use super::extract::{ApiJson, ApiQuery};
use crate::coordinator::{Analysis, Suggestions};
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
    let project = input.project_id.as_deref().map(str::trim).filter(|p| !p.is_empty());
    Ok(Json(crate::coordinator::analyze(&s.store, &caller.tenant_id, project).await.or_not_found("project")?))
}

#[utoipa::path(post, path = "/ai/analyze", tag = "legacy", request_body = AnalyzeInput,
    responses((status = 200, body = Analysis), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn legacy_analyze(
    state: State<AppState>,
    caller: Caller,
    body: ApiJson<AnalyzeInput>,
) -> Result<Json<Analysis>, ApiError> {
    analyze(state, caller, body).await
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
    let project = params.project_id.as_deref().map(str::trim).filter(|p| !p.is_empty());
    Ok(Json(crate::coordinator::suggestions(&s.store, &caller.tenant_id, project).await.or_not_found("project")?))
}

#[utoipa::path(get, path = "/ai/suggestions", tag = "legacy", params(SuggestionParams),
    responses((status = 200, body = Suggestions), (status = 404, body = ErrorBody)))]
pub async fn legacy_suggestions(
    state: State<AppState>,
    caller: Caller,
    params: ApiQuery<SuggestionParams>,
) -> Result<Json<Suggestions>, ApiError> {
    suggestions(state, caller, params).await
}
