//! State format v1: a compact binary payload, MACed with HMAC-SHA256 over a
//! domain-separated input, base64url without padding. `SPEC.md` describes it
//! byte by byte.
//!
//! Sealing writes into a stack buffer (no heap); opening checks size, base64,
//! version, key id and the MAC (constant time) before it reads any field, and
//! reveals only a [`StateErrorKind`] for logs.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::context::Context;
use crate::keys::{KeyId, KeyRing, SigningKey};
use crate::request::ConnectionMode;

/// The version byte of this format.
pub const STATE_VERSION: u8 = 1;
/// What the MAC input starts with (followed by one 0x00 byte).
pub const STATE_MAC_LABEL: &[u8] = b"channel-connect/state/v1";
/// Label of the follow-up nonce: HMAC(key, label 0x00 previous nonce)[0..16].
pub const FOLLOW_UP_NONCE_LABEL: &[u8] = b"channel-connect/follow-up-nonce/v1";
/// Bytes of the truncated HMAC-SHA256 tag at the end of a state.
pub const TAG_LEN: usize = 16;
/// Bytes of the nonce.
pub const NONCE_LEN: usize = 16;
/// Bytes of the browser-binding tag.
pub const BINDING_LEN: usize = 16;
/// Largest decoded state, in bytes. Its base64url form (1,792 characters)
/// already cannot fit in an authorize URL under 1,800 characters.
pub const MAX_STATE_BYTES: usize = 1344;
/// Longest state string accepted by [`open`]; longer is refused unread.
pub const MAX_STATE_CHARS: usize = 1792;
/// Bytes before the variable part: version, key id, flags, issued-at, lifetime, nonce.
const FIXED_LEN: usize = 1 + 1 + 1 + 8 + 2 + NONCE_LEN;

const FLAG_LINK_USER: u8 = 1 << 0;
const FLAG_SHARED: u8 = 1 << 1;
const FLAG_AUTO_LINK: u8 = 1 << 2;
const FLAG_SUBSCRIBER: u8 = 1 << 3;
const FLAG_CONNECTION: u8 = 1 << 4;
const FLAG_BINDING: u8 = 1 << 5;
const FLAG_PROOF: u8 = 1 << 6;
const FLAG_WORKSPACE: u8 = 1 << 7;
/// Longest workspace id a state carries.
pub const MAX_WORKSPACE_LEN: usize = 64;

/// What a state authorizes at the callback.
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
pub struct StateClaims<'a> {
    /// Provider id (`slack`, `msteams`, ...), 1 to 32 bytes.
    pub provider: &'a str,
    /// Connect or link-user.
    pub purpose: Purpose,
    /// Integration identifier.
    pub integration: &'a str,
    /// Environment id.
    pub environment: &'a str,
    /// Organization id.
    pub organization: &'a str,
    /// Subscriber id, when any.
    pub subscriber: Option<&'a str>,
    /// Connection identifier, when any.
    pub connection: Option<&'a str>,
    /// Connection mode.
    pub mode: ConnectionMode,
    /// autoLinkUser.
    pub auto_link_user: bool,
    /// Context entries.
    pub context: Context<'a>,
    /// The workspace the flow is restricted to (a Slack team, a Teams
    /// tenant), when any: 1 to 64 bytes of `[A-Za-z0-9._-]`.
    pub workspace: Option<&'a str>,
}

/// Issue-time inputs that are not claims: time, lifetime, entropy, binding.
#[derive(Clone, Copy, Debug)]
pub struct SealParams {
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
pub fn binding_tag(value: &[u8]) -> [u8; BINDING_LEN] {
    let mut h = Sha256::new();
    h.update(b"channel-connect/binding/v1\0");
    h.update(value);
    let d = h.finalize();
    let mut t = [0; BINDING_LEN];
    t.copy_from_slice(&d[..BINDING_LEN]);
    t
}

/// The state would not fit in [`MAX_STATE_BYTES`] (so neither in a URL), or
/// its claims break the layout's rules (a proof without a workspace, a
/// workspace outside `[A-Za-z0-9._-]{1,64}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateTooLarge;

/// A sealed state in a stack buffer; [`SealedState::as_str`] is the token.
/// Filled in place by [`seal`] (it is large: no moves on the hot path).
pub struct SealedState {
    buf: [u8; MAX_STATE_CHARS],
    len: usize,
}

impl Default for SealedState {
    fn default() -> Self {
        SealedState {
            buf: [0; MAX_STATE_CHARS],
            len: 0,
        }
    }
}

impl SealedState {
    /// The base64url token.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).expect("base64url is ASCII")
    }

