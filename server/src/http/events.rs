//! `POST /v1/integrations/slack/events/{integrationIdentifier}`: the Slack
//! app's Events API request URL (<https://api.slack.com/apis/events-api>).
//! Every request is checked against the integration's signing secret on
//! its raw bytes first (`v0` HMAC-SHA256, a 5-minute window:
//! [`channel_connect::provider::slack::events::verify_request`]); only then
//! is the body read. `url_verification` is answered with its challenge;
//! `app_uninstalled` deletes the workspace's connections and their
//! endpoints (the tokens are gone at Slack); `tokens_revoked` naming the bot
//! marks them as needing reconnection. Anything else is acknowledged.
//!
//! The same Slack app may serve several environments: every environment
//! whose integration of that identifier verifies the signature is acted on.
//! Acting twice is harmless, and a signed request is acted on once (a
//! replay mark); Slack's retries come with a new signature and act again.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use channel_connect::provider::slack::events::{self, SlackEvent};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::config::Environment;
use crate::http::error::{ApiError, Refusal};
use crate::state::AppState;

/// One Events API request.
#[utoipa::path(
    post,
    path = "/v1/integrations/slack/events/{integrationIdentifier}",
    tag = "Slack events",
    operation_id = "receiveSlackEvent",
    summary = "Slack's Events API",
    description = "The Slack app's Events API request URL. Every request is checked against the \
        integration's signing secret on its raw bytes first (`v0` HMAC-SHA256, a 5-minute window), and \
        acted on once. `url_verification` is answered with its challenge; `app_uninstalled` deletes the \
        workspace's connections and their endpoints; `tokens_revoked` naming the bot marks them \
        `needs_reconnection`; anything else is acknowledged. No API key: the signature is the \
        credential. Not in Novu.",
    params(
        ("integrationIdentifier" = String, Path, description = "The Slack integration whose signing secret signs the requests."),
        ("X-Slack-Request-Timestamp" = String, Header, description = "Slack's timestamp (seconds)."),
        ("X-Slack-Signature" = String, Header, description = "`v0=` and the hex HMAC-SHA256 of `v0:<timestamp>:<body>`."),
    ),
    request_body(content = serde_json::Value, description = "Slack's event envelope (`url_verification`, `event_callback`, ...).", content_type = "application/json"),
    responses(
        (status = 200, description = "Acknowledged; a `url_verification` answered with its challenge (`text/plain`).", content_type = "text/plain", body = String),
        (status = 401, description = "The signature is missing, wrong or outside the window.", body = crate::http::openapi::ErrorDto),
        (status = 404, description = "No Slack integration with a signing secret has this identifier.", body = crate::http::openapi::ErrorDto),
        (status = 413, description = "The body is over 512 KiB.", body = crate::http::openapi::ErrorDto),
        (status = 503, description = "A store did not answer: Slack retries.", body = crate::http::openapi::ErrorDto),
    )
)]
pub(super) async fn receive(
    State(s): State<Arc<AppState>>,
    Path(integration): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (timestamp, signature) = (header(events::TIMESTAMP_HEADER), header(events::SIGNATURE_HEADER));
    let now = s.now();
    let configured: Vec<&Arc<Environment>> = s
        .config
        .environments
        .iter()
        .filter(|e| {
            e.slack
                .get(&integration)
                .is_some_and(|a| a.signing_secret.is_some())
        })
        .collect();
    if configured.is_empty() {
        return Err(ApiError::refused(
            Refusal::NotFound,
            "No Slack integration with a signing secret has this identifier",
        ));
    }
    let mut verified = Vec::new();
    let mut refusal = None;
    for env in configured {
        let secret = env
            .slack
            .get(&integration)
            .and_then(|a| a.signing_secret.as_ref());
        match secret.map(|k| events::verify_request(k, timestamp, signature, &body, now)) {
            Some(Ok(())) => verified.push(env),
            Some(Err(e)) => refusal = Some(e),
            None => {}
        }
    }
    if verified.is_empty() {
        if let Some(e) = refusal {
            tracing::warn!(integration = %integration, error = %e, "Slack event refused");
        }
        let body = json!({"statusCode": 401, "message": "Slack request signature not valid"});
        return Ok((StatusCode::UNAUTHORIZED, Json(body)).into_response());
    }
    let event = match events::parse_event(&body) {
        Ok(event) => event,
        Err(e) => {
            // Signed, but not what this service reads: acknowledged, or Slack retries it.
            tracing::warn!(integration = %integration, error = %e, "Slack event not understood");
            return Ok(StatusCode::OK.into_response());
        }
    };
    if let SlackEvent::UrlVerification { challenge } = event {
        return Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], challenge).into_response());
    }
    let mark: [u8; 32] = Sha256::new()
        .chain_update(b"slack-event\0")
        // Hex in any case verifies: the mark is taken on one spelling.
        .chain_update(signature.unwrap_or_default().to_ascii_lowercase().as_bytes())
        .finalize()
        .into();
    let window = events::REPLAY_WINDOW_SECS;
    let t = now.unix_timestamp();
    if !s.replay.mark_used(&mark[..16], t + 2 * window, t).await? {
        return Ok(StatusCode::OK.into_response());
    }
    for env in verified {
        act(&s, env, &integration, &event).await?;
    }
    Ok(StatusCode::OK.into_response())
}

/// What an event does to one environment's connections.
async fn act(s: &AppState, env: &Environment, integration: &str, event: &SlackEvent) -> Result<(), ApiError> {
    let (installation, reason) = match event {
        SlackEvent::AppUninstalled { installation } => (installation, None),
        SlackEvent::TokensRevoked {
            installation, bot, ..
        } if !bot.is_empty() => (installation, Some("tokens_revoked")),
        _ => return Ok(()),
    };
    let Some(workspace) = installation.workspace_id() else {
        return Ok(());
    };
    let ids = s
        .connections
        .workspace_connections(env.id(), integration, workspace)
        .await?;
    let at = s.now().unix_timestamp();
    for id in ids {
        match reason {
            None => {
                let endpoints = s.connections.delete_connection(env.id(), &id).await?;
                tracing::info!(connection = %id, ?endpoints, "Slack app uninstalled: connection deleted");
            }
            Some(reason) => {
                s.refreshes.mark_reconnect(env.id(), &id, reason, at).await?;
                tracing::info!(connection = %id, "Slack bot token revoked: connection needs reconnection");
            }
        }
    }
    Ok(())
}
