//! Slack's `oauth.v2.access` (<https://api.slack.com/methods/oauth.v2.access>):
//! the request that redeems a code, its answers for a workspace install
//! ([`parse_install`]) and a personal `user_scope` sign-in
//! ([`parse_user_sign_in`]), and the records they yield; token rotation
//! (<https://api.slack.com/authentication/rotation>: [`refresh_request`],
//! [`parse_refresh`]) and `auth.revoke`
//! (<https://api.slack.com/methods/auth.revoke>: [`revoke_request`],
//! [`parse_revoke`]).
//!
//! **One refresh at a time per installation.** A refresh token is
//! single-use: Slack answers a new access token *and a new refresh token*,
//! and the old refresh token stops working. Two workers refreshing the same
//! installation concurrently both send the old token; one wins, the other
//! gets `invalid_refresh_token` (or, worse, stores a token pair that is
//! already replaced). Take a per-installation lock (a row lock, or a Redis
//! `SET lock:<team> NX PX 30000`), re-read the installation under it, refresh
//! only if [`crate::records::AuthRecord::needs_refresh`] still says so, and
//! store both new tokens before releasing it.
//!
//! A refresh, under that lock:
//!
//! ```
//! use channel_connect::http::HttpResponse;
//! use channel_connect::provider::slack::oauth;
//! use channel_connect::records::AuthRecord;
//! use channel_connect::{ClientId, RedirectUri, Secret, Slack};
//! use time::{Duration, OffsetDateTime};
//!
//! # let app = Slack::new(
//! #     ClientId::new("1234567890.1234567890")?,
//! #     Secret::new("slack-client-secret"),
//! #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
//! # );
//! let now = OffsetDateTime::from_unix_timestamp(1_767_268_500)?;
//! // The stored `auth` of the connection, re-read under the lock.
//! let auth: AuthRecord = serde_json::from_str(
//!     r#"{"accessToken":"xoxe.xoxb-1-old","tokenType":"bot","refreshToken":"xoxe-1-old","expiresAt":"2026-01-01T12:00:00Z"}"#,
//! )?;
//! assert!(auth.needs_refresh(now, Duration::minutes(10))); // 5 minutes left
//!
//! let request = oauth::refresh_request(&app, auth.refresh_token.as_ref().unwrap());
//! assert_eq!(request.form_field("refresh_token"), Some("xoxe-1-old"));
//! // ...sent by the host; Slack answers:
//! let answer = br#"{"ok":true,"app_id":"A0KRD7HC3","access_token":"xoxe.xoxb-1-MS0yLTI","expires_in":43200,"refresh_token":"xoxe-1-My0xLTI0","token_type":"bot","scope":"chat:write,channels:read","bot_user_id":"U0KRQLJ9H","team":{"id":"T9TK3CUKW","name":"Slack Softball Team"},"enterprise":null,"is_enterprise_install":false}"#;
//! let refreshed = oauth::parse_refresh(&HttpResponse::new(200, answer), now)?;
//! let new_auth = refreshed.auth_record(); // store it, then release the lock
//! assert_eq!(new_auth.refresh_token, Some(channel_connect::secret::RefreshToken::new("xoxe-1-My0xLTI0")));
//! assert_eq!(new_auth.expires_at, Some(now + Duration::hours(12)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! (Most of this file's length is the runnable examples in its doc comments;
//! the code, tests included, is about 360 lines.)

use serde::Deserialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::exchange::{
    ExchangeError, FlowMismatch, ProviderError, ProviderErrorKind, expires_at, lenient_seconds, parse_json,
    required, required_secret,
};
use crate::http::{HttpRequest, HttpResponse};
use crate::provider::slack::Slack;
use crate::records::{self, AuthRecord, Endpoint, StoredRecords, WorkspaceRecord};
use crate::secret::{AccessToken, AuthorizationCode, RefreshToken, Secret};
use crate::state::{Purpose, VerifiedState};

