//! Code exchange without I/O: the token requests a verified callback leads to,
//! as values any HTTP client can send, and parsers of the providers' answers.
//!
//! * [`request_for`] picks the request for a [`VerifiedCallback`]: Slack
//!   `oauth.v2.access` for a Slack code, the delegated PKCE token request for
//!   a Teams sign-in code (link-user or connect-proof), and nothing for a
//!   Teams admin consent (it continues with the proof sign-in).
//! * [`slack`] and [`microsoft`] build each request and parse each response
//!   body into typed values; [`crate::records`] turns those into what the
//!   host stores.
//!
//! Nothing here sends anything, reads a clock or draws randomness: the host
//! sends [`HttpRequest`] and hands the response body (and `now`) back.

use std::fmt;

use serde::Deserialize;

use crate::callback::ProviderOutcome;
use crate::config::{ClientId, RedirectUri};
use crate::encode::percent_encode_into;
use crate::provider::msteams::{PROOF_SCOPE, SIGN_IN_SCOPE};
use crate::provider::{MsTeams, Provider, Slack, Tenant};
use crate::secret::Secret;
use crate::service::{ChannelConnect, VerifiedCallback};
use crate::state::Purpose;

pub mod microsoft;
pub mod slack;

pub use microsoft::{
    AppOnlyToken, DelegatedSignIn, IdTokenError, MicrosoftError, MicrosoftErrorKind, TokenEndpointClaims,
};
pub use slack::{
    SlackAuthedUser, SlackErrorCode, SlackIncomingWebhook, SlackInstall, SlackTeam, SlackUserSignIn,
};

/// Largest response body the parsers read: token responses are a few KiB.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// Form fields whose values are credentials: `Debug` never shows them.
const SECRET_FIELDS: &[&str] = &["client_secret", "code", "code_verifier", "refresh_token"];

/// One header of an [`HttpRequest`]. `Debug` hides a sensitive value.
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    name: &'static str,
    value: String,
    sensitive: bool,
}

impl Header {
    /// The header name, as HTTP/1.1 would write it (`Content-Type`).
    pub fn name(&self) -> &str {
        self.name
    }

    /// The value to send.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// True for a credential (`Authorization`): keep it out of logs.
    pub fn is_sensitive(&self) -> bool {
        self.sensitive
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = if self.sensitive { "[redacted]" } else { &self.value };
        f.debug_tuple("Header").field(&self.name).field(&value).finish()
    }
}

#[derive(Clone, PartialEq, Eq)]
struct FormField {
    name: &'static str,
    value: String,
}

/// A token request: `POST url` with an `application/x-www-form-urlencoded`
/// body, `Content-Type` and `Accept: application/json` headers, and any
/// client authentication the provider takes in a header.
///
/// `Debug` hides the `Authorization` value and the secret form fields
/// (`client_secret`, `code`, `code_verifier`, `refresh_token`); the body
/// itself is reachable only through [`HttpRequest::body`], for sending.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    url: String,
    headers: Vec<Header>,
    form: Vec<FormField>,
    body: String,
}

impl HttpRequest {
    /// A form POST to `url` with the two headers every token request has.
    pub(crate) fn form_post(url: impl Into<String>) -> Self {
        HttpRequest {
            url: url.into(),
            headers: Vec::new(),
            form: Vec::new(),
            body: String::new(),
        }
        .with_header("Content-Type", "application/x-www-form-urlencoded", false)
        .with_header("Accept", "application/json", false)
    }

    pub(crate) fn with_header(
        mut self,
        name: &'static str,
        value: impl Into<String>,
        sensitive: bool,
    ) -> Self {
        self.headers.push(Header {
            name,
            value: value.into(),
            sensitive,
        });
        self
    }

