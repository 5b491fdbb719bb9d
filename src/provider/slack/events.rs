//! Requests from Slack to the app: their signature
//! (<https://api.slack.com/authentication/verifying-requests-from-slack>:
//! [`verify_request`], [`sign`]) and the Events API payloads this crate acts on
//! (<https://api.slack.com/apis/events-api>: [`parse_event`]).
//!
//! Slack signs every request it sends (events, slash commands,
//! interactivity) with the app's *signing secret* (the app's settings, Basic
//! Information, App Credentials): the header `X-Slack-Signature` is `v0=`
//! and the lowercase hex of HMAC-SHA256 over `v0:{timestamp}:{raw body}`,
//! with the timestamp from `X-Slack-Request-Timestamp`. Check it on the raw
//! bytes first, and parse the body only when it holds: before that, the
//! body is anyone's.
//!
//! A host's Events API request URL, from request to answer:
//!
//! ```
//! use channel_connect::provider::slack::events::{self, SigningSecret, SlackEvent};
//! use time::OffsetDateTime;
//!
//! /// One POST to the request URL: the two headers (`None` when absent), the
//! /// raw body and the clock; the answer's status and text/plain body.
//! fn handle(
//!     secret: &SigningSecret,
//!     timestamp: Option<&str>,
//!     signature: Option<&str>,
//!     body: &[u8],
//!     now: OffsetDateTime,
//! ) -> (u16, String) {
//!     if let Err(_e) = events::verify_request(secret, timestamp, signature, body, now) {
//!         // Log `_e` (it never holds the secret or the body) and refuse.
//!         return (401, String::new());
//!     }
//!     match events::parse_event(body) {
//!         // Slack checks the request URL when it is saved: echo the challenge.
//!         Ok(SlackEvent::UrlVerification { challenge }) => (200, challenge),
//!         // The app was removed: delete the connection of this workspace.
//!         Ok(SlackEvent::AppUninstalled { installation }) => {
//!             let _workspace_id = installation.workspace_id(); // T9TK3CUKW, or E... when org-wide
//!             (200, String::new())
//!         }
//!         // These users' tokens stopped working (the bot's, when `bot` is not empty).
//!         Ok(SlackEvent::TokensRevoked { installation: _, oauth: _, bot: _ }) => (200, String::new()),
//!         // Any other event: acknowledged and ignored. A signed body this crate
//!         // cannot read (`Err`): logged, and acknowledged too, or Slack retries it.
//!         _ => (200, String::new()),
//!     }
//! }
//!
//! let secret = SigningSecret::new("8f742231b10e8888abcd99yyyzzz85a5")?; // from configuration
//! let body = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
//! let signature = events::sign(&secret, 1_767_225_600, body); // as Slack signs it
//! let now = OffsetDateTime::from_unix_timestamp(1_767_225_603)?;
//! let (status, answer) = handle(&secret, Some("1767225600"), Some(&signature), body, now);
//! assert_eq!((status, answer.as_str()), (200, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"));
//!
//! // Not signed with the secret, or replayed ten minutes later: refused before parsing.
//! let forged = format!("v0={}", "0".repeat(64));
//! assert_eq!(handle(&secret, Some("1767225600"), Some(&forged), body, now).0, 401);
//! let later = now + time::Duration::minutes(10);
//! assert_eq!(handle(&secret, Some("1767225600"), Some(&signature), body, later).0, 401);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Slack waits 3 seconds for the answer and retries otherwise (with
//! `X-Slack-Retry-Num`, the same body and a new timestamp and signature), so
//! answer first and act after, and make acting twice harmless.

use std::fmt;

use hmac::{KeyInit, Mac};
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::config::ConfigError;
use crate::encode::{hex_lower, nibble};
use crate::keys::HmacSha256;

/// The header that carries the request's Unix time in seconds.
pub const TIMESTAMP_HEADER: &str = "X-Slack-Request-Timestamp";
/// The header that carries the request's signature (`v0=` and 64 hex digits).
pub const SIGNATURE_HEADER: &str = "X-Slack-Signature";
/// How far a request's timestamp may be from `now`, in seconds, either way
/// (Slack's recommendation: five minutes). Exactly this far is accepted.
pub const REPLAY_WINDOW_SECS: i64 = 300;
/// The longest timestamp accepted, in digits: Unix seconds have 10 until
/// the year 2286, and 12 digits cannot overflow any integer this reads them
/// into.
pub const MAX_TIMESTAMP_DIGITS: usize = 12;
/// The largest event body [`parse_event`] reads: 1 MiB.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// A Slack app's signing secret: the HMAC-SHA256 key of
/// [`verify_request`] and [`sign`]. `Debug` never shows it, and it cannot
/// be read back: it only keys the MAC.
///
/// It must be non-empty and hold no white space or control character: a
/// trailing newline read from a file would make every request a mismatch.
/// (Slack's secrets are 32 hex digits; other values are not refused.)
///
/// ```
/// use channel_connect::ConfigError;
/// use channel_connect::provider::slack::events::SigningSecret;
///
/// let secret = SigningSecret::new("8f742231b10e8888abcd99yyyzzz85a5")?;
/// assert_eq!(format!("{secret:?}"), "SigningSecret([redacted])");
/// assert_eq!(SigningSecret::new("").unwrap_err(), ConfigError::SlackSigningSecret);
/// assert_eq!(SigningSecret::new("8f742231b10e8888abcd99yyyzzz85a5\n").unwrap_err(), ConfigError::SlackSigningSecret);
/// # Ok::<(), ConfigError>(())
/// ```
#[derive(Clone)]
pub struct SigningSecret {
    // The pre-keyed MAC: the key pads are hashed once, and the secret's
    // text is not kept.
    mac: HmacSha256,
}

impl SigningSecret {
    /// The app's signing secret, as its settings show it.
    pub fn new(secret: &str) -> Result<Self, ConfigError> {
        if secret.is_empty() || secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ConfigError::SlackSigningSecret);
        }
        let mac = <HmacSha256 as KeyInit>::new_from_slice(secret.as_bytes())
            .expect("HMAC accepts keys of any length");
        Ok(SigningSecret { mac })
    }

    /// The MAC over Slack's basestring `v0:{timestamp}:{body}`, not finalized.
    fn basestring_mac(&self, timestamp: &str, body: &[u8]) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(b"v0:");
        mac.update(timestamp.as_bytes());
        mac.update(b":");
        mac.update(body);
        mac
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret([redacted])")
    }
}

