//! The API's request bodies, their validation, and the errors Novu answers with.
//!
//! Bodies deserialize exactly as the API takes them (camelCase, unknown fields
//! ignored). Validation borrows from the body: no string is copied.
//!
//! (Most of this file's length is the runnable examples in its doc comments;
//! the code, tests included, is about 370 lines.)

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

mod wire;

use crate::context::Context;
use crate::ids::{ConnectionIdentifier, IntegrationIdentifier, SubscriberId};
pub use crate::validation_error::ValidationError;

/// How a connection is scoped.
///
/// ```
/// use channel_connect::*;
///
/// // Without `connectionMode`: a subscriber's connection when one is named...
/// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
/// assert_eq!(ConnectRequest::validate(&body)?.mode, ConnectionMode::Subscriber);
/// // ...else the context's, shared by its subscribers.
/// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","context":{"tenant":"org-acme"}}"#)?;
/// assert_eq!(ConnectRequest::validate(&body)?.mode, ConnectionMode::Shared);
///
/// // Shared with nobody to share it.
/// let body = ConnectRequestBody::from_json(
///     br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123","connectionMode":"shared"}"#,
/// )?;
/// assert_eq!(ConnectRequest::validate(&body).unwrap_err(), RequestError::SharedWithoutContext);
/// // A mode the API does not know.
/// let unknown = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","connectionMode":"team"}"#);
/// assert_eq!(unknown.unwrap_err().status(), 422);
/// # Ok::<(), RequestError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionMode {
    /// The connection belongs to a subscriber.
    Subscriber,
    /// The connection belongs to the context, shared by its subscribers.
    Shared,
}

impl ConnectionMode {
    /// `"subscriber"` or `"shared"`.
    ///
    /// ```
    /// use channel_connect::ConnectionMode;
    ///
    /// assert_eq!(ConnectionMode::Shared.as_str(), "shared");
    /// // The same spelling as the JSON body's `connectionMode`.
    /// assert_eq!(serde_json::to_value(ConnectionMode::Subscriber)?, ConnectionMode::Subscriber.as_str());
    /// assert!(serde_json::from_str::<ConnectionMode>(r#""Shared""#).is_err()); // lower case only
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionMode::Subscriber => "subscriber",
            ConnectionMode::Shared => "shared",
        }
    }
}

/// Body of `POST /v1/integrations/channel-connections/oauth`.
///
/// ```
/// use channel_connect::{ConnectRequestBody, ConnectionMode};
///
/// // As a host's own request type deserializes it, or built in code.
/// let body = ConnectRequestBody {
///     integration_identifier: Some("msteams".into()),
///     subscriber_id: Some("subscriber-123".into()),
///     connection_mode: Some(ConnectionMode::Subscriber),
///     ..Default::default()
/// };
/// assert_eq!(
///     serde_json::to_value(&body)?,
///     serde_json::json!({"integrationIdentifier": "msteams", "subscriberId": "subscriber-123", "connectionMode": "subscriber"})
/// );
/// // snake_case is not the API's spelling: the field stays unset.
/// let body: ConnectRequestBody = serde_json::from_str(r#"{"integration_identifier":"msteams"}"#)?;
/// assert_eq!(body.integration_identifier, None);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectRequestBody {
    /// Required: which integration (Slack or MS Teams) to connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_identifier: Option<String>,
    /// The subscriber who clicked "Connect".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscriber_id: Option<String>,
    /// The connection to create; generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_identifier: Option<String>,
    /// 1 to 5 entities: `key: "id"` or `key: {"id", "data"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Value>>,
    /// Hex HMAC-SHA256 of the canonical `context`, when the integration asks for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_hash: Option<String>,
    /// Slack bot scopes; ignored for MS Teams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<String>>,
    /// `subscriber` or `shared`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_mode: Option<ConnectionMode>,
    /// Also link the subscriber's own user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_link_user: Option<bool>,
}

