//! Opening: size, base64, version, key id and the MAC (constant time)
//! before any field is read; then the layout, the time window and the
//! binding (SPEC.md section 8).

use base64::Engine;
use hmac::Mac;

use super::*;
use crate::keys::{KeyId, KeyRing};

/// Clock rules for opening.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OpenParams<'a> {
    /// Unix seconds now.
    pub now: i64,
    /// Seconds a state may claim to be issued in the future (clock skew).
    pub skew: u16,
    /// The binding value the callback presents (for example the cookie hash).
    pub binding: Option<&'a [u8]>,
}

/// Opens a state: size, base64, version, key, MAC, then layout, time and binding.
pub(crate) fn open(
    token: &str,
    keys: &KeyRing,
    params: &OpenParams<'_>,
) -> Result<VerifiedState, StateError> {
    use StateErrorKind::*;
    if token.is_empty() {
        return Err(Missing.into());
    }
    if token.len() > MAX_STATE_CHARS {
        return Err(Oversized.into());
    }
    let mut raw = [0u8; MAX_STATE_BYTES];
    let n = base64url()
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
    let state = VerifiedState::new(body.to_vec(), layout);
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
pub(super) struct Layout {
    pub(super) binding: Option<usize>,
    pub(super) provider: (u16, u16),
    pub(super) integration: (u16, u16),
    pub(super) environment: (u16, u16),
    pub(super) organization: (u16, u16),
    pub(super) subscriber: Option<(u16, u16)>,
    pub(super) connection: Option<(u16, u16)>,
    pub(super) workspace: Option<(u16, u16)>,
    pub(super) context: [Option<RawEntry>; crate::context::MAX_CONTEXT_KEYS],
}

#[derive(Clone, Copy, Debug)]
pub(super) struct RawEntry {
    pub(super) key: (u16, u16),
    pub(super) id: (u16, u16),
    pub(super) data: Option<(u16, u16)>,
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
