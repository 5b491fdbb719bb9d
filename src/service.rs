//! [`ChannelConnect`]: one environment's configured core, and the issuing
//! half: request body in, authorize URL with a sealed state out. The
//! verifying half is in `verify`. Every input, the clock and randomness
//! included, is an argument.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::config::ConfigError;
use crate::context::Context;
use crate::context_hash;
use crate::ids::{ConfigId, ConnectionIdentifier};
use crate::keys::KeyRing;
use crate::params::{IssueParams, Platform};
use crate::pkce::PkceVerifier;
use crate::provider::{AuthorizeRequest, Provider, check_provider_id};
use crate::request::{
    ConnectRequest, ConnectRequestBody, ConnectionMode, LinkUserRequest, LinkUserRequestBody, RequestError,
    Scopes,
};
use crate::secret::Secret;
use crate::state::{self, Purpose, SealParams, SealedState, StateClaims, binding_tag};

/// An authorize URL must be shorter than this (Microsoft: AADSTS90015).
pub const MAX_URL_LEN: usize = 1800;
/// Shortest environment secret key accepted for `contextHash`, in bytes.
pub const MIN_ENVIRONMENT_SECRET_KEY_LEN: usize = 16;

/// One integration of the environment.
#[derive(Clone, Debug)]
pub struct Integration {
    pub(crate) identifier: String,
    pub(crate) kind: IntegrationKind,
    context_hmac: bool,
}

#[derive(Clone, Debug)]
pub(crate) enum IntegrationKind {
    Chat(Arc<dyn Provider>),
    MissingClientId { provider: String },
    NotChat,
}

impl Integration {
    /// A chat integration served by `provider`.
    pub fn new(identifier: impl Into<String>, provider: impl Provider + 'static) -> Self {
        Self::with_kind(identifier, IntegrationKind::Chat(Arc::new(provider)))
    }

    /// A chat integration whose credentials are not set yet: requests get
    /// Novu's 404 "{provider} integration missing required OAuth credentials (clientId)".
    pub fn missing_client_id(identifier: impl Into<String>, provider_name: impl Into<String>) -> Self {
        Self::with_kind(
            identifier,
            IntegrationKind::MissingClientId {
                provider: provider_name.into(),
            },
        )
    }

    /// An integration of a non-chat provider (email, SMS): requests get
    /// "Integration not found", as in Novu.
    pub fn not_chat(identifier: impl Into<String>) -> Self {
        Self::with_kind(identifier, IntegrationKind::NotChat)
    }

    fn with_kind(identifier: impl Into<String>, kind: IntegrationKind) -> Self {
        Integration {
            identifier: identifier.into(),
            kind,
            context_hmac: false,
        }
    }

    /// Requires a `contextHash` made with the environment's secret key.
    pub fn with_context_hmac(mut self, on: bool) -> Self {
        self.context_hmac = on;
        self
    }

    /// The identifier.
    pub fn identifier(&self) -> &str {
        &self.identifier
    }
}

/// Builds a [`ChannelConnect`].
#[derive(Debug)]
pub struct ChannelConnectBuilder {
    environment: String,
    organization: String,
    platform: Platform,
    lifetime: u16,
    skew: u16,
    integrations: Vec<Integration>,
    environment_secret_keys: Vec<Secret>,
}

impl ChannelConnectBuilder {
    /// State lifetime in seconds (1 to 3600; default 300).
    pub fn lifetime_secs(mut self, secs: u16) -> Self {
        self.lifetime = secs;
        self
    }

    /// Allowed clock skew in seconds (at most 300; default 30).
    pub fn skew_secs(mut self, secs: u16) -> Self {
        self.skew = secs;
        self
    }

    /// Adds an integration.
    pub fn integration(mut self, integration: Integration) -> Self {
        self.integrations.push(integration);
        self
    }

    /// Adds an environment secret key for contextHash checks (several during rotation).
    pub fn environment_secret_key(mut self, key: Secret) -> Self {
        self.environment_secret_keys.push(key);
        self
    }