/// Body of `POST /v1/integrations/channel-endpoints/oauth` (link one user).
///
/// ```
/// use channel_connect::{LinkUserRequestBody, RequestError};
///
/// let body = LinkUserRequestBody::from_json(
///     br#"{"integrationIdentifier":"msteams","subscriberId":"subscriber-123","connectionIdentifier":"chconn_nEEH0l4zqBD2"}"#,
/// )?;
/// assert_eq!(body.connection_identifier.as_deref(), Some("chconn_nEEH0l4zqBD2"));
/// assert_eq!(body.user_scope, None); // Slack's default, identity.basic
///
/// // `userScope` is a list, as `scope` is for connect.
/// let refused = LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"slack","userScope":"identity.basic"}"#);
/// assert_eq!(refused.unwrap_err().status(), 422);
/// # Ok::<(), RequestError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkUserRequestBody {
    /// Required: the integration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_identifier: Option<String>,
    /// Required: the subscriber whose user is linked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscriber_id: Option<String>,
    /// The existing connection the user belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_identifier: Option<String>,
    /// Context, as for connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Value>>,
    /// contextHash, as for connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_hash: Option<String>,
    /// Slack user scopes; default `identity.basic`. Ignored for MS Teams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_scope: Option<Vec<String>>,
}

/// The API's answer: `{"url": "..."}`.
///
/// ```
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
/// // POST /v1/integrations/channel-connections/oauth
/// let answer = |request: &[u8]| -> (u16, serde_json::Value) {
///     let issued = ConnectRequestBody::from_json(request)
///         .and_then(|body| core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32]))));
///     match issued {
///         Ok(issued) => (201, serde_json::to_value(ConnectResponse { url: issued.url }).unwrap()),
///         Err(e) => (e.status(), e.to_json()),
///     }
/// };
/// let (status, body) = answer(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#);
/// assert_eq!(status, 201);
/// assert!(body["url"].as_str().unwrap().starts_with("https://slack.com/oauth/v2/authorize?state="));
///
/// let (status, body) = answer(br#"{"subscriberId":"subscriber-123"}"#);
/// assert_eq!(status, 422);
/// assert_eq!(body["errors"][0], "Integration identifier is required");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectResponse {
    /// The provider authorize URL to send the user to.
    pub url: String,
}

/// Largest request body accepted by [`ConnectRequestBody::from_json`] (data
/// is at most 64 KiB per entity, five entities, plus the rest).
pub const MAX_BODY_BYTES: usize = 400 * 1024;

macro_rules! from_json {
    ($(#[$doc:meta])* $t:ty) => {
        impl $t {
            /// Parses a JSON body; anything but a JSON object is a validation error.
            $(#[$doc])*
            pub fn from_json(bytes: &[u8]) -> Result<Self, RequestError> {
                parse_body(bytes)
            }
        }
    };
}
from_json!(
    ///
    /// ```
    /// use channel_connect::{ConnectRequestBody, ConnectionMode, RequestError, ValidationError};
    ///
    /// // The body of Novu's documentation; fields it does not know are ignored.
    /// let body = ConnectRequestBody::from_json(br#"{
    ///     "integrationIdentifier": "slack",
    ///     "subscriberId": "subscriber-123",
    ///     "context": {"tenant": {"id": "org-acme", "data": {"plan": "enterprise"}}},
    ///     "connectionMode": "shared",
    ///     "autoLinkUser": true,
    ///     "clientVersion": "2.4.1"
    /// }"#)?;
    /// assert_eq!(body.integration_identifier.as_deref(), Some("slack"));
    /// assert_eq!(body.connection_mode, Some(ConnectionMode::Shared));
    ///
    /// // An array is no body; a wrong type is refused without quoting the value.
    /// assert_eq!(ConnectRequestBody::from_json(b"[]").unwrap_err(), RequestError::Validation(ValidationError::BodyNotObject));
    /// let refused = ConnectRequestBody::from_json(br#"{"autoLinkUser": "xoxb-pasted-by-mistake"}"#).unwrap_err();
    /// assert_eq!(refused.status(), 422);
    /// assert!(!refused.to_string().contains("xoxb"));
    /// # Ok::<(), RequestError>(())
    /// ```
    ConnectRequestBody
);
from_json!(
    ///
    /// ```
    /// use channel_connect::{LinkUserRequestBody, RequestError, ValidationError};
    ///
    /// // POST /v1/integrations/channel-endpoints/oauth
    /// let body = LinkUserRequestBody::from_json(
    ///     br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123","userScope":["identity.basic","identity.email"]}"#,
    /// )?;
    /// assert_eq!(body.user_scope.as_deref(), Some(&["identity.basic".to_string(), "identity.email".to_string()][..]));
    ///
    /// // Cut off in transit: the error names where, not what.
    /// let refused = LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"sla"#).unwrap_err();
    /// assert!(matches!(refused, RequestError::Validation(ValidationError::Body { line: 1, .. })));
    /// # Ok::<(), RequestError>(())
    /// ```
    LinkUserRequestBody
);

/// Both bodies deserialize as [`ConnectRequestBody::from_json`] reads them
/// (SPEC.md section 11.1): every member read in full, ignored ones included,
/// so `1e400` or a lone surrogate escape anywhere refuses the body; a
/// listed member given twice refuses it; `context` and its `data` as
/// section 11.3 reads them. A refusal that `from_json` returns typed is here
/// the deserializer's error, with the same text.
///
/// ```
/// use channel_connect::{ConnectRequestBody, LinkUserRequestBody};
///
/// let body: ConnectRequestBody = serde_json::from_str(r#"{"integrationIdentifier":"slack","clientVersion":"2.4.1"}"#)?;
/// assert_eq!(body.integration_identifier.as_deref(), Some("slack"));
/// // An ignored member is still JSON: a lone surrogate refuses the body.
/// assert!(serde_json::from_str::<LinkUserRequestBody>(r#"{"note":"\ud800"}"#).is_err());
/// // A number in `data` is judged as written: 2^53 + 1 is no integer JavaScript keeps.
/// let refused = serde_json::from_str::<ConnectRequestBody>(
///     r#"{"context":{"tenant":{"id":"org-acme","data":{"n":9007199254740993.0}}}}"#,
/// );
/// assert!(refused.unwrap_err().to_string().starts_with("Context 'tenant' data may hold only integers"));
/// # Ok::<(), serde_json::Error>(())
/// ```
impl<'de> Deserialize<'de> for ConnectRequestBody {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        wire::read_body(d, &wire::Refusal::default())
    }
}

impl<'de> Deserialize<'de> for LinkUserRequestBody {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        wire::read_body(d, &wire::Refusal::default())
    }
}