/// One of the two headers of a signed request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlackHeader {
    /// [`TIMESTAMP_HEADER`].
    Timestamp,
    /// [`SIGNATURE_HEADER`].
    Signature,
}

impl fmt::Display for SlackHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SlackHeader::Timestamp => TIMESTAMP_HEADER,
            SlackHeader::Signature => SIGNATURE_HEADER,
        })
    }
}

/// How a header present in a request is not of Slack's form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformation {
    /// The timestamp is not 1 to [`MAX_TIMESTAMP_DIGITS`] ASCII digits (a
    /// sign, a space or a fraction included).
    #[error("{TIMESTAMP_HEADER} is not 1 to {MAX_TIMESTAMP_DIGITS} ASCII digits")]
    Timestamp,
    /// The signature does not start with `v0=` (another scheme version).
    #[error("{SIGNATURE_HEADER} does not start with `v0=`")]
    SignatureVersion,
    /// After `v0=`, the signature is not exactly 64 hex digits.
    #[error("{SIGNATURE_HEADER} is not `v0=` and 64 hex digits")]
    SignatureHex,
}

/// Why a request is not Slack's, by cause. The text never holds the secret,
/// the body or the header values.
///
/// ```
/// use channel_connect::provider::slack::events::{self, Malformation, SignatureError, SigningSecret, SlackHeader};
/// use time::OffsetDateTime;
///
/// let secret = SigningSecret::new("8f742231b10e8888abcd99yyyzzz85a5")?;
/// let now = OffsetDateTime::from_unix_timestamp(1_531_420_618)?;
/// let err = events::verify_request(&secret, None, Some("v0=00"), b"", now).unwrap_err();
/// assert_eq!(err, SignatureError::Missing(SlackHeader::Timestamp));
/// assert_eq!(err.to_string(), "the request has no X-Slack-Request-Timestamp header");
///
/// let err = events::verify_request(&secret, Some("1531420618"), Some("v1=00"), b"", now).unwrap_err();
/// assert_eq!(err, SignatureError::Malformed(Malformation::SignatureVersion));
///
/// let err = events::verify_request(&secret, Some("1531420000"), Some(&"0".repeat(67)), b"", now).unwrap_err();
/// assert_eq!(err.to_string(), "X-Slack-Signature does not start with `v0=`");
///
/// let signed_late = events::sign(&secret, 1_531_420_000, b"");
/// let err = events::verify_request(&secret, Some("1531420000"), Some(&signed_late), b"", now).unwrap_err();
/// assert_eq!(err, SignatureError::Stale { skew_secs: 618 });
/// assert_eq!(err.to_string(), "the request timestamp is 618 seconds old; at most 300 are accepted either way");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// A header is absent, or present and empty.
    #[error("the request has no {0} header")]
    Missing(SlackHeader),
    /// A header is not of Slack's form.
    #[error(transparent)]
    Malformed(#[from] Malformation),
    /// The timestamp is more than [`REPLAY_WINDOW_SECS`] from `now`: a
    /// replay, or a clock far off.
    #[error(
        "the request timestamp is {} seconds {}; at most {REPLAY_WINDOW_SECS} are accepted either way",
        .skew_secs.unsigned_abs(),
        if *.skew_secs < 0 { "ahead" } else { "old" }
    )]
    Stale {
        /// `now` minus the timestamp: positive when the request is older
        /// than `now`, negative when it claims to come from the future.
        skew_secs: i64,
    },
    /// The signature is not the secret's over this timestamp and body
    /// (another secret, or a changed timestamp or body).
    #[error("the request signature does not match")]
    Mismatch,
}

/// Checks that a request comes from Slack: Slack's `v0` scheme over the
/// raw body bytes, exactly as received (before any parsing or decoding).
///
/// `timestamp` and `signature` are the values of [`TIMESTAMP_HEADER`] and
/// [`SIGNATURE_HEADER`] (`None` when absent); `now` is the host's clock. In
/// this order, it refuses:
///
/// 1. a header absent or empty ([`SignatureError::Missing`], the timestamp
///    first);
/// 2. a timestamp that is not 1 to [`MAX_TIMESTAMP_DIGITS`] ASCII digits (no
///    sign, no space) ([`Malformation::Timestamp`]);
/// 3. a signature not starting with `v0=` ([`Malformation::SignatureVersion`]),
///    or not followed by exactly 64 hex digits ([`Malformation::SignatureHex`]).
///    Slack writes lowercase; upper case is accepted too, since the digits
///    are decoded to the 32 bytes they stand for and those are compared;
/// 4. a timestamp more than [`REPLAY_WINDOW_SECS`] away from `now`, in either
///    direction ([`SignatureError::Stale`]);
/// 5. a signature other than HMAC-SHA256(secret, `v0:` || timestamp || `:`
///    || body), compared in constant time ([`SignatureError::Mismatch`]).
///
/// The timestamp is hashed as the header wrote it (leading zeros included).
///
/// Slack's documented example
/// (<https://api.slack.com/authentication/verifying-requests-from-slack>):
///
/// ```
/// use channel_connect::provider::slack::events::{self, SignatureError, SigningSecret};
/// use time::{Duration, OffsetDateTime};
///
/// let secret = SigningSecret::new("8f742231b10e8888abcd99yyyzzz85a5")?;
/// let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
/// let signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
/// let now = OffsetDateTime::from_unix_timestamp(1_531_420_618)?;
///
/// events::verify_request(&secret, Some("1531420618"), Some(signature), body, now)?;
///
/// // The same request six minutes later is a replay.
/// let later = now + Duration::minutes(6);
/// assert!(matches!(
///     events::verify_request(&secret, Some("1531420618"), Some(signature), body, later),
///     Err(SignatureError::Stale { skew_secs: 360 })
/// ));
/// // One byte of the body changed.
/// let mut forged = body.to_vec();
/// forged[6] ^= 1;
/// assert_eq!(
///     events::verify_request(&secret, Some("1531420618"), Some(signature), &forged, now),
///     Err(SignatureError::Mismatch)
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_request(
    secret: &SigningSecret,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<(), SignatureError> {
    let timestamp = present(timestamp, SlackHeader::Timestamp)?;
    let signature = present(signature, SlackHeader::Signature)?;
    let sent_at = parse_timestamp(timestamp)?;
    let presented = parse_signature(signature)?;
    let skew_secs = now.unix_timestamp().saturating_sub(sent_at);
    if skew_secs.unsigned_abs() > REPLAY_WINDOW_SECS.unsigned_abs() {
        return Err(SignatureError::Stale { skew_secs });
    }
    secret
        .basestring_mac(timestamp, body)
        .verify_slice(&presented)
        .map_err(|_| SignatureError::Mismatch)
}

/// The `X-Slack-Signature` value Slack would send for `body` at
/// `timestamp`: `v0=` and 64 lowercase hex digits. For tests and for a
/// stand-in that plays Slack; a real request's signature is Slack's.
///
/// (A negative `timestamp` signs `-...`, which [`verify_request`] refuses.)
///
/// ```
/// use channel_connect::provider::slack::events::{self, SigningSecret};
/// use time::OffsetDateTime;
///
/// let secret = SigningSecret::new("8f742231b10e8888abcd99yyyzzz85a5")?;
/// let body = br#"{"type":"url_verification","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#;
/// let signature = events::sign(&secret, 1_767_225_600, body);
/// assert!(signature.starts_with("v0=") && signature.len() == 67);
///
/// let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// assert!(events::verify_request(&secret, Some("1767225600"), Some(&signature), body, now).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn sign(secret: &SigningSecret, timestamp: i64, body: &[u8]) -> String {
    let tag = secret
        .basestring_mac(&timestamp.to_string(), body)
        .finalize()
        .into_bytes();
    format!("v0={}", hex_lower(&tag))
}

