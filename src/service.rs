//! [`ChannelConnect`]: the configured core. It issues authorize URLs and
//! verifies callbacks; every input, the clock and randomness included, is an
//! argument.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::callback::{CallbackError, CallbackParams, ProviderOutcome};
use crate::config::ConfigError;
use crate::context::Context;
use crate::context_hash;
use crate::ids::{ConfigId, ConnectionIdentifier};
use crate::keys::KeyRing;
use crate::pkce::PkceVerifier;
use crate::provider::{AuthorizeRequest, Provider, check_provider_id};
use crate::request::{
    ConnectRequest, ConnectRequestBody, ConnectionMode, LinkUserRequest, LinkUserRequestBody, RequestError,
    Scopes,
};
use crate::secret::Secret;
use crate::state::{
    self, OpenParams, Purpose, SealParams, SealedState, StateClaims, StateError, StateErrorKind,
    VerifiedState, binding_tag,
};
use crate::text;

/// Default state lifetime: 5 minutes, as the API documents.
pub const DEFAULT_LIFETIME_SECS: u16 = 300;
/// Default allowance for a state issued in the future (clock skew between hosts).
pub const DEFAULT_SKEW_SECS: u16 = 30;
/// An authorize URL must be shorter than this (Microsoft: AADSTS90015).
pub const MAX_URL_LEN: usize = 1800;
/// Shortest environment secret key accepted for `contextHash`, in bytes.
pub const MIN_ENVIRONMENT_SECRET_KEY_LEN: usize = 16;

/// 32 bytes from the caller's CSPRNG: bytes 0..16 become the state nonce,
/// bytes 16..25 a generated connection identifier; 25..32 are reserved.
#[derive(Clone, Copy)]
pub struct Entropy(pub [u8; 32]);

impl std::fmt::Debug for Entropy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Entropy([redacted])")
    }
}

/// One integration of the environment.
#[derive(Clone, Debug)]
pub struct Integration {
    identifier: String,
    kind: IntegrationKind,
    context_hmac: bool,
}

#[derive(Clone, Debug)]
enum IntegrationKind {
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
    keys: KeyRing,
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
        Ok(ChannelConnect {
            environment,
            organization,
            keys: self.keys,
            lifetime: self.lifetime,
            skew: self.skew,
            integrations: self.integrations,
            environment_secret_keys: self.environment_secret_keys,
        })
    }
}

/// An issued authorize URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedUrl {
    /// The provider URL to send the browser to.
    pub url: String,
    /// When its state stops opening.
    pub expires_at: OffsetDateTime,
}

/// What issuing a URL takes beyond the request body: the clock, randomness,
/// and optionally a browser binding and the workspace the flow must stay in.
#[derive(Clone, Copy, Debug)]
pub struct IssueParams<'a> {
    /// The caller's clock.
    pub now: OffsetDateTime,
    /// 32 bytes from the caller's CSPRNG.
    pub entropy: &'a Entropy,
    /// A value the browser will present again at the callback (for example
    /// the hash of an install cookie), when the host binds states.
    pub binding: Option<&'a [u8]>,
    /// The workspace the flow must end in, when the host knows it: the
    /// Teams tenant GUID or Slack team id of the connection a user is being
    /// linked to. Sealed in the state; the provider's answer must name it.
    /// Without it, the integration's own restriction (a configured Slack
    /// team or Teams tenant GUID) is sealed, if any.
    pub workspace: Option<&'a str>,
}

impl<'a> IssueParams<'a> {
    /// Just the clock and the entropy.
    pub fn new(now: OffsetDateTime, entropy: &'a Entropy) -> Self {
        IssueParams {
            now,
            entropy,
            binding: None,
            workspace: None,
        }
    }

    /// Binds the state to a browser (see [`IssueParams::binding`]).
    pub fn with_binding(mut self, binding: &'a [u8]) -> Self {
        self.binding = Some(binding);
        self
    }

    /// Restricts the flow to a workspace (see [`IssueParams::workspace`]).
    pub fn with_workspace(mut self, workspace: &'a str) -> Self {
        self.workspace = Some(workspace);
        self
    }
}

/// Time and browser binding for a verification.
#[derive(Clone, Copy, Debug)]
pub struct VerifyParams<'a> {
    /// The caller's clock.
    pub now: OffsetDateTime,
    /// The binding value the browser presents (for example the hash of the
    /// install cookie), when the host binds states.
    pub binding: Option<&'a [u8]>,
    /// Refuse a state of another provider (for per-provider callback routes).
    pub expect_provider: Option<&'a str>,
    /// Refuse a state of another purpose (for per-purpose callback routes).
    pub expect_purpose: Option<Purpose>,
}

