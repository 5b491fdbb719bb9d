//! `GET /v1/channel-connections/{identifier}/credentials`: what the
//! platform's sender needs to send through a connection (its token and the
//! token's type and expiry, the bot's user id), read with the environment's
//! credentials key only. Every read is an audit line (environment and
//! connection, never the token). Tokens due for rotation are refreshed
//! first ([`crate::refresh`]).

use std::sync::Arc;

use crate::http::novu_errors::iso_8601;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::http::auth::CredentialsReader;
use crate::http::connections::{not_found, valid_identifier};
use crate::http::error::{ApiError, Refusal};
use crate::refresh::{self, RefreshError};
use crate::state::AppState;

/// The connection's credentials; never cached.
pub(super) async fn read(
    State(s): State<Arc<AppState>>,
    CredentialsReader(env): CredentialsReader,
    Path(identifier): Path<String>,
) -> Result<Response, ApiError> {
    if !valid_identifier(&identifier) {
        return Err(not_found(&identifier));
    }
    let c = match refresh::fresh(&s, &env, &identifier).await {
        Ok(Some(c)) => c,
        Ok(None) => return Err(not_found(&identifier)),
        Err(RefreshError::Reconnect(reason)) => {
            return Err(ApiError::refused(
                Refusal::Conflict,
                format!(
                    "Channel connection {identifier} must be connected again: the provider refused its tokens ({reason})"
                ),
            ));
        }
        Err(RefreshError::Expired) => {
            return Err(ApiError::Upstream(
                "The connection's token expired and could not be refreshed; try again",
            ));
        }
        Err(RefreshError::Store(e)) => return Err(e.into()),
    };
    tracing::info!(target: "audit", environment = env.id(), connection = %identifier, "credentials read");
    // What a sender needs, and not the refresh token: that one is this
    // service's to spend ([`crate::refresh`]).
    let auth = c.auth.as_ref().map(|a| {
        json!({
            "accessToken": a.access_token.expose(),
            "tokenType": a.token_type,
            "scopes": a.scopes,
            "expiresAt": a.expires_at.map(iso_8601),
        })
    });
    let body = json!({ "data": {
        "identifier": c.identifier,
        "providerId": c.provider_id,
        "integrationIdentifier": c.integration_identifier,
        "workspace": { "id": c.workspace.id, "botUserId": c.workspace.details.get("botUserId").cloned().unwrap_or(Value::Null) },
        "auth": auth,
    }});
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}
