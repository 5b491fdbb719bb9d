//! Secret values whose `Debug` never shows their bytes.

use std::fmt;

/// A secret string (client secret, access token, refresh token, code).
///
/// `Debug` prints `Secret([redacted])`; the value is reachable only through
/// [`Secret::expose`], so it never leaks into logs by accident.
///
/// It serializes in plain (`#[serde(transparent)]`): the records the host
/// persists carry their tokens, which the host encrypts at rest.
///
/// ```
/// use channel_connect::Secret;
///
/// let bot_token = Secret::new("xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy");
/// assert_eq!(format!("{bot_token:?}"), "Secret([redacted])");
/// assert_eq!(serde_json::to_string(&bot_token)?, r#""xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy""#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    ///
    /// ```
    /// use channel_connect::Secret;
    ///
    /// # let env_var = || String::from("slack-client-secret");
    /// let client_secret = Secret::new(env_var()); // e.g. std::env::var("SLACK_CLIENT_SECRET")?
    /// // Logging the configuration does not print it.
    /// assert!(!format!("{client_secret:?}").contains("slack-client-secret"));
    /// ```
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value, for the one place that must send or store it.
    ///
    /// ```
    /// use channel_connect::Secret;
    ///
    /// let token = Secret::new("xoxb-1");
    /// let header = format!("Bearer {}", token.expose());
    /// assert_eq!(header, "Bearer xoxb-1");
    /// ```
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("xoxb-very-secret");
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert_eq!(s.expose(), "xoxb-very-secret");
    }
}