    /// Bytes the token decodes to (unpadded base64url: 3 bytes per 4 characters).
    pub fn decoded_len(&self) -> usize {
        self.len * 3 / 4
    }
}

impl fmt::Debug for SealedState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SealedState").field(&self.as_str()).finish()
    }
}

/// Seals `claims` with `key` into `out`.
pub fn seal(
    claims: &StateClaims<'_>,
    params: &SealParams,
    key: &SigningKey,
    out: &mut SealedState,
) -> Result<(), StateTooLarge> {
    let mut raw = [0u8; MAX_STATE_BYTES];
    let mut w = Writer {
        buf: &mut raw,
        pos: 0,
    };
    if claims.purpose == Purpose::ConnectProof && claims.workspace.is_none() {
        return Err(StateTooLarge);
    }
    if claims.workspace.is_some_and(|w| !is_workspace(w.as_bytes())) {
        return Err(StateTooLarge);
    }
    let mut flags = match claims.purpose {
        Purpose::Connect => 0,
        Purpose::LinkUser => FLAG_LINK_USER,
        Purpose::ConnectProof => FLAG_PROOF,
    };
    flags |= if claims.mode == ConnectionMode::Shared {
        FLAG_SHARED
    } else {
        0
    };
    flags |= if claims.auto_link_user { FLAG_AUTO_LINK } else { 0 };
    flags |= if claims.subscriber.is_some() {
        FLAG_SUBSCRIBER
    } else {
        0
    };
    flags |= if claims.connection.is_some() {
        FLAG_CONNECTION
    } else {
        0
    };
    flags |= if params.binding.is_some() { FLAG_BINDING } else { 0 };
    flags |= if claims.workspace.is_some() {
        FLAG_WORKSPACE
    } else {
        0
    };
    w.put(&[STATE_VERSION, key.id().0, flags])?;
    w.put(&params.issued_at.to_be_bytes())?;
    w.put(&params.lifetime.to_be_bytes())?;
    w.put(&params.nonce)?;
    if let Some(b) = &params.binding {
        w.put(b)?;
    }
    for s in [
        claims.provider,
        claims.integration,
        claims.environment,
        claims.organization,
    ] {
        w.str8(s)?;
    }
    if let Some(s) = claims.subscriber {
        w.str8(s)?;
    }
    if let Some(s) = claims.connection {
        w.str8(s)?;
    }
    if let Some(s) = claims.workspace {
        w.str8(s)?;
    }
    w.put(&[claims.context.len() as u8])?;
    for e in claims.context.entries() {
        w.str8(e.key)?;
        w.str8(e.id)?;
        match e.data {
            None => w.put(&[0])?,
            Some(data) => {
                w.put(&[1, 0, 0])?;
                let start = w.pos;
                let mut rest = &mut w.buf[start..];
                let before = rest.len();
                serde_json::to_writer(&mut rest, data).map_err(|_| StateTooLarge)?;
                let n = before - rest.len();
                let n16 = u16::try_from(n).map_err(|_| StateTooLarge)?;
                w.buf[start - 2..start].copy_from_slice(&n16.to_be_bytes());
                w.pos += n;
            }
        }
    }
    let body_len = w.pos;
    let tag = mac_tag(key, &raw[..body_len]);
    let mut w = Writer {
        buf: &mut raw,
        pos: body_len,
    };
    w.put(&tag)?;
    let total = w.pos;
    encode(&raw[..total], out);
    Ok(())
}

