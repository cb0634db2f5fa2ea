//! The one error type of the HTTP layer and its JSON rendering.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::DomainError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unavailable(String),
    /// Over a rate limit; answered with `Retry-After`.
    #[error("too many requests: {what} is over its rate limit; retry in {} s", .limited.retry_after_secs())]
    RateLimited { what: &'static str, limited: crate::limits::Limited },
    /// A service taskbridge relies on failed (a transcription server).
    #[error("{0}")]
    BadGateway(String),
    /// The cause is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

/// `{"error": {"code", "message"}}`
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code, e.g. `validation_failed`, `not_found`.
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn not_found(what: &str) -> Self {
        ApiError::NotFound(format!("{what} not found"))
    }

    /// A query string that does not fit: 400 rather than the body's 422.
    pub fn invalid_query(err: DomainError) -> Self {
        ApiError::BadRequest { code: "invalid_query", message: err.to_string() }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } => code,
            ApiError::Validation(_) => "validation_failed",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::BadGateway(_) => "upstream_failed",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "request failed");
        }
        let status = self.status();
        let body = ErrorBody { error: ErrorDetail { code: self.code().to_string(), message: self.to_string() } };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ApiError::RateLimited { limited, .. } = &self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(limited.retry_after_secs()));
        }
        response
    }
}

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        ApiError::Validation(err.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => ApiError::NotFound("not found".into()),
            StoreError::Conflict(what) => ApiError::Conflict(what),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<crate::coordinator::CoordinatorError> for ApiError {
    fn from(err: crate::coordinator::CoordinatorError) -> Self {
        use crate::coordinator::CoordinatorError;
        match err {
            CoordinatorError::NotFound(what) => ApiError::not_found(what),
            CoordinatorError::Store(e) => e.into(),
        }
    }
}

impl From<crate::intake::triage::DecisionError> for ApiError {
    fn from(err: crate::intake::triage::DecisionError) -> Self {
        use crate::intake::triage::DecisionError;
        match err {
            DecisionError::NotFound(what) => ApiError::not_found(what),
            DecisionError::Conflict(why) => ApiError::Conflict(why),
            DecisionError::Invalid(e) => e.into(),
            DecisionError::Store(e) => e.into(),
        }
    }
}

impl From<crate::integrations::IntegrationError> for ApiError {
    fn from(err: crate::integrations::IntegrationError) -> Self {
        use crate::integrations::IntegrationError;
        match err {
            IntegrationError::Invalid(e) => e.into(),
            IntegrationError::Store(e) => e.into(),
            IntegrationError::Crypto(e) => ApiError::Internal(e.to_string()),
        }
    }
}

/// Adds what was not found to a store result, so a 404 names the missing object.
pub trait NotFoundExt<T> {
    fn or_not_found(self, what: &str) -> Result<T, ApiError>;
}

impl<T> NotFoundExt<T> for Result<T, StoreError> {
    fn or_not_found(self, what: &str) -> Result<T, ApiError> {
        self.map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found(what),
            other => other.into(),
        })
    }
}
