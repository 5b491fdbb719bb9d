//! Novu's `idempotency-key` on POST and PATCH: the same key and body
//! answer the kept answer (`Idempotency-Replay: true`, for 24 hours),
//! another body 422, a request still in flight 409 with `Retry-After: 1`.
//! Keys are per environment; an empty key is no key, as in Novu.

use std::future::Future;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::Environment;
use crate::http::error::{ApiError, Refusal};
use crate::state::AppState;
use crate::store::Idempotency;

/// Longest `idempotency-key` (Novu).
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// Runs `handle` (its status and JSON, success or refusal) once per key:
/// `route` (method, route template and any identifier, such as
/// `PATCH /v1/channel-connections/{identifier} c1`) and `body` are what a
/// reused key must match.
pub(crate) async fn answer(
    s: &AppState,
    env: &Environment,
    headers: &HeaderMap,
    route: &str,
    body: &[u8],
    handle: impl Future<Output = (u16, Value)>,
) -> Response {
    let Some(key) = headers.get("idempotency-key").filter(|k| !k.is_empty()) else {
        let (status, value) = handle.await;
        return json_response(status, &value.to_string(), false);
    };
    let key = match key.to_str() {
        Ok(k) if k.len() <= MAX_IDEMPOTENCY_KEY_LEN => k.to_owned(),
        _ => {
            let msg = format!("idempotency-key must be at most {MAX_IDEMPOTENCY_KEY_LEN} characters");
            return ApiError::refused(Refusal::BadRequest, msg).into_response();
        }
    };
    // The method, route and identifier, length-prefixed, then the body: a
    // key reused on another route or row is another request (422).
    let hash = Sha256::new()
        .chain_update((route.len() as u64).to_be_bytes())
        .chain_update(route.as_bytes())
        .chain_update(body)
        .finalize()
        .to_vec();
    let now = s.now().unix_timestamp();
    match s.idempotency.begin(env.id(), &key, &hash, now).await {
        Ok(Idempotency::Fresh) => {}
        Ok(Idempotency::Replay { status, body }) => {
            s.metrics.idempotency_replays.inc();
            return json_response(status, &body, true);
        }
        Ok(Idempotency::Mismatch) => {
            let msg = "Request with the same idempotency-key but a different body was already sent";
            return ApiError::refused(Refusal::Invalid("idempotency-key"), msg).into_response();
        }
        Ok(Idempotency::InFlight) => {
            let msg = "A request with this idempotency-key is being processed";
            let mut res = ApiError::refused(Refusal::Conflict, msg).into_response();
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return res;
        }
        Err(e) => return ApiError::from(e).into_response(),
    }
    let (status, value) = handle.await;
    let text = value.to_string();
    // A server failure is not an answer to keep: the key is freed for a retry.
    let kept = if status >= 500 {
        s.idempotency.abandon(env.id(), &key).await
    } else {
        s.idempotency.finish(env.id(), &key, status, &text).await
    };
    if let Err(e) = kept {
        return ApiError::from(e).into_response();
    }
    json_response(status, &text, false)
}

/// A handler's result as the status and JSON [`answer`] keeps: `status`
/// on success, the refusal's own otherwise.
pub(crate) fn outcome(status: u16, result: Result<Value, ApiError>) -> (u16, Value) {
    match result {
        Ok(v) => (status, v),
        Err(e) => e.status_and_body(),
    }
}

/// A JSON answer, marked when it is a kept one.
pub(crate) fn json_response(status: u16, body: &str, replay: bool) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_owned(),
    )
        .into_response();
    if replay {
        res.headers_mut()
            .insert("idempotency-replay", HeaderValue::from_static("true"));
    }
    res
}
