//! The provider's redirect back: verify, refuse replays, exchange, prove
//! the Teams tenant, install the Teams app for a linked user, store, and
//! answer the browser. This file verifies and answers; `settle` does the
//! rest, in a task of its own (the Teams app installed for a linked user: [`crate::teams_app`]).

mod outcome;
mod settle;

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use channel_connect::{CallbackError, CallbackParams, StateErrorKind, VerifyParams};
use time::OffsetDateTime;

use crate::http::REQUEST_ID;
use crate::http::binding::{BindingCookie, binding_cookie, presented_bindings};
use crate::http::page::{Page, finish};
use crate::state::AppState;
use outcome::{Done, Refusal};
use settle::{parking_key, settle};

/// The provider's redirect back: verify, refuse replays, exchange, prove,
/// store, answer the browser.
#[utoipa::path(
    get,
    path = crate::config::CALLBACK_PATH,
    tag = "OAuth",
    operation_id = "oauthCallback",
    summary = "The provider's redirect back",
    description = "Where Slack and Microsoft send the browser back: verifies the `state` (signature, \
        lifetime, and with browser binding the cookie the start link set), exchanges the code, proves \
        the Teams tenant, stores the connection and endpoints, and answers the browser: a 303 to the \
        integration's `redirectUrl` (with `result`, `integrationIdentifier`, `connectionIdentifier` or \
        `message`), or a small HTML page (`Content-Security-Policy: default-src 'none'`) with the request \
        id. No key: the state is the credential. Stricter than Novu: each state is spent once (a store \
        failure after the exchange parks the records for a retry of the same URL); a Teams admin consent \
        stores nothing, it redirects (303) to a sign-in in the claimed tenant, whose answer must confirm \
        it; a flow naming another owner's, integration's or workspace's connection stores nothing (409). \
        Rate-limited per client address.",
    params(
        ("state" = Option<String>, Query, description = "The state this service issued."),
        ("code" = Option<String>, Query, description = "The provider's authorization code."),
        ("error" = Option<String>, Query, description = "The provider's error (`access_denied` when the user declined)."),
        ("error_description" = Option<String>, Query, description = "The provider's words about it."),
        ("admin_consent" = Option<String>, Query, description = "Microsoft's admin consent answer (`True`)."),
        ("tenant" = Option<String>, Query, description = "The tenant Microsoft's admin consent names (proved by the sign-in that follows)."),
        ("scope" = Option<String>, Query, description = "The scopes granted."),
    ),
    responses(
        (status = 200, description = "Stored: the success page, naming the provider and the workspace.", content_type = "text/html", body = String),
        (status = 303, description = "To the integration's `redirectUrl` with the result, or on to the Teams sign-in that proves the tenant.",
            headers(("Location" = String, description = "Where the browser goes next"))),
        (status = 429, description = "Too many requests from this address: a page.", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = "4XX", description = "Refused (a forged, expired, spent or unbound state; the user declined; another owner's connection (409); the provider answered for another workspace): a page saying what went wrong and what to do.", content_type = "text/html", body = String),
        (status = "5XX", description = "The provider or a store did not answer (502, 503): a page; the same URL may be retried.", content_type = "text/html", body = String),
    )
)]
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
        s.metrics.callback(false, true, 303);
        return Redirect::to(url).into_response();
    }
    // Cleared once its flow is stored, not before: a junk callback (anyone
    // can send the browser to one) must not clear the cookie of a flow in
    // progress, and a 503 may be retried.
    let stored = matches!(&outcome, Ok(Done::Stored { .. }));
    let request_id = headers.get(REQUEST_ID).and_then(|v| v.to_str().ok());
    let mut res = answer(&s, outcome, request_id);
    s.metrics.callback(stored, false, res.status().as_u16());
    if let (Some(cookie), true) = (binding, stored) {
        let clear = binding_cookie(&s.public_url, cookie.name.clone(), String::new(), 0);
        if let Ok(v) = HeaderValue::from_str(&clear.to_string()) {
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
fn answer(s: &AppState, outcome: Result<Done, Refusal>, request_id: Option<&str>) -> Response {
    match outcome {
        Ok(Done::Next(url)) => Redirect::to(&url).into_response(),
        Ok(Done::Stored {
            env,
            integration,
            connection,
            connected,
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
            let message = connected.sentence();
            let page = Page {
                title: "You're all set",
                message: &message,
                hint: "You can close this window and go back to the app.",
                detail: None,
            };
            finish(target, StatusCode::OK, &pairs, &page, request_id)
        }
        Err(r) => {
            let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
            let pairs = vec![("result", "error".to_owned()), ("message", r.message.clone())];
            let (message, hint, detailed) = r.words();
            let page = Page {
                title: "Connection failed",
                message: &message,
                hint,
                detail: detailed.then_some(r.message.as_str()),
            };
            finish(r.redirect, status, &pairs, &page, request_id)
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
        .ok_or_else(Refusal::state)?;
    // Once an environment binds its flows, a state without a binding (made
    // before, or by a host that skips the start URL) is refused.
    if !opened.state().is_bound() && !env.browser_binding.accepts_unbound() {
        tracing::warn!(reason = ?StateErrorKind::BindingMissing, "state refused: unbound in a binding environment");
        return Err(Refusal::state());
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
    let task = s.tasks.spawn(settle(
        s.clone(),
        env.id().to_owned(),
        verified.into_owned(),
        parking,
        now,
    ));
    let settled = task
        .await
        .unwrap_or_else(|_| Err(Refusal::plain(500, "Internal error")));
    settled.map_err(with_redirect)
}
