//! The call parameters beyond a request: the clock and randomness of one
//! issue ([`IssueParams`], [`Entropy`]) and of one verification
//! ([`VerifyParams`]). All time is an argument.

use time::OffsetDateTime;

use crate::state::Purpose;

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