    /// Appends `name=value` to the body, percent-encoded.
    pub(crate) fn with_field(mut self, name: &'static str, value: &str) -> Self {
        if !self.body.is_empty() {
            self.body.push('&');
        }
        self.body.push_str(name);
        self.body.push('=');
        percent_encode_into(&mut self.body, value);
        self.form.push(FormField {
            name,
            value: value.to_owned(),
        });
        self
    }

    /// Always `POST`.
    pub fn method(&self) -> &'static str {
        "POST"
    }

    /// The endpoint URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The headers, in the order to send them.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The value of a header, the name compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(Header::value)
    }

    /// The form-encoded body to send (it holds credentials: do not log it).
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The decoded value of one form field of the body.
    pub fn form_field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_str())
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Form<'a>(&'a [FormField]);
        impl fmt::Debug for Form<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map()
                    .entries(self.0.iter().map(|field| {
                        let value = if SECRET_FIELDS.contains(&field.name) {
                            "[redacted]"
                        } else {
                            field.value.as_str()
                        };
                        (field.name, value)
                    }))
                    .finish()
            }
        }
        f.debug_struct("HttpRequest")
            .field("method", &self.method())
            .field("url", &self.url)
            .field("headers", &self.headers)
            .field("form", &Form(&self.form))
            .finish()
    }
}

/// A confidential client's credentials, borrowed from its provider
/// configuration.
#[derive(Clone, Copy, Debug)]
pub struct AppCredentials<'a> {
    /// The client id.
    pub client_id: &'a ClientId,
    /// The client secret (its `Debug` is redacted).
    pub client_secret: &'a Secret,
    /// The redirect URI sent to authorize, repeated byte for byte at the exchange.
    pub redirect_uri: &'a RedirectUri,
}

impl<'a> AppCredentials<'a> {
    /// The credentials of a Slack app.
    pub fn slack(app: &'a Slack) -> Self {
        AppCredentials {
            client_id: app.client_id(),
            client_secret: app.client_secret(),
            redirect_uri: app.redirect_uri(),
        }
    }

    /// The credentials of a Microsoft Entra application.
    pub fn msteams(app: &'a MsTeams) -> Self {
        AppCredentials {
            client_id: app.client_id(),
            client_secret: app.client_secret(),
            redirect_uri: app.redirect_uri(),
        }
    }
}

/// Which token endpoint a provider's callbacks lead to, with what the
/// exchange needs beyond [`Provider::client_id`] and
/// [`Provider::redirect_uri`]. Answered by [`Provider::token_endpoint`].
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum TokenEndpoint<'a> {
    /// Slack `oauth.v2.access`.
    Slack {
        /// The client secret.
        client_secret: &'a Secret,
    },
    /// The Microsoft identity platform v2.0 token endpoint.
    Microsoft {
        /// The client secret.
        client_secret: &'a Secret,
        /// The configured tenant segment (for the delegated code exchange).
        tenant: &'a Tenant,
        /// The signer of a connect-proof must hold an admin role.
        require_admin_role: bool,
    },
}

impl<'a> TokenEndpoint<'a> {
    fn client_secret(&self) -> &'a Secret {
        match *self {
            TokenEndpoint::Slack { client_secret } | TokenEndpoint::Microsoft { client_secret, .. } => {
                client_secret
            }
        }
    }
}

