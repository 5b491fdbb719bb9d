//! Slack OAuth v2 (<https://api.slack.com/authentication/oauth-v2>):
//! workspace install (bot scopes) and personal sign-in (user scopes). The
//! exchange, token rotation and revocation are in [`oauth`]; the signature of
//! Slack's requests to the app and the Events API payloads, in [`events`].

use std::borrow::Cow;

use time::OffsetDateTime;

use crate::callback::{CallbackError, CallbackParams, Conflict, ProviderOutcome};
use crate::config::{BaseUrl, ClientId, ConfigError, RedirectUri};
use crate::encode::{param, push_scope_list};
use crate::exchange::{Exchange, ExchangeError, FlowMismatch};
use crate::http::{HttpRequest, HttpResponse};
use crate::provider::{AuthorizeRequest, Provider};
use crate::records::StoredRecords;
use crate::request::{
    ConnectRequest, DEFAULT_SLACK_SCOPES, DEFAULT_SLACK_USER_SCOPES, RequestError, Scopes, WorkspaceRefusal,
};
use crate::secret::{AuthorizationCode, ClientSecret};
use crate::state::{Purpose, StateError, StateErrorKind, VerifiedState};

pub mod events;
pub mod oauth;

/// Slack's base URL; GovSlack's is [`GOVSLACK_BASE_URL`].
pub const SLACK_BASE_URL: &str = "https://slack.com";
/// GovSlack (<https://slack-gov.com>): the same paths on another host.
pub const GOVSLACK_BASE_URL: &str = "https://slack-gov.com";

/// A Slack app.
///
/// ```
/// use channel_connect::{BaseUrl, ClientId, RedirectUri, Secret, Slack};
///
/// let app = Slack::new(
///     ClientId::new("1234.5678")?,
///     Secret::new("slack-client-secret"),
///     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// )
/// .with_base_url(BaseUrl::new("https://slack-gov.com")?) // GovSlack
/// .with_team("T0123ABCD")?; // installs elsewhere are refused
/// assert_eq!(app.base_url().as_str(), "https://slack-gov.com");
/// assert!(Slack::new(ClientId::new("1")?, Secret::new("s"), RedirectUri::new("https://a.example/cb")?)
///     .with_team("not-a-team")
///     .is_err());
/// # Ok::<(), channel_connect::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Slack {
    client_id: ClientId,
    client_secret: ClientSecret,
    redirect_uri: RedirectUri,
    base_url: BaseUrl,
    // URL parts written once here rather than on every request.
    authorize_prefix: String,
    client_part: String,
    team: Option<String>,
}

