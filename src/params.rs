//! What every call takes beyond its request: the platform's shared keys
//! and clock rules ([`Platform`]), the clock and randomness of one issue
//! ([`IssueParams`], [`Entropy`]) and of one verification ([`VerifyParams`]).
//! All time is an argument.
//!
//! (Most of this file's length is the runnable examples in its doc comments;
//! the code, tests included, is about 110 lines.)

use std::sync::Arc;

use time::OffsetDateTime;

use crate::config::ConfigError;
use crate::keys::KeyRing;
use crate::state::Purpose;

/// Default state lifetime: 5 minutes, as the API documents.
pub const DEFAULT_LIFETIME_SECS: u16 = 300;
/// Default allowance for a state issued in the future (clock skew between hosts).
pub const DEFAULT_SKEW_SECS: u16 = 30;

/// What every environment of a platform shares: the key ring that seals and
/// opens states, the state lifetime (1 to 3600 s, default 300) and the
/// allowance for clock skew between hosts (at most 300 s, default 30).
///
/// A platform with many environments opens a callback's state with it
/// ([`Platform::open_callback`]), reads which environment and integration
/// the state names, builds that environment's [`crate::ChannelConnect`] on
/// the same platform ([`crate::ChannelConnect::builder_on`]) and finishes
/// there ([`crate::ChannelConnect::finish_callback`]), without opening the
/// state twice. Cloning is cheap (the keys are shared).
///
/// ```
/// use channel_connect::*;
///
/// # let key_from_secret_store = [0x5a_u8; 32];
/// let platform = Platform::new(KeyRing::new(SigningKey::new(KeyId(1), &key_from_secret_store)?))
///     .with_lifetime_secs(600)?
///     .with_skew_secs(10)?;
/// // Every environment built on it seals and opens with the same rules.
/// let core = ChannelConnect::builder_on(&platform, "6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7").build()?;
/// assert_eq!((core.platform().lifetime_secs(), core.platform().skew_secs()), (600, 10));
///
/// // A state that lives longer than an hour is refused when configured.
/// let refused = Platform::new(KeyRing::new(SigningKey::new(KeyId(1), &key_from_secret_store)?)).with_lifetime_secs(7200);
/// assert_eq!(refused.unwrap_err(), ConfigError::Lifetime);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Platform {
    pub(crate) keys: Arc<KeyRing>,
    pub(crate) lifetime: u16,
    pub(crate) skew: u16,
}

