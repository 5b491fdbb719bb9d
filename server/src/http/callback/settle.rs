//! From the replay mark on: exchange the code, store the records (or park
//! them when the store fails), and install the Teams app for a linked user
//! ([`crate::teams_app`]).
//! Runs in a task of its own, so a browser that goes away cannot leave a
//! code spent with nothing stored.

use std::sync::Arc;

use channel_connect::records::StoredRecords;
use channel_connect::{HttpResponse, VerifiedCallback};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::outcome::{Connected, Done, Refusal};
use crate::state::AppState;
use crate::store::Saved;

/// Marks the state used (once per state, whatever happens next: a code is
/// redeemed once), then exchanges, stores and links; or, for a state used
/// before, stores what a failed store parked.
pub(super) async fn settle(
    s: Arc<AppState>,
    env: String,
    verified: VerifiedCallback<'static>,
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
        let done = store(&s, &env, &verified, &records, parking.as_deref(), now).await?;
        install_apps(&s, &records).await;
        return Ok(done);
    }
    if let Some(next) = &verified.next {
        return Ok(Done::Next(next.url.clone()));
    }
    let records = exchange(&s, &verified, now).await?;
    let done = store(&s, &env, &verified, &records, parking.as_deref(), now).await?;
    install_apps(&s, &records).await;
    Ok(done)
}

/// Once a Teams user link is stored (its installation `pending`): the
/// app, so the bot can message the user. What fails here is tried again
/// later ([`crate::teams_app::sweep`]).
async fn install_apps(s: &AppState, records: &StoredRecords) {
    let users = records
        .endpoints
        .iter()
        .filter(|e| e.endpoint.kind() == "ms_teams_user")
        .count();
    if users > 0 {
        crate::teams_app::install_newest(s, s.app_install_interval, users).await;
    }
}

/// Where a redeemed code's records wait for a retry: under the state's
/// replay id and the code, so only the same callback finds them.
pub(super) fn parking_key(replay_id: &[u8], code: &str) -> Vec<u8> {
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
    verified: &VerifiedCallback<'_>,
    records: &StoredRecords,
    parking: Option<&[u8]>,
    now: OffsetDateTime,
) -> Result<Done, Refusal> {
    let pin = verified.state.workspace();
    let started = std::time::Instant::now();
    let saved = s.connections.save(env, records, pin, now.unix_timestamp()).await;
    s.metrics.store_seconds.observe(started.elapsed().as_secs_f64());
    let e = match saved {
        Ok(Saved::Stored(connection)) => {
            let integration = verified.state.integration_identifier();
            let display_name = s
                .config
                .by_id(env)
                .and_then(|e| e.core.provider(integration))
                .map(|p| p.display_name());
            return Ok(Done::Stored {
                env: env.to_owned(),
                integration: integration.to_owned(),
                connection,
                connected: Connected::of(verified.state.provider(), display_name, records),
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
        Ok(()) => {
            s.metrics.parked.inc();
            Err(Refusal::plain(503, "Service unavailable, try again"))
        }
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
        Refusal::state()
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

/// Redeems the code and parses the answer into records; for a provider
/// whose token answer names nobody (Webex), asks who first.
async fn exchange(
    s: &AppState,
    verified: &VerifiedCallback<'_>,
    now: OffsetDateTime,
) -> Result<StoredRecords, Refusal> {
    let request = verified
        .token_request()
        .map_err(|e| Refusal::plain(e.status(), &e.to_string()))?
        .ok_or_else(|| Refusal::plain(400, "Nothing to exchange"))?;
    let provider = verified.state.provider();
    let answer = send(s, &request, provider, "token exchange").await?;
    let tokens = HttpResponse::new(answer.status, &answer.body);
    let refused = |operation: &'static str, status: u16| {
        move |e: channel_connect::ExchangeError| {
            tracing::warn!(provider, operation, status, refusal = %e, "provider answer refused");
            Refusal::plain(e.status(), &e.to_string())
        }
    };
    let identity = verified
        .identity_request(&tokens)
        .map_err(refused("token exchange", answer.status))?;
    let Some(identity) = identity else {
        return verified
            .records(&tokens, now)
            .map_err(refused("token exchange", answer.status));
    };
    let who = send(s, &identity, provider, "identity").await?;
    verified
        .records_with_identity(&tokens, &HttpResponse::new(who.status, &who.body), now)
        .map_err(refused("identity", who.status))
}

/// Sends one provider call of the exchange, timed.
async fn send(
    s: &AppState,
    request: &channel_connect::HttpRequest,
    provider: &str,
    operation: &'static str,
) -> Result<crate::sender::Answer, Refusal> {
    let started = std::time::Instant::now();
    let sent = s.sender.send(request).await;
    s.metrics
        .exchange_seconds
        .observe(started.elapsed().as_secs_f64());
    sent.map_err(|error| {
        tracing::warn!(provider, operation, %error, "provider call failed");
        Refusal::plain(502, "The provider could not be reached")
    })
}
