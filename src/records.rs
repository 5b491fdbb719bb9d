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
//!
//! A Slack install, from the callback to what to store:
//!
//! ```
//! use channel_connect::http::HttpResponse;
//! use channel_connect::*;
//! use time::{Duration, OffsetDateTime};
//!
//! # let slack = Slack::new(
//! #     ClientId::new("1234567890.1234567890")?,
//! #     Secret::new("slack-client-secret"),
//! #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
//! # );
//! # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
//! #     .integration(Integration::new("slack", slack))
//! #     .build()?;
//! # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
//! let body = ConnectRequestBody::from_json(
//!     br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123","connectionIdentifier":"slack-connection-abc123"}"#,
//! )?;
//! let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
//! let query = format!("code=4724.demo-code&state={}", issued.state().unwrap());
//! let verified = core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now + Duration::seconds(30)))?;
//!
//! // The host sends `verified.token_request()`; Slack answers (its documented example):
//! let answer = br#"{"ok":true,"app_id":"A0KRD7HC3","authed_user":{"id":"U1234","scope":"identity.basic","access_token":"xoxp-1234","token_type":"user"},"scope":"chat:write,chat:write.public,channels:read","token_type":"bot","access_token":"xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy","bot_user_id":"U0KRQLJ9H","team":{"name":"Slack Softball Team","id":"T9TK3CUKW"},"enterprise":null,"is_enterprise_install":false}"#;
//! let records = verified.records(&HttpResponse::new(200, answer), now + Duration::seconds(31))?;
//!
//! let connection = records.connection.as_ref().expect("a connect yields its connection");
//! assert_eq!(connection.identifier, "slack-connection-abc123");
//! assert_eq!(connection.subscriber_id.as_deref(), Some("subscriber-123"));
//! assert_eq!(connection.workspace.id, "T9TK3CUKW");
//! assert_eq!(connection.workspace.details["botUserId"], "U0KRQLJ9H");
//! // The subscriber's own Slack user, linked on the way (autoLinkUser).
//! assert_eq!(records.endpoints[0].endpoint.kind(), "slack_user");
//! assert_eq!(records.endpoints[0].endpoint.get("userId"), Some("U1234"));
//!
//! // Slack refused the code (expired, already used): nothing to store.
//! let refused = verified.records(&HttpResponse::new(200, br#"{"ok":false,"error":"invalid_code"}"#), now);
//! assert_eq!(refused.unwrap_err().status(), 400);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! (Most of this file's length is the runnable examples in its doc comments;
//! the code, tests included, is about 230 lines.)

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use crate::exchange::{ExchangeError, FlowMismatch};
use crate::request::ConnectionMode;
use crate::secret::{AccessToken, RefreshToken};
use crate::state::{Purpose, VerifiedState};

