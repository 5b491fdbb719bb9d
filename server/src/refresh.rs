//! Token refresh: Slack token rotation
//! (<https://api.slack.com/authentication/rotation>) and Webex's refresh
//! tokens (<https://developer.webex.com/docs/integrations>): a connection
//! whose tokens expire carries a refresh token and an expiry; its tokens
//! are refreshed before they expire, when a sender reads them within
//! [`AppState::refresh_margin`] of expiry and by a background sweep
//! ([`sweep`]).
//!
//! A refresh token is single-use, so one refresher at a time spends it:
//! the store's lease ([`crate::store::Refreshes`]) is taken first, the
//! tokens are read again under it, and the new access and refresh tokens
//! are written together as the lease ends. Whoever finds the lease held
//! waits for the holder's result (polling the store: the holder may be
//! another instance). A refresh token the provider refuses marks the
//! connection as needing reconnection; a provider that cannot be reached
//! leaves the tokens as they are (still usable until they expire).

use std::time::Duration;

use channel_connect::exchange::{ExchangeError, ProviderErrorKind};
use channel_connect::http::{HttpRequest, HttpResponse};
use channel_connect::provider::{slack, webex};
use channel_connect::records::{AuthRecord, ChannelConnectionRecord};
use channel_connect::secret::RefreshToken;
use time::OffsetDateTime;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::{Environment, SlackApp};
use crate::state::AppState;
use crate::store::{Lease, Renewal, StoreError, Tokens};
use channel_connect::Webex;

/// How long a refresher holds the lease: past the provider call's timeout
/// (10 s) and the store's retries after it, so a lease does not run out
/// under a refresh still under way (if it does, the write still lands:
/// see [`crate::store::Refreshes::release`]).
const LEASE_SECS: i64 = 60;
/// After a refresh that got no answer, how long before the next try.
const RETRY_SECS: i64 = 60;
/// How long a reader of an expired token waits for another refresher.
const WAIT: Duration = Duration::from_secs(12);
/// How often a waiting reader looks at the store again.
const POLL: Duration = Duration::from_millis(100);
/// The only Slack answer that proves the refresh token dead: other
/// refusals (a wrong client id, a Slack hiccup) leave the connection as it
/// is. (Webex: `invalid_grant`, see [`Refresher::dead`].)
const DEAD_REFRESH_TOKEN: &str = "invalid_refresh_token";

/// The app that refreshes a connection's tokens.
#[derive(Clone, Copy)]
enum Refresher<'e> {
    Slack(&'e SlackApp),
    Webex(&'e Webex),
}

impl Refresher<'_> {
    fn name(self) -> &'static str {
        match self {
            Refresher::Slack(_) => "Slack",
            Refresher::Webex(_) => "Webex",
        }
    }

    fn request(self, spent: &RefreshToken) -> HttpRequest {
        match self {
            Refresher::Slack(app) => slack::oauth::refresh_request(&app.app, spent),
            Refresher::Webex(app) => webex::oauth::refresh_request(app, spent),
        }
    }

    /// The `auth` to store in place of `previous`.
    fn parse(
        self,
        answer: &HttpResponse<'_>,
        now: OffsetDateTime,
        previous: Option<&AuthRecord>,
    ) -> Result<AuthRecord, ExchangeError> {
        match self {
            Refresher::Slack(_) => slack::oauth::parse_refresh(answer, now).map(|r| r.auth_record()),
            // Its refresh token's expiry too (kept when the same token comes
            // back without one).
            Refresher::Webex(_) => {
                webex::oauth::parse_refresh(answer, now).map(|r| r.auth_record_after(previous))
            }
        }
    }

    /// The refusal that proves the refresh token dead, as its reason.
    fn dead(self, e: &ExchangeError) -> Option<&'static str> {
        let ExchangeError::Provider(p) = e else {
            return None;
        };
        match self {
            Refresher::Slack(_) => (p.code() == DEAD_REFRESH_TOKEN).then_some(DEAD_REFRESH_TOKEN),
            // Webex answers an expired, revoked or unknown refresh token with invalid_grant.
            Refresher::Webex(_) => (p.kind() == ProviderErrorKind::InvalidGrant).then_some("invalid_grant"),
        }
    }
}