    /// Checks everything once.
    pub fn build(self) -> Result<ChannelConnect, ConfigError> {
        let environment = ConfigId::new(self.environment).ok_or(ConfigError::Id("environment id"))?;
        let organization = ConfigId::new(self.organization).ok_or(ConfigError::Id("organization id"))?;
        if !(1..=3600).contains(&self.lifetime) {
            return Err(ConfigError::Lifetime);
        }
        if self.skew > 300 {
            return Err(ConfigError::Skew);
        }
        // A short key makes contextHash forgeable by guessing the key.
        if self
            .environment_secret_keys
            .iter()
            .any(|k| k.expose().len() < MIN_ENVIRONMENT_SECRET_KEY_LEN)
        {
            return Err(ConfigError::EnvironmentSecretKey);
        }
        for (i, integ) in self.integrations.iter().enumerate() {
            let dup = self.integrations[..i]
                .iter()
                .any(|o| o.identifier == integ.identifier);
            if dup || crate::ids::IntegrationIdentifier::new(&integ.identifier).is_err() {
                return Err(ConfigError::Integration(integ.identifier.clone()));
            }
            if let IntegrationKind::Chat(p) = &integ.kind {
                check_provider_id(p.id())?;
            }
        }
        let platform = Platform {
            lifetime: self.lifetime,
            skew: self.skew,
            ..self.platform
        };
        Ok(ChannelConnect {
            environment,
            organization,
            platform,
            integrations: self.integrations,
            environment_secret_keys: self.environment_secret_keys,
        })
    }
}

/// An issued authorize URL. Serializes as
/// `{"url", "expiresAt", "state", "connectionIdentifier"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedUrl {
    /// The provider URL to send the browser to.
    pub url: String,
    /// When its state stops opening.
    pub expires_at: OffsetDateTime,
    connection: Option<InlineId>,
}

impl IssuedUrl {
    pub(crate) fn new(url: String, expires_at: OffsetDateTime, connection: Option<&str>) -> Self {
        IssuedUrl {
            url,
            expires_at,
            connection: connection.and_then(InlineId::new),
        }
    }

    /// The `state` parameter of the URL (base64url, never percent-encoded).
    pub fn state(&self) -> Option<&str> {
        let query = self.url.split_once('?')?.1;
        query.split('&').find_map(|p| p.strip_prefix("state="))
    }

    /// The connection identifier the state carries: the request's, or the
    /// one generated for it (`chconn_...`). `None` for a link-user URL that
    /// names no connection.
    pub fn connection_identifier(&self) -> Option<&str> {
        self.connection.as_ref().map(InlineId::as_str)
    }
}

impl serde::Serialize for IssuedUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("IssuedUrl", 4)?;
        st.serialize_field("url", &self.url)?;
        st.serialize_field("expiresAt", &crate::rfc3339::write(self.expires_at))?;
        st.serialize_field("state", &self.state())?;
        st.serialize_field("connectionIdentifier", &self.connection_identifier())?;
        st.end()
    }
}

/// A connection identifier (at most 100 bytes) kept inline, so issuing a
/// URL allocates only the URL.
#[derive(Clone, Copy, PartialEq, Eq)]
struct InlineId {
    buf: [u8; crate::ids::MAX_ID_CHARS],
    len: u8,
}

impl InlineId {
    fn new(s: &str) -> Option<Self> {
        let mut buf = [0; crate::ids::MAX_ID_CHARS];
        buf.get_mut(..s.len())?.copy_from_slice(s.as_bytes());
        Some(InlineId {
            buf,
            len: s.len() as u8,
        })
    }

    fn as_str(&self) -> &str {
        // Copied from a `&str` whole: always UTF-8.
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("")
    }
}

impl std::fmt::Debug for InlineId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

/// The configured core: keys, integrations, environment.
#[derive(Debug)]
pub struct ChannelConnect {
    environment: ConfigId,
    organization: ConfigId,
    pub(crate) platform: Platform,
    integrations: Vec<Integration>,
    environment_secret_keys: Vec<Secret>,
}