/// One context entry, as the state carried it.
///
/// ```
/// use channel_connect::records::ContextRecord;
/// use serde_json::json;
///
/// let entry: ContextRecord = serde_json::from_value(json!({"id": "org-acme", "data": {"plan": "enterprise"}}))?;
/// assert_eq!(entry.id, "org-acme");
/// assert_eq!(entry.data.as_ref().unwrap()["plan"], "enterprise");
/// // Without data, `data` is left out.
/// let bare = ContextRecord { id: "org-acme".into(), data: None };
/// assert_eq!(serde_json::to_value(&bare)?, json!({"id": "org-acme"}));
/// # Ok::<(), serde_json::Error>(())
/// ```
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
///
/// Provider details are flattened into the same object:
///
/// ```
/// use channel_connect::records::WorkspaceRecord;
/// use serde_json::{Map, json};
///
/// let mut details = Map::new();
/// details.insert("botUserId".into(), json!("U0KRQLJ9H"));
/// let workspace = WorkspaceRecord { id: "T9TK3CUKW".into(), name: Some("Slack Softball Team".into()), details };
/// assert_eq!(
///     serde_json::to_value(&workspace)?,
///     json!({"id": "T9TK3CUKW", "name": "Slack Softball Team", "botUserId": "U0KRQLJ9H"})
/// );
/// // A Teams tenant: an id, nothing else.
/// let tenant: WorkspaceRecord = serde_json::from_value(json!({"id": "72f988bf-86f1-41af-91ab-2d7cd011db47"}))?;
/// assert!(tenant.name.is_none() && tenant.details.is_empty());
/// # Ok::<(), serde_json::Error>(())
/// ```
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
///
/// Serialized in plain for the host to persist (encrypted); `Debug` redacts
/// the tokens.
///
/// ```
/// use channel_connect::records::AuthRecord;
/// use channel_connect::Secret;
/// use serde_json::json;
///
/// let stored = json!({
///     "accessToken": "xoxe.xoxb-1-MS0yLTI",
///     "tokenType": "bot",
///     "refreshToken": "xoxe-1-My0xLTI0",
///     "expiresAt": "2026-01-01T12:00:00Z"
/// });
/// let auth: AuthRecord = serde_json::from_value(stored.clone())?;
/// assert_eq!(auth.access_token.expose(), "xoxe.xoxb-1-MS0yLTI");
/// assert_eq!(auth.expires_at.unwrap().unix_timestamp(), 1_767_268_800);
/// assert_eq!(serde_json::to_value(&auth)?, stored);
/// assert!(!format!("{auth:?}").contains("xoxe"));
///
/// // A time that is not RFC 3339 is refused.
/// assert!(serde_json::from_value::<AuthRecord>(json!({"accessToken": "t", "expiresAt": "tomorrow"})).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthRecord {
    /// The access token (serialized in plain; `Debug` redacted).
    pub access_token: AccessToken,
    /// `bot` (Slack), `Bearer` (Microsoft).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// The refresh token (Slack token rotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<RefreshToken>,
    /// When the access token expires (RFC 3339, UTC, whole seconds); none
    /// for tokens that do not expire.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::rfc3339")]
    pub expires_at: Option<OffsetDateTime>,
    /// When the refresh token expires (RFC 3339, like `expires_at`), when the
    /// provider says (Webex's `refresh_token_expires_in`, about 90 days);
    /// none otherwise (Slack's rotation does not say). Absent from records
    /// stored before it existed, which still read.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::rfc3339")]
    pub refresh_token_expires_at: Option<OffsetDateTime>,
    /// The scopes the token was granted, as the provider listed them
    /// (Slack's `scope`); empty when it did not say.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
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
    ///     access_token: channel_connect::secret::AccessToken::new("xoxe.xoxb-1"),
    ///     token_type: Some("bot".into()),
    ///     refresh_token: Some(channel_connect::secret::RefreshToken::new("xoxe-1-refresh")),
    ///     expires_at: Some(now + Duration::hours(12)),
    ///     refresh_token_expires_at: None, // Slack's rotation does not say
    ///     scopes: vec!["chat:write".into()],
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
///
/// A host stores it as it comes and reads it back:
///
/// ```
/// use channel_connect::records::ChannelConnectionRecord;
/// use serde_json::json;
///
/// let row = json!({
///     "identifier": "chconn_nEEH0l4zqBD2",
///     "integrationIdentifier": "msteams",
///     "providerId": "msteams",
///     "context": {"tenant": {"id": "org-acme"}},
///     "workspace": {"id": "72f988bf-86f1-41af-91ab-2d7cd011db47"}
/// });
/// let connection: ChannelConnectionRecord = serde_json::from_value(row)?;
/// assert_eq!(connection.workspace.id, "72f988bf-86f1-41af-91ab-2d7cd011db47");
/// assert!(connection.subscriber_id.is_none()); // shared: owned by the context
/// assert!(connection.auth.is_none()); // Teams: app-only tokens on demand
///
/// // A row without a workspace is no connection.
/// assert!(serde_json::from_value::<ChannelConnectionRecord>(json!({
///     "identifier": "c", "integrationIdentifier": "slack", "providerId": "slack"
/// })).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
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
///
/// ```
/// use channel_connect::records::Endpoint;
/// use serde_json::{Map, json};
///
/// let mut fields = Map::new();
/// fields.insert("url".into(), json!("https://hooks.slack.com/services/T9TK3CUKW/B0123/XXXXXXXX"));
/// fields.insert("channelId".into(), json!("C0123ABCD"));
/// let hook = Endpoint::new("webhook", fields);
/// assert_eq!(
///     serde_json::to_value(&hook)?,
///     json!({"type": "webhook", "endpoint": {"url": "https://hooks.slack.com/services/T9TK3CUKW/B0123/XXXXXXXX", "channelId": "C0123ABCD"}})
/// );
/// let logged = format!("{hook:?}");
/// assert!(logged.contains("C0123ABCD") && !logged.contains("hooks.slack.com"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    #[serde(rename = "type")]
    kind: String,
    endpoint: Map<String, Value>,
}

impl Endpoint {
    /// An endpoint of type `kind` (`slack_user`, `webhook`, `ms_teams_user`,
    /// or another provider's) with its fields.
    ///
    /// ```
    /// use channel_connect::records::Endpoint;
    /// use serde_json::{Map, json};
    ///
    /// let mut fields = Map::new();
    /// fields.insert("channelId".into(), json!("1098765432109876543"));
    /// let discord = Endpoint::new("discord_channel", fields);
    /// assert_eq!(discord.kind(), "discord_channel");
    /// assert_eq!(discord.get("channelId"), Some("1098765432109876543"));
    /// ```
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

