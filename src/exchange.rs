//! The code exchange, provider-neutral: what a provider is handed to build
//! the token request of a verified callback ([`Exchange`]), why a provider's
//! answer gives nothing to store ([`ExchangeError`]), and the small readers
//! every provider's parsers share.
//!
//! The provider that verified a callback owns its exchange:
//! [`crate::VerifiedCallback::token_request`] and
//! [`crate::VerifiedCallback::records`] call it. Nothing here sends anything,
//! reads a clock or draws randomness.
//!
//! (Most of this file's length is the runnable examples in its doc comments;
//! the code, tests included, is about 260 lines.)

use serde::Deserialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::callback::ProviderOutcome;
use crate::http::HttpResponse;
use crate::pkce::PkceVerifier;
use crate::secret::{AuthorizationCode, ExposeSecret};
use crate::state::VerifiedState;

/// Largest response body the parsers read: token responses are a few KiB.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// What a provider gets to exchange a verified callback: the state, what the
/// callback said, and the PKCE verifier the core re-derived from the state
/// (for states of a purpose that uses PKCE, while their key is in the ring).
///
/// [`crate::VerifiedCallback`] builds one for its provider; a provider's
/// [`crate::Provider::token_request`] and [`crate::Provider::records`]
/// receive it.
///
/// ```
/// use channel_connect::exchange::Exchange;
/// # use channel_connect::*;
/// # use time::{Duration, OffsetDateTime};
/// # let slack = Slack::new(
/// #     ClientId::new("1234567890.1234567890")?,
/// #     Secret::new("slack-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
/// #     .integration(Integration::new("slack", slack))
/// #     .build()?;
/// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
/// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
/// # let query = format!("code=4724.demo-code&state={}", issued.state().unwrap());
/// let verified = core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now + Duration::seconds(20)))?;
/// let exchange = Exchange::new(&verified.state, &verified.outcome, verified.pkce_verifier());
/// assert_eq!(exchange.code().map(channel_connect::secret::AuthorizationCode::expose), Some("4724.demo-code"));
/// assert!(exchange.pkce_verifier.is_none()); // Slack uses no PKCE
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Exchange<'a> {
    /// The authenticated state.
    pub state: &'a VerifiedState,
    /// The provider's answer at the callback.
    pub outcome: &'a ProviderOutcome<'a>,
    /// The PKCE verifier, when the authorize URL carried a challenge.
    pub pkce_verifier: Option<&'a PkceVerifier>,
    /// The answer to [`crate::Provider::identity_request`], when the
    /// provider asked for one (Webex: `GET /v1/people/me`); see
    /// [`Exchange::with_identity`].
    pub identity: Option<&'a HttpResponse<'a>>,
}

