//! The parts of the OpenAPI document that no handler declares.

use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};

use super::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(title = "taskbridge", description = "Turns conversations into tracked work. Every route under /api needs an API key. Every route answers the same with a trailing slash (`/teams/`, `/api/tasks/`)."),
    modifiers(&Security),
    components(schemas(ErrorBody)),
    tags(
        (name = "projects"), (name = "tasks"), (name = "comments"), (name = "labels"),
        (name = "messages"), (name = "jobs"), (name = "integrations"), (name = "webhooks"), (name = "tenants"), (name = "api-keys"), (name = "operations"),
        (name = "legacy", description = "Routes of the replaced system, kept as aliases"),
    )
)]
struct Base;

pub fn base() -> utoipa::openapi::OpenApi {
    Base::openapi()
}

/// Declares both ways to present a key and requires one everywhere unless a route says
/// otherwise (`security(())`).
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components
            .add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
        openapi.security = Some(vec![
            SecurityRequirement::new("bearer", Vec::<String>::new()),
            SecurityRequirement::new("api_key", Vec::<String>::new()),
        ]);
    }
}
