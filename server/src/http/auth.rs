//! Who asks: the environment an `Authorization: ApiKey <key>` header
//! selects, as extractors, so no handler checks a key by hand. An API key
//! works everywhere but the credentials route; a credentials key works
//! there only.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::config::Environment;
use crate::http::error::{ApiError, Refusal};
use crate::state::AppState;

/// The environment of the request's API key (compared in constant time
/// against every environment's keys); 401 without one.
pub struct Authenticated(pub Arc<Environment>);

impl FromRequestParts<Arc<AppState>> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &Arc<AppState>) -> Result<Self, ApiError> {
        let env = s
            .config
            .by_api_key(presented(parts)?)
            .ok_or(ApiError::Unauthorized)?;
        Ok(Authenticated(env.clone()))
    }
}

/// The environment of the request's credentials key (the sender's key: it
/// reads tokens). An API key is refused here with 403, any other with 401.
pub struct CredentialsReader(pub Arc<Environment>);

impl FromRequestParts<Arc<AppState>> for CredentialsReader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &Arc<AppState>) -> Result<Self, ApiError> {
        let key = presented(parts)?;
        if let Some(env) = s.config.by_credentials_key(key) {
            return Ok(CredentialsReader(env.clone()));
        }
        if s.config.by_api_key(key).is_some() {
            let msg = "Credentials are read with a credentials key, not an API key";
            return Err(ApiError::refused(Refusal::Forbidden, msg));
        }
        Err(ApiError::Unauthorized)
    }
}

/// The key an `Authorization: ApiKey <key>` header presents.
fn presented(parts: &Parts) -> Result<&str, ApiError> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("ApiKey "))
        .map(str::trim)
        .ok_or(ApiError::Unauthorized)
}