impl<'a> Exchange<'a> {
    /// The facts of one verified callback.
    ///
    /// ```
    /// use channel_connect::exchange::Exchange;
    /// # use channel_connect::*;
    /// # use time::{Duration, OffsetDateTime};
    /// # let slack = Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
    /// #     .integration(Integration::new("slack", slack))
    /// #     .build()?;
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// # let query = format!("code=4724.demo-code&state={}", issued.state().unwrap());
    /// let verified = core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now + Duration::seconds(20)))?;
    /// // What `verified.token_request()` does, by hand.
    /// let exchange = Exchange::new(&verified.state, &verified.outcome, verified.pkce_verifier());
    /// let request = verified.provider().token_request(&exchange)?.expect("a Slack code is redeemed");
    /// assert_eq!(request.url(), "https://slack.com/api/oauth.v2.access");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(
        state: &'a VerifiedState,
        outcome: &'a ProviderOutcome<'a>,
        pkce_verifier: Option<&'a PkceVerifier>,
    ) -> Self {
        Exchange {
            state,
            outcome,
            pkce_verifier,
            identity: None,
        }
    }

    /// The same exchange with the answer to the provider's
    /// [`crate::Provider::identity_request`], for its
    /// [`crate::Provider::records`].
    ///
    /// ```
    /// use channel_connect::exchange::Exchange;
    /// use channel_connect::http::HttpResponse;
    /// # use channel_connect::*;
    /// # use time::{Duration, OffsetDateTime};
    /// # let slack = Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
    /// #     .integration(Integration::new("slack", slack))
    /// #     .build()?;
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// # let query = format!("code=4724.demo-code&state={}", issued.state().unwrap());
    /// let verified = core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now + Duration::seconds(20)))?;
    /// let person = HttpResponse::new(200, br#"{"id":"p1","orgId":"o1"}"#);
    /// let exchange = Exchange::new(&verified.state, &verified.outcome, None).with_identity(&person);
    /// assert_eq!(exchange.identity.map(|r| r.status), Some(200));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_identity(mut self, identity: &'a HttpResponse<'a>) -> Self {
        self.identity = Some(identity);
        self
    }

    /// The authorization code, when the callback carried one.
    ///
    /// ```
    /// use channel_connect::exchange::Exchange;
    /// use channel_connect::{ProviderOutcome, UnverifiedTenant};
    /// # use channel_connect::*;
    /// # use time::{Duration, OffsetDateTime};
    /// # let slack = Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
    /// #     .integration(Integration::new("slack", slack))
    /// #     .build()?;
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// # let query = format!("code=4724.demo-code&state={}", issued.state().unwrap());
    /// let verified = core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now + Duration::seconds(20)))?;
    /// assert!(Exchange::new(&verified.state, &verified.outcome, None).code().is_some());
    ///
    /// // A Teams admin consent carries no code.
    /// let consent = ProviderOutcome::AdminConsent {
    ///     tenant: UnverifiedTenant::new("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap(),
    ///     scope: None,
    /// };
    /// assert!(Exchange::new(&verified.state, &consent, None).code().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn code(&self) -> Option<&'a AuthorizationCode<'a>> {
        match self.outcome {
            ProviderOutcome::Code { code } => Some(code),
            _ => None,
        }
    }
}

