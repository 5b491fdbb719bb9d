//! Webex Messaging through a Webex Integration (OAuth 2 code flow,
//! <https://developer.webex.com/docs/integrations>): provider id
//! `webex-messaging`, as Novu names it.
//!
//! Written against the public [`Provider`] trait only, as a provider from
//! outside this crate would be: nothing here reaches into the core.
//!
//! * Authorize: `https://webexapis.com/v1/authorize` with `response_type=code`
//!   and space-separated scopes (Novu's defaults: [`DEFAULT_SCOPES`]; a
//!   user link asks for [`DEFAULT_USER_SCOPES`]).
//! * Token: `POST https://webexapis.com/v1/access_token` (form, client
//!   credentials in the body), answered with an access token (14 days), a
//!   refresh token (90 days) and their lifetimes ([`oauth`]).
//! * Who: Webex's token answer does not say whose token it is, so the
//!   records need `GET /v1/people/me` with the new token
//!   ([`Provider::identity_request`]): its `orgId` is the connection's
//!   workspace, its `id` the `webex_person` endpoint.
//!
//! **The workspace id.** A Webex organization id is base64 of
//! `ciscospark://us/ORGANIZATION/<uuid>`, about 88 characters: longer than
//! a state may seal (64 characters of `[A-Za-z0-9._-]`, SPEC.md section 2).
//! The connection's `workspace.id` is therefore the organization's UUID
//! ([`org_key`]); the full `orgId` is kept beside it in `workspace.orgId`.
//!
//! ```
//! use channel_connect::provider::webex::Webex;
//! use channel_connect::*;
//! use time::OffsetDateTime;
//!
//! let webex = Webex::new(
//!     ClientId::new("C64ab04639eefee4798f58e7bc3fe01d47161be0d97ff0d31e040a6ffe66d7f0a")?,
//!     Secret::new("webex-client-secret"),
//!     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
//! );
//! # let keys = KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?);
//! let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", keys)
//!     .integration(Integration::new("webex", webex))
//!     .build()?;
//! let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
//! let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"webex","subscriberId":"subscriber-123"}"#)?;
//! let url = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?.url;
//! assert!(url.starts_with("https://webexapis.com/v1/authorize?state="));
//! assert!(url.ends_with(
//!     "&response_type=code\
//!      &redirect_uri=https%3A%2F%2Fapi.example.com%2Fv1%2Fintegrations%2Fchat%2Foauth%2Fcallback\
//!      &scope=spark%3Amessages_write%20spark%3Arooms_read%20spark%3Apeople_read%20spark%3Amemberships_read%20spark%3Akms"
//! ));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;

use base64::Engine;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use url::form_urlencoded::byte_serialize;

use crate::callback::{CallbackError, CallbackParams, ProviderOutcome};
use crate::config::{BaseUrl, ClientId, RedirectUri};
use crate::exchange::{Exchange, ExchangeError, FlowMismatch, ProviderError, ProviderErrorKind};
use crate::http::{HttpRequest, HttpResponse};
use crate::provider::{AuthorizeRequest, Provider};
use crate::records::{Endpoint, StoredRecords};
use crate::request::{LinkUserRequest, RequestError, WorkspaceRefusal};
use crate::secret::{AuthorizationCode, ClientSecret};
use crate::state::{Purpose, StateError, StateErrorKind, VerifiedState};

pub mod oauth;

/// Webex's API host; the paths are `/v1/authorize`, `/v1/access_token`
/// and `/v1/people/me` under it.
pub const WEBEX_BASE_URL: &str = "https://webexapis.com";

/// The provider id written in states and records (Novu's `webex-messaging`).
pub const PROVIDER_ID: &str = "webex-messaging";

/// The scopes a connect asks for when the request names none, as Novu's
/// Webex provider documents them.
pub const DEFAULT_SCOPES: &[&str] = &[
    "spark:messages_write",
    "spark:rooms_read",
    "spark:people_read",
    "spark:memberships_read",
    "spark:kms",
];

/// The scopes a user link asks for when the request names none (Novu's):
/// enough to read who signed in.
pub const DEFAULT_USER_SCOPES: &[&str] = &["spark:people_read"];