impl Platform {
    /// The key ring with the default lifetime and skew.
    ///
    /// ```
    /// use channel_connect::*;
    ///
    /// # let key_from_secret_store = [0x5a_u8; 32];
    /// let platform = Platform::new(KeyRing::new(SigningKey::new(KeyId(1), &key_from_secret_store)?));
    /// assert_eq!(platform.lifetime_secs(), DEFAULT_LIFETIME_SECS); // 300
    /// assert_eq!(platform.skew_secs(), DEFAULT_SKEW_SECS); // 30
    ///
    /// // The key ring refuses a key shorter than 32 bytes before a platform exists.
    /// let short = SigningKey::new(KeyId(1), b"sixteen-byte-key").unwrap_err();
    /// assert_eq!(short, KeyError::TooShort { id: 1, len: 16 });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(keys: KeyRing) -> Self {
        Platform {
            keys: Arc::new(keys),
            lifetime: DEFAULT_LIFETIME_SECS,
            skew: DEFAULT_SKEW_SECS,
        }
    }

    /// Another state lifetime, 1 to 3600 seconds.
    ///
    /// ```
    /// use channel_connect::*;
    /// # let keys = KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?);
    ///
    /// // Ten minutes, for installs that wait on an administrator.
    /// let platform = Platform::new(keys).with_lifetime_secs(600)?;
    /// assert_eq!(platform.lifetime_secs(), 600);
    ///
    /// assert_eq!(platform.clone().with_lifetime_secs(0).unwrap_err(), ConfigError::Lifetime);
    /// assert_eq!(platform.with_lifetime_secs(3601).unwrap_err(), ConfigError::Lifetime);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_lifetime_secs(mut self, secs: u16) -> Result<Self, ConfigError> {
        if !(1..=3600).contains(&secs) {
            return Err(ConfigError::Lifetime);
        }
        self.lifetime = secs;
        Ok(self)
    }

    /// Another skew allowance, at most 300 seconds.
    ///
    /// ```
    /// use channel_connect::*;
    /// # let keys = KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?);
    ///
    /// // Hosts whose clocks are kept within a few seconds of each other.
    /// let platform = Platform::new(keys).with_skew_secs(5)?;
    /// assert_eq!(platform.skew_secs(), 5);
    ///
    /// assert_eq!(platform.with_skew_secs(301).unwrap_err(), ConfigError::Skew);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_skew_secs(mut self, secs: u16) -> Result<Self, ConfigError> {
        if secs > 300 {
            return Err(ConfigError::Skew);
        }
        self.skew = secs;
        Ok(self)
    }

    /// The key ring.
    ///
    /// ```
    /// use channel_connect::*;
    ///
    /// // Rotating: key 2 seals, key 1 still opens the states it sealed.
    /// # let (old_bytes, new_bytes) = ([1_u8; 32], [2_u8; 32]);
    /// let ring = KeyRing::new(SigningKey::new(KeyId(2), &new_bytes)?)
    ///     .with_verify_only(SigningKey::new(KeyId(1), &old_bytes)?)?;
    /// let platform = Platform::new(ring);
    /// assert_eq!(platform.keys().active().id(), KeyId(2));
    /// assert!(platform.keys().find(KeyId(1)).is_some());
    ///
    /// // A key id the ring does not hold opens nothing.
    /// assert!(platform.keys().find(KeyId(3)).is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// The state lifetime in seconds.
    ///
    /// ```
    /// # use channel_connect::*;
    /// # use time::{Duration, OffsetDateTime};
    /// # let slack = Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
    /// #     .integration(Integration::new("slack", slack))
    /// #     .build()?;
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// let platform = core.platform();
    /// assert_eq!(platform.lifetime_secs(), 300);
    /// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// assert_eq!(issued.expires_at, now + Duration::seconds(300));
    ///
    /// // At issued-at + lifetime the state no longer opens.
    /// let late = platform.open_state(issued.state().unwrap(), &VerifyParams::at(issued.expires_at));
    /// assert_eq!(late.unwrap_err().kind(), StateErrorKind::Expired);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lifetime_secs(&self) -> u16 {
        self.lifetime
    }

    /// The skew allowance in seconds.
    ///
    /// ```
    /// # use channel_connect::*;
    /// # use time::{Duration, OffsetDateTime};
    /// # let slack = Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
    /// #     .integration(Integration::new("slack", slack))
    /// #     .build()?;
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// let platform = core.platform();
    /// assert_eq!(platform.skew_secs(), 30);
    /// // A state issued by a host whose clock runs 30 s ahead still opens here...
    /// let ahead = core.connect_url(&body, &IssueParams::new(now + Duration::seconds(30), &Entropy([7; 32])))?;
    /// assert!(platform.open_state(ahead.state().unwrap(), &VerifyParams::at(now)).is_ok());
    ///
    /// // ...31 s ahead, it is not valid yet.
    /// let too_far = core.connect_url(&body, &IssueParams::new(now + Duration::seconds(31), &Entropy([7; 32])))?;
    /// let refused = platform.open_state(too_far.state().unwrap(), &VerifyParams::at(now));
    /// assert_eq!(refused.unwrap_err().kind(), StateErrorKind::NotYetValid);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn skew_secs(&self) -> u16 {
        self.skew
    }
}

/// 32 bytes from the caller's CSPRNG: bytes 0..16 become the state nonce,
/// bytes 16..25 a generated connection identifier; 25..32 are reserved.
///
/// Draw fresh bytes for every issue; `Debug` does not show them.
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
/// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
/// # let open = |issued: &IssuedUrl| core.platform().open_state(issued.state().unwrap(), &VerifyParams::at(now));
/// // In production: `getrandom::fill(&mut bytes)` or your platform's CSPRNG.
/// let (first, second) = (Entropy([0x41; 32]), Entropy([0x42; 32]));
/// assert_eq!(format!("{first:?}"), "Entropy([redacted])");
/// let a = core.connect_url(&body, &IssueParams::new(now, &first))?;
/// let b = core.connect_url(&body, &IssueParams::new(now, &second))?;
/// assert_ne!(open(&a)?.replay_id(), open(&b)?.replay_id());
/// assert_ne!(a.connection_identifier(), b.connection_identifier());
///
/// // Reused bytes give the same nonce: the replay check then refuses the
/// // second flow, and both would create the same connection.
/// let again = core.connect_url(&body, &IssueParams::new(now, &first))?;
/// assert_eq!(open(&again)?.replay_id(), open(&a)?.replay_id());
/// assert_eq!(again.connection_identifier(), a.connection_identifier());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy)]
pub struct Entropy(pub [u8; 32]);

impl std::fmt::Debug for Entropy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Entropy([redacted])")
    }
}

