//! The verifying half: a provider's redirect back, checked state first,
//! then read by the provider that issued it; the proof follow-up; and the
//! exchange the verified callback leads to, owned by that provider.
//!
//! One environment verifies with [`ChannelConnect::verify_callback`]. A
//! platform serving many environments behind one callback URL splits it:
//! [`Platform::open_callback`] (MAC, time, binding, with the platform's
//! keys), then [`ChannelConnect::finish_callback`] on the environment the
//! state names.
//!
//! (Most of this file's length is the runnable examples in its doc comments;
//! the code, tests included, is about 200 lines.)

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
/// let query = format!("code=4724.demo-code&state={}", issued.state().unwrap());
/// let params = CallbackParams::parse(&query)?;
/// let verify = VerifyParams::at(now + Duration::seconds(20));
/// let opened = core.platform().open_callback(&params, &verify)?;
/// // Authenticated, so safe to route on: which environment's row to load.
/// assert_eq!(opened.state().environment_id(), "6615c4b2e0f3a1b2c3d4e5f6");
/// assert_eq!(opened.state().integration_identifier(), "slack");
/// assert!(core.finish_callback(opened, &verify).is_ok());
///
/// // An expired state never becomes an `OpenedCallback`: nothing to route on.
/// let late = core.platform().open_callback(&params, &VerifyParams::at(issued.expires_at));
/// assert!(matches!(late, Err(CallbackError::State(e)) if e.kind() == StateErrorKind::Expired));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct OpenedCallback<'a, 'p> {
    params: &'a CallbackParams<'p>,
    state: VerifiedState,
}

impl OpenedCallback<'_, '_> {
    /// The authenticated state: environment, organization, integration...
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
    /// # let body = LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// # let issued = core.link_user_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// # let query = format!("code=4724.demo-code&state={}", issued.state().unwrap());
    /// # let params = CallbackParams::parse(&query)?;
    /// let opened = core.platform().open_callback(&params, &VerifyParams::at(now))?;
    /// let state = opened.state();
    /// assert_eq!((state.purpose(), state.organization_id()), (Purpose::LinkUser, "6615c4b2e0f3a1b2c3d4e5f7"));
    ///
    /// // A query whose state was cut off opens nothing.
    /// let cut = format!("code=4724.demo-code&state={}", &issued.state().unwrap()[..40]);
    /// assert!(core.platform().open_callback(&CallbackParams::parse(&cut)?, &VerifyParams::at(now)).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    ///         ClientId::new("1234567890.1234567890")?,
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
    ///
    /// // An install started from the Slack App Directory has no state: refused.
    /// let params = CallbackParams::parse("code=4724.1")?;
    /// let refused = platform.open_callback(&params, &verify).unwrap_err();
    /// assert!(matches!(refused, CallbackError::Unsolicited { has_code: true, .. }));
    /// assert_eq!(refused.to_string(), "Invalid OAuth state parameter");
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
    /// # let slack = Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// # let core = ChannelConnect::builder_on(&platform, "6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7")
    /// #     .integration(Integration::new("slack", slack))
    /// #     .build()?;
    /// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// // A state one of the platform's environments issued.
    /// let state = platform.open_state(issued.state().unwrap(), &VerifyParams::at(now))?;
    /// assert_eq!(state.subscriber_id(), Some("subscriber-123"));
    ///
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
///
/// A Teams admin consent verifies with nothing to store, only the sign-in
/// that proves the tenant:
///
/// ```
/// # use channel_connect::*;
/// # use time::{Duration, OffsetDateTime};
/// # let teams = MsTeams::new(
/// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
/// #     Secret::new("teams-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
/// #     .integration(Integration::new("msteams", teams))
/// #     .build()?;
/// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"msteams","context":{"tenant":"org-acme"}}"#)?;
/// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
/// let state = issued.state().unwrap();
/// let query = format!("admin_consent=True&tenant=72f988bf-86f1-41af-91ab-2d7cd011db47&state={state}");
/// let consent = core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now + Duration::seconds(30)))?;
/// assert!(matches!(&consent.outcome, ProviderOutcome::AdminConsent { tenant, .. }
///     if tenant.claimed() == "72f988bf-86f1-41af-91ab-2d7cd011db47"));
/// let next = consent.next.as_ref().expect("the proof sign-in");
/// assert!(next.url.starts_with("https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/authorize?"));
/// assert_eq!(next.expires_at, issued.expires_at); // the proof expires with the consent
/// let json = serde_json::to_value(&consent)?;
/// assert_eq!(json["outcome"]["type"], "adminConsent");
///
/// // Microsoft sent an error along with `admin_consent=True`: the error wins.
/// let query = format!("admin_consent=True&tenant=72f988bf-86f1-41af-91ab-2d7cd011db47&error=consent_required&state={state}");
/// let refused = core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now)).unwrap_err();
/// assert!(matches!(refused, CallbackError::Provider { ref error, .. } if error == "consent_required"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
// Not `Clone`: it holds the sign-in's PKCE verifier, which is sent once.
#[derive(Debug)]
pub struct VerifiedCallback {
    /// The authenticated state.
    pub state: VerifiedState,
    /// The provider's answer.
    pub outcome: ProviderOutcome,
    /// The next redirect, when the flow continues: after a Teams admin
    /// consent, the sign-in that proves the tenant (and may link the user).
    /// Such a callback yields nothing to store; send the browser here.
    /// (Boxed: it is rare, and the answer is moved on every callback.)
    pub next: Option<Box<IssuedUrl>>,
    provider: Arc<dyn Provider>,
    pkce_verifier: Option<PkceVerifier>,
}

impl VerifiedCallback {
    /// The provider that verified the callback.
    ///
    /// ```
    /// use channel_connect::*;
    /// # use time::{Duration, OffsetDateTime};
    /// # let keys = || -> Result<KeyRing, KeyError> { Ok(KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?)) };
    /// # let redirect = RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?;
    /// # let slack = Slack::new(ClientId::new("1234567890.1234567890")?, Secret::new("slack-client-secret"), redirect.clone());
    /// # let teams = MsTeams::new(ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?, Secret::new("teams-client-secret"), redirect);
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", keys()?)
    ///     .integration(Integration::new("chat", slack))
    ///     .build()?;
    /// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"chat","subscriberId":"subscriber-123"}"#)?;
    /// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// let query = format!("code=4724.demo-code&state={}", issued.state().unwrap());
    /// let params = CallbackParams::parse(&query)?;
    /// let verify = VerifyParams::at(now + Duration::seconds(20));
    /// let verified = core.verify_callback(&params, &verify)?;
    /// assert_eq!((verified.provider().id(), verified.provider().display_name()), ("slack", "Slack"));
    ///
    /// // The integration "chat" now points at Teams: a Slack state is not Teams' to read.
    /// let repointed = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", keys()?)
    ///     .integration(Integration::new("chat", teams))
    ///     .build()?;
    /// match repointed.verify_callback(&params, &verify) {
    ///     Err(CallbackError::State(e)) => assert_eq!(e.kind(), StateErrorKind::WrongProvider),
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn provider(&self) -> &dyn Provider {
        self.provider.as_ref()
    }