/// The header's value; absent and empty are both missing.
fn present(value: Option<&str>, header: SlackHeader) -> Result<&str, SignatureError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or(SignatureError::Missing(header))
}

/// Unix seconds from 1 to [`MAX_TIMESTAMP_DIGITS`] ASCII digits.
fn parse_timestamp(value: &str) -> Result<i64, Malformation> {
    if value.len() > MAX_TIMESTAMP_DIGITS || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Malformation::Timestamp);
    }
    // At most 12 digits: no overflow, and `parse` finds no sign to accept.
    value.parse().map_err(|_| Malformation::Timestamp)
}

/// The 32 bytes of `v0=` and 64 hex digits (either case).
fn parse_signature(value: &str) -> Result<[u8; 32], Malformation> {
    let hex = value.strip_prefix("v0=").ok_or(Malformation::SignatureVersion)?;
    let hex = hex.as_bytes();
    if hex.len() != 64 {
        return Err(Malformation::SignatureHex);
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let (hi, lo) = (nibble(pair[0]), nibble(pair[1]));
        *byte = (hi.ok_or(Malformation::SignatureHex)? << 4) | lo.ok_or(Malformation::SignatureHex)?;
    }
    Ok(out)
}

/// Where an event comes from: the envelope's `team_id`, `enterprise_id` and
/// `is_enterprise_install`.
///
/// Each is read from the envelope's top level and, when absent there (or
/// `null` or empty), from its first `authorizations` entry: Slack's
/// documented payload for an org-wide install
/// (<https://api.slack.com/enterprise/apps/reference>) has the enterprise id
/// and `is_enterprise_install` only there.
///
/// ```
/// use channel_connect::provider::slack::events::{self, SlackEvent};
///
/// let body = br#"{"token":"XXYYZZ","team_id":"T061EG9R6","api_app_id":"A0PNCHHK2","event":{"type":"app_uninstalled"},"type":"event_callback","event_id":"Ev0PV52K21","event_time":1234567890}"#;
/// let SlackEvent::AppUninstalled { installation } = events::parse_event(body)? else { panic!() };
/// assert_eq!(installation.team_id.as_deref(), Some("T061EG9R6"));
/// assert_eq!(installation.enterprise_id, None);
/// assert!(!installation.is_enterprise_install);
/// # Ok::<(), channel_connect::provider::slack::events::EventError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Installation {
    /// The workspace (`T...`), when sent.
    pub team_id: Option<String>,
    /// The Enterprise Grid organization (`E...`), when any.
    pub enterprise_id: Option<String>,
    /// True for an org-wide install; absent counts as false.
    pub is_enterprise_install: bool,
}

impl Installation {
    /// The workspace id this crate keys a Slack connection by
    /// ([`crate::provider::slack::oauth::install_records`], through
    /// [`crate::provider::slack::oauth::SlackInstall::workspace`]): the
    /// enterprise id of an org-wide install (whose token answer has no
    /// team), else the team id. `None` when that id is absent: an org-wide
    /// install without an enterprise id does not fall back to the team,
    /// which would name another connection.
    ///
    /// ```
    /// use channel_connect::provider::slack::events::{self, SlackEvent};
    ///
    /// // Slack's sample event for an org-wide install.
    /// let body = br#"{"token":"XXYYZZ","is_ext_shared_channel":false,"team_id":"T423567","api_app_id":"A0PNCHHK2","event":{"type":"app_uninstalled"},"type":"event_callback","event_id":"Ev0PV52K21","event_time":1234567890,"authorizations":[{"enterprise_id":"E324567","team_id":"T423567","user_id":"W43567","is_bot":false,"is_enterprise_install":true}]}"#;
    /// let SlackEvent::AppUninstalled { installation } = events::parse_event(body)? else { panic!() };
    /// assert_eq!(installation.workspace_id(), Some("E324567"));
    ///
    /// // A workspace install, on Enterprise Grid or not: the team.
    /// let body = br#"{"team_id":"T423567","enterprise_id":"E324567","event":{"type":"app_uninstalled"},"type":"event_callback"}"#;
    /// let SlackEvent::AppUninstalled { installation } = events::parse_event(body)? else { panic!() };
    /// assert_eq!(installation.workspace_id(), Some("T423567"));
    /// # Ok::<(), channel_connect::provider::slack::events::EventError>(())
    /// ```
    pub fn workspace_id(&self) -> Option<&str> {
        if self.is_enterprise_install {
            self.enterprise_id.as_deref()
        } else {
            self.team_id.as_deref()
        }
    }
}

