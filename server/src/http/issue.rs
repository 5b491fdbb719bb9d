//! The two POST endpoints: Novu's connect and link-user, with the API key
//! and `idempotency-key`; with browser binding, the answer is a start URL.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use channel_connect::records::{self, ChannelConnectionRecord, WorkspaceRecord};
use channel_connect::{
    ConnectRequestBody, Entropy, IssueParams, IssuedUrl, LinkUserRequestBody, VerifiedState, VerifyParams,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::config::Environment;
use crate::http::auth::Authenticated;
use crate::http::binding::START_PATH;
use crate::http::error::{ApiError, Refusal};
use crate::state::AppState;
use crate::store::ownership::{self, Conflict};
use crate::store::{Filter, Idempotency, StartLink};

/// Longest `idempotency-key` (Novu).
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

pub(crate) async fn connect(
    State(s): State<Arc<AppState>>,
    Authenticated(env): Authenticated,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    issue(&s, &env, headers, body, false).await
}

pub(crate) async fn link_user(
    State(s): State<Arc<AppState>>,
    Authenticated(env): Authenticated,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    issue(&s, &env, headers, body, true).await
}

/// Both POST endpoints: honour `idempotency-key`, issue the URL.
async fn issue(s: &AppState, env: &Environment, headers: HeaderMap, body: Bytes, link: bool) -> Response {
    // An empty key is no key, as Novu's interceptor treats it.
    let Some(key) = headers.get("idempotency-key").filter(|k| !k.is_empty()) else {
        let (status, value) = issue_url(s, env, &body, link).await;
        return json_response(status, &value.to_string(), false);
    };
    let key = match key.to_str() {
        Ok(k) if k.len() <= MAX_IDEMPOTENCY_KEY_LEN => k.to_owned(),
        _ => {
            let msg = format!("idempotency-key must be at most {MAX_IDEMPOTENCY_KEY_LEN} characters");
            return ApiError::refused(Refusal::BadRequest, msg).into_response();
        }
    };
    let route: &[u8] = if link { b"endpoints" } else { b"connections" };
    let hash = Sha256::new()
        .chain_update(route)
        .chain_update([0])
        .chain_update(&body)
        .finalize()
        .to_vec();
    let now = s.now().unix_timestamp();
    match s.idempotency.begin(env.id(), &key, &hash, now).await {
        Ok(Idempotency::Fresh) => {}
        Ok(Idempotency::Replay { status, body }) => return json_response(status, &body, true),
        Ok(Idempotency::Mismatch) => {
            let msg =
                "Request with the same idempotency-key but a different body was already sent".to_owned();
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
    let (status, value) = issue_url(s, env, &body, link).await;
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

/// The answer to one POST, success or refusal, as status and JSON (cached as is).
pub(crate) async fn issue_url(s: &AppState, env: &Environment, body: &[u8], link: bool) -> (u16, Value) {
    let mut bytes = [0u8; 32];
    (s.entropy)(&mut bytes);
    let entropy = Entropy(bytes);
    // With browser binding, the state is bound to a cookie the start URL sets.
    let cookie = env.browser_binding.issues_bound().then(|| random_token::<32>(s));
    let binding = cookie.as_ref().map(|c| Sha256::digest(c.as_bytes()));
    let mut params = IssueParams::new(s.now(), &entropy);
    params.binding = binding.as_ref().map(|b| b.as_slice());
    let issued = if link {
        match LinkUserRequestBody::from_json(body) {
            Ok(b) => link_url(s, env, &b, &params).await,
            Err(e) => Err(e.into()),
        }
    } else {
        match ConnectRequestBody::from_json(body) {
            Ok(b) => connect_url(s, env, &b, &params).await,
            Err(e) => Err(e.into()),
        }
    };
    let issued = match issued {
        Ok(issued) => issued,
        Err(e) => return e.status_and_body(),
    };
    let Some(cookie) = cookie else {
        return (201, json!({ "url": issued.url }));
    };
    let id = random_token::<16>(s);
    let expires = issued.expires_at.unix_timestamp();
    let link = StartLink {
        url: issued.url,
        cookie,
    };
    match s.starts.save_start(&id, &link, expires).await {
        Ok(()) => (
            201,
            json!({ "url": format!("{}{START_PATH}/{id}", s.public_url) }),
        ),
        Err(e) => ApiError::from(e).status_and_body(),
    }
}

/// A user link's URL. When it names a connection, the sign-in is pinned to
/// that connection's workspace (Slack team, Teams tenant) and a provider
/// answer naming another is refused, so nobody links a subscriber of this
/// connection to an account of a workspace of their own.
async fn link_url(
    s: &AppState,
    env: &Environment,
    b: &LinkUserRequestBody,
    params: &IssueParams<'_>,
) -> Result<IssuedUrl, ApiError> {
    let Some(id) = b.connection_identifier.as_deref() else {
        return Ok(env.core.link_user_url(b, params)?);
    };
    let refusal = match stored_connection(s, env, id).await? {
        Some(c) if Some(c.integration_identifier.as_str()) == b.integration_identifier.as_deref() => {
            // Pinned to the connection's workspace, and only for its owner's subscribers.
            let pinned = env
                .core
                .link_user_url(b, &params.with_workspace(&c.workspace.id))?;
            let state = issued_state(s, &pinned, params)?;
            ownership::check_link(&c, &state).map_err(refused)?;
            return Ok(pinned);
        }
        Some(_) => refused(Conflict::Integration),
        None => ApiError::refused(Refusal::NotFound, format!("Channel connection not found: {id}")),
    };
    // Novu's field errors (422) come before a lookup's refusal.
    env.core.link_user_url(b, params)?;
    Err(refusal)
}

/// A connect's URL. When it names a stored connection, only that
/// connection's owner may reconnect it, for its integration, in its
/// workspace ([`crate::store::ownership`]; the callback checks the same again).
async fn connect_url(
    s: &AppState,
    env: &Environment,
    b: &ConnectRequestBody,
    params: &IssueParams<'_>,
) -> Result<IssuedUrl, ApiError> {
    let stored = match b.connection_identifier.as_deref() {
        Some(id) => stored_connection(s, env, id).await?,
        None => None,
    };
    let unpinned = env.core.connect_url(b, params)?;
    let Some(stored) = stored else {
        return Ok(unpinned);
    };
    // The record this flow would store, in the stored workspace: the same
    // owner rule as the callback's, read from the state just issued.
    let state = issued_state(s, &unpinned, params)?;
    let workspace = WorkspaceRecord {
        details: Default::default(),
        ..stored.workspace.clone()
    };
    let candidate = records::connection(&state, workspace, None).map_err(|_| refused(Conflict::Workspace))?;
    ownership::check(&stored, &candidate).map_err(refused)?;
    Ok(env
        .core
        .connect_url(b, &params.with_workspace(&stored.workspace.id))?)
}

/// A refusal at issue: another integration's connection is a bad request
/// (400), another owner's or workspace's a conflict (409).
fn refused(c: Conflict) -> ApiError {
    match c {
        Conflict::Integration => ApiError::refused(Refusal::BadRequest, c.message()),
        Conflict::Owner | Conflict::Workspace => ApiError::refused(Refusal::Conflict, c.message()),
    }
}

/// The state of a URL just issued, opened as the callback will open it.
fn issued_state(
    s: &AppState,
    issued: &IssuedUrl,
    params: &IssueParams<'_>,
) -> Result<VerifiedState, ApiError> {
    let verify = VerifyParams {
        binding: params.binding,
        ..VerifyParams::at(params.now)
    };
    issued
        .state()
        .and_then(|token| s.config.platform.open_state(token, &verify).ok())
        .ok_or(ApiError::Internal("issued state"))
}

/// The environment's connection `id`, as stored (credentials removed).
async fn stored_connection(
    s: &AppState,
    env: &Environment,
    id: &str,
) -> Result<Option<ChannelConnectionRecord>, ApiError> {
    let listed = s.connections.list_connections(env.id(), &Filter::one(id)).await?;
    Ok(listed.rows.into_iter().next().map(|row| row.connection))
}

/// `N` random bytes as base64url.
fn random_token<const N: usize>(s: &AppState) -> String {
    let mut bytes = [0u8; N];
    (s.entropy)(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn json_response(status: u16, body: &str, replay: bool) -> Response {
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
