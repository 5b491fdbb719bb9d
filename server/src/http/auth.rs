//! Who asks: the environment an `Authorization: ApiKey <key>` header
//! selects, as an extractor, so no handler checks a key by hand.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::config::Environment;
use crate::http::error::ApiError;
use crate::state::AppState;

/// The environment of the request's API key (compared in constant time
/// against every environment's keys); 401 without one.
pub struct Authenticated(pub Arc<Environment>);

impl FromRequestParts<Arc<AppState>> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &Arc<AppState>) -> Result<Self, ApiError> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("ApiKey "))
            .ok_or(ApiError::Unauthorized)?;
        let env = s
            .config
            .by_api_key(presented.trim())
            .ok_or(ApiError::Unauthorized)?;
        Ok(Authenticated(env.clone()))
    }
}
