//! What deleting a connection revokes at its provider before the record
//! goes: Slack's bot token (`auth.revoke`,
//! <https://api.slack.com/methods/auth.revoke>). The service keeps no Slack
//! user token (a linked Slack user is an id), so there is none to revoke.
//!
//! A provider that cannot be reached does not keep the record alive: the
//! connection is deleted all the same and the answer says what was not
//! revoked (the token then lives at the provider until the workspace
//! removes the app; it is gone from this service either way).

use channel_connect::exchange::{ExchangeError, ProviderErrorKind};
use channel_connect::http::HttpResponse;
use channel_connect::provider::slack::oauth;
use channel_connect::records::ChannelConnectionRecord;

use crate::config::Environment;
use crate::state::AppState;

/// What a deletion revoked, and what it could not.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Revoked {
    /// Revoked (or found revoked already): `bot_token`.
    pub done: Vec<&'static str>,
    /// Not revoked: the provider did not answer, or refused.
    pub failed: Vec<&'static str>,
}

/// Revokes what `record`'s provider lets this service revoke.
pub async fn revoke(s: &AppState, env: &Environment, record: &ChannelConnectionRecord) -> Revoked {
    let mut out = Revoked::default();
    let (Some(slack), Some(auth)) = (env.slack.get(&record.integration_identifier), &record.auth) else {
        return out;
    };
    let request = oauth::revoke_request(&slack.app, &auth.access_token);
    let outcome = match s.sender.send(&request).await {
        Ok(answer) => oauth::parse_revoke(&HttpResponse::new(answer.status, &answer.body)).map_err(Some),
        Err(e) => {
            tracing::warn!(kind = ?e.kind, "auth.revoke: no answer from Slack");
            Err(None)
        }
    };
    match outcome {
        // Revoked now, or before (by an admin, an uninstall, an expiry).
        Ok(_) => out.done.push("bot_token"),
        Err(Some(ExchangeError::Provider(p))) if p.kind() == ProviderErrorKind::TokenRevoked => {
            out.done.push("bot_token")
        }
        Err(e) => {
            if let Some(e) = e {
                tracing::warn!(error = %e, "auth.revoke refused");
            }
            out.failed.push("bot_token");
        }
    }
    out
}
