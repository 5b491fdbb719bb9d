//! Secret values whose `Debug` never shows their bytes: one type per role
//! (a client secret, an authorization code, an access token, a refresh
//! token), so a value cannot be passed where another role belongs, and
//! [`Secret`] for the rest (webhook URLs, raw `id_token`s).

use std::borrow::Cow;
use std::fmt;

/// What every secret type gives the one place that must send or store it.
///
/// ```
/// use channel_connect::secret::{AccessToken, ExposeSecret};
///
/// fn authorization(token: &impl ExposeSecret) -> String {
///     format!("Bearer {}", token.expose_secret())
/// }
/// assert_eq!(authorization(&AccessToken::new("xoxb-1")), "Bearer xoxb-1");
/// ```
pub trait ExposeSecret {
    /// The secret value.
    fn expose_secret(&self) -> &str;
}

impl ExposeSecret for Secret {
    fn expose_secret(&self) -> &str {
        &self.0
    }
}

/// Defines one secret type per role: a string newtype with redacted `Debug`,
/// serialized in plain (the host persists it, encrypted).
macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                $name(value.into())
            }

            /// The secret value, for the one place that must send or store it.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl ExposeSecret for $name {
            fn expose_secret(&self) -> &str {
                &self.0
            }
        }

        impl From<Secret> for $name {
            fn from(s: Secret) -> Self {
                $name(s.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }
    };
}

secret_type!(
    /// An OAuth client secret (RFC 6749 §2.3.1), from configuration.
    ///
    /// ```
    /// use channel_connect::secret::ClientSecret;
    ///
    /// let s = ClientSecret::new("slack-client-secret");
    /// assert_eq!(format!("{s:?}"), "ClientSecret([redacted])");
    /// assert_eq!(s.expose(), "slack-client-secret");
    /// ```
    ClientSecret
);

/// An authorization code from a callback (RFC 6749 §4.1.2): single-use,
/// short-lived, a credential until it is exchanged.
///
/// Borrowed from the callback's query while the callback is read (verifying
/// copies nothing), owned once [`AuthorizationCode::into_owned`] (or
/// [`VerifiedCallback::into_owned`](crate::VerifiedCallback::into_owned))
/// makes it outlive the query.
///
/// ```
/// use channel_connect::secret::AuthorizationCode;
///
/// let query = String::from("4724469134.4738498362.abc");
/// let code = AuthorizationCode::new(query.as_str()); // borrows the query
/// assert!(!format!("{code:?}").contains("4724"));
/// let owned: AuthorizationCode<'static> = code.into_owned();
/// drop(query);
/// assert_eq!(owned.expose(), "4724469134.4738498362.abc");
/// ```
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct AuthorizationCode<'a>(Cow<'a, str>);

impl<'a> AuthorizationCode<'a> {
    /// Wraps a code: a `&str` is borrowed, a `String` kept.
    pub fn new(value: impl Into<Cow<'a, str>>) -> Self {
        AuthorizationCode(value.into())
    }

    /// The code, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The same code, owning its text.
    pub fn into_owned(self) -> AuthorizationCode<'static> {
        AuthorizationCode(Cow::Owned(self.0.into_owned()))
    }
}

impl fmt::Debug for AuthorizationCode<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthorizationCode([redacted])")
    }
}

impl ExposeSecret for AuthorizationCode<'_> {
    fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl From<Secret> for AuthorizationCode<'_> {
    fn from(s: Secret) -> Self {
        AuthorizationCode(Cow::Owned(s.0))
    }
}

impl<'a> From<&'a str> for AuthorizationCode<'a> {
    fn from(s: &'a str) -> Self {
        AuthorizationCode(Cow::Borrowed(s))
    }
}

impl From<String> for AuthorizationCode<'_> {
    fn from(s: String) -> Self {
        AuthorizationCode(Cow::Owned(s))
    }
}

secret_type!(
    /// An access token (a Slack bot or user token, a Microsoft Graph token).
    ///
    /// ```
    /// use channel_connect::secret::AccessToken;
    ///
    /// let t = AccessToken::new("xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy");
    /// assert_eq!(format!("{t:?}"), "AccessToken([redacted])");
    /// assert_eq!(serde_json::to_string(&t)?, r#""xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy""#);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    AccessToken
);

secret_type!(
    /// A refresh token (Slack token rotation, Microsoft `offline_access`).
    ///
    /// ```
    /// use channel_connect::secret::RefreshToken;
    ///
    /// let t = RefreshToken::new("xoxe-1-refresh");
    /// assert_eq!(format!("{t:?}"), "RefreshToken([redacted])");
    /// ```
    RefreshToken
);

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
