//! Endpoints written through the API, as Novu allows: created for a
//! subscriber (`POST`), read (`GET`), their target replaced (`PATCH`),
//! removed (`DELETE`, 204). A webhook URL is a credential: sealed, never
//! answered.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use channel_connect::context::Context;
use channel_connect::records::{ChannelEndpointRecord, Endpoint};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::config::Environment;
use crate::http::connections::{context_records, valid_identifier};
use crate::http::error::{ApiError, Refusal};
use crate::http::{auth::Authenticated, idempotent, wire};
use crate::state::AppState;
use crate::store::ownership::{self, Conflict};
use crate::store::{EndpointRow, Filter, Write};

/// A create request (`Create*EndpointDto`, by `type`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Create {
    identifier: Option<String>,
    subscriber_id: Option<String>,
    integration_identifier: Option<String>,
    connection_identifier: Option<String>,
    context: Option<Map<String, Value>>,
    #[serde(rename = "type")]
    kind: Option<String>,
    endpoint: Option<Map<String, Value>>,
}

/// `UpdateChannelEndpointRequestDto`.
#[derive(Deserialize)]
struct Update {
    endpoint: Option<Map<String, Value>>,
}

/// The endpoint types a provider reaches: each one's required fields, and
/// its optional ones (nothing else is kept: a field of another name could
/// hold a credential that would be answered in plain).
fn fields_of(provider: &str, kind: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    match (provider, kind) {
        ("slack", "slack_channel") => Some((&["channelId"], &[])),
        ("slack", "slack_user") => Some((&["userId"], &["teamId"])),
        ("slack" | "msteams", "webhook") => Some((&["url"], &["channel", "channelId"])),
        ("msteams", "ms_teams_channel") => Some((&["teamId", "channelId"], &[])),
        ("msteams", "ms_teams_user") => Some((&["userId"], &["tenantId"])),
        ("webex-messaging", "webex_person") => Some((&["personId"], &[])),
        ("webex-messaging", "webex_room") => Some((&["roomId"], &["parentId"])),
        _ => None,
    }
}

/// `POST /v1/channel-endpoints`: 201 and the endpoint.
#[utoipa::path(
    post,
    path = "/v1/channel-endpoints",
    tag = "Channel endpoints",
    operation_id = "createChannelEndpoint",
    summary = "Create an endpoint",
    description = "Stores where a subscriber is reached. Stricter than Novu: only the types Slack and \
        Teams reach, with their own fields only (others answer 422); a webhook's URL must be https and \
        is sealed at rest; an endpoint linked to a connection is for that connection owner's \
        subscribers only (the same context ids; in `subscriber` mode, its subscriber), 409 otherwise, \
        and of its integration (400 otherwise).",
    params(crate::http::openapi::IdempotencyKey),
    request_body(content = crate::http::openapi::CreateEndpointRequest),
    security(("ApiKey" = [])),
    responses(
        (status = 201, description = "The endpoint.", body = crate::http::openapi::ChannelEndpoint, headers(("Idempotency-Replay" = String, description = "`true` on a kept answer replayed"))),
        (status = 400, description = "A connection of another integration, or an `idempotency-key` over 255 characters.", body = crate::http::openapi::ErrorDto),
        (status = 404, description = "No integration, or no connection, of that identifier in the environment.", body = crate::http::openapi::ErrorDto),
        (status = 409, description = "The identifier is in use, another owner's connection, or an `idempotency-key` still in flight (with `Retry-After: 1`).", body = crate::http::openapi::ErrorDto, headers(("Retry-After" = u64, description = "On a key in flight: `1`"))),
        crate::http::openapi::WriteErrors,
    )
)]
pub(super) async fn create(
    State(s): State<Arc<AppState>>,
    Authenticated(env): Authenticated,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let work = async { idempotent::outcome(201, create_endpoint(&s, &env, &body).await) };
    idempotent::answer(&s, &env, &headers, "POST /v1/channel-endpoints", &body, work).await
}

/// `GET /v1/channel-endpoints/{identifier}`.
#[utoipa::path(
    get,
    path = "/v1/channel-endpoints/{identifier}",
    tag = "Channel endpoints",
    operation_id = "getChannelEndpoint",
    summary = "Get an endpoint",
    description = "One endpoint of the environment, under `data`; a webhook's URL answered `[redacted]`.",
    params(("identifier" = String, Path, description = "The endpoint's identifier.")),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "The endpoint.", body = crate::http::openapi::EndpointData),
        (status = 404, description = "No endpoint of that identifier in the environment.", body = crate::http::openapi::ErrorDto),
        crate::http::openapi::ReadErrors,
    )
)]
pub(super) async fn get(
    State(s): State<Arc<AppState>>,
    Authenticated(env): Authenticated,
    Path(identifier): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let row = stored(&s, &env, &identifier).await?;
    Ok(Json(json!({ "data": wire::endpoint(&row, &env) })))
}

