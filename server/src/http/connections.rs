//! Connections written through the API, as Novu allows: one given its
//! workspace and auth by the caller (`POST`), its workspace and auth
//! replaced (`PATCH`), and removed with its endpoints (`DELETE`, 204), its
//! token revoked at the provider first ([`crate::revoke`]).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use channel_connect::context::Context;
use channel_connect::records::{AuthRecord, ChannelConnectionRecord};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::config::Environment;
use crate::http::auth::Authenticated;
use crate::http::error::{ApiError, Refusal};
use crate::http::{idempotent, wire};
use crate::state::AppState;
use crate::store::Write;
use crate::store::ownership::Conflict;
use crate::{refresh, revoke};

/// `CreateChannelConnectionRequestDto`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Create {
    identifier: Option<String>,
    subscriber_id: Option<String>,
    context: Option<Map<String, Value>>,
    connection_mode: Option<String>,
    integration_identifier: Option<String>,
    workspace: Option<WorkspaceIn>,
    auth: Option<AuthIn>,
}

/// `UpdateChannelConnectionRequestDto`.
#[derive(Deserialize)]
struct Update {
    workspace: Option<WorkspaceIn>,
    auth: Option<AuthIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WorkspaceIn {
    id: Option<String>,
    name: Option<String>,
    bot_user_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthIn {
    access_token: Option<String>,
    refresh_token: Option<String>,
    expires_at: Option<String>,
    refresh_token_expires_at: Option<String>,
}

/// `POST /v1/channel-connections`: 201 and the connection.
#[utoipa::path(
    post,
    path = "/v1/channel-connections",
    tag = "Channel connections",
    operation_id = "createChannelConnection",
    summary = "Create a connection",
    description = "Stores a connection whose workspace and tokens the caller gives (no OAuth flow); the \
        token is sealed at rest and never answered. An identifier in use answers 409.",
    params(crate::http::openapi::IdempotencyKey),
    request_body(content = crate::http::openapi::CreateConnectionRequest),
    security(("ApiKey" = [])),
    responses(
        (status = 201, description = "The connection.", body = crate::http::openapi::ChannelConnection, headers(("Idempotency-Replay" = String, description = "`true` on a kept answer replayed"))),
        (status = 400, description = "An `idempotency-key` over 255 characters.", body = crate::http::openapi::ErrorDto),
        (status = 404, description = "No integration of that identifier in the environment.", body = crate::http::openapi::ErrorDto),
        (status = 409, description = "The identifier is in use, or an `idempotency-key` still in flight (with `Retry-After: 1`).", body = crate::http::openapi::ErrorDto, headers(("Retry-After" = u64, description = "On a key in flight: `1`"))),
        crate::http::openapi::WriteErrors,
    )
)]
pub(super) async fn create(
    State(s): State<Arc<AppState>>,
    Authenticated(env): Authenticated,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let work = async { idempotent::outcome(201, create_connection(&s, &env, &body).await) };
    idempotent::answer(&s, &env, &headers, "POST /v1/channel-connections", &body, work).await
}

/// `PATCH /v1/channel-connections/{identifier}`: 200 and the connection.
#[utoipa::path(
    patch,
    path = "/v1/channel-connections/{identifier}",
    tag = "Channel connections",
    operation_id = "updateChannelConnection",
    summary = "Update a connection",
    description = "Replaces a connection's tokens and its workspace's details. Stricter than Novu: a new \
        `workspace.id` is refused (409), since the connection's user links are pinned to its workspace. \
        A new access token clears a `needs_reconnection` mark; the same token sent back keeps it, and \
        keeps what only the store knows (refresh token, expiries, scopes; a new refresh token does not \
        keep the old one's expiry).",
    params(("identifier" = String, Path, description = "The connection's identifier."), crate::http::openapi::IdempotencyKey),
    request_body(content = crate::http::openapi::UpdateConnectionRequest),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "The connection.", body = crate::http::openapi::ChannelConnection, headers(("Idempotency-Replay" = String, description = "`true` on a kept answer replayed"))),
        (status = 400, description = "An `idempotency-key` over 255 characters.", body = crate::http::openapi::ErrorDto),
        (status = 404, description = "No connection of that identifier in the environment.", body = crate::http::openapi::ErrorDto),
        (status = 409, description = "Another `workspace.id`, or an `idempotency-key` still in flight (with `Retry-After: 1`).", body = crate::http::openapi::ErrorDto, headers(("Retry-After" = u64, description = "On a key in flight: `1`"))),
        crate::http::openapi::WriteErrors,
    )
)]
pub(super) async fn update(
    State(s): State<Arc<AppState>>,
    Authenticated(env): Authenticated,
    Path(identifier): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let route = format!("PATCH /v1/channel-connections/{{identifier}} {identifier}");
    let work = async { idempotent::outcome(200, update_connection(&s, &env, &identifier, &body).await) };
    idempotent::answer(&s, &env, &headers, &route, &body, work).await
}

