//! `/api/v1/ai`: the coordinator's analysis of the workspace.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ErrorBody, NotFoundExt};
use super::extract::ApiJson;
use crate::coordinator::Analysis;
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
