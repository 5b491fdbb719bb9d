//! The HTTP side: the router, its layers and the request log; the handlers
//! live beside it, one module per concern.

pub mod auth;
pub(crate) mod binding;
mod callback;
mod connections;
mod credentials;
mod endpoints;
pub mod error;
mod events;
mod idempotent;
pub mod issue;
mod lists;
mod novu_errors;
pub mod openapi;
mod ops;
pub mod page;
mod rate_limit;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, head, patch, post};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::config::CALLBACK_PATH;

/// The header that carries a request's id, set on every request and echoed on every answer.
pub const REQUEST_ID: &str = "x-request-id";
use crate::state::AppState;

/// Request bodies larger than this are refused (five contexts of 64 KB fit).
pub const MAX_BODY_BYTES: usize = 512 * 1024;

/// The start link's route (browser binding): `START_PATH` (`/v1/integrations/chat/oauth/start`) and the start id.
pub const START_ROUTE: &str = "/v1/integrations/chat/oauth/start/{id}";

/// Every route [`router`] serves, as (method, path template), and nothing
/// else: the router is built from this table, one handler per entry (an
/// entry without a handler panics when the router is built, so every test
/// that starts a server finds it). `HEAD` is listed where it has a handler
/// of its own; axum answers `HEAD` on every other `GET` route with the
/// `GET` handler, without the body. The OpenAPI document at
/// `/openapi.json` describes exactly these (`tests/api.rs` holds them
/// equal, and probes each on a running server).
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/integrations/channel-connections/oauth"),
    ("POST", "/v1/integrations/channel-endpoints/oauth"),
    ("POST", "/v1/integrations/chat/oauth"),
    ("POST", "/v1/integrations/channel-endpoints/link"),
    ("GET", CALLBACK_PATH),
    ("HEAD", CALLBACK_PATH),
    ("GET", START_ROUTE),
    ("HEAD", START_ROUTE),
    ("GET", "/v1/channel-connections"),
    ("POST", "/v1/channel-connections"),
    ("GET", "/v1/channel-connections/{identifier}"),
    ("PATCH", "/v1/channel-connections/{identifier}"),
    ("DELETE", "/v1/channel-connections/{identifier}"),
    ("GET", "/v1/channel-connections/{identifier}/credentials"),
    ("GET", "/v1/channel-endpoints"),
    ("POST", "/v1/channel-endpoints"),
    ("GET", "/v1/channel-endpoints/{identifier}"),
    ("PATCH", "/v1/channel-endpoints/{identifier}"),
    ("DELETE", "/v1/channel-endpoints/{identifier}"),
    ("POST", "/v1/integrations/slack/events/{integrationIdentifier}"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
];

/// The handler of one [`ROUTES`] entry.
///
/// # Panics
/// When the entry has none (a route added to the table only).
fn handler(method: &str, path: &str, state: &Arc<AppState>) -> MethodRouter<Arc<AppState>> {
    // Anyone may call the callback and the start link: a per-address limit.
    let limited = || middleware::from_fn_with_state(state.clone(), rate_limit::limit);
    match (method, path) {
        ("POST", "/v1/integrations/channel-connections/oauth") => post(issue::connect),
        ("POST", "/v1/integrations/channel-endpoints/oauth") => post(issue::link_user),
        ("POST", "/v1/integrations/chat/oauth") => post(issue::chat_oauth),
        ("POST", "/v1/integrations/channel-endpoints/link") => post(issue::link_channel_endpoint),
        ("GET", CALLBACK_PATH) => get(callback::callback).route_layer(limited()),
        // HEAD spends nothing: link scanners and preview bots send it.
        ("HEAD", CALLBACK_PATH) => head(head_callback).route_layer(limited()),
        ("GET", START_ROUTE) => get(binding::start).route_layer(limited()),
        ("HEAD", START_ROUTE) => head(head_start).route_layer(limited()),
        ("GET", "/v1/channel-connections") => get(lists::list_connections),
        ("POST", "/v1/channel-connections") => post(connections::create),
        ("GET", "/v1/channel-connections/{identifier}") => get(lists::get_connection),
        ("PATCH", "/v1/channel-connections/{identifier}") => patch(connections::update),
        ("DELETE", "/v1/channel-connections/{identifier}") => delete(connections::delete),
        ("GET", "/v1/channel-connections/{identifier}/credentials") => get(credentials::read),
        ("GET", "/v1/channel-endpoints") => get(lists::list_endpoints),
        ("POST", "/v1/channel-endpoints") => post(endpoints::create),
        ("GET", "/v1/channel-endpoints/{identifier}") => get(endpoints::get),
        ("PATCH", "/v1/channel-endpoints/{identifier}") => patch(endpoints::update),
        ("DELETE", "/v1/channel-endpoints/{identifier}") => delete(endpoints::delete),
        ("POST", "/v1/integrations/slack/events/{integrationIdentifier}") => post(events::receive),
        ("GET", "/healthz") => get(ops::healthz),
        ("GET", "/readyz") => get(ops::readyz),
        ("GET", "/metrics") => get(ops::metrics),
        ("GET", "/openapi.json") => get(openapi::serve),
        _ => panic!("ROUTES names {method} {path}, which has no handler in http::handler"),
    }
}

