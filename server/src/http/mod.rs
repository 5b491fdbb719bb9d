//! The HTTP side: the router, its layers and the request log; the handlers
//! live beside it, one module per concern.

pub(crate) mod binding;
mod callback;
pub mod error;
pub mod issue;
pub mod page;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::config::CALLBACK_PATH;
use crate::http::error::ApiError;
use crate::state::{AppState, authorize};
use crate::store::{Filter, Listing};

/// Request bodies larger than this are refused (five contexts of 64 KB fit).
pub const MAX_BODY_BYTES: usize = 512 * 1024;

/// The API's router. Mount it in a service, or serve it with `axum::serve`
/// (with [`fn@crate::app`] for the demo's stand-ins too).
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/integrations/channel-connections/oauth", post(issue::connect))
        .route("/v1/integrations/channel-endpoints/oauth", post(issue::link_user))
        // HEAD spends nothing: link scanners and preview bots send it.
        .route(CALLBACK_PATH, get(callback::callback).head(without_effect))
        .route(
            &format!("{}/{{id}}", binding::START_PATH),
            get(binding::start).head(without_effect),
        )
        .route("/v1/channel-connections", get(list_connections))
        .route("/v1/channel-connections/{identifier}", get(get_connection))
        .route("/v1/channel-endpoints", get(list_endpoints))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            Duration::from_secs(30),
        ))
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

/// The list endpoints' query (Novu's names).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    subscriber_id: Option<String>,
    connection_identifier: Option<String>,
    integration_identifier: Option<String>,
    limit: Option<i64>,
    page: Option<i64>,
}

impl ListQuery {
    fn filter(self) -> Filter {
        let limit = self.limit.unwrap_or(10).clamp(1, 100);
        Filter {
            subscriber_id: self.subscriber_id,
            connection_identifier: self.connection_identifier,
            integration_identifier: self.integration_identifier,
            limit,
            offset: self.page.unwrap_or(0).clamp(0, 1_000_000) * limit,
        }
    }
}

async fn list_connections(
    s: State<Arc<AppState>>,
    h: HeaderMap,
    q: Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    list(s, h, q, Listing::Connections).await
}

async fn list_endpoints(
    s: State<Arc<AppState>>,
    h: HeaderMap,
    q: Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    list(s, h, q, Listing::Endpoints).await
}

/// A page of the environment's own rows, as Novu's list endpoints answer.
async fn list(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
    what: Listing,
) -> Result<Json<Value>, ApiError> {
    let env = authorize(&s, &headers)?;
    let filter = q.filter();
    let (page, limit) = (filter.offset / filter.limit, filter.limit);
    let data = s.records.list(what, env.id(), &filter).await?;
    Ok(Json(json!({ "data": data, "page": page, "pageSize": limit })))
}

async fn get_connection(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(identifier): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let env = authorize(&s, &headers)?;
    let filter = Filter {
        connection_identifier: Some(identifier.clone()),
        limit: 1,
        ..Filter::default()
    };
    let mut found = s.records.list(Listing::Connections, env.id(), &filter).await?;
    match found.pop() {
        Some(c) => Ok(Json(json!({ "data": c }))),
        None => Err(ApiError::NotFound(format!(
            "Channel connection not found: {identifier}"
        ))),
    }
}
