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
///
/// It tells the callback which key of the [`KeyRing`] sealed a state, so a
/// ring can hold a new active key and the old one during a rotation. Give
/// each key its own id and never reuse an id for different key bytes while
/// states sealed under the old bytes may still be in flight.
///
/// ```
/// use channel_connect::{KeyId, KeyRing, SigningKey};
///
/// let ring = KeyRing::new(SigningKey::new(KeyId(2), &[0x5a; 32])?);
/// assert_eq!(ring.active().id(), KeyId(2));
/// assert!(ring.find(KeyId(1)).is_none()); // a state sealed with key 1 is refused (`UnknownKey`)
/// # Ok::<(), channel_connect::KeyError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub u8);

/// Why a key or key ring was refused.
///
/// ```
/// use channel_connect::{KeyError, KeyId, KeyRing, SigningKey};
///
/// // 16 bytes is an AES-128 key, not an HMAC-SHA256 one.
/// let err = SigningKey::new(KeyId(1), &[7; 16]).unwrap_err();
/// assert_eq!(err, KeyError::TooShort { id: 1, len: 16 });
/// assert_eq!(err.to_string(), "signing key 1 is 16 bytes; at least 32 are required");
///
/// // Two keys with one id: a state's key id would be ambiguous.
/// let ring = KeyRing::new(SigningKey::new(KeyId(1), &[1; 32])?);
/// let err = ring.with_verify_only(SigningKey::new(KeyId(1), &[2; 32])?).unwrap_err();
/// assert_eq!(err, KeyError::DuplicateId(1));
/// # Ok::<(), KeyError>(())
/// ```
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
///
/// Load the key bytes from your secret store (32 random bytes, for example
/// `openssl rand -hex 32` decoded), never from source code.
///
/// ```
/// use channel_connect::{KeyId, SigningKey};
///
/// # let bytes_from_secret_store = [0x5a_u8; 32];
/// let key = SigningKey::new(KeyId(1), &bytes_from_secret_store)?;
/// assert_eq!(key.id(), KeyId(1));
/// assert_eq!(format!("{key:?}"), r#"SigningKey { id: 1, secret: "[redacted]" }"#);
/// # Ok::<(), channel_connect::KeyError>(())
/// ```
#[derive(Clone)]
pub struct SigningKey {
    id: KeyId,
    mac: HmacSha256,
}

impl SigningKey {
    /// Makes a key from at least 32 secret bytes (use 32 random bytes).
    ///
    /// Shorter keys are refused: the key is an HMAC-SHA256 key, and RFC 2104
    /// section 3 advises against keys shorter than the hash output.
    ///
    /// ```
    /// use channel_connect::{KeyError, KeyId, SigningKey};
    ///
    /// assert!(SigningKey::new(KeyId(1), &[0x5a; 32]).is_ok());
    /// // A passphrase is not a key.
    /// assert_eq!(
    ///     SigningKey::new(KeyId(1), b"hunter2").unwrap_err(),
    ///     KeyError::TooShort { id: 1, len: 7 }
    /// );
    /// ```
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
///
/// A state issued before the rotation still opens during it, and is refused
/// once the old key is dropped:
///
/// ```
/// use channel_connect::*;
/// use time::{Duration, OffsetDateTime};
///
/// let old = SigningKey::new(KeyId(1), &[1; 32])?;
/// let new = SigningKey::new(KeyId(2), &[2; 32])?;
/// # let slack = Slack::new(
/// #     ClientId::new("1234567890.1234567890")?,
/// #     Secret::new("slack-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
/// // Issued with key 1 just before the rotation.
/// let before = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(old.clone()))
///     .integration(Integration::new("slack", slack))
///     .build()?;
/// let issued = before.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
/// let state = issued.state().unwrap();
/// let verify = VerifyParams::at(now + Duration::seconds(60));
///
/// // During the rotation: key 2 seals, key 1 still opens.
/// let rotating = Platform::new(KeyRing::new(new.clone()).with_verify_only(old)?);
/// assert_eq!(rotating.open_state(state, &verify)?.key_id(), KeyId(1));
///
/// // Key 1 dropped: its states are refused.
/// let after = Platform::new(KeyRing::new(new));
/// assert_eq!(after.open_state(state, &verify).unwrap_err().kind(), StateErrorKind::UnknownKey);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct KeyRing {
    active: SigningKey,
    verify_only: Vec<SigningKey>,
}

impl KeyRing {
    /// A ring with one active key.
    ///
    /// ```
    /// use channel_connect::{KeyId, KeyRing, Platform, SigningKey};
    ///
    /// # let key_bytes = [0x5a_u8; 32];
    /// let ring = KeyRing::new(SigningKey::new(KeyId(1), &key_bytes)?);
    /// let platform = Platform::new(ring); // shared by every environment
    /// assert_eq!(platform.keys().active().id(), KeyId(1));
    /// # Ok::<(), channel_connect::KeyError>(())
    /// ```
    pub fn new(active: SigningKey) -> Self {
        KeyRing {
            active,
            verify_only: Vec::new(),
        }
    }

    /// Adds a key that opens states but never seals them.
    ///
    /// ```
    /// use channel_connect::{KeyError, KeyId, KeyRing, SigningKey};
    ///
    /// let ring = KeyRing::new(SigningKey::new(KeyId(2), &[2; 32])?)
    ///     .with_verify_only(SigningKey::new(KeyId(1), &[1; 32])?)?;
    /// assert_eq!(ring.active().id(), KeyId(2)); // seals
    /// assert!(ring.find(KeyId(1)).is_some()); // still opens
    ///
    /// // An id already in the ring is refused, even with other bytes.
    /// let again = ring.with_verify_only(SigningKey::new(KeyId(2), &[3; 32])?);
    /// assert_eq!(again.unwrap_err(), KeyError::DuplicateId(2));
    /// # Ok::<(), KeyError>(())
    /// ```
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
    ///
    /// ```
    /// use channel_connect::{KeyId, KeyRing, SigningKey};
    ///
    /// let ring = KeyRing::new(SigningKey::new(KeyId(2), &[2; 32])?)
    ///     .with_verify_only(SigningKey::new(KeyId(1), &[1; 32])?)?;
    /// assert_eq!(ring.find(KeyId(1)).map(SigningKey::id), Some(KeyId(1)));
    /// assert!(ring.find(KeyId(3)).is_none());
    /// # Ok::<(), channel_connect::KeyError>(())
    /// ```
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