/// The app that refreshes connections of `integration`, if any here does.
fn refresher<'e>(env: &'e Environment, integration: &str) -> Option<Refresher<'e>> {
    env.slack
        .get(integration)
        .map(Refresher::Slack)
        .or_else(|| env.webex.get(integration).map(Refresher::Webex))
}

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
/// the margin; `None` when there is no such connection. A token still
/// valid is answered at once when another refresher is at work; an expired
/// one waits for that refresher's result, for a while.
pub async fn fresh(
    s: &Arc<AppState>,
    env: &Arc<Environment>,
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
        if due(s, env, &tokens.record).is_none() {
            return Ok(Some(tokens.record));
        }
        let now = s.now().unix_timestamp();
        let leased = tokens.leased_until.is_some_and(|t| t > now);
        if !leased {
            let holder = lease_holder(s);
            match s
                .refreshes
                .lease(env.id(), identifier, &holder, now, now + LEASE_SECS)
                .await?
            {
                None => return Ok(None),
                Some(Lease::Taken(under)) => {
                    // A task of its own: a reader that goes away (a client
                    // timeout) must not cancel a refresh Slack may already
                    // have answered; its new tokens exist nowhere else.
                    let (s2, env2, id) = (s.clone(), env.clone(), identifier.to_owned());
                    let task = s
                        .tasks
                        .spawn(async move { refresh(&s2, &env2, &id, &holder, under).await });
                    return task.await.unwrap_or(Err(RefreshError::Expired));
                }
                Some(Lease::Held(held)) => tokens = held,
            }
        }
        // Another refresher is at it (or waits to retry): a token still
        // valid serves meanwhile; an expired one waits for the result.
        if !expired(s, &tokens.record) {
            return Ok(Some(tokens.record));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(RefreshError::Expired);
        }
        tokio::time::sleep(POLL).await;
        match s.refreshes.tokens(env.id(), identifier).await? {
            Some(t) => tokens = t,
            None => return Ok(None),
        }
    }
}

/// The app that refreshes `record`'s tokens, when they are due.
fn due<'e>(s: &AppState, env: &'e Environment, record: &ChannelConnectionRecord) -> Option<Refresher<'e>> {
    let auth = record.auth.as_ref()?;
    if !auth.needs_refresh(s.now(), s.refresh_margin) {
        return None;
    }
    refresher(env, &record.integration_identifier)
}

/// Whether `record`'s access token has expired.
fn expired(s: &AppState, record: &ChannelConnectionRecord) -> bool {
    record
        .auth
        .as_ref()
        .and_then(|a| a.expires_at)
        .is_some_and(|t| t <= s.now())
}

