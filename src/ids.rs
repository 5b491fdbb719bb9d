//! Validated identifiers. Each is checked once, at construction, and then
//! trusted; the borrowed ones point into the request body.

use std::fmt;

use crate::validation_error::ValidationError;

/// Longest identifier the state format can carry (one length byte).
pub const MAX_STR8: usize = 255;

/// Longest context id, context key and connection identifier.
pub const MAX_ID_CHARS: usize = 100;

/// Byte classes of the request rules, one table lookup per byte: each
/// string is checked in one pass, however many classes it is tested for.
pub(crate) mod class {
    /// A byte below 0x20, 0x7F, or 0xC2 (the lead byte of U+0080 to U+00BF):
    /// the bytes a control character can start with.
    pub(crate) const CONTROL_LEAD: u8 = 1 << 0;
    /// `[A-Za-z0-9._-]`: a connection identifier.
    pub(crate) const CONNECTION: u8 = 1 << 1;
    /// `[A-Za-z0-9_-]`: a context id.
    pub(crate) const TOKEN: u8 = 1 << 2;
    /// Visible ASCII (0x21 to 0x7E) other than `,`: a scope.
    pub(crate) const SCOPE: u8 = 1 << 3;
    /// RFC 3986 unreserved or `:`: a scope byte a Slack URL keeps as it is.
    pub(crate) const SCOPE_AS_IS: u8 = 1 << 4;

    pub(crate) const TABLE: [u8; 256] = {
        let mut t = [0u8; 256];
        let mut i = 0;
        while i < 256 {
            let b = i as u8;
            let word = b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
            t[i] = if b < 0x20 || b == 0x7f || b == 0xc2 {
                CONTROL_LEAD
            } else {
                0
            } | if word || b == b'.' { CONNECTION } else { 0 }
                | if word { TOKEN } else { 0 }
                | if b.is_ascii_graphic() && b != b',' {
                    SCOPE
                } else {
                    0
                }
                | if crate::encode::is_unreserved(b) || b == b':' {
                    SCOPE_AS_IS
                } else {
                    0
                };
            i += 1;
        }
        t
    };
}

/// The classes every byte of `s` is in.
pub(crate) fn classes_of_all(s: &str) -> u8 {
    s.bytes()
        .fold(u8::MAX, |acc, b| acc & class::TABLE[usize::from(b)])
}

/// True when `s` has a control character (Unicode Cc: U+0000 to U+001F,
/// U+007F to U+009F). The common case, no byte that can start one, is
/// decided by one table pass; only the rest decodes characters.
pub(crate) fn has_control(s: &str) -> bool {
    let leads = s.bytes().fold(0, |acc, b| acc | class::TABLE[usize::from(b)]) & class::CONTROL_LEAD;
    leads != 0 && s.chars().any(char::is_control)
}

/// The integration identifier: 1 to 255 bytes, no control characters.
///
/// ```
/// use channel_connect::ids::IntegrationIdentifier;
/// use channel_connect::validation::ValidationError;
///
/// assert_eq!(IntegrationIdentifier::new("slack")?.as_str(), "slack");
/// assert_eq!(IntegrationIdentifier::new("  ").unwrap_err(), ValidationError::IntegrationIdentifierRequired);
/// assert_eq!(IntegrationIdentifier::new("slack\0").unwrap_err(), ValidationError::IntegrationIdentifierInvalid);
/// # Ok::<(), ValidationError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntegrationIdentifier<'a>(&'a str);

impl<'a> IntegrationIdentifier<'a> {
    /// An empty placeholder, for a request about to be filled in place.
    pub(crate) const fn blank() -> Self {
        IntegrationIdentifier("")
    }