/// What issuing a URL takes beyond the request body: the clock, randomness,
/// and optionally a browser binding and the workspace the flow must stay in.
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
/// # let cookie_hash = [0xc3_u8; 32];
/// // A user link to a connection in team T9TK3CUKW, bound to the install cookie.
/// let body = LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
/// let entropy = Entropy([7; 32]);
/// let issue = IssueParams::new(now, &entropy).with_binding(&cookie_hash).with_workspace("T9TK3CUKW");
/// let issued = core.link_user_url(&body, &issue)?;
/// let bound = VerifyParams { binding: Some(&cookie_hash), ..VerifyParams::at(now) };
/// let state = core.platform().open_state(issued.state().unwrap(), &bound)?;
/// assert!(state.is_bound());
/// assert_eq!(state.workspace(), Some("T9TK3CUKW"));
///
/// // A Teams tenant is no Slack workspace.
/// let teams_tenant = IssueParams::new(now, &entropy).with_workspace("72f988bf-86f1-41af-91ab-2d7cd011db47");
/// let refused = core.link_user_url(&body, &teams_tenant).unwrap_err();
/// assert!(matches!(refused, RequestError::InvalidWorkspace(_)));
/// assert_eq!(refused.status(), 400);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct IssueParams<'a> {
    /// The caller's clock.
    pub now: OffsetDateTime,
    /// 32 bytes from the caller's CSPRNG.
    pub entropy: &'a Entropy,
    /// A value the browser will present again at the callback (for example
    /// the hash of an install cookie), when the host binds states.
    pub binding: Option<&'a [u8]>,
    /// The workspace the flow must end in, when the host knows it: the
    /// Teams tenant GUID or Slack team id of the connection a user is being
    /// linked to. Sealed in the state; the provider's answer must name it.
    /// Without it, the integration's own restriction (a configured Slack
    /// team or Teams tenant GUID) is sealed, if any.
    pub workspace: Option<&'a str>,
}

impl<'a> IssueParams<'a> {
    /// Just the clock and the entropy.
    ///
    /// ```
    /// # use channel_connect::*;
    /// # use time::{Duration, OffsetDateTime};
    /// # let slack = Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
    /// #     .integration(Integration::new("slack", slack))
    /// #     .build()?;
    /// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// assert_eq!(issued.expires_at, now + Duration::minutes(5));
    ///
    /// // A clock before 1970 cannot be written in a state.
    /// let broken_clock = OffsetDateTime::from_unix_timestamp(-1)?;
    /// let refused = core.connect_url(&body, &IssueParams::new(broken_clock, &Entropy([7; 32])));
    /// assert_eq!(refused.unwrap_err(), RequestError::ClockOutOfRange);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(now: OffsetDateTime, entropy: &'a Entropy) -> Self {
        IssueParams {
            now,
            entropy,
            binding: None,
            workspace: None,
        }
    }

    /// Binds the state to a browser (see [`IssueParams::binding`]).
    ///
    /// ```
    /// use sha2::{Digest, Sha256};
    /// # use channel_connect::*;
    /// # use time::{Duration, OffsetDateTime};
    /// # let slack = Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
    /// #     .integration(Integration::new("slack", slack))
    /// #     .build()?;
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// // The `cc_bind` cookie set on the install path, hashed.
    /// let cookie = "q2xhc3NpYy1jb29raWUtdmFsdWUtMzItYnl0ZXMtbG9uZw";
    /// let binding = Sha256::digest(cookie);
    /// let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])).with_binding(&binding))?;
    /// let query = format!("code=4724.demo-code&state={}", issued.state().unwrap());
    /// let params = CallbackParams::parse(&query)?;
    /// let at = VerifyParams::at(now + Duration::seconds(20));
    /// // At the callback, the same browser presents the same cookie.
    /// assert!(core.verify_callback(&params, &VerifyParams { binding: Some(&binding), ..at }).is_ok());
    ///
    /// // Another browser (no cookie, or another one) is refused.
    /// let kind = |r: Result<VerifiedCallback, CallbackError>| match r {
    ///     Err(CallbackError::State(e)) => Some(e.kind()),
    ///     _ => None,
    /// };
    /// assert_eq!(kind(core.verify_callback(&params, &at)), Some(StateErrorKind::BindingMissing));
    /// let other = Sha256::digest("another-browser-cookie");
    /// let other_browser = VerifyParams { binding: Some(&other), ..at };
    /// assert_eq!(kind(core.verify_callback(&params, &other_browser)), Some(StateErrorKind::BindingMismatch));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_binding(mut self, binding: &'a [u8]) -> Self {
        self.binding = Some(binding);
        self
    }

    /// Restricts the flow to a workspace (see [`IssueParams::workspace`]).
    ///
    /// ```
    /// # use channel_connect::*;
    /// # use time::OffsetDateTime;
    /// # let teams = MsTeams::new(
    /// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
    /// #     Secret::new("teams-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
    /// #     .integration(Integration::new("msteams", teams))
    /// #     .build()?;
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// // Link subscriber-123 to the connection of Contoso's tenant: the sign-in happens there.
    /// let body = LinkUserRequestBody::from_json(
    ///     br#"{"integrationIdentifier":"msteams","subscriberId":"subscriber-123","connectionIdentifier":"chconn_nEEH0l4zqBD2"}"#,
    /// )?;
    /// let entropy = Entropy([7; 32]);
    /// let issue = IssueParams::new(now, &entropy).with_workspace("72f988bf-86f1-41af-91ab-2d7cd011db47");
    /// let issued = core.link_user_url(&body, &issue)?;
    /// assert!(issued.url.starts_with(
    ///     "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/authorize?"
    /// ));
    ///
    /// // A Slack team id is not a tenant.
    /// let refused = core.link_user_url(&body, &IssueParams::new(now, &entropy).with_workspace("T9TK3CUKW"));
    /// assert!(matches!(refused, Err(RequestError::InvalidWorkspace(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_workspace(mut self, workspace: &'a str) -> Self {
        self.workspace = Some(workspace);
        self
    }
}