fn parse_body<T: wire::BodyFields>(bytes: &[u8]) -> Result<T, RequestError> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ValidationError::BodyTooLarge.into());
    }
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(ValidationError::BodyNotObject.into());
    }
    let refusal = wire::Refusal::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let read = wire::read_body(&mut de, &refusal).and_then(|body| de.end().map(|()| body));
    read.map_err(|e| {
        // A field refusal found while reading is returned as itself; any
        // other error names only the position (serde's messages quote input).
        let v = refusal.take().unwrap_or(ValidationError::Body {
            line: e.line(),
            column: e.column(),
        });
        v.into()
    })
}

/// Bot scopes Slack gets when the request names none.
pub const DEFAULT_SLACK_SCOPES: &[&str] = &[
    "chat:write",
    "chat:write.public",
    "channels:read",
    "groups:read",
    "users:read",
    "users:read.email",
];

/// User scopes a Slack link-user request gets when it names none.
pub const DEFAULT_SLACK_USER_SCOPES: &[&str] = &["identity.basic"];

/// Most scopes in one request.
pub const MAX_SCOPES: usize = 50;

/// A validated scope list: given by the request, or a default.
///
/// ```
/// use channel_connect::request::{DEFAULT_SLACK_SCOPES, Scopes};
/// use channel_connect::ValidationError;
///
/// let asked = vec!["chat:write".to_string(), "incoming-webhook".to_string()];
/// let scopes = Scopes::new(&asked)?;
/// assert!(scopes.contains("incoming-webhook"));
/// assert!(!Scopes::default_list(DEFAULT_SLACK_SCOPES).contains("incoming-webhook"));
///
/// // Slack joins scopes with commas, so one scope may not hold one.
/// let joined = vec!["chat:write,incoming-webhook".to_string()];
/// assert_eq!(Scopes::new(&joined).unwrap_err(), ValidationError::ScopeInvalid);
/// # Ok::<(), ValidationError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scopes<'a> {
    list: ScopeList<'a>,
    /// Every byte of every scope is unreserved or `:`: a Slack URL copies
    /// the list (SPEC.md section 9), learnt by the validation's table pass.
    as_is: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ScopeList<'a> {
    Given(&'a [String]),
    Default(&'static [&'static str]),
}

