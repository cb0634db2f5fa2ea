//! Sending into conversations (`…/send`) and the conversation history both ways.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::pages::paginate;
use crate::domain::delivery::{Delivery, HistoryItem, NewDelivery, SendInput};
use crate::domain::id::{IntegrationId, ProjectId};
use crate::domain::integration::{Integration, IntegrationType};
use crate::domain::list::{PageParams, id_cursor};
use crate::domain::tenant::Caller;

async fn queue_send(
    s: &AppState,
    caller: &Caller,
    integration: &Integration,
    input: &SendInput,
) -> Result<Delivery, ApiError> {
    let (recipient, target, subject) = input.target(integration.kind)?;
    crate::domain::delivery::check_reachable(&target, &integration.secrets_set)?;
    if let Some(why) = &integration.cannot_send {
        return Err(crate::domain::DomainError::invalid("integration", why.clone()).into());
    }
    let new = NewDelivery {
        project_id: integration.project_id.clone(),
        integration_id: integration.id.clone(),
        platform: integration.kind,
        message_id: None,
        recipient,
        subject,
        text: input.text.as_deref().map(str::trim).unwrap_or_default().to_string(),
        target,
    };
    let id = crate::domain::new_id();
    let delivery = s.store.create_delivery(&caller.tenant_id, &id, &new, &crate::channels::send_job(&id)).await?;
    s.wake_workers.wake(crate::jobs::Lane::Work);
    Ok(delivery)
}

#[utoipa::path(post, path = "/api/v1/projects/{id}/integrations/{integration_id}/send", tag = "integrations",
    params(("id" = String, Path), ("integration_id" = String, Path)), request_body = SendInput,
    responses(
        (status = 202, description = "Recorded and queued; sent by a job with retries", body = Delivery),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn send_message(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath((project_id, integration_id)): ApiPath<(ProjectId, IntegrationId)>,
    ApiJson(input): ApiJson<SendInput>,
) -> Result<(StatusCode, Json<Delivery>), ApiError> {
    let integration = s.integrations.get(&caller.tenant_id, &project_id, &integration_id).await?;
    Ok((StatusCode::ACCEPTED, Json(queue_send(&s, &caller, &integration, &input).await?)))
}

/// The aliases act on the project's integration of the platform.
pub(in crate::http) async fn send_via(
    s: &AppState,
    caller: &Caller,
    kind: IntegrationType,
    input: SendInput,
) -> Result<(StatusCode, Json<Delivery>), ApiError> {
    let project_id = super::projects::project_or_default(s, caller, input.project_id.clone()).await?;
    let integration = s
        .integrations
        .list(&caller.tenant_id, &project_id)
        .await?
        .into_iter()
        .find(|i| i.kind == kind)
        .ok_or_else(|| ApiError::NotFound(format!("the project has no {} integration", kind.as_str())))?;
    Ok((StatusCode::ACCEPTED, Json(queue_send(s, caller, &integration, &input).await?)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// Only this platform (`slack`, `email`, `whatsapp`…) or request source (`api`, `voice`).
    pub platform: Option<String>,
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPage {
    pub items: Vec<HistoryItem>,
    /// Pass as `cursor` to get the next (older) page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/history", tag = "integrations", params(HistoryParams),
    responses((status = 200, description = "Requests received and messages sent, newest first", body = HistoryPage),
              (status = 400, body = ErrorBody)))]
pub async fn history(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<HistoryParams>,
) -> Result<Json<HistoryPage>, ApiError> {
    let page = PageParams { limit: params.limit, cursor: params.cursor }.validate().map_err(ApiError::invalid_query)?;
    let platform = params.platform.as_deref().map(str::trim).filter(|p| !p.is_empty());
    let items = s.store.history(&caller.tenant_id, platform, &page).await?;
    let (items, next_cursor) = paginate(items, page.limit, |i| id_cursor(&i.id));
    Ok(Json(HistoryPage { items, next_cursor }))
}
