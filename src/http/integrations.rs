//! `/api/v1/projects/{id}/integrations`: per-project platform connections.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{Admin, ApiJson, ApiPath};
use super::pages::IntegrationPage;
use crate::domain::id::{IntegrationId, ProjectId};
use crate::domain::integration::{Integration, IntegrationPatchInput, NewIntegrationInput};
use crate::domain::tenant::Caller;
use crate::integrations::IntegrationError;
use crate::store::{MailboxState, StoreError};

/// 404s name what was missing.
fn not_found(what: &'static str) -> impl Fn(IntegrationError) -> ApiError {
    move |e| match e {
        IntegrationError::Store(StoreError::NotFound) => ApiError::not_found(what),
        other => other.into(),
    }
}

#[utoipa::path(post, path = "/api/v1/projects/{id}/integrations", params(("id" = String, Path)), tag = "integrations",
    request_body = NewIntegrationInput,
    responses((status = 201, body = Integration),
              (status = 403, description = "Only admin keys change integrations", body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "The project already has an integration of this type (outgoing webhooks excepted)", body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn create_integration(
    State(s): State<AppState>,
    Admin(caller): Admin,
    ApiPath(project_id): ApiPath<ProjectId>,
    ApiJson(input): ApiJson<NewIntegrationInput>,
) -> Result<(StatusCode, Json<Integration>), ApiError> {
    Ok((StatusCode::CREATED, Json(create(&s, &caller, &project_id, input).await?)))
}

/// Creates an integration and starts polling it when it is a tracker (the API and the console).
pub(in crate::http) async fn create(
    s: &AppState,
    caller: &Caller,
    project_id: &ProjectId,
    input: NewIntegrationInput,
) -> Result<Integration, ApiError> {
    let created = s.integrations.create(&caller.tenant_id, project_id, input).await.map_err(not_found("project"))?;
    tracing::info!(integration_id = %created.id, kind = created.kind.as_str(), "integration created");
    crate::sync::poll::start(&s.store, &caller.tenant_id, &created, s.tracker_poll).await;
    crate::intake::mailbox::start(&s.store, &caller.tenant_id, &created, s.mailbox_poll).await;
    s.mailbox_watch.nudge();
    Ok(created)
}

#[utoipa::path(get, path = "/api/v1/projects/{id}/integrations", params(("id" = String, Path)), tag = "integrations",
    responses((status = 200, body = IntegrationPage), (status = 404, body = ErrorBody)))]
pub async fn list_integrations(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(project_id): ApiPath<ProjectId>,
) -> Result<Json<IntegrationPage>, ApiError> {
    let items = s.integrations.list(&caller.tenant_id, &project_id).await.map_err(not_found("project"))?;
    Ok(Json(IntegrationPage::new((items, None))))
}

#[utoipa::path(get, path = "/api/v1/projects/{id}/integrations/{integration_id}", params(("id" = String, Path), ("integration_id" = String, Path)), tag = "integrations",
    responses((status = 200, body = Integration), (status = 404, body = ErrorBody)))]
pub async fn get_integration(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath((project_id, id)): ApiPath<(ProjectId, IntegrationId)>,
) -> Result<Json<Integration>, ApiError> {
    Ok(Json(s.integrations.get(&caller.tenant_id, &project_id, &id).await.map_err(not_found("integration"))?))
}