impl ChannelConnect {
    /// Starts a configuration for one environment with its own key ring.
    pub fn builder(
        environment_id: impl Into<String>,
        organization_id: impl Into<String>,
        keys: KeyRing,
    ) -> ChannelConnectBuilder {
        Self::builder_on(&Platform::new(keys), environment_id, organization_id)
    }

    /// Starts a configuration for one environment of `platform`, sharing its
    /// key ring, lifetime and skew (see "Serving many environments" in the
    /// README). Building one with two integrations per request costs about
    /// four verifications (`cargo bench --bench ratios`, `build_config`).
    pub fn builder_on(
        platform: &Platform,
        environment_id: impl Into<String>,
        organization_id: impl Into<String>,
    ) -> ChannelConnectBuilder {
        ChannelConnectBuilder {
            environment: environment_id.into(),
            organization: organization_id.into(),
            platform: platform.clone(),
            lifetime: platform.lifetime_secs(),
            skew: platform.skew_secs(),
            integrations: Vec::new(),
            environment_secret_keys: Vec::new(),
        }
    }

    /// The environment id.
    pub fn environment_id(&self) -> &str {
        self.environment.as_str()
    }

    /// The organization id.
    pub fn organization_id(&self) -> &str {
        self.organization.as_str()
    }

    /// The key ring.
    pub fn keys(&self) -> &KeyRing {
        self.platform.keys()
    }

    /// The platform: key ring, lifetime and skew.
    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    pub(crate) fn integrations(&self) -> &[Integration] {
        &self.integrations
    }

    pub(crate) fn find(&self, identifier: &str) -> Option<&Integration> {
        self.integrations.iter().find(|i| i.identifier == identifier)
    }

    /// The integration lookup: unknown and non-chat integrations are 404
    /// "Integration not found"; one without a client id is found (its 404
    /// comes later, in Novu's order) with no provider.
    fn lookup(&self, identifier: &str) -> Result<(&Integration, Option<&dyn Provider>), RequestError> {
        match self.find(identifier).map(|i| (i, &i.kind)) {
            Some((i, IntegrationKind::Chat(p))) => Ok((i, Some(p.as_ref()))),
            Some((i, IntegrationKind::MissingClientId { .. })) => Ok((i, None)),
            _ => Err(RequestError::IntegrationNotFound {
                identifier: identifier.to_owned(),
                environment: self.environment.as_str().to_owned(),
            }),
        }
    }

    fn missing_client_id(integ: &Integration) -> RequestError {
        let provider = match &integ.kind {
            IntegrationKind::MissingClientId { provider } => provider.clone(),
            _ => String::new(),
        };
        RequestError::MissingClientId { provider }
    }

    /// Answers `POST /v1/integrations/channel-connections/oauth`: validates
    /// the body, seals a connect state, and writes the provider's URL.
    pub fn connect_url(
        &self,
        body: &ConnectRequestBody,
        issue: &IssueParams<'_>,
    ) -> Result<IssuedUrl, RequestError> {
        // Novu's order: fields (422), integration (404), provider rules and
        // connection-mode rules (400), credentials (404), contextHash (400).
        let req = ConnectRequest::fields(body)?;
        let (integ, provider) = self.lookup(req.integration.as_str())?;
        if let Some(p) = provider {
            p.check_connect(&req)?;
        }
        let req = req.with_mode_rules(body)?;
        let provider = provider.ok_or_else(|| Self::missing_client_id(integ))?;
        self.check_context_hash(integ, &req.context, req.context_hash)?;
        let workspace = restrict_workspace(provider, issue.workspace)?;
        let generated;
        let connection = match req.connection {
            Some(c) => c,
            None => {
                let mut seed = [0u8; 9];
                seed.copy_from_slice(&issue.entropy.0[16..25]);
                generated = ConnectionIdentifier::generate(&seed);
                generated
            }
        };
        let claims = StateClaims {
            provider: provider.id(),
            purpose: Purpose::Connect,
            integration: req.integration.as_str(),
            environment: self.environment.as_str(),
            organization: self.organization.as_str(),
            subscriber: req.subscriber.map(|s| s.as_str()),
            connection: Some(connection.as_str()),
            mode: req.mode,
            auto_link_user: req.auto_link_user,
            context: req.context,
            workspace: workspace.as_deref(),
        };
        self.issue(provider, &claims, issue, req.scopes, None)
    }