/// The API's router. Mount it in a service, or serve it with `axum::serve`
/// (with [`fn@crate::app`] for the demo's stand-ins too). It serves
/// [`ROUTES`]; anything else is a 404 (405 for another method) in Novu's shape.
pub fn router(state: Arc<AppState>) -> Router {
    // The method routers of one path merge (axum joins them).
    let routes = ROUTES.iter().fold(Router::new(), |r, &(method, path)| {
        r.route(path, handler(method, path, &state))
    });
    routes
        .fallback(novu_errors::not_found)
        .with_state(state.clone())
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            novu_errors::novu_shape,
        ))
        .layer(middleware::from_fn_with_state(state, ops::count))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(log_response)
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(middleware::map_request(plain_request_id))
}

/// Each request's span: method, route (the template, never the path: a
/// start link's id is a bearer secret; never the query: it holds codes and
/// states) and request id; every line logged while it runs carries them.
fn request_span(req: &Request) -> Span {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("(no route)", MatchedPath::as_str);
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!("request", method = %req.method(), route, request_id = id)
}

/// One line per request: its status and time taken (in its span).
fn log_response(res: &Response, latency: Duration, _span: &Span) {
    tracing::info!(
        status = res.status().as_u16(),
        micros = latency.as_micros() as u64,
        "request"
    );
}

/// The request id a proxy in front sent is kept when it is a plain token
/// (at most 64 letters, digits, `-`, `_`, `.`); anything else is replaced
/// by this service's own (a log line must not carry what a client made up).
async fn plain_request_id(mut req: Request) -> Request {
    let plain = req.headers().get(REQUEST_ID).is_some_and(|v| {
        let b = v.as_bytes();
        (1..=64).contains(&b.len()) && b.iter().all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c))
    });
    if !plain {
        req.headers_mut().remove(REQUEST_ID);
    }
    req
}

/// The answer to `HEAD` on a route whose `GET` spends something (a start
/// link, a state): nothing spent, no cookie, not to be cached.
async fn without_effect() -> Response {
    (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response()
}

/// `HEAD` on the callback.
#[utoipa::path(
    head,
    path = crate::config::CALLBACK_PATH,
    tag = "OAuth",
    operation_id = "headOAuthCallback",
    summary = "The callback, without effect",
    description = "Answers 200 and spends nothing: the state stays unspent and no cookie is set \
        or cleared (link scanners and preview bots send `HEAD`). Rate-limited per client address, as `GET`.",
    responses(
        (status = 200, description = "Nothing spent.", headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 429, description = "Too many requests from this address.",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub(crate) async fn head_callback() -> Response {
    without_effect().await
}

/// `HEAD` on a start link.
#[utoipa::path(
    head,
    path = START_ROUTE,
    tag = "OAuth",
    operation_id = "headOAuthStart",
    summary = "A start link, without effect",
    description = "Answers 200 and spends nothing: the link stays usable and no cookie is set. \
        Rate-limited per client address, as `GET`.",
    params(("id" = String, Path, description = "The start link's id (a bearer secret).")),
    responses(
        (status = 200, description = "Nothing spent.", headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 429, description = "Too many requests from this address.",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub(crate) async fn head_start() -> Response {
    without_effect().await
}

#[cfg(test)]
mod tests {
    use super::{ROUTES, START_ROUTE, binding::START_PATH};

    #[test]
    fn the_start_route_is_the_start_path_and_an_id() {
        assert_eq!(START_ROUTE, format!("{START_PATH}/{{id}}"));
    }

    #[test]
    fn every_route_is_listed_once() {
        for (i, route) in ROUTES.iter().enumerate() {
            assert!(!ROUTES[..i].contains(route), "{route:?} twice");
        }
    }
}