fn encode(raw: &[u8], out: &mut SealedState) {
    out.len = URL_SAFE_NO_PAD
        .encode_slice(raw, &mut out.buf)
        .expect("MAX_STATE_CHARS holds the base64 of MAX_STATE_BYTES");
}

fn mac_tag(key: &SigningKey, body: &[u8]) -> [u8; TAG_LEN] {
    let mut mac = key.mac();
    mac.update(STATE_MAC_LABEL);
    mac.update(&[0]);
    mac.update(body);
    let full = mac.finalize().into_bytes();
    let mut tag = [0; TAG_LEN];
    tag.copy_from_slice(&full[..TAG_LEN]);
    tag
}

struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), StateTooLarge> {
        let end = self
            .pos
            .checked_add(bytes.len())
            .filter(|&e| e <= self.buf.len())
            .ok_or(StateTooLarge)?;
        self.buf[self.pos..end].copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    fn str8(&mut self, s: &str) -> Result<(), StateTooLarge> {
        let n = u8::try_from(s.len()).map_err(|_| StateTooLarge)?;
        self.put(&[n])?;
        self.put(s.as_bytes())
    }
}

/// Why a state was refused. Shown to users only as
/// "Invalid OAuth state parameter"; the kind is for logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StateErrorKind {
    /// No state, or an empty one.
    Missing,
    /// Longer than [`MAX_STATE_CHARS`].
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

/// Clock rules for opening.
#[derive(Clone, Copy, Debug)]
pub struct OpenParams<'a> {
    /// Unix seconds now.
    pub now: i64,
    /// Seconds a state may claim to be issued in the future (clock skew).
    pub skew: u16,
    /// The binding value the callback presents (for example the cookie hash).
    pub binding: Option<&'a [u8]>,
}

/// Opens a state: size, base64, version, key, MAC, then layout, time and binding.
pub fn open(token: &str, keys: &KeyRing, params: &OpenParams<'_>) -> Result<VerifiedState, StateError> {
    use StateErrorKind::*;
    if token.is_empty() {
        return Err(Missing.into());
    }
    if token.len() > MAX_STATE_CHARS {
        return Err(Oversized.into());
    }
    let mut raw = [0u8; MAX_STATE_BYTES];
    let n = URL_SAFE_NO_PAD
        .decode_slice(token.as_bytes(), &mut raw)
        .map_err(|_| StateError::new(Malformed))?;
    let raw = &raw[..n];
    if n < FIXED_LEN + TAG_LEN {
        return Err(Malformed.into());
    }
    if raw[0] != STATE_VERSION {
        return Err(UnknownVersion.into());
    }
    let key = keys.find(KeyId(raw[1])).ok_or(StateError::new(UnknownKey))?;
    let (body, tag) = raw.split_at(n - TAG_LEN);
    let mut mac = key.mac();
    mac.update(STATE_MAC_LABEL);
    mac.update(&[0]);
    mac.update(body);
    mac.verify_truncated_left(tag)
        .map_err(|_| StateError::new(BadMac))?;

    let layout = Layout::parse(body).ok_or(StateError::new(Malformed))?;
    let state = VerifiedState {
        bytes: body.to_vec(),
        layout,
    };
    let issued = i128::from(state.issued_at_unix());
    let now = i128::from(params.now);
    if issued > now + i128::from(params.skew) {
        return Err(NotYetValid.into());
    }
    if now >= issued + i128::from(state.lifetime_secs()) {
        return Err(Expired.into());
    }
    if let Some(stored) = state.binding_tag() {
        let presented = params.binding.ok_or(StateError::new(BindingMissing))?;
        if !ct_eq(stored, &binding_tag(presented)) {
            return Err(BindingMismatch.into());
        }
    }
    Ok(state)
}