/// Why a provider's answer (or the flow around it) gives nothing to store.
/// No variant carries a token, a code or any other value of the response
/// except the provider's own error code.
///
/// Answer it with [`ExchangeError::to_json`] and [`ExchangeError::status`];
/// match on it to decide what to do next.
///
/// ```
/// use channel_connect::exchange::{ExchangeError, ProviderErrorKind};
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::slack::oauth;
///
/// // The code was already redeemed (a double-submitted callback).
/// let answer = HttpResponse::new(200, br#"{"ok":false,"error":"code_already_used"}"#);
/// let err = oauth::parse_install(&answer).unwrap_err();
/// assert!(matches!(&err, ExchangeError::Provider(e) if e.kind() == ProviderErrorKind::InvalidGrant));
/// assert_eq!(err.status(), 400);
///
/// // A proxy's 503 page is no answer at all.
/// let err = oauth::parse_install(&HttpResponse::new(503, b"<html>Service Unavailable</html>")).unwrap_err();
/// assert_eq!((err.clone(), err.status()), (ExchangeError::HttpStatus(503), 502));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The body is larger than [`MAX_RESPONSE_BYTES`].
    #[error("the provider's answer is larger than {} bytes", MAX_RESPONSE_BYTES)]
    TooLarge,
    /// A status that is neither success nor a documented error answer.
    #[error("the provider answered HTTP {0}")]
    HttpStatus(u16),
    /// Not JSON, or JSON with a field of the wrong type. Only the position
    /// is kept: the parser's own message could quote a token.
    #[error("the provider's answer is not JSON of the expected shape (line {line}, column {column})")]
    Malformed {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
    },
    /// A required field is absent, null or empty.
    #[error("the provider's answer has no `{0}`")]
    MissingField(&'static str),
    /// A field has a value this library cannot use (out of range, wrong shape).
    #[error("the provider's answer field `{0}` has an unusable value")]
    InvalidField(&'static str),
    /// The provider answered with an error.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The `id_token` of a sign-in failed a check.
    #[error(transparent)]
    IdToken(#[from] IdTokenError),
    /// The provider answered for another workspace than the one the state
    /// is restricted to (another Slack team, another tenant).
    #[error("the provider answered for another workspace than the state expects")]
    WrongWorkspace,
    /// The verified callback does not lead to this exchange (another
    /// provider, purpose or outcome; a provider without a token endpoint; a
    /// state without what the record needs).
    #[error("nothing to exchange: {0}")]
    WrongFlow(FlowMismatch),
}

/// An error answer of a provider, made safe to show: the code bounded to
/// `[a-z0-9_]{1,64}` (else `unrecognized`), the description plain text of
/// at most 256 bytes. `Display` shows the provider, the code and the
/// detail (such as `AADSTS70008`), never the description.
///
/// ```
/// use channel_connect::exchange::{ExchangeError, ProviderErrorKind};
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::msteams::token;
/// use time::OffsetDateTime;
///
/// // Microsoft's answer to a client-credentials request for a tenant that never consented.
/// let body = br#"{"error":"invalid_client","error_description":"AADSTS700016: Application with identifier '6731de76-14a6-49ae-97bc-6eba6914391e' was not found in the directory 'Contoso'.","error_codes":[700016]}"#;
/// let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// let Err(ExchangeError::Provider(e)) = token::parse_app_only_token(&HttpResponse::new(400, body), now) else {
///     panic!("a provider error");
/// };
/// assert_eq!(e.kind(), ProviderErrorKind::NotConsented);
/// assert_eq!(e.to_string(), "Microsoft refused the request: invalid_client (AADSTS700016)");
/// assert!(e.description().unwrap().starts_with("AADSTS700016: Application with identifier"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderError {
    provider: std::borrow::Cow<'static, str>,
    code: String,
    kind: ProviderErrorKind,
    detail: Option<String>,
    description: Option<String>,
}

impl ProviderError {
    /// An error of `provider` (its display name, static or known only at run
    /// time) with its raw `code`; the code is bounded here.
    ///
    /// ```
    /// use channel_connect::exchange::{ProviderError, ProviderErrorKind};
    ///
    /// let e = ProviderError::new("Discord", Some("invalid_grant"), ProviderErrorKind::InvalidGrant);
    /// assert_eq!(e.to_string(), "Discord refused the request: invalid_grant");
    ///
    /// // Whatever the network sent that is not an error code never reaches a message.
    /// let e = ProviderError::new("Discord", Some("<img src=x onerror=alert(1)>"), ProviderErrorKind::Other);
    /// assert_eq!(e.code(), "unrecognized");
    /// ```
    pub fn new(
        provider: impl Into<std::borrow::Cow<'static, str>>,
        code: Option<&str>,
        kind: ProviderErrorKind,
    ) -> Self {
        ProviderError {
            provider: provider.into(),
            code: crate::text::error_code(code),
            kind,
            detail: None,
            description: None,
        }
    }

    /// Adds a short detail code (`AADSTS70008`): `[A-Za-z0-9_]`, at most 32.
    /// Anything else is dropped.
    ///
    /// ```
    /// use channel_connect::exchange::{ProviderError, ProviderErrorKind};
    ///
    /// let e = ProviderError::new("Microsoft", Some("invalid_grant"), ProviderErrorKind::InvalidGrant);
    /// assert_eq!(e.clone().with_detail("AADSTS70008").detail(), Some("AADSTS70008"));
    /// assert_eq!(e.with_detail("AADSTS70008: expired").detail(), None);
    /// ```
    pub fn with_detail(mut self, detail: &str) -> Self {
        let ok = (1..=32).contains(&detail.len())
            && detail.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        self.detail = ok.then(|| detail.to_owned());
        self
    }

    /// Adds the provider's description, reduced to plain text for logs:
    /// markup and control characters removed, at most 256 bytes.
    ///
    /// ```
    /// use channel_connect::exchange::{ProviderError, ProviderErrorKind};
    ///
    /// let e = ProviderError::new("Microsoft", Some("invalid_grant"), ProviderErrorKind::InvalidGrant)
    ///     .with_description(Some("<b>AADSTS70008:</b> The provided authorization code or refresh token has expired.\r\nTrace ID: 0b5f"));
    /// assert_eq!(
    ///     e.description(),
    ///     Some("AADSTS70008: The provided authorization code or refresh token has expired. Trace ID: 0b5f")
    /// );
    /// // Nothing left once stripped: no description.
    /// assert_eq!(e.with_description(Some("<script></script>")).description(), None);
    /// ```
    pub fn with_description(mut self, description: Option<&str>) -> Self {
        self.description = description.and_then(crate::text::description);
        self
    }

    /// The provider's display name.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The error code (`invalid_code`, `invalid_grant`, ...), or `unrecognized`.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// What it means.
    pub fn kind(&self) -> ProviderErrorKind {
        self.kind
    }

    /// A finer code, when the provider sent one (`AADSTS70008`).
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// The description as plain text: for logs, never for end users.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
}

impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} refused the request: {}", self.provider, self.code)?;
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ProviderError {}

