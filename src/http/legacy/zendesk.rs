//! `GET /integrations/zendesk/tickets`: the replaced backend's ticket list, read through the
//! project's Zendesk integration.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::integration::IntegrationType;
use crate::domain::tenant::Caller;
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::ApiQuery;
use crate::jobs::JobError;
use crate::trackers::Tracker;
use crate::trackers::zendesk::Zendesk;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketParams {
    /// The project whose Zendesk integration is read; the default project when left out.
    pub project_id: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Ticket {
    pub id: String,
    pub reference: String,
    pub subject: String,
    pub status: String,
    pub url: Option<String>,
    pub description: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketPage {
    pub tickets: Vec<Ticket>,
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/integrations/zendesk/tickets", tag = "legacy", params(TicketParams),
    responses((status = 200, body = TicketPage), (status = 404, description = "No Zendesk integration", body = ErrorBody),
              (status = 400, description = "`not_connected`: the integration lacks its subdomain or credentials", body = ErrorBody),
              (status = 502, description = "Zendesk failed", body = ErrorBody)))]
pub async fn list_tickets(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<TicketParams>,
) -> Result<Json<TicketPage>, ApiError> {
    let project_id = crate::http::projects::project_or_default(&s, &caller, params.project_id).await?;
    let integration = s
        .integrations
        .list(&caller.tenant_id, &project_id)
        .await?
        .into_iter()
        .find(|i| i.kind == IntegrationType::Zendesk)
        .ok_or_else(|| ApiError::NotFound("the project has no zendesk integration".into()))?;
    let (record, secrets) = s.integrations.with_secrets(&caller.tenant_id, &integration.id).await?;
    let upstream = |e: JobError| ApiError::BadGateway(e.to_string());
    // An integration missing what a call needs is the caller's to complete, not Zendesk failing.
    let not_connected = |e: JobError| ApiError::BadRequest { code: "not_connected", message: e.to_string() };
    let zendesk = Zendesk::new(s.outbound.http.clone(), &record.settings, &secrets).map_err(not_connected)?;
    let listing = zendesk.list(params.cursor.as_deref()).await.map_err(upstream)?;
    let tickets = listing
        .items
        .into_iter()
        .map(|l| Ticket {
            id: l.item.id,
            reference: l.item.reference,
            subject: l.item.title,
            status: l.item.status,
            url: l.item.url,
            description: l.description,
        })
        .collect();
    Ok(Json(TicketPage { tickets, next_cursor: listing.next }))
}