/// Time and browser binding for a verification.
///
/// A callback route per purpose (or per provider) says so, and a state of
/// another flow is refused there:
///
/// ```
/// # use channel_connect::*;
/// # use time::{Duration, OffsetDateTime};
/// # let slack = Slack::new(
/// #     ClientId::new("1234567890.1234567890")?,
/// #     Secret::new("slack-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
/// #     .integration(Integration::new("slack", slack))
/// #     .build()?;
/// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
/// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
/// let query = format!("code=4724.demo-code&state={}", issued.state().unwrap());
/// let params = CallbackParams::parse(&query)?;
/// // GET /v1/integrations/slack/oauth/install-callback
/// let install_route = VerifyParams {
///     expect_provider: Some("slack"),
///     expect_purpose: Some(Purpose::Connect),
///     ..VerifyParams::at(now + Duration::seconds(20))
/// };
/// assert!(core.verify_callback(&params, &install_route).is_ok());
///
/// // The same install state played at the user-link route.
/// let link_route = VerifyParams { expect_purpose: Some(Purpose::LinkUser), ..install_route };
/// match core.verify_callback(&params, &link_route) {
///     Err(CallbackError::State(e)) => assert_eq!(e.kind(), StateErrorKind::WrongPurpose),
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct VerifyParams<'a> {
    /// The caller's clock.
    pub now: OffsetDateTime,
    /// The binding value the browser presents (for example the hash of the
    /// install cookie), when the host binds states.
    pub binding: Option<&'a [u8]>,
    /// Refuse a state of another provider (for per-provider callback routes).
    pub expect_provider: Option<&'a str>,
    /// Refuse a state of another purpose (for per-purpose callback routes).
    pub expect_purpose: Option<Purpose>,
}

impl VerifyParams<'_> {
    /// Just the clock.
    ///
    /// ```
    /// # use channel_connect::*;
    /// # use time::{Duration, OffsetDateTime};
    /// # let slack = Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
    /// #     .integration(Integration::new("slack", slack))
    /// #     .build()?;
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// let query = format!("code=4724.demo-code&state={}", issued.state().unwrap());
    /// let params = CallbackParams::parse(&query)?;
    /// // The user approved within a minute.
    /// let verified = core.verify_callback(&params, &VerifyParams::at(now + Duration::seconds(45)))?;
    /// assert_eq!(verified.state.subscriber_id(), Some("subscriber-123"));
    ///
    /// // The same callback after the state expired.
    /// let late = core.verify_callback(&params, &VerifyParams::at(issued.expires_at)).unwrap_err();
    /// assert_eq!(late.to_json(), serde_json::json!({"statusCode": 400, "message": "Invalid OAuth state parameter"}));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn at(now: OffsetDateTime) -> VerifyParams<'static> {
        VerifyParams {
            now,
            binding: None,
            expect_provider: None,
            expect_purpose: None,
        }
    }
}

impl<'a> VerifyParams<'a> {
    /// Presents the browser's binding value (see [`VerifyParams::binding`]).
    ///
    /// ```
    /// use channel_connect::{Purpose, VerifyParams};
    /// # let now = time::OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// let cookie_hash = [7u8; 32];
    /// let verify = VerifyParams::at(now)
    ///     .with_binding(&cookie_hash)
    ///     .expecting_provider("slack")
    ///     .expecting_purpose(Purpose::Connect);
    /// assert_eq!(verify.expect_provider, Some("slack"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_binding(mut self, binding: &'a [u8]) -> Self {
        self.binding = Some(binding);
        self
    }

    /// Refuses states of another provider (a per-provider callback route).
    pub fn expecting_provider(mut self, provider: &'a str) -> Self {
        self.expect_provider = Some(provider);
        self
    }

    /// Refuses states of another purpose (a per-purpose callback route).
    pub fn expecting_purpose(mut self, purpose: Purpose) -> Self {
        self.expect_purpose = Some(purpose);
        self
    }
}