impl<'a> Scopes<'a> {
    /// Checks a scope list: 1 to 50 scopes, each 1 to 100 visible ASCII
    /// characters without commas.
    ///
    /// ```
    /// use channel_connect::request::Scopes;
    /// use channel_connect::ValidationError;
    ///
    /// let asked = vec!["chat:write".to_string(), "channels:read".to_string()];
    /// assert_eq!(Scopes::new(&asked)?.iter().count(), 2);
    ///
    /// // `"scope": []` asks for nothing: refused, not the default.
    /// assert_eq!(Scopes::new(&[]).unwrap_err(), ValidationError::ScopeInvalid);
    /// assert_eq!(Scopes::new(&["chat: write".to_string()]).unwrap_err(), ValidationError::ScopeInvalid);
    /// # Ok::<(), ValidationError>(())
    /// ```
    pub fn new(list: &'a [String]) -> Result<Self, ValidationError> {
        use crate::ids::class::{SCOPE, SCOPE_AS_IS};
        let classes = list
            .iter()
            .map(|s| match s.len() {
                1..=100 => crate::ids::classes_of_all(s),
                _ => 0,
            })
            .fold(SCOPE | SCOPE_AS_IS, |acc, c| acc & c);
        if list.is_empty() || list.len() > MAX_SCOPES || classes & SCOPE == 0 {
            return Err(ValidationError::ScopeInvalid);
        }
        Ok(Scopes {
            list: ScopeList::Given(list),
            as_is: classes & SCOPE_AS_IS != 0,
        })
    }

    /// A fixed default list.
    ///
    /// ```
    /// use channel_connect::request::{DEFAULT_SLACK_USER_SCOPES, Scopes};
    ///
    /// const USER: Scopes<'static> = Scopes::default_list(DEFAULT_SLACK_USER_SCOPES);
    /// assert_eq!(USER.iter().collect::<Vec<_>>(), ["identity.basic"]);
    /// assert!(!USER.contains("identity.email"));
    /// ```
    pub const fn default_list(list: &'static [&'static str]) -> Scopes<'static> {
        use crate::ids::class::{SCOPE_AS_IS, TABLE};
        // `classes_of_all` by hand: iterators are not `const`.
        let mut as_is = true;
        let mut i = 0;
        while i < list.len() {
            let bytes = list[i].as_bytes();
            let mut j = 0;
            while j < bytes.len() {
                as_is &= TABLE[bytes[j] as usize] & SCOPE_AS_IS != 0;
                j += 1;
            }
            i += 1;
        }
        Scopes {
            list: ScopeList::Default(list),
            as_is,
        }
    }

    /// True when a Slack URL writes the list as it is: every byte of every
    /// scope is RFC 3986 unreserved or `:`.
    pub(crate) fn written_as_is(&self) -> bool {
        self.as_is
    }

    /// The scopes, in order.
    ///
    /// ```
    /// use channel_connect::request::Scopes;
    ///
    /// let asked = vec!["users:read".to_string(), "chat:write".to_string()];
    /// let scopes = Scopes::new(&asked)?;
    /// // As asked, not sorted: Slack's consent screen lists them in this order.
    /// assert_eq!(scopes.iter().collect::<Vec<_>>().join(","), "users:read,chat:write");
    /// assert_ne!(scopes.iter().next(), Some("chat:write"));
    /// # Ok::<(), channel_connect::ValidationError>(())
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        let (given, default): (&[String], &[&str]) = match self.list {
            ScopeList::Given(g) => (g, &[]),
            ScopeList::Default(d) => (&[], d),
        };
        given.iter().map(String::as_str).chain(default.iter().copied())
    }

    /// True when `scope` is in the list.
    ///
    /// ```
    /// use channel_connect::request::Scopes;
    ///
    /// let asked = vec!["chat:write".to_string(), "incoming-webhook".to_string()];
    /// let scopes = Scopes::new(&asked)?;
    /// assert!(scopes.contains("incoming-webhook"));
    /// // Whole scopes only: no prefix matches.
    /// assert!(!scopes.contains("chat"));
    /// assert!(!scopes.contains("Incoming-Webhook"));
    /// # Ok::<(), channel_connect::ValidationError>(())
    /// ```
    pub fn contains(&self, scope: &str) -> bool {
        self.iter().any(|s| s == scope)
    }
}

