//! The verifying half of [`ChannelConnect`]: a provider's redirect back,
//! its state checked against this environment, then read by the provider
//! that issued it; and the proof sign-in a Teams admin consent continues with.
//!
//! One environment verifies with [`ChannelConnect::verify_callback`]. A
//! platform serving many environments behind one callback URL splits it:
//! [`Platform::open_callback`](crate::Platform::open_callback) (MAC, time,
//! binding, with the platform's keys), then [`ChannelConnect::finish_callback`] on the
//! environment the state names.

use std::borrow::Cow;
use std::sync::Arc;

use time::OffsetDateTime;

use super::{ChannelConnect, write_url};
use crate::callback::{CallbackError, CallbackParams};
use crate::integration::IntegrationKind;
use crate::issued_url::IssuedUrl;
use crate::params::VerifyParams;
use crate::pkce::PkceVerifier;
use crate::provider::{AuthorizeRequest, Provider};
use crate::state::{Purpose, SealedState, StateError, StateErrorKind, VerifiedState};
use crate::verified_callback::{OpenedCallback, VerifiedCallback};

impl ChannelConnect {
    /// Opens a state alone: MAC, time window, binding, and that it belongs
    /// to this environment and organization and to a configured integration
    /// of the same provider.
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
    /// # let keys = || -> Result<KeyRing, KeyError> { Ok(KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?)) };
    /// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// let (state, provider) = core.open_state(issued.state().unwrap(), &VerifyParams::at(now))?;
    /// assert_eq!((state.integration_identifier(), provider.id()), ("slack", "slack"));
    ///
    /// // The environment removed its Slack integration since the URL was issued.
    /// let removed = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", keys()?).build()?;
    /// let refused = removed.open_state(issued.state().unwrap(), &VerifyParams::at(now)).unwrap_err();
    /// assert_eq!(refused.kind(), StateErrorKind::UnknownIntegration);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_state(
        &self,
        token: &str,
        verify: &VerifyParams<'_>,
    ) -> Result<(VerifiedState, &dyn Provider), StateError> {
        let state = self.platform.open_state(token, verify)?;
        let provider = self.check_route(&state, verify)?;
        Ok((state, provider.as_ref()))
    }

    /// The state's route against this configuration.
    fn check_route(
        &self,
        state: &VerifiedState,
        verify: &VerifyParams<'_>,
    ) -> Result<&Arc<dyn Provider>, StateError> {
        let [provider_id, integration, environment, organization] = state.route_bytes();
        if environment != self.environment_id().as_bytes() {
            return Err(StateErrorKind::WrongEnvironment.into());
        }
        if organization != self.organization_id().as_bytes() {
            return Err(StateErrorKind::WrongOrganization.into());
        }
        let found = self
            .integrations()
            .iter()
            .find(|i| i.identifier.as_bytes() == integration);
        let provider = match found.map(|i| &i.kind) {
            Some(IntegrationKind::Chat(p)) => p,
            _ => return Err(StateErrorKind::UnknownIntegration.into()),
        };
        let expected = verify.expect_provider.map(str::as_bytes);
        if provider.id().as_bytes() != provider_id || expected.is_some_and(|p| p != provider_id) {
            return Err(StateErrorKind::WrongProvider.into());
        }
        if verify.expect_purpose.is_some_and(|p| p != state.purpose()) {
            return Err(StateErrorKind::WrongPurpose.into());
        }
        Ok(provider)
    }

    /// Verifies a callback: the state first (nothing unverified is acted on),
    /// then the state's provider reads the rest. A Teams admin consent comes
    /// back with [`VerifiedCallback::next`], the sign-in that proves the
    /// claimed tenant: it yields nothing to store by itself.
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
    /// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// # let state = issued.state().unwrap();
    /// // GET /v1/integrations/chat/oauth/callback?code=...&state=...
    /// let url = format!("https://api.example.com/v1/integrations/chat/oauth/callback?code=4724.demo-code&state={state}");
    /// let verified = core.verify_callback(&CallbackParams::parse(&url)?, &VerifyParams::at(now + Duration::seconds(20)))?;
    /// assert_eq!(verified.state.subscriber_id(), Some("subscriber-123"));
    /// assert!(matches!(verified.outcome, ProviderOutcome::Code { .. }));
    /// assert!(verified.next.is_none());
    ///
    /// // The user pressed "Cancel" on Slack's page.
    /// let url = format!("https://api.example.com/v1/integrations/chat/oauth/callback?error=access_denied&state={state}");
    /// let refused = core.verify_callback(&CallbackParams::parse(&url)?, &VerifyParams::at(now + Duration::seconds(20))).unwrap_err();
    /// assert!(matches!(refused, CallbackError::Denied { .. }));
    /// assert_eq!(
    ///     refused.to_json(),
    ///     serde_json::json!({"statusCode": 400, "message": "the authorization was declined (access_denied)"})
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_callback<'a>(
        &'a self,
        params: &CallbackParams<'a>,
        verify: &VerifyParams<'_>,
    ) -> Result<VerifiedCallback<'a>, CallbackError> {
        // The same steps as open_callback then finish_callback, without the
        // OpenedCallback between them: the state is opened in place and
        // moved once, into the answer (each move copies its inline bytes).
        let token = self.platform.callback_state(params)?;
        let mut state = VerifiedState::for_token(token);
        self.platform.open_state_into(token, verify, &mut state)?;
        let rest = self.finish_parts(params, &state, verify)?;
        Ok(rest.with(state))
    }

    /// Finishes a callback opened by
    /// [`Platform::open_callback`](crate::Platform::open_callback) against
    /// this environment: environment, organization, integration, provider
    /// and purpose, then the provider reads the callback. `verify` is the
    /// one the callback was opened with.
    ///
    /// ```
    /// use channel_connect::*;
    /// # use time::{Duration, OffsetDateTime};
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// let platform = Platform::new(KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?));
    /// // An environment's configuration, from its database row.
    /// let load = |environment_id: &str| -> Result<ChannelConnect, ConfigError> {
    ///     let slack = Slack::new(
    ///         ClientId::new("1234567890.1234567890")?,
    ///         Secret::new("slack-client-secret"),
    ///         RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    ///     );
    ///     ChannelConnect::builder_on(&platform, environment_id, "6615c4b2e0f3a1b2c3d4e5f7")
    ///         .integration(Integration::new("slack", slack))
    ///         .build()
    /// };
    /// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// # let issued = load("6615c4b2e0f3a1b2c3d4e5f6")?.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// # let query = format!("code=4724.demo-code&state={}", issued.state().unwrap());
    /// # let params = CallbackParams::parse(&query)?;
    /// # let verify = VerifyParams::at(now + Duration::seconds(20));
    /// let opened = platform.open_callback(&params, &verify)?;
    /// let environment = load(opened.state().environment_id())?;
    /// let verified = environment.finish_callback(opened, &verify)?;
    /// assert!(verified.token_request()?.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn finish_callback<'a>(
        &'a self,
        opened: OpenedCallback<'_, 'a>,
        verify: &VerifyParams<'_>,
    ) -> Result<VerifiedCallback<'a>, CallbackError> {
        let rest = self.finish_parts(opened.params, &opened.state, verify)?;
        Ok(rest.with(opened.state))
    }

    /// Everything [`ChannelConnect::finish_callback`] adds to an opened
    /// state: the route, the provider's reading of the callback, the
    /// follow-up sign-in and the PKCE verifier.
    fn finish_parts<'a>(
        &'a self,
        params: &CallbackParams<'a>,
        state: &VerifiedState,
        verify: &VerifyParams<'_>,
    ) -> Result<Finished<'a>, CallbackError> {
        let provider = self.check_route(state, verify)?;
        let outcome = provider.interpret(state, params)?;
        let next = match provider.proof_workspace(state, &outcome) {
            Some(workspace) => Some(Box::new(self.proof_follow_up(
                provider.as_ref(),
                state,
                workspace,
                verify.now,
            )?)),
            None => None,
        };
        let pkce_verifier = self.verifier_for(provider.as_ref(), state);
        Ok(Finished {
            provider,
            outcome,
            next,
            pkce_verifier,
        })
    }

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
        let key = self.keys().active();
        SealedState::with(|sealed| {
            let proof_nonce = state
                .reseal_proof(now.unix_timestamp(), workspace, key, sealed)
                .map_err(StateError::new)?;
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
            let url =
                write_url(provider, &request).map_err(|_| StateError::new(StateErrorKind::Oversized))?;
            Ok(IssuedUrl::new(
                url,
                state.expires_at(),
                state.connection_identifier(),
            ))
        })
    }

    fn verifier_for(&self, provider: &dyn Provider, state: &VerifiedState) -> Option<PkceVerifier> {
        if !provider.uses_pkce(state.purpose()) {
            return None;
        }
        let key = self.keys().find(state.key_id())?;
        Some(PkceVerifier::derive(key, state.nonce()))
    }

    /// The PKCE verifier of a sign-in state, re-derived from its nonce and
    /// the key that sealed it (`None` when the provider uses no PKCE, or the
    /// key has left the ring). [`VerifiedCallback::pkce_verifier`] has it too.
    ///
    /// ```
    /// # use channel_connect::*;
    /// # use time::{Duration, OffsetDateTime};
    /// # let redirect = RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?;
    /// # let slack = Slack::new(ClientId::new("1234567890.1234567890")?, Secret::new("slack-client-secret"), redirect.clone());
    /// # let teams = MsTeams::new(ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?, Secret::new("teams-client-secret"), redirect);
    /// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
    /// #     .integration(Integration::new("slack", slack))
    /// #     .integration(Integration::new("msteams", teams))
    /// #     .build()?;
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// // A Teams user link, its state opened alone (before its callback is read).
    /// let body = LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"msteams","subscriberId":"subscriber-123"}"#)?;
    /// let issued = core.link_user_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// let (state, _) = core.open_state(issued.state().unwrap(), &VerifyParams::at(now))?;
    /// let verifier = core.pkce_verifier(&state).expect("Teams sign-ins use PKCE");
    /// assert!(issued.url.contains(&format!("code_challenge={}&", verifier.challenge().as_str())));
    ///
    /// // A Slack install carries no challenge, so there is no verifier.
    /// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// let (state, _) = core.open_state(issued.state().unwrap(), &VerifyParams::at(now))?;
    /// assert!(core.pkce_verifier(&state).is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pkce_verifier(&self, state: &VerifiedState) -> Option<PkceVerifier> {
        // Only for a state of this environment, organization and provider.
        let route = VerifyParams::at(OffsetDateTime::UNIX_EPOCH);
        let provider = self.check_route(state, &route).ok()?;
        self.verifier_for(provider.as_ref(), state)
    }
}

/// A verified callback but for its state: built while the state is only
/// borrowed, so the state moves once, into [`VerifiedCallback`].
struct Finished<'a> {
    provider: &'a Arc<dyn Provider>,
    outcome: crate::ProviderOutcome<'a>,
    next: Option<Box<IssuedUrl>>,
    pkce_verifier: Option<PkceVerifier>,
}

impl<'a> Finished<'a> {
    #[inline(always)]
    fn with(self, state: VerifiedState) -> VerifiedCallback<'a> {
        VerifiedCallback {
            state,
            outcome: self.outcome,
            next: self.next,
            provider: Cow::Borrowed(self.provider),
            pkce_verifier: self.pkce_verifier,
        }
    }
}
