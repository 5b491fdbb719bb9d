//! Sealing: the claims written in the layout of SPEC.md section 2, MACed
//! (section 3), base64url into a stack buffer (no heap on the hot path).

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

/// A sealed state in a stack buffer; [`SealedState::as_str`] is the token.
/// Filled in place by [`seal`] (it is large: no moves on the hot path).
pub(crate) struct SealedState {
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
pub(crate) fn seal(
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

pub(super) fn encode(raw: &[u8], out: &mut SealedState) {
    out.len = base64url()
        .encode_slice(raw, &mut out.buf)
        .expect("MAX_STATE_CHARS holds the base64 of MAX_STATE_BYTES");
}

pub(super) fn mac_tag(key: &SigningKey, body: &[u8]) -> [u8; TAG_LEN] {
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