/// `DELETE /v1/channel-connections/{identifier}`: 204; its endpoints go too.
#[utoipa::path(
    delete,
    path = "/v1/channel-connections/{identifier}",
    tag = "Channel connections",
    operation_id = "deleteChannelConnection",
    summary = "Delete a connection",
    description = "Removes a connection. Stricter than Novu: its bot token is revoked at Slack first (or \
        the Teams app this service installed for its users removed), what was and was not revoked named \
        in headers, and its endpoints are removed with it (nothing sends through a connection that is gone).",
    params(("identifier" = String, Path, description = "The connection's identifier.")),
    security(("ApiKey" = [])),
    responses(
        (status = 204, description = "Deleted, with its endpoints.",
            headers(
                ("x-revoked" = String, description = "What was revoked at the provider (`bot_token`, ...), comma-separated"),
                ("x-not-revoked" = String, description = "What was not revoked: the provider did not answer or refused, the token is shared (`bot_token_in_use`), or the provider lets no holder revoke it (`webex_token`)"),
            )),
        (status = 404, description = "No connection of that identifier in the environment.", body = crate::http::openapi::ErrorDto),
        crate::http::openapi::ReadErrors,
    )
)]
pub(super) async fn delete(
    State(s): State<Arc<AppState>>,
    Authenticated(env): Authenticated,
    Path(identifier): Path<String>,
) -> Result<Response, ApiError> {
    if !valid_identifier(&identifier) {
        return Err(not_found(&identifier));
    }
    let Some(tokens) = s.refreshes.tokens(env.id(), &identifier).await? else {
        return Err(not_found(&identifier));
    };
    // Revoked first: once the record is gone, so is the token to revoke. A
    // rotating token is refreshed first when due (an expired one cannot be
    // revoked, and its installation would live on).
    let record = match refresh::fresh(&s, &env, &identifier).await {
        Ok(Some(fresh)) => fresh,
        _ => tokens.record,
    };
    let revoked = revoke::revoke(&s, &env, &record, tokens.minted).await;
    match s.connections.delete_connection(env.id(), &identifier).await? {
        Some(endpoints) => {
            tracing::info!(endpoints, revoked = ?revoked.done, not_revoked = ?revoked.failed, "connection deleted with its endpoints");
            // Novu answers 204 without a body: what was revoked goes in headers.
            let mut res = StatusCode::NO_CONTENT.into_response();
            for (name, items) in [(REVOKED, &revoked.done), (NOT_REVOKED, &revoked.failed)] {
                if let (false, Ok(value)) = (items.is_empty(), HeaderValue::from_str(&items.join(", "))) {
                    res.headers_mut().insert(name, value);
                }
            }
            Ok(res)
        }
        None => Err(not_found(&identifier)),
    }
}

/// The header that lists what a deletion revoked at the provider (`bot_token`).
pub const REVOKED: HeaderName = HeaderName::from_static("x-revoked");
/// The header that lists what it could not revoke (the provider did not answer).
pub const NOT_REVOKED: HeaderName = HeaderName::from_static("x-not-revoked");

pub(super) fn not_found(identifier: &str) -> ApiError {
    ApiError::refused(
        Refusal::NotFound,
        format!("Channel connection with identifier '{identifier}' not found"),
    )
}

fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|_| ApiError::invalid_field("body", "request body is not valid JSON of the expected shape"))
}

async fn create_connection(s: &AppState, env: &Environment, bytes: &[u8]) -> Result<Value, ApiError> {
    let c: Create = body(bytes)?;
    let integration = c.integration_identifier.ok_or_else(|| {
        ApiError::invalid_field("integrationIdentifier", "integrationIdentifier is required")
    })?;
    let provider = env.providers.get(&integration).ok_or_else(|| {
        let msg = format!("Integration not found: {integration} in environment {}", env.id());
        ApiError::refused(Refusal::NotFound, msg)
    })?;
    let shared = match c.connection_mode.as_deref() {
        Some("shared") => true,
        Some("subscriber") => false,
        Some(_) => {
            return Err(ApiError::invalid_field(
                "connectionMode",
                "connectionMode must be subscriber or shared",
            ));
        }
        None => c.subscriber_id.is_none(),
    };
    if !shared && c.subscriber_id.is_none() {
        let msg = "subscriberId is required for a subscriber connection";
        return Err(ApiError::invalid_field("subscriberId", msg));
    }
    if c.subscriber_id.as_deref().is_some_and(|s| !valid_text(s)) {
        let msg = "subscriberId must be 1 to 255 bytes without control characters";
        return Err(ApiError::invalid_field("subscriberId", msg));
    }
    let identifier = match c.identifier {
        Some(id) if valid_identifier(&id) => id,
        Some(_) => {
            let msg = "identifier must be 1 to 100 characters of A-Z, a-z, 0-9, '.', '_' or '-'";
            return Err(ApiError::invalid_field("identifier", msg));
        }
        None => s.sealer.new_identifier("chconn_"),
    };
    let context = match &c.context {
        Some(map) => {
            Context::new(map).map_err(|e| ApiError::invalid_field("context", e.to_string()))?;
            context_records(map)
        }
        None => Value::Object(Map::new()),
    };
    let record = json!({
        "identifier": identifier,
        "integrationIdentifier": integration,
        "providerId": provider,
        "subscriberId": if shared { None } else { c.subscriber_id },
        "context": context,
        "workspace": workspace(c.workspace)?,
        "auth": auth(c.auth)?,
    });
    put(s, env, record, Write::Create).await
}

async fn update_connection(
    s: &AppState,
    env: &Environment,
    identifier: &str,
    bytes: &[u8],
) -> Result<Value, ApiError> {
    let u: Update = body(bytes)?;
    if !valid_identifier(identifier) {
        return Err(not_found(identifier));
    }
    let stored = s
        .refreshes
        .tokens(env.id(), identifier)
        .await?
        .ok_or_else(|| not_found(identifier))?;
    let mut record =
        serde_json::to_value(&stored.record).map_err(|_| ApiError::Internal("encode connection"))?;
    let new_workspace = workspace(u.workspace)?;
    // The workspace is what reconnects and user links are pinned to: a
    // connection does not move (its links would follow it elsewhere).
    if new_workspace["id"] != record["workspace"]["id"] {
        return Err(ApiError::refused(
            Refusal::Conflict,
            Conflict::Workspace.message(),
        ));
    }
    if let (Value::Object(old), Value::Object(new)) = (&mut record["workspace"], new_workspace) {
        old.extend(new);
    }
    let old_auth = record["auth"].take();
    record["auth"] = auth(u.auth)?;
    let same_token = record["auth"]["accessToken"] == old_auth["accessToken"];
    // The same token sent back (a rename): what only the store knows of it
    // (its refresh token, expiries and scopes, never answered) stays.
    let kept: &[&str] = if same_token {
        &[
            "tokenType",
            "refreshToken",
            "expiresAt",
            "refreshTokenExpiresAt",
            "scopes",
        ]
    } else {
        &["tokenType"]
    };
    // The old refresh token's expiry is not a new refresh token's (one sent
    // and different; an unsent one is the old one, kept below).
    let other_refresh = record["auth"]
        .get("refreshToken")
        .is_some_and(|sent| *sent != old_auth["refreshToken"]);
    for field in kept {
        if *field == "refreshTokenExpiresAt" && other_refresh {
            continue;
        }
        if record["auth"].get(field).is_none() && !old_auth[field].is_null() {
            record["auth"][field] = old_auth[field].clone();
        }
    }
    let answer = put(s, env, record, Write::Update).await?;
    // A new token is the caller's fix for a connection marked for
    // reconnection (the write cleared the mark); the same token is not.
    match (same_token, stored.reconnect) {
        (true, Some(reason)) => {
            s.refreshes
                .mark_reconnect(env.id(), identifier, &reason, s.now().unix_timestamp())
                .await?;
            Ok(with_status(answer, Some(&reason)))
        }
        _ => Ok(answer),
    }
}

