//! [`ChannelConnect`]: one environment's configured core, and the issuing
//! half: request body in, authorize URL with a sealed state out. The
//! verifying half is in `verify`. Every input, the clock and randomness
//! included, is an argument.
//!
//! (Most of this file's length is the runnable examples in its doc comments;
//! the code, tests included, is about 460 lines.)

use std::sync::Arc;

use time::OffsetDateTime;

use crate::config::ConfigError;
use crate::context::Context;
use crate::context_hash;
use crate::ids::{ConfigId, ConnectionIdentifier};
use crate::keys::KeyRing;
use crate::params::{IssueParams, Platform};
use crate::pkce::PkceVerifier;
use crate::provider::{AuthorizeRequest, Provider, check_provider_id};
use crate::request::{
    ConnectRequest, ConnectRequestBody, ConnectionMode, LinkUserRequest, LinkUserRequestBody, RequestError,
    Scopes, WorkspaceRefusal,
};
use crate::secret::Secret;
use crate::state::{self, Purpose, SealParams, SealedState, StateClaims, binding_tag};

/// An authorize URL must be shorter than this (Microsoft: AADSTS90015).
pub const MAX_URL_LEN: usize = 1800;
/// Shortest environment secret key accepted for `contextHash`, in bytes.
pub const MIN_ENVIRONMENT_SECRET_KEY_LEN: usize = 16;

/// One integration of the environment.
///
/// ```
/// use channel_connect::*;
///
/// let redirect = RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?;
/// let slack = Slack::new(ClientId::new("1234567890.1234567890")?, Secret::new("slack-client-secret"), redirect.clone());
/// let teams = MsTeams::new(ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?, Secret::new("teams-client-secret"), redirect);
/// # let keys = KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?);
/// // What an environment's integration rows become.
/// let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", keys)
///     .integration(Integration::new("slack", slack))
///     .integration(Integration::new("msteams", teams))
///     .integration(Integration::not_chat("sendgrid"))
///     .build()?;
/// assert_eq!(core.provider("msteams").map(|p| p.display_name()), Some("MS Teams"));
///
/// // Only chat integrations connect.
/// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"sendgrid","subscriberId":"subscriber-123"}"#)?;
/// # let now = time::OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// let refused = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32]))).unwrap_err();
/// assert_eq!(refused.status(), 404);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Integration {
    pub(crate) identifier: String,
    pub(crate) kind: IntegrationKind,
    context_hmac: bool,
    /// The route fields every state of this integration starts its strings
    /// with, written when the configuration is built (see
    /// [`state::route_fields`]); empty before that and for a non-chat one.
    state_route: Vec<u8>,
}

#[derive(Clone, Debug)]
pub(crate) enum IntegrationKind {
    Chat(Arc<dyn Provider>),
    MissingClientId { provider: String },
    NotChat,
}

