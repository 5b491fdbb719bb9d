//! Provider configuration, validated once at construction.

use std::fmt;

use crate::keys::KeyError;

/// Why a configuration value was refused.
///
/// Configuration is checked once, when it is built, so a bad value fails at
/// startup (or when an environment's row is loaded), never mid-flow.
///
/// ```
/// use channel_connect::{ConfigError, RedirectUri, Tenant};
///
/// let err = RedirectUri::new("http://api.example.com/v1/integrations/chat/oauth/callback").unwrap_err();
/// assert_eq!(err, ConfigError::RedirectUri(channel_connect::config::UrlRule::NotHttps));
/// assert_eq!(err.to_string(), "redirect URI must use https (http only on a loopback host)");
///
/// // `common` lets personal accounts in, and they cannot grant admin consent.
/// assert!(matches!(Tenant::new("common"), Err(ConfigError::TenantNotAllowed(t)) if t == "common"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The client id is empty, longer than 255 bytes, or not visible ASCII.
    #[error("client id must be 1 to 255 visible ASCII characters")]
    ClientId,
    /// The redirect URI breaks a rule; the text says which.
    #[error("redirect URI {0}")]
    RedirectUri(UrlRule),
    /// A provider base URL breaks a rule; the text says which.
    #[error("base URL {0}")]
    BaseUrl(UrlRule),
    /// The tenant is `common` or `consumers`, which admin consent refuses.
    #[error("tenant `{0}` cannot grant admin consent; use `organizations`, a tenant id or a verified domain")]
    TenantNotAllowed(String),
    /// The tenant is neither `organizations`, a GUID nor a domain name.
    #[error("tenant must be `organizations`, a tenant GUID or a domain name")]
    Tenant,
    /// The Slack team restriction is not a team id.
    #[error("Slack team must be a team id such as T0123ABCD")]
    SlackTeam,
    /// The Slack signing secret is empty or holds white space or a control
    /// character.
    #[error("Slack signing secret must be non-empty, without white space or control characters")]
    SlackSigningSecret,
    /// An environment or organization id is empty, too long or has control characters.
    #[error("{0} must be 1 to 255 bytes without control characters")]
    Id(&'static str),
    /// The state lifetime is outside 1 to 3600 seconds.
    #[error("state lifetime must be 1 to 3600 seconds")]
    Lifetime,
    /// The clock skew allowance is above 300 seconds.
    #[error("clock skew allowance must be at most 300 seconds")]
    Skew,
    /// Two integrations share an identifier, or one is invalid.
    #[error("integration identifier `{0}` is duplicated or invalid")]
    Integration(String),
    /// A provider id is not 1 to 32 bytes of `[a-z0-9_-]`.
    #[error("provider id `{0}` must be 1 to 32 characters of a-z, 0-9, '_' or '-'")]
    ProviderId(String),
    /// An environment secret key (for `contextHash`) is shorter than 16 bytes.
    #[error("environment secret keys must be at least 16 bytes")]
    EnvironmentSecretKey,
    /// A signing key problem.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// The rule a redirect URI or base URL breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlRule {
    /// Longer than 256 characters (Microsoft's limit for redirect URIs).
    #[error("must be at most 256 characters")]
    TooLong,
    /// Not an absolute URL.
    #[error("must be an absolute URL")]
    NotAbsolute,
    /// Has a fragment.
    #[error("must not have a fragment")]
    Fragment,
    /// Has a query or a fragment (base URLs).
    #[error("must not have a query or a fragment")]
    QueryOrFragment,
    /// Carries a user name or password.
    #[error("must not carry credentials")]
    Credentials,
    /// Has no host.
    #[error("must have a host")]
    NoHost,
    /// Neither https nor http on a loopback host.
    #[error("must use https (http only on a loopback host)")]
    NotHttps,
}

/// An OAuth client id (Slack app client id, Microsoft application id).
///
/// Not a secret: it appears in every authorize URL. `Debug` shows it.
///
/// ```
/// use channel_connect::ClientId;
///
/// // Slack: "Client ID" under Basic Information of the app's settings.
/// let slack = ClientId::new("1234567890.1234567890")?;
/// // Microsoft Entra: the "Application (client) ID" of the app registration.
/// let teams = ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?;
/// assert_eq!(slack.as_str(), "1234567890.1234567890");
/// assert_eq!(format!("{teams:?}"), r#"ClientId("6731de76-14a6-49ae-97bc-6eba6914391e")"#);
/// # Ok::<(), channel_connect::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientId(String);

