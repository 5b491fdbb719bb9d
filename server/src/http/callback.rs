//! The provider's redirect back: verify, refuse replays, exchange, prove
//! the Teams tenant, install the Teams app for a linked user, store, and
//! answer the browser.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use channel_connect::provider::msteams::{graph, token as microsoft};
use channel_connect::records::StoredRecords;
use channel_connect::{
    CallbackError, CallbackParams, HttpResponse, MsTeams, StateErrorKind, Tenant, VerifiedCallback,
    VerifyParams,
};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::http::binding::{BindingCookie, cookie_attributes, presented_bindings};
use crate::http::page::finish;
use crate::sender::SendError;
use crate::state::AppState;
use crate::store::Saved;

/// The provider's redirect back: verify, refuse replays, exchange, prove,
/// store, answer the browser.
pub(crate) async fn callback(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let now = s.now();
    let cookies = presented_bindings(&headers);
    let mut binding = None;
    let outcome = match CallbackParams::parse(&query) {
        Ok(params) => {
            binding = matching_binding(&s, &params, now, &cookies);
            let hash = binding.map(|b| b.hash.as_slice());
            verify_and_store(&s, &params, now, hash).await
        }
        Err(e) => Err(Refusal::from(e)),
    };
    if let Ok(Done::Next(url)) = &outcome {
        // The cookie stays for the Teams proof sign-in, bound to it too.
        return Redirect::to(url).into_response();
    }
    // Cleared once its flow is stored, not before: a junk callback (anyone
    // can send the browser to one) must not clear the cookie of a flow in
    // progress, and a 503 may be retried.
    let stored = matches!(&outcome, Ok(Done::Stored { .. }));
    let mut res = answer(&s, outcome);
    if let (Some(cookie), true) = (binding, stored) {
        let clear = format!("{}=; {}Max-Age=0", cookie.name, cookie_attributes(&s.public_url));
        if let Ok(v) = HeaderValue::from_str(&clear) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// The presented cookie this callback's state is bound to, if the state
/// carries a binding: the one that opens it (a browser may run several
/// flows). An unbound state chooses none, so finishing it clears no cookie
/// of another flow in progress.
fn matching_binding<'c>(
    s: &AppState,
    params: &CallbackParams<'_>,
    now: OffsetDateTime,
    cookies: &'c [BindingCookie],
) -> Option<&'c BindingCookie> {
    if cookies.is_empty() {
        return None;
    }
    let opens = |binding: Option<&[u8]>| {
        let mut verify = VerifyParams::at(now);
        verify.binding = binding;
        s.config.platform.open_callback(params, &verify)
    };
    match opens(None) {
        Err(CallbackError::State(e)) if e.kind() == StateErrorKind::BindingMissing => {}
        // Unbound, or refused for another reason: no cookie is this flow's.
        _ => return None,
    }
    match cookies {
        [only] => Some(only),
        _ => cookies.iter().find(|c| opens(Some(&c.hash)).is_ok()),
    }
}

/// The browser's answer to a callback that ended the flow.
fn answer(s: &AppState, outcome: Result<Done, Refusal>) -> Response {
    match outcome {
        Ok(Done::Next(url)) => Redirect::to(&url).into_response(),
        Ok(Done::Stored {
            env,
            integration,
            connection,
        }) => {
            let target = s
                .config
                .by_id(&env)
                .and_then(|e| e.redirect_urls.get(&integration))
                .cloned();
            let mut pairs = vec![
                ("result", "success".to_owned()),
                ("integrationIdentifier", integration),
            ];
            if let Some(c) = connection {
                pairs.push(("connectionIdentifier", c));
            }
            finish(
                target,
                StatusCode::OK,
                &pairs,
                "You're all set",
                "The connection is ready. You can close this window.",
            )
        }
        Err(r) => {
            let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
            let pairs = vec![("result", "error".to_owned()), ("message", r.message.clone())];
            finish(r.redirect, status, &pairs, "Connection failed", &r.message)
        }
    }
}

/// How the callback ended well.
enum Done {
    /// A second redirect (the Teams tenant proof).
    Next(String),
    /// Records stored.
    Stored {
        env: String,
        integration: String,
        connection: Option<String>,
    },
}

/// How the callback ended badly: what the browser is told (never a secret).
struct Refusal {
    status: u16,
    message: String,
    redirect: Option<url::Url>,
}

impl From<CallbackError> for Refusal {
    fn from(e: CallbackError) -> Self {
        match &e {
            CallbackError::State(s) => tracing::warn!(reason = ?s.kind(), "state refused"),
            other => tracing::warn!(refusal = %other, "callback refused"),
        }
        Refusal {
            status: e.status(),
            message: e.to_string(),
            redirect: None,
        }
    }
}

impl Refusal {
    fn plain(status: u16, message: &str) -> Self {
        Refusal {
            status,
            message: message.to_owned(),
            redirect: None,
        }
    }
}