    /// The PKCE verifier of a sign-in state, re-derived from its nonce and
    /// the key that sealed it (`None` when the provider uses no PKCE here, or
    /// the key has left the ring).
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
    /// # let callback = |query: String| -> Result<VerifiedCallback, Box<dyn std::error::Error>> {
    /// #     Ok(core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now + Duration::seconds(20)))?)
    /// # };
    /// // A Teams user link signs in with PKCE: its callback has the verifier.
    /// let body = LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"msteams","subscriberId":"subscriber-123"}"#)?;
    /// let issued = core.link_user_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// let teams = callback(format!("code=0.AXoA-demo&state={}", issued.state().unwrap()))?;
    /// let verifier = teams.pkce_verifier().expect("a Teams sign-in uses PKCE");
    /// assert!(issued.url.contains(&format!("code_challenge={}&", verifier.challenge().as_str())));
    ///
    /// // Slack authenticates its exchange with the client secret alone: no verifier.
    /// let body = LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// let issued = core.link_user_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// let slack = callback(format!("code=4724.demo-code&state={}", issued.state().unwrap()))?;
    /// assert!(slack.pkce_verifier().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    /// # let callback = |query: String| -> Result<VerifiedCallback, Box<dyn std::error::Error>> {
    /// #     Ok(core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now + Duration::seconds(20)))?)
    /// # };
    /// // A Slack install: redeem the code at oauth.v2.access.
    /// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// let install = callback(format!("code=4724.demo-code&state={}", issued.state().unwrap()))?;
    /// let request = install.token_request()?.expect("a code to redeem");
    /// assert_eq!((request.method(), request.url()), ("POST", "https://slack.com/api/oauth.v2.access"));
    /// assert_eq!(request.form_field("code"), Some("4724.demo-code"));
    ///
    /// // A Teams admin consent: nothing to redeem (follow `next` instead).
    /// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"msteams","subscriberId":"subscriber-123"}"#)?;
    /// let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// let consent = callback(format!(
    ///     "admin_consent=True&tenant=72f988bf-86f1-41af-91ab-2d7cd011db47&state={}",
    ///     issued.state().unwrap()
    /// ))?;
    /// assert!(consent.token_request()?.is_none());
    /// assert!(consent.next.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn token_request(&self) -> Result<Option<HttpRequest>, ExchangeError> {
        self.provider.token_request(&self.exchange())
    }