impl Slack {
    /// A Slack app with its client id, client secret and redirect URI, on
    /// `https://slack.com`: the three values of the app's settings at
    /// <https://api.slack.com/apps> (Basic Information, OAuth & Permissions).
    ///
    /// ```
    /// use channel_connect::*;
    /// use time::OffsetDateTime;
    ///
    /// let slack = Slack::new(
    ///     ClientId::new("1234567890.1234567890")?,
    ///     Secret::new("slack-client-secret"),
    ///     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// );
    /// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
    /// #     .integration(Integration::new("slack", slack))
    /// #     .build()?;
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// let url = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?.url;
    /// assert!(url.starts_with("https://slack.com/oauth/v2/authorize?state="));
    /// assert!(url.contains("&client_id=1234567890.1234567890&redirect_uri=https%3A%2F%2Fapi.example.com%2F"));
    ///
    /// // Slack's rule: an incoming webhook belongs to a subscriber.
    /// let body = ConnectRequestBody::from_json(
    ///     br#"{"integrationIdentifier":"slack","context":{"tenant":"org-acme"},"scope":["incoming-webhook"]}"#,
    /// )?;
    /// let err = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32]))).unwrap_err();
    /// assert_eq!(err.to_string(), "subscriberId is required for incoming webhook");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(
        client_id: ClientId,
        client_secret: impl Into<ClientSecret>,
        redirect_uri: RedirectUri,
    ) -> Self {
        let client_part =
            param('&', "client_id", client_id.as_str()) + &param('&', "redirect_uri", redirect_uri.as_str());
        Slack {
            client_id,
            client_secret: client_secret.into(),
            redirect_uri,
            base_url: BaseUrl::from_static(SLACK_BASE_URL),
            authorize_prefix: format!("{SLACK_BASE_URL}/oauth/v2/authorize?state="),
            client_part,
            team: None,
        }
    }

    /// Uses another base URL: GovSlack ([`GOVSLACK_BASE_URL`]) or a local
    /// stand-in (`http://127.0.0.1:PORT`). Authorize, exchange, refresh and
    /// revoke all go there.
    ///
    /// ```
    /// use channel_connect::provider::slack::{GOVSLACK_BASE_URL, oauth};
    /// use channel_connect::{BaseUrl, ClientId, RedirectUri, Secret, Slack};
    ///
    /// # let app = Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// let gov = app.with_base_url(BaseUrl::new(GOVSLACK_BASE_URL)?);
    /// let req = oauth::access_request(&gov, &channel_connect::secret::AuthorizationCode::new("4724.demo-code"));
    /// assert_eq!(req.url(), "https://slack-gov.com/api/oauth.v2.access");
    /// // Plain http is for loopback stand-ins only.
    /// assert!(BaseUrl::new("http://slack.internal.example.com").is_err());
    /// # Ok::<(), channel_connect::ConfigError>(())
    /// ```
    pub fn with_base_url(mut self, base_url: BaseUrl) -> Self {
        self.authorize_prefix = format!("{base_url}/oauth/v2/authorize?state=");
        self.base_url = base_url;
        self
    }

    /// The base URL.
    pub fn base_url(&self) -> &BaseUrl {
        &self.base_url
    }

    /// The client id.
    pub fn client_id(&self) -> &ClientId {
        &self.client_id
    }

    /// The redirect URI.
    pub fn redirect_uri(&self) -> &RedirectUri {
        &self.redirect_uri
    }

    /// Restricts installs and sign-ins to one workspace: a team id
    /// (`T...`), or an Enterprise Grid organization (`E...`) for org-wide
    /// installs. The authorize URL gets `team=`, which is only a hint the
    /// user can remove; the restriction itself is sealed in every state and
    /// the token response must name that team (`team.id`, or
    /// `enterprise.id` for an org-wide install), or it yields nothing.
    ///
    /// ```
    /// use channel_connect::{ClientId, ConfigError, RedirectUri, Secret, Slack};
    ///
    /// # let app = Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// let acme_only = app.clone().with_team("T9TK3CUKW")?;
    /// assert_eq!(acme_only.team(), Some("T9TK3CUKW"));
    /// // A channel name, a workspace URL or a lower-case id is not a team id.
    /// assert_eq!(app.clone().with_team("#general").unwrap_err(), ConfigError::SlackTeam);
    /// assert_eq!(app.with_team("acme.slack.com").unwrap_err(), ConfigError::SlackTeam);
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn with_team(mut self, team: &str) -> Result<Self, ConfigError> {
        if !is_team_id(team) {
            return Err(ConfigError::SlackTeam);
        }
        self.team = Some(team.to_owned());
        Ok(self)
    }

    /// The workspace installs are restricted to, when configured.
    ///
    /// ```
    /// use channel_connect::{ClientId, RedirectUri, Secret, Slack};
    ///
    /// # let app = Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// assert_eq!(app.team(), None); // any workspace may install
    /// assert_eq!(app.with_team("E0KF4RQ3T")?.team(), Some("E0KF4RQ3T")); // an Enterprise Grid organization
    /// # Ok::<(), channel_connect::ConfigError>(())
    /// ```
    pub fn team(&self) -> Option<&str> {
        self.team.as_deref()
    }

    /// The client secret, for the code exchange.
    pub fn client_secret(&self) -> &ClientSecret {
        &self.client_secret
    }
}

