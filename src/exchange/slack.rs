//! Slack `oauth.v2.access`: the request that redeems a code, and parsers of
//! its answer for a workspace install ([`parse_install`]) and for a personal
//! `user_scope` sign-in ([`parse_user_sign_in`]).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::exchange::{
    AppCredentials, ExchangeError, HttpRequest, lenient_seconds, parse_json, required, required_secret,
};
use crate::secret::Secret;
use crate::text::error_code;

/// Slack's code exchange endpoint.
pub const SLACK_ACCESS_URL: &str = "https://slack.com/api/oauth.v2.access";

/// `POST https://slack.com/api/oauth.v2.access` with the client credentials by
/// HTTP Basic auth (`base64(client_id:client_secret)`, Slack's preferred way)
/// and the form `code`, `redirect_uri`. The redirect URI is the configured
/// one, byte for byte: Slack answers `bad_redirect_uri` to anything else.
pub fn access_request(app: &AppCredentials<'_>, code: &Secret) -> HttpRequest {
    let basic = STANDARD.encode(format!(
        "{}:{}",
        app.client_id.as_str(),
        app.client_secret.expose()
    ));
    HttpRequest::form_post(SLACK_ACCESS_URL)
        .with_header("Authorization", format!("Basic {basic}"), true)
        .with_field("code", code.expose())
        .with_field("redirect_uri", app.redirect_uri.as_str())
}

/// Slack's `error` of an `ok: false` answer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlackErrorCode {
    /// `invalid_code`: unknown or expired code (codes live 10 minutes).
    InvalidCode,
    /// `code_already_used`: codes are single-use.
    CodeAlreadyUsed,
    /// `bad_redirect_uri`: not the `redirect_uri` sent to authorize.
    BadRedirectUri,
    /// Any other code, kept when it is 1 to 64 characters of `[a-z0-9_]`,
    /// else `unrecognized`.
    Other(String),
}

impl SlackErrorCode {
    fn from_wire(error: Option<&str>) -> Self {
        match error {
            Some("invalid_code") => SlackErrorCode::InvalidCode,
            Some("code_already_used") => SlackErrorCode::CodeAlreadyUsed,
            Some("bad_redirect_uri") => SlackErrorCode::BadRedirectUri,
            other => SlackErrorCode::Other(error_code(other)),
        }
    }

    /// The code as Slack writes it.
    pub fn as_str(&self) -> &str {
        match self {
            SlackErrorCode::InvalidCode => "invalid_code",
            SlackErrorCode::CodeAlreadyUsed => "code_already_used",
            SlackErrorCode::BadRedirectUri => "bad_redirect_uri",
            SlackErrorCode::Other(code) => code,
        }
    }
}

impl fmt::Display for SlackErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Slack workspace (`team`) or Enterprise Grid organization (`enterprise`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SlackTeam {
    /// `T...` (team) or `E...` (enterprise).
    pub id: String,
    /// Its name, when Slack sent one.
    pub name: Option<String>,
}

/// `authed_user`: the person who installed or signed in.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SlackAuthedUser {
    /// The user id (`U...`).
    pub id: String,
    /// Granted user scopes (`scope`, comma-separated on the wire).
    pub scopes: Vec<String>,
    /// The user token, when user scopes were granted.
    pub access_token: Option<Secret>,
    /// `user`, when a user token came.
    pub token_type: Option<String>,
    /// The user refresh token, with token rotation.
    pub refresh_token: Option<Secret>,
    /// Seconds the user token lives, with token rotation.
    pub expires_in: Option<u64>,
}

/// `incoming_webhook`: the channel picked for the `incoming-webhook` scope.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SlackIncomingWebhook {
    /// The channel name (`#general`), when sent.
    pub channel: Option<String>,
    /// The channel id (`C...`).
    pub channel_id: String,
    /// Where an admin manages the webhook, when sent.
    pub configuration_url: Option<String>,
    /// The webhook URL: anyone holding it can post, so it is a secret.
    pub url: Secret,
}

/// A successful workspace install: the bot token and where it works.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SlackInstall {
    /// The app id (`A...`).
    pub app_id: String,
    /// The bot token (`xoxb-...`, or `xoxe.xoxb-...` with token rotation).
    pub access_token: Secret,
    /// `bot`.
    pub token_type: String,
    /// Granted bot scopes (`scope`, comma-separated on the wire).
    pub scopes: Vec<String>,
    /// The bot user id (`U...`).
    pub bot_user_id: String,
    /// The workspace; `None` on an org-wide Enterprise Grid install.
    pub team: Option<SlackTeam>,
    /// The Enterprise Grid organization, when any.
    pub enterprise: Option<SlackTeam>,
    /// True for an org-wide install (then `team` is `None`).
    pub is_enterprise_install: bool,
    /// The installing user, with a user token when user scopes were asked.
    pub authed_user: Option<SlackAuthedUser>,
    /// The webhook, when `incoming-webhook` was granted.
    pub incoming_webhook: Option<SlackIncomingWebhook>,
    /// The bot refresh token, with token rotation.
    pub refresh_token: Option<Secret>,
    /// Seconds the bot token lives, with token rotation.
    pub expires_in: Option<u64>,
}

impl SlackInstall {
    /// Where the bot was installed: the workspace, or the organization of
    /// an org-wide install.
    pub fn workspace(&self) -> Option<&SlackTeam> {
        self.team.as_ref().or(self.enterprise.as_ref())
    }
}

/// A personal `user_scope` sign-in: only `authed_user` is meaningful.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SlackUserSignIn {
    /// The app id, when sent.
    pub app_id: Option<String>,
    /// The signed-in user.
    pub authed_user: SlackAuthedUser,
    /// The user's workspace, when sent.
    pub team: Option<SlackTeam>,
    /// The user's Enterprise Grid organization, when any.
    pub enterprise: Option<SlackTeam>,
}