/// A workspace id: 1 to 64 bytes of `[A-Za-z0-9._-]`.
pub(crate) fn is_workspace(w: &[u8]) -> bool {
    (1..=MAX_WORKSPACE_LEN).contains(&w.len())
        && w.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Byte ranges of the variable fields, found once after the MAC is checked.
#[derive(Clone, Debug)]
struct Layout {
    binding: Option<usize>,
    provider: (u16, u16),
    integration: (u16, u16),
    environment: (u16, u16),
    organization: (u16, u16),
    subscriber: Option<(u16, u16)>,
    connection: Option<(u16, u16)>,
    workspace: Option<(u16, u16)>,
    context: [Option<RawEntry>; crate::context::MAX_CONTEXT_KEYS],
}

#[derive(Clone, Copy, Debug)]
struct RawEntry {
    key: (u16, u16),
    id: (u16, u16),
    data: Option<(u16, u16)>,
}

struct Reader<'b> {
    buf: &'b [u8],
    pos: usize,
    /// Everything from `pos` on is ASCII, so no string needs UTF-8 checks.
    ascii: bool,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<(u16, u16)> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len())?;
        let r = (self.pos as u16, end as u16);
        self.pos = end;
        Some(r)
    }

    fn byte(&mut self) -> Option<u8> {
        let (s, _) = self.take(1)?;
        Some(self.buf[s as usize])
    }

    /// A length-prefixed UTF-8 string; `min` is the shortest allowed.
    fn str8(&mut self, min: usize) -> Option<(u16, u16)> {
        let n = usize::from(self.byte()?);
        if n < min {
            return None;
        }
        let r = self.take(n)?;
        self.utf8(r)
    }

    fn utf8(&self, r: (u16, u16)) -> Option<(u16, u16)> {
        if !self.ascii {
            std::str::from_utf8(&self.buf[r.0 as usize..r.1 as usize]).ok()?;
        }
        Some(r)
    }
}

impl Layout {
    fn parse(body: &[u8]) -> Option<Layout> {
        let flags = body[2];
        let proof = flags & FLAG_PROOF != 0;
        if proof && flags & (FLAG_LINK_USER | FLAG_WORKSPACE) != FLAG_WORKSPACE {
            return None;
        }
        let lifetime = u16::from_be_bytes([body[11], body[12]]);
        if lifetime == 0 {
            return None;
        }
        let mut r = Reader {
            buf: body,
            pos: FIXED_LEN,
            ascii: false,
        };
        let binding = if flags & FLAG_BINDING != 0 {
            Some(r.take(BINDING_LEN)?.0 as usize)
        } else {
            None
        };
        // Lengths under 128 and ASCII strings (the usual case) make the rest
        // ASCII: one vectorized check instead of one UTF-8 check per string.
        r.ascii = body[r.pos..].is_ascii();
        let provider = r.str8(1)?;
        let provider_ok = provider.1 - provider.0 <= 32
            && body[provider.0 as usize..provider.1 as usize]
                .iter()
                .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !provider_ok {
            return None;
        }
        let integration = r.str8(1)?;
        let environment = r.str8(1)?;
        let organization = r.str8(1)?;
        let subscriber = if flags & FLAG_SUBSCRIBER != 0 {
            Some(r.str8(1)?)
        } else {
            None
        };
        let connection = if flags & FLAG_CONNECTION != 0 {
            Some(r.str8(1)?)
        } else {
            None
        };
        if connection.is_some_and(|(s, e)| usize::from(e - s) > crate::ids::MAX_ID_CHARS) {
            return None;
        }
        let workspace = if flags & FLAG_WORKSPACE != 0 {
            let w = r.str8(1)?;
            is_workspace(&body[w.0 as usize..w.1 as usize]).then_some(w)?;
            Some(w)
        } else {
            None
        };
        let count = usize::from(r.byte()?);
        if count > crate::context::MAX_CONTEXT_KEYS {
            return None;
        }
        let mut context = [None; crate::context::MAX_CONTEXT_KEYS];
        for slot in context.iter_mut().take(count) {
            let key = r.str8(1)?;
            let id = r.str8(1)?;
            let data = match r.byte()? {
                0 => None,
                1 => {
                    let (s, _) = r.take(2)?;
                    let len = u16::from_be_bytes([body[s as usize], body[s as usize + 1]]);
                    let d = r.take(usize::from(len))?;
                    Some(r.utf8(d)?)
                }
                _ => return None,
            };
            *slot = Some(RawEntry { key, id, data });
        }
        if r.pos != body.len() {
            return None;
        }
        Some(Layout {
            binding,
            provider,
            integration,
            environment,
            organization,
            subscriber,
            connection,
            workspace,
            context,
        })
    }
}

