//! `/api/v1/tenants` and `/api/v1/api-keys`

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ErrorBody, NotFoundExt};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::pages::{ApiKeyPage, paginate};
use crate::domain::list::{PageParams, id_cursor};
use crate::domain::tenant::{ApiKey, Caller, NewApiKeyInput, NewTenantInput, Role, Tenant};

/// A new tenant with its first admin key, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedTenant {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub api_key: String,
}

/// A new API key, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub api_key: String,
}

/// Who a key is: its tenant, its role and the project the aliases act on.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub tenant: Tenant,
    pub role: Role,
    /// The key itself (id, name, role), never its secret.
    pub key: ApiKey,
    /// The tenant's default project, where the replaced systems' routes act when no
    /// project is named (made, as "Inbox", on first use).
    pub default_project: ProjectRef,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectRef {
    pub id: String,
    pub name: String,
}

#[utoipa::path(get, path = "/api/v1/me", tag = "tenants",
    responses((status = 200, description = "The calling key's tenant, role and default project", body = Me),
              (status = 401, body = ErrorBody)))]
pub async fn me(State(s): State<AppState>, caller: Caller) -> Result<Json<Me>, ApiError> {
    let (tenant, key) = s.store.caller_details(&caller).await.or_not_found("tenant")?;
    let project_id = s.store.default_project(&caller.tenant_id).await.or_not_found("tenant")?;
    let project = s.store.get_project(&caller.tenant_id, &project_id).await.or_not_found("project")?;
    Ok(Json(Me {
        tenant,
        role: caller.role,
        key,
        default_project: ProjectRef { id: project.id.into(), name: project.name },
    }))
}

#[utoipa::path(post, path = "/api/v1/tenants", tag = "tenants", request_body = NewTenantInput,
    responses((status = 201, body = CreatedTenant),
              (status = 403, description = "Only admins of the default tenant create tenants", body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn create_tenant(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<NewTenantInput>,
) -> Result<(StatusCode, Json<CreatedTenant>), ApiError> {
    if !caller.is_default_tenant_admin() {
        return Err(ApiError::Forbidden("only an admin key of the default tenant can create tenants"));
    }
    let name = input.validate()?;
    let (tenant, api_key) = s.store.create_tenant(&name).await?;
    tracing::info!(tenant_id = %tenant.id, "tenant created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedTenant { id: tenant.id.into(), name: tenant.name, created_at: tenant.created_at, api_key }),
    ))
}

#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api-keys", request_body = NewApiKeyInput,
    responses((status = 201, body = CreatedApiKey), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_key(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<NewApiKeyInput>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    let (key, api_key) = new_key(&s, &caller, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey { id: key.id, name: key.name, role: key.role, created_at: key.created_at, api_key }),
    ))
}

/// Creates an API key (admins only); answers it with its secret, to be shown once.
pub(in crate::http) async fn new_key(
    s: &AppState,
    caller: &Caller,
    input: NewApiKeyInput,
) -> Result<(ApiKey, String), ApiError> {
    require_admin(caller)?;
    let new = input.validate()?;
    let (key, api_key) = s.store.create_api_key(&caller.tenant_id, &new).await?;
    tracing::info!(key_id = %key.id, role = key.role.as_str(), "api key created");
    Ok((key, api_key))
}

#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api-keys", params(PageParams),
    responses((status = 200, body = ApiKeyPage), (status = 403, body = ErrorBody)))]
pub async fn list_keys(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<ApiKeyPage>, ApiError> {
    require_admin(&caller)?;
    let page = params.validate().map_err(ApiError::invalid_query)?;
    let items = s.store.list_api_keys(&caller.tenant_id, &page).await?;
    Ok(Json(ApiKeyPage::new(paginate(items, page.limit, |k| id_cursor(&k.id)))))
}

#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", params(("id" = String, Path)), tag = "api-keys",
    responses((status = 204, description = "Revoked"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "The tenant's last admin key", body = ErrorBody)))]
pub async fn delete_key(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    remove_key(&s, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes an API key (admins only); the tenant's last admin key stays (409).
pub(in crate::http) async fn remove_key(s: &AppState, caller: &Caller, id: &str) -> Result<(), ApiError> {
    require_admin(caller)?;
    s.store.delete_api_key(&caller.tenant_id, id).await.or_not_found("api key")?;
    tracing::info!(key_id = %id, "api key deleted");
    Ok(())
}

pub(in crate::http) fn require_admin(caller: &Caller) -> Result<(), ApiError> {
    if caller.is_admin() { Ok(()) } else { Err(ApiError::Forbidden("this needs an admin key")) }
}
