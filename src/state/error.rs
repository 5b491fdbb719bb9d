//! Why a state was refused: one public message, a precise kind for logs.

use std::fmt;

/// Why a state was refused. Shown to users only as
/// "Invalid OAuth state parameter"; the kind is for logs.
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
/// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
/// let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
/// let state = issued.state().unwrap();
/// let open = |token: &str, at| core.platform().open_state(token, &VerifyParams::at(at)).map(|_| ()).map_err(|e| e.kind());
///
/// assert_eq!(open(state, now + Duration::seconds(299)), Ok(()));
/// assert_eq!(open(state, now + Duration::seconds(300)), Err(StateErrorKind::Expired)); // 5 minutes, exclusive
/// assert_eq!(open(state, now - Duration::seconds(31)), Err(StateErrorKind::NotYetValid)); // beyond the 30 s skew
///
/// // One character changed: the MAC no longer matches.
/// let mut forged = state.to_owned().into_bytes();
/// forged[20] = if forged[20] == b'A' { b'B' } else { b'A' };
/// assert_eq!(open(std::str::from_utf8(&forged)?, now), Err(StateErrorKind::BadMac));
/// assert_eq!(open("", now), Err(StateErrorKind::Missing));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StateErrorKind {
    /// No state, or an empty one.
    Missing,
    /// Longer than [`MAX_STATE_CHARS`](super::MAX_STATE_CHARS).
    Oversized,
    /// Not base64url, too short, or not laid out as the format says.
    Malformed,
    /// A version byte other than 1.
    UnknownVersion,
    /// A key id not in the ring.
    UnknownKey,
    /// The MAC does not match.
    BadMac,
    /// Now is at or past issued-at + lifetime.
    Expired,
    /// Issued further in the future than the allowed skew.
    NotYetValid,
    /// Issued for another provider than the one interpreting it.
    WrongProvider,
    /// Issued for another purpose than the one expected.
    WrongPurpose,
    /// Issued for an integration this service no longer has.
    UnknownIntegration,
    /// Issued for another environment.
    WrongEnvironment,
    /// Issued for another organization.
    WrongOrganization,
    /// Bound to a browser, and the callback presented no binding.
    BindingMissing,
    /// Bound to another browser.
    BindingMismatch,
}

/// A refused state: `Display` is Novu's message, [`StateError::kind`] the cause.
///
/// Answer the browser with the message alone, so a forger learns nothing;
/// log the kind.
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
/// // A state this service never issued.
/// let forged = "code=4724.demo-code&state=AQEBAAAAAGlVwAABLEBBQkNERUZHSElKS0xNTk8";
/// let err = core.verify_callback(&CallbackParams::parse(forged)?, &VerifyParams::at(now)).unwrap_err();
/// let CallbackError::State(state_error) = &err else { panic!("a state refusal") };
/// assert_eq!(state_error.to_string(), "Invalid OAuth state parameter");
/// assert_eq!(state_error.status(), 400);
/// assert_eq!(state_error.kind(), StateErrorKind::Malformed); // for the log line only
/// assert_eq!(err.to_json(), serde_json::json!({"statusCode": 400, "message": "Invalid OAuth state parameter"}));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Invalid OAuth state parameter")]
pub struct StateError {
    kind: StateErrorKind,
}

impl StateError {
    pub(crate) fn new(kind: StateErrorKind) -> Self {
        StateError { kind }
    }

    /// The precise cause, for logs.
    pub fn kind(&self) -> StateErrorKind {
        self.kind
    }

    /// HTTP 400.
    pub fn status(&self) -> u16 {
        400
    }
}

impl fmt::Debug for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StateError({:?})", self.kind)
    }
}

impl From<StateErrorKind> for StateError {
    fn from(kind: StateErrorKind) -> Self {
        StateError { kind }
    }
}
