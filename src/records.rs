//! What the host stores after a successful exchange, as plain serde data
//! (camelCase JSON, the shape of Novu's channel connections and endpoints):
//!
//! * a [`ChannelConnectionRecord`]: the workspace (Slack) or tenant (Teams)
//!   and, for Slack, the token to reach it;
//! * [`ChannelEndpointRecord`]s: where one subscriber is reached (`slack_user`,
//!   `webhook`, `ms_teams_user`).
//!
//! Every field comes from the verified state or the parsed token response;
//! [`from_token_response`] picks the parser and the records for a
//! [`VerifiedCallback`]. Tokens and webhook URLs serialize in plain (the host
//! must persist them) and show as `[redacted]` in `Debug`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::exchange::{
    self, DelegatedSignIn, ExchangeError, Flow, SlackInstall, SlackTeam, SlackUserSignIn, microsoft, slack,
};
use crate::request::ConnectionMode;
use crate::secret::Secret;
use crate::service::{ChannelConnect, VerifiedCallback};
use crate::state::{Purpose, VerifiedState};

/// One context entry, as the state carried it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContextRecord {
    /// The entity id.
    pub id: String,
    /// The entity's data object, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Map<String, Value>>,
}

/// The context of a record: key → entry, in key order.
pub type ContextRecords = BTreeMap<String, ContextRecord>;

/// A Slack workspace connection's `workspace`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlackWorkspace {
    /// The team id, or the enterprise id of an org-wide install.
    pub id: String,
    /// Its name, when Slack sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The bot user id.
    pub bot_user_id: String,
    /// The Enterprise Grid organization, when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise_id: Option<String>,
}

/// A Teams connection's `workspace`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamsWorkspace {
    /// The tenant id, proven by the connect-proof sign-in's `id_token`.
    pub tenant_id: String,
}

/// `workspace`: `{id, name, botUserId}` for Slack, `{tenantId}` for Teams.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum WorkspaceRecord {
    /// Slack.
    Slack(SlackWorkspace),
    /// Microsoft Teams.
    MsTeams(TeamsWorkspace),
}

/// `auth`: the token the connection works with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthRecord {
    /// The access token (serialized in plain; `Debug` redacted).
    pub access_token: Secret,
    /// `bot` (Slack), `Bearer` (Microsoft).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// The refresh token, with Slack token rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Secret>,
    /// When the access token expires (RFC 3339, UTC, whole seconds).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339")]
    pub expires_at: Option<OffsetDateTime>,
}

/// A channel connection: one Slack workspace or Teams tenant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelConnectionRecord {
    /// The connection identifier (given or generated at connect).
    pub identifier: String,
    /// The integration identifier.
    pub integration_identifier: String,
    /// `slack` or `msteams`.
    pub provider_id: String,
    /// The owner, only when the connection mode is `subscriber`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscriber_id: Option<String>,
    /// The context of the request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context: ContextRecords,
    /// The workspace or tenant.
    pub workspace: WorkspaceRecord,
    /// The token: Slack's bot token. A Teams connection has none: the app
    /// takes app-only tokens for the tenant when it needs them
    /// (`exchange::microsoft::app_only_token_request`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthRecord>,
}

/// Where a subscriber is reached: the endpoint's `type` and `endpoint`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "endpoint", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Endpoint {
    /// The subscriber's own Slack user (`authed_user.id`).
    SlackUser {
        /// The Slack user id.
        #[serde(rename = "userId")]
        user_id: String,
    },
    /// A Slack incoming webhook.
    #[serde(rename_all = "camelCase")]
    Webhook {
        /// The webhook URL (serialized in plain; `Debug` redacted).
        url: Secret,
        /// The channel name, when Slack sent it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
        /// The channel id.
        channel_id: String,
    },
    /// The subscriber's own Teams user (`oid`, `tid` of the sign-in).
    #[serde(rename_all = "camelCase")]
    MsTeamsUser {
        /// The user's object id.
        user_id: String,
        /// The user's tenant id.
        tenant_id: String,
    },
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::SlackUser { user_id } => f.debug_struct("SlackUser").field("user_id", user_id).finish(),
            Endpoint::Webhook {
                url,
                channel,
                channel_id,
            } => f
                .debug_struct("Webhook")
                .field("url", url)
                .field("channel", channel)
                .field("channel_id", channel_id)
                .finish(),
            Endpoint::MsTeamsUser { user_id, tenant_id } => f
                .debug_struct("MsTeamsUser")
                .field("user_id", user_id)
                .field("tenant_id", tenant_id)
                .finish(),
        }
    }
}

