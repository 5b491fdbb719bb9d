//! State format v1: a compact binary payload, MACed with HMAC-SHA256 over a
//! domain-separated input, base64url without padding. `SPEC.md` describes it
//! byte by byte.
//!
//! Sealing writes into a stack buffer (no heap); opening checks size, base64,
//! version, key id and the MAC (constant time) before it reads any field, and
//! reveals only a [`StateErrorKind`] for logs.

use sha2::{Digest, Sha256};

use crate::context::Context;
use crate::request::ConnectionMode;

mod bytes;
mod error;
mod open;
mod seal;
mod verified;

pub use error::{StateError, StateErrorKind};
pub(crate) use open::{OpenParams, is_workspace, open_into};
pub(crate) use seal::{SealedState, seal};
pub(crate) use verified::unix_to_datetime;
pub use verified::{ReplayId, StateContextEntry, VerifiedState};

/// The version byte of this format.
pub const STATE_VERSION: u8 = 1;
/// What the MAC input starts with (followed by one 0x00 byte).
pub const STATE_MAC_LABEL: &[u8] = b"channel-connect/state/v1";
/// Label of the follow-up nonce: HMAC(key, label 0x00 previous nonce)[0..16].
pub const FOLLOW_UP_NONCE_LABEL: &[u8] = b"channel-connect/follow-up-nonce/v1";
/// Bytes before a state's body in its MAC input: the label and its 0x00.
pub(crate) const MAC_PREFIX_LEN: usize = STATE_MAC_LABEL.len() + 1;

/// `STATE_MAC_LABEL`, 0x00, then zeros: how a buffer starts that holds a
/// state's MAC input, its body written after the prefix. The MAC is then one
/// update over one slice from a keyed HMAC, as the floor of the benchmarks
/// is: absorbing the label first (a keyed HMAC cloned with 25 bytes already
/// buffered) splits the first block off the body's (one more copy, one more
/// call into the SHA-256 compression).
pub(crate) const fn mac_input_buffer<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    let mut i = 0;
    while i < STATE_MAC_LABEL.len() {
        buf[i] = STATE_MAC_LABEL[i];
        i += 1;
    }
    buf
}

/// Bytes of the truncated HMAC-SHA256 tag at the end of a state.
pub const TAG_LEN: usize = 16;
/// Bytes of the nonce.
pub const NONCE_LEN: usize = 16;
/// Bytes of the browser-binding tag.
pub const BINDING_LEN: usize = 16;
/// Largest decoded state, in bytes. Its base64url form (1,792 characters)
/// already cannot fit in an authorize URL under 1,800 characters.
pub const MAX_STATE_BYTES: usize = 1344;
/// Longest state string a verifier opens; longer is refused unread.
pub const MAX_STATE_CHARS: usize = 1792;
/// Bytes before the variable part: version, key id, flags, issued-at, lifetime, nonce.
pub(crate) const FIXED_LEN: usize = 1 + 1 + 1 + 8 + 2 + NONCE_LEN;

pub(crate) const FLAG_LINK_USER: u8 = 1 << 0;
pub(crate) const FLAG_SHARED: u8 = 1 << 1;
pub(crate) const FLAG_AUTO_LINK: u8 = 1 << 2;
pub(crate) const FLAG_SUBSCRIBER: u8 = 1 << 3;
pub(crate) const FLAG_CONNECTION: u8 = 1 << 4;
pub(crate) const FLAG_BINDING: u8 = 1 << 5;
pub(crate) const FLAG_PROOF: u8 = 1 << 6;
pub(crate) const FLAG_WORKSPACE: u8 = 1 << 7;
/// Longest workspace id a state carries.
pub const MAX_WORKSPACE_LEN: usize = 64;

/// What a state authorizes at the callback.
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
/// # let issue = IssueParams::new(now, &Entropy([7; 32]));
/// let link = LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
/// let issued = core.link_user_url(&link, &issue)?;
/// let state = core.platform().open_state(issued.state().unwrap(), &VerifyParams::at(now))?;
/// assert_eq!(state.purpose(), Purpose::LinkUser);
/// assert_eq!(serde_json::to_value(Purpose::ConnectProof)?, "connectProof");
///
/// // A route that only finishes installs refuses a user link's state.
/// let query = format!("code=4724.demo-code&state={}", issued.state().unwrap());
/// let install_route = VerifyParams { expect_purpose: Some(Purpose::Connect), ..VerifyParams::at(now) };
/// let refused = core.verify_callback(&CallbackParams::parse(&query)?, &install_route).unwrap_err();
/// assert!(matches!(refused, CallbackError::State(e) if e.kind() == StateErrorKind::WrongPurpose));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Purpose {
    /// Install into a workspace or tenant, creating the connection.
    Connect,
    /// Link one subscriber's own user.
    LinkUser,
    /// The sign-in that proves the workspace a connect claimed (Teams: the
    /// tenant of an admin consent). Only its token response yields the
    /// connection; it may link the user too.
    ConnectProof,
}

