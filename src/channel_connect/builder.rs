//! [`ChannelConnectBuilder`]: an environment's configuration, checked once
//! in [`ChannelConnectBuilder::build`].

use super::ChannelConnect;
use crate::config::ConfigError;
use crate::ids::ConfigId;
use crate::integration::{Integration, IntegrationKind};
use crate::platform::Platform;
use crate::provider::check_provider_id;
use crate::secret::Secret;
use crate::state;

/// Shortest environment secret key accepted for `contextHash`, in bytes.
pub const MIN_ENVIRONMENT_SECRET_KEY_LEN: usize = 16;

/// Builds a [`ChannelConnect`].
///
/// Every value is checked once, in [`ChannelConnectBuilder::build`].
///
/// ```
/// use channel_connect::*;
/// # let keys = || -> Result<KeyRing, KeyError> { Ok(KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?)) };
/// # let slack = || -> Result<Slack, ConfigError> { Ok(Slack::new(
/// #     ClientId::new("1234567890.1234567890")?,
/// #     Secret::new("slack-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # )) };
///
/// let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", keys()?)
///     .lifetime_secs(600)
///     .skew_secs(10)
///     .integration(Integration::new("slack", slack()?))
///     .build()?;
/// assert_eq!(core.platform().lifetime_secs(), 600);
///
/// // Two integrations under one identifier: which would a request mean?
/// let twice = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", keys()?)
///     .integration(Integration::new("slack", slack()?))
///     .integration(Integration::new("slack", slack()?))
///     .build();
/// assert_eq!(twice.unwrap_err(), ConfigError::Integration("slack".into()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ChannelConnectBuilder {
    environment: String,
    organization: String,
    platform: Platform,
    lifetime: u16,
    skew: u16,
    integrations: Vec<Integration>,
    environment_secret_keys: Vec<Secret>,
}

impl ChannelConnectBuilder {
    pub(super) fn on(platform: &Platform, environment: String, organization: String) -> Self {
        ChannelConnectBuilder {
            environment,
            organization,
            platform: platform.clone(),
            lifetime: platform.lifetime_secs(),
            skew: platform.skew_secs(),
            integrations: Vec::new(),
            environment_secret_keys: Vec::new(),
        }
    }