/// A validated connect request, borrowed from its body.
///
/// ```
/// use channel_connect::{ConnectRequest, ConnectRequestBody, ConnectionMode, RequestError};
///
/// let body = ConnectRequestBody::from_json(
///     br#"{"integrationIdentifier":"slack","context":{"tenant":"org-acme"},"scope":["chat:write"]}"#,
/// )?;
/// let request = ConnectRequest::validate(&body)?;
/// assert_eq!(request.integration.as_str(), "slack");
/// assert_eq!((request.mode, request.auto_link_user), (ConnectionMode::Shared, false));
/// assert!(request.scopes.unwrap().contains("chat:write"));
///
/// // `autoLinkUser` alone names nobody to connect for.
/// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","autoLinkUser":true}"#)?;
/// assert_eq!(ConnectRequest::validate(&body).unwrap_err(), RequestError::NeitherSubscriberNorContext);
/// # Ok::<(), RequestError>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ConnectRequest<'a> {
    /// The integration.
    pub integration: IntegrationIdentifier<'a>,
    /// The subscriber, when given (kept in shared mode too, for auto-link and webhooks).
    pub subscriber: Option<SubscriberId<'a>>,
    /// The caller's connection identifier; `None` means generate one.
    pub connection: Option<ConnectionIdentifier<'a>>,
    /// The context (may be empty).
    pub context: Context<'a>,
    /// The presented contextHash.
    pub context_hash: Option<&'a str>,
    /// Requested scopes (`None`: the provider's default).
    pub scopes: Option<Scopes<'a>>,
    /// The effective connection mode.
    pub mode: ConnectionMode,
    /// The effective autoLinkUser.
    pub auto_link_user: bool,
}

impl<'a> ConnectRequest<'a> {
    /// Applies every body rule of the API: field validation (422), then the
    /// connection-mode rules (400). ([`crate::ChannelConnect::connect_url`]
    /// runs the integration lookup and the provider's rules between the two,
    /// in Novu's order.)
    ///
    /// ```
    /// use channel_connect::*;
    ///
    /// let body = ConnectRequestBody::from_json(
    ///     br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123","context":{"tenant":"org-acme"}}"#,
    /// )?;
    /// let request = ConnectRequest::validate(&body)?;
    /// // A subscriber given and no mode: the subscriber's connection, their own user linked too.
    /// assert_eq!((request.mode, request.auto_link_user), (ConnectionMode::Subscriber, true));
    /// assert_eq!(request.context.len(), 1);
    /// assert!(request.connection.is_none()); // generated at issue
    ///
    /// let body = ConnectRequestBody::from_json(
    ///     br#"{"integrationIdentifier":"slack","context":{"tenant":"org-acme"},"connectionMode":"subscriber"}"#,
    /// )?;
    /// let refused = ConnectRequest::validate(&body).unwrap_err();
    /// assert_eq!(refused.to_string(), r#"subscriberId is required when connectionMode is "subscriber""#);
    /// assert_eq!(refused.status(), 400);
    /// # Ok::<(), RequestError>(())
    /// ```
    pub fn validate(body: &'a ConnectRequestBody) -> Result<Self, RequestError> {
        let mut request = Self::blank();
        request.check_fields(body)?;
        request.apply_mode_rules(body)?;
        Ok(request)
    }

    /// A request with nothing in it yet, for [`ConnectRequest::check_fields`]
    /// to fill in place: the issuing path never moves a request (its context
    /// alone is 200 bytes).
    pub(crate) fn blank() -> Self {
        ConnectRequest {
            integration: IntegrationIdentifier::blank(),
            subscriber: None,
            connection: None,
            context: Context::default(),
            context_hash: None,
            scopes: None,
            mode: ConnectionMode::Subscriber,
            auto_link_user: false,
        }
    }

    /// Field validation alone (422), into this blank request; the mode is
    /// provisional until [`ConnectRequest::apply_mode_rules`].
    pub(crate) fn check_fields(&mut self, body: &'a ConnectRequestBody) -> Result<(), RequestError> {
        self.integration = IntegrationIdentifier::new(body.integration_identifier.as_deref().unwrap_or(""))?;
        self.subscriber = body.subscriber_id.as_deref().map(SubscriberId::new).transpose()?;
        self.connection = body
            .connection_identifier
            .as_deref()
            .map(ConnectionIdentifier::new)
            .transpose()?;
        self.scopes = body.scope.as_deref().map(Scopes::new).transpose()?;
        self.context_hash = body.context_hash.as_deref();
        if let Some(context) = &body.context {
            self.context.fill(context)?;
        }
        Ok(())
    }

    /// The connection-mode rules (400) and the effective mode and autoLinkUser.
    pub(crate) fn apply_mode_rules(&mut self, body: &ConnectRequestBody) -> Result<(), RequestError> {
        let mode = match (
            body.connection_mode,
            self.subscriber.is_some(),
            self.context.is_empty(),
        ) {
            (Some(ConnectionMode::Shared), _, true) => return Err(RequestError::SharedWithoutContext),
            (Some(ConnectionMode::Subscriber), false, _) => {
                return Err(RequestError::SubscriberModeWithoutSubscriber);
            }
            (None, false, true) => return Err(RequestError::NeitherSubscriberNorContext),
            (Some(mode), _, _) => mode,
            (None, true, _) => ConnectionMode::Subscriber,
            (None, false, false) => ConnectionMode::Shared,
        };
        self.auto_link_user = body.auto_link_user.unwrap_or(mode == ConnectionMode::Subscriber);
        self.mode = mode;
        Ok(())
    }
}