#[utoipa::path(patch, path = "/api/v1/projects/{id}/integrations/{integration_id}", params(("id" = String, Path), ("integration_id" = String, Path)), tag = "integrations",
    request_body = IntegrationPatchInput,
    responses((status = 200, body = Integration), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn update_integration(
    State(s): State<AppState>,
    Admin(caller): Admin,
    ApiPath((project_id, id)): ApiPath<(ProjectId, IntegrationId)>,
    ApiJson(patch): ApiJson<IntegrationPatchInput>,
) -> Result<Json<Integration>, ApiError> {
    Ok(Json(update(&s, &caller, &project_id, &id, patch).await?))
}

/// Changes an integration's settings and secrets (the API and the console).
pub(in crate::http) async fn update(
    s: &AppState,
    caller: &Caller,
    project_id: &ProjectId,
    id: &IntegrationId,
    patch: IntegrationPatchInput,
) -> Result<Integration, ApiError> {
    let updated =
        s.integrations.update(&caller.tenant_id, project_id, id, patch).await.map_err(not_found("integration"))?;
    // A polling chain that ended (its job died) starts again when the integration is fixed.
    crate::sync::poll::start(&s.store, &caller.tenant_id, &updated, s.tracker_poll).await;
    crate::intake::mailbox::start(&s.store, &caller.tenant_id, &updated, s.mailbox_poll).await;
    s.mailbox_watch.nudge();
    Ok(updated)
}

#[utoipa::path(delete, path = "/api/v1/projects/{id}/integrations/{integration_id}", params(("id" = String, Path), ("integration_id" = String, Path)), tag = "integrations",
    responses((status = 204, description = "Deleted with its secrets"), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn delete_integration(
    State(s): State<AppState>,
    Admin(caller): Admin,
    ApiPath((project_id, id)): ApiPath<(ProjectId, IntegrationId)>,
) -> Result<StatusCode, ApiError> {
    delete(&s, &caller, &project_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes an integration with its secrets, revoking its token at the provider first.
pub(in crate::http) async fn delete(
    s: &AppState,
    caller: &Caller,
    project_id: &ProjectId,
    id: &IntegrationId,
) -> Result<(), ApiError> {
    s.integrations.get(&caller.tenant_id, project_id, id).await.map_err(not_found("integration"))?;
    // Best effort: a token the provider cannot be told about still goes with the record.
    if let Err(why) = s.oauth.revoke_at_provider(&caller.tenant_id, id).await {
        tracing::warn!(integration_id = %id, why, "the token could not be revoked at the provider");
    }
    s.integrations.delete(&caller.tenant_id, project_id, id).await.map_err(not_found("integration"))?;
    tracing::info!(integration_id = %id, "integration deleted");
    Ok(())
}

#[utoipa::path(post, path = "/api/v1/projects/{id}/integrations/{integration_id}/disconnect",
    params(("id" = String, Path), ("integration_id" = String, Path)), tag = "integrations",
    responses((status = 200, description = "Token revoked at the provider where it allows, secrets deleted, status \
               `revoked` (`last_error` says if the provider could not be told)", body = Integration),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn disconnect_integration(
    State(s): State<AppState>,
    Admin(caller): Admin,
    ApiPath((project_id, id)): ApiPath<(ProjectId, IntegrationId)>,
) -> Result<Json<Integration>, ApiError> {
    Ok(Json(disconnect(&s, &caller, &project_id, &id).await?))
}

/// Disconnects an integration: its token revoked where the provider allows, secrets gone.
pub(in crate::http) async fn disconnect(
    s: &AppState,
    caller: &Caller,
    project_id: &ProjectId,
    id: &IntegrationId,
) -> Result<Integration, ApiError> {
    s.oauth.disconnect(&caller.tenant_id, project_id, id).await.map_err(not_found("integration"))
}

#[utoipa::path(get, path = "/api/v1/projects/{id}/integrations/{integration_id}/mailbox", tag = "integrations",
    params(("id" = String, Path), ("integration_id" = String, Path)),
    responses((status = 200, description = "Where reading an e-mail integration's mailbox stands: `idle` (a connection \
                                            waiting in IMAP IDLE) or `poll`, the folder's UIDVALIDITY and last UID taken, \
                                            reads and messages taken so far, the last success, and the last error \
                                            (never a password)",
               body = MailboxState),
              (status = 404, description = "No such integration, or its mailbox not read yet", body = ErrorBody)))]
pub async fn mailbox_state(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath((project_id, id)): ApiPath<(ProjectId, IntegrationId)>,
) -> Result<Json<MailboxState>, ApiError> {
    let integration =
        s.integrations.get(&caller.tenant_id, &project_id, &id).await.map_err(not_found("integration"))?;
    let state = s.store.mailbox_state(&caller.tenant_id, &integration.id).await?;
    Ok(Json(state.ok_or_else(|| ApiError::not_found("mailbox"))?))
}