/// Why an OpenID Connect `id_token` received from a token endpoint was
/// refused. No variant carries a claim value.
///
/// It reaches the host inside [`ExchangeError::IdToken`], answered 403: the
/// sign-in proved another identity than the flow's.
///
/// ```
/// use channel_connect::exchange::{ExchangeError, IdTokenError};
///
/// let err = ExchangeError::from(IdTokenError::WrongTenant);
/// assert_eq!(err.status(), 403);
/// assert_eq!(err.to_string(), "the id_token belongs to another tenant than the expected one");
/// ```
///
/// [`crate::provider::msteams::token::parse_delegated_response`] shows the
/// checks that produce it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenError {
    /// Not three base64url segments with a JSON header and payload.
    #[error("the id_token is not a JWT")]
    Malformed,
    /// A required claim is absent or empty.
    #[error("the id_token has no `{0}` claim")]
    MissingClaim(&'static str),
    /// A claim has a value of the wrong shape (a time out of range).
    #[error("the id_token claim `{0}` is unusable")]
    InvalidClaim(&'static str),
    /// The tenant claim is not a tenant id.
    #[error("the id_token tenant id is not a GUID")]
    TenantId,
    /// `aud` is not this application's client id.
    #[error("the id_token was issued for another application")]
    Audience,
    /// `iss` is not the configured authority's issuer for the tenant.
    #[error("the id_token issuer does not match its tenant")]
    Issuer,
    /// `exp` is past (beyond the leeway).
    #[error("the id_token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("the id_token is not valid yet")]
    NotYetValid,
    /// The tenant is a consumer tenant (a personal Microsoft account), which
    /// has no Teams organization.
    #[error("the id_token belongs to a personal Microsoft account")]
    ConsumerTenant,
    /// The sign-in was restricted to a tenant (the tenant a connect claimed,
    /// the tenant of the connection a user is linked to, or a configured
    /// tenant) and the token names another.
    #[error("the id_token belongs to another tenant than the expected one")]
    WrongTenant,
    /// An admin role was required and the token names none.
    #[error("the signer holds no role that can grant admin consent")]
    NotAdmin,
}

/// Why a verified callback does not lead to the exchange or record asked
/// of it: the host (or a provider) took the wrong path, not the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlowMismatch {
    /// The callback carried no code to exchange.
    #[error("the callback carried no code")]
    NoCode,
    /// A PKCE sign-in whose verifier cannot be re-derived (its key left the ring).
    #[error("no PKCE verifier: the state's key left the ring")]
    NoPkceVerifier,
    /// The provider has no proof sign-in (Slack).
    #[error("this provider has no proof sign-in")]
    NoProofSignIn,
    /// A connection needs a connect (or connect-proof) state.
    #[error("a connection needs a connect state")]
    NeedsConnectState,
    /// A Teams connection needs a connect-proof state.
    #[error("a Teams connection needs a connect-proof state")]
    NeedsProofState,
    /// A user link needs a link-user state, or a proof that links the user.
    #[error("a user link needs a link-user state or a proof that links the user")]
    NeedsLinkUserState,
    /// An endpoint needs a subscriber.
    #[error("an endpoint needs a subscriber")]
    NeedsSubscriber,
    /// The connect state names no connection.
    #[error("the connect state has no connection identifier")]
    NoConnectionIdentifier,
    /// The state's context data is not a JSON object.
    #[error("the state's context data is not a JSON object")]
    ContextData,
    /// The state carries no usable tenant for a Teams sign-in.
    #[error("the state carries no usable tenant")]
    NoTenant,
    /// An admin consent proves no tenant: its proof sign-in yields the records.
    #[error("an admin consent proves no tenant: follow its sign-in")]
    AdminConsentProvesNothing,
    /// The provider exchanges nothing.
    #[error("this provider exchanges nothing")]
    NothingToExchange,
    /// The records need the answer to the provider's identity request
    /// ([`crate::Provider::identity_request`]), and none was given.
    #[error("the records need the answer to the provider's identity request")]
    NoIdentity,
}

