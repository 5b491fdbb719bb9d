//! Every refusal the API answers, grouped by cause (who asks, what is
//! asked, the stores, this server), with one map to HTTP statuses and
//! Novu's body shape `{"statusCode": N, "message": "..."}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use channel_connect::{RequestError, ValidationError};
use serde_json::{Value, json};

use crate::store::StoreError;

/// What a handler can answer instead of success.
#[derive(Debug)]
#[non_exhaustive]
pub enum ApiError {
    /// Who asks: no or a wrong `Authorization: ApiKey ...` (401).
    Unauthorized,
    /// What is asked, as the core judged it (422, 400 or 404, its message).
    Invalid(RequestError),
    /// What is asked, as this server judged it.
    Refused(Refusal, String),
    /// A store did not answer (503, retry later); the store's error kept.
    Unavailable(StoreError),
    /// A provider did not answer what was needed (502, retry later); what.
    Upstream(&'static str),
    /// This server failed (500).
    Internal(&'static str),
}

/// Why this server refused a request it could read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A malformed header, or a connection of another integration (400).
    BadRequest,
    /// A key of the environment, but not for this route (403).
    Forbidden,
    /// Nothing of that identifier in the environment (404).
    NotFound,
    /// Another owner's or workspace's connection, or an idempotency key in
    /// use (409).
    Conflict,
    /// A value this server cannot take, and the field it is in (422): an
    /// idempotency key reused with another body, a list's `limit`.
    Invalid(&'static str),
}

impl ApiError {
    /// A refusal of `kind` saying `message`.
    pub fn refused(kind: Refusal, message: impl Into<String>) -> ApiError {
        ApiError::Refused(kind, message.into())
    }

    /// A 422 about `field` saying `message`.
    pub fn invalid_field(field: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::Refused(Refusal::Invalid(field), message.into())
    }

    /// The HTTP status: the one place statuses are chosen.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Unauthorized => 401,
            ApiError::Invalid(e) => e.status(),
            ApiError::Refused(Refusal::BadRequest, _) => 400,
            ApiError::Refused(Refusal::Forbidden, _) => 403,
            ApiError::Refused(Refusal::NotFound, _) => 404,
            ApiError::Refused(Refusal::Conflict, _) => 409,
            ApiError::Refused(Refusal::Invalid(_), _) => 422,
            ApiError::Unavailable(_) => 503,
            ApiError::Upstream(_) => 502,
            ApiError::Internal(_) => 500,
        }
    }

    /// The status and Novu's body.
    pub fn status_and_body(&self) -> (u16, Value) {
        let status = self.status();
        let plain = |message: &str| json!({"statusCode": status, "message": message});
        let body = match self {
            ApiError::Unauthorized => plain("API Key not found"),
            // Novu's ValidationErrorDto: the field's messages under its name.
            ApiError::Invalid(RequestError::Validation(v)) => json!({
                "statusCode": status,
                "message": "Validation Error",
                "errors": { field_of(v): { "messages": [v.to_string()] } },
            }),
            ApiError::Invalid(e) => e.to_json(),
            ApiError::Refused(Refusal::Invalid(field), message) => json!({
                "statusCode": status,
                "message": message,
                "errors": { *field: { "messages": [message] } },
            }),
            ApiError::Refused(_, message) => plain(message),
            ApiError::Unavailable(_) => plain("Service unavailable, try again"),
            ApiError::Upstream(what) => plain(what),
            ApiError::Internal(what) => plain(what),
        };
        (status, body)
    }
}

/// The request field a validation error is about (Novu keys its 422
/// `errors` by field).
fn field_of(e: &ValidationError) -> &'static str {
    use ValidationError as V;
    match e {
        V::IntegrationIdentifierRequired | V::IntegrationIdentifierInvalid => "integrationIdentifier",
        V::SubscriberIdRequired | V::SubscriberIdInvalid => "subscriberId",
        V::ConnectionIdentifierInvalid => "connectionIdentifier",
        V::ContextKeyCount
        | V::TooManyContexts { .. }
        | V::ContextKeyInvalid
        | V::ContextValueInvalid
        | V::ContextIdInvalid
        | V::ContextDataInvalid
        | V::ContextDataTooLarge { .. }
        | V::ContextDataNumber { .. }
        | V::ContextDataTooDeep { .. } => "context",
        V::ScopeInvalid => "scope",
        _ => "body",
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Unauthorized => f.write_str("no or a wrong API key"),
            ApiError::Invalid(e) => write!(f, "{e}"),
            ApiError::Refused(kind, message) => write!(f, "{kind:?}: {message}"),
            ApiError::Unavailable(e) => write!(f, "{e}"),
            ApiError::Upstream(what) => write!(f, "provider: {what}"),
            ApiError::Internal(what) => write!(f, "internal: {what}"),
        }
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ApiError::Invalid(e) => Some(e),
            ApiError::Unavailable(e) => Some(e),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Unavailable(e) => tracing::error!(error = %e, "store unavailable"),
            ApiError::Internal(what) => tracing::error!(what, "server failure"),
            _ => {}
        }
        let (status, body) = self.status_and_body();
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(body)).into_response()
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        ApiError::Invalid(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Unavailable(e)
    }
}