/// A channel endpoint: one way to reach one subscriber.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelEndpointRecord {
    /// `type` and `endpoint`.
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// The subscriber reached.
    pub subscriber_id: String,
    /// The connection it belongs to, when the state named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_identifier: Option<String>,
    /// The integration identifier.
    pub integration_identifier: String,
    /// The context of the request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context: ContextRecords,
}

/// Everything one token response yields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredRecords {
    /// The connection, for a connect flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<ChannelConnectionRecord>,
    /// The endpoints (possibly none).
    #[serde(default)]
    pub endpoints: Vec<ChannelEndpointRecord>,
}

/// Parses `response_body` with the parser the verified callback calls for
/// (from its provider, purpose and outcome) and builds the records:
///
/// * Slack connect code → [`slack_install`];
/// * Slack link-user code → [`slack_user`];
/// * Teams connect-proof code → [`teams_connection`], plus [`teams_user`]
///   when the flow links the user;
/// * Teams link-user code → [`teams_user`];
/// * Teams admin consent → refused ([`ExchangeError::WrongFlow`]): it proves
///   nothing; its [`VerifiedCallback::next`] sign-in does.
///
/// Every record checks the workspace the state is restricted to against
/// the one the provider answered for. `now` checks the Microsoft `id_token`
/// and turns `expires_in` into `expiresAt`.
pub fn from_token_response(
    core: &ChannelConnect,
    verified: &VerifiedCallback,
    response_body: &[u8],
    now: OffsetDateTime,
) -> Result<StoredRecords, ExchangeError> {
    let (flow, app) = exchange::resolve(core, verified)?;
    let state = &verified.state;
    Ok(match flow {
        Flow::SlackInstall { .. } => slack_install(state, &slack::parse_install(response_body)?, now)?,
        Flow::SlackSignIn { .. } => StoredRecords {
            connection: None,
            endpoints: vec![slack_user(state, &slack::parse_user_sign_in(response_body)?)?],
        },
        Flow::TeamsConsent => {
            return Err(ExchangeError::WrongFlow(
                "an admin consent proves no tenant: follow its sign-in",
            ));
        }
        Flow::TeamsSignIn {
            tenant,
            proof,
            require_admin_role,
            ..
        } => {
            let sign_in = microsoft::parse_delegated_response(response_body, app.client_id, &tenant, now)?;
            if require_admin_role {
                microsoft::check_admin_role(&sign_in.claims)?;
            }
            let mut records = StoredRecords::default();
            if proof {
                records.connection = Some(teams_connection(state, &sign_in)?);
            }
            if state.links_user() {
                records.endpoints.push(teams_user(state, &sign_in)?);
            }
            records
        }
    })
}

/// A Slack workspace install: the connection, plus a `slack_user` endpoint
/// (`authed_user.id`) when the state has autoLinkUser and a subscriber, plus
/// a `webhook` endpoint when `incoming_webhook` came and the state has a
/// subscriber. (Without a subscriber the webhook has no owner and is not
/// recorded; the connect request refuses `incoming-webhook` without one.)
///
/// When the state is restricted to a workspace, the install must be there:
/// its `team.id`, or `enterprise.id` for an org-wide install, must equal it
/// ([`ExchangeError::WrongWorkspace`]). Slack's `team=` URL parameter is only
/// a hint the user can remove; this is the check.
pub fn slack_install(
    state: &VerifiedState,
    install: &SlackInstall,
    now: OffsetDateTime,
) -> Result<StoredRecords, ExchangeError> {
    if state.purpose() != Purpose::Connect {
        return Err(ExchangeError::WrongFlow("a Slack install needs a connect state"));
    }
    let place = install.workspace().ok_or(ExchangeError::MissingField("team"))?;
    same_slack_workspace(state, Some(place))?;
    let workspace = WorkspaceRecord::Slack(SlackWorkspace {
        id: place.id.clone(),
        name: place.name.clone(),
        bot_user_id: install.bot_user_id.clone(),
        enterprise_id: install.enterprise.as_ref().map(|e| e.id.clone()),
    });
    let auth = AuthRecord {
        access_token: install.access_token.clone(),
        token_type: Some(install.token_type.clone()),
        refresh_token: install.refresh_token.clone(),
        expires_at: expires_at(now, install.expires_in, "expires_in")?,
    };
    let connection = connection(state, workspace, Some(auth))?;
    let mut endpoints = Vec::new();
    if state.subscriber_id().is_some() {
        if let (true, Some(user)) = (state.auto_link_user(), &install.authed_user) {
            endpoints.push(endpoint(
                state,
                Endpoint::SlackUser {
                    user_id: user.id.clone(),
                },
            )?);
        }
        if let Some(hook) = &install.incoming_webhook {
            endpoints.push(endpoint(
                state,
                Endpoint::Webhook {
                    url: hook.url.clone(),
                    channel: hook.channel.clone(),
                    channel_id: hook.channel_id.clone(),
                },
            )?);
        }
    }
    Ok(StoredRecords {
        connection: Some(connection),
        endpoints,
    })
}