/// An Events API request this crate recognizes
/// (<https://api.slack.com/apis/events-api>).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlackEvent {
    /// `{"type":"url_verification","challenge":...}`: Slack checks the
    /// request URL; answer 200 with the challenge
    /// (<https://api.slack.com/events/url_verification>). Its `token` (the
    /// deprecated verification token) is not read.
    UrlVerification {
        /// The value to answer.
        challenge: String,
    },
    /// `app_uninstalled` (<https://api.slack.com/events/app_uninstalled>):
    /// the app was removed and its tokens revoked.
    AppUninstalled {
        /// Where.
        installation: Installation,
    },
    /// `tokens_revoked` (<https://api.slack.com/events/tokens_revoked>):
    /// some of the app's tokens were revoked, named by the user ids they
    /// belong to.
    TokensRevoked {
        /// Where.
        installation: Installation,
        /// `event.tokens.oauth`: user ids whose user tokens were revoked
        /// (empty when absent).
        oauth: Vec<String>,
        /// `event.tokens.bot`: bot user ids whose bot tokens were revoked
        /// (empty when absent).
        bot: Vec<String>,
    },
    /// Anything else: `event.type` of another `event_callback` (`message`),
    /// or the envelope's `type` (`app_rate_limited`). Answer 200 and ignore
    /// it.
    Other {
        /// The type.
        kind: String,
    },
}

/// Why an event body is not one [`parse_event`] can read. The text never
/// echoes the body: only positions and field names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The body is larger than [`MAX_EVENT_BYTES`].
    #[error("the event body is larger than {MAX_EVENT_BYTES} bytes")]
    TooLarge,
    /// Not one JSON text (or nested deeper than the parser's limit of 128).
    #[error("the event body is not JSON (line {line}, column {column})")]
    NotJson {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
    },
    /// JSON, but not an object, or with a member of the wrong type (or one
    /// given twice).
    #[error("the event body has a member of the wrong type (line {line}, column {column})")]
    WrongType {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
    },
    /// A required member is absent, `null` or empty.
    #[error("the event body has no `{0}`")]
    MissingField(&'static str),
    /// A member read only for this event type has an unusable value
    /// (`event.tokens` not an object, a user list not a list of strings).
    #[error("the event body's `{0}` has the wrong type")]
    InvalidField(&'static str),
}

#[derive(Deserialize)]
struct RawEnvelope {
    #[serde(rename = "type")]
    kind: Option<String>,
    challenge: Option<String>,
    team_id: Option<String>,
    enterprise_id: Option<String>,
    is_enterprise_install: Option<bool>,
    authorizations: Option<Vec<RawAuthorization>>,
    event: Option<RawEvent>,
}

#[derive(Deserialize)]
struct RawAuthorization {
    team_id: Option<String>,
    enterprise_id: Option<String>,
    is_enterprise_install: Option<bool>,
}

#[derive(Deserialize)]
struct RawEvent {
    #[serde(rename = "type")]
    kind: Option<String>,
    // Read only for `tokens_revoked`: another event's `tokens`, whatever its
    // shape, must not refuse that event.
    tokens: Option<Value>,
}

/// Parses an Events API body, **after** [`verify_request`] accepted it.
///
/// The body is a JSON object whose `type` is `url_verification` (then
/// `challenge` is required), `event_callback` (then `event` and
/// `event.type` are), or anything else ([`SlackEvent::Other`]). Of an
/// `event_callback`, `app_uninstalled` and `tokens_revoked` (which requires
/// `event.tokens`) are read; every other event is [`SlackEvent::Other`].
/// Unknown members are ignored; members of the envelope this reads must
/// have their documented JSON types.
///
/// ```
/// use channel_connect::provider::slack::events::{self, EventError, SlackEvent};
///
/// // https://api.slack.com/events/tokens_revoked
/// let body = br#"{"token":"XXYYZZ","team_id":"T061EG9R6","api_app_id":"A0PNCHHK2","event":{"type":"tokens_revoked","tokens":{"oauth":["U061F7AUR"],"bot":["U0KRQLJ9H"]}},"type":"event_callback","event_id":"Ev0PV52K21","event_time":1234567890}"#;
/// let SlackEvent::TokensRevoked { installation, oauth, bot } = events::parse_event(body)? else { panic!() };
/// assert_eq!(installation.workspace_id(), Some("T061EG9R6"));
/// assert_eq!((oauth, bot), (vec!["U061F7AUR".to_owned()], vec!["U0KRQLJ9H".to_owned()]));
///
/// let challenge = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
/// assert_eq!(
///     events::parse_event(challenge)?,
///     SlackEvent::UrlVerification { challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P".into() }
/// );
///
/// assert_eq!(events::parse_event(br#"{"type":"url_verification"}"#), Err(EventError::MissingField("challenge")));
/// assert!(matches!(events::parse_event(b"token=xyzz0WbapA4vBCDEFasx0q6G"), Err(EventError::NotJson { .. })));
/// # Ok::<(), EventError>(())
/// ```
pub fn parse_event(body: &[u8]) -> Result<SlackEvent, EventError> {
    if body.len() > MAX_EVENT_BYTES {
        return Err(EventError::TooLarge);
    }
    let raw: RawEnvelope = serde_json::from_slice(body).map_err(json_error)?;
    let RawEnvelope {
        kind,
        challenge,
        team_id,
        enterprise_id,
        is_enterprise_install,
        authorizations,
        event,
    } = raw;
    let kind = required(kind, "type")?;
    match kind.as_str() {
        "url_verification" => Ok(SlackEvent::UrlVerification {
            challenge: required(challenge, "challenge")?,
        }),
        "event_callback" => {
            let first = authorizations.and_then(|a| a.into_iter().next());
            let installation = installation(team_id, enterprise_id, is_enterprise_install, first);
            callback(event.ok_or(EventError::MissingField("event"))?, installation)
        }
        _ => Ok(SlackEvent::Other { kind }),
    }
}

fn callback(event: RawEvent, installation: Installation) -> Result<SlackEvent, EventError> {
    let kind = required(event.kind, "event.type")?;
    match kind.as_str() {
        "app_uninstalled" => Ok(SlackEvent::AppUninstalled { installation }),
        "tokens_revoked" => {
            let tokens = match event.tokens {
                Some(Value::Object(tokens)) => tokens,
                None => return Err(EventError::MissingField("event.tokens")),
                Some(_) => return Err(EventError::InvalidField("event.tokens")),
            };
            Ok(SlackEvent::TokensRevoked {
                installation,
                oauth: user_ids(tokens.get("oauth"), "event.tokens.oauth")?,
                bot: user_ids(tokens.get("bot"), "event.tokens.bot")?,
            })
        }
        _ => Ok(SlackEvent::Other { kind }),
    }
}

/// The envelope's fields, each falling back to the first authorization's.
fn installation(
    team_id: Option<String>,
    enterprise_id: Option<String>,
    is_enterprise_install: Option<bool>,
    first: Option<RawAuthorization>,
) -> Installation {
    let first = first.unwrap_or(RawAuthorization {
        team_id: None,
        enterprise_id: None,
        is_enterprise_install: None,
    });
    Installation {
        team_id: non_empty(team_id).or(non_empty(first.team_id)),
        enterprise_id: non_empty(enterprise_id).or(non_empty(first.enterprise_id)),
        is_enterprise_install: is_enterprise_install
            .or(first.is_enterprise_install)
            .unwrap_or(false),
    }
}

/// A list of user ids: absent or `null` is empty; anything but an array of
/// strings is refused.
fn user_ids(value: Option<&Value>, name: &'static str) -> Result<Vec<String>, EventError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or(EventError::InvalidField(name))
            })
            .collect(),
        Some(_) => Err(EventError::InvalidField(name)),
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