    /// Answers `POST /v1/integrations/channel-endpoints/oauth`: a personal
    /// sign-in (Slack `user_scope`, Teams delegated sign-in with PKCE).
    ///
    /// When the host knows the connection the user is being linked to, it
    /// passes that connection's workspace in [`IssueParams::workspace`]: the
    /// Teams sign-in then happens in that tenant and the Slack sign-in is
    /// pointed at that team, and a token response naming another is refused.
    pub fn link_user_url(
        &self,
        body: &LinkUserRequestBody,
        issue: &IssueParams<'_>,
    ) -> Result<IssuedUrl, RequestError> {
        let req = LinkUserRequest::validate(body)?;
        let (integ, provider) = self.lookup(req.integration.as_str())?;
        let provider = provider.ok_or_else(|| Self::missing_client_id(integ))?;
        self.check_context_hash(integ, &req.context, req.context_hash)?;
        let workspace = restrict_workspace(provider, issue.workspace)?;
        let mode = if req.context.is_empty() {
            ConnectionMode::Subscriber
        } else {
            ConnectionMode::Shared
        };
        let claims = StateClaims {
            provider: provider.id(),
            purpose: Purpose::LinkUser,
            integration: req.integration.as_str(),
            environment: self.environment.as_str(),
            organization: self.organization.as_str(),
            subscriber: Some(req.subscriber.as_str()),
            connection: req.connection.as_ref().map(|c| c.as_str()),
            mode,
            auto_link_user: true,
            context: req.context,
            workspace: workspace.as_deref(),
        };
        self.issue(provider, &claims, issue, None, req.user_scopes)
    }

    fn issue(
        &self,
        provider: &dyn Provider,
        claims: &StateClaims<'_>,
        issue: &IssueParams<'_>,
        scopes: Option<Scopes<'_>>,
        user_scopes: Option<Scopes<'_>>,
    ) -> Result<IssuedUrl, RequestError> {
        let issued_at =
            u64::try_from(issue.now.unix_timestamp()).map_err(|_| RequestError::ClockOutOfRange)?;
        let mut nonce = [0u8; state::NONCE_LEN];
        nonce.copy_from_slice(&issue.entropy.0[..state::NONCE_LEN]);
        let params = SealParams {
            issued_at,
            lifetime: self.platform.lifetime_secs(),
            nonce,
            binding: issue.binding.map(binding_tag),
        };
        let key = self.keys().active();
        let mut sealed = SealedState::default();
        // A state too large for its buffer could never fit in a URL either.
        state::seal(claims, &params, key, &mut sealed)
            .map_err(|_| RequestError::UrlTooLong { length: MAX_URL_LEN })?;
        let pkce = provider
            .uses_pkce(claims.purpose)
            .then(|| PkceVerifier::derive(key, &nonce).challenge());
        let token = sealed.as_str();
        let links_user =
            claims.purpose == Purpose::LinkUser || (claims.auto_link_user && claims.subscriber.is_some());
        let request = AuthorizeRequest {
            purpose: claims.purpose,
            state: token,
            scopes,
            user_scopes,
            pkce_challenge: pkce.as_ref().map(|c| c.as_str()),
            workspace: claims.workspace,
            links_user,
        };
        let url = write_url(provider, &request)?;
        // A connect that continues with a proof sign-in (every Teams connect)
        // must leave room for that URL too.
        if let (Purpose::Connect, Some(n)) = (claims.purpose, provider.proof_workspace_len()) {
            check_proof_len(provider, &request, sealed.decoded_len(), n)?;
        }
        Ok(IssuedUrl::new(
            url,
            expiry(issued_at, self.platform.lifetime_secs()),
            claims.connection,
        ))
    }

