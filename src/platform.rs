//! [`Platform`]: what every environment of a platform shares (the key ring,
//! the state lifetime and the clock-skew allowance), and opening a callback's
//! state with them before the environment it names is known.

use std::sync::Arc;

use crate::callback::{CallbackError, CallbackParams};
use crate::config::ConfigError;
use crate::keys::KeyRing;
use crate::params::VerifyParams;
use crate::state::{self, OpenParams, StateError, VerifiedState};
use crate::text;
use crate::verified_callback::OpenedCallback;

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

impl Platform {
    /// Opens a callback's state with the platform's keys and clock rules:
    /// the first half of
    /// [`ChannelConnect::verify_callback`](crate::ChannelConnect::verify_callback)
    /// for hosts that serve many environments from one callback URL.
    ///
    /// ```
    /// use channel_connect::*;
    /// # use time::{Duration, OffsetDateTime};
    /// let platform = Platform::new(KeyRing::new(SigningKey::new(KeyId(1), &[9; 32])?));
    /// // `environment(id)`: that environment's `ChannelConnect`, built on `platform`
    /// // from its database row (see `ChannelConnect::finish_callback`).
    /// # let environment = |env: &str| -> Result<ChannelConnect, ConfigError> {
    /// #     let slack = Slack::new(
    /// #         ClientId::new("1234567890.1234567890")?,
    /// #         Secret::new("secret-of-this-environment"),
    /// #         RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// #     );
    /// #     ChannelConnect::builder_on(&platform, env, "org-1").integration(Integration::new("slack", slack)).build()
    /// # };
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"u1"}"#)?;
    /// # let issued = environment("env-7")?.connect_url(&body, &IssueParams::new(now, &Entropy([3; 32])))?;
    /// // The one callback route: open, look the environment up, finish.
    /// let query = format!("code=4724.1&state={}", issued.state().unwrap());
    /// let params = CallbackParams::parse(&query)?;
    /// let verify = VerifyParams::at(now + Duration::seconds(20));
    /// let opened = platform.open_callback(&params, &verify)?;
    /// let core = environment(opened.state().environment_id())?;
    /// let verified = core.finish_callback(opened, &verify)?;
    /// assert_eq!(verified.state.environment_id(), "env-7");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_callback<'a, 'p>(
        &self,
        params: &'a CallbackParams<'p>,
        verify: &VerifyParams<'_>,
    ) -> Result<OpenedCallback<'a, 'p>, CallbackError> {
        let token = self.callback_state(params)?;
        let state = self.open_state(token, verify)?;
        Ok(OpenedCallback { params, state })
    }

    /// The callback's `state`; a callback without one was not started here.
    pub(crate) fn callback_state<'p>(
        &self,
        params: &'p CallbackParams<'_>,
    ) -> Result<&'p str, CallbackError> {
        match params.state.as_deref() {
            Some(token) if !token.is_empty() => Ok(token),
            _ => Err(CallbackError::Unsolicited {
                has_code: params.code.is_some(),
                error: params.error.as_deref().map(|e| text::error_code(Some(e))),
            }),
        }
    }

    /// Opens a state alone with the platform's keys and clock rules: size,
    /// base64, version, key, MAC, layout, time window and binding (SPEC.md
    /// section 8). It says nothing of which environment or integration may
    /// act on it;
    /// [`ChannelConnect::open_state`](crate::ChannelConnect::open_state)
    /// checks that too.
    ///
    /// ```
    /// use channel_connect::*;
    /// use time::OffsetDateTime;
    ///
    /// let platform = Platform::new(KeyRing::new(SigningKey::new(KeyId(1), &[9; 32])?));
    /// let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// # let slack = Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// # let core = ChannelConnect::builder_on(&platform, "6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7")
    /// #     .integration(Integration::new("slack", slack))
    /// #     .build()?;
    /// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// // A state one of the platform's environments issued.
    /// let state = platform.open_state(issued.state().unwrap(), &VerifyParams::at(now))?;
    /// assert_eq!(state.subscriber_id(), Some("subscriber-123"));
    ///
    /// let refused = platform.open_state("AQEc-not-a-state", &VerifyParams::at(now)).unwrap_err();
    /// assert_eq!(refused.to_string(), "Invalid OAuth state parameter");
    /// assert_eq!(refused.kind(), StateErrorKind::Malformed);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_state(&self, token: &str, verify: &VerifyParams<'_>) -> Result<VerifiedState, StateError> {
        let mut state = VerifiedState::for_token(token);
        self.open_state_into(token, verify, &mut state)?;
        Ok(state)
    }

    /// [`Platform::open_state`] into `state`, from [`VerifiedState::for_token`].
    pub(crate) fn open_state_into(
        &self,
        token: &str,
        verify: &VerifyParams<'_>,
        state: &mut VerifiedState,
    ) -> Result<(), StateError> {
        state::open_into(token, &self.keys, &self.open_params(verify), state)
    }

    fn open_params<'v>(&self, verify: &VerifyParams<'v>) -> OpenParams<'v> {
        OpenParams {
            now: verify.now.unix_timestamp(),
            skew: self.skew,
            binding: verify.binding,
        }
    }
}
