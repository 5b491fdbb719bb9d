//! The read endpoints: the environment's connections and endpoints, as
//! Novu lists them (cursor pages, its filters, newest first), never with a
//! credential.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde_json::{Value, json};

use crate::config::Environment;
use crate::http::auth::Authenticated;
use crate::http::error::{ApiError, Refusal};
use crate::http::wire;
use crate::state::AppState;
use crate::store::{Filter, Listed, Order, OrderBy};

/// Which list a query is for (endpoints take `connectionIdentifier`,
/// connections `connectionMode`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Of {
    Connections,
    Endpoints,
}

/// A page of the environment's connections.
#[utoipa::path(
    get,
    path = "/v1/channel-connections",
    tag = "Channel connections",
    operation_id = "listChannelConnections",
    summary = "List connections",
    description = "A page of the environment's connections, newest first by default, never with a \
        credential. Novu's cursors and filters. Not in Novu's shape: each connection's `status` \
        (`needs_reconnection` when the provider refused its tokens).",
    params(
        crate::http::openapi::ListQuery,
        ("connectionMode" = Option<crate::http::openapi::ConnectionMode>, Query, description = "Only `subscriber` or only `shared` connections."),
    ),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "A page.", body = crate::http::openapi::ConnectionList),
        (status = 422, description = "A query parameter refused (named in `errors`).", body = crate::http::openapi::ValidationErrorDto),
        crate::http::openapi::ReadErrors,
    )
)]
pub(super) async fn list_connections(
    State(s): State<Arc<AppState>>,
    Authenticated(env): Authenticated,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let Some(filter) = parse(&env, q.as_deref().unwrap_or(""), Of::Connections)? else {
        return Ok(Json(envelope(Vec::new(), &empty())));
    };
    let listed = s.connections.list_connections(env.id(), &filter).await?;
    let data = listed.rows.iter().map(wire::connection).collect();
    Ok(Json(envelope(data, &listed)))
}

/// A page of the environment's endpoints.
#[utoipa::path(
    get,
    path = "/v1/channel-endpoints",
    tag = "Channel endpoints",
    operation_id = "listChannelEndpoints",
    summary = "List endpoints",
    description = "A page of the environment's endpoints, newest first by default; a webhook's URL is \
        answered `[redacted]`. Novu's cursors and filters.",
    params(
        crate::http::openapi::ListQuery,
        ("connectionIdentifier" = Option<String>, Query, description = "Only the endpoints of this connection."),
    ),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "A page.", body = crate::http::openapi::EndpointList),
        (status = 422, description = "A query parameter refused (named in `errors`).", body = crate::http::openapi::ValidationErrorDto),
        crate::http::openapi::ReadErrors,
    )
)]
pub(super) async fn list_endpoints(
    State(s): State<Arc<AppState>>,
    Authenticated(env): Authenticated,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let Some(filter) = parse(&env, q.as_deref().unwrap_or(""), Of::Endpoints)? else {
        return Ok(Json(envelope(Vec::new(), &empty())));
    };
    let listed = s.endpoints.list_endpoints(env.id(), &filter).await?;
    let data = listed.rows.iter().map(|r| wire::endpoint(r, &env)).collect();
    Ok(Json(envelope(data, &listed)))
}

/// One connection of the environment.
#[utoipa::path(
    get,
    path = "/v1/channel-connections/{identifier}",
    tag = "Channel connections",
    operation_id = "getChannelConnection",
    summary = "Get a connection",
    description = "One connection of the environment, under `data`, never with a credential.",
    params(("identifier" = String, Path, description = "The connection's identifier.")),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "The connection.", body = crate::http::openapi::ConnectionData),
        (status = 404, description = "No connection of that identifier in the environment.", body = crate::http::openapi::ErrorDto),
        crate::http::openapi::ReadErrors,
    )
)]
pub(super) async fn get_connection(
    State(s): State<Arc<AppState>>,
    Authenticated(env): Authenticated,
    Path(identifier): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let found = match super::connections::valid_identifier(&identifier) {
        true => {
            s.connections
                .list_connections(env.id(), &Filter::one(&identifier))
                .await?
                .rows
        }
        false => Vec::new(),
    };
    match found.first() {
        Some(c) => Ok(Json(json!({ "data": wire::connection(c) }))),
        None => Err(ApiError::refused(
            Refusal::NotFound,
            format!("Channel connection with identifier '{identifier}' not found"),
        )),
    }
}

