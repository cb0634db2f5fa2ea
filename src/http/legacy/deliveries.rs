//! The replaced systems' deliveries routes, over the v1 handlers of `http::deliveries`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::domain::delivery::{Delivery, SendInput};
use crate::domain::integration::IntegrationType;
use crate::domain::tenant::Caller;
use crate::http::AppState;
use crate::http::deliveries::*;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiQuery};

#[utoipa::path(post, path = "/integrations/whatsapp/send", tag = "legacy", request_body = SendInput,
    responses((status = 202, body = Delivery), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn send_whatsapp(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<SendInput>,
) -> Result<(StatusCode, Json<Delivery>), ApiError> {
    send_via(&s, &caller, IntegrationType::Whatsapp, input).await
}

#[utoipa::path(post, path = "/integrations/telegram/send", tag = "legacy", request_body = SendInput,
    responses((status = 202, body = Delivery), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn send_telegram(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<SendInput>,
) -> Result<(StatusCode, Json<Delivery>), ApiError> {
    send_via(&s, &caller, IntegrationType::Telegram, input).await
}

#[utoipa::path(post, path = "/integrations/email/send", tag = "legacy", request_body = SendInput,
    responses((status = 202, body = Delivery), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn send_email(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<SendInput>,
) -> Result<(StatusCode, Json<Delivery>), ApiError> {
    send_via(&s, &caller, IntegrationType::Email, input).await
}

#[utoipa::path(get, path = "/integrations/history", tag = "legacy", params(HistoryParams),
    responses((status = 200, body = HistoryPage), (status = 400, body = ErrorBody)))]
pub async fn legacy_history(
    state: State<AppState>,
    caller: Caller,
    params: ApiQuery<HistoryParams>,
) -> Result<Json<HistoryPage>, ApiError> {
    history(state, caller, params).await
}