/// `POST {base}/api/oauth.v2.access` with the client credentials by HTTP
/// Basic auth (`base64(client_id:client_secret)`, Slack's preferred way) and
/// the form `code`, `redirect_uri`. The redirect URI is the configured one,
/// byte for byte: Slack answers `bad_redirect_uri` to anything else.
///
/// [`crate::VerifiedCallback::token_request`] calls it for a Slack code.
///
/// ```
/// use channel_connect::provider::slack::oauth;
/// use channel_connect::{ClientId, RedirectUri, Secret, Slack};
///
/// # let app = Slack::new(
/// #     ClientId::new("1234567890.1234567890")?,
/// #     Secret::new("slack-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// let req = oauth::access_request(&app, &channel_connect::secret::AuthorizationCode::new("4724.demo-code"));
/// assert_eq!(req.url(), "https://slack.com/api/oauth.v2.access");
/// // base64("1234567890.1234567890:slack-client-secret")
/// assert_eq!(
///     req.header_value("authorization"),
///     Some("Basic MTIzNDU2Nzg5MC4xMjM0NTY3ODkwOnNsYWNrLWNsaWVudC1zZWNyZXQ=")
/// );
/// assert_eq!(req.form_field("code"), Some("4724.demo-code"));
/// assert_eq!(req.form_field("redirect_uri"), Some("https://api.example.com/v1/integrations/chat/oauth/callback"));
/// assert_eq!(req.form_field("client_secret"), None); // in the header, not the body
/// # Ok::<(), channel_connect::ConfigError>(())
/// ```
pub fn access_request(app: &Slack, code: &AuthorizationCode<'_>) -> HttpRequest {
    token_post(app)
        .secret_field("code", code)
        .field("redirect_uri", app.redirect_uri().as_str())
}

/// The token-rotation refresh: `POST {base}/api/oauth.v2.access` with Basic
/// client authentication and the form `grant_type=refresh_token`,
/// `refresh_token`. See the module documentation for the concurrency rule.
///
/// ```
/// use channel_connect::provider::slack::oauth;
/// use channel_connect::{ClientId, RedirectUri, Secret, Slack};
///
/// # let app = Slack::new(
/// #     ClientId::new("1234567890.1234567890")?,
/// #     Secret::new("slack-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// let req = oauth::refresh_request(&app, &channel_connect::secret::RefreshToken::new("xoxe-1-My0xLTI0"));
/// assert_eq!(req.body(), "grant_type=refresh_token&refresh_token=xoxe-1-My0xLTI0");
/// assert!(!format!("{req:?}").contains("xoxe-1-My0xLTI0"));
/// # Ok::<(), channel_connect::ConfigError>(())
/// ```
pub fn refresh_request(app: &Slack, refresh_token: &RefreshToken) -> HttpRequest {
    token_post(app)
        .field("grant_type", "refresh_token")
        .secret_field("refresh_token", refresh_token)
}

/// `POST {base}/api/auth.revoke` with the token to revoke as a Bearer
/// token (Slack takes tokens in the `Authorization` header). Revoking a bot
/// token uninstalls nothing; it ends that token.
///
/// ```
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::slack::oauth;
/// use channel_connect::{ClientId, RedirectUri, Secret, Slack};
///
/// # let app = Slack::new(
/// #     ClientId::new("1234567890.1234567890")?,
/// #     Secret::new("slack-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// let req = oauth::revoke_request(&app, &channel_connect::secret::AccessToken::new("xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"));
/// assert_eq!(req.url(), "https://slack.com/api/auth.revoke");
/// assert!(req.header_value("authorization").unwrap().starts_with("Bearer xoxb-"));
/// assert!(oauth::parse_revoke(&HttpResponse::new(200, br#"{"ok":true,"revoked":true}"#))?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn revoke_request(app: &Slack, token: &AccessToken) -> HttpRequest {
    HttpRequest::post_form(format!("{}/api/auth.revoke", app.base_url())).bearer(token)
}

fn token_post(app: &Slack) -> HttpRequest {
    HttpRequest::post_form(format!("{}/api/oauth.v2.access", app.base_url()))
        .basic_auth(app.client_id().as_str(), app.client_secret())
}

/// What a Slack error code means.
fn kind_of(code: &str) -> ProviderErrorKind {
    use ProviderErrorKind as K;
    match code {
        "invalid_code"
        | "code_already_used"
        | "code_expired"
        | "invalid_refresh_token"
        | "invalid_grant_type" => K::InvalidGrant,
        "bad_redirect_uri" => K::RedirectUriMismatch,
        "invalid_client_id" | "bad_client_secret" | "invalid_client" => K::InvalidClient,
        "token_revoked" | "token_expired" | "invalid_auth" | "not_authed" | "account_inactive" => {
            K::TokenRevoked
        }
        "ratelimited" => K::RateLimited,
        _ => K::Other,
    }
}

fn slack_error(code: Option<&str>) -> ExchangeError {
    let code = code.unwrap_or("unrecognized");
    ProviderError::new("Slack", Some(code), kind_of(code)).into()
}