/// Novu's list envelope.
fn envelope<T>(data: Vec<Value>, listed: &Listed<T>) -> Value {
    json!({
        "data": data,
        "next": listed.next,
        "previous": listed.previous,
        "totalCount": listed.total,
        "totalCountCapped": listed.capped,
    })
}

fn empty() -> Listed<()> {
    Listed {
        rows: Vec::new(),
        next: None,
        previous: None,
        total: 0,
        capped: false,
    }
}

/// A 422 about `field`, as Novu's validation answers it.
fn invalid(field: &'static str, message: &str) -> ApiError {
    ApiError::invalid_field(field, message)
}

/// The query as a filter; `None` when it can match nothing (a channel other
/// than chat). Numbers are read as the SDKs write them (`5.0` too);
/// `contextKeys` may repeat, and an empty one asks for rows without context.
fn parse(env: &Environment, query: &str, of: Of) -> Result<Option<Filter>, ApiError> {
    let mut f = Filter::page(10);
    let mut keys: Option<Vec<String>> = None;
    let mut provider = None;
    let mut integration = None;
    let mut other_channel = false;
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let value = value.into_owned();
        // No stored value holds a control character (and PostgreSQL refuses NUL).
        if value.chars().any(char::is_control) {
            return Err(ApiError::invalid_field(
                "query",
                "query values hold no control characters",
            ));
        }
        match name.as_ref() {
            "after" => f.after = Some(value),
            "before" => f.before = Some(value),
            "limit" => {
                let n: f64 = value
                    .parse()
                    .map_err(|_| invalid("limit", "limit must be a number"))?;
                if n.fract() != 0.0 || !(1.0..=100.0).contains(&n) {
                    return Err(invalid("limit", "limit must be a whole number from 1 to 100"));
                }
                f.limit = n as i64;
            }
            "orderDirection" => {
                f.order = match value.as_str() {
                    "ASC" => Order::Asc,
                    "DESC" => Order::Desc,
                    _ => return Err(invalid("orderDirection", "orderDirection must be ASC or DESC")),
                }
            }
            "orderBy" => {
                f.order_by = match value.as_str() {
                    "createdAt" => OrderBy::CreatedAt,
                    "updatedAt" => OrderBy::UpdatedAt,
                    _ => return Err(invalid("orderBy", "orderBy must be createdAt or updatedAt")),
                }
            }
            "includeCursor" => {
                f.include_cursor = match value.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(invalid("includeCursor", "includeCursor must be true or false")),
                }
            }
            "subscriberId" => f.subscriber_id = Some(value),
            "integrationIdentifier" => integration = Some(value),
            "providerId" => provider = Some(value),
            "channel" => match value.as_str() {
                "chat" => {}
                "in_app" | "email" | "sms" | "push" | "tool" => other_channel = true,
                _ => {
                    return Err(invalid(
                        "channel",
                        "channel must be one of in_app, email, sms, chat, push, tool",
                    ));
                }
            },
            "contextKeys" => {
                let list = keys.get_or_insert_with(Vec::new);
                if !value.is_empty() {
                    list.push(value);
                }
            }
            "connectionIdentifier" if of == Of::Endpoints => f.connection_identifier = Some(value),
            "connectionMode" if of == Of::Connections => {
                f.shared = match value.as_str() {
                    "shared" => Some(true),
                    "subscriber" => Some(false),
                    _ => {
                        return Err(invalid(
                            "connectionMode",
                            "connectionMode must be subscriber or shared",
                        ));
                    }
                }
            }
            // Anything else (the SDKs' idempotency-key rides in headers) is ignored.
            _ => {}
        }
    }
    if other_channel {
        return Ok(None);
    }
    f.context_keys = keys.map(|mut k| {
        k.sort();
        k.join("\n")
    });
    f.integration_identifiers = match (provider, integration) {
        (None, None) => None,
        (None, Some(i)) => Some(vec![i]),
        (Some(p), None) => Some(env.integrations_of(&p)),
        (Some(p), Some(i)) => Some(env.integrations_of(&p).into_iter().filter(|x| *x == i).collect()),
    };
    Ok(Some(f))
}
