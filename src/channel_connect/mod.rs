//! [`ChannelConnect`]: one environment's configured core (environment,
//! organization, platform, integrations) and its lookups. It issues URLs
//! (`issue`) and verifies the callbacks they lead to (`verify`); it is
//! configured with a [`ChannelConnectBuilder`] (`builder`). Every input, the
//! clock and randomness included, is an argument.

mod builder;
mod issue;
mod verify;

pub use builder::{ChannelConnectBuilder, MIN_ENVIRONMENT_SECRET_KEY_LEN};
pub use issue::MAX_URL_LEN;
pub(crate) use issue::write_url;

use crate::ids::ConfigId;
use crate::integration::{Integration, IntegrationKind};
use crate::keys::KeyRing;
use crate::platform::Platform;
use crate::provider::Provider;
use crate::secret::Secret;

/// The configured core: keys, integrations, environment.
///
/// Build one per environment; it issues authorize URLs
/// ([`ChannelConnect::connect_url`], [`ChannelConnect::link_user_url`]) and
/// verifies the callbacks they lead to ([`ChannelConnect::verify_callback`]).
///
/// ```
/// use channel_connect::*;
/// use time::{Duration, OffsetDateTime};
/// # let keys = || -> Result<KeyRing, KeyError> { Ok(KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?)) };
/// # let slack = || -> Result<Slack, ConfigError> { Ok(Slack::new(
/// #     ClientId::new("1234567890.1234567890")?,
/// #     Secret::new("slack-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # )) };
///
/// let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", keys()?)
///     .integration(Integration::new("slack", slack()?))
///     .build()?;
/// let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
/// let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
/// let query = format!("code=4724.demo-code&state={}", issued.state().unwrap());
/// let params = CallbackParams::parse(&query)?;
/// let verify = VerifyParams::at(now + Duration::seconds(30));
/// assert_eq!(core.verify_callback(&params, &verify)?.state.environment_id(), "6615c4b2e0f3a1b2c3d4e5f6");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ChannelConnect {
    environment: ConfigId,
    organization: ConfigId,
    pub(crate) platform: Platform,
    integrations: Vec<Integration>,
    environment_secret_keys: Vec<Secret>,
}

