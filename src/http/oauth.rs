//! OAuth installs: the authorize URL for a project (and the replaced system's alias), and
//! the public callback the provider sends the browser back to.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiPath, ApiQuery};
use crate::domain::id::ProjectId;
use crate::domain::tenant::Caller;
use crate::oauth::{Callback, InstallOptions, OAuthError};
use crate::store::StoreError;

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        match e {
            // 400, as the replaced framework answered a type it does not install.
            e @ OAuthError::UnknownProvider(_) => {
                ApiError::BadRequest { code: "unsupported_integration", message: e.to_string() }
            }
            e @ OAuthError::NotConfigured(..) => {
                ApiError::BadRequest { code: "oauth_not_configured", message: e.to_string() }
            }
            OAuthError::Invalid(m) => ApiError::Validation(m),
            OAuthError::State(e) => {
                tracing::warn!(error = %e, "the OAuth state store failed");
                ApiError::Unavailable("the install cannot be started right now; try again".into())
            }
            OAuthError::Store(StoreError::NotFound) => ApiError::not_found("project"),
            OAuthError::Store(e) => e.into(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InstallParams {
    /// Zendesk: the account (`acme` for acme.zendesk.com).
    pub subdomain: Option<String>,
    /// Teams: the Microsoft tenant to sign in to (default `TASKBRIDGE_OAUTH_TEAMS_TENANT`, else `common`).
    pub ms_tenant: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InstallAnswer {
    /// Send the admin's browser here; the provider comes back to the callback.
    pub oauth_url: String,
}

pub(in crate::http) async fn install(
    s: &AppState,
    caller: &Caller,
    project_id: &ProjectId,
    kind: &str,
    params: InstallParams,
) -> Result<Json<InstallAnswer>, ApiError> {
    if !caller.is_admin() {
        return Err(ApiError::Forbidden("connecting an integration needs an admin key"));
    }
    let options = InstallOptions { subdomain: params.subdomain, ms_tenant: params.ms_tenant };
    let oauth_url = s.oauth.install_url(caller, project_id, kind, &options).await?;
    Ok(Json(InstallAnswer { oauth_url }))
}

#[utoipa::path(get, path = "/api/v1/projects/{id}/integrations/{integration_type}/install", tag = "integrations",
    params(("id" = String, Path), ("integration_type" = String, Path, description = "slack, discord, teams, atlassian or zendesk"),
           InstallParams),
    responses((status = 200, description = "Where to send the admin to authorize", body = InstallAnswer),
              (status = 400, description = "The provider is not configured (`oauth_not_configured`), or the type does not install with OAuth (`unsupported_integration`)", body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn install_url(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath((project_id, kind)): ApiPath<(ProjectId, String)>,
    ApiQuery(params): ApiQuery<InstallParams>,
) -> Result<Json<InstallAnswer>, ApiError> {
    install(&s, &caller, &project_id, &kind, params).await
}

/// The callback's query, for the document (the handler reads it leniently itself).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    /// Set by the provider when the admin declined.
    pub error: Option<String>,
    pub error_description: Option<String>,
}

#[utoipa::path(get, path = "/api/public/integrations/{integration_type}/callback", tag = "integrations", security(()),
    params(("integration_type" = String, Path), CallbackParams),
    responses((status = 302, description = "To `{TASKBRIDGE_FRONTEND_URL}/dashboard?integration={type}&status=success`, \
               or `&status=error&error=` one of `{type}_oauth_denied`, `missing_code`, `missing_state`, `invalid_state`, \
               `token_exchange_failed`, `storage_failed`")))]
pub async fn callback(
    State(s): State<AppState>,
    ApiPath(kind): ApiPath<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    // Read leniently: whatever the browser brings, the answer is a redirect.
    let mut callback = Callback::default();
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let field = match key.as_ref() {
            "code" => &mut callback.code,
            "state" => &mut callback.state,
            "error" => &mut callback.error,
            _ => continue,
        };
        field.get_or_insert_with(|| value.into_owned());
    }
    let location = s.oauth.callback(&kind, &callback).await;
    (StatusCode::FOUND, [(header::LOCATION, location), (header::CACHE_CONTROL, "no-store".to_string())]).into_response()
}