/// Everything a state carries, borrowed, for sealing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StateClaims<'a> {
    /// The provider id (`slack`, `msteams`, ..., 1 to 32 bytes), the
    /// integration identifier, the environment id and the organization id,
    /// as [`route_fields`] writes them.
    pub route: &'a [u8],
    /// Connect or link-user.
    pub purpose: Purpose,
    /// Subscriber id, when any.
    pub subscriber: Option<&'a str>,
    /// Connection identifier, when any.
    pub connection: Option<&'a str>,
    /// Connection mode.
    pub mode: ConnectionMode,
    /// autoLinkUser.
    pub auto_link_user: bool,
    /// Context entries.
    pub context: &'a Context<'a>,
    /// The workspace the flow is restricted to (a Slack team, a Teams
    /// tenant), when any: 1 to 64 bytes of `[A-Za-z0-9._-]`.
    pub workspace: Option<&'a str>,
}

/// The four route fields of a state's layout (SPEC.md section 2), each as
/// `str8`: the same for every state of one integration, so written once,
/// when the configuration is built, and copied into each state whole. The
/// configuration checked the lengths (1 to 255 bytes; a provider id of at
/// most 32).
pub(crate) fn route_fields(
    provider: &str,
    integration: &str,
    environment: &str,
    organization: &str,
) -> Vec<u8> {
    let fields = [provider, integration, environment, organization];
    let mut route = Vec::with_capacity(fields.iter().map(|f| 1 + f.len()).sum());
    for f in fields {
        route.push(u8::try_from(f.len()).unwrap_or(u8::MAX));
        route.extend_from_slice(f.as_bytes());
    }
    route
}

/// Issue-time inputs that are not claims: time, lifetime, entropy, binding.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SealParams {
    /// Unix seconds at issue.
    pub issued_at: u64,
    /// Seconds the state stays valid (at least 1).
    pub lifetime: u16,
    /// 128 bits from the caller's randomness.
    pub nonce: [u8; NONCE_LEN],
    /// Browser binding tag, see [`binding_tag`].
    pub binding: Option<[u8; BINDING_LEN]>,
}

/// The binding tag a state stores for a binding value:
/// the first 16 bytes of SHA-256(`channel-connect/binding/v1` 0x00 value).
///
/// The host passes the value itself ([`crate::IssueParams::with_binding`],
/// [`crate::VerifyParams::binding`]); the tag is what the state carries,
/// for implementations of the format and its test vectors.
///
/// ```
/// use channel_connect::state::{BINDING_LEN, binding_tag};
/// use sha2::{Digest, Sha256};
///
/// let cookie_hash = Sha256::digest("q2xhc3NpYy1jb29raWUtdmFsdWUtMzItYnl0ZXMtbG9uZw");
/// let tag = binding_tag(&cookie_hash);
/// assert_eq!(tag.len(), BINDING_LEN);
/// assert_eq!(tag, binding_tag(&cookie_hash)); // deterministic
/// // Domain-separated: not a prefix of the value's own SHA-256.
/// assert_ne!(tag[..], Sha256::digest(cookie_hash)[..BINDING_LEN]);
///
/// // Another browser's cookie gives another tag, which the state refuses.
/// assert_ne!(binding_tag(&Sha256::digest("another-browser-cookie")), tag);
/// ```
pub fn binding_tag(value: &[u8]) -> [u8; BINDING_LEN] {
    let mut h = Sha256::new();
    h.update(b"channel-connect/binding/v1\0");
    h.update(value);
    let d = h.finalize();
    let mut t = [0; BINDING_LEN];
    t.copy_from_slice(&d[..BINDING_LEN]);
    t
}

/// The state's base64url: URL-safe alphabet, no padding, canonical (SPEC.md
/// section 2), on the widest SIMD instructions the CPU has (AVX2, NEON),
/// detected once; the scalar engine elsewhere. Both write and accept exactly
/// the same strings.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) fn base64url() -> &'static base64::engine::simd::Simd {
    use base64::engine::{DecodePaddingMode, GeneralPurposeConfig};
    static ENGINE: std::sync::LazyLock<base64::engine::simd::Simd> = std::sync::LazyLock::new(|| {
        let config = GeneralPurposeConfig::new()
            .with_encode_padding(false)
            .with_decode_padding_mode(DecodePaddingMode::RequireNone);
        base64::engine::simd::Simd::url_safe(config)
    });
    &ENGINE
}

/// The state's base64url (scalar on this target).
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(crate) fn base64url() -> &'static base64::engine::GeneralPurpose {
    &base64::engine::general_purpose::URL_SAFE_NO_PAD
}
