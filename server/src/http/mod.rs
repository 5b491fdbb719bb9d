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
use axum::routing::{get, post};
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

/// The API's router. Mount it in a service, or serve it with `axum::serve`
/// (with [`fn@crate::app`] for the demo's stand-ins too).
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/integrations/channel-connections/oauth", post(issue::connect))
        .route("/v1/integrations/channel-endpoints/oauth", post(issue::link_user))
        .route("/v1/integrations/chat/oauth", post(issue::chat_oauth))
        .route(
            "/v1/integrations/channel-endpoints/link",
            post(issue::link_channel_endpoint),
        )
        // HEAD spends nothing: link scanners and preview bots send it.
        // Anyone may call these two: a per-address limit.
        .route(
            CALLBACK_PATH,
            get(callback::callback)
                .head(without_effect)
                .route_layer(middleware::from_fn_with_state(state.clone(), rate_limit::limit)),
        )
        .route(
            &format!("{}/{{id}}", binding::START_PATH),
            get(binding::start)
                .head(without_effect)
                .route_layer(middleware::from_fn_with_state(state.clone(), rate_limit::limit)),
        )
        .route(
            "/v1/channel-connections",
            get(lists::list_connections).post(connections::create),
        )
        .route(
            "/v1/channel-connections/{identifier}",
            get(lists::get_connection)
                .patch(connections::update)
                .delete(connections::delete),
        )
        .route(
            "/v1/channel-connections/{identifier}/credentials",
            get(credentials::read),
        )
        .route(
            "/v1/channel-endpoints",
            get(lists::list_endpoints).post(endpoints::create),
        )
        .route(
            "/v1/channel-endpoints/{identifier}",
            get(endpoints::get)
                .patch(endpoints::update)
                .delete(endpoints::delete),
        )
        .route(
            "/v1/integrations/slack/events/{integrationIdentifier}",
            post(events::receive),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
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
async fn without_effect() -> impl IntoResponse {
    (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")])
}
