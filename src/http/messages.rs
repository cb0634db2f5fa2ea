//! `/api/v1/messages`: requests in, outcomes out.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::error::{ApiError, ErrorBody, NotFoundExt};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::pages::{MessagePage, paginate};
use crate::domain::id::TenantId;
use crate::domain::list::id_cursor;
use crate::domain::message::{Message, MessageListParams, NewMessage, NewMessageInput};
use crate::domain::tenant::Caller;
use crate::store::StoreError;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitParams {
    /// Wait (bounded by the server's limit) for the outcome instead of answering at once.
    #[serde(default)]
    pub wait: bool,
}

#[utoipa::path(post, path = "/api/v1/messages", tag = "messages", request_body = NewMessageInput, params(WaitParams),
    responses(
        (status = 202, description = "Accepted: persisted and queued, before any model call", body = Message),
        (status = 200, description = "With wait=true: processed, with its outcome", body = Message),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn create_message(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<WaitParams>,
    ApiJson(input): ApiJson<NewMessageInput>,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    let new = input.validate()?;
    let message = accept(&s, &caller.tenant_id, &new).await.or_not_found("project")?;
    if !params.wait {
        return Ok((StatusCode::ACCEPTED, Json(message)));
    }
    answer_with_outcome(&s, &caller.tenant_id, message).await
}

/// Accepts a message (persisted with its job) and wakes this instance's idle workers.
pub(super) async fn accept(s: &AppState, tenant_id: &TenantId, new: &NewMessage) -> Result<Message, StoreError> {
    let message = s.intake.accept(tenant_id, new).await?;
    s.wake_workers.wake(crate::jobs::Lane::Intake);
    Ok(message)
}

/// Waits for the outcome: 200 with it, or 202 if it is still pending when the wait ends.
pub(super) async fn answer_with_outcome(
    s: &AppState,
    tenant_id: &TenantId,
    message: Message,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    let message = wait_for_outcome(s, tenant_id, message).await?;
    let status = if message.status.is_final() { StatusCode::OK } else { StatusCode::ACCEPTED };
    Ok((status, Json(message)))
}

/// Waits until the message has its outcome (written by any instance) or the limit passes.
async fn wait_for_outcome(s: &AppState, tenant_id: &TenantId, message: Message) -> Result<Message, ApiError> {
    wait_at_most(s, tenant_id, message, s.message_wait).await
}

/// Like [`wait_for_outcome`], with its own limit.
pub(super) async fn wait_at_most(
    s: &AppState,
    tenant_id: &TenantId,
    message: Message,
    limit: Duration,
) -> Result<Message, ApiError> {
    let watch = s.store.watch(&message.id);
    let id = message.id.clone();
    super::settle::until(
        &watch,
        limit,
        message,
        |m| m.status.is_final(),
        || async { s.store.get_message(tenant_id, &id).await.or_not_found("message") },
    )
    .await
}

#[utoipa::path(get, path = "/api/v1/messages/{id}", params(("id" = String, Path)), tag = "messages",
    responses((status = 200, body = Message), (status = 404, body = ErrorBody)))]
pub async fn get_message(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Message>, ApiError> {
    Ok(Json(s.store.get_message(&caller.tenant_id, &id).await.or_not_found("message")?))
}

#[utoipa::path(post, path = "/api/v1/messages/{id}/retry", params(("id" = String, Path)), tag = "messages",
    responses(
        (status = 200, description = "Queued again (`queued`): processed from the start by its own job, with fresh attempts", body = Message),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The request did not fail (or was retried already)", body = ErrorBody)))]
pub async fn retry_message(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Message>, ApiError> {
    let message = crate::intake::retry_failed(&s.store, &caller.tenant_id, &id).await.or_not_found("message")?;
    s.wake_workers.wake(crate::jobs::Lane::Intake);
    Ok(Json(message))
}

#[utoipa::path(get, path = "/api/v1/messages", tag = "messages", params(MessageListParams),
    responses((status = 200, description = "Newest first", body = MessagePage), (status = 400, body = ErrorBody)))]
pub async fn list_messages(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<MessageListParams>,
) -> Result<Json<MessagePage>, ApiError> {
    Ok(Json(MessagePage::new(page(&s.store, &caller, &params).await?)))
}

/// One page of the caller's messages and the next page's cursor, as `GET /api/v1/messages`
/// answers (the console's inbox too).
pub(in crate::http) async fn page(
    store: &crate::store::Store,
    caller: &Caller,
    params: &MessageListParams,
) -> Result<(Vec<Message>, Option<String>), ApiError> {
    let (filter, page) = params.validate().map_err(ApiError::invalid_query)?;
    let items = store.list_messages(&caller.tenant_id, &filter, &page).await?;
    Ok(paginate(items, page.limit, |m| id_cursor(&m.id)))
}
