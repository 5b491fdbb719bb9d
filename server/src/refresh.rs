//! Slack token rotation (<https://api.slack.com/authentication/rotation>):
//! a connection installed with rotation on carries a refresh token and an
//! expiry; its tokens are refreshed before they expire, when a sender reads
//! them within [`AppState::refresh_margin`] of expiry and by a background
//! sweep ([`sweep`]).
//!
//! A refresh token is single-use, so one refresher at a time spends it:
//! the store's lease ([`crate::store::Refreshes`]) is taken first, the
//! tokens are read again under it, and the new access and refresh tokens
//! are written together as the lease ends. Whoever finds the lease held
//! waits for the holder's result (polling the store: the holder may be
//! another instance). A refresh token Slack refuses marks the connection
//! as needing reconnection; a Slack that cannot be reached leaves the
//! tokens as they are (still usable until they expire).

use std::time::Duration;

use channel_connect::exchange::{ExchangeError, ProviderErrorKind};
use channel_connect::http::HttpResponse;
use channel_connect::provider::slack::oauth;
use channel_connect::records::ChannelConnectionRecord;

use crate::config::{Environment, SlackApp};
use crate::state::AppState;
use crate::store::{Lease, Renewal, StoreError, Tokens};

/// How long a refresher holds the lease: well past the provider call's
/// timeout, so a lease never runs out under a refresh still under way.
const LEASE_SECS: i64 = 30;
/// How long a reader waits for another refresher's result.
const WAIT: Duration = Duration::from_secs(12);
/// How often a waiting reader looks at the store again.
const POLL: Duration = Duration::from_millis(100);

/// Why no usable tokens came back.
#[derive(Debug)]
pub enum RefreshError {
    /// The provider refused the tokens (a refresh token refused, tokens
    /// revoked): the connection must be connected again. The reason.
    Reconnect(String),
    /// The tokens expired and no refresh succeeded (the provider could not
    /// be reached, or another refresher did not finish in time).
    Expired,
    /// A store did not answer.
    Store(StoreError),
}

impl From<StoreError> for RefreshError {
    fn from(e: StoreError) -> Self {
        RefreshError::Store(e)
    }
}

/// The connection's usable tokens, refreshed first when they expire within
/// the margin; `None` when there is no such connection.
pub async fn fresh(
    s: &AppState,
    env: &Environment,
    identifier: &str,
) -> Result<Option<ChannelConnectionRecord>, RefreshError> {
    let Some(mut tokens) = s.refreshes.tokens(env.id(), identifier).await? else {
        return Ok(None);
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(reason) = tokens.reconnect {
            return Err(RefreshError::Reconnect(reason));
        }
        let Some(app) = due(s, env, &tokens.record) else {
            return Ok(Some(tokens.record));
        };
        let now = s.now().unix_timestamp();
        let holder = lease_holder(s);
        match s
            .refreshes
            .lease(env.id(), identifier, &holder, now, now + LEASE_SECS)
            .await?
        {
            None => return Ok(None),
            Some(Lease::Taken(under)) => return refresh(s, env, app, identifier, &holder, under).await,
            Some(Lease::Held(now_held)) => {
                tokens = now_held;
                // Another refresher is at it: wait for its result.
                while tokens.leased_until.is_some_and(|t| t > s.now().unix_timestamp())
                    && tokens.reconnect.is_none()
                    && due(s, env, &tokens.record).is_some()
                {
                    if tokio::time::Instant::now() >= deadline {
                        return still_usable(s, tokens.record);
                    }
                    tokio::time::sleep(POLL).await;
                    match s.refreshes.tokens(env.id(), identifier).await? {
                        Some(t) => tokens = t,
                        None => return Ok(None),
                    }
                }
                if tokio::time::Instant::now() >= deadline {
                    return still_usable(s, tokens.record);
                }
            }
        }
    }
}

/// The Slack app that refreshes `record`'s tokens, when they are due.
fn due<'e>(s: &AppState, env: &'e Environment, record: &ChannelConnectionRecord) -> Option<&'e SlackApp> {
    let auth = record.auth.as_ref()?;
    if !auth.needs_refresh(s.now(), s.refresh_margin) {
        return None;
    }
    env.slack.get(&record.integration_identifier)
}

