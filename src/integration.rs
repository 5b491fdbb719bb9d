//! [`Integration`]: one integration row of an environment, the provider
//! that serves it (or why none does), and whether it requires a
//! `contextHash`.

use std::sync::Arc;

use crate::provider::Provider;

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
    pub(crate) context_hmac: bool,
    /// The route fields every state of this integration starts its strings
    /// with, written when the configuration is built (see
    /// [`state::route_fields`]); empty before that and for a non-chat one.
    pub(crate) state_route: Vec<u8>,
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