/// `PATCH /v1/channel-endpoints/{identifier}`: 200 and the endpoint.
#[utoipa::path(
    patch,
    path = "/v1/channel-endpoints/{identifier}",
    tag = "Channel endpoints",
    operation_id = "updateChannelEndpoint",
    summary = "Update an endpoint",
    description = "Replaces an endpoint's target fields (those left out keep their stored value), \
        checked as at creation; its type, subscriber and connection stay.",
    params(("identifier" = String, Path, description = "The endpoint's identifier."), crate::http::openapi::IdempotencyKey),
    request_body(content = crate::http::openapi::UpdateEndpointRequest),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "The endpoint.", body = crate::http::openapi::ChannelEndpoint, headers(("Idempotency-Replay" = String, description = "`true` on a kept answer replayed"))),
        (status = 400, description = "The endpoint's integration is gone, or an `idempotency-key` over 255 characters.", body = crate::http::openapi::ErrorDto),
        (status = 404, description = "No endpoint of that identifier in the environment.", body = crate::http::openapi::ErrorDto),
        (status = 409, description = "An `idempotency-key` still in flight (with `Retry-After: 1`).", body = crate::http::openapi::ErrorDto, headers(("Retry-After" = u64, description = "On a key in flight: `1`"))),
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
    let route = format!("PATCH /v1/channel-endpoints/{{identifier}} {identifier}");
    let work = async { idempotent::outcome(200, update_endpoint(&s, &env, &identifier, &body).await) };
    idempotent::answer(&s, &env, &headers, &route, &body, work).await
}

/// `DELETE /v1/channel-endpoints/{identifier}`: 204.
#[utoipa::path(
    delete,
    path = "/v1/channel-endpoints/{identifier}",
    tag = "Channel endpoints",
    operation_id = "deleteChannelEndpoint",
    summary = "Delete an endpoint",
    description = "Removes an endpoint.",
    params(("identifier" = String, Path, description = "The endpoint's identifier.")),
    security(("ApiKey" = [])),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No endpoint of that identifier in the environment.", body = crate::http::openapi::ErrorDto),
        crate::http::openapi::ReadErrors,
    )
)]
pub(super) async fn delete(
    State(s): State<Arc<AppState>>,
    Authenticated(env): Authenticated,
    Path(identifier): Path<String>,
) -> Result<Response, ApiError> {
    if valid_identifier(&identifier) && s.endpoints.delete_endpoint(env.id(), &identifier).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(not_found(&identifier))
    }
}

fn not_found(identifier: &str) -> ApiError {
    ApiError::refused(
        Refusal::NotFound,
        format!("Channel endpoint with identifier '{identifier}' not found"),
    )
}

async fn stored(s: &AppState, env: &Environment, identifier: &str) -> Result<EndpointRow, ApiError> {
    if !valid_identifier(identifier) {
        return Err(not_found(identifier));
    }
    let found = s
        .endpoints
        .list_endpoints(env.id(), &Filter::one(identifier))
        .await?;
    found.rows.into_iter().next().ok_or_else(|| not_found(identifier))
}

