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

/// Opens a state into `state` (from [`VerifiedState::for_token`]): size,
/// base64, version, key, MAC, then layout, time and binding. The caller
/// keeps the state where it will stay: a verified callback opens it in
/// place instead of copying its inline bytes out of a `Result` twice (4
/// copies of them to 2 per callback, callgrind).
pub(crate) fn open_into(
    token: &str,
    keys: &KeyRing,
    params: &OpenParams<'_>,
    state: &mut VerifiedState,
) -> Result<(), StateError> {
    use StateErrorKind::*;
    if token.is_empty() {
        return Err(Missing.into());
    }
    if token.len() > MAX_STATE_CHARS {
        return Err(Oversized.into());
    }
    // Decoded straight into the state's own bytes (inline for all but the
    // largest states).
    let n = base64url()
        .decode_slice(token.as_bytes(), state.bytes_mut().buffer_mut())
        .map_err(|_| StateError::new(Malformed))?;
    state.bytes_mut().set_len(n);
    let bytes = state.bytes();
    if n < FIXED_LEN + TAG_LEN {
        return Err(Malformed.into());
    }
    if bytes[0] != STATE_VERSION {
        return Err(UnknownVersion.into());
    }
    let key = keys.find(KeyId(bytes[1])).ok_or(StateError::new(UnknownKey))?;
    let (body, tag) = bytes.split_at(n - TAG_LEN);
    let mut mac = key.mac();
    mac.update(state.mac_input(n - TAG_LEN));
    mac.verify_truncated_left(tag)
        .map_err(|_| StateError::new(BadMac))?;

    let layout = Layout::parse(body).ok_or(StateError::new(Malformed))?;
    state.bytes_mut().set_len(n - TAG_LEN);
    state.set_layout(layout);
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
    Ok(())
}

/// A workspace id: 1 to 64 bytes of `[A-Za-z0-9._-]`.
pub(crate) fn is_workspace(w: &[u8]) -> bool {
    (1..=MAX_WORKSPACE_LEN).contains(&w.len())
        && w.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

// Hand-written: `subtle` is not in the tree, and hmac's `verify_*` checks a
// MAC while this tag is a truncated SHA-256.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Where the variable fields start, found once after the MAC is checked.
/// A string's length is the byte before it, and 0 marks a field the state
/// does not have (no field starts at offset 0): a small value to carry.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Layout {
    pub(super) binding: u16,
    pub(super) provider: u16,
    pub(super) integration: u16,
    pub(super) environment: u16,
    pub(super) organization: u16,
    pub(super) subscriber: u16,
    pub(super) connection: u16,
    pub(super) workspace: u16,
    /// The first context entry; the entry count is the byte before it.
    pub(super) context: u16,
}

/// One context entry's byte ranges, as [`Layout::parse`] checked them.
#[derive(Clone, Copy, Debug)]
pub(super) struct RawEntry {
    pub(super) key: (usize, usize),
    pub(super) id: (usize, usize),
    pub(super) data: Option<(usize, usize)>,
}

/// The context entries of a body that [`Layout::parse`] accepted.
pub(super) struct RawEntries<'b> {
    body: &'b [u8],
    pos: usize,
    left: u8,
}

impl<'b> RawEntries<'b> {
    pub(super) fn new(body: &'b [u8], layout: &Layout) -> Self {
        let at = usize::from(layout.context);
        RawEntries {
            body,
            pos: at,
            left: body[at - 1],
        }
    }

    fn str8(&mut self) -> (usize, usize) {
        let start = self.pos + 1;
        self.pos = start + usize::from(self.body[self.pos]);
        (start, self.pos)
    }
}

impl Iterator for RawEntries<'_> {
    type Item = RawEntry;

    fn next(&mut self) -> Option<RawEntry> {
        self.left = self.left.checked_sub(1)?;
        let key = self.str8();
        let id = self.str8();
        let kind = self.body[self.pos];
        self.pos += 1;
        let data = (kind == 1).then(|| {
            let len = u16::from_be_bytes([self.body[self.pos], self.body[self.pos + 1]]);
            let start = self.pos + 2;
            self.pos = start + usize::from(len);
            (start, self.pos)
        });
        Some(RawEntry { key, id, data })
    }
}