    /// One string field (`None` when absent or not a string).
    ///
    /// ```
    /// use channel_connect::provider::msteams::token::ms_teams_user_endpoint;
    ///
    /// let user = ms_teams_user_endpoint("00000000-0000-0000-66f3-3332eca7ea81", "72f988bf-86f1-41af-91ab-2d7cd011db47");
    /// assert_eq!(user.get("tenantId"), Some("72f988bf-86f1-41af-91ab-2d7cd011db47"));
    /// assert_eq!(user.get("channelId"), None);
    /// ```
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
///
/// `type` and `endpoint` are flattened into the record:
///
/// ```
/// use channel_connect::records::ChannelEndpointRecord;
/// use serde_json::json;
///
/// let row = json!({
///     "type": "slack_user",
///     "endpoint": {"userId": "U1234"},
///     "subscriberId": "subscriber-123",
///     "connectionIdentifier": "slack-connection-abc123",
///     "integrationIdentifier": "slack"
/// });
/// let endpoint: ChannelEndpointRecord = serde_json::from_value(row.clone())?;
/// assert_eq!((endpoint.endpoint.kind(), endpoint.endpoint.get("userId")), ("slack_user", Some("U1234")));
/// assert_eq!(serde_json::to_value(&endpoint)?, row);
///
/// // Every endpoint reaches a subscriber.
/// assert!(serde_json::from_value::<ChannelEndpointRecord>(json!({
///     "type": "slack_user", "endpoint": {"userId": "U1234"}, "integrationIdentifier": "slack"
/// })).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
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
///
/// The module documentation shows a Slack install yielding one; a user link
/// yields endpoints and no connection:
///
/// ```
/// use channel_connect::records::StoredRecords;
/// use serde_json::json;
///
/// let link: StoredRecords = serde_json::from_value(json!({
///     "endpoints": [{"type": "slack_user", "endpoint": {"userId": "U1234"},
///                    "subscriberId": "subscriber-123", "integrationIdentifier": "slack"}]
/// }))?;
/// assert!(link.connection.is_none());
/// assert_eq!(serde_json::to_value(StoredRecords::default())?, json!({"endpoints": []}));
/// # Ok::<(), serde_json::Error>(())
/// ```
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
///
/// For provider authors, in [`crate::Provider::records`]:
///
/// ```
/// use channel_connect::exchange::ExchangeError;
/// use channel_connect::records::{self, WorkspaceRecord};
/// # use channel_connect::*;
/// # use time::OffsetDateTime;
/// # let slack = Slack::new(
/// #     ClientId::new("1234567890.1234567890")?,
/// #     Secret::new("slack-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # ).with_team("T9TK3CUKW")?;
/// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
/// #     .integration(Integration::new("slack", slack))
/// #     .build()?;
/// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","context":{"tenant":"org-acme"}}"#)?;
/// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
/// # let state = core.platform().open_state(issued.state().unwrap(), &VerifyParams::at(now))?;
/// // `state`: a Slack connect restricted to team T9TK3CUKW, for context tenant=org-acme.
/// let team = |id: &str| WorkspaceRecord { id: id.into(), name: None, details: Default::default() };
/// let connection = records::connection(&state, team("T9TK3CUKW"), None)?;
/// assert_eq!(connection.context["tenant"].id, "org-acme");
/// assert!(connection.identifier.starts_with("chconn_")); // generated at connect
///
/// // The user installed into another workspace.
/// assert_eq!(records::connection(&state, team("T0OTHER00"), None).unwrap_err(), ExchangeError::WrongWorkspace);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn connection(
    state: &VerifiedState,
    workspace: WorkspaceRecord,
    auth: Option<AuthRecord>,
) -> Result<ChannelConnectionRecord, ExchangeError> {
    if state.purpose() == Purpose::LinkUser {
        return Err(ExchangeError::WrongFlow(FlowMismatch::NeedsConnectState));
    }
    same_workspace(state, &workspace.id)?;
    let identifier = state
        .connection_identifier()
        .ok_or(ExchangeError::WrongFlow(FlowMismatch::NoConnectionIdentifier))?;
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
///
/// ```
/// use channel_connect::exchange::ExchangeError;
/// use channel_connect::provider::slack::oauth::slack_user_endpoint;
/// use channel_connect::records;
/// # use channel_connect::*;
/// # use time::OffsetDateTime;
/// # let slack = Slack::new(
/// #     ClientId::new("1234567890.1234567890")?,
/// #     Secret::new("slack-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
/// #     .integration(Integration::new("slack", slack))
/// #     .build()?;
/// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// # let body = LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
/// # let issued = core.link_user_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
/// # let state = core.platform().open_state(issued.state().unwrap(), &VerifyParams::at(now))?;
/// // `state`: a Slack user link for subscriber-123.
/// let record = records::endpoint(&state, slack_user_endpoint("U1234"))?;
/// assert_eq!((record.subscriber_id.as_str(), record.integration_identifier.as_str()), ("subscriber-123", "slack"));
///
/// // A shared connect without a subscriber has no one to reach.
/// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","context":{"tenant":"org-acme"}}"#)?;
/// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
/// let shared = core.platform().open_state(issued.state().unwrap(), &VerifyParams::at(now))?;
/// assert!(matches!(records::endpoint(&shared, slack_user_endpoint("U1234")), Err(ExchangeError::WrongFlow(_))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn endpoint(state: &VerifiedState, endpoint: Endpoint) -> Result<ChannelEndpointRecord, ExchangeError> {
    let subscriber = state
        .subscriber_id()
        .ok_or(ExchangeError::WrongFlow(FlowMismatch::NeedsSubscriber))?;
    Ok(ChannelEndpointRecord {
        endpoint,
        subscriber_id: subscriber.to_owned(),
        connection_identifier: state.connection_identifier().map(str::to_owned),
        integration_identifier: state.integration_identifier().to_owned(),
        context: context(state)?,
    })
}