/// A Slack personal sign-in (link-user state): the `slack_user` endpoint.
/// When the state is restricted to a workspace (the linked connection's
/// team), the sign-in's `team.id` (or `enterprise.id`) must equal it.
pub fn slack_user(
    state: &VerifiedState,
    sign_in: &SlackUserSignIn,
) -> Result<ChannelEndpointRecord, ExchangeError> {
    link_user(state)?;
    same_slack_workspace(state, sign_in.team.as_ref().or(sign_in.enterprise.as_ref()))?;
    endpoint(
        state,
        Endpoint::SlackUser {
            user_id: sign_in.authed_user.id.clone(),
        },
    )
}

/// The Slack workspace the provider answered for must be the sealed one.
fn same_slack_workspace(state: &VerifiedState, answered: Option<&SlackTeam>) -> Result<(), ExchangeError> {
    match (state.workspace(), answered) {
        (None, _) => Ok(()),
        (Some(expected), Some(team)) if team.id == expected => Ok(()),
        (Some(_), _) => Err(ExchangeError::WrongWorkspace),
    }
}

/// A Teams connection (connect-proof state) for the tenant its sign-in
/// proved: the `id_token`'s `tid` (checked by the token response's parser
/// against the tenant the sign-in ran in) must be the tenant the state
/// sealed. No token: the connection's app-only tokens are taken on demand.
pub fn teams_connection(
    state: &VerifiedState,
    sign_in: &DelegatedSignIn,
) -> Result<ChannelConnectionRecord, ExchangeError> {
    if state.purpose() != Purpose::ConnectProof {
        return Err(ExchangeError::WrongFlow(
            "a Teams connection needs a connect-proof state",
        ));
    }
    let tenant = sign_in.claims.tenant_id();
    if !state.workspace().is_some_and(|w| w.eq_ignore_ascii_case(tenant)) {
        return Err(ExchangeError::WrongWorkspace);
    }
    let workspace = WorkspaceRecord::MsTeams(TeamsWorkspace {
        tenant_id: tenant.to_ascii_lowercase(),
    });
    connection(state, workspace, None)
}

/// A Teams delegated sign-in that links the user (a link-user state, or a
/// connect-proof with autoLinkUser and a subscriber): the `ms_teams_user`
/// endpoint `{userId: oid, tenantId: tid}`. When the state is restricted to
/// a tenant, `tid` must equal it.
pub fn teams_user(
    state: &VerifiedState,
    sign_in: &DelegatedSignIn,
) -> Result<ChannelEndpointRecord, ExchangeError> {
    if !state.links_user() || state.purpose() == Purpose::Connect {
        return Err(ExchangeError::WrongFlow(
            "a user link needs a link-user or linking proof state",
        ));
    }
    let tenant = sign_in.claims.tenant_id();
    if state.workspace().is_some_and(|w| !w.eq_ignore_ascii_case(tenant)) {
        return Err(ExchangeError::WrongWorkspace);
    }
    endpoint(
        state,
        Endpoint::MsTeamsUser {
            user_id: sign_in.claims.object_id().to_owned(),
            tenant_id: tenant.to_owned(),
        },
    )
}

fn link_user(state: &VerifiedState) -> Result<(), ExchangeError> {
    if state.purpose() == Purpose::LinkUser {
        Ok(())
    } else {
        Err(ExchangeError::WrongFlow("a user link needs a link-user state"))
    }
}

fn connection(
    state: &VerifiedState,
    workspace: WorkspaceRecord,
    auth: Option<AuthRecord>,
) -> Result<ChannelConnectionRecord, ExchangeError> {
    if state.purpose() == Purpose::LinkUser {
        return Err(ExchangeError::WrongFlow("a connection needs a connect state"));
    }
    let identifier = state.connection_identifier().ok_or(ExchangeError::WrongFlow(
        "the connect state has no connection identifier",
    ))?;
    let subscriber_id = match state.connection_mode() {
        ConnectionMode::Subscriber => state.subscriber_id().map(str::to_owned),
        ConnectionMode::Shared => None,
    };
    Ok(ChannelConnectionRecord {
        identifier: identifier.to_owned(),
        integration_identifier: state.integration_identifier().to_owned(),
        provider_id: state.provider().to_owned(),
        subscriber_id,
        context: context(state)?,
        workspace,
        auth,
    })
}

