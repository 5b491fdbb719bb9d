//! The verifying half: a provider's redirect back, checked state first,
//! then read by the provider that issued it; the proof follow-up; and the
//! exchange the verified callback leads to, owned by that provider.
//!
//! One environment verifies with [`ChannelConnect::verify_callback`]. A
//! platform serving many environments behind one callback URL splits it:
//! [`Platform::open_callback`] (MAC, time, binding, with the platform's
//! keys), then [`ChannelConnect::finish_callback`] on the environment the
//! state names.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::callback::{CallbackError, CallbackParams, ProviderOutcome};
use crate::exchange::{Exchange, ExchangeError};
use crate::http::{HttpRequest, HttpResponse};
use crate::params::{Platform, VerifyParams};
use crate::pkce::PkceVerifier;
use crate::provider::{AuthorizeRequest, Provider};
use crate::records::StoredRecords;
use crate::service::{ChannelConnect, IntegrationKind, IssuedUrl, write_url};
use crate::state::{self, OpenParams, Purpose, SealedState, StateError, StateErrorKind, VerifiedState};
use crate::text;

/// A callback whose state opened under the platform's keys (MAC, time
/// window, binding) but is not yet checked against an environment's
/// configuration. Read [`OpenedCallback::state`] to find the environment,
/// then finish with [`ChannelConnect::finish_callback`].
#[derive(Debug)]
pub struct OpenedCallback<'a, 'p> {
    params: &'a CallbackParams<'p>,
    state: VerifiedState,
}

impl OpenedCallback<'_, '_> {
    /// The authenticated state: environment, organization, integration...
    pub fn state(&self) -> &VerifiedState {
        &self.state
    }
}

impl Platform {
    /// Opens a callback's state with the platform's keys and clock rules:
    /// the first half of [`ChannelConnect::verify_callback`] for hosts that
    /// serve many environments from one callback URL.
    ///
    /// ```
    /// use channel_connect::*;
    /// use time::OffsetDateTime;
    ///
    /// let platform = Platform::new(KeyRing::new(SigningKey::new(KeyId(1), &[9; 32])?));
    /// // Each environment's configuration, as a database would give it.
    /// let environment = |env: &str| -> Result<ChannelConnect, ConfigError> {
    ///     let slack = Slack::new(
    ///         ClientId::new("1234.5678")?,
    ///         Secret::new("secret-of-this-environment"),
    ///         RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    ///     );
    ///     ChannelConnect::builder_on(&platform, env, "org-1").integration(Integration::new("slack", slack)).build()
    /// };
    /// let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"u1"}"#)?;
    /// let issued = environment("env-7")?.connect_url(&body, &IssueParams::new(now, &Entropy([3; 32])))?;
    ///
    /// // The one callback route: open, look the environment up, finish.
    /// let query = format!("code=4724.1&state={}", issued.state().unwrap());
    /// let params = CallbackParams::parse(&query)?;
    /// let verify = VerifyParams::at(now + time::Duration::seconds(20));
    /// let opened = platform.open_callback(&params, &verify)?;
    /// let core = environment(opened.state().environment_id())?;
    /// let verified = core.finish_callback(opened, &verify)?;
    /// assert_eq!(verified.state.environment_id(), "env-7");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_callback<'a, 'p>(
        &self,
        params: &'a CallbackParams<'p>,
        verify: &VerifyParams<'_>,
    ) -> Result<OpenedCallback<'a, 'p>, CallbackError> {
        let token = params.state.as_deref().unwrap_or("");
        if token.is_empty() {
            return Err(CallbackError::Unsolicited {
                has_code: params.code.is_some(),
                error: params.error.as_deref().map(|e| text::error_code(Some(e))),
            });
        }
        let state = self.open_state(token, verify)?;
        Ok(OpenedCallback { params, state })
    }

    /// Opens a state alone with the platform's keys and clock rules: size,
    /// base64, version, key, MAC, layout, time window and binding (SPEC.md
    /// section 8). It says nothing of which environment or integration may
    /// act on it; [`ChannelConnect::open_state`] checks that too.
    ///
    /// ```
    /// use channel_connect::*;
    /// use time::OffsetDateTime;
    ///
    /// let platform = Platform::new(KeyRing::new(SigningKey::new(KeyId(1), &[9; 32])?));
    /// let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// let refused = platform.open_state("AQEc-not-a-state", &VerifyParams::at(now)).unwrap_err();
    /// assert_eq!(refused.to_string(), "Invalid OAuth state parameter");
    /// assert_eq!(refused.kind(), StateErrorKind::Malformed);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_state(&self, token: &str, verify: &VerifyParams<'_>) -> Result<VerifiedState, StateError> {
        let open = OpenParams {
            now: verify.now.unix_timestamp(),
            skew: self.skew,
            binding: verify.binding,
        };
        state::open(token, &self.keys, &open)
    }
}