impl Integration {
    /// A chat integration served by `provider`.
    ///
    /// ```
    /// use channel_connect::*;
    /// # let keys = || -> Result<KeyRing, KeyError> { Ok(KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?)) };
    ///
    /// let teams = MsTeams::new(
    ///     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
    ///     Secret::new("teams-client-secret"),
    ///     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// );
    /// let integration = Integration::new("msteams", teams.clone());
    /// assert_eq!(integration.identifier(), "msteams");
    /// let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", keys()?)
    ///     .integration(integration)
    ///     .build()?;
    /// assert_eq!(core.provider("msteams").unwrap().id(), "msteams");
    ///
    /// // The identifier is what requests name: a blank one is refused at build.
    /// let blank = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", keys()?)
    ///     .integration(Integration::new(" ", teams))
    ///     .build();
    /// assert_eq!(blank.unwrap_err(), ConfigError::Integration(" ".into()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(identifier: impl Into<String>, provider: impl Provider + 'static) -> Self {
        Self::with_kind(identifier, IntegrationKind::Chat(Arc::new(provider)))
    }

    /// A chat integration whose credentials are not set yet: requests get
    /// Novu's 404 "{provider} integration missing required OAuth credentials (clientId)".
    ///
    /// ```
    /// use channel_connect::*;
    /// # use time::OffsetDateTime;
    /// # let keys = KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?);
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    ///
    /// // A Slack integration row whose client id was never filled in.
    /// let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", keys)
    ///     .integration(Integration::missing_client_id("slack", "Slack"))
    ///     .build()?;
    /// assert!(core.provider("slack").is_none());
    /// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// let refused = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32]))).unwrap_err();
    /// assert_eq!(
    ///     refused.to_json(),
    ///     serde_json::json!({"statusCode": 404, "message": "Slack integration missing required OAuth credentials (clientId)"})
    /// );
    ///
    /// // In Novu's order, a body that breaks a mode rule gets its 400 first.
    /// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack"}"#)?;
    /// let refused = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32]))).unwrap_err();
    /// assert_eq!(refused, RequestError::NeitherSubscriberNorContext);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn missing_client_id(identifier: impl Into<String>, provider_name: impl Into<String>) -> Self {
        Self::with_kind(
            identifier,
            IntegrationKind::MissingClientId {
                provider: provider_name.into(),
            },
        )
    }

    /// An integration of a non-chat provider (email, SMS): requests get
    /// "Integration not found", as in Novu.
    ///
    /// ```
    /// use channel_connect::*;
    /// # use time::OffsetDateTime;
    /// # let keys = KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?);
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    ///
    /// let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", keys)
    ///     .integration(Integration::not_chat("sendgrid"))
    ///     .build()?;
    /// assert!(core.provider("sendgrid").is_none());
    ///
    /// // Asked to connect, it answers like an integration that does not exist.
    /// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"sendgrid","subscriberId":"subscriber-123"}"#)?;
    /// let refused = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32]))).unwrap_err();
    /// assert_eq!(refused.to_string(), "Integration not found: sendgrid in environment 6615c4b2e0f3a1b2c3d4e5f6");
    /// assert_eq!(refused.status(), 404);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn not_chat(identifier: impl Into<String>) -> Self {
        Self::with_kind(identifier, IntegrationKind::NotChat)
    }

    fn with_kind(identifier: impl Into<String>, kind: IntegrationKind) -> Self {
        Integration {
            identifier: identifier.into(),
            kind,
            context_hmac: false,
            state_route: Vec::new(),
        }
    }

    /// Requires a `contextHash` made with the environment's secret key.
    ///
    /// ```
    /// use channel_connect::context_hash::context_hash;
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
    ///     .integration(Integration::new("slack", slack).with_context_hmac(true))
    ///     .environment_secret_key(Secret::new("sk_env_2f1c9a7e04b3d8c6"))
    ///     .build()?;
    /// // The customer's backend signs the context it lets the browser send.
    /// let context = serde_json::json!({"tenant": "org-acme"});
    /// let hash = context_hash(b"sk_env_2f1c9a7e04b3d8c6", context.as_object().unwrap())?;
    /// let body = ConnectRequestBody::from_json(
    ///     format!(r#"{{"integrationIdentifier":"slack","context":{context},"contextHash":"{hash}"}}"#).as_bytes(),
    /// )?;
    /// assert!(core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32]))).is_ok());
    ///
    /// // A context the browser changed no longer matches its hash.
    /// let tampered = ConnectRequestBody::from_json(
    ///     format!(r#"{{"integrationIdentifier":"slack","context":{{"tenant":"org-other"}},"contextHash":"{hash}"}}"#).as_bytes(),
    /// )?;
    /// let refused = core.connect_url(&tampered, &IssueParams::new(now, &Entropy([7; 32]))).unwrap_err();
    /// assert_eq!(refused, RequestError::ContextHashInvalid);
    /// assert_eq!(refused.to_string(), "Please provide a valid context HMAC hash");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_context_hmac(mut self, on: bool) -> Self {
        self.context_hmac = on;
        self
    }

    /// The identifier.
    ///
    /// ```
    /// use channel_connect::Integration;
    ///
    /// assert_eq!(Integration::not_chat("sendgrid").identifier(), "sendgrid");
    /// assert_ne!(Integration::missing_client_id("slack", "Slack").identifier(), "Slack");
    /// ```
    pub fn identifier(&self) -> &str {
        &self.identifier
    }
}

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
    ///
    /// // A short key would make contextHash guessable.
    /// let weak = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", keys()?)
    ///     .environment_secret_key(Secret::new("secret"))
    ///     .build();
    /// assert_eq!(weak.unwrap_err(), ConfigError::EnvironmentSecretKey);
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

