//! Liveness and readiness probes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`
    pub status: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`
    pub status: &'static str,
    pub checks: ReadinessChecks,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessChecks {
    /// `ok` or `unreachable`
    pub database: &'static str,
    /// When the default project has a Jira integration: `ok`, `unauthorized` or `unreachable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jira: Option<&'static str>,
    /// When the default project has a Confluence integration: as for Jira.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confluence: Option<&'static str>,
}

#[utoipa::path(get, path = "/health", tag = "operations", security(()),
    responses((status = 200, description = "The process is alive", body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok", version: env!("CARGO_PKG_VERSION") })
}

#[utoipa::path(get, path = "/ready", tag = "operations", security(()),
    responses((status = 200, description = "Ready to serve", body = Readiness),
              (status = 503, description = "A dependency is unreachable", body = Readiness)))]
pub async fn ready(State(s): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let db_ok = s.store.ping().await;
    let (jira, confluence) = if db_ok { atlassian(&s).await } else { (None, None) };
    let ok = db_ok && [jira, confluence].iter().all(|c| c.is_none_or(|c| c == "ok"));
    let body = Readiness {
        status: if ok { "ready" } else { "unavailable" },
        checks: ReadinessChecks { database: if db_ok { "ok" } else { "unreachable" }, jira, confluence },
    };
    (if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body))
}

/// The default project's Jira and Confluence, as the replaced automator's readiness did:
/// an authenticated read of the current user, within three seconds.
async fn atlassian(s: &AppState) -> (Option<&'static str>, Option<&'static str>) {
    use crate::domain::integration::IntegrationType;
    let tenant = crate::domain::tenant::default_tenant();
    let Ok(project) = s.store.default_project(&tenant).await else { return (None, None) };
    let Ok(records) = s.store.list_integrations(&tenant, &project).await else { return (None, None) };
    let mut out = (None, None);
    for record in records {
        let (slot, path) = match record.kind {
            IntegrationType::Jira => (&mut out.0, "/rest/api/3/myself"),
            IntegrationType::Confluence => (&mut out.1, "/rest/api/user/current"),
            _ => continue,
        };
        let Ok((_, secrets)) = s.integrations.with_secrets(&tenant, &record.id).await else {
            *slot = Some("unreachable");
            continue;
        };
        // The same way the adapters reach it: the site with an API token, or the gateway
        // for an OAuth install.
        let product = if record.kind == IntegrationType::Jira { "jira" } else { "confluence" };
        let Ok(access) = crate::trackers::atlassian::Access::new(product, product, &record.settings, &secrets) else {
            *slot = Some("unauthorized");
            continue;
        };
        let base = match record.kind {
            IntegrationType::Confluence if !access.api.ends_with("/wiki") => format!("{}/wiki", access.api),
            _ => access.api.clone(),
        };
        let request =
            access.authorize(s.outbound.http.get(format!("{base}{path}"))).timeout(std::time::Duration::from_secs(3));
        *slot = Some(match request.send().await {
            Ok(r) if r.status().is_success() => "ok",
            Ok(r) if r.status() == StatusCode::UNAUTHORIZED || r.status() == StatusCode::FORBIDDEN => "unauthorized",
            _ => "unreachable",
        });
    }
    out
}
