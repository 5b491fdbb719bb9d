//! `GET /v1/channel-connections/{identifier}/credentials`: what the
//! platform's sender needs to send through a connection (its token and the
//! token's type and expiry, the bot's user id), read with the environment's
//! credentials key only. Every read is an audit line (environment and
//! connection, never the token). Tokens due for rotation are refreshed
//! first ([`crate::refresh`]); the connection's incoming webhooks come with
//! their URLs.

use std::sync::Arc;

use crate::http::novu_errors::iso_8601;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::config::Environment;
use crate::http::auth::CredentialsReader;
use crate::http::connections::{not_found, valid_identifier};
use crate::http::error::{ApiError, Refusal};
use crate::refresh::{self, RefreshError};
use crate::state::AppState;
use crate::store::Filter;

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
        "webhooks": webhooks(&s, &env, &identifier).await?,
    }});
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// The connection's incoming webhooks (Slack's `incoming-webhook` install):
/// their endpoint, channel and URL, the URL opened from the sealed record.
async fn webhooks(s: &AppState, env: &Environment, connection: &str) -> Result<Vec<Value>, ApiError> {
    let filter = Filter {
        connection_identifier: Some(connection.to_owned()),
        count: false,
        ..Filter::page(100)
    };
    let mut out = Vec::new();
    for row in s.endpoints.list_endpoints(env.id(), &filter).await?.rows {
        if row.endpoint.endpoint.kind() != "webhook" {
            continue;
        }
        let Some(full) = s.endpoints.endpoint_record(env.id(), &row.identifier).await? else {
            continue;
        };
        let fields = full.endpoint.fields();
        out.push(json!({
            "endpointIdentifier": row.identifier,
            "subscriberId": full.subscriber_id,
            "channel": fields.get("channel"),
            "channelId": fields.get("channelId"),
            "url": fields.get("url"),
        }));
    }
    Ok(out)
}