/// A Slack team or Enterprise Grid id: `T` or `E`, then upper-case letters
/// and digits, 2 to 32 characters.
fn is_team_id(team: &str) -> bool {
    (2..=32).contains(&team.len())
        && team.starts_with(['T', 'E'])
        && team.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

impl Provider for Slack {
    fn id(&self) -> &str {
        "slack"
    }

    fn display_name(&self) -> &str {
        "Slack"
    }

    fn client_id(&self) -> &ClientId {
        &self.client_id
    }

    fn redirect_uri(&self) -> &RedirectUri {
        &self.redirect_uri
    }

    fn restrict_workspace<'a>(
        &'a self,
        expected: Option<&'a str>,
    ) -> Result<Option<Cow<'a, str>>, RequestError> {
        let Some(expected) = expected else {
            return Ok(self.team.as_deref().map(Cow::Borrowed));
        };
        if !is_team_id(expected) {
            return Err(RequestError::InvalidWorkspace(WorkspaceRefusal::NotASlackTeam));
        }
        if self.team.as_deref().is_some_and(|t| t != expected) {
            return Err(RequestError::InvalidWorkspace(
                WorkspaceRefusal::OtherThanConfigured,
            ));
        }
        Ok(Some(Cow::Borrowed(expected)))
    }

    fn check_connect(&self, request: &ConnectRequest<'_>) -> Result<(), RequestError> {
        let webhook = request.scopes.is_some_and(|s| s.contains("incoming-webhook"));
        if webhook && request.subscriber.is_none() {
            return Err(RequestError::IncomingWebhookWithoutSubscriber);
        }
        Ok(())
    }

    /// Novu's order: `state, client_id, redirect_uri, scope` (then `user_scope`, `team`).
    fn authorize_url(&self, request: &AuthorizeRequest<'_>, out: &mut String) {
        // The state is base64url: unreserved characters, nothing to encode.
        out.push_str(&self.authorize_prefix);
        out.push_str(request.state);
        out.push_str(&self.client_part);
        // Constants, so the default lists' bytes are checked at compile time.
        const BOT: Scopes<'static> = Scopes::default_list(DEFAULT_SLACK_SCOPES);
        const USER: Scopes<'static> = Scopes::default_list(DEFAULT_SLACK_USER_SCOPES);
        let (name, scopes) = match request.purpose {
            Purpose::LinkUser => ("&user_scope=", request.user_scopes.unwrap_or(USER)),
            _ => ("&scope=", request.scopes.unwrap_or(BOT)),
        };
        out.push_str(name);
        push_scope_list(out, scopes.iter(), scopes.written_as_is());
        if let Some(team) = request.workspace {
            // A team id is upper-case letters and digits: nothing to encode.
            out.push_str("&team=");
            out.push_str(team);
        }
    }

    fn interpret<'q>(
        &self,
        state: &VerifiedState,
        params: &CallbackParams<'q>,
    ) -> Result<ProviderOutcome<'q>, CallbackError> {
        // Slack proves an install by its token response: it has no proof sign-in.
        if state.purpose() == Purpose::ConnectProof {
            return Err(StateError::from(StateErrorKind::WrongPurpose).into());
        }
        if let Some(error) = &params.error {
            return Err(CallbackError::from_provider(
                error,
                params.error_description.as_deref(),
            ));
        }
        if params.admin_consent.is_some() || params.tenant.is_some() {
            return Err(CallbackError::Conflicting(Conflict::MicrosoftOnSlack));
        }
        match &params.code {
            Some(code) if !code.is_empty() => Ok(ProviderOutcome::Code {
                code: AuthorizationCode::new(code.clone()),
            }),
            _ => Err(CallbackError::MissingParameters),
        }
    }

    fn token_request(&self, exchange: &Exchange<'_>) -> Result<Option<HttpRequest>, ExchangeError> {
        let code = exchange
            .code()
            .ok_or(ExchangeError::WrongFlow(FlowMismatch::NoCode))?;
        match exchange.state.purpose() {
            Purpose::Connect | Purpose::LinkUser => Ok(Some(oauth::access_request(self, code))),
            _ => Err(ExchangeError::WrongFlow(FlowMismatch::NoProofSignIn)),
        }
    }

    fn records(
        &self,
        exchange: &Exchange<'_>,
        response: &HttpResponse<'_>,
        now: OffsetDateTime,
    ) -> Result<StoredRecords, ExchangeError> {
        let state = exchange.state;
        match state.purpose() {
            Purpose::Connect => oauth::install_records(state, &oauth::parse_install(response)?, now),
            Purpose::LinkUser => Ok(StoredRecords {
                connection: None,
                endpoints: vec![oauth::user_record(state, &oauth::parse_user_sign_in(response)?)?],
            }),
            _ => Err(ExchangeError::WrongFlow(FlowMismatch::NoProofSignIn)),
        }
    }
}