/// Why a host's expected workspace was refused at issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WorkspaceRefusal {
    /// Not 1 to 64 characters of `[A-Za-z0-9._-]` (the state's rule).
    #[error("a workspace id is 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-'")]
    OutsideCharset,
    /// Not a Slack team id (`T...`) or Enterprise Grid id (`E...`).
    #[error("a Slack workspace is a team id (T...) or an Enterprise Grid id (E...)")]
    NotASlackTeam,
    /// Not a tenant GUID, or the consumer tenant.
    #[error("a Teams workspace is a tenant GUID other than the consumer tenant")]
    NotATenant,
    /// Another workspace than the integration is restricted to.
    #[error("it differs from the workspace the integration is restricted to")]
    OtherThanConfigured,
}

/// A validated link-user request, borrowed from its body.
///
/// ```
/// use channel_connect::request::LinkUserRequest;
/// use channel_connect::{LinkUserRequestBody, RequestError};
///
/// let body = LinkUserRequestBody::from_json(
///     br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123","context":{"tenant":"org-acme"}}"#,
/// )?;
/// let request = LinkUserRequest::validate(&body)?;
/// assert_eq!(request.subscriber.as_str(), "subscriber-123");
/// assert!(request.user_scopes.is_none()); // identity.basic
///
/// let body = LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123","userScope":[]}"#)?;
/// assert_eq!(LinkUserRequest::validate(&body).unwrap_err().status(), 422);
/// # Ok::<(), RequestError>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct LinkUserRequest<'a> {
    /// The integration.
    pub integration: IntegrationIdentifier<'a>,
    /// The subscriber whose user is linked.
    pub subscriber: SubscriberId<'a>,
    /// The existing connection, when named.
    pub connection: Option<ConnectionIdentifier<'a>>,
    /// The context (may be empty).
    pub context: Context<'a>,
    /// The presented contextHash.
    pub context_hash: Option<&'a str>,
    /// Slack user scopes (`None`: `identity.basic`).
    pub user_scopes: Option<Scopes<'a>>,
}

impl<'a> LinkUserRequest<'a> {
    /// Applies the body rules: integration and subscriber required.
    ///
    /// ```
    /// use channel_connect::request::LinkUserRequest;
    /// use channel_connect::{LinkUserRequestBody, RequestError, ValidationError};
    ///
    /// let body = LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"msteams","subscriberId":"subscriber-123"}"#)?;
    /// assert_eq!(LinkUserRequest::validate(&body)?.integration.as_str(), "msteams");
    ///
    /// // A context alone is not enough: a user link is always one subscriber's.
    /// let body = LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"msteams","context":{"tenant":"org-acme"}}"#)?;
    /// assert_eq!(
    ///     LinkUserRequest::validate(&body).unwrap_err(),
    ///     RequestError::Validation(ValidationError::SubscriberIdRequired)
    /// );
    /// # Ok::<(), RequestError>(())
    /// ```
    pub fn validate(body: &'a LinkUserRequestBody) -> Result<Self, RequestError> {
        let integration = IntegrationIdentifier::new(body.integration_identifier.as_deref().unwrap_or(""))?;
        let subscriber = match body.subscriber_id.as_deref() {
            Some(s) => SubscriberId::new(s)?,
            None => return Err(ValidationError::SubscriberIdRequired.into()),
        };
        let connection = body
            .connection_identifier
            .as_deref()
            .map(ConnectionIdentifier::new)
            .transpose()?;
        let user_scopes = body.user_scope.as_deref().map(Scopes::new).transpose()?;
        let mut request = LinkUserRequest {
            integration,
            subscriber,
            connection,
            context: Context::default(),
            context_hash: body.context_hash.as_deref(),
            user_scopes,
        };
        if let Some(context) = &body.context {
            request.context.fill(context)?;
        }
        Ok(request)
    }
}

