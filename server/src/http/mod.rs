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
pub mod page;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::config::CALLBACK_PATH;
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
        .route(CALLBACK_PATH, get(callback::callback).head(without_effect))
        .route(
            &format!("{}/{{id}}", binding::START_PATH),
            get(binding::start).head(without_effect),
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
        .fallback(novu_errors::not_found)
        .with_state(state.clone())
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(middleware::from_fn_with_state(state, novu_errors::novu_shape))
        .layer(middleware::from_fn(log_request))
}

/// The answer to `HEAD` on a route whose `GET` spends something (a start
/// link, a state): nothing spent, no cookie, not to be cached.
async fn without_effect() -> impl IntoResponse {
    (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")])
}

/// One line per request: method, route (the template, never the path: a
/// start link's id is a bearer secret; never the query: it holds codes and
/// states), status and time taken.
async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(no route)".to_owned(), |m| m.as_str().to_owned());
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    tracing::info!(%method, %route, status = res.status().as_u16(), micros = started.elapsed().as_micros() as u64, "request");
    res
}
