//! The issuing half of [`ChannelConnect`]: a request body in, the
//! provider's authorize URL with a sealed state out, refused when it (or the
//! proof sign-in a Teams connect continues with) would be too long.

use std::borrow::Cow;

use time::OffsetDateTime;

use super::ChannelConnect;
use crate::context::Context;
use crate::context_hash;
use crate::ids::ConnectionIdentifier;
use crate::integration::{Integration, IntegrationKind};
use crate::issued_url::IssuedUrl;
use crate::params::IssueParams;
use crate::pkce::PkceVerifier;
use crate::provider::{AuthorizeRequest, Provider};
use crate::request::{
    ConnectRequest, ConnectRequestBody, ConnectionMode, LinkUserRequest, LinkUserRequestBody, RequestError,
    Scopes, WorkspaceRefusal,
};
use crate::state::{self, Purpose, SealParams, SealedState, StateClaims, binding_tag};

/// An authorize URL must be shorter than this (Microsoft: AADSTS90015).
pub const MAX_URL_LEN: usize = 1800;

impl ChannelConnect {
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
    ///
    /// ```
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
    /// // Novu's example body.
    /// let body = ConnectRequestBody::from_json(
    ///     br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123","context":{"tenant":"org-acme"},"connectionMode":"shared"}"#,
    /// )?;
    /// let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// assert!(issued.url.starts_with("https://slack.com/oauth/v2/authorize?state="));
    /// assert!(issued.url.contains("&client_id=1234567890.1234567890&"));
    /// assert!(issued.url.ends_with("&scope=chat:write,chat:write.public,channels:read,groups:read,users:read,users:read.email"));
    ///
    /// // Neither a subscriber nor a context: nobody to connect for.
    /// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack"}"#)?;
    /// let refused = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32]))).unwrap_err();
    /// assert_eq!(
    ///     refused.to_json(),
    ///     serde_json::json!({"statusCode": 400, "message": "Either subscriberId or context must be provided"})
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect_url(
        &self,
        body: &ConnectRequestBody,
        issue: &IssueParams<'_>,
    ) -> Result<IssuedUrl, RequestError> {
        // Novu's order: fields (422), integration (404), provider rules and
        // connection-mode rules (400), credentials (404), contextHash (400).
        let mut req = ConnectRequest::blank();
        req.check_fields(body)?;
        let (integ, provider) = self.lookup(req.integration.as_str())?;
        if let Some(p) = provider {
            p.check_connect(&req)?;
        }
        req.apply_mode_rules(body)?;
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
            route: &integ.state_route,
            purpose: Purpose::Connect,
            subscriber: req.subscriber.map(|s| s.as_str()),
            connection: Some(connection.as_str()),
            mode: req.mode,
            auto_link_user: req.auto_link_user,
            context: &req.context,
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
    ///
    /// ```
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
    /// // Link subscriber-123's own Slack user to the connection of team T9TK3CUKW.
    /// let body = LinkUserRequestBody::from_json(
    ///     br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123","connectionIdentifier":"slack-connection-abc123"}"#,
    /// )?;
    /// let entropy = Entropy([7; 32]);
    /// let issued = core.link_user_url(&body, &IssueParams::new(now, &entropy).with_workspace("T9TK3CUKW"))?;
    /// assert!(issued.url.ends_with("&user_scope=identity.basic&team=T9TK3CUKW"));
    /// assert_eq!(issued.connection_identifier(), Some("slack-connection-abc123"));
    ///
    /// // A user link is always for a subscriber.
    /// let body = LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"slack","context":{"tenant":"org-acme"}}"#)?;
    /// let refused = core.link_user_url(&body, &IssueParams::new(now, &entropy)).unwrap_err();
    /// assert_eq!(refused, RequestError::Validation(ValidationError::SubscriberIdRequired));
    /// assert_eq!(refused.status(), 422);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn link_user_url(
        &self,
        body: &LinkUserRequestBody,
        issue: &IssueParams<'_>,
    ) -> Result<IssuedUrl, RequestError> {
        let req = LinkUserRequest::validate(body)?;
        let (integ, provider) = self.lookup(req.integration.as_str())?;
        if let Some(p) = provider {
            p.check_link(&req)?;
        }
        let provider = provider.ok_or_else(|| Self::missing_client_id(integ))?;
        self.check_context_hash(integ, &req.context, req.context_hash)?;
        let workspace = restrict_workspace(provider, issue.workspace)?;
        let mode = if req.context.is_empty() {
            ConnectionMode::Subscriber
        } else {
            ConnectionMode::Shared
        };
        let claims = StateClaims {
            route: &integ.state_route,
            purpose: Purpose::LinkUser,
            subscriber: Some(req.subscriber.as_str()),
            connection: req.connection.as_ref().map(|c| c.as_str()),
            mode,
            auto_link_user: true,
            context: &req.context,
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
        let url = SealedState::with(|sealed| -> Result<String, RequestError> {
            // A state too large for its buffer could never fit in a URL either.
            state::seal(claims, &params, key, sealed)
                .map_err(|_| RequestError::UrlTooLong { length: MAX_URL_LEN })?;
            let pkce = provider
                .uses_pkce(claims.purpose)
                .then(|| PkceVerifier::derive(key, &nonce).challenge());
            let links_user =
                claims.purpose == Purpose::LinkUser || (claims.auto_link_user && claims.subscriber.is_some());
            let request = AuthorizeRequest {
                purpose: claims.purpose,
                state: sealed.as_str(),
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
            Ok(url)
        })?;
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
    const STAND_IN: &str = match std::str::from_utf8(&[b'A'; state::MAX_STATE_CHARS]) {
        Ok(s) => s,
        Err(_) => panic!("ASCII"),
    };
    let stand_in = |n: usize| &STAND_IN[..n.min(STAND_IN.len())];
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
) -> Result<Option<Cow<'a, str>>, RequestError> {
    let workspace = provider.restrict_workspace(expected)?;
    if workspace
        .as_deref()
        .is_some_and(|w| !state::is_workspace(w.as_bytes()))
    {
        return Err(RequestError::InvalidWorkspace(WorkspaceRefusal::OutsideCharset));
    }
    Ok(workspace)
}

pub(crate) fn expiry(issued_at: u64, lifetime: u16) -> OffsetDateTime {
    state::unix_to_datetime(issued_at.saturating_add(u64::from(lifetime)))
}
