//! One trait for every chat provider. The core seals states and checks
//! them; a provider owns the rest of its flow: its authorize URL, reading
//! its callback, the token request a verified callback leads to, and the
//! records its answer yields. A third provider implements [`Provider`] and
//! plugs into [`crate::Integration::new`] without any change to the core
//! (`tests/third_provider.rs` shows one).

use std::borrow::Cow;
use std::fmt;

use time::OffsetDateTime;

use crate::callback::{CallbackError, CallbackParams, ProviderOutcome};
use crate::config::{ClientId, ConfigError, RedirectUri};
use crate::exchange::{Exchange, ExchangeError, FlowMismatch};
use crate::http::{HttpRequest, HttpResponse};
use crate::records::StoredRecords;
use crate::request::{ConnectRequest, LinkUserRequest, RequestError, Scopes};
use crate::state::{Purpose, VerifiedState};

pub mod msteams;
pub mod slack;
pub mod webex;

/// What the core hands a provider to write an authorize URL.
///
/// ```
/// use channel_connect::request::Scopes;
/// use channel_connect::*;
///
/// # let slack = Slack::new(
/// #     ClientId::new("1234567890.1234567890")?,
/// #     Secret::new("slack-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// // A Slack user link, pointed at the workspace of the connection.
/// let request = AuthorizeRequest {
///     purpose: Purpose::LinkUser,
///     state: "AQEBAAAAAGlVwAABLEBBQkNERUZHSElKS0xNTk8",
///     scopes: None,
///     user_scopes: Some(Scopes::default_list(&["identity.basic", "identity.team"])),
///     pkce_challenge: None,
///     workspace: Some("T9TK3CUKW"),
///     links_user: true,
/// };
/// let mut url = String::new();
/// slack.authorize_url(&request, &mut url);
/// assert_eq!(
///     url,
///     "https://slack.com/oauth/v2/authorize?state=AQEBAAAAAGlVwAABLEBBQkNERUZHSElKS0xNTk8\
///      &client_id=1234567890.1234567890\
///      &redirect_uri=https%3A%2F%2Fapi.example.com%2Fv1%2Fintegrations%2Fchat%2Foauth%2Fcallback\
///      &user_scope=identity.basic,identity.team&team=T9TK3CUKW"
/// );
/// # Ok::<(), ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct AuthorizeRequest<'a> {
    /// Connect (install, admin consent), link-user (personal sign-in) or
    /// connect-proof (the sign-in that proves a connect's workspace).
    pub purpose: Purpose,
    /// The sealed state, base64url (needs no encoding).
    pub state: &'a str,
    /// Connect: the requested bot scopes (`None`: the provider's default).
    pub scopes: Option<Scopes<'a>>,
    /// Link-user: the requested user scopes (`None`: the provider's default).
    pub user_scopes: Option<Scopes<'a>>,
    /// The S256 challenge, when [`Provider::uses_pkce`] asked for one.
    pub pkce_challenge: Option<&'a str>,
    /// The workspace the state is restricted to (a Slack team, a Teams
    /// tenant): the URL should send the user there.
    pub workspace: Option<&'a str>,
    /// The flow also links the subscriber's own user (a connect-proof
    /// sign-in then asks for the user's profile too).
    pub links_user: bool,
}