/// An issued authorize URL. Serializes as
/// `{"url", "expiresAt", "state", "connectionIdentifier"}`.
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
/// let body = ConnectRequestBody::from_json(
///     br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123","connectionIdentifier":"slack-connection-abc123"}"#,
/// )?;
/// let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
/// let json = serde_json::to_value(&issued)?;
/// assert_eq!(json["expiresAt"], "2026-01-01T00:05:00Z");
/// assert_eq!(json["connectionIdentifier"], "slack-connection-abc123");
/// assert_eq!(json["state"], issued.state().unwrap());
/// // The API itself answers only the URL.
/// let response = ConnectResponse { url: issued.url.clone() };
/// assert_eq!(serde_json::to_value(&response)?, serde_json::json!({"url": issued.url}));
///
/// // A context too large for a URL Microsoft (and Slack) accept is refused at issue.
/// let notes = "x".repeat(1500);
/// let body = ConnectRequestBody::from_json(
///     format!(r#"{{"integrationIdentifier":"slack","context":{{"tenant":{{"id":"org-acme","data":{{"notes":"{notes}"}}}}}}}}"#).as_bytes(),
/// )?;
/// let refused = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32]))).unwrap_err();
/// assert!(matches!(refused, RequestError::UrlTooLong { .. }));
/// assert_eq!(refused.status(), 400);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedUrl {
    /// The provider URL to send the browser to.
    pub url: String,
    /// When its state stops opening.
    pub expires_at: OffsetDateTime,
    connection: Option<InlineId>,
}

impl IssuedUrl {
    pub(crate) fn new(url: String, expires_at: OffsetDateTime, connection: Option<&str>) -> Self {
        IssuedUrl {
            url,
            expires_at,
            connection: connection.and_then(InlineId::new),
        }
    }

    /// The `state` parameter of the URL (base64url, never percent-encoded).
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
    /// let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// let state = issued.state().expect("every issued URL carries one");
    /// assert!(issued.url.starts_with(&format!("https://slack.com/oauth/v2/authorize?state={state}&")));
    /// assert!(state.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    /// let opened = core.platform().open_state(state, &VerifyParams::at(now))?;
    /// assert_eq!(opened.subscriber_id(), Some("subscriber-123"));
    ///
    /// // Cut short on the way (a proxy truncating the URL): refused.
    /// let cut = core.platform().open_state(&state[..state.len() - 1], &VerifyParams::at(now));
    /// assert!(cut.is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn state(&self) -> Option<&str> {
        let query = self.url.split_once('?')?.1;
        query.split('&').find_map(|p| p.strip_prefix("state="))
    }

    /// The connection identifier the state carries: the request's, or the
    /// one generated for it (`chconn_...`). `None` for a link-user URL that
    /// names no connection.
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
    /// let issue = IssueParams::new(now, &Entropy([7; 32]));
    /// // No connectionIdentifier in the body: one is generated.
    /// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// let generated = core.connect_url(&body, &issue)?;
    /// let id = generated.connection_identifier().unwrap();
    /// assert!(id.starts_with("chconn_") && id.len() == 19, "{id}");
    /// // A user link that names no connection has none.
    /// let link = LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// assert_eq!(core.link_user_url(&link, &issue)?.connection_identifier(), None);
    ///
    /// // An identifier with a character outside its alphabet is refused (422).
    /// let body = ConnectRequestBody::from_json(
    ///     br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123","connectionIdentifier":"acme/slack"}"#,
    /// )?;
    /// let refused = core.connect_url(&body, &issue).unwrap_err();
    /// assert_eq!(refused, RequestError::Validation(ValidationError::ConnectionIdentifierInvalid));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connection_identifier(&self) -> Option<&str> {
        self.connection.as_ref().map(InlineId::as_str)
    }
}

impl serde::Serialize for IssuedUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("IssuedUrl", 4)?;
        st.serialize_field("url", &self.url)?;
        st.serialize_field("expiresAt", &crate::rfc3339::write(self.expires_at))?;
        st.serialize_field("state", &self.state())?;
        st.serialize_field("connectionIdentifier", &self.connection_identifier())?;
        st.end()
    }
}

/// A connection identifier (at most 100 bytes) kept inline, so issuing a
/// URL allocates only the URL.
#[derive(Clone, Copy, PartialEq, Eq)]
struct InlineId {
    buf: [u8; crate::ids::MAX_ID_CHARS],
    len: u8,
}

impl InlineId {
    fn new(s: &str) -> Option<Self> {
        let mut buf = [0; crate::ids::MAX_ID_CHARS];
        buf.get_mut(..s.len())?.copy_from_slice(s.as_bytes());
        Some(InlineId {
            buf,
            len: s.len() as u8,
        })
    }