impl ChannelConnect {
    /// Starts a configuration for one environment with its own key ring.
    ///
    /// ```
    /// use channel_connect::*;
    /// # let keys = || -> Result<KeyRing, KeyError> { Ok(KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?)) };
    /// # let slack = Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    ///
    /// // Environment and organization ids as the platform stores them.
    /// let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", keys()?)
    ///     .integration(Integration::new("slack", slack))
    ///     .build()?;
    /// assert_eq!(core.environment_id(), "6615c4b2e0f3a1b2c3d4e5f6");
    ///
    /// let refused = ChannelConnect::builder("", "6615c4b2e0f3a1b2c3d4e5f7", keys()?).build();
    /// assert_eq!(refused.unwrap_err(), ConfigError::Id("environment id"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(
        environment_id: impl Into<String>,
        organization_id: impl Into<String>,
        keys: KeyRing,
    ) -> ChannelConnectBuilder {
        Self::builder_on(&Platform::new(keys), environment_id, organization_id)
    }

    /// Starts a configuration for one environment of `platform`, sharing its
    /// key ring, lifetime and skew (see "Serving many environments" in the
    /// README). Building one with two integrations per request costs about
    /// four verifications (`cargo bench --bench ratios`, `build_config`).
    ///
    /// ```
    /// use channel_connect::*;
    /// use time::OffsetDateTime;
    /// # let slack = || -> Result<Slack, ConfigError> { Ok(Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # )) };
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    ///
    /// let platform = Platform::new(KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?));
    /// let core = ChannelConnect::builder_on(&platform, "6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7")
    ///     .integration(Integration::new("slack", slack()?))
    ///     .build()?;
    /// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// // The platform opens what its environments seal.
    /// let state = platform.open_state(issued.state().unwrap(), &VerifyParams::at(now))?;
    /// assert_eq!(state.environment_id(), "6615c4b2e0f3a1b2c3d4e5f6");
    ///
    /// // A platform with other keys (another deployment) does not.
    /// let other = Platform::new(KeyRing::new(SigningKey::new(KeyId(1), &[0xa5; 32])?));
    /// let refused = other.open_state(issued.state().unwrap(), &VerifyParams::at(now)).unwrap_err();
    /// assert_eq!(refused.kind(), StateErrorKind::BadMac);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder_on(
        platform: &Platform,
        environment_id: impl Into<String>,
        organization_id: impl Into<String>,
    ) -> ChannelConnectBuilder {
        ChannelConnectBuilder::on(platform, environment_id.into(), organization_id.into())
    }

    /// The environment id.
    ///
    /// It is sealed in every state, and a state opens only in its own
    /// environment:
    ///
    /// ```
    /// use channel_connect::*;
    /// # use time::OffsetDateTime;
    /// # let slack = || -> Result<Slack, ConfigError> { Ok(Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # )) };
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// # let platform = Platform::new(KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?));
    /// let production = ChannelConnect::builder_on(&platform, "6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7")
    ///     .integration(Integration::new("slack", slack()?))
    ///     .build()?;
    /// assert_eq!(production.environment_id(), "6615c4b2e0f3a1b2c3d4e5f6");
    /// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// let issued = production.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// let (state, _) = production.open_state(issued.state().unwrap(), &VerifyParams::at(now))?;
    /// assert_eq!(state.environment_id(), production.environment_id());
    ///
    /// let development = ChannelConnect::builder_on(&platform, "6615c4b2e0f3a1b2c3d4e5f9", "6615c4b2e0f3a1b2c3d4e5f7")
    ///     .integration(Integration::new("slack", slack()?))
    ///     .build()?;
    /// let refused = development.open_state(issued.state().unwrap(), &VerifyParams::at(now)).unwrap_err();
    /// assert_eq!(refused.kind(), StateErrorKind::WrongEnvironment);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn environment_id(&self) -> &str {
        self.environment.as_str()
    }

    /// The organization id.
    pub fn organization_id(&self) -> &str {
        self.organization.as_str()
    }

    /// The key ring.
    ///
    /// ```
    /// use channel_connect::*;
    /// # use time::OffsetDateTime;
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// # let slack = || -> Result<Slack, ConfigError> { Ok(Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # )) };
    /// # let (key_1, key_2) = ([1_u8; 32], [2_u8; 32]);
    /// let before = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &key_1)?))
    ///     .integration(Integration::new("slack", slack()?))
    ///     .build()?;
    /// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// let issued = before.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    ///
    /// // Rotation: key 2 seals from now on; key 1 stays verify-only for one lifetime.
    /// let ring = KeyRing::new(SigningKey::new(KeyId(2), &key_2)?).with_verify_only(SigningKey::new(KeyId(1), &key_1)?)?;
    /// let during = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", ring)
    ///     .integration(Integration::new("slack", slack()?))
    ///     .build()?;
    /// assert_eq!(during.keys().active().id(), KeyId(2));
    /// assert!(during.open_state(issued.state().unwrap(), &VerifyParams::at(now)).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keys(&self) -> &KeyRing {
        self.platform.keys()
    }

    /// The platform: key ring, lifetime and skew.
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
    /// // Open a state alone, without its callback (a support tool, a log line).
    /// let state = core.platform().open_state(issued.state().unwrap(), &VerifyParams::at(now))?;
    /// assert_eq!(state.purpose(), Purpose::Connect);
    /// assert_eq!(state.expires_at(), now + Duration::seconds(i64::from(core.platform().lifetime_secs())));
    ///
    /// let refused = core.platform().open_state("not-a-state", &VerifyParams::at(now)).unwrap_err();
    /// assert_eq!(refused.kind(), StateErrorKind::Malformed);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    pub(crate) fn integrations(&self) -> &[Integration] {
        &self.integrations
    }

    pub(crate) fn find(&self, identifier: &str) -> Option<&Integration> {
        self.integrations.iter().find(|i| i.identifier == identifier)
    }

    /// The provider serving an integration.
    ///
    /// ```
    /// use channel_connect::*;
    /// # let keys = KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?);
    /// # let slack = Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    ///
    /// let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", keys)
    ///     .integration(Integration::new("slack", slack))
    ///     .integration(Integration::missing_client_id("msteams", "MS Teams"))
    ///     .build()?;
    /// let slack = core.provider("slack").expect("configured");
    /// assert_eq!((slack.id(), slack.display_name()), ("slack", "Slack"));
    /// assert_eq!(slack.client_id().as_str(), "1234567890.1234567890");
    ///
    /// // None for an integration without credentials, and for one that does not exist.
    /// assert!(core.provider("msteams").is_none());
    /// assert!(core.provider("discord").is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn provider(&self, integration: &str) -> Option<&dyn Provider> {
        match self.find(integration).map(|i| &i.kind) {
            Some(IntegrationKind::Chat(p)) => Some(p.as_ref()),
            _ => None,
        }
    }
}