impl ClientId {
    /// Checks the client id: 1 to 255 visible ASCII characters.
    ///
    /// ```
    /// use channel_connect::{ClientId, ConfigError};
    ///
    /// assert!(ClientId::new("1234567890.1234567890").is_ok());
    /// // An unset environment variable, or a value pasted with a trailing newline.
    /// assert_eq!(ClientId::new("").unwrap_err(), ConfigError::ClientId);
    /// assert_eq!(ClientId::new("1234567890.1234567890\n").unwrap_err(), ConfigError::ClientId);
    /// ```
    pub fn new(value: impl Into<String>) -> Result<Self, ConfigError> {
        let v = value.into();
        if v.is_empty() || v.len() > 255 || !v.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::ClientId);
        }
        Ok(ClientId(v))
    }

    /// The client id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Longest redirect URI Microsoft accepts.
pub const MAX_REDIRECT_URI_LEN: usize = 256;

/// A redirect URI: absolute, `https` (or `http` on a loopback host only), no
/// fragment, no userinfo, at most 256 characters. Kept byte for byte, since
/// the code exchange must repeat it exactly.
///
/// Register the same string with the provider: Slack's "Redirect URLs"
/// (OAuth & Permissions), Microsoft's "Redirect URIs" of the Web platform
/// (Authentication). Microsoft allows `http` only for `localhost`, and
/// limits redirect URIs to 256 characters.
///
/// ```
/// use channel_connect::RedirectUri;
///
/// let production = RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?;
/// assert_eq!(production.as_str(), "https://api.example.com/v1/integrations/chat/oauth/callback");
/// // Local development on a loopback host may use http.
/// assert!(RedirectUri::new("http://localhost:3000/v1/integrations/chat/oauth/callback").is_ok());
///
/// assert!(RedirectUri::new("http://api.example.com/callback").is_err()); // http off loopback
/// assert!(RedirectUri::new("https://api.example.com/callback#done").is_err()); // a fragment
/// assert!(RedirectUri::new("/v1/integrations/chat/oauth/callback").is_err()); // relative
/// # Ok::<(), channel_connect::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectUri(String);

impl RedirectUri {
    /// Checks the URI.
    ///
    /// ```
    /// use channel_connect::{ConfigError, RedirectUri};
    ///
    /// assert!(RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback").is_ok());
    /// assert_eq!(
    ///     RedirectUri::new("https://user:pass@api.example.com/callback").unwrap_err(),
    ///     ConfigError::RedirectUri(channel_connect::config::UrlRule::Credentials)
    /// );
    /// let long = format!("https://api.example.com/{}", "a".repeat(240));
    /// assert_eq!(
    ///     RedirectUri::new(long).unwrap_err(),
    ///     ConfigError::RedirectUri(channel_connect::config::UrlRule::TooLong)
    /// );
    /// ```
    pub fn new(value: impl Into<String>) -> Result<Self, ConfigError> {
        let v = value.into();
        if v.len() > MAX_REDIRECT_URI_LEN {
            return Err(ConfigError::RedirectUri(UrlRule::TooLong));
        }
        let parsed = url::Url::parse(&v).map_err(|_| ConfigError::RedirectUri(UrlRule::NotAbsolute))?;
        if v.contains('#') {
            return Err(ConfigError::RedirectUri(UrlRule::Fragment));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(ConfigError::RedirectUri(UrlRule::Credentials));
        }
        let Some(loopback) = is_loopback(&parsed) else {
            return Err(ConfigError::RedirectUri(UrlRule::NoHost));
        };
        match parsed.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(ConfigError::RedirectUri(UrlRule::NotHttps));
            }
            _ => return Err(ConfigError::RedirectUri(UrlRule::NotHttps)),
        }
        // Byte for byte: the value as given, not url's normalization of it.
        Ok(RedirectUri(v))
    }

    /// The URI exactly as configured: not normalized, since the code exchange
    /// must send the same bytes the authorize URL did (RFC 6749 section
    /// 4.1.3).
    ///
    /// ```
    /// use channel_connect::RedirectUri;
    ///
    /// let uri = RedirectUri::new("https://API.example.com:443/v1/integrations/chat/oauth/callback")?;
    /// assert_eq!(uri.as_str(), "https://API.example.com:443/v1/integrations/chat/oauth/callback");
    /// # Ok::<(), channel_connect::ConfigError>(())
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether the URL's host is loopback (`localhost`, `127.0.0.0/8`, `::1`);
/// `None` without a host.
fn is_loopback(url: &url::Url) -> Option<bool> {
    Some(match url.host()? {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    })
}