/// A Webex Integration: its client id, client secret and redirect URI (the
/// values of <https://developer.webex.com/my-apps>).
///
/// `Debug` redacts the client secret:
///
/// ```
/// use channel_connect::provider::webex::Webex;
/// use channel_connect::{BaseUrl, ClientId, RedirectUri, Secret};
///
/// let webex = Webex::new(
///     ClientId::new("C64ab04639eefee4798f58e7bc3fe01d47161be0d97ff0d31e040a6ffe66d7f0a")?,
///     Secret::new("webex-client-secret"),
///     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// )
/// .with_base_url(BaseUrl::new("http://127.0.0.1:3000/standin/webex")?); // a local stand-in
/// assert_eq!(webex.base_url(), "http://127.0.0.1:3000/standin/webex");
/// assert!(!format!("{webex:?}").contains("webex-client-secret"));
/// # Ok::<(), channel_connect::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Webex {
    client_id: ClientId,
    client_secret: ClientSecret,
    redirect_uri: RedirectUri,
    // `None`: Webex's own host. (`BaseUrl` has no public constant
    // constructor; a provider outside the crate would do the same.)
    base_url: Option<BaseUrl>,
    /// The authorize URL's fixed middle, from `&client_id=` to `&scope=`,
    /// encoded once here rather than on every issue.
    fixed_query: String,
}

impl Webex {
    /// A Webex Integration on `https://webexapis.com`.
    pub fn new(
        client_id: ClientId,
        client_secret: impl Into<ClientSecret>,
        redirect_uri: RedirectUri,
    ) -> Self {
        let mut fixed_query = String::from("&client_id=");
        fixed_query.extend(byte_serialize(client_id.as_str().as_bytes()));
        fixed_query.push_str("&response_type=code&redirect_uri=");
        fixed_query.extend(byte_serialize(redirect_uri.as_str().as_bytes()));
        fixed_query.push_str("&scope=");
        Webex {
            client_id,
            client_secret: client_secret.into(),
            redirect_uri,
            base_url: None,
            fixed_query,
        }
    }

    /// Another API host (a local stand-in, `http://127.0.0.1:PORT/...`):
    /// authorize, token, refresh and `people/me` all go there.
    pub fn with_base_url(mut self, base_url: BaseUrl) -> Self {
        self.base_url = Some(base_url);
        self
    }

    /// The API host, without a trailing slash ([`WEBEX_BASE_URL`] unless
    /// replaced).
    pub fn base_url(&self) -> &str {
        self.base_url.as_ref().map_or(WEBEX_BASE_URL, BaseUrl::as_str)
    }

    /// The client id.
    pub fn client_id(&self) -> &ClientId {
        &self.client_id
    }

    /// The redirect URI.
    pub fn redirect_uri(&self) -> &RedirectUri {
        &self.redirect_uri
    }

    /// The client secret, for the token requests.
    pub fn client_secret(&self) -> &ClientSecret {
        &self.client_secret
    }
}

/// The key a Webex organization is stored and restricted under: the UUID
/// inside its id (base64 of `ciscospark://<cluster>/ORGANIZATION/<uuid>`),
/// in lower case; an id that is not of that shape but already fits a
/// state's workspace (1 to 64 characters of `[A-Za-z0-9._-]`) is its own
/// key; anything else has none.
///
/// ```
/// use channel_connect::provider::webex::org_key;
///
/// let org = "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi85NmFiYzJhYS0zZGNjLTExZTUtYTE1Mi1mZTM0ODE5Y2RjOWE";
/// assert_eq!(org_key(org).as_deref(), Some("96abc2aa-3dcc-11e5-a152-fe34819cdc9a"));
/// // A key is its own key: a host may restrict by the stored workspace id.
/// assert_eq!(org_key("96abc2aa-3dcc-11e5-a152-fe34819cdc9a").as_deref(), Some("96abc2aa-3dcc-11e5-a152-fe34819cdc9a"));
/// assert_eq!(org_key("not/a workspace"), None);
/// ```
pub fn org_key(org_id: &str) -> Option<Cow<'_, str>> {
    if let Some(uuid) = decoded_uuid(org_id, "ORGANIZATION") {
        return Some(Cow::Owned(uuid));
    }
    let fits = (1..=crate::state::MAX_WORKSPACE_LEN).contains(&org_id.len())
        && org_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    fits.then(|| match is_uuid(org_id) {
        true => Cow::Owned(org_id.to_ascii_lowercase()),
        false => Cow::Borrowed(org_id),
    })
}