/// A Slack workspace (`team`) or Enterprise Grid organization (`enterprise`).
///
/// ```
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::slack::oauth;
///
/// let install = oauth::parse_install(&HttpResponse::new(200, br#"{"ok":true,"app_id":"A0KRD7HC3","authed_user":{"id":"U1234","scope":"identity.basic","access_token":"xoxp-1234","token_type":"user"},"scope":"chat:write,chat:write.public,channels:read","token_type":"bot","access_token":"xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy","bot_user_id":"U0KRQLJ9H","team":{"name":"Slack Softball Team","id":"T9TK3CUKW"},"enterprise":null,"is_enterprise_install":false}"#))?;
/// let team = install.team.as_ref().unwrap();
/// assert_eq!((team.id.as_str(), team.name.as_deref()), ("T9TK3CUKW", Some("Slack Softball Team")));
/// assert!(install.enterprise.is_none()); // not on Enterprise Grid
/// # Ok::<(), channel_connect::ExchangeError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SlackTeam {
    /// `T...` (team) or `E...` (enterprise).
    pub id: String,
    /// Its name, when Slack sent one.
    pub name: Option<String>,
}

/// `authed_user`: the person who installed or signed in.
///
/// ```
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::slack::oauth;
///
/// let install = oauth::parse_install(&HttpResponse::new(200, br#"{"ok":true,"app_id":"A0KRD7HC3","authed_user":{"id":"U1234","scope":"identity.basic","access_token":"xoxp-1234","token_type":"user"},"scope":"chat:write,chat:write.public,channels:read","token_type":"bot","access_token":"xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy","bot_user_id":"U0KRQLJ9H","team":{"name":"Slack Softball Team","id":"T9TK3CUKW"},"enterprise":null,"is_enterprise_install":false}"#))?;
/// let user = install.authed_user.as_ref().unwrap();
/// assert_eq!(user.id, "U1234");
/// assert_eq!(user.scopes, ["identity.basic"]);
/// assert_eq!(user.access_token.as_ref().map(|t| t.expose()), Some("xoxp-1234"));
/// assert!(user.refresh_token.is_none()); // no token rotation on this app
/// # Ok::<(), channel_connect::ExchangeError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SlackAuthedUser {
    /// The user id (`U...`).
    pub id: String,
    /// Granted user scopes (`scope`, comma-separated on the wire).
    pub scopes: Vec<String>,
    /// The user token, when user scopes were granted.
    pub access_token: Option<AccessToken>,
    /// `user`, when a user token came.
    pub token_type: Option<String>,
    /// The user refresh token, with token rotation.
    pub refresh_token: Option<RefreshToken>,
    /// Seconds the user token lives, with token rotation.
    pub expires_in: Option<u64>,
}

/// `incoming_webhook`: the channel picked for the `incoming-webhook` scope.
///
/// ```
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::slack::oauth;
///
/// let install = oauth::parse_install(&HttpResponse::new(200, br##"{"ok":true,"app_id":"A0KRD7HC3","scope":"incoming-webhook","token_type":"bot","access_token":"xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy","bot_user_id":"U0KRQLJ9H","team":{"name":"Slack Softball Team","id":"T9TK3CUKW"},"enterprise":null,"is_enterprise_install":false,"authed_user":{"id":"U1234"},"incoming_webhook":{"channel":"#alerts","channel_id":"C0123ABCD","configuration_url":"https://softball.slack.com/services/B0123","url":"https://hooks.slack.com/services/T9TK3CUKW/B0123/XXXXXXXXXXXXXXXXXXXXXXXX"}}"##))?;
/// let hook = install.incoming_webhook.as_ref().unwrap();
/// assert_eq!((hook.channel.as_deref(), hook.channel_id.as_str()), (Some("#alerts"), "C0123ABCD"));
/// assert!(hook.url.expose().starts_with("https://hooks.slack.com/services/"));
/// assert!(!format!("{hook:?}").contains("hooks.slack.com/services")); // the URL is a secret
/// # Ok::<(), channel_connect::ExchangeError>(())
/// ```
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
///
/// ```
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::slack::oauth;
///
/// let install = oauth::parse_install(&HttpResponse::new(200, br#"{"ok":true,"app_id":"A0KRD7HC3","authed_user":{"id":"U1234","scope":"identity.basic","access_token":"xoxp-1234","token_type":"user"},"scope":"chat:write,chat:write.public,channels:read","token_type":"bot","access_token":"xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy","bot_user_id":"U0KRQLJ9H","team":{"name":"Slack Softball Team","id":"T9TK3CUKW"},"enterprise":null,"is_enterprise_install":false}"#))?;
/// assert_eq!(install.access_token.expose(), "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy");
/// assert_eq!(install.scopes, ["chat:write", "chat:write.public", "channels:read"]);
/// assert_eq!(install.bot_user_id, "U0KRQLJ9H");
/// assert_eq!(install.expires_in, None); // no token rotation: the bot token does not expire
/// # Ok::<(), channel_connect::ExchangeError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SlackInstall {
    /// The app id (`A...`).
    pub app_id: String,
    /// The bot token (`xoxb-...`, or `xoxe.xoxb-...` with token rotation).
    pub access_token: AccessToken,
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
    pub refresh_token: Option<RefreshToken>,
    /// Seconds the bot token lives, with token rotation.
    pub expires_in: Option<u64>,
}

