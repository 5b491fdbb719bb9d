//! What deleting a connection revokes at its provider before the record
//! goes: Slack's bot token (`auth.revoke`,
//! <https://api.slack.com/methods/auth.revoke>); for Teams, the app this
//! service installed for the connection's linked users (Graph). Webex's
//! tokens cannot be revoked by their holder: they are named as not revoked. The service
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

use crate::config::{Environment, SlackApp};
use crate::state::AppState;
use crate::store::app_installs::INSTALLED;
use crate::store::{Filter, StoreError};
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

/// Revokes what `record`'s provider lets this service revoke: only tokens
/// it obtained itself (`minted`: an OAuth callback, not a token given
/// through the API), and a Slack bot token only when no other connection
/// (of any environment on the same Slack app) is in the same workspace:
/// Slack gives one bot token per app and workspace, so theirs is the same.
pub async fn revoke(
    s: &AppState,
    env: &Environment,
    record: &ChannelConnectionRecord,
    minted: bool,
) -> Revoked {
    let mut out = Revoked::default();
    if let Some(app) = env.teams.get(&record.integration_identifier) {
        teams(s, env, app, record, &mut out).await;
        return out;
    }
    // Webex revokes an integration's grants only through its admin API
    // (<https://developer.webex.com/docs/api/v1/authorizations>), which the
    // installing user's token may not call: the answer says it stays.
    if env.webex.contains_key(&record.integration_identifier) {
        if minted && record.auth.is_some() {
            out.failed.push("webex_token".into());
        }
        return out;
    }
    let (Some(slack), Some(auth), true) = (
        env.slack.get(&record.integration_identifier),
        &record.auth,
        minted,
    ) else {
        return out;
    };
    match shares_the_token(s, env, slack, record).await {
        Ok(false) => {}
        Ok(true) => {
            out.failed.push("bot_token_in_use".into());
            return out;
        }
        Err(e) => {
            tracing::warn!(error = %e, "auth.revoke skipped: the store did not answer");
            out.failed.push("bot_token".into());
            return out;
        }
    }
    let request = oauth::revoke_request(&slack.app, &auth.access_token);
    let outcome = match s.sender.send(&request).await {
        Ok(answer) => oauth::parse_revoke(&HttpResponse::new(answer.status, &answer.body)).map_err(Some),
        Err(e) => {
            tracing::warn!(kind = ?e.kind, "auth.revoke: no answer from Slack");
            Err(None)
        }
    };
    match outcome {
        // Revoked now, or before (by an admin, an uninstall). An expired
        // token is not revoked: its installation lives on.
        Ok(_) => out.done.push("bot_token".into()),
        Err(Some(ExchangeError::Provider(p)))
            if p.kind() == ProviderErrorKind::TokenRevoked && p.code() != "token_expired" =>
        {
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

/// Whether another connection, of any environment on the same Slack app,
/// is in `record`'s workspace (and so holds the same bot token).
async fn shares_the_token(
    s: &AppState,
    env: &Environment,
    slack: &SlackApp,
    record: &ChannelConnectionRecord,
) -> Result<bool, StoreError> {
    let same_app = |a: &SlackApp| a.app.client_id().as_str() == slack.app.client_id().as_str();
    for other in &s.config.environments {
        for (integration, _) in other.slack.iter().filter(|(_, a)| same_app(a)) {
            let ids = s
                .connections
                .workspace_connections(other.id(), integration, &record.workspace.id)
                .await?;
            if ids
                .iter()
                .any(|id| other.id() != env.id() || *id != record.identifier)
            {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Removes the app this service installed for the connection's linked
/// users, in the connection's own tenant (what the sign-in proved).
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
        if tenant != record.workspace.id {
            continue;
        }
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
