//! The replaced systems' oauth routes, over the v1 handlers of `http::oauth`.

use axum::Json;
use axum::extract::State;

use crate::domain::id::{ProjectId, TenantId};
use crate::domain::tenant::Caller;
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiPath, ApiQuery};
use crate::http::oauth::*;

#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/projects/{project_id}/integrations/{integration_type}/install",
    tag = "legacy",
    params(("tenant_id" = String, Path), ("project_id" = String, Path), ("integration_type" = String, Path), InstallParams),
    responses((status = 200, body = InstallAnswer), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, description = "Not the caller's tenant, or no such project", body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn legacy_install_url(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath((tenant_id, project_id, kind)): ApiPath<(TenantId, ProjectId, String)>,
    ApiQuery(params): ApiQuery<InstallParams>,
) -> Result<Json<InstallAnswer>, ApiError> {
    if tenant_id != caller.tenant_id {
        return Err(ApiError::not_found("project"));
    }
    install(&s, &caller, &project_id, &kind, params).await
}