fn required(value: Option<String>, name: &'static str) -> Result<String, EventError> {
    non_empty(value).ok_or(EventError::MissingField(name))
}

/// Only the position is kept: serde's message can quote the body.
fn json_error(e: serde_json::Error) -> EventError {
    let (line, column) = (e.line(), e.column());
    match e.classify() {
        serde_json::error::Category::Data => EventError::WrongType { line, column },
        _ => EventError::NotJson { line, column },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const DOC_TIMESTAMP: &str = "1531420618";
    const DOC_BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const DOC_SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn secret() -> SigningSecret {
        SigningSecret::new(DOC_SECRET).unwrap()
    }

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(secs).unwrap()
    }

    fn doc_now() -> OffsetDateTime {
        at(1_531_420_618)
    }

    fn verify(
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), SignatureError> {
        verify_request(&secret(), timestamp, signature, body, now)
    }

    fn doc(timestamp: &str, signature: &str) -> Result<(), SignatureError> {
        verify(Some(timestamp), Some(signature), DOC_BODY, doc_now())
    }

    #[test]
    fn slacks_documented_example() {
        assert_eq!(sign(&secret(), 1_531_420_618, DOC_BODY), DOC_SIGNATURE);
        assert_eq!(doc(DOC_TIMESTAMP, DOC_SIGNATURE), Ok(()));
    }

    #[test]
    fn upper_case_hex_is_the_same_signature() {
        let upper = format!("v0={}", DOC_SIGNATURE[3..].to_ascii_uppercase());
        assert_eq!(doc(DOC_TIMESTAMP, &upper), Ok(()));
        // The prefix is not case-folded.
        let prefix = format!("V0={}", &DOC_SIGNATURE[3..]);
        assert_eq!(
            doc(DOC_TIMESTAMP, &prefix),
            Err(Malformation::SignatureVersion.into())
        );
    }

    #[test]
    fn every_bit_of_the_body_counts() {
        for i in [0, DOC_BODY.len() / 2, DOC_BODY.len() - 1] {
            for bit in 0..8 {
                let mut body = DOC_BODY.to_vec();
                body[i] ^= 1 << bit;
                assert_eq!(
                    verify(Some(DOC_TIMESTAMP), Some(DOC_SIGNATURE), &body, doc_now()),
                    Err(SignatureError::Mismatch),
                    "byte {i} bit {bit}"
                );
            }
        }
        let mut longer = DOC_BODY.to_vec();
        longer.push(b'&');
        assert_eq!(
            verify(Some(DOC_TIMESTAMP), Some(DOC_SIGNATURE), &longer, doc_now()),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(DOC_TIMESTAMP), Some(DOC_SIGNATURE), b"", doc_now()),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_changed_timestamp_does_not_match() {
        assert_eq!(doc("1531420619", DOC_SIGNATURE), Err(SignatureError::Mismatch));
        // The same number written otherwise is another basestring.
        assert_eq!(doc("01531420618", DOC_SIGNATURE), Err(SignatureError::Mismatch));
    }

    #[test]
    fn another_secret_does_not_match() {
        for other in [
            "8f742231b10e8888abcd99yyyzzz85a6",
            "8f742231b10e8888abcd99yyyzzz85a",
            "x",
        ] {
            let other = SigningSecret::new(other).unwrap();
            assert_eq!(
                verify_request(
                    &other,
                    Some(DOC_TIMESTAMP),
                    Some(DOC_SIGNATURE),
                    DOC_BODY,
                    doc_now()
                ),
                Err(SignatureError::Mismatch)
            );
        }
    }

    #[test]
    fn a_changed_signature_does_not_match() {
        let mut flipped = DOC_SIGNATURE.to_owned().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'3' { b'4' } else { b'3' };
        assert_eq!(
            doc(DOC_TIMESTAMP, std::str::from_utf8(&flipped).unwrap()),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            doc(DOC_TIMESTAMP, &format!("v0={}", "0".repeat(64))),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn the_window_is_300_seconds_either_way() {
        let ts = 1_531_420_618;
        let sig = |t: i64| sign(&secret(), t, DOC_BODY);
        let check = |t: i64, now: i64| verify(Some(&t.to_string()), Some(&sig(t)), DOC_BODY, at(now));
        assert_eq!(check(ts, ts + 300), Ok(()));
        assert_eq!(check(ts, ts - 300), Ok(()));
        assert_eq!(check(ts, ts + 301), Err(SignatureError::Stale { skew_secs: 301 }));
        assert_eq!(
            check(ts, ts - 301),
            Err(SignatureError::Stale { skew_secs: -301 })
        );
        assert_eq!(
            check(ts, ts - 301).unwrap_err().to_string(),
            "the request timestamp is 301 seconds ahead; at most 300 are accepted either way"
        );
        // Far off, both ways, without overflow.
        assert_eq!(check(0, ts), Err(SignatureError::Stale { skew_secs: ts }));
        assert!(matches!(
            verify(Some("999999999999"), Some(DOC_SIGNATURE), DOC_BODY, at(ts)),
            Err(SignatureError::Stale { .. })
        ));
        // Staleness is checked before the MAC: a stale forgery is stale.
        assert_eq!(
            verify(Some(DOC_TIMESTAMP), Some(DOC_SIGNATURE), b"forged", at(ts + 301)),
            Err(SignatureError::Stale { skew_secs: 301 })
        );
    }

    #[test]
    fn missing_headers() {
        use SlackHeader::*;
        let missing = |h| Err(SignatureError::Missing(h));
        assert_eq!(
            verify(None, Some(DOC_SIGNATURE), DOC_BODY, doc_now()),
            missing(Timestamp)
        );
        assert_eq!(
            verify(Some(""), Some(DOC_SIGNATURE), DOC_BODY, doc_now()),
            missing(Timestamp)
        );
        assert_eq!(
            verify(Some(DOC_TIMESTAMP), None, DOC_BODY, doc_now()),
            missing(Signature)
        );
        assert_eq!(
            verify(Some(DOC_TIMESTAMP), Some(""), DOC_BODY, doc_now()),
            missing(Signature)
        );
        assert_eq!(verify(None, None, DOC_BODY, doc_now()), missing(Timestamp));
        assert_eq!(
            SignatureError::Missing(Signature).to_string(),
            "the request has no X-Slack-Signature header"
        );
    }

    #[test]
    fn malformed_timestamps() {
        let thirty_digits = "153142061815314206181531420618";
        for bad in [
            "+1531420618",
            "-1531420618",
            " 1531420618",
            "1531420618 ",
            "1531420618.5",
            "1e9",
            "０１",
            "1234567890123",
            thirty_digits,
        ] {
            assert_eq!(
                doc(bad, DOC_SIGNATURE),
                Err(Malformation::Timestamp.into()),
                "{bad:?}"
            );
        }
        // Twelve digits parse (and are far in the future).
        assert!(matches!(
            doc("000000000001", DOC_SIGNATURE),
            Err(SignatureError::Stale { .. })
        ));
    }

    #[test]
    fn malformed_signatures() {
        let hex = &DOC_SIGNATURE[3..];
        for (bad, why) in [
            (format!("v1={hex}"), Malformation::SignatureVersion),
            (hex.to_owned(), Malformation::SignatureVersion),
            (format!("v0:{hex}"), Malformation::SignatureVersion),
            (format!(" v0={hex}"), Malformation::SignatureVersion),
            (format!("v0={}", &hex[..63]), Malformation::SignatureHex),
            (format!("v0={}", &hex[..32]), Malformation::SignatureHex),
            ("v0=".to_owned(), Malformation::SignatureHex),
            (format!("v0={hex}0"), Malformation::SignatureHex),
            (format!("v0={hex} "), Malformation::SignatureHex),
            (format!("v0={}g", &hex[..63]), Malformation::SignatureHex),
            (format!("v0=zz{}", &hex[2..]), Malformation::SignatureHex),
            (format!("v0={}é", &hex[..62]), Malformation::SignatureHex),
            (format!("v0=0x{}", &hex[2..]), Malformation::SignatureHex),
        ] {
            assert_eq!(doc(DOC_TIMESTAMP, &bad), Err(why.into()), "{bad:?}");
        }
    }

    #[test]
    fn errors_never_show_the_secret_or_the_body() {
        let cases = [
            verify(None, Some(DOC_SIGNATURE), DOC_BODY, doc_now()),
            doc("x", DOC_SIGNATURE),
            doc(DOC_TIMESTAMP, "v1=abc"),
            doc(DOC_TIMESTAMP, "v0=abc"),
            verify(Some(DOC_TIMESTAMP), Some(DOC_SIGNATURE), DOC_BODY, at(0)),
            verify(Some(DOC_TIMESTAMP), Some(DOC_SIGNATURE), b"x", doc_now()),
        ];
        for err in cases.into_iter().map(Result::unwrap_err) {
            for text in [err.to_string(), format!("{err:?}")] {
                assert!(
                    !text.contains(DOC_SECRET) && !text.contains("token=") && !text.contains("a2114d57"),
                    "{text}"
                );
            }
        }
        assert!(!format!("{:?}", secret()).contains("8f74"));
    }

    #[test]
    fn secrets_that_would_never_match_are_refused() {
        for bad in [
            "",
            " ",
            "8f742231b10e8888abcd99yyyzzz85a5\n",
            " 8f742231",
            "8f74\t2231",
            "8f74\u{7f}",
        ] {
            assert_eq!(
                SigningSecret::new(bad).unwrap_err(),
                ConfigError::SlackSigningSecret,
                "{bad:?}"
            );
        }
    }

    fn event(body: &str) -> Result<SlackEvent, EventError> {
        parse_event(body.as_bytes())
    }

    fn team(id: &str) -> Installation {
        Installation {
            team_id: Some(id.to_owned()),
            ..Installation::default()
        }
    }

    #[test]
    fn url_verification() {
        // https://api.slack.com/events/url_verification
        let body = r#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
        assert_eq!(
            event(body),
            Ok(SlackEvent::UrlVerification {
                challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P".into()
            })
        );
        let missing = Err(EventError::MissingField("challenge"));
        assert_eq!(event(r#"{"type":"url_verification","token":"x"}"#), missing);
        assert_eq!(event(r#"{"type":"url_verification","challenge":null}"#), missing);
        assert_eq!(event(r#"{"type":"url_verification","challenge":""}"#), missing);
        assert!(matches!(
            event(r#"{"type":"url_verification","challenge":42}"#),
            Err(EventError::WrongType { .. })
        ));
    }

    #[test]
    fn app_uninstalled() {
        // https://api.slack.com/events/app_uninstalled
        let body = r#"{"token":"XXYYZZ","team_id":"T061EG9R6","api_app_id":"A0PNCHHK2","event":{"type":"app_uninstalled"},"type":"event_callback","event_id":"Ev0PV52K21","event_time":1234567890}"#;
        assert_eq!(
            event(body),
            Ok(SlackEvent::AppUninstalled {
                installation: team("T061EG9R6")
            })
        );
    }

    #[test]
    fn tokens_revoked() {
        // https://api.slack.com/events/tokens_revoked
        let body = r#"{"token":"XXYYZZ","team_id":"T061EG9R6","api_app_id":"A0PNCHHK2","event":{"type":"tokens_revoked","tokens":{"oauth":["UXXXXXXXX"],"bot":["UXXXXXXXX"]}},"type":"event_callback","event_id":"Ev0PV52K21","event_time":1234567890}"#;
        assert_eq!(
            event(body),
            Ok(SlackEvent::TokensRevoked {
                installation: team("T061EG9R6"),
                oauth: vec!["UXXXXXXXX".into()],
                bot: vec!["UXXXXXXXX".into()],
            })
        );
        // Only bot tokens revoked: `oauth` absent, or null.
        for tokens in [
            r#"{"bot":["U0KRQLJ9H"]}"#,
            r#"{"oauth":null,"bot":["U0KRQLJ9H"]}"#,
        ] {
            let body = format!(
                r#"{{"team_id":"T061EG9R6","event":{{"type":"tokens_revoked","tokens":{tokens}}},"type":"event_callback"}}"#
            );
            assert_eq!(
                event(&body),
                Ok(SlackEvent::TokensRevoked {
                    installation: team("T061EG9R6"),
                    oauth: vec![],
                    bot: vec!["U0KRQLJ9H".into()],
                })
            );
        }
    }

    #[test]
    fn tokens_revoked_refusals() {
        let with = |tokens: &str| {
            event(&format!(
                r#"{{"team_id":"T1","event":{{"type":"tokens_revoked"{tokens}}},"type":"event_callback"}}"#
            ))
        };
        assert_eq!(with(""), Err(EventError::MissingField("event.tokens")));
        assert_eq!(
            with(r#","tokens":null"#),
            Err(EventError::MissingField("event.tokens"))
        );
        assert_eq!(
            with(r#","tokens":["U1"]"#),
            Err(EventError::InvalidField("event.tokens"))
        );
        assert_eq!(
            with(r#","tokens":{"oauth":"U1"}"#),
            Err(EventError::InvalidField("event.tokens.oauth"))
        );
        assert_eq!(
            with(r#","tokens":{"bot":[1]}"#),
            Err(EventError::InvalidField("event.tokens.bot"))
        );
        assert_eq!(
            with(r#","tokens":{"bot":[null]}"#),
            Err(EventError::InvalidField("event.tokens.bot"))
        );
    }

    #[test]
    fn other_events_are_named_and_tolerated() {
        let message = r#"{"token":"XXYYZZ","team_id":"T061EG9R6","api_app_id":"A0PNCHHK2","event":{"type":"message","channel":"C2147483705","user":"U2147483697","text":"Hello world","ts":"1355517523.000005","tokens":"not ours"},"type":"event_callback","event_id":"Ev0PV52K21","event_time":1234567890}"#;
        assert_eq!(
            event(message),
            Ok(SlackEvent::Other {
                kind: "message".into()
            })
        );
        let rate_limited = r#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","type":"app_rate_limited","team_id":"T123456","minute_rate_limited":1518467820,"api_app_id":"A123456"}"#;
        assert_eq!(
            event(rate_limited),
            Ok(SlackEvent::Other {
                kind: "app_rate_limited".into()
            })
        );
        assert_eq!(
            event(r#"{"type":"block_actions"}"#),
            Ok(SlackEvent::Other {
                kind: "block_actions".into()
            })
        );
    }

    #[test]
    fn installations_of_org_wide_apps() {
        // Slack's sample (https://api.slack.com/enterprise/apps/reference):
        // the org-wide fields only in `authorizations`.
        let body = r#"{"token":"XXYYZZ","is_ext_shared_channel":false,"team_id":"T423567","api_app_id":"AXXXXXXXXX","event":{"type":"app_uninstalled"},"type":"event_callback","event_id":"EvXXXXXXXX","event_time":1234567890,"authorizations":[{"enterprise_id":"E324567","team_id":"T423567","user_id":"W43567","is_bot":false,"is_enterprise_install":true}]}"#;
        let expected = Installation {
            team_id: Some("T423567".into()),
            enterprise_id: Some("E324567".into()),
            is_enterprise_install: true,
        };
        assert_eq!(
            event(body),
            Ok(SlackEvent::AppUninstalled {
                installation: expected.clone()
            })
        );
        assert_eq!(expected.workspace_id(), Some("E324567"));

        // Top-level fields win over the authorization's.
        let body = r#"{"team_id":"T1","enterprise_id":"E1","is_enterprise_install":false,"event":{"type":"app_uninstalled"},"type":"event_callback","authorizations":[{"enterprise_id":"E2","team_id":"T2","is_enterprise_install":true}]}"#;
        let Ok(SlackEvent::AppUninstalled { installation }) = event(body) else {
            panic!()
        };
        assert_eq!(installation.workspace_id(), Some("T1"));

        // An org-wide install without an enterprise id names nothing.
        let body = r#"{"team_id":"T1","is_enterprise_install":true,"event":{"type":"app_uninstalled"},"type":"event_callback","authorizations":[]}"#;
        let Ok(SlackEvent::AppUninstalled { installation }) = event(body) else {
            panic!()
        };
        assert_eq!(installation.workspace_id(), None);

        // Nothing at all; empty strings count as absent.
        let body = r#"{"team_id":"","event":{"type":"app_uninstalled"},"type":"event_callback"}"#;
        assert_eq!(
            event(body),
            Ok(SlackEvent::AppUninstalled {
                installation: Installation::default()
            })
        );
        assert_eq!(Installation::default().workspace_id(), None);
    }

    /// `workspace_id` names what `install_records` stores for the same install.
    #[test]
    fn workspace_id_matches_the_stored_connection() {
        use crate::http::HttpResponse;
        use crate::provider::slack::oauth;
        let cases = [
            (
                r#""team":{"id":"T9TK3CUKW"},"enterprise":null,"is_enterprise_install":false"#,
                r#""team_id":"T9TK3CUKW""#,
            ),
            (
                r#""team":{"id":"T9TK3CUKW"},"enterprise":{"id":"E0KF4RQ3T"},"is_enterprise_install":false"#,
                r#""team_id":"T9TK3CUKW","enterprise_id":"E0KF4RQ3T""#,
            ),
            (
                r#""team":null,"enterprise":{"id":"E0KF4RQ3T"},"is_enterprise_install":true"#,
                r#""team_id":"T9TK3CUKW","authorizations":[{"enterprise_id":"E0KF4RQ3T","team_id":"T9TK3CUKW","is_enterprise_install":true}]"#,
            ),
        ];
        for (answer, envelope) in cases {
            let answer = format!(
                r#"{{"ok":true,"app_id":"A1","access_token":"xoxb-1","token_type":"bot","bot_user_id":"U1",{answer}}}"#
            );
            let install = oauth::parse_install(&HttpResponse::new(200, answer.as_bytes())).unwrap();
            let stored = install.workspace().map(|w| w.id.as_str());
            let body =
                format!(r#"{{{envelope},"event":{{"type":"app_uninstalled"}},"type":"event_callback"}}"#);
            let Ok(SlackEvent::AppUninstalled { installation }) = event(&body) else {
                panic!("{body}")
            };
            assert_eq!(installation.workspace_id(), stored, "{answer}");
        }
    }

    #[test]
    fn required_members() {
        assert_eq!(event("{}"), Err(EventError::MissingField("type")));
        assert_eq!(event(r#"{"type":null}"#), Err(EventError::MissingField("type")));
        assert_eq!(event(r#"{"type":""}"#), Err(EventError::MissingField("type")));
        assert_eq!(
            event(r#"{"type":"event_callback"}"#),
            Err(EventError::MissingField("event"))
        );
        assert_eq!(
            event(r#"{"type":"event_callback","event":{}}"#),
            Err(EventError::MissingField("event.type"))
        );
    }

    #[test]
    fn hostile_bodies() {
        let not_json = |b: &[u8]| matches!(parse_event(b), Err(EventError::NotJson { .. }));
        let wrong_type = |b: &str| matches!(event(b), Err(EventError::WrongType { .. }));
        assert!(not_json(b""));
        assert!(not_json(b"token=abc&type=event_callback"));
        assert!(not_json(
            br#"{"type":"url_verification","challenge":"x"} trailing"#
        ));
        assert!(not_json(b"{\"type\":\"\xff\"}"));
        assert!(not_json(br#"{"type":"event_callback""#));
        let deep = format!(
            r#"{{"type":"event_callback","x":{}{}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        // A member nobody reads is skipped without recursion, however deep.
        assert_eq!(
            parse_event(deep.as_bytes()),
            Err(EventError::MissingField("event"))
        );
        let deep_ignored = format!(
            r#"{{"type":"event_callback","team_id":"T1","event":{{"type":"app_uninstalled","x":{}{}}}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(
            parse_event(deep_ignored.as_bytes()),
            Ok(SlackEvent::AppUninstalled {
                installation: team("T1")
            })
        );
        // A value that is built stops at the parser's depth limit.
        let deep_tokens = format!(
            r#"{{"type":"event_callback","event":{{"type":"tokens_revoked","tokens":{}}}}}"#,
            "{\"a\":".repeat(10_000)
        );
        assert!(not_json(deep_tokens.as_bytes()));

        assert!(wrong_type("[]"));
        assert!(wrong_type(r#""event_callback""#));
        assert!(wrong_type(r#"{"type":5}"#));
        assert!(wrong_type(r#"{"type":["event_callback"]}"#));
        assert!(wrong_type(
            r#"{"type":"event_callback","type":"url_verification","challenge":"x"}"#
        ));
        assert!(wrong_type(
            r#"{"type":"event_callback","event":"app_uninstalled"}"#
        ));
        assert!(wrong_type(r#"{"type":"event_callback","event":{"type":7}}"#));
        assert!(wrong_type(
            r#"{"type":"event_callback","team_id":7,"event":{"type":"app_uninstalled"}}"#
        ));
        assert!(wrong_type(
            r#"{"type":"event_callback","is_enterprise_install":"true","event":{"type":"app_uninstalled"}}"#
        ));
        assert!(wrong_type(
            r#"{"type":"event_callback","authorizations":{},"event":{"type":"app_uninstalled"}}"#
        ));

        let mut huge = br#"{"type":"url_verification","challenge":""#.to_vec();
        huge.resize(MAX_EVENT_BYTES + 1, b'a');
        assert_eq!(parse_event(&huge), Err(EventError::TooLarge));
        // At the cap it is read.
        let mut at_cap = br#"{"type":"url_verification","challenge":""#.to_vec();
        at_cap.resize(MAX_EVENT_BYTES - 2, b'a');
        at_cap.extend_from_slice(br#""}"#);
        assert!(matches!(
            parse_event(&at_cap),
            Ok(SlackEvent::UrlVerification { .. })
        ));
    }

    #[test]
    fn event_errors_never_echo_the_body() {
        for body in [
            r#"{"type":"event_callback","token":"xoxb-secret-token","event":{"type":{"xoxb-secret-token":1}}}"#,
            r#"{"type":"xoxb-secret-token" "#,
            r#"{"type":"event_callback","team_id":["xoxb-secret-token"],"event":{"type":"app_uninstalled"}}"#,
        ] {
            let err = event(body).unwrap_err();
            assert!(
                !err.to_string().contains("xoxb") && !format!("{err:?}").contains("xoxb"),
                "{err}"
            );
        }
    }
}
