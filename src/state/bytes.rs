//! The bytes of an opened state: inline when they fit (nearly every state:
//! Novu's seed request makes 161 bytes), on the heap otherwise. Opening is
//! on every callback; one allocation and its free cost about as much as
//! parsing the query, and the inline buffer is small enough to move.

use std::ops::Deref;

use super::{MAC_PREFIX_LEN, STATE_MAC_LABEL, mac_input_buffer};

/// States up to this many decoded bytes (body and tag) are kept inline.
const INLINE: usize = 256;

/// Both variants keep the MAC's label prefix in front of the state's bytes,
/// so the MAC is checked over one slice (see [`mac_input_buffer`]).
// Inline is the point: the large variant is the common one.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub(super) enum StateBytes {
    Inline {
        buf: [u8; MAC_PREFIX_LEN + INLINE],
        len: u16,
    },
    Heap(Vec<u8>),
}

impl StateBytes {
    /// Room for `capacity` bytes, empty: inline when it fits.
    pub(super) fn with_capacity(capacity: usize) -> Self {
        if capacity <= INLINE {
            StateBytes::Inline {
                buf: mac_input_buffer(),
                len: 0,
            }
        } else {
            let mut v = vec![0; MAC_PREFIX_LEN + capacity];
            v[..STATE_MAC_LABEL.len()].copy_from_slice(STATE_MAC_LABEL);
            StateBytes::Heap(v)
        }
    }

    /// The whole buffer after the prefix, to be written; then [`StateBytes::set_len`].
    pub(super) fn buffer_mut(&mut self) -> &mut [u8] {
        match self {
            StateBytes::Inline { buf, .. } => &mut buf[MAC_PREFIX_LEN..],
            StateBytes::Heap(v) => &mut v[MAC_PREFIX_LEN..],
        }
    }

    /// Keeps the first `n` bytes of the buffer (at most its size).
    pub(super) fn set_len(&mut self, n: usize) {
        match self {
            StateBytes::Inline { len, .. } => *len = u16::try_from(n.min(INLINE)).unwrap_or(0),
            StateBytes::Heap(v) => v.truncate(MAC_PREFIX_LEN + n),
        }
    }

    /// The MAC input of a body of `body_len` bytes: the prefix, then the
    /// body (`body_len` is at most the length).
    pub(super) fn mac_input(&self, body_len: usize) -> &[u8] {
        let all = match self {
            StateBytes::Inline { buf, .. } => &buf[..],
            StateBytes::Heap(v) => &v[..],
        };
        &all[..MAC_PREFIX_LEN + body_len.min(self.len())]
    }
}

impl Deref for StateBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            StateBytes::Inline { buf, len } => &buf[MAC_PREFIX_LEN..][..usize::from(*len)],
            StateBytes::Heap(b) => &b[MAC_PREFIX_LEN..],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_heap_keep_what_was_written() {
        for cap in [0, 1, INLINE, INLINE + 1, 1344] {
            let mut b = StateBytes::with_capacity(cap);
            assert!(b.buffer_mut().len() >= cap);
            b.buffer_mut()[..cap]
                .iter_mut()
                .enumerate()
                .for_each(|(i, x)| *x = i as u8);
            b.set_len(cap);
            assert_eq!(b.len(), cap);
            assert!(b.iter().enumerate().all(|(i, &x)| x == i as u8));
            let mac_input = b.mac_input(cap);
            assert_eq!(&mac_input[..MAC_PREFIX_LEN - 1], super::super::STATE_MAC_LABEL);
            assert_eq!(
                (mac_input[MAC_PREFIX_LEN - 1], &mac_input[MAC_PREFIX_LEN..]),
                (0, &b[..])
            );
            b.set_len(cap.saturating_sub(1));
            assert_eq!(b.len(), cap.saturating_sub(1));
        }
    }
}