/// Why a connect or link-user request was refused, with the HTTP status and
/// the message Novu answers with.
///
/// ```
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
/// let connect = |json: &[u8]| {
///     ConnectRequestBody::from_json(json).and_then(|body| core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32]))))
/// };
/// assert!(connect(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#).is_ok());
///
/// // An incoming webhook belongs to someone: a subscriber is required.
/// let refused = connect(br#"{"integrationIdentifier":"slack","context":{"tenant":"org-acme"},"scope":["incoming-webhook"]}"#);
/// assert_eq!(refused.unwrap_err(), RequestError::IncomingWebhookWithoutSubscriber);
/// let refused = connect(br#"{"integrationIdentifier":"slack","context":{"a":"1","b":"1","c":"1","d":"1","e":"1","f":"1"}}"#);
/// assert_eq!(refused.unwrap_err(), RequestError::Validation(ValidationError::TooManyContexts { count: 6 }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// A field-level problem (422).
    #[error("Validation Error: {0}")]
    Validation(#[from] ValidationError),
    /// No such chat integration in this environment (404).
    #[error("Integration not found: {identifier} in environment {environment}")]
    IntegrationNotFound {
        /// The identifier asked for.
        identifier: String,
        /// The environment id.
        environment: String,
    },
    /// The integration has no client id (404).
    #[error("{provider} integration missing required OAuth credentials (clientId)")]
    MissingClientId {
        /// The provider's display name.
        provider: String,
    },
    /// Slack `incoming-webhook` without a subscriber (400).
    #[error("subscriberId is required for incoming webhook")]
    IncomingWebhookWithoutSubscriber,
    /// A user link without `connectionIdentifier` on a provider whose user
    /// endpoints belong to a connection (Webex) (400).
    #[error("connectionIdentifier is required to link a {provider} user")]
    LinkWithoutConnection {
        /// The provider's display name.
        provider: &'static str,
    },
    /// Shared mode without context (400).
    #[error("context is required when connectionMode is \"shared\"")]
    SharedWithoutContext,
    /// Subscriber mode without subscriber (400).
    #[error("subscriberId is required when connectionMode is \"subscriber\"")]
    SubscriberModeWithoutSubscriber,
    /// No mode, no subscriber, no context (400).
    #[error("Either subscriberId or context must be provided")]
    NeitherSubscriberNorContext,
    /// HMAC validation on, no context (400).
    #[error("A context is required when HMAC validation is enabled.")]
    ContextRequiredForHmac,
    /// HMAC validation on, no contextHash (400).
    #[error("A valid contextHash is required when HMAC validation is enabled.")]
    ContextHashRequired,
    /// HMAC validation on, wrong contextHash (400).
    #[error("Please provide a valid context HMAC hash")]
    ContextHashInvalid,
    /// The authorize URL (or the Teams sign-in URL that would follow it) would
    /// be 1,800 characters or longer, which Microsoft refuses (400).
    #[error("the authorize URL would be {length} characters; the limit is 1799")]
    UrlTooLong {
        /// The length it would have had.
        length: usize,
    },
    /// The host's expected workspace is not one this provider and
    /// integration allow; the text says why (400).
    #[error("the expected workspace is refused: {0}")]
    InvalidWorkspace(WorkspaceRefusal),
    /// The caller's clock is before 1970 or past the format's range (400).
    #[error("the current time is outside the state format's range")]
    ClockOutOfRange,
}

