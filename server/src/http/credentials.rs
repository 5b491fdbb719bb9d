//! `GET /v1/channel-connections/{identifier}/credentials`: what the
//! platform's sender needs to send through a connection (its token and the
//! token's type and expiry, the bot's user id), read with the environment's
//! credentials key only. Every read is an audit line (environment and
//! connection, never the token).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::http::auth::CredentialsReader;
use crate::http::connections::{not_found, valid_identifier};
use crate::http::error::ApiError;
use crate::state::AppState;

/// The connection's credentials; never cached.
pub(super) async fn read(
    State(s): State<Arc<AppState>>,
    CredentialsReader(env): CredentialsReader,
    Path(identifier): Path<String>,
) -> Result<Response, ApiError> {
    let record = match valid_identifier(&identifier) {
        true => s.connections.connection_record(env.id(), &identifier).await?,
        false => None,
    };
    let Some(c) = record else {
        return Err(not_found(&identifier));
    };
    tracing::info!(target: "audit", environment = env.id(), connection = %identifier, "credentials read");
    let mut auth = json!({});
    if let Some(a) = &c.auth {
        auth = serde_json::to_value(a).map_err(|_| ApiError::Internal("encode credentials"))?;
    }
    let body = json!({ "data": {
        "identifier": c.identifier,
        "providerId": c.provider_id,
        "integrationIdentifier": c.integration_identifier,
        "workspace": { "id": c.workspace.id, "botUserId": c.workspace.details.get("botUserId").cloned().unwrap_or(Value::Null) },
        "auth": auth,
    }});
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}