impl SlackInstall {
    /// Where the bot was installed: the workspace, or the organization of
    /// an org-wide install.
    ///
    /// ```
    /// use channel_connect::http::HttpResponse;
    /// use channel_connect::provider::slack::oauth;
    ///
    /// let install = oauth::parse_install(&HttpResponse::new(200, br#"{"ok":true,"app_id":"A0KRD7HC3","authed_user":{"id":"U1234","scope":"identity.basic","access_token":"xoxp-1234","token_type":"user"},"scope":"chat:write,chat:write.public,channels:read","token_type":"bot","access_token":"xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy","bot_user_id":"U0KRQLJ9H","team":{"name":"Slack Softball Team","id":"T9TK3CUKW"},"enterprise":null,"is_enterprise_install":false}"#))?;
    /// assert_eq!(install.workspace().map(|w| w.id.as_str()), Some("T9TK3CUKW"));
    ///
    /// // An org-wide Enterprise Grid install has no team: the organization is the workspace.
    /// let org_wide = oauth::parse_install(&HttpResponse::new(200, br#"{"ok":true,"app_id":"A0KRD7HC3","scope":"chat:write","token_type":"bot","access_token":"xoxb-1-org","bot_user_id":"U0KRQLJ9H","team":null,"enterprise":{"name":"Acme Grid","id":"E0KF4RQ3T"},"is_enterprise_install":true,"authed_user":{"id":"U1234"}}"#))?;
    /// assert!(org_wide.is_enterprise_install && org_wide.team.is_none());
    /// assert_eq!(org_wide.workspace().map(|w| w.id.as_str()), Some("E0KF4RQ3T"));
    /// # Ok::<(), channel_connect::ExchangeError>(())
    /// ```
    pub fn workspace(&self) -> Option<&SlackTeam> {
        self.team.as_ref().or(self.enterprise.as_ref())
    }
}

