//! The operator's routes: `/healthz` (the process answers), `/readyz`
//! (every configured store answers within a deadline), `/metrics` (the
//! Prometheus text format), and the middleware that counts requests.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::metrics::RequestLabels;
use crate::state::AppState;

/// How long a store may take to say it answers.
const READY_DEADLINE: Duration = Duration::from_secs(2);

/// The process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "Operations",
    operation_id = "getHealthz",
    summary = "Liveness",
    description = "`ok` while the process answers; it asks no store (see `/readyz`). No key needed.",
    responses((status = 200, description = "The process answers.", content_type = "text/plain", body = String, example = "ok"))
)]
pub(super) async fn healthz() -> &'static str {
    "ok"
}

/// 200 when every configured store answers, else 503 naming those that did not.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "Operations",
    operation_id = "getReadyz",
    summary = "Readiness",
    description = "Asks every configured store (SQLite, and Redis and PostgreSQL when configured) \
        whether it answers, each within 2 seconds. No key needed.",
    responses(
        (status = 200, description = "Every store answered.", body = crate::http::openapi::Ready),
        (status = 503, description = "A store did not answer: the body names it.", body = crate::http::openapi::NotReady),
    )
)]
pub(super) async fn readyz(State(s): State<Arc<AppState>>) -> Response {
    let checks = s.ready.iter().map(|(name, store)| async move {
        let up = matches!(
            tokio::time::timeout(READY_DEADLINE, store.ready()).await,
            Ok(Ok(()))
        );
        (*name, up)
    });
    let results = futures_util::future::join_all(checks).await;
    let stores: Map<String, Value> = results
        .iter()
        .map(|(name, up)| ((*name).to_owned(), json!(if *up { "up" } else { "down" })))
        .collect();
    let down: Vec<&str> = results
        .iter()
        .filter(|(_, up)| !up)
        .map(|(name, _)| *name)
        .collect();
    if down.is_empty() {
        return Json(json!({ "status": "ok", "stores": stores })).into_response();
    }
    let body = json!({
        "statusCode": 503,
        "message": format!("Not ready: {} down", down.join(", ")),
        "down": down,
        "stores": stores,
    });
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

/// The Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "Operations",
    operation_id = "getMetrics",
    summary = "Metrics",
    description = "The Prometheus text format: requests by route template, method and status; flows \
        issued; callbacks by outcome; exchange and store latencies; parked records; idempotency \
        replays. No key needed: keep it from the public network.",
    responses((status = 200, description = "The metrics.", content_type = "text/plain; version=0.0.4; charset=utf-8", body = String))
)]
pub(super) async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], s.metrics.render()).into_response()
}

/// Counts each request by route template, method and status.
pub(super) async fn count(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("(no route)", MatchedPath::as_str)
        .to_owned();
    let method = req.method().as_str().to_owned();
    let res = next.run(req).await;
    let labels = RequestLabels {
        route,
        method,
        status: res.status().as_u16(),
    };
    s.metrics.requests.get_or_create(&labels).inc();
    res
}
