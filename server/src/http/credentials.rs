//! `GET /v1/channel-connections/{identifier}/credentials`: what the
//! platform's sender needs to send through a connection (its token and the
//! token's type and expiry, the refresh token's expiry, the bot's user id),
//! read with the environment's credentials key only. Every read is an audit
//! line (environment and connection, never the token). Tokens due for
//! rotation are refreshed first ([`crate::refresh`]); the connection's
//! incoming webhooks come with their URLs.

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
#[utoipa::path(
    get,
    path = "/v1/channel-connections/{identifier}/credentials",
    tag = "Channel connections",
    operation_id = "getChannelConnectionCredentials",
    summary = "Read a connection's credentials",
    description = "What the platform's sender needs to send through a connection: its token (refreshed \
        first when due), the token's type and expiry, the bot's user id, and its incoming webhooks with \
        their URLs. Read with the environment's credentials key only; every read is an audit log line. \
        Never cached. Not in Novu.",
    params(("identifier" = String, Path, description = "The connection's identifier.")),
    security(("CredentialsKey" = [])),
    responses(
        (status = 200, description = "The credentials.", body = crate::http::openapi::CredentialsData,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 401, description = "No `Authorization: ApiKey <key>`, or a key of no environment.", body = crate::http::openapi::ErrorDto),
        (status = 403, description = "An API key: credentials are read with a credentials key.", body = crate::http::openapi::ErrorDto),
        (status = 404, description = "No connection of that identifier in the environment.", body = crate::http::openapi::ErrorDto),
        (status = 409, description = "The provider refused the connection's tokens: connect it again.", body = crate::http::openapi::ErrorDto),
        (status = 502, description = "The token expired and could not be refreshed: try again.", body = crate::http::openapi::ErrorDto),
        (status = 503, description = "A store did not answer: try again.", body = crate::http::openapi::ErrorDto),
    )
)]
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
            // Not the refresh token, but when it runs out (Webex: connect
            // again before), null when the provider did not say.
            "refreshTokenExpiresAt": a.refresh_token_expires_at.map(iso_8601),
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