    /// Checks the identifier.
    pub fn new(value: &'a str) -> Result<Self, ValidationError> {
        // A visible ASCII first byte is not white space: `trim` only otherwise.
        let visible_first = value.as_bytes().first().is_some_and(u8::is_ascii_graphic);
        if !visible_first && value.trim().is_empty() {
            return Err(ValidationError::IntegrationIdentifierRequired);
        }
        if value.len() > MAX_STR8 || has_control(value) {
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
///
/// ```
/// use channel_connect::ids::SubscriberId;
/// use channel_connect::validation::ValidationError;
///
/// // Any text without control characters: ids are often emails or UUIDs.
/// assert_eq!(SubscriberId::new("megan.bowen@contoso.com")?.as_str(), "megan.bowen@contoso.com");
/// assert_eq!(SubscriberId::new("").unwrap_err(), ValidationError::SubscriberIdInvalid);
/// assert_eq!(SubscriberId::new("subscriber-123\r\n").unwrap_err(), ValidationError::SubscriberIdInvalid);
/// # Ok::<(), ValidationError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubscriberId<'a>(&'a str);

impl<'a> SubscriberId<'a> {
    /// Checks the id.
    pub fn new(value: &'a str) -> Result<Self, ValidationError> {
        if value.is_empty() || value.len() > MAX_STR8 || has_control(value) {
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
///
/// ```
/// use channel_connect::ids::ConnectionIdentifier;
///
/// let given = ConnectionIdentifier::new("slack-connection-abc123")?;
/// assert_eq!(given.as_str(), "slack-connection-abc123");
/// // Without one in the request, `connect_url` generates one from the entropy.
/// let generated = ConnectionIdentifier::generate(&[0x9c, 0x41, 0x07, 0xd2, 0x5e, 0x33, 0xa8, 0x10, 0xf6]);
/// assert!(generated.as_str().starts_with("chconn_"));
/// assert!(ConnectionIdentifier::new("slack connection").is_err()); // a space
/// # Ok::<(), channel_connect::validation::ValidationError>(())
/// ```
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
    ///
    /// ```
    /// use channel_connect::ids::ConnectionIdentifier;
    /// use channel_connect::validation::ValidationError;
    ///
    /// assert!(ConnectionIdentifier::new("acme.slack_main-2").is_ok());
    /// for bad in ["", "acme/slack", "café", &"x".repeat(101)] {
    ///     assert_eq!(ConnectionIdentifier::new(bad).unwrap_err(), ValidationError::ConnectionIdentifierInvalid);
    /// }
    /// ```
    pub fn new(value: &'a str) -> Result<Self, ValidationError> {
        let ok = !value.is_empty()
            && value.len() <= MAX_ID_CHARS
            && classes_of_all(value) & class::CONNECTION != 0;
        if !ok {
            return Err(ValidationError::ConnectionIdentifierInvalid);
        }
        Ok(ConnectionIdentifier(Repr::Given(value)))
    }

    /// `chconn_` followed by 12 characters of the base64url alphabet
    /// (`A-Z a-z 0-9 - _`), each taken from 6 consecutive bits of `entropy`
    /// (72 bits, most significant bit first). Every character is uniform
    /// because 64 divides 2^6: no modulo bias.
    ///
    /// ```
    /// use channel_connect::ids::{ConnectionIdentifier, GENERATED_CONNECTION_ID_LEN};
    ///
    /// // 0x04 0x20 0xc4 = 000001 000010 000011 000100: B, C, D, E.
    /// let id = ConnectionIdentifier::generate(&[0x04, 0x20, 0xc4, 0, 0, 0, 0, 0, 0]);
    /// assert_eq!(id.as_str(), "chconn_BCDEAAAAAAAA");
    /// assert_eq!(id.as_str().len(), GENERATED_CONNECTION_ID_LEN);
    /// // Every generated id is also a valid caller-supplied one.
    /// assert!(ConnectionIdentifier::new(ConnectionIdentifier::generate(&[0xff; 9]).as_str()).is_ok());
    /// ```
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
    !value.is_empty() && value.len() <= MAX_ID_CHARS && classes_of_all(value) & class::TOKEN != 0
}

/// An owned identifier from configuration (environment id, organization id):
/// 1 to 255 bytes, no control characters.
///
/// ```
/// use channel_connect::ids::ConfigId;
///
/// assert_eq!(ConfigId::new("6615c4b2e0f3a1b2c3d4e5f6").unwrap().as_str(), "6615c4b2e0f3a1b2c3d4e5f6");
/// assert!(ConfigId::new("").is_none());
/// assert!(ConfigId::new("env\n1").is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigId(String);

impl ConfigId {
    /// Checks the id; `None` when empty, too long or with control characters.
    pub fn new(value: impl Into<String>) -> Option<Self> {
        let value = value.into();
        let ok = !value.is_empty() && value.len() <= MAX_STR8 && !has_control(&value);
        ok.then_some(ConfigId(value))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    /// The byte table says what the rules say, for every ASCII byte and for
    /// bytes of multi-byte characters. (A fold of comparisons the compiler
    /// vectorizes was measured twice as slow on identifiers this short.)
    #[test]
    fn classes_match_their_rules_byte_by_byte() {
        for b in 0u8..0x80 {
            let s = (b as char).to_string();
            let word = b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
            let has = |c: u8| classes_of_all(&s) & c != 0;
            assert_eq!(has(class::TOKEN), word, "{b:#x}");
            assert_eq!(has(class::CONNECTION), word || b == b'.', "{b:#x}");
            assert_eq!(has(class::SCOPE), b.is_ascii_graphic() && b != b',', "{b:#x}");
            assert_eq!(has(class::CONTROL_LEAD), b < 0x20 || b == 0x7f, "{b:#x}");
        }
        for c in ['\u{80}', '\u{9f}', 'é', '€', '𝄞', '\u{a0}'] {
            let s = format!("a{c}b");
            let all = classes_of_all(&s);
            assert_eq!(
                all & (class::TOKEN | class::CONNECTION | class::SCOPE),
                0,
                "{c:?}"
            );
            assert_eq!(has_control(&s), c.is_control(), "{c:?}");
        }
    }

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
    fn control_characters() {
        for bad in ["a\u{0}", "\u{1f}", "x\u{7f}", "\u{80}", "y\u{9f}z"] {
            assert!(has_control(bad), "{bad:?}");
        }
        for good in ["subscriber-123", "é", "\u{a0}", "ÿ", "日本", "😀"] {
            assert!(!has_control(good), "{good:?}");
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