/// A state whose MAC, time window and binding checked out. Every accessor
/// reads the authenticated bytes.
#[derive(Clone)]
pub struct VerifiedState {
    bytes: Vec<u8>,
    layout: Layout,
}

/// A context entry read from a verified state; `data` is its compact JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateContextEntry<'a> {
    /// Context key.
    pub key: &'a str,
    /// Entity id.
    pub id: &'a str,
    /// The data object as compact JSON, when given.
    pub data: Option<&'a str>,
}

/// The stable id of one state (its nonce), for replay refusal.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplayId(pub [u8; NONCE_LEN]);

impl fmt::Display for ReplayId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for ReplayId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplayId({self})")
    }
}

impl VerifiedState {
    fn str_at(&self, r: (u16, u16)) -> &str {
        std::str::from_utf8(self.bytes_at(r)).expect("checked at parse")
    }

    fn bytes_at(&self, (s, e): (u16, u16)) -> &[u8] {
        &self.bytes[s as usize..e as usize]
    }

    /// The provider, integration, environment and organization as bytes,
    /// for the comparisons of the hot path (no UTF-8 check needed to compare).
    pub(crate) fn route_bytes(&self) -> [&[u8]; 4] {
        let l = &self.layout;
        [
            self.bytes_at(l.provider),
            self.bytes_at(l.integration),
            self.bytes_at(l.environment),
            self.bytes_at(l.organization),
        ]
    }

    fn flag(&self, f: u8) -> bool {
        self.bytes[2] & f != 0
    }

    /// The key id that sealed this state.
    pub fn key_id(&self) -> KeyId {
        KeyId(self.bytes[1])
    }

    /// Provider id.
    pub fn provider(&self) -> &str {
        self.str_at(self.layout.provider)
    }

    /// Connect, link-user or connect-proof.
    pub fn purpose(&self) -> Purpose {
        if self.flag(FLAG_LINK_USER) {
            Purpose::LinkUser
        } else if self.flag(FLAG_PROOF) {
            Purpose::ConnectProof
        } else {
            Purpose::Connect
        }
    }

    /// Integration identifier.
    pub fn integration_identifier(&self) -> &str {
        self.str_at(self.layout.integration)
    }

    /// Environment id.
    pub fn environment_id(&self) -> &str {
        self.str_at(self.layout.environment)
    }

    /// Organization id.
    pub fn organization_id(&self) -> &str {
        self.str_at(self.layout.organization)
    }

    /// Subscriber id, when any.
    pub fn subscriber_id(&self) -> Option<&str> {
        self.layout.subscriber.map(|r| self.str_at(r))
    }

    /// Connection identifier, when any.
    pub fn connection_identifier(&self) -> Option<&str> {
        self.layout.connection.map(|r| self.str_at(r))
    }

    /// The workspace the flow is restricted to, sealed at issue (a Slack
    /// team, a Teams tenant) or, in a connect-proof state, the tenant the
    /// admin consent claimed. The provider's answer must name this one.
    pub fn workspace(&self) -> Option<&str> {
        self.layout.workspace.map(|r| self.str_at(r))
    }

    /// True when the flow also links the subscriber's own user: a link-user
    /// state, or a state with autoLinkUser and a subscriber.
    pub fn links_user(&self) -> bool {
        self.purpose() == Purpose::LinkUser || (self.auto_link_user() && self.subscriber_id().is_some())
    }