/// A personal `user_scope` sign-in: only `authed_user` is meaningful.
///
/// ```
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::slack::oauth;
///
/// let sign_in = oauth::parse_user_sign_in(&HttpResponse::new(200, br#"{"ok":true,"app_id":"A0KRD7HC3","authed_user":{"id":"U1234","scope":"identity.basic","access_token":"xoxp-1234","token_type":"user"},"team":{"id":"T9TK3CUKW"},"enterprise":null,"is_enterprise_install":false}"#))?;
/// assert_eq!(sign_in.authed_user.id, "U1234");
/// assert_eq!(sign_in.team.as_ref().map(|t| t.id.as_str()), Some("T9TK3CUKW"));
/// # Ok::<(), channel_connect::ExchangeError>(())
/// ```
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
    access_token: Option<AccessToken>,
    token_type: Option<String>,
    scope: Option<String>,
    bot_user_id: Option<String>,
    team: Option<RawTeam>,
    enterprise: Option<RawTeam>,
    is_enterprise_install: Option<bool>,
    authed_user: Option<RawUser>,
    incoming_webhook: Option<RawWebhook>,
    refresh_token: Option<RefreshToken>,
    #[serde(default, deserialize_with = "lenient_seconds")]
    expires_in: Option<u64>,
    revoked: Option<bool>,
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
    access_token: Option<AccessToken>,
    token_type: Option<String>,
    refresh_token: Option<RefreshToken>,
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
/// [`ExchangeError::Provider`] with Slack's code; a success without a bot
/// token, bot user or workspace is [`ExchangeError::MissingField`].
///
/// ```
/// use channel_connect::exchange::{ExchangeError, ProviderErrorKind};
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::slack::oauth;
///
/// // Slack's documented answer (https://api.slack.com/methods/oauth.v2.access).
/// let install = oauth::parse_install(&HttpResponse::new(200, br#"{"ok":true,"app_id":"A0KRD7HC3","authed_user":{"id":"U1234","scope":"identity.basic","access_token":"xoxp-1234","token_type":"user"},"scope":"chat:write,chat:write.public,channels:read","token_type":"bot","access_token":"xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy","bot_user_id":"U0KRQLJ9H","team":{"name":"Slack Softball Team","id":"T9TK3CUKW"},"enterprise":null,"is_enterprise_install":false}"#))?;
/// assert_eq!(install.app_id, "A0KRD7HC3");
///
/// // Slack answers its errors with HTTP 200 and `"ok": false`.
/// let err = oauth::parse_install(&HttpResponse::new(200, br#"{"ok":false,"error":"bad_redirect_uri"}"#)).unwrap_err();
/// let ExchangeError::Provider(e) = &err else { panic!("a Slack error") };
/// assert_eq!((e.code(), e.kind()), ("bad_redirect_uri", ProviderErrorKind::RedirectUriMismatch));
/// assert_eq!(err.to_string(), "Slack refused the request: bad_redirect_uri");
/// # Ok::<(), ExchangeError>(())
/// ```
pub fn parse_install(response: &HttpResponse<'_>) -> Result<SlackInstall, ExchangeError> {
    let raw = parse_ok(response)?;
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
///
/// ```
/// use channel_connect::exchange::ExchangeError;
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::slack::oauth;
///
/// let sign_in = oauth::parse_user_sign_in(&HttpResponse::new(200, br#"{"ok":true,"app_id":"A0KRD7HC3","authed_user":{"id":"U1234","scope":"identity.basic","access_token":"xoxp-1234","token_type":"user"},"team":{"id":"T9TK3CUKW"},"enterprise":null,"is_enterprise_install":false}"#))?;
/// assert_eq!(sign_in.authed_user.scopes, ["identity.basic"]);
///
/// // An answer without the user proves no one.
/// let err = oauth::parse_user_sign_in(&HttpResponse::new(200, br#"{"ok":true,"app_id":"A0KRD7HC3"}"#)).unwrap_err();
/// assert_eq!(err, ExchangeError::MissingField("authed_user"));
/// # Ok::<(), ExchangeError>(())
/// ```
pub fn parse_user_sign_in(response: &HttpResponse<'_>) -> Result<SlackUserSignIn, ExchangeError> {
    let raw = parse_ok(response)?;
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

/// Reads the body and turns `ok: false` into the typed error. Slack answers
/// its errors with HTTP 200; another status (429 with `Retry-After`, a 5xx
/// from a proxy) is refused as it is.
fn parse_ok(response: &HttpResponse<'_>) -> Result<Raw, ExchangeError> {
    if response.status == 429 {
        return Err(ProviderError::new("Slack", Some("ratelimited"), ProviderErrorKind::RateLimited).into());
    }
    if !response.is_success() {
        return Err(ExchangeError::HttpStatus(response.status));
    }
    let raw: Raw = parse_json(response)?;
    match raw.ok {
        Some(true) => Ok(raw),
        Some(false) => Err(slack_error(raw.error.as_deref())),
        None => Err(ExchangeError::MissingField("ok")),
    }
}

/// A rotated token pair, the answer to [`refresh_request`].
///
/// ```
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::slack::oauth;
/// use time::{Duration, OffsetDateTime};
///
/// let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// let refreshed = oauth::parse_refresh(&HttpResponse::new(200, br#"{"ok":true,"app_id":"A0KRD7HC3","access_token":"xoxe.xoxb-1-MS0yLTI","expires_in":43200,"refresh_token":"xoxe-1-My0xLTI0","token_type":"bot","scope":"chat:write,channels:read","bot_user_id":"U0KRQLJ9H","team":{"id":"T9TK3CUKW","name":"Slack Softball Team"},"enterprise":null,"is_enterprise_install":false}"#), now)?;
/// assert_eq!(refreshed.access_token.expose(), "xoxe.xoxb-1-MS0yLTI");
/// assert_eq!(refreshed.refresh_token.expose(), "xoxe-1-My0xLTI0"); // the old one is now dead
/// assert_eq!(refreshed.expires_at, now + Duration::seconds(43_200));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefreshedToken {
    /// The new access token.
    pub access_token: AccessToken,
    /// `bot` or `user`.
    pub token_type: String,
    /// The new refresh token: the old one no longer works.
    pub refresh_token: RefreshToken,
    /// When the new access token expires (`now + expires_in`).
    pub expires_at: OffsetDateTime,
    /// Granted scopes.
    pub scopes: Vec<String>,
}

impl RefreshedToken {
    /// The connection's new `auth`, to store in place of the old one.
    ///
    /// ```
    /// use channel_connect::http::HttpResponse;
    /// use channel_connect::provider::slack::oauth;
    /// use time::OffsetDateTime;
    ///
    /// let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// let auth = oauth::parse_refresh(&HttpResponse::new(200, br#"{"ok":true,"app_id":"A0KRD7HC3","access_token":"xoxe.xoxb-1-MS0yLTI","expires_in":43200,"refresh_token":"xoxe-1-My0xLTI0","token_type":"bot","scope":"chat:write,channels:read","bot_user_id":"U0KRQLJ9H","team":{"id":"T9TK3CUKW","name":"Slack Softball Team"},"enterprise":null,"is_enterprise_install":false}"#), now)?.auth_record();
    /// assert_eq!(
    ///     serde_json::to_value(&auth)?,
    ///     serde_json::json!({
    ///         "accessToken": "xoxe.xoxb-1-MS0yLTI",
    ///         "tokenType": "bot",
    ///         "refreshToken": "xoxe-1-My0xLTI0",
    ///         "expiresAt": "2026-01-01T12:00:00Z",
    ///         "scopes": ["chat:write", "channels:read"]
    ///     })
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn auth_record(&self) -> AuthRecord {
        AuthRecord {
            access_token: self.access_token.clone(),
            token_type: Some(self.token_type.clone()),
            refresh_token: Some(self.refresh_token.clone()),
            expires_at: Some(self.expires_at),
            // Slack's rotation answer gives no refresh-token lifetime.
            refresh_token_expires_at: None,
            scopes: self.scopes.clone(),
        }
    }
}

/// Parses the answer to [`refresh_request`] received at `now`. A refresh
/// without a new refresh token or expiry is refused: storing it would lose
/// the rotation.
///
/// ```
/// use channel_connect::exchange::{ExchangeError, ProviderErrorKind};
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::slack::oauth;
/// use time::OffsetDateTime;
///
/// let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// assert!(oauth::parse_refresh(&HttpResponse::new(200, br#"{"ok":true,"app_id":"A0KRD7HC3","access_token":"xoxe.xoxb-1-MS0yLTI","expires_in":43200,"refresh_token":"xoxe-1-My0xLTI0","token_type":"bot","scope":"chat:write,channels:read","bot_user_id":"U0KRQLJ9H","team":{"id":"T9TK3CUKW","name":"Slack Softball Team"},"enterprise":null,"is_enterprise_install":false}"#), now).is_ok());
///
/// // Another worker already used this refresh token.
/// let lost_race = br#"{"ok":false,"error":"invalid_refresh_token"}"#;
/// match oauth::parse_refresh(&HttpResponse::new(200, lost_race), now) {
///     Err(ExchangeError::Provider(e)) => assert_eq!(e.kind(), ProviderErrorKind::InvalidGrant),
///     other => panic!("{other:?}"),
/// }
/// // A token without rotation data would end the rotation: refused.
/// let no_rotation = br#"{"ok":true,"access_token":"xoxb-1","token_type":"bot"}"#;
/// assert_eq!(
///     oauth::parse_refresh(&HttpResponse::new(200, no_rotation), now).unwrap_err(),
///     ExchangeError::MissingField("refresh_token")
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_refresh(
    response: &HttpResponse<'_>,
    now: OffsetDateTime,
) -> Result<RefreshedToken, ExchangeError> {
    let raw = parse_ok(response)?;
    let access_token = required_secret(raw.access_token, "access_token")?;
    let refresh_token = required_secret(raw.refresh_token, "refresh_token")?;
    let expires_at =
        expires_at(now, raw.expires_in, "expires_in")?.ok_or(ExchangeError::MissingField("expires_in"))?;
    Ok(RefreshedToken {
        access_token,
        token_type: required(raw.token_type, "token_type")?,
        refresh_token,
        expires_at,
        scopes: comma_list(raw.scope.as_deref()),
    })
}

/// Parses the answer to [`revoke_request`]: `true` when Slack says the
/// token was revoked (`{"ok":true,"revoked":true}`). A token already
/// revoked answers `token_revoked` or `invalid_auth`
/// ([`ProviderErrorKind::TokenRevoked`]): the goal is reached either way.
///
/// ```
/// use channel_connect::exchange::{ExchangeError, ProviderErrorKind};
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::slack::oauth;
///
/// assert!(oauth::parse_revoke(&HttpResponse::new(200, br#"{"ok":true,"revoked":true}"#))?);
///
/// // Revoked before (by an admin, or an uninstall): done all the same.
/// let again = oauth::parse_revoke(&HttpResponse::new(200, br#"{"ok":false,"error":"token_revoked"}"#));
/// assert!(matches!(again, Err(ExchangeError::Provider(e)) if e.kind() == ProviderErrorKind::TokenRevoked));
/// # Ok::<(), ExchangeError>(())
/// ```
pub fn parse_revoke(response: &HttpResponse<'_>) -> Result<bool, ExchangeError> {
    Ok(parse_ok(response)?.revoked.unwrap_or(false))
}

/// The records of a workspace install (connect state): the connection, with
/// the workspace (`team`, or the `enterprise` of an org-wide install) and
/// the bot token; a `slack_user` endpoint (`authed_user.id`) when the state
/// has autoLinkUser and a subscriber; a `webhook` endpoint when
/// `incoming_webhook` came and the state has a subscriber. (Without a
/// subscriber the webhook has no owner and is not recorded; the connect
/// request refuses `incoming-webhook` without one.)
///
/// When the state is restricted to a workspace, the install must be there
/// ([`ExchangeError::WrongWorkspace`]): Slack's `team=` URL parameter is
/// only a hint the user can remove; this is the check.
///
/// ```
/// use channel_connect::exchange::ExchangeError;
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::slack::oauth;
/// use channel_connect::*;
/// # use time::OffsetDateTime;
/// # let slack = Slack::new(
/// #     ClientId::new("1234567890.1234567890")?,
/// #     Secret::new("slack-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
/// #     .integration(Integration::new("slack", slack))
/// #     .build()?;
/// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123","scope":["incoming-webhook"]}"#)?;
/// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
/// # let state = core.platform().open_state(issued.state().unwrap(), &VerifyParams::at(now))?;
/// // `state`: a connect for subscriber-123 asking for `incoming-webhook`.
/// let install = oauth::parse_install(&HttpResponse::new(200, br##"{"ok":true,"app_id":"A0KRD7HC3","scope":"incoming-webhook","token_type":"bot","access_token":"xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy","bot_user_id":"U0KRQLJ9H","team":{"name":"Slack Softball Team","id":"T9TK3CUKW"},"enterprise":null,"is_enterprise_install":false,"authed_user":{"id":"U1234"},"incoming_webhook":{"channel":"#alerts","channel_id":"C0123ABCD","configuration_url":"https://softball.slack.com/services/B0123","url":"https://hooks.slack.com/services/T9TK3CUKW/B0123/XXXXXXXXXXXXXXXXXXXXXXXX"}}"##))?;
/// let records = oauth::install_records(&state, &install, now)?;
/// assert_eq!(records.connection.unwrap().workspace.id, "T9TK3CUKW");
/// let kinds: Vec<&str> = records.endpoints.iter().map(|e| e.endpoint.kind()).collect();
/// assert_eq!(kinds, ["slack_user", "webhook"]);
///
/// // The same answer for a connect restricted to another team.
/// # let slack = Slack::new(ClientId::new("1234567890.1234567890")?, Secret::new("s"), RedirectUri::new("https://api.example.com/cb")?).with_team("T0OTHER00")?;
/// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
/// #     .integration(Integration::new("slack", slack)).build()?;
/// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
/// let restricted = core.platform().open_state(issued.state().unwrap(), &VerifyParams::at(now))?;
/// assert_eq!(restricted.workspace(), Some("T0OTHER00"));
/// assert_eq!(oauth::install_records(&restricted, &install, now).unwrap_err(), ExchangeError::WrongWorkspace);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn install_records(
    state: &VerifiedState,
    install: &SlackInstall,
    now: OffsetDateTime,
) -> Result<StoredRecords, ExchangeError> {
    if state.purpose() != Purpose::Connect {
        return Err(ExchangeError::WrongFlow(FlowMismatch::NeedsConnectState));
    }
    let place = install.workspace().ok_or(ExchangeError::MissingField("team"))?;
    let mut details = Map::new();
    details.insert("botUserId".into(), Value::String(install.bot_user_id.clone()));
    if let Some(e) = &install.enterprise {
        details.insert("enterpriseId".into(), Value::String(e.id.clone()));
    }
    let workspace = WorkspaceRecord {
        id: place.id.clone(),
        name: place.name.clone(),
        details,
    };
    let auth = AuthRecord {
        access_token: install.access_token.clone(),
        token_type: Some(install.token_type.clone()),
        refresh_token: install.refresh_token.clone(),
        expires_at: expires_at(now, install.expires_in, "expires_in")?,
        refresh_token_expires_at: None,
        scopes: install.scopes.clone(),
    };
    let connection = records::connection(state, workspace, Some(auth))?;
    let mut endpoints = Vec::new();
    if state.subscriber_id().is_some() {
        if let (true, Some(user)) = (state.auto_link_user(), &install.authed_user) {
            endpoints.push(records::endpoint(state, slack_user_endpoint(&user.id))?);
        }
        if let Some(hook) = &install.incoming_webhook {
            let mut m = Map::new();
            m.insert("url".into(), Value::String(hook.url.expose().to_owned()));
            if let Some(c) = &hook.channel {
                m.insert("channel".into(), Value::String(c.clone()));
            }
            m.insert("channelId".into(), Value::String(hook.channel_id.clone()));
            endpoints.push(records::endpoint(state, Endpoint::new("webhook", m))?);
        }
    }
    Ok(StoredRecords {
        connection: Some(connection),
        endpoints,
    })
}

