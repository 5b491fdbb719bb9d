//! The two POST endpoints: Novu's connect and link-user, with the API key
//! and `idempotency-key`; with browser binding, the answer is a start URL.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
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
use crate::http::idempotent;
use crate::metrics::Kind;
use crate::state::AppState;
use crate::store::ownership::{self, Conflict};
use crate::store::{Filter, StartLink};

#[utoipa::path(
    post,
    path = "/v1/integrations/channel-connections/oauth",
    tag = "OAuth",
    operation_id = "generateChatOAuthUrl",
    summary = "Issue a connect URL",
    description = "Issues the provider's authorize URL for the integration (Slack's OAuth v2, or Microsoft's admin consent), its `state` sealed and signed (5 minutes). Stricter than Novu: each state is spent once; a Teams admin consent connects nothing until a sign-in in the claimed tenant confirms it; a `connectionIdentifier` naming a stored connection is a reconnect only its owner may make, for its integration (400 otherwise), in its workspace (409 otherwise), the sign-in pinned to that workspace; with `browserBinding` the answer is a first-party start link that sets an `HttpOnly` cookie the callback must present.",
    params(crate::http::openapi::IdempotencyKey),
    request_body(content = crate::http::openapi::ConnectRequest, description = "The request (fields it does not know are ignored)."),
    security(("ApiKey" = [])),
    responses(
        crate::http::openapi::IssueAnswers,
        crate::http::openapi::WriteErrors,
    )
)]
pub(crate) async fn connect(
    State(s): State<Arc<AppState>>,
    Authenticated(env): Authenticated,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    issue(&s, &env, headers, body, false).await
}

#[utoipa::path(
    post,
    path = "/v1/integrations/channel-endpoints/oauth",
    tag = "OAuth",
    operation_id = "generateLinkUserOAuthUrl",
    summary = "Issue a user-link URL",
    description = "Issues the sign-in URL that links one subscriber's own provider user (a Slack user, a Teams user) as an endpoint. Stricter than Novu: a link naming a connection is pinned to that connection's workspace and is for its owner's subscribers only (the same context ids; in `subscriber` mode, its subscriber), 409 otherwise; a link to a connection that does not exist yet is issued as in Novu, and its callback stores it only if by then the connection exists, is the owner's, and is in the workspace the provider names.",
    params(crate::http::openapi::IdempotencyKey),
    request_body(content = crate::http::openapi::LinkUserRequest, description = "The request (fields it does not know are ignored)."),
    security(("ApiKey" = [])),
    responses(
        crate::http::openapi::IssueAnswers,
        crate::http::openapi::WriteErrors,
    )
)]
pub(crate) async fn link_user(
    State(s): State<Arc<AppState>>,
    Authenticated(env): Authenticated,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    issue(&s, &env, headers, body, true).await
}

/// `POST /v1/integrations/chat/oauth`: Novu's older single route, the
/// connect body with `mode` (`connect`, the default, or `link_user`);
/// `autoLinkUser` defaults to false here.
#[utoipa::path(
    post,
    path = "/v1/integrations/chat/oauth",
    tag = "OAuth",
    operation_id = "generateChatOAuthUrlLegacy",
    summary = "Issue a connect or user-link URL (older route)",
    description = "Novu's older single route: the connect body with `mode` (`connect`, the default, or `link_user`), answered as `POST /v1/integrations/channel-connections/oauth` or `POST /v1/integrations/channel-endpoints/oauth` would. `autoLinkUser` defaults to false here.",
    params(crate::http::openapi::IdempotencyKey),
    request_body(content = crate::http::openapi::ChatOAuthRequest, description = "The request (fields it does not know are ignored)."),
    security(("ApiKey" = [])),
    responses(
        crate::http::openapi::IssueAnswers,
        crate::http::openapi::WriteErrors,
    )
)]
pub(crate) async fn chat_oauth(
    State(s): State<Arc<AppState>>,
    Authenticated(env): Authenticated,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let work = async {
        // The core reads the body first (duplicate keys refused, as on the
        // other routes), so what is rewritten below is what it validated.
        if let Err(e) = ConnectRequestBody::from_json(&body) {
            return ApiError::from(e).status_and_body();
        }
        let mut fields = match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(fields)) => fields,
            // The core words the refusal of a body that is no object.
            _ => return issue_url(&s, &env, &body, false).await,
        };
        let link = match fields.remove("mode") {
            None => false,
            Some(Value::String(m)) if m == "connect" => false,
            Some(Value::String(m)) if m == "link_user" => true,
            Some(_) => {
                let e = ApiError::invalid_field("mode", "mode must be connect or link_user");
                return e.status_and_body();
            }
        };
        if !link {
            fields.entry("autoLinkUser").or_insert(Value::Bool(false));
        }
        let rewritten = Value::Object(fields).to_string();
        issue_url(&s, &env, rewritten.as_bytes(), link).await
    };
    idempotent::answer(
        &s,
        &env,
        &headers,
        "POST /v1/integrations/chat/oauth",
        &body,
        work,
    )
    .await
}