    /// Connection mode.
    pub fn connection_mode(&self) -> ConnectionMode {
        if self.flag(FLAG_SHARED) {
            ConnectionMode::Shared
        } else {
            ConnectionMode::Subscriber
        }
    }

    /// autoLinkUser as issued.
    pub fn auto_link_user(&self) -> bool {
        self.flag(FLAG_AUTO_LINK)
    }

    /// Context entries, in key order.
    pub fn context(&self) -> impl Iterator<Item = StateContextEntry<'_>> + '_ {
        self.layout
            .context
            .iter()
            .map_while(|e| e.as_ref())
            .map(|e| StateContextEntry {
                key: self.str_at(e.key),
                id: self.str_at(e.id),
                data: e.data.map(|d| self.str_at(d)),
            })
    }

    fn issued_at_unix(&self) -> u64 {
        u64::from_be_bytes(self.bytes[3..11].try_into().expect("fixed header"))
    }

    pub(crate) fn lifetime_secs(&self) -> u16 {
        u16::from_be_bytes([self.bytes[11], self.bytes[12]])
    }

    /// When it was issued.
    pub fn issued_at(&self) -> OffsetDateTime {
        unix_to_datetime(self.issued_at_unix())
    }

    /// When it stops opening (exclusive).
    pub fn expires_at(&self) -> OffsetDateTime {
        unix_to_datetime(
            self.issued_at_unix()
                .saturating_add(u64::from(self.lifetime_secs())),
        )
    }

    /// The nonce: refuse a second callback with the same id until [`Self::expires_at`].
    pub fn replay_id(&self) -> ReplayId {
        let mut n = [0; NONCE_LEN];
        n.copy_from_slice(self.nonce());
        ReplayId(n)
    }

    pub(crate) fn nonce(&self) -> &[u8] {
        &self.bytes[13..13 + NONCE_LEN]
    }

    /// True when the state is bound to a browser.
    pub fn is_bound(&self) -> bool {
        self.layout.binding.is_some()
    }

    fn binding_tag(&self) -> Option<&[u8]> {
        self.layout.binding.map(|s| &self.bytes[s..s + BINDING_LEN])
    }

    /// The connect-proof state that continues this connect state (SPEC.md
    /// section 7): the same claims, flags `PROOF` and `WORKSPACE`, issued at
    /// `max(now, issued_at)` and expiring when this state does, with a nonce
    /// derived from this one (so no entropy is needed), sealed under `key`.
    /// `workspace` is inserted unless the state already carries one.
    pub(crate) fn reseal_proof(
        &self,
        now: i64,
        workspace: &str,
        key: &SigningKey,
        out: &mut SealedState,
    ) -> Result<[u8; NONCE_LEN], StateTooLarge> {
        if self.purpose() != Purpose::Connect || !is_workspace(workspace.as_bytes()) {
            return Err(StateTooLarge);
        }
        let parent_issued = self.issued_at_unix();
        let expires = parent_issued.saturating_add(u64::from(self.lifetime_secs()));
        let issued_at = u64::try_from(now).unwrap_or(0).max(parent_issued);
        // `now` is before the parent's expiry (it opened), so this is 1 or more.
        let lifetime = u16::try_from(expires.saturating_sub(issued_at)).map_err(|_| StateTooLarge)?;
        if lifetime == 0 {
            return Err(StateTooLarge);
        }
        let (insert_at, insert) = match self.layout.workspace {
            Some(_) => (self.bytes.len(), &[][..]),
            None => {
                let l = &self.layout;
                let end = l.connection.or(l.subscriber).unwrap_or(l.organization).1;
                (usize::from(end), workspace.as_bytes())
            }
        };
        let extra = if insert.is_empty() { 0 } else { 1 + insert.len() };
        let body_len = self.bytes.len() + extra;
        if body_len + TAG_LEN > MAX_STATE_BYTES {
            return Err(StateTooLarge);
        }
        let mut raw = [0u8; MAX_STATE_BYTES];
        raw[..insert_at].copy_from_slice(&self.bytes[..insert_at]);
        if extra > 0 {
            raw[insert_at] = insert.len() as u8;
            raw[insert_at + 1..insert_at + extra].copy_from_slice(insert);
        }
        raw[insert_at + extra..body_len].copy_from_slice(&self.bytes[insert_at..]);
        raw[1] = key.id().0;
        raw[2] |= FLAG_PROOF | FLAG_WORKSPACE;
        raw[3..11].copy_from_slice(&issued_at.to_be_bytes());
        raw[11..13].copy_from_slice(&lifetime.to_be_bytes());
        let derived = key.derive(FOLLOW_UP_NONCE_LABEL, &[self.nonce()]);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&derived[..NONCE_LEN]);
        raw[13..13 + NONCE_LEN].copy_from_slice(&nonce);
        let tag = mac_tag(key, &raw[..body_len]);
        raw[body_len..body_len + TAG_LEN].copy_from_slice(&tag);
        encode(&raw[..body_len + TAG_LEN], out);
        Ok(nonce)
    }
}

