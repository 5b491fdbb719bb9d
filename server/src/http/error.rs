//! Every refusal the API answers, in Novu's body shape
//! `{"statusCode": N, "message": "..."}`, as an axum response.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use channel_connect::RequestError;
use serde_json::{Value, json};

use crate::store::StoreError;

/// What a handler can answer instead of success.
#[derive(Debug)]
#[non_exhaustive]
pub enum ApiError {
    /// No or a wrong `Authorization: ApiKey ...` (401).
    Unauthorized,
    /// A request-body or request-rule refusal (422, 404, 400).
    Request(RequestError),
    /// A malformed header (400).
    BadRequest(String),
    /// A reused idempotency key with another body (422).
    Unprocessable(String),
    /// A request under the same idempotency key still in progress (409).
    Conflict(String),
    /// Not found (a connection identifier).
    NotFound(String),
    /// The server itself failed.
    Internal(&'static str),
    /// A store did not answer (503): retry later.
    Unavailable(&'static str),
}

impl ApiError {
    /// The status and Novu's body.
    pub fn status_and_body(&self) -> (u16, Value) {
        let plain = |status: u16, message: &str| (status, json!({"statusCode": status, "message": message}));
        match self {
            ApiError::Unauthorized => plain(401, "API Key not found"),
            ApiError::Request(e) => (e.status(), e.to_json()),
            ApiError::BadRequest(m) => plain(400, m),
            ApiError::Unprocessable(m) => plain(422, m),
            ApiError::Conflict(m) => plain(409, m),
            ApiError::NotFound(m) => plain(404, m),
            ApiError::Internal(what) => plain(500, what),
            ApiError::Unavailable(_) => plain(503, "Service unavailable, try again"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(what) | ApiError::Unavailable(what) = &self {
            tracing::error!(what, "server failure");
        }
        let (status, body) = self.status_and_body();
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(body)).into_response()
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        ApiError::Request(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Unavailable(e.op())
    }
}