/// A chat provider (Slack, Microsoft Teams, ...).
///
/// A provider needs its identity, its authorize URL and how to read its
/// callback; the exchange ([`Provider::token_request`],
/// [`Provider::records`]) is optional. The core seals and checks the state
/// around it:
///
/// ```
/// use channel_connect::*;
/// use time::{Duration, OffsetDateTime};
///
/// /// A Discord bot install (OAuth 2 code flow, https://discord.com/developers/docs/topics/oauth2).
/// #[derive(Debug)]
/// struct Discord {
///     client_id: ClientId,
///     redirect_uri: RedirectUri,
/// }
///
/// impl Provider for Discord {
///     fn id(&self) -> &str {
///         "discord"
///     }
///     fn display_name(&self) -> &str {
///         "Discord"
///     }
///     fn client_id(&self) -> &ClientId {
///         &self.client_id
///     }
///     fn redirect_uri(&self) -> &RedirectUri {
///         &self.redirect_uri
///     }
///     fn authorize_url(&self, request: &AuthorizeRequest<'_>, out: &mut String) {
///         out.push_str("https://discord.com/oauth2/authorize?response_type=code&scope=bot&client_id=");
///         out.extend(url::form_urlencoded::byte_serialize(self.client_id.as_str().as_bytes()));
///         out.push_str("&redirect_uri=");
///         out.extend(url::form_urlencoded::byte_serialize(self.redirect_uri.as_str().as_bytes()));
///         out.push_str("&state=");
///         out.push_str(request.state); // base64url: nothing to encode
///     }
///     fn interpret<'q>(&self, _state: &VerifiedState, params: &CallbackParams<'q>) -> Result<ProviderOutcome<'q>, CallbackError> {
///         match (&params.error, &params.code) {
///             (None, Some(code)) if !code.is_empty() => Ok(ProviderOutcome::Code { code: channel_connect::secret::AuthorizationCode::new(code.clone()) }),
///             _ => Err(CallbackError::MissingParameters),
///         }
///     }
/// }
///
/// let discord = Discord {
///     client_id: ClientId::new("1098765432109876543")?,
///     redirect_uri: RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// };
/// # let keys = KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?);
/// let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", keys)
///     .integration(Integration::new("discord", discord))
///     .build()?;
/// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"discord","subscriberId":"subscriber-123"}"#)?;
/// let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
/// assert!(issued.url.starts_with("https://discord.com/oauth2/authorize?response_type=code&scope=bot&client_id=1098765432109876543&"));
///
/// let query = format!("code=NhhvTDYsFcdgNLnnLijcl7Ku7bEEeee&state={}&guild_id=1098765432109876000", issued.state().unwrap());
/// let verified = core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now + Duration::seconds(30)))?;
/// assert_eq!(verified.state.provider(), "discord");
/// assert!(verified.token_request()?.is_none()); // this one implements no exchange
///
/// // The user cancelled on Discord's page.
/// let query = format!("error=access_denied&state={}", issued.state().unwrap());
/// assert!(core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now)).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Provider: fmt::Debug + Send + Sync {
    /// The id written in states: 1 to 32 characters of `[a-z0-9_-]`, stable forever.
    fn id(&self) -> &str;

    /// Name used in messages ("Slack", "MS Teams").
    fn display_name(&self) -> &str;

    /// The OAuth client id.
    fn client_id(&self) -> &ClientId;

    /// The redirect URI, reused byte for byte at the code exchange.
    fn redirect_uri(&self) -> &RedirectUri;

    /// Provider-specific request rules (Slack: `incoming-webhook` needs a subscriber).
    ///
    /// ```
    /// use channel_connect::*;
    ///
    /// # let slack = Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// let body = ConnectRequestBody::from_json(
    ///     br#"{"integrationIdentifier":"slack","context":{"tenant":"org-acme"},"scope":["chat:write","incoming-webhook"]}"#,
    /// )?;
    /// let request = ConnectRequest::validate(&body)?;
    /// assert_eq!(slack.check_connect(&request), Err(RequestError::IncomingWebhookWithoutSubscriber));
    ///
    /// let body = ConnectRequestBody::from_json(
    ///     br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123","scope":["chat:write","incoming-webhook"]}"#,
    /// )?;
    /// assert_eq!(slack.check_connect(&ConnectRequest::validate(&body)?), Ok(()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn check_connect(&self, request: &ConnectRequest<'_>) -> Result<(), RequestError> {
        let _ = request;
        Ok(())
    }

    /// This provider's rules for a user link (400), checked after the
    /// integration is found: Webex's person endpoint belongs to a connection,
    /// so a link must name one (the callback refuses one that does not too,
    /// for states issued without this check). The default: none.
    ///
    /// ```
    /// use channel_connect::request::LinkUserRequest;
    /// use channel_connect::*;
    ///
    /// let webex = Webex::new(
    ///     ClientId::new("C0ffee0123456789abcdef")?,
    ///     Secret::new("webex-client-secret"),
    ///     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// );
    /// let body = LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"webex","subscriberId":"subscriber-123"}"#)?;
    /// let refused = webex.check_link(&LinkUserRequest::validate(&body)?).unwrap_err();
    /// assert_eq!(refused, RequestError::LinkWithoutConnection { provider: "Webex" });
    /// assert_eq!(refused.status(), 400);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn check_link(&self, request: &LinkUserRequest<'_>) -> Result<(), RequestError> {
        let _ = request;
        Ok(())
    }

    /// The workspace a new state is restricted to: `expected`, the host's
    /// (it knows the connection a user is being linked to), checked for this
    /// provider's shape and against the integration's own restriction; else
    /// that restriction (a configured Slack team or Teams tenant); else none.
    /// The default passes `expected` through.
    ///
    /// ```
    /// use channel_connect::*;
    ///
    /// # let slack = Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// # let teams = MsTeams::new(
    /// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
    /// #     Secret::new("teams-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// assert_eq!(slack.restrict_workspace(Some("T9TK3CUKW"))?.as_deref(), Some("T9TK3CUKW"));
    /// assert_eq!(slack.restrict_workspace(None)?, None); // no team configured: any workspace
    /// // Teams tenants are compared in lower case.
    /// let tenant = teams.restrict_workspace(Some("72F988BF-86F1-41AF-91AB-2D7CD011DB47"))?;
    /// assert_eq!(tenant.as_deref(), Some("72f988bf-86f1-41af-91ab-2d7cd011db47"));
    ///
    /// // Each provider refuses the other's shape.
    /// assert!(matches!(slack.restrict_workspace(Some("72f988bf-86f1-41af-91ab-2d7cd011db47")), Err(RequestError::InvalidWorkspace(_))));
    /// assert!(matches!(teams.restrict_workspace(Some("T9TK3CUKW")), Err(RequestError::InvalidWorkspace(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn restrict_workspace<'a>(
        &'a self,
        expected: Option<&'a str>,
    ) -> Result<Option<Cow<'a, str>>, RequestError> {
        Ok(expected.map(Cow::Borrowed))
    }

    /// Whether the authorize URL for `purpose` carries a PKCE challenge.
    ///
    /// ```
    /// use channel_connect::*;
    ///
    /// # let slack = Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// # let teams = MsTeams::new(
    /// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
    /// #     Secret::new("teams-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// assert!(!teams.uses_pkce(Purpose::Connect)); // admin consent: no code to protect
    /// assert!(teams.uses_pkce(Purpose::ConnectProof));
    /// assert!(teams.uses_pkce(Purpose::LinkUser));
    /// assert!(!slack.uses_pkce(Purpose::Connect));
    /// # Ok::<(), ConfigError>(())
    /// ```
    fn uses_pkce(&self, purpose: Purpose) -> bool {
        let _ = purpose;
        false
    }

    /// Appends the authorize URL to `out` (which is empty).
    ///
    /// ```
    /// use channel_connect::*;
    ///
    /// # let teams = MsTeams::new(
    /// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
    /// #     Secret::new("teams-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// // A Teams proof sign-in in the tenant an admin consent claimed.
    /// let request = AuthorizeRequest {
    ///     purpose: Purpose::ConnectProof,
    ///     state: "AQEBAAAAAGlVwAABLEBBQkNERUZHSElKS0xNTk8",
    ///     scopes: None,
    ///     user_scopes: None,
    ///     pkce_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
    ///     workspace: Some("72f988bf-86f1-41af-91ab-2d7cd011db47"),
    ///     links_user: false,
    /// };
    /// let mut url = String::new();
    /// teams.authorize_url(&request, &mut url);
    /// assert!(url.starts_with("https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/authorize?"));
    /// assert!(url.contains("&scope=openid%20profile&state=AQEBAAAAAGlVwAABLEBBQkNERUZHSElKS0xNTk8&"));
    /// assert!(url.ends_with("&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"));
    /// assert_eq!(teams.authorize_url_len(&request), url.len());
    /// # Ok::<(), ConfigError>(())
    /// ```
    fn authorize_url(&self, request: &AuthorizeRequest<'_>, out: &mut String);

    /// The length [`Provider::authorize_url`] would write. The default writes
    /// the URL to measure it; a provider may answer without writing.
    fn authorize_url_len(&self, request: &AuthorizeRequest<'_>) -> usize {
        let mut scratch = String::new();
        self.authorize_url(request, &mut scratch);
        scratch.len()
    }

    /// Reads the callback of a verified state. Called only after the state
    /// opened; errors are checked before success parameters.
    ///
    /// ```
    /// use channel_connect::*;
    /// use time::OffsetDateTime;
    ///
    /// # let slack = Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
    /// #     .integration(Integration::new("slack", slack.clone()))
    /// #     .build()?;
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// let state = core.platform().open_state(issued.state().unwrap(), &VerifyParams::at(now))?;
    /// let code = slack.interpret(&state, &CallbackParams::parse("code=4724.demo-code")?)?;
    /// assert!(matches!(code, ProviderOutcome::Code { .. }));
    ///
    /// // The user pressed "Cancel" on Slack's page.
    /// let denied = slack.interpret(&state, &CallbackParams::parse("error=access_denied")?).unwrap_err();
    /// assert_eq!(denied.to_string(), "the authorization was declined (access_denied)");
    /// // Microsoft's parameters have no business on a Slack callback.
    /// let mixed = CallbackParams::parse("code=4724.demo-code&admin_consent=True")?;
    /// assert!(matches!(slack.interpret(&state, &mixed), Err(CallbackError::Conflicting(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn interpret<'q>(
        &self,
        state: &VerifiedState,
        params: &CallbackParams<'q>,
    ) -> Result<ProviderOutcome<'q>, CallbackError>;

    /// For a provider whose connect callback proves nothing by itself
    /// (Teams admin consent): the workspace the callback claims, which a
    /// connect-proof sign-in must then confirm. The core answers such a
    /// callback with that sign-in's URL, never with a connection.
    ///
    /// ```
    /// use channel_connect::*;
    /// use time::OffsetDateTime;
    ///
    /// # let teams = MsTeams::new(
    /// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
    /// #     Secret::new("teams-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
    /// #     .integration(Integration::new("msteams", teams.clone()))
    /// #     .build()?;
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"msteams","context":{"tenant":"org-acme"}}"#)?;
    /// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// let state = core.platform().open_state(issued.state().unwrap(), &VerifyParams::at(now))?;
    /// let params = CallbackParams::parse("admin_consent=True&tenant=72f988bf-86f1-41af-91ab-2d7cd011db47")?;
    /// let consent = teams.interpret(&state, &params)?;
    /// // A claim to prove, not a tenant to trust.
    /// assert_eq!(teams.proof_workspace(&state, &consent), Some("72f988bf-86f1-41af-91ab-2d7cd011db47"));
    ///
    /// let code = ProviderOutcome::Code { code: channel_connect::secret::AuthorizationCode::new("0.AXoA-demo") };
    /// assert_eq!(teams.proof_workspace(&state, &code), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn proof_workspace<'o>(
        &self,
        state: &VerifiedState,
        outcome: &'o ProviderOutcome<'_>,
    ) -> Option<&'o str> {
        let _ = (state, outcome);
        None
    }

    /// `Some(n)` when [`Provider::proof_workspace`] can answer, `n` the
    /// length of the workspace ids it gives (a tenant GUID: 36), so that a
    /// connect whose proof URL would be too long is refused at issue.
    fn proof_workspace_len(&self) -> Option<usize> {
        None
    }

    /// The token request a verified callback leads to; `Ok(None)` when
    /// there is nothing to exchange (a Teams admin consent, which continues
    /// with [`Provider::proof_workspace`]'s sign-in). The default: nothing.
    fn token_request(&self, exchange: &Exchange<'_>) -> Result<Option<HttpRequest>, ExchangeError> {
        let _ = exchange;
        Ok(None)
    }

    /// A second request the records need, built from the answer to
    /// [`Provider::token_request`]: for a provider whose token answer does
    /// not say whose token it is. Webex answers a bare token pair; who
    /// signed in, and in which organization, is `GET /v1/people/me` with
    /// the new token ([`crate::provider::webex`]). The host sends it and
    /// hands its answer to [`Provider::records`] in [`Exchange::identity`]
    /// ([`crate::VerifiedCallback::records_with_identity`]). An error answer
    /// to the token request is refused here, so nothing more is sent.
    /// The default, `Ok(None)`: the token answer is enough.
    fn identity_request(
        &self,
        exchange: &Exchange<'_>,
        token_response: &HttpResponse<'_>,
    ) -> Result<Option<HttpRequest>, ExchangeError> {
        let _ = (exchange, token_response);
        Ok(None)
    }

    /// The records the provider's answer to [`Provider::token_request`]
    /// yields, received at `now`. Every record must name the workspace the
    /// state is restricted to, when it is ([`crate::records::connection`]
    /// checks it).
    fn records(
        &self,
        exchange: &Exchange<'_>,
        response: &HttpResponse<'_>,
        now: OffsetDateTime,
    ) -> Result<StoredRecords, ExchangeError> {
        let _ = (exchange, response, now);
        Err(ExchangeError::WrongFlow(FlowMismatch::NothingToExchange))
    }
}

/// Checks a provider id: 1 to 32 characters of `[a-z0-9_-]`.
pub(crate) fn check_provider_id(id: &str) -> Result<(), ConfigError> {
    let ok = !id.is_empty()
        && id.len() <= 32
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::ProviderId(id.to_owned()))
    }
}