/// The base URL of a provider's endpoints (Slack's `https://slack.com`, a
/// Microsoft authority, Microsoft Graph), so any cloud and any local
/// stand-in can be configured: `https`, or `http` on a loopback host only;
/// no userinfo, query or fragment; a path is kept (without its trailing
/// `/`), for stand-ins mounted under a prefix.
///
/// ```
/// use channel_connect::BaseUrl;
///
/// assert_eq!(BaseUrl::new("https://slack-gov.com/")?.as_str(), "https://slack-gov.com");
/// assert!(BaseUrl::new("http://127.0.0.1:8025").is_ok()); // a local stand-in
/// assert!(BaseUrl::new("http://example.com").is_err()); // plain http off loopback
/// # Ok::<(), channel_connect::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    /// Checks the URL, and normalizes it (lower-case scheme and host, no
    /// default port, no trailing `/`).
    ///
    /// ```
    /// use channel_connect::{BaseUrl, ConfigError};
    ///
    /// assert_eq!(BaseUrl::new("HTTPS://Login.MicrosoftOnline.us:443/")?.as_str(), "https://login.microsoftonline.us");
    /// assert_eq!(
    ///     BaseUrl::new("https://slack.com/api?token=x").unwrap_err(),
    ///     ConfigError::BaseUrl(channel_connect::config::UrlRule::QueryOrFragment)
    /// );
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn new(value: &str) -> Result<Self, ConfigError> {
        let parsed = url::Url::parse(value).map_err(|_| ConfigError::BaseUrl(UrlRule::NotAbsolute))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(ConfigError::BaseUrl(UrlRule::Credentials));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() || value.contains(['?', '#']) {
            return Err(ConfigError::BaseUrl(UrlRule::QueryOrFragment));
        }
        let loopback = is_loopback(&parsed).ok_or(ConfigError::BaseUrl(UrlRule::NoHost))?;
        match parsed.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => {
                return Err(ConfigError::BaseUrl(UrlRule::NotHttps));
            }
        }
        // The normalized form (lower-case host, default port dropped), so the
        // issuer comparison of id_tokens sees what Microsoft writes.
        Ok(BaseUrl(parsed.as_str().trim_end_matches('/').to_owned()))
    }

    pub(crate) fn from_static(value: &'static str) -> Self {
        BaseUrl(value.to_owned())
    }

    /// The URL, without a trailing `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_rules() {
        for ok in [
            "https://slack.com",
            "https://login.microsoftonline.us/",
            "http://127.0.0.1:8025",
            "http://localhost:9000/slack/",
            "http://[::1]:80",
        ] {
            assert!(BaseUrl::new(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            BaseUrl::new("HTTPS://Slack.COM:443/").unwrap().as_str(),
            "https://slack.com"
        );
        assert_eq!(
            BaseUrl::new("http://localhost:9000/slack/").unwrap().as_str(),
            "http://localhost:9000/slack"
        );
        for bad in [
            "http://example.com",
            "ftp://slack.com",
            "https://u:p@slack.com",
            "https://slack.com?x=1",
            "https://slack.com#f",
            "slack.com",
            "",
        ] {
            assert!(matches!(BaseUrl::new(bad), Err(ConfigError::BaseUrl(_))), "{bad}");
        }
    }

    #[test]
    fn redirect_uri_rules() {
        for ok in [
            "https://api.example.com/v1/integrations/chat/oauth/callback",
            "http://localhost:3000/v1/integrations/chat/oauth/callback",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
        ] {
            assert_eq!(RedirectUri::new(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "http://example.com/cb",
            "https://example.com/cb#frag",
            "ftp://example.com/cb",
            "/relative",
            "https://user:pw@example.com/cb",
        ] {
            assert!(RedirectUri::new(bad).is_err(), "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(240));
        assert!(RedirectUri::new(long).is_err());
    }

    #[test]
    fn client_id_rules() {
        assert!(ClientId::new("123.456").is_ok());
        assert!(ClientId::new("").is_err());
        assert!(ClientId::new("a b").is_err());
    }
}