impl RequestError {
    /// The HTTP status Novu answers with.
    ///
    /// ```
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
    /// let status = |json: &[u8]| {
    ///     ConnectRequestBody::from_json(json)
    ///         .and_then(|body| core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32]))))
    ///         .map_or_else(|e| e.status(), |_| 201)
    /// };
    /// assert_eq!(status(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#), 201);
    ///
    /// assert_eq!(status(br#"{"subscriberId":"subscriber-123"}"#), 422); // a field
    /// assert_eq!(status(br#"{"integrationIdentifier":"discord","subscriberId":"subscriber-123"}"#), 404); // the integration
    /// assert_eq!(status(br#"{"integrationIdentifier":"slack"}"#), 400); // a rule between fields
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            RequestError::Validation(_) => 422,
            RequestError::IntegrationNotFound { .. } | RequestError::MissingClientId { .. } => 404,
            RequestError::IncomingWebhookWithoutSubscriber
            | RequestError::LinkWithoutConnection { .. }
            | RequestError::SharedWithoutContext
            | RequestError::SubscriberModeWithoutSubscriber
            | RequestError::NeitherSubscriberNorContext
            | RequestError::ContextRequiredForHmac
            | RequestError::ContextHashRequired
            | RequestError::ContextHashInvalid
            | RequestError::UrlTooLong { .. }
            | RequestError::InvalidWorkspace(_)
            | RequestError::ClockOutOfRange => 400,
        }
    }

    /// The response body: `{"statusCode": N, "message": "..."}`, and for 422
    /// Novu's `"message": "Validation Error"` with the detail in `errors`.
    ///
    /// ```
    /// use channel_connect::{ConnectRequest, ConnectRequestBody, RequestError};
    /// use serde_json::json;
    ///
    /// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","context":{"tenant":"org acme"}}"#)?;
    /// assert_eq!(
    ///     ConnectRequest::validate(&body).unwrap_err().to_json(),
    ///     json!({
    ///         "statusCode": 422,
    ///         "message": "Validation Error",
    ///         "errors": ["context ids must be 1 to 100 characters of A-Z, a-z, 0-9, '_' or '-'"]
    ///     })
    /// );
    /// // Other refusals carry their message alone.
    /// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack"}"#)?;
    /// assert_eq!(
    ///     ConnectRequest::validate(&body).unwrap_err().to_json(),
    ///     json!({"statusCode": 400, "message": "Either subscriberId or context must be provided"})
    /// );
    /// # Ok::<(), RequestError>(())
    /// ```
    pub fn to_json(&self) -> Value {
        match self {
            RequestError::Validation(v) => serde_json::json!({
                "statusCode": 422,
                "message": "Validation Error",
                "errors": [v.to_string()],
            }),
            other => serde_json::json!({"statusCode": other.status(), "message": other.to_string()}),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> ConnectRequestBody {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn mode_defaults_follow_the_protocol() {
        let b = body(json!({"integrationIdentifier": "s", "subscriberId": "u"}));
        let r = ConnectRequest::validate(&b).unwrap();
        assert_eq!((r.mode, r.auto_link_user), (ConnectionMode::Subscriber, true));

        let b = body(json!({"integrationIdentifier": "s", "context": {"t": "a"}}));
        let r = ConnectRequest::validate(&b).unwrap();
        assert_eq!((r.mode, r.auto_link_user), (ConnectionMode::Shared, false));

        let b = body(
            json!({"integrationIdentifier": "s", "subscriberId": "u", "context": {"t": "a"}, "connectionMode": "shared"}),
        );
        let r = ConnectRequest::validate(&b).unwrap();
        assert_eq!((r.mode, r.auto_link_user), (ConnectionMode::Shared, false));
        assert_eq!(r.subscriber.unwrap().as_str(), "u");
    }

    #[test]
    fn mode_rules_and_statuses() {
        let cases = [
            (
                json!({"subscriberId": "u"}),
                422,
                "Validation Error: Integration identifier is required",
            ),
            (
                json!({"integrationIdentifier": "s", "connectionMode": "shared", "subscriberId": "u"}),
                400,
                "context is required when connectionMode is \"shared\"",
            ),
            (
                json!({"integrationIdentifier": "s", "connectionMode": "subscriber", "context": {"a": "b"}}),
                400,
                "subscriberId is required when connectionMode is \"subscriber\"",
            ),
            (
                json!({"integrationIdentifier": "s"}),
                400,
                "Either subscriberId or context must be provided",
            ),
        ];
        for (v, status, msg) in cases {
            let b = body(v);
            let e = ConnectRequest::validate(&b).unwrap_err();
            assert_eq!((e.status(), e.to_string().as_str()), (status, msg));
        }
    }

    #[test]
    fn json_errors_name_no_values() {
        let e = ConnectRequestBody::from_json(br#"{"autoLinkUser": "secret-value"}"#).unwrap_err();
        assert_eq!(e.status(), 422);
        assert!(!e.to_string().contains("secret-value"), "{e}");
        let e = ConnectRequestBody::from_json(b"[1]").unwrap_err();
        assert_eq!(e, RequestError::Validation(ValidationError::BodyNotObject));
        assert_eq!(e.to_json()["message"], "Validation Error");
    }

    #[test]
    fn scopes() {
        let s = vec!["chat:write".to_string(), "incoming-webhook".to_string()];
        let sc = Scopes::new(&s).unwrap();
        assert!(sc.contains("incoming-webhook"));
        assert_eq!(sc.iter().collect::<Vec<_>>(), ["chat:write", "incoming-webhook"]);
        assert!(Scopes::new(&[]).is_err());
        assert!(Scopes::new(&["a,b".to_string()]).is_err());
        assert!(Scopes::new(&["a b".to_string()]).is_err());
    }
}