fn endpoint(state: &VerifiedState, endpoint: Endpoint) -> Result<ChannelEndpointRecord, ExchangeError> {
    let subscriber = state
        .subscriber_id()
        .ok_or(ExchangeError::WrongFlow("an endpoint needs a subscriber"))?;
    Ok(ChannelEndpointRecord {
        endpoint,
        subscriber_id: subscriber.to_owned(),
        connection_identifier: state.connection_identifier().map(str::to_owned),
        integration_identifier: state.integration_identifier().to_owned(),
        context: context(state)?,
    })
}

fn context(state: &VerifiedState) -> Result<ContextRecords, ExchangeError> {
    state
        .context()
        .map(|e| {
            // The state stores data as compact JSON of an object; parse it back.
            let data = e
                .data
                .map(serde_json::from_str::<Map<String, Value>>)
                .transpose()
                .map_err(|_| ExchangeError::WrongFlow("the state's context data is not a JSON object"))?;
            Ok((
                e.key.to_owned(),
                ContextRecord {
                    id: e.id.to_owned(),
                    data,
                },
            ))
        })
        .collect()
}

/// `now + expires_in`, in whole seconds, UTC.
fn expires_at(
    now: OffsetDateTime,
    expires_in: Option<u64>,
    field: &'static str,
) -> Result<Option<OffsetDateTime>, ExchangeError> {
    let Some(secs) = expires_in else {
        return Ok(None);
    };
    i64::try_from(secs)
        .ok()
        .and_then(|s| now.unix_timestamp().checked_add(s))
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .map(Some)
        .ok_or(ExchangeError::InvalidField(field))
}

/// `expiresAt` as RFC 3339 in UTC: `2026-01-01T00:05:00Z` written; that form
/// and the millisecond one (`...00.000Z`, JavaScript's `toISOString`) read.
mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

    pub(super) fn serialize<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
        let Some(t) = t else { return s.serialize_none() };
        let t = t.checked_to_offset(UtcOffset::UTC).unwrap_or(*t);
        s.collect_str(&format_args!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
        let Some(s) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        parse(&s)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("expiresAt is not an RFC 3339 UTC time"))
    }

    pub(super) fn parse(s: &str) -> Option<OffsetDateTime> {
        let b = s.as_bytes();
        let millis = match b.len() {
            20 => 0,
            24 if b[19] == b'.' => num(s.get(20..23)?)?,
            _ => return None,
        };
        let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
        if b.last() != Some(&b'Z') || seps.iter().any(|&(i, c)| b[i] != c) {
            return None;
        }
        let field = |r: std::ops::Range<usize>| s.get(r).and_then(num);
        let month = Month::try_from(u8::try_from(field(5..7)?).ok()?).ok()?;
        let date =
            Date::from_calendar_date(i32::from(field(0..4)?), month, u8::try_from(field(8..10)?).ok()?)
                .ok()?;
        let time = Time::from_hms_milli(
            u8::try_from(field(11..13)?).ok()?,
            u8::try_from(field(14..16)?).ok()?,
            u8::try_from(field(17..19)?).ok()?,
            millis,
        )
        .ok()?;
        Some(PrimitiveDateTime::new(date, time).assume_utc())
    }

    /// Unsigned decimal digits only (no sign, no spaces).
    fn num(s: &str) -> Option<u16> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip_and_refusals() {
        let t = OffsetDateTime::from_unix_timestamp(1_767_225_900).unwrap();
        let json = serde_json::to_string(&AuthRecord {
            access_token: Secret::new("t"),
            token_type: None,
            refresh_token: None,
            expires_at: Some(t),
        })
        .unwrap();
        assert_eq!(json, r#"{"accessToken":"t","expiresAt":"2026-01-01T00:05:00Z"}"#);
        let back: AuthRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back.expires_at, Some(t));
        assert_eq!(
            rfc3339::parse("2026-01-01T00:05:00.250Z").map(|t| t.millisecond()),
            Some(250)
        );
        for bad in [
            "2026-01-01T00:05:00",
            "2026-13-01T00:05:00Z",
            "2026-01-01 00:05:00Z",
            "+026-01-01T00:05:00Z",
            "2026-01-01T00:05:0éZ",
            "",
        ] {
            assert_eq!(rfc3339::parse(bad), None, "{bad}");
        }
    }
}
