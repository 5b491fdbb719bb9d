//! Slack OAuth v2: workspace install (bot scopes) and personal sign-in (user scopes).

use crate::callback::{CallbackError, CallbackParams, ProviderOutcome};
use crate::config::{ClientId, ConfigError, RedirectUri};
use crate::encode::{param, percent_encode_joined};
use crate::provider::{AuthorizeRequest, Provider};
use crate::request::{ConnectRequest, DEFAULT_SLACK_SCOPES, DEFAULT_SLACK_USER_SCOPES, RequestError, Scopes};
use crate::secret::Secret;
use crate::state::Purpose;

/// Slack's authorize endpoint.
pub const SLACK_AUTHORIZE_URL: &str = "https://slack.com/oauth/v2/authorize";

/// A Slack app.
#[derive(Clone, Debug)]
pub struct Slack {
    client_id: ClientId,
    client_secret: Secret,
    redirect_uri: RedirectUri,
    // URL parts encoded once here rather than on every request.
    client_part: String,
    team_part: String,
}

impl Slack {
    /// A Slack app with its client id, client secret and redirect URI.
    pub fn new(client_id: ClientId, client_secret: Secret, redirect_uri: RedirectUri) -> Self {
        let client_part =
            param('&', "client_id", client_id.as_str()) + &param('&', "redirect_uri", redirect_uri.as_str());
        Slack {
            client_id,
            client_secret,
            redirect_uri,
            client_part,
            team_part: String::new(),
        }
    }

    /// Restricts installs to one workspace (`team=T...`).
    pub fn with_team(mut self, team: &str) -> Result<Self, ConfigError> {
        let ok = team.len() >= 2
            && team.len() <= 32
            && team.starts_with(['T', 'E'])
            && team.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !ok {
            return Err(ConfigError::SlackTeam);
        }
        self.team_part = param('&', "team", team);
        Ok(self)
    }

    /// The client secret, for the code exchange.
    pub fn client_secret(&self) -> &Secret {
        &self.client_secret
    }
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

    fn check_connect(&self, request: &ConnectRequest<'_>) -> Result<(), RequestError> {
        let webhook = request.scopes.is_some_and(|s| s.contains("incoming-webhook"));
        if webhook && request.subscriber.is_none() {
            return Err(RequestError::IncomingWebhookWithoutSubscriber);
        }
        Ok(())
    }

    /// Novu's order: `state, client_id, redirect_uri, scope` (then `user_scope`, `team`).
    fn authorize_url(&self, request: &AuthorizeRequest<'_>, out: &mut String) {
        out.push_str(SLACK_AUTHORIZE_URL);
        // The state is base64url: unreserved characters, nothing to encode.
        out.push_str("?state=");
        out.push_str(request.state);
        out.push_str(&self.client_part);
        let (name, scopes, default) = match request.purpose {
            Purpose::Connect => ("&scope=", request.scopes, DEFAULT_SLACK_SCOPES),
            Purpose::LinkUser => ("&user_scope=", request.user_scopes, DEFAULT_SLACK_USER_SCOPES),
        };
        out.push_str(name);
        percent_encode_joined(out, scopes.unwrap_or(Scopes::default_list(default)).iter(), ",");
        out.push_str(&self.team_part);
    }

    fn interpret(
        &self,
        _purpose: Purpose,
        params: &CallbackParams<'_>,
    ) -> Result<ProviderOutcome, CallbackError> {
        if let Some(error) = &params.error {
            return Err(CallbackError::from_provider(
                error,
                params.error_description.as_deref(),
            ));
        }
        if params.admin_consent.is_some() || params.tenant.is_some() {
            return Err(CallbackError::Conflicting(
                "Microsoft admin-consent parameters on a Slack callback",
            ));
        }
        match &params.code {
            Some(code) if !code.is_empty() => Ok(ProviderOutcome::Code {
                code: Secret::new(code.as_ref()),
            }),
            _ => Err(CallbackError::MissingParameters),
        }
    }

    fn token_endpoint(&self) -> Option<crate::exchange::TokenEndpoint<'_>> {
        Some(crate::exchange::TokenEndpoint::Slack {
            client_secret: &self.client_secret,
        })
    }
}
