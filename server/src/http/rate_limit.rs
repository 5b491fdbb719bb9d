//! The per-address limit ([`crate::rate_limit`]) on the routes anyone may
//! call: a 429 page with `Retry-After` past the quota.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::http::REQUEST_ID;
use crate::http::page::{Page, finish};
use crate::state::AppState;

/// The middleware: a 429 page with `Retry-After` past the quota.
pub(super) async fn limit(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let (Some(limit), Some(ip)) = (&s.rate_limit, client) else {
        return next.run(req).await;
    };
    let Err(wait) = limit.check(ip) else {
        return next.run(req).await;
    };
    let request_id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok());
    let hint = format!("Try again in {wait} seconds.");
    let page = Page {
        title: "Too many attempts",
        message: "Too many attempts came from your address.",
        hint: &hint,
        detail: None,
    };
    let mut res = finish(None, StatusCode::TOO_MANY_REQUESTS, &[], &page, request_id);
    if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}
