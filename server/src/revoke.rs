//! What deleting a connection revokes at its provider before the record
//! goes: Slack's bot token (`auth.revoke`,
//! <https://api.slack.com/methods/auth.revoke>); for Teams, the app this
//! service installed for the connection's linked users (Graph). The service
//! keeps no Slack user token (a linked Slack user is an id), so there is
//! none to revoke; an app a user had before this service is left alone.
//!
//! A provider that cannot be reached does not keep the record alive: the
//! connection is deleted all the same and the answer says what was not
//! revoked (the token then lives at the provider until the workspace
//! removes the app; it is gone from this service either way).

use channel_connect::exchange::{ExchangeError, ProviderErrorKind};
use channel_connect::http::HttpResponse;
use channel_connect::provider::slack::oauth;
use channel_connect::records::ChannelConnectionRecord;

use channel_connect::MsTeams;

use crate::config::Environment;
use crate::state::AppState;
use crate::store::Filter;
use crate::store::app_installs::INSTALLED;
use crate::teams_app;

/// What a deletion revoked, and what it could not.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Revoked {
    /// Revoked (or found revoked already): `bot_token`,
    /// `teams_app_installations=N`.
    pub done: Vec<String>,
    /// Not revoked: the provider did not answer, or refused.
    pub failed: Vec<String>,
}

/// Revokes what `record`'s provider lets this service revoke.
pub async fn revoke(s: &AppState, env: &Environment, record: &ChannelConnectionRecord) -> Revoked {
    let mut out = Revoked::default();
    if let Some(app) = env.teams.get(&record.integration_identifier) {
        teams(s, env, app, record, &mut out).await;
        return out;
    }
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
        Ok(_) => out.done.push("bot_token".into()),
        Err(Some(ExchangeError::Provider(p))) if p.kind() == ProviderErrorKind::TokenRevoked => {
            out.done.push("bot_token".into())
        }
        Err(e) => {
            if let Some(e) = e {
                tracing::warn!(error = %e, "auth.revoke refused");
            }
            out.failed.push("bot_token".into());
        }
    }
    out
}

/// Removes the app this service installed for the connection's linked users.
async fn teams(
    s: &AppState,
    env: &Environment,
    app: &MsTeams,
    record: &ChannelConnectionRecord,
    out: &mut Revoked,
) {
    let filter = Filter {
        connection_identifier: Some(record.identifier.clone()),
        count: false,
        ..Filter::page(100)
    };
    let rows = match s.endpoints.list_endpoints(env.id(), &filter).await {
        Ok(listed) => listed.rows,
        Err(e) => {
            tracing::warn!(error = %e, "Teams app removal: the store did not answer");
            out.failed.push("teams_app_installations".into());
            return;
        }
    };
    let (mut removed, mut failed) = (0, 0);
    for row in rows
        .iter()
        .filter(|r| r.app_install.as_deref() == Some(INSTALLED))
    {
        let fields = &row.endpoint.endpoint;
        let (Some(user), Some(tenant)) = (fields.get("userId"), fields.get("tenantId")) else {
            continue;
        };
        match teams_app::uninstall(s, app, user, tenant).await {
            Ok(_) => removed += 1,
            Err(e) => {
                tracing::warn!(error = %e, endpoint = %row.identifier, "Teams app not removed");
                failed += 1;
            }
        }
    }
    if removed > 0 {
        out.done.push(format!("teams_app_installations={removed}"));
    }
    if failed > 0 {
        out.failed.push(format!("teams_app_installations={failed}"));
    }
}
