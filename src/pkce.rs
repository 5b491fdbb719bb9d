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
///
/// Nothing is stored between the authorize URL and the callback: the core
/// re-derives the verifier from the verified state
/// ([`crate::VerifiedCallback::pkce_verifier`]), and the token request
/// carries it as `code_verifier` (RFC 7636 section 4.5).
///
/// ```
/// # use channel_connect::*;
/// # use time::{Duration, OffsetDateTime};
/// # let teams = MsTeams::new(
/// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
/// #     Secret::new("teams-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
/// #     .integration(Integration::new("msteams", teams))
/// #     .build()?;
/// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// // A Teams user link: a delegated sign-in with PKCE.
/// let body = LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"msteams","subscriberId":"subscriber-123"}"#)?;
/// let issued = core.link_user_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
/// let query = format!("code=0.AXoA-demo&state={}", issued.state().unwrap());
/// let verified = core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now + Duration::seconds(40)))?;
/// let verifier = verified.pkce_verifier().expect("a Teams sign-in uses PKCE");
///
/// // The authorize URL carried its S256 challenge...
/// let challenge = format!("code_challenge={}&code_challenge_method=S256", verifier.challenge().as_str());
/// assert!(issued.url.ends_with(&challenge));
/// // ...and the token request carries the verifier itself.
/// let token_request = verified.token_request()?.expect("a code to redeem");
/// assert_eq!(token_request.form_field("code_verifier"), Some(verifier.expose()));
/// assert_eq!(format!("{verifier:?}"), "PkceVerifier([redacted])");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The Slack provider sends no challenge (it authenticates the exchange with
/// the client secret alone), so Slack callbacks have no verifier.
// Not `Clone`: one verifier per sign-in, sent once.
#[derive(PartialEq, Eq)]
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

    /// The verifier, for the token request's `code_verifier`: 43 characters
    /// of `[A-Za-z0-9_-]` (RFC 7636 section 4.1 allows 43 to 128 of
    /// `[A-Za-z0-9-._~]`).
    ///
    /// ```
    /// # use channel_connect::*;
    /// # use time::{Duration, OffsetDateTime};
    /// # let teams = MsTeams::new(
    /// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
    /// #     Secret::new("teams-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
    /// #     .integration(Integration::new("msteams", teams))
    /// #     .build()?;
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// // A Teams user link: a delegated sign-in with PKCE.
    /// let body = LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"msteams","subscriberId":"subscriber-123"}"#)?;
    /// let issued = core.link_user_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// let query = format!("code=0.AXoA-demo&state={}", issued.state().unwrap());
    /// let verified = core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now + Duration::seconds(40)))?;
    /// let verifier = verified.pkce_verifier().unwrap().expose();
    /// assert_eq!(verifier.len(), 43);
    /// assert!(verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn expose(&self) -> &str {
        std::str::from_utf8(&self.0).expect("base64url is ASCII")
    }

    /// The S256 challenge: base64url(SHA-256(verifier)), RFC 7636 section
    /// 4.2, which the authorize URL sends as `code_challenge`.
    ///
    /// ```
    /// use base64::Engine;
    /// use sha2::{Digest, Sha256};
    /// # use channel_connect::*;
    /// # use time::{Duration, OffsetDateTime};
    /// # let teams = MsTeams::new(
    /// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
    /// #     Secret::new("teams-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
    /// #     .integration(Integration::new("msteams", teams))
    /// #     .build()?;
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// // A Teams user link: a delegated sign-in with PKCE.
    /// let body = LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"msteams","subscriberId":"subscriber-123"}"#)?;
    /// let issued = core.link_user_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// let query = format!("code=0.AXoA-demo&state={}", issued.state().unwrap());
    /// let verified = core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now + Duration::seconds(40)))?;
    /// let verifier = verified.pkce_verifier().unwrap();
    ///
    /// // What the provider computes at the token endpoint.
    /// let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.expose()));
    /// assert_eq!(verifier.challenge().as_str(), expected);
    /// assert!(issued.url.contains(&format!("&code_challenge={expected}&")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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

/// An S256 code challenge (public): it travels in the authorize URL, and
/// only the matching verifier redeems the code (RFC 7636 section 4.6).
/// `Debug` shows it.
///
/// ```
/// # use channel_connect::*;
/// # use time::{Duration, OffsetDateTime};
/// # let teams = MsTeams::new(
/// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
/// #     Secret::new("teams-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
/// #     .integration(Integration::new("msteams", teams))
/// #     .build()?;
/// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// // A Teams user link: a delegated sign-in with PKCE.
/// let body = LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"msteams","subscriberId":"subscriber-123"}"#)?;
/// let issued = core.link_user_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
/// let query = format!("code=0.AXoA-demo&state={}", issued.state().unwrap());
/// let verified = core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now + Duration::seconds(40)))?;
/// let challenge = verified.pkce_verifier().unwrap().challenge();
/// assert_eq!(challenge.as_str().len(), 43);
/// assert!(issued.url.contains(challenge.as_str()));
/// // The verifier never appears in the URL.
/// assert!(!issued.url.contains(verified.pkce_verifier().unwrap().expose()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
