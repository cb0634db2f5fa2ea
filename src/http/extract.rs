//! Extractors whose rejections speak the API's JSON error shape.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;
use crate::domain::tenant::Caller;

/// The configured body limit, put in each request's extensions for error messages.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// `Json<T>` with precise errors: 400 malformed, 415 wrong content type, 413 too large,
/// 422 wrong types or unknown values.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = req.extensions().get::<BodyLimit>().map(|l| l.0).unwrap_or_default();
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection, limit)),
        }
    }
}

fn json_rejection(rejection: JsonRejection, limit: usize) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => ApiError::Validation(inner_message(&e.body_text())),
        JsonRejection::JsonSyntaxError(e) => ApiError::BadRequest {
            code: "malformed_json",
            message: format!("request body is not valid JSON: {}", inner_message(&e.body_text())),
        },
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::UnsupportedMediaType("requests with a body must be sent as Content-Type: application/json".into())
        }
        JsonRejection::BytesRejection(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge(limit)
        }
        other => ApiError::BadRequest { code: "bad_request", message: other.body_text() },
    }
}

/// axum prefixes serde's message with its own sentence; keep serde's part, which names
/// the field and position.
fn inner_message(text: &str) -> String {
    text.split_once(": ").map(|(_, rest)| rest.to_string()).unwrap_or_else(|| text.to_string())
}

/// `Query<T>` answering 400 `invalid_query` in the API's shape.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                Err(ApiError::BadRequest { code: "invalid_query", message: inner_message(&e.body_text()) })
            }
            Err(other) => Err(ApiError::BadRequest { code: "invalid_query", message: other.body_text() }),
        }
    }
}

/// The caller, from `Authorization: Bearer <key>` or `X-API-Key: <key>`. Every handler
/// that touches data takes it, so no query can forget its tenant.
impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let key = presented_key(parts).ok_or(ApiError::Unauthorized(
            "an API key is required: send Authorization: Bearer <key> or X-API-Key: <key>",
        ))?;
        let caller = state.store.authenticate(key).await?.ok_or(ApiError::Unauthorized("the API key is not valid"))?;
        // Once per request, however many extractors ask for the caller.
        if parts.extensions.insert(RateChecked).is_none() {
            let scope = crate::limits::Scope::ApiKey;
            if let Err(limited) = state.limiter.check(scope, &caller.key_id).await {
                state.metrics.rate_limited(scope, "api", false);
                return Err(ApiError::RateLimited { what: "this API key", limited });
            }
        }
        Ok(caller)
    }
}

/// Marks a request whose API key has been counted against its rate limit.
#[derive(Debug, Clone, Copy)]
struct RateChecked;

/// A caller holding an admin key: what changes where the tenant's data and secrets go
/// (integrations, their OAuth installs) takes it; a member key gets 403.
pub struct Admin(pub Caller);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if !caller.is_admin() {
            return Err(ApiError::Forbidden("this needs an admin key"));
        }
        Ok(Admin(caller))
    }
}

fn presented_key(parts: &Parts) -> Option<&str> {
    if let Some(value) = parts.headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(value.trim()).filter(|v| !v.is_empty());
    }
    let auth = parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = auth.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(key.trim()).filter(|v| !v.is_empty())
}

/// `Path<T>` whose rejection is a JSON 400 rather than axum's plain text.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(e) => Err(ApiError::BadRequest { code: "invalid_path", message: e.body_text() }),
        }
    }
}

/// A multipart form, with a missing or wrong content type answered 415 in the JSON error shape.
pub struct ApiMultipart(pub axum::extract::Multipart);

impl<S: Send + Sync> axum::extract::FromRequest<S> for ApiMultipart {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Multipart::from_request(req, state).await.map(ApiMultipart).map_err(|e| {
            ApiError::UnsupportedMediaType(format!("expected a multipart/form-data upload: {}", e.body_text()))
        })
    }
}