/// The UUID of a Webex id of `kind` (`ORGANIZATION`, `PEOPLE`), lower-cased.
fn decoded_uuid(id: &str, kind: &str) -> Option<String> {
    if id.len() > 512 {
        return None;
    }
    let trimmed = id.trim_end_matches('=');
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(trimmed))
        .ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    let rest = text.strip_prefix("ciscospark://")?;
    let (_, uuid) = rest.rsplit_once(&format!("/{kind}/"))?;
    is_uuid(uuid).then(|| uuid.to_ascii_lowercase())
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// `{"type": "webex_person", "endpoint": {"personId": ...}}`, Novu's shape
/// for a direct message to a person.
///
/// ```
/// use channel_connect::provider::webex::webex_person_endpoint;
///
/// assert_eq!(
///     serde_json::to_value(webex_person_endpoint("Y2lzY29zcGFyazovL3VzL1BFT1BMRS9mNWIz"))?,
///     serde_json::json!({"type": "webex_person", "endpoint": {"personId": "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9mNWIz"}})
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn webex_person_endpoint(person_id: &str) -> Endpoint {
    let mut m = Map::new();
    m.insert("personId".into(), Value::String(person_id.to_owned()));
    Endpoint::new("webex_person", m)
}

/// Appends `scopes` percent-encoded, separated by `%20`.
fn push_scopes<'s>(out: &mut String, scopes: impl Iterator<Item = &'s str>) {
    for (n, scope) in scopes.enumerate() {
        if n > 0 {
            out.push_str("%20");
        }
        out.extend(byte_serialize(scope.as_bytes()));
    }
}

/// The callback's `error`, made safe to show (through the public
/// [`ProviderError`], which bounds the code and the description).
fn callback_error(error: &str, description: Option<&str>) -> CallbackError {
    let safe =
        ProviderError::new("Webex", Some(error), ProviderErrorKind::Other).with_description(description);
    let (error, description) = (safe.code().to_owned(), safe.description().map(str::to_owned));
    if error == "access_denied" {
        CallbackError::Denied { error, description }
    } else {
        CallbackError::Provider { error, description }
    }
}

impl Provider for Webex {
    fn id(&self) -> &str {
        PROVIDER_ID
    }

    fn display_name(&self) -> &str {
        "Webex"
    }

    fn client_id(&self) -> &ClientId {
        &self.client_id
    }

    fn redirect_uri(&self) -> &RedirectUri {
        &self.redirect_uri
    }

    /// A person endpoint belongs to a connection: a link names one.
    fn check_link(&self, request: &LinkUserRequest<'_>) -> Result<(), RequestError> {
        match request.connection {
            Some(_) => Ok(()),
            None => Err(RequestError::LinkWithoutConnection { provider: "Webex" }),
        }
    }

