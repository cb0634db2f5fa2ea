//! `/api/v1/messages/{id}/accept|merge|decline|unmerge`: a person's decision on a request,
//! and `…/decisions`, the journal of them.

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::error::{ApiError, ErrorBody, NotFoundExt};
use super::extract::{ApiJson, ApiPath};
use super::pages::DecisionPage;
use crate::domain::message::{AcceptInput, DeclineInput, MergeInput, Message};
use crate::domain::tenant::Caller;
use crate::intake::triage;

#[utoipa::path(post, path = "/api/v1/messages/{id}/accept", params(("id" = String, Path)), tag = "messages",
    request_body(content = AcceptInput, description = "Changes to the draft; `{}` takes it as it is"),
    responses(
        (status = 200, description = "The task was made (`task_id`) and the requester is answered", body = Message),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Already decided, or not waiting for triage", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn accept(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<AcceptInput>,
) -> Result<Json<Message>, ApiError> {
    let message = triage::accept(&s.store, &caller, &id, input).await?;
    s.wake_workers.wake_all(); // the push to trackers and the answer
    Ok(Json(message))
}

#[utoipa::path(post, path = "/api/v1/messages/{id}/merge", params(("id" = String, Path)), tag = "messages",
    request_body = MergeInput,
    responses(
        (status = 200, description = "Added to the task as a comment; a possible duplicate's own task is closed", body = Message),
        (status = 404, description = "No such message, or no such task in the message's project", body = ErrorBody),
        (status = 409, description = "Already decided, or neither waiting for triage nor a possible duplicate", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn merge(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<MergeInput>,
) -> Result<Json<Message>, ApiError> {
    let task_id = input.validate()?;
    let message = triage::merge(&s.store, &caller, &id, &task_id).await?;
    s.wake_workers.wake_all();
    Ok(Json(message))
}

#[utoipa::path(post, path = "/api/v1/messages/{id}/decline", params(("id" = String, Path)), tag = "messages",
    request_body = DeclineInput,
    responses(
        (status = 200, description = "Declined; the requester is told the reason", body = Message),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Already decided, or not waiting for triage", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn decline(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<DeclineInput>,
) -> Result<Json<Message>, ApiError> {
    let reason = input.validate()?;
    let message = triage::decline(&s.store, &caller, &id, reason).await?;
    s.wake_workers.wake_all();
    Ok(Json(message))
}

#[utoipa::path(post, path = "/api/v1/messages/{id}/unmerge", params(("id" = String, Path)), tag = "messages",
    responses(
        (status = 200, description = "The request's comment is removed from the task it was merged into, and the request \
            is its own task again (`created`; a possible duplicate merged later: its task reopened, `possible_duplicate`)", body = Message),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Not a merged request, or merged before merges could be undone", body = ErrorBody)))]
pub async fn unmerge(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Message>, ApiError> {
    let message = triage::unmerge(&s.store, &caller, &id).await?;
    s.wake_workers.wake_all();
    Ok(Json(message))
}

#[utoipa::path(get, path = "/api/v1/messages/{id}/decisions", params(("id" = String, Path)), tag = "messages",
    responses((status = 200, description = "Every decision on the request, oldest first (one page)", body = DecisionPage),
              (status = 404, body = ErrorBody)))]
pub async fn decisions(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<DecisionPage>, ApiError> {
    s.store.get_message(&caller.tenant_id, &id).await.or_not_found("message")?;
    let items = s.store.decisions_of(&caller.tenant_id, &id).await?;
    Ok(Json(DecisionPage::new((items, None))))
}
