//! `--demo`'s own pages: `/` with "Connect Slack", "Connect Teams" and "Connect Webex", each
//! a form that starts the flow for a demo subscriber (the server plays the
//! customer's backend here, so the browser never holds the API key).

pub mod standin;

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::config::DEMO_BROWSER_API_KEY;
use crate::http::error::ApiError;
use crate::http::issue::issue_url;
use crate::http::page::{Tone, document, style_csp};
use crate::state::AppState;

/// `/` and `/demo/connect/{integration}`.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/demo/connect/{integration}", post(start))
        .with_state(state)
}

async fn index() -> Response {
    static PAGE: LazyLock<(String, String)> = LazyLock::new(|| {
        let main = "<h1>channel-connect demo</h1>\
            <p class=\"lead\">Connect a workspace for subscriber <code>subscriber-123</code>.</p>\
            <p class=\"hint\">Slack, Microsoft and Webex are local stand-ins, served by this process.</p>\
            <div class=\"actions\">\
            <form method=\"post\" action=\"/demo/connect/slack\">\
            <button id=\"connect-slack\" class=\"button\">Connect Slack</button></form>\
            <form method=\"post\" action=\"/demo/connect/msteams\">\
            <button id=\"connect-teams\" class=\"button\">Connect Teams</button></form>\
            <form method=\"post\" action=\"/demo/connect/webex\">\
            <button id=\"connect-webex\" class=\"button\">Connect Webex</button></form>\
            </div>";
        let policy = format!(
            "default-src 'none'; {}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
            style_csp()
        );
        (document("channel-connect demo", Tone::Plain, main), policy)
    });
    let (html, policy) = &*PAGE;
    (
        [(header::CONTENT_SECURITY_POLICY, policy.as_str())],
        Html(html.as_str()),
    )
        .into_response()
}

async fn start(State(s): State<Arc<AppState>>, Path(integration): Path<String>) -> Response {
    // The environment with browser binding on: the answer is a start URL
    // of this server, which sets the cookie on the way to the provider.
    let Some(env) = s.config.by_api_key(DEMO_BROWSER_API_KEY) else {
        return ApiError::Internal("no demo environment").into_response();
    };
    let body = json!({
        "integrationIdentifier": integration, "subscriberId": "subscriber-123",
        "context": { "tenant": "org-acme" }, "autoLinkUser": true
    });
    match issue_url(&s, env, body.to_string().as_bytes(), false).await {
        (201, v) => Redirect::to(v["url"].as_str().unwrap_or("/")).into_response(),
        (status, v) => {
            let status =
                axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::BAD_REQUEST);
            (status, axum::Json(v)).into_response()
        }
    }
}