/// Refreshes under the lease `holder` took, and ends the lease.
async fn refresh(
    s: &AppState,
    env: &Environment,
    identifier: &str,
    holder: &str,
    under: Tokens,
) -> Result<Option<ChannelConnectionRecord>, RefreshError> {
    let mut record = under.record;
    let now = s.now().unix_timestamp();
    let spent = record.auth.as_ref().and_then(|a| a.refresh_token.clone());
    let (Some(app), Some(spent), None) = (due(s, env, &record), spent, &under.reconnect) else {
        // Refreshed (or refused) by another refresher before this lease.
        release(s, env.id(), identifier, holder, Renewal::Unchanged).await?;
        return match under.reconnect {
            Some(reason) => Err(RefreshError::Reconnect(reason)),
            None => Ok(Some(record)),
        };
    };
    let request = app.request(&spent);
    let renewal = match s.sender.send(&request).await {
        Err(e) => {
            let provider = app.name();
            tracing::warn!(kind = ?e.kind, connection = identifier, provider, "token refresh: no answer from the provider");
            Renewal::RetryAfter(now + RETRY_SECS)
        }
        Ok(answer) => match app.parse(
            &HttpResponse::new(answer.status, &answer.body),
            s.now(),
            record.auth.as_ref(),
        ) {
            Ok(auth) => Renewal::Refreshed { spent, auth },
            Err(e) => match app.dead(&e) {
                Some(reason) => Renewal::Reconnect {
                    spent,
                    reason: reason.to_owned(),
                },
                None => {
                    tracing::warn!(error = %e, connection = identifier, "token refresh failed; the tokens stay as they are");
                    Renewal::RetryAfter(now + RETRY_SECS)
                }
            },
        },
    };
    let new_auth = match &renewal {
        Renewal::Refreshed { auth, .. } => Some(auth.clone()),
        _ => None,
    };
    let kind = match &renewal {
        Renewal::Refreshed { .. } => "refreshed",
        Renewal::Reconnect { .. } => "reconnect",
        _ => "unanswered",
    };
    s.metrics
        .refreshes
        .get_or_create(&crate::metrics::Kind { kind })
        .inc();
    let written = match release(s, env.id(), identifier, holder, renewal.clone()).await {
        Ok(written) => written,
        // The new tokens work; only this service's copy is lost (the next
        // refresh will be refused, and the connection marked).
        Err(e) if new_auth.is_some() => {
            tracing::error!(error = %e, connection = identifier, "refreshed tokens could not be stored");
            true
        }
        Err(e) => return Err(e.into()),
    };
    match (written, renewal) {
        (true, Renewal::Refreshed { auth, .. }) => {
            tracing::info!(connection = identifier, "tokens refreshed");
            record.auth = Some(auth);
            Ok(Some(record))
        }
        (true, Renewal::Reconnect { reason, .. }) => {
            tracing::warn!(
                connection = identifier,
                reason,
                "refresh token refused: the connection needs reconnection"
            );
            Err(RefreshError::Reconnect(reason))
        }
        // Not written: a re-install replaced the tokens meanwhile; the row's count.
        (false, Renewal::Refreshed { .. } | Renewal::Reconnect { .. }) => {
            match s.refreshes.tokens(env.id(), identifier).await? {
                Some(t) => match t.reconnect {
                    Some(reason) => Err(RefreshError::Reconnect(reason)),
                    None => Ok(Some(t.record)),
                },
                None => Ok(None),
            }
        }
        _ if expired(s, &record) => Err(RefreshError::Expired),
        _ => Ok(Some(record)),
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
        match s
            .refreshes
            .release(env, identifier, holder, renewal.clone(), s.now().unix_timestamp())
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

/// A lease holder's name: unique per attempt.
fn lease_holder(s: &AppState) -> String {
    let mut bytes = [0u8; 12];
    (s.entropy)(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Refreshes, every `every`, the connections whose tokens expire within
/// the margin, a batch at a time, until `stop` is cancelled.
pub async fn sweep(s: Arc<AppState>, every: Duration, stop: CancellationToken) {
    crate::periodic::every(every, stop.clone(), || sweep_once(&s, &stop)).await;
}

/// One pass of [`sweep`].
async fn sweep_once(s: &Arc<AppState>, stop: &CancellationToken) {
    let now = s.now();
    let before = (now + s.refresh_margin).unix_timestamp();
    let due = match s.refreshes.expiring(before, now.unix_timestamp(), 100).await {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(error = %e, "token sweep: the store did not answer");
            return;
        }
    };
    for (env_id, identifier) in due {
        // A refresh under way finishes (its new tokens exist nowhere
        // else); none starts after `stop`.
        if stop.is_cancelled() {
            return;
        }
        let env = s.config.by_id(&env_id);
        let found = env.zip(s.refreshes.tokens(&env_id, &identifier).await.ok().flatten());
        let Some((env, tokens)) =
            found.filter(|(e, t)| refresher(e, &t.record.integration_identifier).is_some())
        else {
            // Nothing here can refresh it (its environment or its Slack or
            // Webex integration is not configured): out of the sweep's way
            // for an hour, so the rows after it are reached.
            let t = s.now().unix_timestamp();
            let _ = s
                .refreshes
                .lease(&env_id, &identifier, "no-refresher", t, t + 3600)
                .await;
            continue;
        };
        drop(tokens);
        match fresh(s, env, &identifier).await {
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
