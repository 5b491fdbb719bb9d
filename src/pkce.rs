//! PKCE (RFC 7636) without storage: the verifier is derived from the state's
//! nonce and the key that sealed it, so the callback can re-derive it.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::keys::SigningKey;

/// Label of the verifier derivation: HMAC(key, label 0x00 nonce).
pub const PKCE_LABEL: &[u8] = b"channel-connect/pkce/v1";

/// Length of a code verifier and of a code challenge: base64url of 32
/// bytes, no padding (the shortest RFC 7636 allows).
pub const PKCE_LEN: usize = 43;

/// A PKCE code verifier: 43 base64url characters. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct PkceVerifier([u8; PKCE_LEN]);

impl PkceVerifier {
    pub(crate) fn derive(key: &SigningKey, nonce: &[u8]) -> Self {
        let mac = key.derive(PKCE_LABEL, &[nonce]);
        let mut out = [0u8; PKCE_LEN];
        let n = URL_SAFE_NO_PAD
            .encode_slice(mac, &mut out)
            .expect("32 bytes encode to 43");
        debug_assert_eq!(n, PKCE_LEN);
        PkceVerifier(out)
    }

    /// The verifier, for the token request's `code_verifier`.
    pub fn expose(&self) -> &str {
        std::str::from_utf8(&self.0).expect("base64url is ASCII")
    }

    /// The S256 challenge: base64url(SHA-256(verifier)).
    pub fn challenge(&self) -> PkceChallenge {
        let mut out = [0u8; PKCE_LEN];
        URL_SAFE_NO_PAD
            .encode_slice(Sha256::digest(self.0), &mut out)
            .expect("32 bytes encode to 43");
        PkceChallenge(out)
    }
}

impl fmt::Debug for PkceVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PkceVerifier([redacted])")
    }
}

/// An S256 code challenge (public).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PkceChallenge([u8; PKCE_LEN]);

impl PkceChallenge {
    /// The challenge string.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("base64url is ASCII")
    }
}

impl fmt::Debug for PkceChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PkceChallenge").field(&self.as_str()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyId;

    #[test]
    fn rfc7636_appendix_b_challenge() {
        // The RFC's verifier, pushed through our challenge function.
        let v = PkceVerifier(*b"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            v.challenge().as_str(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn derivation_depends_on_key_and_nonce() {
        let k1 = SigningKey::new(KeyId(1), &[1; 32]).unwrap();
        let k2 = SigningKey::new(KeyId(1), &[2; 32]).unwrap();
        let a = PkceVerifier::derive(&k1, &[0; 16]);
        assert_eq!(a, PkceVerifier::derive(&k1, &[0; 16]));
        assert_ne!(a, PkceVerifier::derive(&k2, &[0; 16]));
        assert_ne!(a, PkceVerifier::derive(&k1, &[1; 16]));
        assert_eq!(format!("{a:?}"), "PkceVerifier([redacted])");
    }
}