/// `POST /v1/integrations/channel-endpoints/link`: as in Novu, only a
/// provider with subscriber chat linking (Telegram) answers a link here;
/// a Slack or Teams integration is refused (400), its users link through
/// `POST /v1/integrations/channel-endpoints/oauth`.
#[utoipa::path(
    post,
    path = "/v1/integrations/channel-endpoints/link",
    tag = "OAuth",
    operation_id = "linkChannelEndpoint",
    summary = "Link a subscriber chat (providers with chat linking only)",
    description = "As in Novu, only a provider with subscriber chat linking (Telegram) links here; this service serves Slack and Teams, whose integrations are refused (400: link their users with `POST /v1/integrations/channel-endpoints/oauth`). So no request succeeds here.",
    params(crate::http::openapi::IdempotencyKey),
    request_body(content = crate::http::openapi::LinkUserRequest, description = "The request (fields it does not know are ignored)."),
    security(("ApiKey" = [])),
    responses(
        (status = 400, description = "A Slack or Teams integration (no subscriber chat linking), or an `idempotency-key` over 255 characters.", body = crate::http::openapi::ErrorDto),
        (status = 404, description = "No integration of that identifier in the environment.", body = crate::http::openapi::ErrorDto),
        (status = 409, description = "An `idempotency-key` still in flight (with `Retry-After: 1`).", body = crate::http::openapi::ErrorDto,
            headers(("Retry-After" = u64, description = "`1`"))),
        crate::http::openapi::WriteErrors,
    )
)]
pub(crate) async fn link_channel_endpoint(
    State(s): State<Arc<AppState>>,
    Authenticated(env): Authenticated,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let work = async {
        let b = match LinkUserRequestBody::from_json(&body) {
            Ok(b) => b,
            Err(e) => return ApiError::from(e).status_and_body(),
        };
        let refusal = match b.integration_identifier.as_deref() {
            None => ApiError::invalid_field("integrationIdentifier", "integrationIdentifier is required"),
            Some(_) if b.subscriber_id.is_none() => {
                ApiError::invalid_field("subscriberId", "subscriberId is required")
            }
            Some(id) => match env.providers.get(id) {
                Some(provider) => ApiError::refused(
                    Refusal::BadRequest,
                    format!(
                        "Integration {id} ({provider}) does not support subscriber chat linking: \
                         link its users with POST /v1/integrations/channel-endpoints/oauth"
                    ),
                ),
                None => ApiError::refused(
                    Refusal::NotFound,
                    format!("Integration not found: {id} in environment {}", env.id()),
                ),
            },
        };
        refusal.status_and_body()
    };
    let route = "POST /v1/integrations/channel-endpoints/link";
    idempotent::answer(&s, &env, &headers, route, &body, work).await
}

/// Both POST endpoints: honour `idempotency-key`, issue the URL.
async fn issue(s: &AppState, env: &Environment, headers: HeaderMap, body: Bytes, link: bool) -> Response {
    let route = if link {
        "endpoints/oauth"
    } else {
        "connections/oauth"
    };
    idempotent::answer(s, env, &headers, route, &body, issue_url(s, env, &body, link)).await
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
    let kind = if link { "link_user" } else { "connect" };
    s.metrics.flows.get_or_create(&Kind { kind }).inc();
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
        // As Novu: a link to a connection not made yet is issued. Its
        // callback stores it only if by then the connection exists, is
        // the owner's, and is where the provider says the user is.
        None => return Ok(env.core.link_user_url(b, params)?),
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
pub(crate) fn refused(c: Conflict) -> ApiError {
    match c {
        Conflict::Integration => ApiError::refused(Refusal::BadRequest, c.message()),
        Conflict::Owner | Conflict::Workspace | Conflict::Exists | Conflict::Gone => {
            ApiError::refused(Refusal::Conflict, c.message())
        }
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
    // The core refuses an identifier of another form; no store sees it.
    if !super::connections::valid_identifier(id) {
        return Ok(None);
    }
    let listed = s.connections.list_connections(env.id(), &Filter::one(id)).await?;
    Ok(listed.rows.into_iter().next().map(|row| row.connection))
}

/// `N` random bytes as base64url.
fn random_token<const N: usize>(s: &AppState) -> String {
    let mut bytes = [0u8; N];
    (s.entropy)(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}
