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

/// Adds the answers every operation of a kind can give, which no handler declares itself:
/// 401 and 429 where a key is needed, 400 where a path, query or body is parsed (malformed JSON,
/// an invalid path or query), 413 and 415 where a body is read. Run once the routes are in.
pub fn complete(doc: &mut utoipa::openapi::OpenApi) {
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            let public =
                operation.security.as_ref().is_some_and(|s| s.iter().any(|r| *r == SecurityRequirement::default()));
            let has_body = operation.request_body.is_some();
            let has_parameters = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let responses = &mut operation.responses.responses;
            let mut add = |status: &str, description: &str| {
                responses.entry(status.to_string()).or_insert_with(|| error_response(description));
            };
            if !public {
                add("401", "No API key, or not a valid one");
                add(
                    "429",
                    "The API key is over its rate limit (`TASKBRIDGE_RATE_LIMIT`); retry after `Retry-After` seconds",
                );
            }
            if has_body || has_parameters {
                add("400", "Malformed JSON, or an invalid path or query parameter");
            }
            if has_body {
                add("413", "The body is larger than the limit");
                add("415", "The body is not of the documented content type");
            }
        }
    }
}

fn error_response(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
        .build()
        .into()
}
