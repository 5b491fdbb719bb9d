//! The bytes of an opened state: inline when they fit (nearly every state:
//! Novu's seed request makes 161 bytes), on the heap otherwise. Opening is
//! on every callback; one allocation and its free cost about as much as
//! parsing the query, and the inline buffer is small enough to move.

use std::ops::Deref;

/// States up to this many decoded bytes (body and tag) are kept inline.
const INLINE: usize = 256;

// Inline is the point: the large variant is the common one.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub(super) enum StateBytes {
    Inline { buf: [u8; INLINE], len: u16 },
    Heap(Vec<u8>),
}

impl StateBytes {
    /// Room for `capacity` bytes, empty: inline when it fits.
    pub(super) fn with_capacity(capacity: usize) -> Self {
        if capacity <= INLINE {
            StateBytes::Inline {
                buf: [0; INLINE],
                len: 0,
            }
        } else {
            StateBytes::Heap(vec![0; capacity])
        }
    }

    /// The whole buffer, to be written; then [`StateBytes::set_len`].
    pub(super) fn buffer_mut(&mut self) -> &mut [u8] {
        match self {
            StateBytes::Inline { buf, .. } => buf,
            StateBytes::Heap(v) => v,
        }
    }

    /// Keeps the first `n` bytes of the buffer (at most its size).
    pub(super) fn set_len(&mut self, n: usize) {
        match self {
            StateBytes::Inline { len, .. } => *len = u16::try_from(n.min(INLINE)).unwrap_or(0),
            StateBytes::Heap(v) => v.truncate(n),
        }
    }
}

impl Deref for StateBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            StateBytes::Inline { buf, len } => &buf[..usize::from(*len)],
            StateBytes::Heap(b) => b,
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
            b.set_len(cap.saturating_sub(1));
            assert_eq!(b.len(), cap.saturating_sub(1));
        }
    }
}