/// Reads a body front to back; every read is bounds-checked.
struct Reader<'b> {
    buf: &'b [u8],
    pos: usize,
}

impl Reader<'_> {
    /// Moves past `n` bytes; where they start.
    fn take(&mut self, n: usize) -> Option<usize> {
        let start = self.pos;
        let end = start + n;
        if end > self.buf.len() {
            return None;
        }
        self.pos = end;
        Some(start)
    }

    fn byte(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    /// A length-prefixed string of at least one byte: where it starts (as
    /// the layout keeps it) and its length. UTF-8 is checked afterwards.
    fn str8(&mut self) -> Option<(u16, usize)> {
        let n = usize::from(self.byte()?);
        if n == 0 {
            return None;
        }
        Some((self.take(n)? as u16, n))
    }

    /// [`Reader::str8`] when `present`, else `(0, 0)` (absent).
    fn str8_if(&mut self, present: bool) -> Option<(u16, usize)> {
        if present { self.str8() } else { Some((0, 0)) }
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
        };
        let binding = if flags & FLAG_BINDING != 0 {
            r.take(BINDING_LEN)? as u16
        } else {
            0
        };
        let strings_from = r.pos;
        let (provider, n) = r.str8()?;
        let provider_ok = n <= 32
            && body[usize::from(provider)..][..n]
                .iter()
                .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !provider_ok {
            return None;
        }
        let (integration, _) = r.str8()?;
        let (environment, _) = r.str8()?;
        let (organization, _) = r.str8()?;
        let (subscriber, _) = r.str8_if(flags & FLAG_SUBSCRIBER != 0)?;
        let (connection, n) = r.str8_if(flags & FLAG_CONNECTION != 0)?;
        if n > crate::ids::MAX_ID_CHARS {
            return None;
        }
        let (workspace, n) = r.str8_if(flags & FLAG_WORKSPACE != 0)?;
        if workspace != 0 && !is_workspace(&body[usize::from(workspace)..][..n]) {
            return None;
        }
        let count = usize::from(r.byte()?);
        if count > crate::context::MAX_CONTEXT_KEYS {
            return None;
        }
        let context = r.pos as u16;
        for _ in 0..count {
            r.str8()?;
            r.str8()?;
            match r.byte()? {
                0 => {}
                1 => {
                    let s = r.take(2)?;
                    r.take(usize::from(u16::from_be_bytes([body[s], body[s + 1]])))?;
                }
                _ => return None,
            }
        }
        if r.pos != body.len() {
            return None;
        }
        let layout = Layout {
            binding,
            provider,
            integration,
            environment,
            organization,
            subscriber,
            connection,
            workspace,
            context,
        };
        // ASCII strings and lengths under 128 (the usual case) make the whole
        // rest ASCII: one vectorized check instead of one UTF-8 check per string.
        let ascii = body[strings_from..].iter().fold(0, |acc, &b| acc | b) < 0x80;
        if !ascii && !layout.strings_are_utf8(body) {
            return None;
        }
        Some(layout)
    }

    /// Every string of the body (the fields and each context key, id and
    /// data) is UTF-8.
    fn strings_are_utf8(&self, body: &[u8]) -> bool {
        let utf8 = |(s, e): (usize, usize)| std::str::from_utf8(&body[s..e]).is_ok();
        let field = |start: u16| {
            let s = usize::from(start);
            s == 0 || utf8((s, s + usize::from(body[s - 1])))
        };
        [
            self.provider,
            self.integration,
            self.environment,
            self.organization,
            self.subscriber,
            self.connection,
            self.workspace,
        ]
        .into_iter()
        .all(field)
            && RawEntries::new(body, self).all(|e| utf8(e.key) && utf8(e.id) && e.data.is_none_or(utf8))
    }
}
