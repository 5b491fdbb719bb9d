//! What verifying a callback answers: [`OpenedCallback`], a state opened
//! under the platform's keys and not yet routed to an environment, and
//! [`VerifiedCallback`], the verified outcome with the provider that reads
//! the exchange it leads to.

use std::borrow::Cow;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::callback::{CallbackParams, ProviderOutcome};
use crate::exchange::{Exchange, ExchangeError};
use crate::http::{HttpRequest, HttpResponse};
use crate::issued_url::IssuedUrl;
use crate::pkce::PkceVerifier;
use crate::provider::Provider;
use crate::records::StoredRecords;
use crate::state::VerifiedState;

/// A callback whose state opened under the platform's keys (MAC, time
/// window, binding) but is not yet checked against an environment's
/// configuration. Read [`OpenedCallback::state`] to find the environment,
/// then finish with
/// [`ChannelConnect::finish_callback`](crate::ChannelConnect::finish_callback).
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
    pub(crate) params: &'a CallbackParams<'p>,
    pub(crate) state: VerifiedState,
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

/// A verified callback: the facts of its state, what the provider said, and
/// what comes next. It keeps the provider that verified it, which builds
/// the token request ([`VerifiedCallback::token_request`]) and reads the
/// answer ([`VerifiedCallback::records`]).
///
/// `'a` is the configuration's and the callback query's: verifying borrows
/// the provider and the code instead of copying them (no allocation, no
/// reference count). [`VerifiedCallback::into_owned`] gives a
/// `VerifiedCallback<'static>` for a task that outlives them.
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
pub struct VerifiedCallback<'a> {
    /// The authenticated state.
    pub state: VerifiedState,
    /// The provider's answer (its code borrowed from the query).
    pub outcome: ProviderOutcome<'a>,
    /// The next redirect, when the flow continues: after a Teams admin
    /// consent, the sign-in that proves the tenant (and may link the user).
    /// Such a callback yields nothing to store; send the browser here.
    /// (Boxed: it is rare, and the answer is moved on every callback.)
    pub next: Option<Box<IssuedUrl>>,
    /// Borrowed from the configuration while the callback is read (no
    /// reference count touched), shared once [`VerifiedCallback::into_owned`].
    pub(crate) provider: Cow<'a, Arc<dyn Provider>>,
    pub(crate) pkce_verifier: Option<PkceVerifier>,
}

impl VerifiedCallback<'_> {
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
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn provider(&self) -> &dyn Provider {
        &**self.provider
    }

    /// The same callback, owning what it borrowed (the code from the query,
    /// the provider from the configuration): for a task or thread that
    /// outlives both. One allocation for the code.
    ///
    /// ```
    /// # use channel_connect::*;
    /// # use time::{Duration, OffsetDateTime};
    /// # let slack = Slack::new(ClientId::new("1234567890.1234567890")?, Secret::new("slack-client-secret"), RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?);
    /// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
    /// #     .integration(Integration::new("slack", slack))
    /// #     .build()?;
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// let query = format!("code=4724.demo-code&state={}", issued.state().unwrap());
    /// let params = CallbackParams::parse(&query)?;
    /// let verified = core.verify_callback(&params, &VerifyParams::at(now + Duration::seconds(20)))?;
    /// let owned: VerifiedCallback<'static> = verified.into_owned();
    /// drop(params);
    /// drop((query, core));
    /// let request = std::thread::spawn(move || owned.token_request()).join().unwrap()?;
    /// assert!(request.unwrap().body().contains("code=4724.demo-code"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_owned(self) -> VerifiedCallback<'static> {
        VerifiedCallback {
            state: self.state,
            outcome: self.outcome.into_owned(),
            next: self.next,
            provider: Cow::Owned(self.provider.into_owned()),
            pkce_verifier: self.pkce_verifier,
        }
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
    /// # let callback = |query: String| -> Result<VerifiedCallback<'static>, Box<dyn std::error::Error>> {
    /// #     Ok(core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now + Duration::seconds(20)))?.into_owned())
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
    /// # let callback = |query: String| -> Result<VerifiedCallback<'static>, Box<dyn std::error::Error>> {
    /// #     Ok(core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now + Duration::seconds(20)))?.into_owned())
    /// # };
    /// // A Slack install: redeem the code at oauth.v2.access.
    /// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// let install = callback(format!("code=4724.demo-code&state={}", issued.state().unwrap()))?;
    /// let request = install.token_request()?.expect("a code to redeem");
    /// assert_eq!((request.method(), request.url()), ("POST", "https://slack.com/api/oauth.v2.access"));
    /// assert_eq!(request.form_field("code"), Some("4724.demo-code"));
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

impl serde::Serialize for VerifiedCallback<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("VerifiedCallback", 3)?;
        st.serialize_field("state", &self.state)?;
        st.serialize_field("outcome", &self.outcome)?;
        st.serialize_field("next", &self.next)?;
        st.end()
    }
}