    fn check_context_hash(
        &self,
        integ: &Integration,
        context: &Context<'_>,
        presented: Option<&str>,
    ) -> Result<(), RequestError> {
        if !integ.context_hmac {
            return Ok(());
        }
        let Some(source) = context.source() else {
            return Err(RequestError::ContextRequiredForHmac);
        };
        let Some(presented) = presented.filter(|h| !h.is_empty()) else {
            return Err(RequestError::ContextHashRequired);
        };
        let keys: Vec<&[u8]> = self
            .environment_secret_keys
            .iter()
            .map(|k| k.expose().as_bytes())
            .collect();
        if context_hash::verify_context_hash(&keys, source, presented) {
            Ok(())
        } else {
            Err(RequestError::ContextHashInvalid)
        }
    }

    /// The provider serving an integration.
    pub fn provider(&self, integration: &str) -> Option<&dyn Provider> {
        match self.find(integration).map(|i| &i.kind) {
            Some(IntegrationKind::Chat(p)) => Some(p.as_ref()),
            _ => None,
        }
    }
}

pub(crate) fn write_url(
    provider: &dyn Provider,
    request: &AuthorizeRequest<'_>,
) -> Result<String, RequestError> {
    let scope_len: usize = request.scopes.map_or(0, |s| s.iter().map(|x| x.len() + 1).sum());
    let mut url = String::with_capacity(384 + request.state.len() + 3 * scope_len);
    provider.authorize_url(request, &mut url);
    if url.len() >= MAX_URL_LEN {
        return Err(RequestError::UrlTooLong { length: url.len() });
    }
    Ok(url)
}

/// The proof state is the connect state with the workspace field added
/// (when it has none) and other flags, times and nonce. Asks the provider
/// how long its URL would be, with stand-ins of the right lengths.
fn check_proof_len(
    provider: &dyn Provider,
    connect: &AuthorizeRequest<'_>,
    decoded_len: usize,
    workspace_len: usize,
) -> Result<(), RequestError> {
    const STAND_IN_CHALLENGE: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    static STAND_IN: [u8; state::MAX_STATE_CHARS] = [b'A'; state::MAX_STATE_CHARS];
    let stand_in = |n: usize| std::str::from_utf8(&STAND_IN[..n.min(STAND_IN.len())]).unwrap_or("");
    let proof_len = match connect.workspace {
        Some(_) => decoded_len,
        None => decoded_len + 1 + workspace_len,
    };
    let request = AuthorizeRequest {
        purpose: Purpose::ConnectProof,
        state: stand_in((proof_len * 4).div_ceil(3)),
        scopes: None,
        user_scopes: None,
        pkce_challenge: Some(STAND_IN_CHALLENGE),
        workspace: Some(connect.workspace.unwrap_or(stand_in(workspace_len))),
        links_user: connect.links_user,
    };
    let length = provider.authorize_url_len(&request);
    if proof_len > state::MAX_STATE_BYTES || length >= MAX_URL_LEN {
        return Err(RequestError::UrlTooLong { length });
    }
    Ok(())
}

/// The host's expected workspace, as the provider restricts it, in the
/// state's charset.
fn restrict_workspace<'a>(
    provider: &'a dyn Provider,
    expected: Option<&'a str>,
) -> Result<Option<std::borrow::Cow<'a, str>>, RequestError> {
    let workspace = provider.restrict_workspace(expected)?;
    if workspace
        .as_deref()
        .is_some_and(|w| !state::is_workspace(w.as_bytes()))
    {
        return Err(RequestError::InvalidWorkspace(
            "a workspace id is 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-'",
        ));
    }
    Ok(workspace)
}

pub(crate) fn expiry(issued_at: u64, lifetime: u16) -> OffsetDateTime {
    state::unix_to_datetime(issued_at.saturating_add(u64::from(lifetime)))
}
