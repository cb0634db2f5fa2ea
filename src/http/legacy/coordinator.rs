//! The replaced systems' coordinator routes, over the v1 handlers of `http::coordinator`.

use axum::Json;
use axum::extract::State;

use crate::coordinator::{Analysis, ChatAnswer, Suggestions};
use crate::domain::coordinator::ChatInput;
use crate::domain::tenant::Caller;
use crate::http::AppState;
use crate::http::coordinator::*;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::pages::ActionPage;

#[utoipa::path(post, path = "/ai/analyze", tag = "legacy", request_body = AnalyzeInput,
    responses((status = 200, body = Analysis), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn legacy_analyze(
    state: State<AppState>,
    caller: Caller,
    body: ApiJson<AnalyzeInput>,
) -> Result<Json<Analysis>, ApiError> {
    analyze(state, caller, body).await
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

#[utoipa::path(post, path = "/ai/chat", tag = "legacy", request_body = ChatInput,
    responses((status = 200, body = ChatAnswer), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn legacy_chat(
    state: State<AppState>,
    caller: Caller,
    body: ApiJson<ChatInput>,
) -> Result<Json<ChatAnswer>, ApiError> {
    chat(state, caller, body).await
}

/// The replaced backend's "pending actions": without `status` only pending ones are listed;
/// `status=all` lists every action, as the canonical route does unfiltered.
#[utoipa::path(get, path = "/ai/actions", tag = "legacy", params(ActionListParams),
    responses((status = 200, description = "Pending actions unless `status` says otherwise (`all` for every one), newest first",
               body = ActionPage), (status = 400, body = ErrorBody)))]
pub async fn legacy_list_actions(
    state: State<AppState>,
    caller: Caller,
    ApiQuery(mut params): ApiQuery<ActionListParams>,
) -> Result<Json<ActionPage>, ApiError> {
    params.status = legacy_status(params.status);
    list_actions(state, caller, ApiQuery(params)).await
}

/// No status means pending; `all` means no filter; anything else is the canonical filter.
fn legacy_status(status: Option<String>) -> Option<String> {
    match status.as_deref().map(str::trim) {
        None | Some("") => Some("pending".into()),
        Some(v) if v.eq_ignore_ascii_case("all") => None,
        Some(_) => status,
    }
}
