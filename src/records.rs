//! What the host stores after a successful exchange, as plain serde data
//! (camelCase JSON, the shape of Novu's channel connections and endpoints):
//!
//! * a [`ChannelConnectionRecord`]: the workspace (a Slack team, a Teams
//!   tenant) and, when the provider gives one, the token to reach it;
//! * [`ChannelEndpointRecord`]s: where one subscriber is reached
//!   (`slack_user`, `webhook`, `ms_teams_user`, or a type of another provider).
//!
//! Every field comes from the verified state or the parsed answer. The
//! builders here ([`connection`], [`endpoint`]) take the state's facts; a
//! provider adds what its answer says. Tokens and webhook URLs serialize in
//! plain (the host must persist them, encrypted) and show as `[redacted]` in
//! `Debug`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use crate::exchange::ExchangeError;
use crate::request::ConnectionMode;
use crate::secret::Secret;
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

/// `workspace`: the Slack team (or Enterprise Grid organization of an
/// org-wide install), the Teams tenant, or another provider's equivalent.
/// `id` is what a re-install is matched on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceRecord {
    /// The team id (`T...`, or `E...` for an org-wide install), the tenant id.
    pub id: String,
    /// Its name, when the provider sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Provider details (Slack: `botUserId`, `enterpriseId`). No secrets.
    #[serde(flatten)]
    pub details: Map<String, Value>,
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
    /// The refresh token (Slack token rotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Secret>,
    /// When the access token expires (RFC 3339, UTC, whole seconds); none
    /// for tokens that do not expire.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::rfc3339")]
    pub expires_at: Option<OffsetDateTime>,
}

impl AuthRecord {
    /// True when the token expires within `margin` of `now` (or already
    /// has) and can be refreshed. A token without an expiry never needs it.
    ///
    /// ```
    /// use channel_connect::records::AuthRecord;
    /// use channel_connect::Secret;
    /// use time::{Duration, OffsetDateTime};
    ///
    /// let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// let auth = AuthRecord {
    ///     access_token: Secret::new("xoxe.xoxb-1"),
    ///     token_type: Some("bot".into()),
    ///     refresh_token: Some(Secret::new("xoxe-1-refresh")),
    ///     expires_at: Some(now + Duration::hours(12)),
    /// };
    /// assert!(!auth.needs_refresh(now, Duration::minutes(5)));
    /// assert!(auth.needs_refresh(now + Duration::hours(12) - Duration::minutes(4), Duration::minutes(5)));
    /// # Ok::<(), time::error::ComponentRange>(())
    /// ```
    pub fn needs_refresh(&self, now: OffsetDateTime, margin: Duration) -> bool {
        match (self.expires_at, &self.refresh_token) {
            (Some(expires), Some(_)) => now.checked_add(margin).is_none_or(|t| t >= expires),
            _ => false,
        }
    }
}

/// A channel connection: one workspace or tenant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelConnectionRecord {
    /// The connection identifier (given or generated at connect).
    pub identifier: String,
    /// The integration identifier.
    pub integration_identifier: String,
    /// `slack`, `msteams`, ...
    pub provider_id: String,
    /// The owner, only when the connection mode is `subscriber`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscriber_id: Option<String>,
    /// The context of the request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context: ContextRecords,
    /// The workspace or tenant.
    pub workspace: WorkspaceRecord,
    /// The token, when the provider gives the connection one (Slack's bot
    /// token). A Teams connection has none: the app takes app-only tokens for
    /// the tenant when it needs them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthRecord>,
}

/// Where a subscriber is reached: the endpoint's `type` and its `endpoint`
/// object. `Debug` redacts the values of `url` and of keys ending in
/// `token` or `secret`, which carry credentials (a webhook URL lets anyone
/// post).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    #[serde(rename = "type")]
    kind: String,
    endpoint: Map<String, Value>,
}

impl Endpoint {
    /// An endpoint of type `kind` (`slack_user`, `webhook`, `ms_teams_user`,
    /// or another provider's) with its fields.
    pub fn new(kind: impl Into<String>, endpoint: Map<String, Value>) -> Self {
        Endpoint {
            kind: kind.into(),
            endpoint,
        }
    }

    /// The type.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The fields.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.endpoint
    }

    /// One string field.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.endpoint.get(key).and_then(Value::as_str)
    }
}

fn is_credential_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k == "url" || k.ends_with("token") || k.ends_with("secret")
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Fields<'a>(&'a Map<String, Value>);
        impl fmt::Debug for Fields<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map()
                    .entries(self.0.iter().map(|(k, v)| {
                        let shown = if is_credential_key(k) {
                            Value::String("[redacted]".into())
                        } else {
                            v.clone()
                        };
                        (k, shown)
                    }))
                    .finish()
            }
        }
        f.debug_struct("Endpoint")
            .field("type", &self.kind)
            .field("endpoint", &Fields(&self.endpoint))
            .finish()
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

/// Everything one answer yields.
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

/// The connection a connect (or connect-proof) state describes, in
/// `workspace`, with `auth`. Refused for a link-user state, or when the
/// state is restricted to another workspace (`WrongWorkspace`; compared
/// exactly: a provider with case-insensitive ids lower-cases both).
pub fn connection(
    state: &VerifiedState,
    workspace: WorkspaceRecord,
    auth: Option<AuthRecord>,
) -> Result<ChannelConnectionRecord, ExchangeError> {
    if state.purpose() == Purpose::LinkUser {
        return Err(ExchangeError::WrongFlow("a connection needs a connect state"));
    }
    same_workspace(state, &workspace.id)?;
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

/// The endpoint record of the state's subscriber (refused without one).
pub fn endpoint(state: &VerifiedState, endpoint: Endpoint) -> Result<ChannelEndpointRecord, ExchangeError> {
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

/// Refuses an answer for another workspace than the state's (when it has one).
pub fn same_workspace(state: &VerifiedState, answered: &str) -> Result<(), ExchangeError> {
    match state.workspace() {
        Some(expected) if expected != answered => Err(ExchangeError::WrongWorkspace),
        _ => Ok(()),
    }
}

/// The state's context as records.
pub fn context(state: &VerifiedState) -> Result<ContextRecords, ExchangeError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_json_round_trip() {
        let t = OffsetDateTime::from_unix_timestamp(1_767_225_900).unwrap();
        let auth = AuthRecord {
            access_token: Secret::new("t"),
            token_type: None,
            refresh_token: None,
            expires_at: Some(t),
        };
        let json = serde_json::to_string(&auth).unwrap();
        assert_eq!(json, r#"{"accessToken":"t","expiresAt":"2026-01-01T00:05:00Z"}"#);
        let back: AuthRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, auth);
        assert!(!auth.needs_refresh(t, Duration::hours(1)), "no refresh token");
    }

    #[test]
    fn endpoint_debug_redacts_credentials() {
        let mut m = Map::new();
        m.insert("url".into(), "https://hooks.slack.com/services/T/B/secret".into());
        m.insert("channelId".into(), "C1".into());
        m.insert("accessToken".into(), "xoxp-1".into());
        let e = Endpoint::new("webhook", m);
        let d = format!("{e:?}");
        assert!(
            !d.contains("secret") && !d.contains("xoxp") && d.contains("C1"),
            "{d}"
        );
        assert_eq!(
            serde_json::to_value(&e).unwrap()["endpoint"]["url"],
            "https://hooks.slack.com/services/T/B/secret"
        );
    }
}