/// A verified callback: the facts of its state, what the provider said, and
/// what comes next. It keeps the provider that verified it, which builds
/// the token request ([`VerifiedCallback::token_request`]) and reads the
/// answer ([`VerifiedCallback::records`]).
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
    provider: Arc<dyn Provider>,
    pkce_verifier: Option<PkceVerifier>,
}

impl VerifiedCallback {
    /// The provider that verified the callback.
    pub fn provider(&self) -> &dyn Provider {
        self.provider.as_ref()
    }

    /// The PKCE verifier of a sign-in state, re-derived from its nonce and
    /// the key that sealed it (`None` when the provider uses no PKCE here, or
    /// the key has left the ring).
    pub fn pkce_verifier(&self) -> Option<&PkceVerifier> {
        self.pkce_verifier.as_ref()
    }

    fn exchange(&self) -> Exchange<'_> {
        Exchange::new(&self.state, &self.outcome, self.pkce_verifier.as_ref())
    }

    /// The token request to send: Slack `oauth.v2.access` for a Slack code,
    /// the delegated PKCE token request for a Teams sign-in code (link-user
    /// or connect-proof), and `Ok(None)` for a Teams admin consent (its
    /// [`VerifiedCallback::next`] sign-in proves the tenant; the consent
    /// itself proves nothing).
    pub fn token_request(&self) -> Result<Option<HttpRequest>, ExchangeError> {
        self.provider.token_request(&self.exchange())
    }

    /// The records the provider's answer to [`VerifiedCallback::token_request`]
    /// yields, received at `now` (which checks an `id_token` and turns
    /// `expires_in` into `expiresAt`).
    pub fn records(
        &self,
        response: &HttpResponse<'_>,
        now: OffsetDateTime,
    ) -> Result<StoredRecords, ExchangeError> {
        self.provider.records(&self.exchange(), response, now)
    }
}

impl serde::Serialize for VerifiedCallback {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("VerifiedCallback", 3)?;
        st.serialize_field("state", &self.state)?;
        st.serialize_field("outcome", &self.outcome)?;
        st.serialize_field("next", &self.next)?;
        st.end()
    }
}

impl ChannelConnect {
    /// Opens a state alone: MAC, time window, binding, and that it belongs
    /// to this environment and organization and to a configured integration
    /// of the same provider.
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
    pub fn verify_callback(
        &self,
        params: &CallbackParams<'_>,
        verify: &VerifyParams<'_>,
    ) -> Result<VerifiedCallback, CallbackError> {
        let opened = self.platform.open_callback(params, verify)?;
        self.finish_callback(opened, verify)
    }

    /// Finishes a callback opened by [`Platform::open_callback`] against
    /// this environment: environment, organization, integration, provider
    /// and purpose, then the provider reads the callback. `verify` is the
    /// one the callback was opened with.
    pub fn finish_callback(
        &self,
        opened: OpenedCallback<'_, '_>,
        verify: &VerifyParams<'_>,
    ) -> Result<VerifiedCallback, CallbackError> {
        let OpenedCallback { params, state } = opened;
        let provider = Arc::clone(self.check_route(&state, verify)?);
        let outcome = provider.interpret(&state, params)?;
        let next = match provider.proof_workspace(&state, &outcome) {
            Some(workspace) => {
                Some(self.proof_follow_up(provider.as_ref(), &state, workspace, verify.now)?)
            }
            None => None,
        };
        let pkce_verifier = self.verifier_for(provider.as_ref(), &state);
        Ok(VerifiedCallback {
            state,
            outcome,
            next,
            provider,
            pkce_verifier,
        })
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
        let key = self.keys().active();
        let mut sealed = SealedState::default();
        let proof_nonce = state
            .reseal_proof(now.unix_timestamp(), workspace, key, &mut sealed)
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
        let url = write_url(provider, &request).map_err(|_| StateError::new(StateErrorKind::Oversized))?;
        Ok(IssuedUrl::new(
            url,
            state.expires_at(),
            state.connection_identifier(),
        ))
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
    pub fn pkce_verifier(&self, state: &VerifiedState) -> Option<PkceVerifier> {
        let provider = self.provider(state.integration_identifier())?;
        self.verifier_for(provider, state)
    }
}