    /// State lifetime in seconds (1 to 3600; default 300), checked at
    /// [`ChannelConnectBuilder::build`]. On a [`Platform`] shared by many
    /// environments, set it on the platform instead: an environment that
    /// sets its own lives by other rules than the platform's
    /// [`Platform::open_callback`].
    ///
    /// ```
    /// use channel_connect::*;
    /// use time::{Duration, OffsetDateTime};
    /// # let keys = || -> Result<KeyRing, KeyError> { Ok(KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?)) };
    /// # let slack = Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    ///
    /// let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", keys()?)
    ///     .lifetime_secs(120)
    ///     .integration(Integration::new("slack", slack))
    ///     .build()?;
    /// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// assert_eq!(issued.expires_at, now + Duration::minutes(2));
    ///
    /// let day_long = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", keys()?)
    ///     .lifetime_secs(3601)
    ///     .build();
    /// assert_eq!(day_long.unwrap_err(), ConfigError::Lifetime);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lifetime_secs(mut self, secs: u16) -> Self {
        self.lifetime = secs;
        self
    }

    /// Allowed clock skew in seconds (at most 300; default 30), checked at
    /// [`ChannelConnectBuilder::build`]. On a shared [`Platform`], set it on
    /// the platform instead (see [`ChannelConnectBuilder::lifetime_secs`]).
    ///
    /// ```
    /// use channel_connect::*;
    /// # let keys = || -> Result<KeyRing, KeyError> { Ok(KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?)) };
    ///
    /// let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", keys()?)
    ///     .skew_secs(5)
    ///     .build()?;
    /// assert_eq!(core.platform().skew_secs(), 5);
    ///
    /// let loose = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", keys()?)
    ///     .skew_secs(301)
    ///     .build();
    /// assert_eq!(loose.unwrap_err(), ConfigError::Skew);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn skew_secs(mut self, secs: u16) -> Self {
        self.skew = secs;
        self
    }

    /// Adds an integration.
    ///
    /// ```
    /// use channel_connect::*;
    /// # use time::OffsetDateTime;
    /// # let keys = KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?);
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// # let slack = Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    ///
    /// let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", keys)
    ///     .integration(Integration::new("slack", slack))
    ///     .build()?;
    /// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// assert!(core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32]))).is_ok());
    ///
    /// // A request naming an integration that was not added.
    /// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"msteams","subscriberId":"subscriber-123"}"#)?;
    /// let refused = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32]))).unwrap_err();
    /// assert!(matches!(refused, RequestError::IntegrationNotFound { ref identifier, .. } if identifier == "msteams"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn integration(mut self, integration: Integration) -> Self {
        self.integrations.push(integration);
        self
    }

    /// Adds an environment secret key for contextHash checks (several during rotation).
    ///
    /// ```
    /// use channel_connect::context_hash::context_hash;
    /// use channel_connect::*;
    /// # use time::OffsetDateTime;
    /// # let keys = || -> Result<KeyRing, KeyError> { Ok(KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?)) };
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// # let slack = Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    ///
    /// // Rotating: the new key and the old one both check contextHash.
    /// let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", keys()?)
    ///     .integration(Integration::new("slack", slack).with_context_hmac(true))
    ///     .environment_secret_key(Secret::new("sk_env_2026_9d41b7c03e5a"))
    ///     .environment_secret_key(Secret::new("sk_env_2025_4e0c2f8b61d7"))
    ///     .build()?;
    /// let context = serde_json::json!({"tenant": "org-acme"});
    /// let old_hash = context_hash(b"sk_env_2025_4e0c2f8b61d7", context.as_object().unwrap())?;
    /// let body = ConnectRequestBody::from_json(
    ///     format!(r#"{{"integrationIdentifier":"slack","context":{context},"contextHash":"{old_hash}"}}"#).as_bytes(),
    /// )?;
    /// assert!(core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32]))).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn environment_secret_key(mut self, key: Secret) -> Self {
        self.environment_secret_keys.push(key);
        self
    }

    /// Checks everything once.
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
    /// let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", keys()?)
    ///     .integration(Integration::new("slack", slack))
    ///     .build()?;
    /// assert_eq!(core.organization_id(), "6615c4b2e0f3a1b2c3d4e5f7");
    ///
    /// // A row with no organization id fails here, at load, not mid-flow.
    /// let refused = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "", keys()?).build();
    /// assert_eq!(refused.unwrap_err().to_string(), "organization id must be 1 to 255 bytes without control characters");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<ChannelConnect, ConfigError> {
        let environment = ConfigId::new(self.environment).ok_or(ConfigError::Id("environment id"))?;
        let organization = ConfigId::new(self.organization).ok_or(ConfigError::Id("organization id"))?;
        if !(1..=3600).contains(&self.lifetime) {
            return Err(ConfigError::Lifetime);
        }
        if self.skew > 300 {
            return Err(ConfigError::Skew);
        }
        // A short key makes contextHash forgeable by guessing the key.
        if self
            .environment_secret_keys
            .iter()
            .any(|k| k.expose().len() < MIN_ENVIRONMENT_SECRET_KEY_LEN)
        {
            return Err(ConfigError::EnvironmentSecretKey);
        }
        let mut integrations = self.integrations;
        for i in 0..integrations.len() {
            let integ = &integrations[i];
            let dup = integrations[..i].iter().any(|o| o.identifier == integ.identifier);
            if dup || crate::ids::IntegrationIdentifier::new(&integ.identifier).is_err() {
                return Err(ConfigError::Integration(integ.identifier.clone()));
            }
            if let IntegrationKind::Chat(p) = &integ.kind {
                check_provider_id(p.id())?;
                integrations[i].state_route = state::route_fields(
                    p.id(),
                    &integrations[i].identifier,
                    environment.as_str(),
                    organization.as_str(),
                );
            }
        }
        let platform = Platform {
            lifetime: self.lifetime,
            skew: self.skew,
            ..self.platform
        };
        Ok(ChannelConnect {
            environment,
            organization,
            platform,
            integrations,
            environment_secret_keys: self.environment_secret_keys,
        })
    }
}