/// Unix seconds as a time, saturating at the largest time `time` represents
/// (a verified state is never that far out: it would not have opened).
pub(crate) fn unix_to_datetime(secs: u64) -> OffsetDateTime {
    i64::try_from(secs)
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or_else(|| time::PrimitiveDateTime::MAX.assume_utc())
}

/// camelCase JSON of the facts (`provider`, `purpose`,
/// `integrationIdentifier`, `environmentId`, `organizationId`,
/// `subscriberId`, `connectionIdentifier`, `workspace`, `connectionMode`,
/// `autoLinkUser`, `context`, `issuedAt`, `expiresAt`, `replayId`); the
/// context as the request gave it (`key: "id"` or `key: {id, data}`).
impl serde::Serialize for VerifiedState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Ctx<'a>(&'a VerifiedState);
        impl serde::Serialize for Ctx<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(None)?;
                for e in self.0.context() {
                    match e.data.map(serde_json::from_str::<serde_json::Value>) {
                        Some(Ok(data)) => {
                            m.serialize_entry(e.key, &serde_json::json!({"id": e.id, "data": data}))?
                        }
                        _ => m.serialize_entry(e.key, e.id)?,
                    }
                }
                m.end()
            }
        }
        let mut st = s.serialize_struct("VerifiedState", 14)?;
        st.serialize_field("provider", self.provider())?;
        st.serialize_field("purpose", &self.purpose())?;
        st.serialize_field("integrationIdentifier", self.integration_identifier())?;
        st.serialize_field("environmentId", self.environment_id())?;
        st.serialize_field("organizationId", self.organization_id())?;
        st.serialize_field("subscriberId", &self.subscriber_id())?;
        st.serialize_field("connectionIdentifier", &self.connection_identifier())?;
        st.serialize_field("workspace", &self.workspace())?;
        st.serialize_field("connectionMode", &self.connection_mode())?;
        st.serialize_field("autoLinkUser", &self.auto_link_user())?;
        st.serialize_field("context", &Ctx(self))?;
        st.serialize_field("issuedAt", &crate::rfc3339::write(self.issued_at()))?;
        st.serialize_field("expiresAt", &crate::rfc3339::write(self.expires_at()))?;
        st.serialize_field("replayId", &self.replay_id().to_string())?;
        st.end()
    }
}

impl fmt::Debug for VerifiedState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedState")
            .field("provider", &self.provider())
            .field("purpose", &self.purpose())
            .field("integration", &self.integration_identifier())
            .field("environment", &self.environment_id())
            .field("organization", &self.organization_id())
            .field("subscriber", &self.subscriber_id())
            .field("connection", &self.connection_identifier())
            .field("workspace", &self.workspace())
            .field("mode", &self.connection_mode())
            .field("auto_link_user", &self.auto_link_user())
            .field("context", &self.context().collect::<Vec<_>>())
            .field("issued_at", &self.issued_at_unix())
            .field("replay_id", &self.replay_id())
            .finish()
    }
}