    fn as_str(&self) -> &str {
        // Copied from a `&str` whole: always UTF-8.
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("")
    }
}

impl std::fmt::Debug for InlineId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

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
///
/// // Another environment, even with the same keys, does not act on this state.
/// let staging = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f8", "6615c4b2e0f3a1b2c3d4e5f7", keys()?)
///     .integration(Integration::new("slack", slack()?))
///     .build()?;
/// match staging.verify_callback(&params, &verify) {
///     Err(CallbackError::State(e)) => assert_eq!(e.kind(), StateErrorKind::WrongEnvironment),
///     other => panic!("{other:?}"),
/// }
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
        ChannelConnectBuilder {
            environment: environment_id.into(),
            organization: organization_id.into(),
            platform: platform.clone(),
            lifetime: platform.lifetime_secs(),
            skew: platform.skew_secs(),
            integrations: Vec::new(),
            environment_secret_keys: Vec::new(),
        }
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
    ///
    /// // Once key 1 is dropped, its states no longer open.
    /// let after = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(2), &key_2)?))
    ///     .integration(Integration::new("slack", slack()?))
    ///     .build()?;
    /// let refused = after.open_state(issued.state().unwrap(), &VerifyParams::at(now)).unwrap_err();
    /// assert_eq!(refused.kind(), StateErrorKind::UnknownKey);
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

    /// The integration lookup: unknown and non-chat integrations are 404
    /// "Integration not found"; one without a client id is found (its 404
    /// comes later, in Novu's order) with no provider.
    fn lookup(&self, identifier: &str) -> Result<(&Integration, Option<&dyn Provider>), RequestError> {
        match self.find(identifier).map(|i| (i, &i.kind)) {
            Some((i, IntegrationKind::Chat(p))) => Ok((i, Some(p.as_ref()))),
            Some((i, IntegrationKind::MissingClientId { .. })) => Ok((i, None)),
            _ => Err(RequestError::IntegrationNotFound {
                identifier: identifier.to_owned(),
                environment: self.environment.as_str().to_owned(),
            }),
        }
    }

    fn missing_client_id(integ: &Integration) -> RequestError {
        let provider = match &integ.kind {
            IntegrationKind::MissingClientId { provider } => provider.clone(),
            _ => String::new(),
        };
        RequestError::MissingClientId { provider }
    }

    /// Answers `POST /v1/integrations/channel-connections/oauth`: validates
    /// the body, seals a connect state, and writes the provider's URL.
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
    /// // Novu's example body.
    /// let body = ConnectRequestBody::from_json(
    ///     br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123","context":{"tenant":"org-acme"},"connectionMode":"shared"}"#,
    /// )?;
    /// let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// assert!(issued.url.starts_with("https://slack.com/oauth/v2/authorize?state="));
    /// assert!(issued.url.contains("&client_id=1234567890.1234567890&"));
    /// assert!(issued.url.ends_with("&scope=chat%3Awrite%2Cchat%3Awrite.public%2Cchannels%3Aread%2Cgroups%3Aread%2Cusers%3Aread%2Cusers%3Aread.email"));
    ///
    /// // Neither a subscriber nor a context: nobody to connect for.
    /// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack"}"#)?;
    /// let refused = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32]))).unwrap_err();
    /// assert_eq!(
    ///     refused.to_json(),
    ///     serde_json::json!({"statusCode": 400, "message": "Either subscriberId or context must be provided"})
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect_url(
        &self,
        body: &ConnectRequestBody,
        issue: &IssueParams<'_>,
    ) -> Result<IssuedUrl, RequestError> {
        // Novu's order: fields (422), integration (404), provider rules and
        // connection-mode rules (400), credentials (404), contextHash (400).
        let mut req = ConnectRequest::blank();
        req.check_fields(body)?;
        let (integ, provider) = self.lookup(req.integration.as_str())?;
        if let Some(p) = provider {
            p.check_connect(&req)?;
        }
        req.apply_mode_rules(body)?;
        let provider = provider.ok_or_else(|| Self::missing_client_id(integ))?;
        self.check_context_hash(integ, &req.context, req.context_hash)?;
        let workspace = restrict_workspace(provider, issue.workspace)?;
        let generated;
        let connection = match req.connection {
            Some(c) => c,
            None => {
                let mut seed = [0u8; 9];
                seed.copy_from_slice(&issue.entropy.0[16..25]);
                generated = ConnectionIdentifier::generate(&seed);
                generated
            }
        };
        let claims = StateClaims {
            route: &integ.state_route,
            purpose: Purpose::Connect,
            subscriber: req.subscriber.map(|s| s.as_str()),
            connection: Some(connection.as_str()),
            mode: req.mode,
            auto_link_user: req.auto_link_user,
            context: &req.context,
            workspace: workspace.as_deref(),
        };
        self.issue(provider, &claims, issue, req.scopes, None)
    }

    /// Answers `POST /v1/integrations/channel-endpoints/oauth`: a personal
    /// sign-in (Slack `user_scope`, Teams delegated sign-in with PKCE).
    ///
    /// When the host knows the connection the user is being linked to, it
    /// passes that connection's workspace in [`IssueParams::workspace`]: the
    /// Teams sign-in then happens in that tenant and the Slack sign-in is
    /// pointed at that team, and a token response naming another is refused.
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
    /// // Link subscriber-123's own Slack user to the connection of team T9TK3CUKW.
    /// let body = LinkUserRequestBody::from_json(
    ///     br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123","connectionIdentifier":"slack-connection-abc123"}"#,
    /// )?;
    /// let entropy = Entropy([7; 32]);
    /// let issued = core.link_user_url(&body, &IssueParams::new(now, &entropy).with_workspace("T9TK3CUKW"))?;
    /// assert!(issued.url.ends_with("&user_scope=identity.basic&team=T9TK3CUKW"));
    /// assert_eq!(issued.connection_identifier(), Some("slack-connection-abc123"));
    ///
    /// // A user link is always for a subscriber.
    /// let body = LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"slack","context":{"tenant":"org-acme"}}"#)?;
    /// let refused = core.link_user_url(&body, &IssueParams::new(now, &entropy)).unwrap_err();
    /// assert_eq!(refused, RequestError::Validation(ValidationError::SubscriberIdRequired));
    /// assert_eq!(refused.status(), 422);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn link_user_url(
        &self,
        body: &LinkUserRequestBody,
        issue: &IssueParams<'_>,
    ) -> Result<IssuedUrl, RequestError> {
        let req = LinkUserRequest::validate(body)?;
        let (integ, provider) = self.lookup(req.integration.as_str())?;
        let provider = provider.ok_or_else(|| Self::missing_client_id(integ))?;
        self.check_context_hash(integ, &req.context, req.context_hash)?;
        let workspace = restrict_workspace(provider, issue.workspace)?;
        let mode = if req.context.is_empty() {
            ConnectionMode::Subscriber
        } else {
            ConnectionMode::Shared
        };
        let claims = StateClaims {
            route: &integ.state_route,
            purpose: Purpose::LinkUser,
            subscriber: Some(req.subscriber.as_str()),
            connection: req.connection.as_ref().map(|c| c.as_str()),
            mode,
            auto_link_user: true,
            context: &req.context,
            workspace: workspace.as_deref(),
        };
        self.issue(provider, &claims, issue, None, req.user_scopes)
    }

    fn issue(
        &self,
        provider: &dyn Provider,
        claims: &StateClaims<'_>,
        issue: &IssueParams<'_>,
        scopes: Option<Scopes<'_>>,
        user_scopes: Option<Scopes<'_>>,
    ) -> Result<IssuedUrl, RequestError> {
        let issued_at =
            u64::try_from(issue.now.unix_timestamp()).map_err(|_| RequestError::ClockOutOfRange)?;
        let mut nonce = [0u8; state::NONCE_LEN];
        nonce.copy_from_slice(&issue.entropy.0[..state::NONCE_LEN]);
        let params = SealParams {
            issued_at,
            lifetime: self.platform.lifetime_secs(),
            nonce,
            binding: issue.binding.map(binding_tag),
        };
        let key = self.keys().active();
        let url = SealedState::with(|sealed| -> Result<String, RequestError> {
            // A state too large for its buffer could never fit in a URL either.
            state::seal(claims, &params, key, sealed)
                .map_err(|_| RequestError::UrlTooLong { length: MAX_URL_LEN })?;
            let pkce = provider
                .uses_pkce(claims.purpose)
                .then(|| PkceVerifier::derive(key, &nonce).challenge());
            let links_user =
                claims.purpose == Purpose::LinkUser || (claims.auto_link_user && claims.subscriber.is_some());
            let request = AuthorizeRequest {
                purpose: claims.purpose,
                state: sealed.as_str(),
                scopes,
                user_scopes,
                pkce_challenge: pkce.as_ref().map(|c| c.as_str()),
                workspace: claims.workspace,
                links_user,
            };
            let url = write_url(provider, &request)?;
            // A connect that continues with a proof sign-in (every Teams connect)
            // must leave room for that URL too.
            if let (Purpose::Connect, Some(n)) = (claims.purpose, provider.proof_workspace_len()) {
                check_proof_len(provider, &request, sealed.decoded_len(), n)?;
            }
            Ok(url)
        })?;
        Ok(IssuedUrl::new(
            url,
            expiry(issued_at, self.platform.lifetime_secs()),
            claims.connection,
        ))
    }

    fn check_context_hash(
        &self,
        integ: &Integration,
        context: &Context<'_>,
        presented: Option<&str>,
    ) -> Result<(), RequestError> {
        if !integ.context_hmac {
            return Ok(());
        }
        let Some(source) = context.source() else {
            return Err(RequestError::ContextRequiredForHmac);
        };
        let Some(presented) = presented.filter(|h| !h.is_empty()) else {
            return Err(RequestError::ContextHashRequired);
        };
        let keys: Vec<&[u8]> = self
            .environment_secret_keys
            .iter()
            .map(|k| k.expose().as_bytes())
            .collect();
        if context_hash::verify_context_hash(&keys, source, presented) {
            Ok(())
        } else {
            Err(RequestError::ContextHashInvalid)
        }
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

pub(crate) fn write_url(
    provider: &dyn Provider,
    request: &AuthorizeRequest<'_>,
) -> Result<String, RequestError> {
    let scope_len: usize = request.scopes.map_or(0, |s| s.iter().map(|x| x.len() + 1).sum());
    let mut url = String::with_capacity(384 + request.state.len() + 3 * scope_len);
    provider.authorize_url(request, &mut url);
    if url.len() >= MAX_URL_LEN {
        return Err(RequestError::UrlTooLong { length: url.len() });
    }
    Ok(url)
}

/// The proof state is the connect state with the workspace field added
/// (when it has none) and other flags, times and nonce. Asks the provider
/// how long its URL would be, with stand-ins of the right lengths.
fn check_proof_len(
    provider: &dyn Provider,
    connect: &AuthorizeRequest<'_>,
    decoded_len: usize,
    workspace_len: usize,
) -> Result<(), RequestError> {
    const STAND_IN_CHALLENGE: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    const STAND_IN: &str = match std::str::from_utf8(&[b'A'; state::MAX_STATE_CHARS]) {
        Ok(s) => s,
        Err(_) => panic!("ASCII"),
    };
    let stand_in = |n: usize| &STAND_IN[..n.min(STAND_IN.len())];
    let proof_len = match connect.workspace {
        Some(_) => decoded_len,
        None => decoded_len + 1 + workspace_len,
    };
    let request = AuthorizeRequest {
        purpose: Purpose::ConnectProof,
        state: stand_in((proof_len * 4).div_ceil(3)),
        scopes: None,
        user_scopes: None,
        pkce_challenge: Some(STAND_IN_CHALLENGE),
        workspace: Some(connect.workspace.unwrap_or(stand_in(workspace_len))),
        links_user: connect.links_user,
    };
    let length = provider.authorize_url_len(&request);
    if proof_len > state::MAX_STATE_BYTES || length >= MAX_URL_LEN {
        return Err(RequestError::UrlTooLong { length });
    }
    Ok(())
}

/// The host's expected workspace, as the provider restricts it, in the
/// state's charset.
fn restrict_workspace<'a>(
    provider: &'a dyn Provider,
    expected: Option<&'a str>,
) -> Result<Option<std::borrow::Cow<'a, str>>, RequestError> {
    let workspace = provider.restrict_workspace(expected)?;
    if workspace
        .as_deref()
        .is_some_and(|w| !state::is_workspace(w.as_bytes()))
    {
        return Err(RequestError::InvalidWorkspace(WorkspaceRefusal::OutsideCharset));
    }
    Ok(workspace)
}

pub(crate) fn expiry(issued_at: u64, lifetime: u16) -> OffsetDateTime {
    state::unix_to_datetime(issued_at.saturating_add(u64::from(lifetime)))
}
