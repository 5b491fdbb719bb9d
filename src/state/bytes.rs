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
    /// Fills a buffer of at least `capacity` bytes with `fill`, which
    /// answers how many it wrote (or `None`); keeps that many.
    pub(super) fn fill(capacity: usize, fill: impl FnOnce(&mut [u8]) -> Option<usize>) -> Option<Self> {
        if capacity <= INLINE {
            let mut buf = [0u8; INLINE];
            let len = fill(&mut buf)?;
            let len = u16::try_from(len).ok().filter(|&l| usize::from(l) <= INLINE)?;
            Some(StateBytes::Inline { buf, len })
        } else {
            let mut heap = vec![0u8; capacity];
            let len = fill(&mut heap)?;
            heap.truncate(len);
            Some(StateBytes::Heap(heap))
        }
    }

    /// Drops the last `n` bytes (the tag, once checked).
    pub(super) fn cut(&mut self, n: usize) {
        match self {
            StateBytes::Inline { len, .. } => *len = len.saturating_sub(u16::try_from(n).unwrap_or(u16::MAX)),
            StateBytes::Heap(b) => b.truncate(b.len().saturating_sub(n)),
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
            let mut b = StateBytes::fill(cap, |buf| {
                buf[..cap].iter_mut().enumerate().for_each(|(i, x)| *x = i as u8);
                Some(cap)
            })
            .unwrap();
            assert_eq!(b.len(), cap);
            assert!(b.iter().enumerate().all(|(i, &x)| x == i as u8));
            b.cut(1);
            assert_eq!(b.len(), cap.saturating_sub(1));
        }
        assert!(StateBytes::fill(4, |_| None).is_none());
    }
}