/// Why a token response (or the flow around it) gives nothing to store.
/// No variant carries a token, a code or any other value of the response
/// except the provider's own error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The body is larger than [`MAX_RESPONSE_BYTES`].
    #[error("the token response is larger than {} bytes", MAX_RESPONSE_BYTES)]
    TooLarge,
    /// Not JSON, or JSON with a field of the wrong type. Only the position
    /// is kept: the parser's own message could quote a token.
    #[error("the token response is not JSON of the expected shape (line {line}, column {column})")]
    Malformed {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
    },
    /// A required field is absent, null or empty.
    #[error("the token response has no `{0}`")]
    MissingField(&'static str),
    /// A field has a value this library cannot use (out of range, wrong shape).
    #[error("the token response field `{0}` has an unusable value")]
    InvalidField(&'static str),
    /// The provider answered for another workspace than the one the state
    /// is restricted to (another Slack team, another tenant).
    #[error("the provider answered for another workspace than the state expects")]
    WrongWorkspace,
    /// Slack answered `ok: false`.
    #[error("Slack refused the code exchange: {0}")]
    Slack(SlackErrorCode),
    /// The Microsoft token endpoint answered an error.
    #[error(transparent)]
    Microsoft(#[from] MicrosoftError),
    /// The Microsoft `id_token` failed a check.
    #[error(transparent)]
    IdToken(#[from] IdTokenError),
    /// The verified callback does not lead to this exchange (another
    /// provider, purpose or outcome; a provider without a token endpoint; a
    /// state without what the record needs).
    #[error("nothing to exchange: {0}")]
    WrongFlow(&'static str),
}

/// The exchange a verified callback leads to.
pub(crate) enum Flow<'a> {
    SlackInstall {
        code: &'a Secret,
    },
    SlackSignIn {
        code: &'a Secret,
    },
    /// Teams admin consent: nothing to exchange; the proof sign-in follows.
    TeamsConsent,
    /// A Teams delegated sign-in: link-user, or the connect-proof.
    TeamsSignIn {
        code: &'a Secret,
        tenant: Tenant,
        scope: &'static str,
        proof: bool,
        require_admin_role: bool,
    },
}

/// Finds the provider of a verified callback and the exchange it leads to.
pub(crate) fn resolve<'a>(
    core: &'a ChannelConnect,
    verified: &'a VerifiedCallback,
) -> Result<(Flow<'a>, AppCredentials<'a>), ExchangeError> {
    let state = &verified.state;
    let provider = core
        .provider(state.integration_identifier())
        .ok_or(ExchangeError::WrongFlow("the integration is not configured"))?;
    if provider.id() != state.provider() {
        return Err(ExchangeError::WrongFlow("the state belongs to another provider"));
    }
    let endpoint = provider
        .token_endpoint()
        .ok_or(ExchangeError::WrongFlow("the provider has no token endpoint"))?;
    let app = AppCredentials {
        client_id: provider.client_id(),
        client_secret: endpoint.client_secret(),
        redirect_uri: provider.redirect_uri(),
    };
    let flow = match (endpoint, state.purpose(), &verified.outcome) {
        (TokenEndpoint::Slack { .. }, Purpose::Connect, ProviderOutcome::Code { code }) => {
            Flow::SlackInstall { code }
        }
        (TokenEndpoint::Slack { .. }, Purpose::LinkUser, ProviderOutcome::Code { code }) => {
            Flow::SlackSignIn { code }
        }
        (TokenEndpoint::Microsoft { .. }, Purpose::Connect, ProviderOutcome::AdminConsent { .. }) => {
            Flow::TeamsConsent
        }
        (
            TokenEndpoint::Microsoft {
                tenant,
                require_admin_role,
                ..
            },
            purpose @ (Purpose::LinkUser | Purpose::ConnectProof),
            ProviderOutcome::Code { code },
        ) => {
            let proof = purpose == Purpose::ConnectProof;
            // The sign-in ran in the sealed tenant when there is one.
            let tenant = match state.workspace() {
                Some(w) => {
                    Tenant::new(w).map_err(|_| ExchangeError::WrongFlow("the state's tenant is unusable"))?
                }
                None if proof => return Err(ExchangeError::WrongFlow("a connect-proof state has no tenant")),
                None => tenant.clone(),
            };
            let scope = if !proof || state.links_user() {
                SIGN_IN_SCOPE
            } else {
                PROOF_SCOPE
            };
            Flow::TeamsSignIn {
                code,
                tenant,
                scope,
                proof,
                require_admin_role: proof && require_admin_role,
            }
        }
        _ => {
            return Err(ExchangeError::WrongFlow(
                "the callback outcome does not fit the provider",
            ));
        }
    };
    Ok((flow, app))
}

/// The token request a verified callback leads to: Slack code →
/// `oauth.v2.access`; Teams sign-in code (link-user or connect-proof) → the
/// delegated token request with the PKCE verifier, in the sign-in's tenant.
///
/// `None` when there is nothing to exchange: a Teams admin consent (its
/// [`VerifiedCallback::next`] sign-in proves the tenant; the consent itself
/// proves nothing), a provider without a token endpoint, or a PKCE verifier
/// whose key left the ring.
pub fn request_for(core: &ChannelConnect, verified: &VerifiedCallback) -> Option<HttpRequest> {
    let (flow, app) = resolve(core, verified).ok()?;
    Some(match flow {
        Flow::SlackInstall { code } | Flow::SlackSignIn { code } => slack::access_request(&app, code),
        Flow::TeamsConsent => return None,
        Flow::TeamsSignIn {
            code, tenant, scope, ..
        } => {
            let verifier = core.pkce_verifier(&verified.state)?;
            microsoft::delegated_token_request(&app, &tenant, scope, code, &verifier)
        }
    })
}

/// Deserializes a response body without ever quoting it in an error.
pub(crate) fn parse_json<'de, T: Deserialize<'de>>(body: &'de [u8]) -> Result<T, ExchangeError> {
    if body.len() > MAX_RESPONSE_BYTES {
        return Err(ExchangeError::TooLarge);
    }
    serde_json::from_slice(body).map_err(|e| ExchangeError::Malformed {
        line: e.line(),
        column: e.column(),
    })
}

/// A required string: absent, null and empty are all "missing".
pub(crate) fn required(value: Option<String>, name: &'static str) -> Result<String, ExchangeError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or(ExchangeError::MissingField(name))
}

/// A required secret: absent, null and empty are all "missing".
pub(crate) fn required_secret(value: Option<Secret>, name: &'static str) -> Result<Secret, ExchangeError> {
    value
        .filter(|v| !v.expose().is_empty())
        .ok_or(ExchangeError::MissingField(name))
}

/// `expires_in`: a number of seconds, or (Microsoft v1 style) the same as a
/// string of digits.
pub(crate) fn lenient_seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Seconds {
        Number(u64),
        Text(String),
    }
    match Option::<Seconds>::deserialize(d)? {
        None => Ok(None),
        Some(Seconds::Number(n)) => Ok(Some(n)),
        Some(Seconds::Text(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom("expires_in is not a number of seconds")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_form_encoded_and_debug_redacts() {
        let req = HttpRequest::form_post("https://x.test/token")
            .with_header("Authorization", "Basic c2VjcmV0", true)
            .with_field("scope", "openid profile")
            .with_field("code", "c0de/+")
            .with_field("client_secret", "s3cret");
        assert_eq!(
            req.body(),
            "scope=openid%20profile&code=c0de%2F%2B&client_secret=s3cret"
        );
        assert_eq!(req.form_field("code"), Some("c0de/+"));
        assert_eq!(
            req.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(req.header("ACCEPT"), Some("application/json"));
        let dbg = format!("{req:?}");
        for secret in ["c2VjcmV0", "c0de", "s3cret"] {
            assert!(!dbg.contains(secret), "{dbg}");
        }
        assert!(dbg.contains("openid profile"), "{dbg}");
    }

    #[test]
    fn malformed_json_keeps_no_text() {
        let err = parse_json::<serde_json::Value>(br#"{"access_token": "xoxb-1"#).unwrap_err();
        assert!(matches!(err, ExchangeError::Malformed { .. }));
        assert!(!err.to_string().contains("xoxb"));
        let err = parse_json::<u64>(br#""xoxb-2""#).unwrap_err();
        assert!(!err.to_string().contains("xoxb"), "{err}");
    }
}
