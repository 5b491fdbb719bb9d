//! Validated identifiers. Each is checked once, at construction, and then
//! trusted; the borrowed ones point into the request body.

use std::fmt;

use crate::request::ValidationError;

/// Longest identifier the state format can carry (one length byte).
pub const MAX_STR8: usize = 255;

/// Longest context id, context key and connection identifier.
pub const MAX_ID_CHARS: usize = 100;

/// The integration identifier: 1 to 255 bytes, no control characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntegrationIdentifier<'a>(&'a str);

impl<'a> IntegrationIdentifier<'a> {
    /// Checks the identifier.
    pub fn new(value: &'a str) -> Result<Self, ValidationError> {
        if value.trim().is_empty() {
            return Err(ValidationError::IntegrationIdentifierRequired);
        }
        if value.len() > MAX_STR8 || value.chars().any(char::is_control) {
            return Err(ValidationError::IntegrationIdentifierInvalid);
        }
        Ok(IntegrationIdentifier(value))
    }

    /// The identifier as sent.
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

/// A subscriber id: 1 to 255 bytes, no control characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubscriberId<'a>(&'a str);

impl<'a> SubscriberId<'a> {
    /// Checks the id.
    pub fn new(value: &'a str) -> Result<Self, ValidationError> {
        if value.is_empty() || value.len() > MAX_STR8 || value.chars().any(char::is_control) {
            return Err(ValidationError::SubscriberIdInvalid);
        }
        Ok(SubscriberId(value))
    }

    /// The id as sent.
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

/// Length of a generated connection identifier: `chconn_` + 12 characters.
pub const GENERATED_CONNECTION_ID_LEN: usize = 19;

/// A connection identifier: 1 to 100 characters of `[A-Za-z0-9._-]`, either
/// given by the caller or generated as `chconn_` + 12 base64url characters.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ConnectionIdentifier<'a>(Repr<'a>);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Repr<'a> {
    Given(&'a str),
    Generated([u8; GENERATED_CONNECTION_ID_LEN]),
}

const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

impl<'a> ConnectionIdentifier<'a> {
    /// Checks a caller-supplied identifier.
    pub fn new(value: &'a str) -> Result<Self, ValidationError> {
        let ok = !value.is_empty()
            && value.len() <= MAX_ID_CHARS
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !ok {
            return Err(ValidationError::ConnectionIdentifierInvalid);
        }
        Ok(ConnectionIdentifier(Repr::Given(value)))
    }

    /// `chconn_` followed by 12 characters of the base64url alphabet
    /// (`A-Z a-z 0-9 - _`), each taken from 6 consecutive bits of `entropy`
    /// (72 bits, most significant bit first). Every character is uniform
    /// because 64 divides 2^6: no modulo bias.
    pub fn generate(entropy: &[u8; 9]) -> ConnectionIdentifier<'static> {
        let mut out = *b"chconn_000000000000";
        let bits = entropy.iter().fold(0u128, |acc, &b| (acc << 8) | u128::from(b));
        for i in 0..12 {
            let six = (bits >> (66 - 6 * i)) & 0x3f;
            out[7 + i] = URL_SAFE[six as usize];
        }
        ConnectionIdentifier(Repr::Generated(out))
    }

    /// The identifier.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Given(s) => s,
            Repr::Generated(b) => std::str::from_utf8(b).expect("generated ids are ASCII"),
        }
    }
}

impl fmt::Debug for ConnectionIdentifier<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ConnectionIdentifier")
            .field(&self.as_str())
            .finish()
    }
}

/// Checks a context key or context id: 1 to 100 characters of `[A-Za-z0-9_-]`.
pub(crate) fn is_context_token(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_ID_CHARS
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

/// An owned identifier from configuration (environment id, organization id):
/// 1 to 255 bytes, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigId(String);

impl ConfigId {
    /// Checks the id; `None` when empty, too long or with control characters.
    pub fn new(value: impl Into<String>) -> Option<Self> {
        let value = value.into();
        let ok = !value.is_empty() && value.len() <= MAX_STR8 && !value.chars().any(char::is_control);
        ok.then_some(ConfigId(value))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_use_six_bits_per_character() {
        assert_eq!(
            ConnectionIdentifier::generate(&[0; 9]).as_str(),
            "chconn_AAAAAAAAAAAA"
        );
        assert_eq!(
            ConnectionIdentifier::generate(&[0xff; 9]).as_str(),
            format!("chconn_{}", "_".repeat(12))
        );
        // 0x04 0x20 0xc4 = 000001 000010 000011 000100 -> B C D E
        assert_eq!(
            ConnectionIdentifier::generate(&[0x04, 0x20, 0xc4, 0, 0, 0, 0, 0, 0]).as_str(),
            "chconn_BCDEAAAAAAAA"
        );
    }

    #[test]
    fn caller_connection_ids_are_checked() {
        assert!(ConnectionIdentifier::new("slack-connection-abc123").is_ok());
        assert!(ConnectionIdentifier::new("a.b_c-D9").is_ok());
        for bad in ["", "has space", "slash/", "é", &"x".repeat(101)] {
            assert!(ConnectionIdentifier::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn context_tokens() {
        assert!(is_context_token("org-acme_1"));
        assert!(!is_context_token("org.acme"));
        assert!(!is_context_token(""));
        assert!(!is_context_token(&"a".repeat(101)));
    }
}