    /// A link to a stored connection is restricted to its organization:
    /// the stored `workspace.id` (or a Webex `orgId`, reduced to its key).
    fn restrict_workspace<'a>(
        &'a self,
        expected: Option<&'a str>,
    ) -> Result<Option<Cow<'a, str>>, RequestError> {
        expected
            .map(|e| org_key(e).ok_or(RequestError::InvalidWorkspace(WorkspaceRefusal::OutsideCharset)))
            .transpose()
    }

    /// Novu's order: `state, client_id, response_type, redirect_uri, scope`.
    fn authorize_url(&self, request: &AuthorizeRequest<'_>, out: &mut String) {
        out.push_str(self.base_url());
        out.push_str("/v1/authorize?state=");
        // The state is base64url: nothing to encode.
        out.push_str(request.state);
        out.push_str(&self.fixed_query);
        let (asked, default) = match request.purpose {
            Purpose::LinkUser => (request.user_scopes, DEFAULT_USER_SCOPES),
            _ => (request.scopes, DEFAULT_SCOPES),
        };
        match asked {
            Some(scopes) => push_scopes(out, scopes.iter()),
            None => push_scopes(out, default.iter().copied()),
        }
    }

    fn interpret<'q>(
        &self,
        state: &VerifiedState,
        params: &CallbackParams<'q>,
    ) -> Result<ProviderOutcome<'q>, CallbackError> {
        // A Webex connect is proven by its token and `people/me`: no proof sign-in.
        if state.purpose() == Purpose::ConnectProof {
            return Err(StateError::from(StateErrorKind::WrongPurpose).into());
        }
        if let Some(error) = &params.error {
            return Err(callback_error(error, params.error_description.as_deref()));
        }
        if params.admin_consent.is_some() {
            return Err(CallbackError::Malformed("admin_consent"));
        }
        if params.tenant.is_some() {
            return Err(CallbackError::Malformed("tenant"));
        }
        match &params.code {
            Some(code) if !code.is_empty() => Ok(ProviderOutcome::Code {
                code: AuthorizationCode::new(code.clone()),
            }),
            _ => Err(CallbackError::MissingParameters),
        }
    }

    fn token_request(&self, exchange: &Exchange<'_>) -> Result<Option<HttpRequest>, ExchangeError> {
        check_purpose(exchange.state)?;
        let code = exchange
            .code()
            .ok_or(ExchangeError::WrongFlow(FlowMismatch::NoCode))?;
        Ok(Some(oauth::access_request(self, code)))
    }

    fn identity_request(
        &self,
        exchange: &Exchange<'_>,
        token_response: &HttpResponse<'_>,
    ) -> Result<Option<HttpRequest>, ExchangeError> {
        check_purpose(exchange.state)?;
        let token = oauth::parse_token(token_response, OffsetDateTime::UNIX_EPOCH)?;
        Ok(Some(oauth::people_me_request(self, &token.access_token)))
    }

    fn records(
        &self,
        exchange: &Exchange<'_>,
        response: &HttpResponse<'_>,
        now: OffsetDateTime,
    ) -> Result<StoredRecords, ExchangeError> {
        check_purpose(exchange.state)?;
        let token = oauth::parse_token(response, now)?;
        let identity = exchange
            .identity
            .ok_or(ExchangeError::WrongFlow(FlowMismatch::NoIdentity))?;
        let person = oauth::parse_person(identity)?;
        oauth::records(exchange.state, &token, &person)
    }
}

/// A connect or a user link: Webex has no proof sign-in.
fn check_purpose(state: &VerifiedState) -> Result<(), ExchangeError> {
    match state.purpose() {
        Purpose::Connect | Purpose::LinkUser => Ok(()),
        _ => Err(ExchangeError::WrongFlow(FlowMismatch::NoProofSignIn)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_keys() {
        // base64 with padding, and url-safe, decode the same way.
        let padded = base64::engine::general_purpose::STANDARD
            .encode("ciscospark://us/ORGANIZATION/96ABC2AA-3DCC-11E5-A152-FE34819CDC9A");
        assert_eq!(
            org_key(&padded).as_deref(),
            Some("96abc2aa-3dcc-11e5-a152-fe34819cdc9a")
        );
        let person = base64::engine::general_purpose::STANDARD_NO_PAD
            .encode("ciscospark://us/PEOPLE/96abc2aa-3dcc-11e5-a152-fe34819cdc9a");
        // A person id is no organization: too long to be its own key either.
        assert_eq!(org_key(&person), None);
        assert_eq!(org_key(""), None);
        assert_eq!(org_key(&"a".repeat(65)), None);
        assert_eq!(org_key(&"A".repeat(10_000)), None);
        assert_eq!(org_key("org-1").as_deref(), Some("org-1"));
        // Not UTF-8 once decoded, or no UUID: no key from decoding.
        let junk = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xff, 0xfe, 0x00, 0x41]);
        assert_eq!(org_key(&junk).as_deref(), Some(junk.as_str()));
        let no_uuid = base64::engine::general_purpose::STANDARD_NO_PAD
            .encode("ciscospark://us/ORGANIZATION/not-a-uuid-at-all-but-36-characters");
        assert_eq!(org_key(&no_uuid), None);
    }
}