/// A connection's answer with its reconnection mark, as [`wire::connection`] writes it.
fn with_status(mut answer: Value, reconnect: Option<&str>) -> Value {
    if let Some(reason) = reconnect {
        answer["status"] = json!("needs_reconnection");
        answer["statusReason"] = json!(reason);
    }
    answer
}

async fn put(s: &AppState, env: &Environment, record: Value, write: Write) -> Result<Value, ApiError> {
    let record: ChannelConnectionRecord = serde_json::from_value(record)
        .map_err(|_| ApiError::invalid_field("auth", "auth.expiresAt must be an ISO 8601 time"))?;
    let written = s
        .connections
        .put_connection(env.id(), &record, write, s.now().unix_timestamp())
        .await?;
    match written {
        Ok(row) => Ok(wire::connection(&row)),
        Err(Conflict::Gone) => Err(not_found(&record.identifier)),
        Err(conflict) => Err(ApiError::refused(Refusal::Conflict, conflict.message())),
    }
}

fn workspace(w: Option<WorkspaceIn>) -> Result<Value, ApiError> {
    let w = w.ok_or_else(|| ApiError::invalid_field("workspace", "workspace is required"))?;
    let id =
        w.id.filter(|id| !id.is_empty())
            .ok_or_else(|| ApiError::invalid_field("workspace", "workspace.id is required"))?;
    let mut out = json!({ "id": id });
    if let Some(name) = w.name {
        out["name"] = Value::String(name);
    }
    if let Some(bot) = w.bot_user_id {
        out["botUserId"] = Value::String(bot);
    }
    Ok(out)
}

fn auth(a: Option<AuthIn>) -> Result<Value, ApiError> {
    let a = a.ok_or_else(|| ApiError::invalid_field("auth", "auth is required"))?;
    let token = a
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::invalid_field("auth", "auth.accessToken is required"))?;
    let mut out = json!({ "accessToken": token });
    if let Some(r) = a.refresh_token {
        out["refreshToken"] = Value::String(r);
    }
    for (field, time) in [
        ("expiresAt", a.expires_at),
        ("refreshTokenExpiresAt", a.refresh_token_expires_at),
    ] {
        if let Some(t) = time {
            // Checked as the record reads it (UTC, whole seconds or milliseconds).
            let probe = json!({ "accessToken": "-", field: t });
            if serde_json::from_value::<AuthRecord>(probe).is_err() {
                let msg = format!("auth.{field} must be an ISO 8601 time");
                return Err(ApiError::invalid_field("auth", msg));
            }
            out[field] = Value::String(t);
        }
    }
    Ok(out)
}

/// A validated request context as records keep it (`key: {id, data?}`).
pub(super) fn context_records(map: &Map<String, Value>) -> Value {
    let entries = map.iter().map(|(k, v)| {
        let entry = match v {
            Value::String(id) => json!({ "id": id }),
            other => other.clone(),
        };
        (k.clone(), entry)
    });
    Value::Object(entries.collect())
}

/// A subscriber id as the core takes it: 1 to 255 bytes, no control characters.
pub(super) fn valid_text(s: &str) -> bool {
    (1..=255).contains(&s.len()) && !s.chars().any(char::is_control)
}

/// Novu's connection identifiers, as the core checks them.
pub(super) fn valid_identifier(id: &str) -> bool {
    (1..=100).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}
