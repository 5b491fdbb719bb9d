//! [`IssuedUrl`]: an authorize URL as issued, with when its state expires
//! and the connection it is for (kept inline: issuing allocates only the URL).

use time::OffsetDateTime;

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
