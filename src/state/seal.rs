//! Sealing: the claims written in the layout of SPEC.md section 2, MACed
//! (section 3), base64url into reused buffers (no heap, no zeroing).

use std::cell::RefCell;
use std::fmt;

use base64::Engine;
use hmac::Mac;

use super::*;
use crate::keys::SigningKey;

/// The state would not fit in [`MAX_STATE_BYTES`] (so neither in a URL), or
/// its claims break the layout's rules (a proof without a workspace, a
/// workspace outside `[A-Za-z0-9._-]{1,64}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StateTooLarge;

/// A sealed state: its bytes (body and tag) and their base64url, which
/// [`SealedState::as_str`] gives as the token. Filled in place by [`seal`]
/// inside [`SealedState::with`], which lends this thread's buffers: at
/// 1,344 and 1,792 bytes they are too large to zero for every state, and
/// each seal overwrites exactly the bytes it reads back.
pub(crate) struct SealedState {
    /// The MAC input: label, 0x00, body; then the tag.
    raw: [u8; MAC_PREFIX_LEN + MAX_STATE_BYTES],
    raw_len: usize,
    text: [u8; MAX_STATE_CHARS],
    len: usize,
}

thread_local! {
    static SCRATCH: RefCell<SealedState> = const { RefCell::new(SealedState::new()) };
}

impl SealedState {
    const fn new() -> Self {
        SealedState {
            raw: mac_input_buffer(),
            raw_len: 0,
            text: [0; MAX_STATE_CHARS],
            len: 0,
        }
    }

    /// Runs `f` with this thread's buffers, emptied (a fresh pair when `f`
    /// itself seals again, as a provider's URL writer could).
    pub fn with<R>(f: impl FnOnce(&mut SealedState) -> R) -> R {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut sealed) => {
                sealed.raw_len = 0;
                sealed.len = 0;
                f(&mut sealed)
            }
            Err(_) => f(&mut SealedState::new()),
        })
    }

    /// The base64url token.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text[..self.len]).expect("base64url is ASCII")
    }

    /// Bytes the token decodes to: the body and the tag.
    pub fn decoded_len(&self) -> usize {
        self.raw_len
    }

    /// Writes the MAC of the body (the first `body_len` bytes of
    /// [`SealedState::body_buf`]) after it, then the base64url of both.
    pub(super) fn finish(&mut self, key: &SigningKey, body_len: usize) -> Result<(), StateTooLarge> {
        let end = body_len + TAG_LEN;
        if end > MAX_STATE_BYTES {
            return Err(StateTooLarge);
        }
        let (mac_input, rest) = self.raw.split_at_mut(MAC_PREFIX_LEN + body_len);
        rest[..TAG_LEN].copy_from_slice(&mac_tag(key, mac_input));
        self.raw_len = end;
        self.len = base64url()
            .encode_slice(&self.raw[MAC_PREFIX_LEN..][..end], &mut self.text)
            .expect("MAX_STATE_CHARS holds the base64 of MAX_STATE_BYTES");
        Ok(())
    }

    /// The buffer a body is written into.
    pub(super) fn body_buf(&mut self) -> &mut [u8] {
        &mut self.raw[MAC_PREFIX_LEN..]
    }
}

impl fmt::Debug for SealedState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SealedState").field(&self.as_str()).finish()
    }
}

/// Seals `claims` with `key` into `out`.
pub(crate) fn seal(
    claims: &StateClaims<'_>,
    params: &SealParams,
    key: &SigningKey,
    out: &mut SealedState,
) -> Result<(), StateTooLarge> {
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
    let mut w = Writer {
        buf: out.body_buf(),
        pos: 0,
    };
    w.put(&[STATE_VERSION, key.id().0, flags])?;
    w.put(&params.issued_at.to_be_bytes())?;
    w.put(&params.lifetime.to_be_bytes())?;
    w.put(&params.nonce)?;
    if let Some(b) = &params.binding {
        w.put(b)?;
    }
    w.put(claims.route)?;
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
                serde_json::to_writer(&mut rest, &crate::context::IntegralJson(data))
                    .map_err(|_| StateTooLarge)?;
                let n = before - rest.len();
                let n16 = u16::try_from(n).map_err(|_| StateTooLarge)?;
                w.buf[start - 2..start].copy_from_slice(&n16.to_be_bytes());
                w.pos += n;
            }
        }
    }
    let body_len = w.pos;
    out.finish(key, body_len)
}

/// The tag over a MAC input: label, 0x00, body (see [`mac_input_buffer`]).
pub(super) fn mac_tag(key: &SigningKey, mac_input: &[u8]) -> [u8; TAG_LEN] {
    let mut mac = key.mac();
    mac.update(mac_input);
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