impl VerifyParams<'_> {
    /// Just the clock.
    pub fn at(now: OffsetDateTime) -> VerifyParams<'static> {
        VerifyParams {
            now,
            binding: None,
            expect_provider: None,
            expect_purpose: None,
        }
    }
}

/// A verified callback: the facts of its state, what the provider said, and
/// what comes next.
#[derive(Clone, Debug)]
pub struct VerifiedCallback {
    /// The authenticated state.
    pub state: VerifiedState,
    /// The provider's answer.
    pub outcome: ProviderOutcome,
    /// The next redirect, when the flow continues: after a Teams admin
    /// consent, the sign-in that proves the tenant (and may link the user).
    /// Such a callback yields nothing to store; send the browser here.
    pub next: Option<IssuedUrl>,
}

/// The configured core: keys, integrations, environment.
#[derive(Debug)]
pub struct ChannelConnect {
    environment: ConfigId,
    organization: ConfigId,
    keys: KeyRing,
    lifetime: u16,
    skew: u16,
    integrations: Vec<Integration>,
    environment_secret_keys: Vec<Secret>,
}

impl ChannelConnect {
    /// Starts a configuration for one environment.
    pub fn builder(
        environment_id: impl Into<String>,
        organization_id: impl Into<String>,
        keys: KeyRing,
    ) -> ChannelConnectBuilder {
        ChannelConnectBuilder {
            environment: environment_id.into(),
            organization: organization_id.into(),
            keys,
            lifetime: DEFAULT_LIFETIME_SECS,
            skew: DEFAULT_SKEW_SECS,
            integrations: Vec::new(),
            environment_secret_keys: Vec::new(),
        }
    }

    /// The environment id.
    pub fn environment_id(&self) -> &str {
        self.environment.as_str()
    }

    /// The key ring.
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    fn find(&self, identifier: &str) -> Option<&Integration> {
        self.integrations.iter().find(|i| i.identifier == identifier)
    }

    fn chat_integration(&self, identifier: &str) -> Result<(&Integration, &dyn Provider), RequestError> {
        let integ = self.find(identifier);
        match integ.map(|i| (i, &i.kind)) {
            Some((i, IntegrationKind::Chat(p))) => Ok((i, p.as_ref())),
            Some((_, IntegrationKind::MissingClientId { provider })) => Err(RequestError::MissingClientId {
                provider: provider.clone(),
            }),
            _ => Err(RequestError::IntegrationNotFound {
                identifier: identifier.to_owned(),
                environment: self.environment.as_str().to_owned(),
            }),
        }
    }

    /// Answers `POST /v1/integrations/channel-connections/oauth`: validates
    /// the body, seals a connect state, and writes the provider's URL.
    pub fn connect_url(
        &self,
        body: &ConnectRequestBody,
        issue: &IssueParams<'_>,
    ) -> Result<IssuedUrl, RequestError> {
        let req = ConnectRequest::validate(body)?;
        let (integ, provider) = self.chat_integration(req.integration.as_str())?;
        provider.check_connect(&req)?;
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
        let (integ, provider) = self.chat_integration(req.integration.as_str())?;
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
            lifetime: self.lifetime,
            nonce,
            binding: issue.binding.map(binding_tag),
        };
        let key = self.keys.active();
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
        Ok(IssuedUrl {
            url,
            expires_at: expiry(issued_at, self.lifetime),
        })
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

    /// Opens a state alone: MAC, time window, binding, and that it belongs to
    /// this environment and to a configured integration of the same provider.
    pub fn open_state(
        &self,
        token: &str,
        params: &VerifyParams<'_>,
    ) -> Result<(VerifiedState, &dyn Provider), StateError> {
        let open = OpenParams {
            now: params.now.unix_timestamp(),
            skew: self.skew,
            binding: params.binding,
        };
        let state = state::open(token, &self.keys, &open)?;
        let [provider_id, integration, environment, organization] = state.route_bytes();
        if environment != self.environment.as_str().as_bytes() {
            return Err(StateErrorKind::WrongEnvironment.into());
        }
        if organization != self.organization.as_str().as_bytes() {
            return Err(StateErrorKind::WrongOrganization.into());
        }
        let found = self
            .integrations
            .iter()
            .find(|i| i.identifier.as_bytes() == integration);
        let provider = match found.map(|i| &i.kind) {
            Some(IntegrationKind::Chat(p)) => p.as_ref(),
            _ => return Err(StateErrorKind::UnknownIntegration.into()),
        };
        let expected = params.expect_provider.map(str::as_bytes);
        if provider.id().as_bytes() != provider_id || expected.is_some_and(|p| p != provider_id) {
            return Err(StateErrorKind::WrongProvider.into());
        }
        if params.expect_purpose.is_some_and(|p| p != state.purpose()) {
            return Err(StateErrorKind::WrongPurpose.into());
        }
        Ok((state, provider))
    }