/// Refreshes under the lease `holder` took, and ends the lease.
async fn refresh(
    s: &AppState,
    env: &Environment,
    app: &SlackApp,
    identifier: &str,
    holder: &str,
    under: Tokens,
) -> Result<Option<ChannelConnectionRecord>, RefreshError> {
    let mut record = under.record;
    let spent = match (
        &under.reconnect,
        record.auth.as_ref().and_then(|a| a.refresh_token.clone()),
    ) {
        (None, Some(spent)) if due(s, env, &record).is_some() => spent,
        // Refreshed (or refused) by another refresher before this lease.
        _ => {
            s.refreshes
                .release(
                    env.id(),
                    identifier,
                    holder,
                    Renewal::Unchanged,
                    s.now().unix_timestamp(),
                )
                .await?;
            return match under.reconnect {
                Some(reason) => Err(RefreshError::Reconnect(reason)),
                None => Ok(Some(record)),
            };
        }
    };
    let request = oauth::refresh_request(&app.app, &spent);
    let renewal = match s.sender.send(&request).await {
        Err(e) => {
            tracing::warn!(kind = ?e.kind, connection = identifier, "token refresh: no answer from Slack");
            Renewal::Unchanged
        }
        Ok(answer) => match oauth::parse_refresh(&HttpResponse::new(answer.status, &answer.body), s.now()) {
            Ok(refreshed) => Renewal::Refreshed {
                spent,
                auth: refreshed.auth_record(),
            },
            Err(ExchangeError::Provider(p))
                if matches!(
                    p.kind(),
                    ProviderErrorKind::InvalidGrant | ProviderErrorKind::TokenRevoked
                ) =>
            {
                Renewal::Reconnect {
                    spent,
                    reason: reason_of(p.code()),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, connection = identifier, "token refresh failed; the tokens stay as they are");
                Renewal::Unchanged
            }
        },
    };
    let (new_auth, reason) = match &renewal {
        Renewal::Refreshed { auth, .. } => (Some(auth.clone()), None),
        Renewal::Reconnect { reason, .. } => (None, Some(reason.clone())),
        Renewal::Unchanged => (None, None),
    };
    let written = release(s, env.id(), identifier, holder, renewal).await?;
    if let (true, Some(reason)) = (written, reason) {
        tracing::warn!(
            connection = identifier,
            reason,
            "token refresh refused: the connection needs reconnection"
        );
        return Err(RefreshError::Reconnect(reason));
    }
    match (written, new_auth) {
        (true, Some(auth)) => {
            tracing::info!(connection = identifier, "tokens refreshed");
            record.auth = Some(auth);
            Ok(Some(record))
        }
        // Not written: a re-install replaced the tokens meanwhile; theirs count.
        (false, Some(_)) => match s.refreshes.tokens(env.id(), identifier).await? {
            Some(t) if t.reconnect.is_none() => Ok(Some(t.record)),
            Some(t) => Err(RefreshError::Reconnect(t.reconnect.unwrap_or_default())),
            None => Ok(None),
        },
        _ => still_usable(s, record),
    }
}

/// Ends the lease, trying a few times: after a refresh, the new refresh
/// token exists nowhere else (the old one is spent at Slack).
async fn release(
    s: &AppState,
    env: &str,
    identifier: &str,
    holder: &str,
    renewal: Renewal,
) -> Result<bool, StoreError> {
    let mut tries = 0;
    loop {
        let attempt = renewal.clone();
        match s
            .refreshes
            .release(env, identifier, holder, attempt, s.now().unix_timestamp())
            .await
        {
            Ok(written) => return Ok(written),
            Err(e) if tries < 3 => {
                tries += 1;
                tracing::warn!(error = %e, connection = identifier, "storing refreshed tokens failed; trying again");
                tokio::time::sleep(Duration::from_millis(200 * tries)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The record as it is, while its access token has not expired.
fn still_usable(
    s: &AppState,
    record: ChannelConnectionRecord,
) -> Result<Option<ChannelConnectionRecord>, RefreshError> {
    let expired = record
        .auth
        .as_ref()
        .and_then(|a| a.expires_at)
        .is_some_and(|t| t <= s.now());
    if expired {
        Err(RefreshError::Expired)
    } else {
        Ok(Some(record))
    }
}

/// A provider's error code as a reconnection reason: it is shown in API
/// answers, so only a short `snake_case` word passes.
pub fn reason_of(code: &str) -> String {
    let plain =
        !code.is_empty() && code.len() <= 64 && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if plain { code } else { "token_refused" }.to_owned()
}

/// A lease holder's name: unique per attempt.
fn lease_holder(s: &AppState) -> String {
    let mut bytes = [0u8; 12];
    (s.entropy)(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Refreshes, every `every`, the connections whose tokens expire within
/// the margin, a batch at a time, until `stop` resolves.
pub async fn sweep(
    s: std::sync::Arc<AppState>,
    every: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tick.tick() => {}
        }
        let now = s.now();
        let before = (now + s.refresh_margin).unix_timestamp();
        let due = match s.refreshes.expiring(before, now.unix_timestamp(), 100).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "token sweep: the store did not answer");
                continue;
            }
        };
        for (env_id, identifier) in due {
            let Some(env) = s.config.by_id(&env_id) else {
                continue;
            };
            // A refresh under way finishes (its new tokens exist nowhere
            // else); none starts after `stop`.
            tokio::select! {
                biased;
                _ = &mut stop => return,
                _ = std::future::ready(()) => {}
            }
            match fresh(&s, env, &identifier).await {
                Ok(_) | Err(RefreshError::Reconnect(_)) => {}
                Err(RefreshError::Expired) => {
                    tracing::warn!(connection = %identifier, "token sweep: tokens expired and not refreshed")
                }
                Err(RefreshError::Store(e)) => {
                    tracing::warn!(error = %e, "token sweep: the store did not answer")
                }
            }
        }
    }
}