#[derive(Deserialize)]
struct Raw {
    ok: Option<bool>,
    error: Option<String>,
    app_id: Option<String>,
    access_token: Option<Secret>,
    token_type: Option<String>,
    scope: Option<String>,
    bot_user_id: Option<String>,
    team: Option<RawTeam>,
    enterprise: Option<RawTeam>,
    is_enterprise_install: Option<bool>,
    authed_user: Option<RawUser>,
    incoming_webhook: Option<RawWebhook>,
    refresh_token: Option<Secret>,
    #[serde(default, deserialize_with = "lenient_seconds")]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct RawTeam {
    id: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct RawUser {
    id: Option<String>,
    scope: Option<String>,
    access_token: Option<Secret>,
    token_type: Option<String>,
    refresh_token: Option<Secret>,
    #[serde(default, deserialize_with = "lenient_seconds")]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct RawWebhook {
    channel: Option<String>,
    channel_id: Option<String>,
    configuration_url: Option<String>,
    url: Option<Secret>,
}

/// Parses the answer to a workspace install. `ok: false` is
/// [`ExchangeError::Slack`]; a success without a bot token, bot user or
/// workspace is [`ExchangeError::MissingField`].
pub fn parse_install(body: &[u8]) -> Result<SlackInstall, ExchangeError> {
    let raw = parse_ok(body)?;
    let app_id = required(raw.app_id, "app_id")?;
    let access_token = required_secret(raw.access_token, "access_token")?;
    let token_type = required(raw.token_type, "token_type")?;
    let bot_user_id = required(raw.bot_user_id, "bot_user_id")?;
    let team = team_opt(raw.team, "team.id")?;
    let enterprise = team_opt(raw.enterprise, "enterprise.id")?;
    if team.is_none() && enterprise.is_none() {
        return Err(ExchangeError::MissingField("team"));
    }
    Ok(SlackInstall {
        app_id,
        access_token,
        token_type,
        scopes: comma_list(raw.scope.as_deref()),
        bot_user_id,
        team,
        enterprise,
        is_enterprise_install: raw.is_enterprise_install.unwrap_or(false),
        authed_user: raw.authed_user.map(user).transpose()?,
        incoming_webhook: raw.incoming_webhook.map(webhook).transpose()?,
        refresh_token: raw.refresh_token.filter(|t| !t.expose().is_empty()),
        expires_in: raw.expires_in,
    })
}

/// Parses the answer to a personal `user_scope` sign-in: `authed_user.id`
/// is required, the bot fields are ignored.
pub fn parse_user_sign_in(body: &[u8]) -> Result<SlackUserSignIn, ExchangeError> {
    let raw = parse_ok(body)?;
    let authed_user = raw
        .authed_user
        .ok_or(ExchangeError::MissingField("authed_user"))?;
    Ok(SlackUserSignIn {
        app_id: raw.app_id.filter(|a| !a.is_empty()),
        authed_user: user(authed_user)?,
        team: team_opt(raw.team, "team.id")?,
        enterprise: team_opt(raw.enterprise, "enterprise.id")?,
    })
}

/// Reads the body and turns `ok: false` into the typed error.
fn parse_ok(body: &[u8]) -> Result<Raw, ExchangeError> {
    let raw: Raw = parse_json(body)?;
    match raw.ok {
        Some(true) => Ok(raw),
        Some(false) => Err(ExchangeError::Slack(SlackErrorCode::from_wire(
            raw.error.as_deref(),
        ))),
        None => Err(ExchangeError::MissingField("ok")),
    }
}

/// A `{id, name}` object or null; an object without an id is refused.
fn team_opt(raw: Option<RawTeam>, id_name: &'static str) -> Result<Option<SlackTeam>, ExchangeError> {
    raw.map(|t| {
        Ok(SlackTeam {
            id: required(t.id, id_name)?,
            name: t.name,
        })
    })
    .transpose()
}

fn user(raw: RawUser) -> Result<SlackAuthedUser, ExchangeError> {
    Ok(SlackAuthedUser {
        id: required(raw.id, "authed_user.id")?,
        scopes: comma_list(raw.scope.as_deref()),
        access_token: raw.access_token.filter(|t| !t.expose().is_empty()),
        token_type: raw.token_type,
        refresh_token: raw.refresh_token.filter(|t| !t.expose().is_empty()),
        expires_in: raw.expires_in,
    })
}

fn webhook(raw: RawWebhook) -> Result<SlackIncomingWebhook, ExchangeError> {
    Ok(SlackIncomingWebhook {
        channel: raw.channel,
        channel_id: required(raw.channel_id, "incoming_webhook.channel_id")?,
        configuration_url: raw.configuration_url,
        url: required_secret(raw.url, "incoming_webhook.url")?,
    })
}

fn comma_list(s: Option<&str>) -> Vec<String> {
    s.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_split_on_commas() {
        assert_eq!(
            comma_list(Some("chat:write, users:read,,")),
            ["chat:write", "users:read"]
        );
        assert!(comma_list(None).is_empty());
    }

    #[test]
    fn ok_is_required() {
        assert_eq!(
            parse_install(br#"{"access_token":"xoxb-1"}"#).unwrap_err(),
            ExchangeError::MissingField("ok")
        );
    }

    #[test]
    fn team_without_id_is_refused() {
        let body = br#"{"ok":true,"app_id":"A1","access_token":"xoxb-1","token_type":"bot",
            "bot_user_id":"U1","team":{"name":"x"}}"#;
        assert_eq!(
            parse_install(body).unwrap_err(),
            ExchangeError::MissingField("team.id")
        );
    }
}