    /// Verifies a callback: the state first (nothing unverified is acted on),
    /// then the state's provider reads the rest. A Teams admin consent comes
    /// back with [`VerifiedCallback::next`], the sign-in that proves the
    /// claimed tenant: it yields nothing to store by itself.
    pub fn verify_callback(
        &self,
        params: &CallbackParams<'_>,
        verify: &VerifyParams<'_>,
    ) -> Result<VerifiedCallback, CallbackError> {
        let token = params.state.as_deref().unwrap_or("");
        if token.is_empty() {
            return Err(CallbackError::Unsolicited {
                has_code: params.code.is_some(),
                error: params.error.as_deref().map(|e| text::error_code(Some(e))),
            });
        }
        let (state, provider) = self.open_state(token, verify)?;
        let outcome = provider.interpret(&state, params)?;
        let next = match provider.proof_workspace(&state, &outcome) {
            Some(workspace) => Some(self.proof_follow_up(provider, &state, workspace, verify.now)?),
            None => None,
        };
        Ok(VerifiedCallback { state, outcome, next })
    }

    /// The connect-proof sign-in after a callback that claims a workspace
    /// (SPEC.md section 7): same claims, the workspace sealed, expiring with
    /// the state it continues.
    fn proof_follow_up(
        &self,
        provider: &dyn Provider,
        state: &VerifiedState,
        workspace: &str,
        now: OffsetDateTime,
    ) -> Result<IssuedUrl, CallbackError> {
        if state
            .workspace()
            .is_some_and(|w| !w.eq_ignore_ascii_case(workspace))
        {
            return Err(CallbackError::WorkspaceMismatch);
        }
        let key = self.keys.active();
        let mut sealed = SealedState::default();
        let proof_nonce = state
            .reseal_proof(now.unix_timestamp(), workspace, key, &mut sealed)
            .map_err(|_| StateError::new(StateErrorKind::Oversized))?;
        let challenge = PkceVerifier::derive(key, &proof_nonce).challenge();
        let request = AuthorizeRequest {
            purpose: Purpose::ConnectProof,
            state: sealed.as_str(),
            scopes: None,
            user_scopes: None,
            pkce_challenge: Some(challenge.as_str()),
            workspace: Some(state.workspace().unwrap_or(workspace)),
            links_user: state.links_user(),
        };
        let url = write_url(provider, &request).map_err(|_| StateError::new(StateErrorKind::Oversized))?;
        Ok(IssuedUrl {
            url,
            expires_at: state.expires_at(),
        })
    }

    /// The PKCE verifier of a link-user state, re-derived from its nonce and
    /// the key that sealed it (`None` when the provider uses no PKCE).
    pub fn pkce_verifier(&self, state: &VerifiedState) -> Option<PkceVerifier> {
        let provider = match self.find(state.integration_identifier()).map(|i| &i.kind) {
            Some(IntegrationKind::Chat(p)) => p,
            _ => return None,
        };
        if !provider.uses_pkce(state.purpose()) {
            return None;
        }
        let key = self.keys.find(state.key_id())?;
        Some(PkceVerifier::derive(key, state.nonce()))
    }

    /// The provider serving an integration.
    pub fn provider(&self, integration: &str) -> Option<&dyn Provider> {
        match self.find(integration).map(|i| &i.kind) {
            Some(IntegrationKind::Chat(p)) => Some(p.as_ref()),
            _ => None,
        }
    }
}

fn write_url(provider: &dyn Provider, request: &AuthorizeRequest<'_>) -> Result<String, RequestError> {
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

fn expiry(issued_at: u64, lifetime: u16) -> OffsetDateTime {
    state::unix_to_datetime(issued_at.saturating_add(u64::from(lifetime)))
}