/// What a provider's error code means, across providers.
///
/// ```
/// use channel_connect::exchange::{ExchangeError, ProviderErrorKind};
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::slack::oauth;
///
/// // What a host does with a failed code exchange.
/// fn next_step(err: &ExchangeError) -> &'static str {
///     match err {
///         ExchangeError::Provider(e) => match e.kind() {
///             ProviderErrorKind::RateLimited => "retry later",
///             ProviderErrorKind::InvalidGrant => "start the flow again",
///             ProviderErrorKind::InvalidClient | ProviderErrorKind::RedirectUriMismatch => "page the on-call: configuration",
///             _ => "show a generic error",
///         },
///         _ => "show a generic error",
///     }
/// }
/// let limited = oauth::parse_install(&HttpResponse::new(429, b"")).unwrap_err();
/// assert_eq!(next_step(&limited), "retry later");
/// let bad_secret = oauth::parse_install(&HttpResponse::new(200, br#"{"ok":false,"error":"bad_client_secret"}"#)).unwrap_err();
/// assert_eq!(next_step(&bad_secret), "page the on-call: configuration");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderErrorKind {
    /// The code or refresh token is unknown, expired or already used
    /// (Slack `invalid_code`, `code_already_used`, `invalid_refresh_token`;
    /// Microsoft AADSTS70008, AADSTS54005, `invalid_grant`).
    InvalidGrant,
    /// The redirect URI differs from the one sent to authorize.
    RedirectUriMismatch,
    /// The client id or secret is wrong (`invalid_client`, `bad_client_secret`).
    InvalidClient,
    /// The application is not in that tenant or workspace, or not consented
    /// there (AADSTS700016, AADSTS65001, `consent_required`).
    NotConsented,
    /// The token no longer works (`token_revoked`, `invalid_auth`,
    /// `account_inactive`).
    TokenRevoked,
    /// The application lacks a permission the call needs (Graph 403).
    Forbidden,
    /// Slow down (HTTP 429, `ratelimited`).
    RateLimited,
    /// Not found (an app missing from the catalog, a user unknown).
    NotFound,
    /// Anything else.
    Other,
}