/// Refuses an answer for another workspace than the state's (when it has one).
///
/// ```
/// use channel_connect::exchange::ExchangeError;
/// use channel_connect::records::same_workspace;
/// # use channel_connect::*;
/// # use time::OffsetDateTime;
/// # let slack = Slack::new(
/// #     ClientId::new("1234567890.1234567890")?,
/// #     Secret::new("slack-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # ).with_team("T9TK3CUKW")?;
/// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
/// #     .integration(Integration::new("slack", slack))
/// #     .build()?;
/// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
/// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
/// # let state = core.platform().open_state(issued.state().unwrap(), &VerifyParams::at(now))?;
/// assert_eq!(state.workspace(), Some("T9TK3CUKW"));
/// assert!(same_workspace(&state, "T9TK3CUKW").is_ok());
/// assert_eq!(same_workspace(&state, "T0OTHER00"), Err(ExchangeError::WrongWorkspace));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn same_workspace(state: &VerifiedState, answered: &str) -> Result<(), ExchangeError> {
    match state.workspace() {
        Some(expected) if expected != answered => Err(ExchangeError::WrongWorkspace),
        _ => Ok(()),
    }
}

/// The state's context as records.
///
/// ```
/// use channel_connect::records;
/// # use channel_connect::*;
/// # use time::OffsetDateTime;
/// # let slack = Slack::new(
/// #     ClientId::new("1234567890.1234567890")?,
/// #     Secret::new("slack-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
/// #     .integration(Integration::new("slack", slack))
/// #     .build()?;
/// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","context":{"tenant":{"id":"org-acme","data":{"plan":"enterprise"}},"app":"billing"}}"#)?;
/// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
/// # let state = core.platform().open_state(issued.state().unwrap(), &VerifyParams::at(now))?;
/// let context = records::context(&state)?;
/// assert_eq!(context.keys().collect::<Vec<_>>(), ["app", "tenant"]); // in key order
/// assert_eq!(context["tenant"].data.as_ref().unwrap()["plan"], "enterprise");
/// assert!(context["app"].data.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn context(state: &VerifiedState) -> Result<ContextRecords, ExchangeError> {
    state
        .context()
        .map(|e| {
            // The state stores data as compact JSON of an object; parse it back.
            let data = e
                .data
                .map(serde_json::from_str::<Map<String, Value>>)
                .transpose()
                .map_err(|_| ExchangeError::WrongFlow(FlowMismatch::ContextData))?;
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
            access_token: AccessToken::new("t"),
            token_type: None,
            refresh_token: None,
            expires_at: Some(t),
            refresh_token_expires_at: None,
            scopes: Vec::new(),
        };
        let json = serde_json::to_string(&auth).unwrap();
        assert_eq!(json, r#"{"accessToken":"t","expiresAt":"2026-01-01T00:05:00Z"}"#);
        let back: AuthRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, auth);
        assert!(!auth.needs_refresh(t, Duration::hours(1)), "no refresh token");

        let webex = AuthRecord {
            refresh_token_expires_at: Some(t + Duration::days(90)),
            ..auth
        };
        let json = serde_json::to_string(&webex).unwrap();
        assert!(
            json.ends_with(
                r#""expiresAt":"2026-01-01T00:05:00Z","refreshTokenExpiresAt":"2026-04-01T00:05:00Z"}"#
            ),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<AuthRecord>(&json).unwrap(), webex);
        let bad = r#"{"accessToken":"t","refreshTokenExpiresAt":"in 90 days"}"#;
        assert!(serde_json::from_str::<AuthRecord>(bad).is_err());
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
