//! Signing keys and the key ring that seals and opens states.
//!
//! One key is active (it seals); older keys stay verify-only so that flows in
//! flight survive a rotation. Keys are pre-keyed HMAC-SHA256 instances, so the
//! key pads are hashed once at construction, not per state.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// Minimum key length in bytes (the HMAC-SHA256 output size).
pub const MIN_KEY_LEN: usize = 32;

/// The one-byte key identifier written in every state (byte 1 of the format).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub u8);

/// Why a key or key ring was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key is shorter than [`MIN_KEY_LEN`] bytes.
    #[error("signing key {id} is {len} bytes; at least 32 are required")]
    TooShort {
        /// The key's id.
        id: u8,
        /// Its length in bytes.
        len: usize,
    },
    /// Two keys in the ring share an id.
    #[error("key id {0} appears twice in the key ring")]
    DuplicateId(u8),
}

/// A secret key with its id. `Debug` shows the id only.
#[derive(Clone)]
pub struct SigningKey {
    id: KeyId,
    mac: HmacSha256,
}

impl SigningKey {
    /// Makes a key from at least 32 secret bytes (use 32 random bytes).
    pub fn new(id: KeyId, secret: &[u8]) -> Result<Self, KeyError> {
        if secret.len() < MIN_KEY_LEN {
            return Err(KeyError::TooShort {
                id: id.0,
                len: secret.len(),
            });
        }
        let mac = <HmacSha256 as KeyInit>::new_from_slice(secret).expect("HMAC accepts keys of any length");
        Ok(SigningKey { id, mac })
    }

    /// The key's id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// A fresh HMAC instance keyed with this key (a clone of the pre-keyed state).
    pub(crate) fn mac(&self) -> HmacSha256 {
        self.mac.clone()
    }

    /// HMAC-SHA256 over `label || 0x00 || parts...`: one key, many purposes,
    /// never confused with each other.
    pub(crate) fn derive(&self, label: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.mac();
        mac.update(label);
        mac.update(&[0]);
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("id", &self.id.0)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// One active key that seals, and any number of verify-only keys that still open.
///
/// Rotation: add the new key as active and keep the old one in
/// [`KeyRing::with_verify_only`] for at least one state lifetime; then drop it.
#[derive(Clone, Debug)]
pub struct KeyRing {
    active: SigningKey,
    verify_only: Vec<SigningKey>,
}

impl KeyRing {
    /// A ring with one active key.
    pub fn new(active: SigningKey) -> Self {
        KeyRing {
            active,
            verify_only: Vec::new(),
        }
    }

    /// Adds a key that opens states but never seals them.
    pub fn with_verify_only(mut self, key: SigningKey) -> Result<Self, KeyError> {
        if self.find(key.id).is_some() {
            return Err(KeyError::DuplicateId(key.id.0));
        }
        self.verify_only.push(key);
        Ok(self)
    }

    /// The key that seals new states.
    pub fn active(&self) -> &SigningKey {
        &self.active
    }

    /// The key with this id, active or verify-only.
    pub fn find(&self, id: KeyId) -> Option<&SigningKey> {
        std::iter::once(&self.active)
            .chain(&self.verify_only)
            .find(|k| k.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_are_refused() {
        assert_eq!(
            SigningKey::new(KeyId(1), &[0; 31]).unwrap_err(),
            KeyError::TooShort { id: 1, len: 31 }
        );
    }

    #[test]
    fn debug_hides_key_bytes() {
        let k = SigningKey::new(KeyId(7), b"0123456789abcdef0123456789abcdef").unwrap();
        let d = format!("{:?}", KeyRing::new(k));
        assert!(d.contains("[redacted]") && !d.contains("0123456789"), "{d}");
    }

    #[test]
    fn ring_finds_active_and_verify_only_and_refuses_duplicates() {
        let a = SigningKey::new(KeyId(2), &[1; 32]).unwrap();
        let b = SigningKey::new(KeyId(1), &[2; 32]).unwrap();
        let ring = KeyRing::new(a.clone()).with_verify_only(b).unwrap();
        assert_eq!(ring.find(KeyId(1)).unwrap().id(), KeyId(1));
        assert_eq!(ring.find(KeyId(2)).unwrap().id(), KeyId(2));
        assert!(ring.find(KeyId(3)).is_none());
        assert_eq!(ring.with_verify_only(a).unwrap_err(), KeyError::DuplicateId(2));
    }
}