async fn verify_and_store(
    s: &Arc<AppState>,
    params: &CallbackParams<'_>,
    now: OffsetDateTime,
    binding: Option<&[u8]>,
) -> Result<Done, Refusal> {
    let mut verify = VerifyParams::at(now);
    verify.binding = binding;
    let opened = s.config.platform.open_callback(params, &verify)?;
    let env = s
        .config
        .by_id(opened.state().environment_id())
        .ok_or_else(|| Refusal::plain(400, "Invalid OAuth state parameter"))?;
    // Once an environment binds its flows, a state without a binding (made
    // before, or by a host that skips the start URL) is refused.
    if !opened.state().is_bound() && !env.browser_binding.accepts_unbound() {
        tracing::warn!(reason = ?StateErrorKind::BindingMissing, "state refused: unbound in a binding environment");
        return Err(Refusal::plain(400, "Invalid OAuth state parameter"));
    }
    let redirect = env
        .redirect_urls
        .get(opened.state().integration_identifier())
        .cloned();
    let with_redirect = |mut r: Refusal| {
        r.redirect = redirect.clone();
        r
    };
    let verified = env
        .core
        .finish_callback(opened, &verify)
        .map_err(|e| with_redirect(e.into()))?;
    let parking = params
        .code
        .as_deref()
        .map(|code| parking_key(&verified.state.replay_id().0, code));
    // From the replay mark on, the code may be spent: the rest runs in a
    // task of its own, so a browser that goes away or a timeout cannot
    // leave a state used with nothing stored or parked.
    let task = s
        .tasks
        .spawn(settle(s.clone(), env.id().to_owned(), verified, parking, now));
    let settled = task
        .await
        .unwrap_or_else(|_| Err(Refusal::plain(500, "Internal error")));
    settled.map_err(with_redirect)
}

/// Marks the state used (once per state, whatever happens next: a code is
/// redeemed once), then exchanges, stores and links; or, for a state used
/// before, stores what a failed store parked.
async fn settle(
    s: Arc<AppState>,
    env: String,
    verified: VerifiedCallback,
    parking: Option<Vec<u8>>,
    now: OffsetDateTime,
) -> Result<Done, Refusal> {
    let replay = verified.state.replay_id();
    let expires = verified.state.expires_at().unix_timestamp();
    // A store that cannot answer fails closed (503): no state without its check.
    let first = s
        .replay
        .mark_used(&replay.0, expires, now.unix_timestamp())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "replay marks unavailable");
            Refusal::plain(503, "Service unavailable, try again")
        })?;
    if !first {
        // Refused, unless it is a retry after the records store failed.
        let records = take_parked(&s, parking.as_deref(), now).await?;
        return store(&s, &env, &verified, &records, parking.as_deref(), now).await;
    }
    if let Some(next) = &verified.next {
        return Ok(Done::Next(next.url.clone()));
    }
    let records = exchange(&s, &verified, now).await?;
    let done = store(&s, &env, &verified, &records, parking.as_deref(), now).await?;
    // Best effort, once the link is stored: the app lets the bot message the user.
    let app = s
        .config
        .by_id(&env)
        .and_then(|e| e.teams.get(verified.state.integration_identifier()));
    if let Some(app) = app {
        install_for_linked_users(&s, app, &records).await;
    }
    Ok(done)
}

/// Where a redeemed code's records wait for a retry: under the state's
/// replay id and the code, so only the same callback finds them.
fn parking_key(replay_id: &[u8], code: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"channel-connect parked records\0");
    h.update((replay_id.len() as u64).to_be_bytes());
    h.update(replay_id);
    h.update(code.as_bytes());
    h.finalize().to_vec()
}

/// Stores the records; when the store fails, parks them (the code is spent)
/// so a retry of the same callback can store them.
async fn store(
    s: &AppState,
    env: &str,
    verified: &VerifiedCallback,
    records: &StoredRecords,
    parking: Option<&[u8]>,
    now: OffsetDateTime,
) -> Result<Done, Refusal> {
    let e = match s.connections.save(env, records, now.unix_timestamp()).await {
        Ok(Saved::Stored(connection)) => {
            return Ok(Done::Stored {
                env: env.to_owned(),
                integration: verified.state.integration_identifier().to_owned(),
                connection,
            });
        }
        Ok(Saved::Refused(conflict)) => {
            tracing::warn!(
                ?conflict,
                "records refused: not a re-install of the stored connection"
            );
            return Err(Refusal::plain(409, conflict.message()));
        }
        Err(e) => e,
    };
    tracing::error!(error = %e, "records not stored");
    let Some(key) = parking else {
        return Err(Refusal::plain(503, "Service unavailable, try again"));
    };
    let expires = verified.state.expires_at().unix_timestamp();
    let parked = match s.sealer.seal_parked(key, records) {
        Ok(sealed) => s.parked.park(key, &sealed, expires, now.unix_timestamp()).await,
        Err(e) => Err(e),
    };
    match parked {
        Ok(()) => Err(Refusal::plain(503, "Service unavailable, try again")),
        Err(e) => {
            tracing::error!(error = %e, "exchanged records lost: the flow must start again");
            Err(Refusal::plain(
                503,
                "Service unavailable, start the connection again",
            ))
        }
    }
}