impl ExchangeError {
    /// The HTTP status a service answers with: 400 when the provider refused
    /// the grant (an expired or reused code), 403 when the answer proves
    /// another identity than the flow's, 500 for a flow the host got wrong,
    /// 502 for an answer that cannot be used.
    ///
    /// ```
    /// use channel_connect::exchange::{ExchangeError, ProviderError, ProviderErrorKind};
    ///
    /// let expired = ProviderError::new("Slack", Some("invalid_code"), ProviderErrorKind::InvalidGrant);
    /// assert_eq!(ExchangeError::from(expired).status(), 400);
    /// assert_eq!(ExchangeError::WrongWorkspace.status(), 403);
    /// assert_eq!(ExchangeError::MissingField("access_token").status(), 502);
    /// assert_eq!(ExchangeError::WrongFlow(channel_connect::exchange::FlowMismatch::NoCode).status(), 500);
    /// ```
    pub fn status(&self) -> u16 {
        use ProviderErrorKind as K;
        match self {
            ExchangeError::Provider(e) => match e.kind {
                K::InvalidGrant | K::RedirectUriMismatch => 400,
                K::NotConsented | K::Forbidden => 403,
                K::RateLimited => 429,
                K::NotFound => 404,
                K::InvalidClient | K::TokenRevoked | K::Other => 502,
            },
            ExchangeError::IdToken(_) | ExchangeError::WrongWorkspace => 403,
            ExchangeError::WrongFlow(_) => 500,
            ExchangeError::TooLarge
            | ExchangeError::HttpStatus(_)
            | ExchangeError::Malformed { .. }
            | ExchangeError::MissingField(_)
            | ExchangeError::InvalidField(_) => 502,
        }
    }

    /// `{"statusCode": N, "message": "..."}`, the shape of every error body.
    ///
    /// ```
    /// use channel_connect::exchange::ExchangeError;
    /// use serde_json::json;
    ///
    /// assert_eq!(
    ///     ExchangeError::WrongWorkspace.to_json(),
    ///     json!({"statusCode": 403, "message": "the provider answered for another workspace than the state expects"})
    /// );
    /// ```
    pub fn to_json(&self) -> serde_json::Value {
        crate::text::error_body(self.status(), &self.to_string())
    }
}

/// Reads a JSON body without ever quoting it in an error, refusing bodies
/// over [`MAX_RESPONSE_BYTES`].
///
/// ```
/// use channel_connect::exchange::{ExchangeError, parse_json};
/// use channel_connect::http::HttpResponse;
/// use channel_connect::Secret;
///
/// #[derive(Debug, serde::Deserialize)]
/// struct TokenAnswer {
///     access_token: Option<Secret>,
///     expires_in: Option<u64>,
/// }
/// let answer: TokenAnswer = parse_json(&HttpResponse::new(200, br#"{"access_token":"tok-1","expires_in":3600}"#))?;
/// assert_eq!((answer.access_token.unwrap().expose(), answer.expires_in), ("tok-1", Some(3600)));
///
/// // A cut-off body: the error names a position, never the token it saw.
/// let err = parse_json::<TokenAnswer>(&HttpResponse::new(200, br#"{"access_token":"tok-1""#)).unwrap_err();
/// assert!(matches!(err, ExchangeError::Malformed { line: 1, .. }));
/// assert!(!err.to_string().contains("tok-1"));
/// # Ok::<(), ExchangeError>(())
/// ```
pub fn parse_json<T: DeserializeOwned>(response: &HttpResponse<'_>) -> Result<T, ExchangeError> {
    if response.body.len() > MAX_RESPONSE_BYTES {
        return Err(ExchangeError::TooLarge);
    }
    serde_json::from_slice(response.body).map_err(|e| ExchangeError::Malformed {
        line: e.line(),
        column: e.column(),
    })
}

/// A required string: absent, null and empty are all "missing".
///
/// ```
/// use channel_connect::exchange::{ExchangeError, required};
///
/// assert_eq!(required(Some("T9TK3CUKW".into()), "team.id")?, "T9TK3CUKW");
/// assert_eq!(required(Some(String::new()), "team.id"), Err(ExchangeError::MissingField("team.id")));
/// assert_eq!(required(None, "team.id"), Err(ExchangeError::MissingField("team.id")));
/// # Ok::<(), ExchangeError>(())
/// ```
pub fn required(value: Option<String>, name: &'static str) -> Result<String, ExchangeError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or(ExchangeError::MissingField(name))
}

