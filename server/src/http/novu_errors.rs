//! Every error answer in Novu's `ErrorDto` shape, whoever made it: a
//! handler's refusal gains `timestamp` and `path`; a layer's bare answer
//! (413 from the body limit, 504 from the timeout), an unknown route (404)
//! and a wrong method (405) become one. HTML pages (the callback's result,
//! the stand-ins) are left as they are: a browser reads those.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::state::AppState;

/// Largest error body rewritten (handlers' error bodies are a few hundred bytes).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The middleware: answers as they are, errors in Novu's shape.
pub(crate) async fn novu_shape(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    // The URI shares its bytes: no copy on the answers that are no error.
    let uri = req.uri().clone();
    let res = next.run(req).await;
    let status = res.status();
    if status.as_u16() < 400 {
        return res;
    }
    let kind = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if kind.starts_with("text/html") {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = to_bytes(body, MAX_ERROR_BODY).await.unwrap_or_default();
    let mut fields = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(fields))
            if kind.starts_with("application/json") && fields.contains_key("statusCode") =>
        {
            fields
        }
        // A layer's plain answer: its status in words.
        _ => {
            let mut fields = Map::new();
            let message = status.canonical_reason().unwrap_or("Error");
            fields.insert("message".into(), Value::String(message.to_owned()));
            fields
        }
    };
    fields.insert("statusCode".into(), json!(status.as_u16()));
    fields.insert("timestamp".into(), Value::String(iso_8601(s.now())));
    fields.insert("path".into(), Value::String(uri.path().to_owned()));
    let body = Value::Object(fields).to_string();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, Body::from(body))
}

/// An unknown route, as Novu (NestJS) words it.
pub(crate) async fn not_found(method: Method, req: Request) -> Response {
    let message = format!("Cannot {method} {}", req.uri().path());
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"statusCode": 404, "message": message}).to_string(),
    )
        .into_response()
}

/// A time as JavaScript's `toISOString` writes it (milliseconds, `Z`).
pub(crate) fn iso_8601(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::iso_8601;

    #[test]
    fn times_are_written_as_javascript_writes_them() {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(1_767_225_600_123_456_789).unwrap();
        assert_eq!(iso_8601(t), "2026-01-01T00:00:00.123Z");
    }
}
