//! `--demo`'s own pages: `/` with "Connect Slack" and "Connect Teams", each
//! a form that starts the flow for a demo subscriber (the server plays the
//! customer's backend here, so the browser never holds the API key).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use channel_connect::{ConnectRequestBody, Entropy, IssueParams};
use serde_json::json;

use crate::app::AppState;
use crate::error::ApiError;

/// `/` and `/demo/connect/{integration}`.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/demo/connect/{integration}", post(start))
        .with_state(state)
}

async fn index() -> Response {
    let html = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>channel-connect demo</title></head>\
        <body><h1>channel-connect demo</h1>\
        <p>Connect a workspace for subscriber <code>subscriber-123</code>. Slack and Microsoft are local stand-ins.</p>\
        <form method=\"post\" action=\"/demo/connect/slack\"><button id=\"connect-slack\">Connect Slack</button></form>\
        <form method=\"post\" action=\"/demo/connect/msteams\"><button id=\"connect-teams\">Connect Teams</button></form>\
        </body></html>";
    (
        [(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; form-action 'self'",
        )],
        Html(html),
    )
        .into_response()
}

async fn start(State(s): State<Arc<AppState>>, Path(integration): Path<String>) -> Response {
    let Some(env) = s.config.environments.first() else {
        return ApiError::NotFound("no environment".into()).into_response();
    };
    let body = json!({
        "integrationIdentifier": integration, "subscriberId": "subscriber-123",
        "context": { "tenant": "org-acme" }, "autoLinkUser": true
    });
    let mut bytes = [0u8; 32];
    (s.entropy)(&mut bytes);
    let entropy = Entropy(bytes);
    let issued = ConnectRequestBody::from_json(body.to_string().as_bytes())
        .and_then(|b| env.core.connect_url(&b, &IssueParams::new((s.clock)(), &entropy)));
    match issued {
        Ok(issued) => Redirect::to(&issued.url).into_response(),
        Err(e) => ApiError::Request(e).into_response(),
    }
}