/// The `slack_user` endpoint of a personal sign-in (link-user state). When
/// the state is restricted to a workspace (the linked connection's team),
/// the sign-in's `team.id` (or `enterprise.id`) must equal it.
///
/// ```
/// use channel_connect::exchange::ExchangeError;
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::slack::oauth;
/// use channel_connect::*;
/// # use time::OffsetDateTime;
/// # let slack = Slack::new(
/// #     ClientId::new("1234567890.1234567890")?,
/// #     Secret::new("slack-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
/// #     .integration(Integration::new("slack", slack))
/// #     .build()?;
/// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// # let body = LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123","connectionIdentifier":"slack-connection-abc123"}"#)?;
/// # let issued = core.link_user_url(&body, &IssueParams::new(now, &Entropy([7; 32])).with_workspace("T9TK3CUKW"))?;
/// # let state = core.platform().open_state(issued.state().unwrap(), &VerifyParams::at(now))?;
/// // `state`: a user link to connection slack-connection-abc123, in team T9TK3CUKW.
/// let sign_in = oauth::parse_user_sign_in(&HttpResponse::new(200, br#"{"ok":true,"app_id":"A0KRD7HC3","authed_user":{"id":"U1234","scope":"identity.basic","access_token":"xoxp-1234","token_type":"user"},"team":{"id":"T9TK3CUKW"},"enterprise":null,"is_enterprise_install":false}"#))?;
/// let endpoint = oauth::user_record(&state, &sign_in)?;
/// assert_eq!(endpoint.endpoint.get("userId"), Some("U1234"));
/// assert_eq!(endpoint.connection_identifier.as_deref(), Some("slack-connection-abc123"));
///
/// // The user signed in to another workspace of theirs.
/// let elsewhere = br#"{"ok":true,"authed_user":{"id":"U9999"},"team":{"id":"T0OTHER00"}}"#;
/// let sign_in = oauth::parse_user_sign_in(&HttpResponse::new(200, elsewhere))?;
/// assert_eq!(oauth::user_record(&state, &sign_in).unwrap_err(), ExchangeError::WrongWorkspace);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn user_record(
    state: &VerifiedState,
    sign_in: &SlackUserSignIn,
) -> Result<records::ChannelEndpointRecord, ExchangeError> {
    if state.purpose() != Purpose::LinkUser {
        return Err(ExchangeError::WrongFlow(FlowMismatch::NeedsLinkUserState));
    }
    if let Some(expected) = state.workspace() {
        let answered = sign_in.team.as_ref().or(sign_in.enterprise.as_ref());
        if answered.is_none_or(|t| t.id != expected) {
            return Err(ExchangeError::WrongWorkspace);
        }
    }
    records::endpoint(state, slack_user_endpoint(&sign_in.authed_user.id))
}

/// `{"type": "slack_user", "endpoint": {"userId": ...}}`.
///
/// ```
/// use channel_connect::provider::slack::oauth::slack_user_endpoint;
///
/// assert_eq!(
///     serde_json::to_value(slack_user_endpoint("U1234"))?,
///     serde_json::json!({"type": "slack_user", "endpoint": {"userId": "U1234"}})
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn slack_user_endpoint(user_id: &str) -> Endpoint {
    let mut m = Map::new();
    m.insert("userId".into(), Value::String(user_id.to_owned()));
    Endpoint::new("slack_user", m)
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
            parse_install(&HttpResponse::new(200, br#"{"access_token":"xoxb-1"}"#)).unwrap_err(),
            ExchangeError::MissingField("ok")
        );
    }

    #[test]
    fn team_without_id_is_refused() {
        let body = br#"{"ok":true,"app_id":"A1","access_token":"xoxb-1","token_type":"bot",
            "bot_user_id":"U1","team":{"name":"x"}}"#;
        assert_eq!(
            parse_install(&HttpResponse::new(200, body)).unwrap_err(),
            ExchangeError::MissingField("team.id")
        );
    }
}