/// A required secret: absent, null and empty are all "missing".
///
/// ```
/// use channel_connect::exchange::{ExchangeError, required_secret};
/// use channel_connect::Secret;
///
/// assert_eq!(required_secret(Some(Secret::new("xoxb-1")), "access_token")?.expose(), "xoxb-1");
/// assert_eq!(
///     required_secret(Some(Secret::new("")), "access_token"),
///     Err(ExchangeError::MissingField("access_token"))
/// );
/// # Ok::<(), ExchangeError>(())
/// ```
pub fn required_secret<T: ExposeSecret>(value: Option<T>, name: &'static str) -> Result<T, ExchangeError> {
    value
        .filter(|v| !v.expose_secret().is_empty())
        .ok_or(ExchangeError::MissingField(name))
}

/// `now + expires_in`, in whole seconds; `InvalidField(field)` past the
/// representable range.
///
/// ```
/// use channel_connect::exchange::{ExchangeError, expires_at};
/// use time::{Duration, OffsetDateTime};
///
/// let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// // Slack token rotation: `"expires_in": 43200`, twelve hours.
/// assert_eq!(expires_at(now, Some(43_200), "expires_in")?, Some(now + Duration::hours(12)));
/// assert_eq!(expires_at(now, None, "expires_in")?, None); // a token that does not expire
/// assert_eq!(expires_at(now, Some(u64::MAX), "expires_in"), Err(ExchangeError::InvalidField("expires_in")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn expires_at(
    now: OffsetDateTime,
    expires_in: Option<u64>,
    field: &'static str,
) -> Result<Option<OffsetDateTime>, ExchangeError> {
    let Some(secs) = expires_in else {
        return Ok(None);
    };
    i64::try_from(secs)
        .ok()
        .and_then(|s| now.unix_timestamp().checked_add(s))
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .map(Some)
        .ok_or(ExchangeError::InvalidField(field))
}

/// Deserializes `expires_in`: a number of seconds, or (Microsoft v1 style)
/// the same as a string of digits. For `#[serde(deserialize_with)]`.
///
/// ```
/// use channel_connect::exchange::lenient_seconds;
///
/// #[derive(serde::Deserialize)]
/// struct Answer {
///     #[serde(default, deserialize_with = "lenient_seconds")]
///     expires_in: Option<u64>,
/// }
/// let read = |json: &str| serde_json::from_str::<Answer>(json).map(|a| a.expires_in);
/// assert_eq!(read(r#"{"expires_in": 3599}"#)?, Some(3599));
/// assert_eq!(read(r#"{"expires_in": "3599"}"#)?, Some(3599));
/// assert_eq!(read(r#"{}"#)?, None);
/// assert!(read(r#"{"expires_in": "an hour"}"#).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn lenient_seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
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
    fn malformed_json_keeps_no_text() {
        let err = parse_json::<serde_json::Value>(&HttpResponse::new(200, br#"{"access_token": "xoxb-1"#))
            .unwrap_err();
        assert!(matches!(err, ExchangeError::Malformed { .. }));
        assert!(!err.to_string().contains("xoxb"));
        let err = parse_json::<u64>(&HttpResponse::new(200, br#""xoxb-2""#)).unwrap_err();
        assert!(!err.to_string().contains("xoxb"), "{err}");
        let big = vec![b' '; MAX_RESPONSE_BYTES + 1];
        assert_eq!(
            parse_json::<u64>(&HttpResponse::new(200, &big)).unwrap_err(),
            ExchangeError::TooLarge
        );
    }

    #[test]
    fn statuses_and_bodies() {
        let e = ExchangeError::from(ProviderError::new(
            "Slack",
            Some("invalid_code"),
            ProviderErrorKind::InvalidGrant,
        ));
        assert_eq!(e.status(), 400);
        assert_eq!(
            e.to_json(),
            serde_json::json!({"statusCode": 400, "message": "Slack refused the request: invalid_code"})
        );
        assert_eq!(ExchangeError::WrongWorkspace.status(), 403);
        assert_eq!(ExchangeError::HttpStatus(503).status(), 502);
    }
}
