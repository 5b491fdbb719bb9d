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
    let task = s
        .tasks
        .spawn(settle(s.clone(), env.id().to_owned(), verified, parking, now));
    let settled = task
        .await
        .unwrap_or_else(|_| Err(Refusal::plain(500, "Internal error")));
    settled.map_err(with_redirect)
}