async fn create_endpoint(s: &AppState, env: &Environment, bytes: &[u8]) -> Result<Value, ApiError> {
    let c: Create = serde_json::from_slice(bytes).map_err(|_| {
        ApiError::invalid_field("body", "request body is not valid JSON of the expected shape")
    })?;
    let required = |v: Option<String>, field: &'static str| {
        v.filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::invalid_field(field, format!("{field} is required")))
    };
    let subscriber = required(c.subscriber_id, "subscriberId")?;
    if !super::connections::valid_text(&subscriber) {
        let msg = "subscriberId must be 1 to 255 bytes without control characters";
        return Err(ApiError::invalid_field("subscriberId", msg));
    }
    let integration = required(c.integration_identifier, "integrationIdentifier")?;
    let kind = required(c.kind, "type")?;
    let provider = env.providers.get(&integration).ok_or_else(|| {
        let msg = format!("Integration not found: {integration} in environment {}", env.id());
        ApiError::refused(Refusal::NotFound, msg)
    })?;
    let fields = c
        .endpoint
        .ok_or_else(|| ApiError::invalid_field("endpoint", "endpoint is required"))?;
    let endpoint = checked(provider, &kind, fields)?;
    let identifier = match c.identifier {
        Some(id) if valid_identifier(&id) => id,
        Some(_) => {
            let msg = "identifier must be 1 to 100 characters of A-Z, a-z, 0-9, '.', '_' or '-'";
            return Err(ApiError::invalid_field("identifier", msg));
        }
        None => s.sealer.new_identifier("chendp_"),
    };
    let context = match &c.context {
        Some(map) => {
            Context::new(map).map_err(|e| ApiError::invalid_field("context", e.to_string()))?;
            context_records(map)
        }
        None => Value::Object(Map::new()),
    };
    let record = ChannelEndpointRecord {
        endpoint,
        subscriber_id: subscriber,
        connection_identifier: c.connection_identifier,
        integration_identifier: integration,
        context: serde_json::from_value(context).map_err(|_| ApiError::Internal("context"))?,
    };
    // Linked to a connection: the same rule as a user link through OAuth.
    if let Some(connection) = &record.connection_identifier {
        let found = match valid_identifier(connection) {
            true => {
                s.connections
                    .list_connections(env.id(), &Filter::one(connection))
                    .await?
                    .rows
            }
            false => Vec::new(),
        };
        let Some(row) = found.first() else {
            return Err(super::connections::not_found(connection));
        };
        ownership::check_endpoint(&row.connection, &record, ownership::Place::Asserted).map_err(
            |c| match c {
                Conflict::Integration => ApiError::refused(Refusal::BadRequest, c.message()),
                other => ApiError::refused(Refusal::Conflict, other.message()),
            },
        )?;
    }
    put(s, env, &identifier, &record, Write::Create).await
}

async fn update_endpoint(
    s: &AppState,
    env: &Environment,
    identifier: &str,
    bytes: &[u8],
) -> Result<Value, ApiError> {
    let u: Update = serde_json::from_slice(bytes).map_err(|_| {
        ApiError::invalid_field("body", "request body is not valid JSON of the expected shape")
    })?;
    let new = u
        .endpoint
        .ok_or_else(|| ApiError::invalid_field("endpoint", "endpoint is required"))?;
    let row = stored(s, env, identifier).await?;
    let provider = env
        .providers
        .get(&row.endpoint.integration_identifier)
        .ok_or(ApiError::refused(
            Refusal::BadRequest,
            "The endpoint's integration is gone",
        ))?;
    // The SDKs send part of some targets (a Teams channel without its
    // team): what is left out keeps its stored value.
    let mut fields = row.endpoint.endpoint.fields().clone();
    fields.extend(new);
    let endpoint = checked(provider, row.endpoint.endpoint.kind(), fields)?;
    let record = ChannelEndpointRecord {
        endpoint,
        ..row.endpoint
    };
    put(s, env, identifier, &record, Write::Update).await
}

/// The target, if `kind` is one `provider` reaches and every field it
/// needs is a non-empty string (a webhook's URL an https one).
fn checked(provider: &str, kind: &str, fields: Map<String, Value>) -> Result<Endpoint, ApiError> {
    let Some((required, optional)) = fields_of(provider, kind) else {
        let msg = format!("type {kind} is not an endpoint of a {provider} integration");
        return Err(ApiError::invalid_field("type", msg));
    };
    if let Some(other) = fields
        .keys()
        .find(|k| !required.contains(&k.as_str()) && !optional.contains(&k.as_str()))
    {
        let msg = format!("endpoint.{other} is not a field of {kind}");
        return Err(ApiError::invalid_field("endpoint", msg));
    }
    if let Some(bad) = fields.iter().find(|(_, v)| !v.is_string()) {
        let msg = format!("endpoint.{} must be a string", bad.0);
        return Err(ApiError::invalid_field("endpoint", msg));
    }
    for field in required {
        if fields
            .get(*field)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            let msg = format!("endpoint.{field} is required for {kind}");
            return Err(ApiError::invalid_field("endpoint", msg));
        }
    }
    if kind == "webhook" {
        let url = fields.get("url").and_then(Value::as_str).unwrap_or_default();
        if url::Url::parse(url)
            .map(|u| u.scheme() != "https")
            .unwrap_or(true)
        {
            return Err(ApiError::invalid_field(
                "endpoint",
                "endpoint.url must be an https URL",
            ));
        }
    }
    Ok(Endpoint::new(kind, fields))
}

async fn put(
    s: &AppState,
    env: &Environment,
    identifier: &str,
    record: &ChannelEndpointRecord,
    write: Write,
) -> Result<Value, ApiError> {
    let written = s
        .endpoints
        .put_endpoint(env.id(), identifier, record, write, s.now().unix_timestamp())
        .await?;
    match written {
        Ok(row) => Ok(wire::endpoint(&row, env)),
        Err(Conflict::Gone) => Err(not_found(identifier)),
        Err(conflict) => Err(ApiError::refused(Refusal::Conflict, conflict.message())),
    }
}