    /// The records the provider's answer to [`VerifiedCallback::token_request`]
    /// yields, received at `now` (which checks an `id_token` and turns
    /// `expires_in` into `expiresAt`).
    ///
    /// The proof of a Teams connect: the sign-in's `id_token` must name the
    /// tenant the admin consent claimed.
    ///
    /// ```
    /// use channel_connect::exchange::{ExchangeError, IdTokenError};
    /// use channel_connect::http::HttpResponse;
    /// # use channel_connect::*;
    /// # use time::{Duration, OffsetDateTime};
    /// # let teams = MsTeams::new(
    /// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
    /// #     Secret::new("teams-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
    /// #     .integration(Integration::new("msteams", teams))
    /// #     .build()?;
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// # use base64::Engine;
    /// # use serde_json::json;
    /// # // Microsoft's token endpoint answer for a sign-in in `tid` (the signature is not checked: TLS is the proof).
    /// # fn answer(tid: &str) -> Vec<u8> {
    /// #     let b64 = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    /// #     let claims = json!({
    /// #         "aud": "6731de76-14a6-49ae-97bc-6eba6914391e",
    /// #         "iss": format!("https://login.microsoftonline.com/{tid}/v2.0"),
    /// #         "iat": 1_767_225_600, "nbf": 1_767_225_600, "exp": 1_767_229_200,
    /// #         "name": "Megan Bowen", "preferred_username": "MeganB@contoso.onmicrosoft.com",
    /// #         "oid": "00000000-0000-0000-66f3-3332eca7ea81", "tid": tid, "ver": "2.0"
    /// #     });
    /// #     let id_token = format!("{}.{}.c2lnbmF0dXJl", b64(json!({"typ": "JWT", "alg": "RS256", "kid": "demo"})), b64(claims));
    /// #     json!({"token_type": "Bearer", "scope": "openid profile", "expires_in": 3599,
    /// #            "access_token": "eyJ0eXAiOiJKV1QiLCJub25jZSI6.demo", "id_token": id_token}).to_string().into_bytes()
    /// # }
    /// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"msteams","context":{"tenant":"org-acme"},"connectionIdentifier":"teams-connection-acme"}"#)?;
    /// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// # let query = format!("admin_consent=True&tenant=72f988bf-86f1-41af-91ab-2d7cd011db47&state={}", issued.state().unwrap());
    /// # let consent = core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now + Duration::seconds(30)))?;
    /// # let query = format!("code=0.AXoA-demo&state={}", consent.next.unwrap().state().unwrap());
    /// // The proof sign-in's callback, after an admin consent that claimed Contoso's tenant.
    /// let proof = core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now + Duration::seconds(60)))?;
    /// // The host sends `proof.token_request()`; Microsoft answers with an id_token.
    /// let contoso = answer("72f988bf-86f1-41af-91ab-2d7cd011db47");
    /// let records = proof.records(&HttpResponse::new(200, &contoso), now + Duration::seconds(61))?;
    /// let connection = records.connection.expect("the proven tenant's connection");
    /// assert_eq!(connection.identifier, "teams-connection-acme");
    /// assert_eq!(connection.workspace.id, "72f988bf-86f1-41af-91ab-2d7cd011db47");
    ///
    /// // Someone who consented in their own tenant and forged Contoso's in the callback.
    /// let elsewhere = answer("f8cdef31-a31e-4b4a-93e4-5f571e91255a");
    /// let refused = proof.records(&HttpResponse::new(200, &elsewhere), now + Duration::seconds(61)).unwrap_err();
    /// assert_eq!(refused, ExchangeError::IdToken(IdTokenError::WrongTenant));
    /// assert_eq!(refused.status(), 403);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn records(
        &self,
        response: &HttpResponse<'_>,
        now: OffsetDateTime,
    ) -> Result<StoredRecords, ExchangeError> {
        self.provider.records(&self.exchange(), response, now)
    }

    /// The second request a provider needs before its records, built from
    /// its answer to [`VerifiedCallback::token_request`] (Webex: the person
    /// behind the new token, `GET /v1/people/me`); `Ok(None)` for Slack and
    /// Teams, whose token answers say it all. Send it, then call
    /// [`VerifiedCallback::records_with_identity`] with both answers.
    ///
    /// ```
    /// use channel_connect::http::HttpResponse;
    /// use channel_connect::provider::webex::Webex;
    /// # use channel_connect::*;
    /// # use time::{Duration, OffsetDateTime};
    /// # let webex = Webex::new(
    /// #     ClientId::new("C64ab04639eefee4798f58e7bc3fe01d47161be0d97ff0d31e040a6ffe66d7f0a")?,
    /// #     Secret::new("webex-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
    /// #     .integration(Integration::new("webex", webex))
    /// #     .build()?;
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"webex","subscriberId":"subscriber-123","autoLinkUser":true}"#)?;
    /// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// # let query = format!("code=NzFkZTc5Y2Et&state={}", issued.state().unwrap());
    /// let verified = core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now + Duration::seconds(20)))?;
    /// let token_request = verified.token_request()?.expect("a code to redeem");
    /// assert_eq!(token_request.url(), "https://webexapis.com/v1/access_token");
    /// // Webex answers a token pair, and nothing about whose it is...
    /// let tokens = br#"{"access_token":"ZDI3MGEyYzQtNmFl","expires_in":1209600,"refresh_token":"MDEyMzQ1Njc4OWFi","refresh_token_expires_in":7776000,"token_type":"Bearer"}"#;
    /// let tokens = HttpResponse::new(200, tokens);
    /// let people_me = verified.identity_request(&tokens)?.expect("Webex needs the person");
    /// assert_eq!(people_me.url(), "https://webexapis.com/v1/people/me");
    /// // ...which `GET /v1/people/me` tells.
    /// let person = br#"{"id":"Y2lzY29zcGFyazovL3VzL1BFT1BMRS9mNWIzNjE4Ny1jOGRkLTQ3MjctOGIyZi1mOWM0NDdmMjkwNDY","emails":["megan@example.com"],"displayName":"Megan Bowen","orgId":"Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi85NmFiYzJhYS0zZGNjLTExZTUtYTE1Mi1mZTM0ODE5Y2RjOWE"}"#;
    /// let records = verified.records_with_identity(&tokens, &HttpResponse::new(200, person), now + Duration::seconds(21))?;
    /// assert_eq!(records.connection.unwrap().provider_id, "webex-messaging");
    /// assert_eq!(records.endpoints[0].endpoint.kind(), "webex_person");
    ///
    /// // Without the person's answer there is nothing to store.
    /// assert!(verified.records(&tokens, now + Duration::seconds(21)).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn identity_request(
        &self,
        token_response: &HttpResponse<'_>,
    ) -> Result<Option<HttpRequest>, ExchangeError> {
        self.provider.identity_request(&self.exchange(), token_response)
    }

    /// The records from the answer to [`VerifiedCallback::token_request`]
    /// and the answer to [`VerifiedCallback::identity_request`], received at
    /// `now`.
    pub fn records_with_identity(
        &self,
        token_response: &HttpResponse<'_>,
        identity_response: &HttpResponse<'_>,
        now: OffsetDateTime,
    ) -> Result<StoredRecords, ExchangeError> {
        let exchange = self.exchange().with_identity(identity_response);
        self.provider.records(&exchange, token_response, now)
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
    /// let query = format!("code=4724.demo-code&state={}", issued.state().unwrap());
    /// let params = CallbackParams::parse(&query)?;
    /// let verify = VerifyParams::at(now + Duration::seconds(20));
    /// let opened = platform.open_callback(&params, &verify)?;
    /// let environment = load(opened.state().environment_id())?;
    /// let verified = environment.finish_callback(opened, &verify)?;
    /// assert!(verified.token_request()?.is_some());
    ///
    /// // Finished on another environment than the one the state names.
    /// let opened = platform.open_callback(&params, &verify)?;
    /// let refused = load("6615c4b2e0f3a1b2c3d4e5f8")?.finish_callback(opened, &verify).unwrap_err();
    /// assert!(matches!(refused, CallbackError::State(e) if e.kind() == StateErrorKind::WrongEnvironment));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn finish_callback(
        &self,
        opened: OpenedCallback<'_, '_>,
        verify: &VerifyParams<'_>,
    ) -> Result<VerifiedCallback, CallbackError> {
        // The state is read where it is and moved once, into the answer.
        let provider = Arc::clone(self.check_route(&opened.state, verify)?);
        let outcome = provider.interpret(&opened.state, opened.params)?;
        let next = match provider.proof_workspace(&opened.state, &outcome) {
            Some(workspace) => Some(Box::new(self.proof_follow_up(
                provider.as_ref(),
                &opened.state,
                workspace,
                verify.now,
            )?)),
            None => None,
        };
        let pkce_verifier = self.verifier_for(provider.as_ref(), &opened.state);
        Ok(VerifiedCallback {
            state: opened.state,
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