/// The records a failed store parked for this callback, taken once; a
/// replay finds none and is refused.
async fn take_parked(
    s: &AppState,
    key: Option<&[u8]>,
    now: OffsetDateTime,
) -> Result<StoredRecords, Refusal> {
    let replayed = || {
        tracing::warn!(reason = "Replayed", "state refused");
        Refusal::plain(400, "Invalid OAuth state parameter")
    };
    let Some(key) = key else { return Err(replayed()) };
    let sealed = s
        .parked
        .take_parked(key, now.unix_timestamp())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "parked records unavailable");
            Refusal::plain(503, "Service unavailable, try again")
        })?
        .ok_or_else(replayed)?;
    tracing::info!("storing records parked by a failed store");
    s.sealer.open_parked(key, &sealed).map_err(|e| {
        tracing::error!(error = %e, "parked records do not open");
        replayed()
    })
}

/// Redeems the code and parses the answer into records.
async fn exchange(
    s: &AppState,
    verified: &VerifiedCallback,
    now: OffsetDateTime,
) -> Result<StoredRecords, Refusal> {
    let request = verified
        .token_request()
        .map_err(|e| Refusal::plain(e.status(), &e.to_string()))?
        .ok_or_else(|| Refusal::plain(400, "Nothing to exchange"))?;
    let provider = verified.state.provider();
    let answer = s.sender.send(&request).await.map_err(|error| {
        tracing::warn!(provider, operation = "token exchange", %error, "provider call failed");
        Refusal::plain(502, "The provider could not be reached")
    })?;
    verified
        .records(&HttpResponse::new(answer.status, &answer.body), now)
        .map_err(|e| {
            let status = answer.status;
            tracing::warn!(provider, operation = "token exchange", status, refusal = %e, "provider answer refused");
            Refusal::plain(e.status(), &e.to_string())
        })
}

/// Installs the Teams app for each linked user so the bot can message them
/// (Graph, with an app-only token of the user's tenant). A failure is
/// logged, not fatal: the link itself is proven and stored.
async fn install_for_linked_users(s: &AppState, app: &MsTeams, records: &StoredRecords) {
    for e in records
        .endpoints
        .iter()
        .filter(|e| e.endpoint.kind() == "ms_teams_user")
    {
        let (Some(user), Some(tenant)) = (e.endpoint.get("userId"), e.endpoint.get("tenantId")) else {
            continue;
        };
        match install(s, app, user, tenant).await {
            Ok(outcome) => tracing::info!(?outcome, "Teams app installed for the linked user"),
            Err(Failed { step, cause }) => tracing::warn!(
                provider = "msteams",
                operation = step,
                error = cause,
                "Teams app not installed for the linked user"
            ),
        }
    }
}

/// A step of the app installation that failed, and why (kinds only).
struct Failed {
    step: &'static str,
    cause: String,
}

async fn install(
    s: &AppState,
    app: &MsTeams,
    user: &str,
    tenant: &str,
) -> Result<graph::UserInstall, Failed> {
    let at = |step: &'static str| move |cause: String| Failed { step, cause };
    let answered = |step: &'static str| {
        move |e: SendError| Failed {
            step,
            cause: e.to_string(),
        }
    };
    let refused = |step: &'static str, status: u16| {
        move |_| Failed {
            step,
            cause: format!("answer refused (HTTP {status})"),
        }
    };
    let tenant = Tenant::new(tenant).map_err(|_| at("tenant")("not a tenant id".into()))?;
    let answer = s
        .sender
        .send(&microsoft::app_only_token_request(app, &tenant))
        .await
        .map_err(answered("app-only token"))?;
    let token = microsoft::parse_app_only_token(&HttpResponse::new(answer.status, &answer.body), s.now())
        .map_err(refused("app-only token", answer.status))?;
    let find = graph::find_app_request(app, token.access_token(), graph::AppDistribution::Organization);
    let answer = s.sender.send(&find).await.map_err(answered("find app"))?;
    let found = graph::parse_find_app(&HttpResponse::new(answer.status, &answer.body))
        .map_err(refused("find app", answer.status))?;
    let req = graph::install_for_user_request(app, token.access_token(), user, &found)
        .map_err(|_| at("install")("request not made".into()))?;
    let answer = s.sender.send(&req).await.map_err(answered("install"))?;
    graph::parse_install_for_user(&HttpResponse::new(answer.status, &answer.body))
        .map_err(refused("install", answer.status))
}
