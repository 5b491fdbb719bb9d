//! Webex's token endpoint and `people/me`
//! (<https://developer.webex.com/docs/integrations>,
//! <https://developer.webex.com/docs/api/v1/people/get-my-own-details>):
//! the code exchange ([`access_request`], [`parse_token`]), the person
//! behind the token ([`people_me_request`], [`parse_person`]), the records
//! they yield ([`records()`]) and the refresh ([`refresh_request`],
//! [`parse_refresh`]).
//!
//! Webex access tokens live 14 days and refresh tokens 90 (`expires_in`,
//! `refresh_token_expires_in`); a refresh answers a new access token and a
//! refresh token (a refresh token in use is extended). As with Slack's
//! rotation, refresh one connection at a time and store both tokens
//! together.
//!
//! ```
//! use channel_connect::http::HttpResponse;
//! use channel_connect::provider::webex::{Webex, oauth};
//! use channel_connect::records::AuthRecord;
//! use channel_connect::{ClientId, RedirectUri, Secret};
//! use time::{Duration, OffsetDateTime};
//!
//! # let webex = Webex::new(
//! #     ClientId::new("C64ab04639eefee4798f58e7bc3fe01d47161be0d97ff0d31e040a6ffe66d7f0a")?,
//! #     Secret::new("webex-client-secret"),
//! #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
//! # );
//! let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
//! let auth: AuthRecord = serde_json::from_str(
//!     r#"{"accessToken":"ZDI3MGEyYzQtNmFl","tokenType":"Bearer","refreshToken":"MDEyMzQ1Njc4OWFi","expiresAt":"2026-01-01T00:05:00Z"}"#,
//! )?;
//! assert!(auth.needs_refresh(now, Duration::minutes(10)));
//! let request = oauth::refresh_request(&webex, auth.refresh_token.as_ref().unwrap());
//! assert_eq!(request.url(), "https://webexapis.com/v1/access_token");
//! assert_eq!(request.form_field("grant_type"), Some("refresh_token"));
//! assert!(!format!("{request:?}").contains("MDEyMzQ1Njc4OWFi"));
//! let answer = br#"{"access_token":"NmY0ZDQ5YjMtYzE4","expires_in":1209600,"refresh_token":"MDEyMzQ1Njc4OWFi","refresh_token_expires_in":7775000,"token_type":"Bearer"}"#;
//! let refreshed = oauth::parse_refresh(&HttpResponse::new(200, answer), now)?;
//! assert_eq!(refreshed.expires_at, Some(now + Duration::days(14)));
//! // The `auth` to store in place of the old (both tokens in one write).
//! let stored = refreshed.auth_record_after(Some(&auth));
//! assert_eq!(stored.access_token.expose(), "NmY0ZDQ5YjMtYzE4");
//! assert_eq!(stored.refresh_token_expires_at, Some(now + Duration::seconds(7_775_000)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::Deserialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::exchange::{
    ExchangeError, FlowMismatch, ProviderError, ProviderErrorKind, expires_at, lenient_seconds, parse_json,
    required_secret,
};
use crate::http::{HttpRequest, HttpResponse};
use crate::provider::webex::{Webex, org_key, webex_person_endpoint};
use crate::records::{self, AuthRecord, StoredRecords, WorkspaceRecord};
use crate::secret::{AccessToken, AuthorizationCode, RefreshToken};
use crate::state::{Purpose, VerifiedState};

/// Longest id (person, organization) kept from an answer.
const MAX_ID_LEN: usize = 512;
/// Longest display name kept (longer ones are cut).
const MAX_NAME_LEN: usize = 256;

/// `POST {base}/v1/access_token`, form `grant_type=authorization_code`,
/// `client_id`, `client_secret`, `code`, `redirect_uri` (Webex takes the
/// client credentials in the body). The redirect URI is the configured one,
/// byte for byte.
///
/// ```
/// use channel_connect::provider::webex::{Webex, oauth};
/// use channel_connect::secret::AuthorizationCode;
/// use channel_connect::{ClientId, RedirectUri, Secret};
///
/// # let webex = Webex::new(
/// #     ClientId::new("C64ab04639eefee4798f58e7bc3fe01d47161be0d97ff0d31e040a6ffe66d7f0a")?,
/// #     Secret::new("webex-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// let req = oauth::access_request(&webex, &AuthorizationCode::new("NzFkZTc5Y2Et"));
/// assert_eq!((req.method(), req.url()), ("POST", "https://webexapis.com/v1/access_token"));
/// assert_eq!(req.form_field("grant_type"), Some("authorization_code"));
/// assert_eq!(req.form_field("code"), Some("NzFkZTc5Y2Et"));
/// assert_eq!(req.form_field("client_secret"), Some("webex-client-secret"));
/// let shown = format!("{req:?}");
/// assert!(!shown.contains("NzFkZTc5Y2Et") && !shown.contains("webex-client-secret"));
/// # Ok::<(), channel_connect::ConfigError>(())
/// ```
pub fn access_request(app: &Webex, code: &AuthorizationCode<'_>) -> HttpRequest {
    token_post(app, "authorization_code")
        .secret_field("code", code)
        .field("redirect_uri", app.redirect_uri().as_str())
}

/// `POST {base}/v1/access_token`, form `grant_type=refresh_token`,
/// `client_id`, `client_secret`, `refresh_token`.
pub fn refresh_request(app: &Webex, refresh_token: &RefreshToken) -> HttpRequest {
    token_post(app, "refresh_token").secret_field("refresh_token", refresh_token)
}

/// `GET {base}/v1/people/me` with the new access token as a Bearer token.
///
/// ```
/// use channel_connect::provider::webex::{Webex, oauth};
/// use channel_connect::secret::AccessToken;
/// use channel_connect::{ClientId, RedirectUri, Secret};
///
/// # let webex = Webex::new(
/// #     ClientId::new("C64ab04639eefee4798f58e7bc3fe01d47161be0d97ff0d31e040a6ffe66d7f0a")?,
/// #     Secret::new("webex-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// let req = oauth::people_me_request(&webex, &AccessToken::new("ZDI3MGEyYzQtNmFl"));
/// assert_eq!((req.method(), req.url()), ("GET", "https://webexapis.com/v1/people/me"));
/// assert_eq!(req.header_value("authorization"), Some("Bearer ZDI3MGEyYzQtNmFl"));
/// assert!(!format!("{req:?}").contains("ZDI3MGEyYzQtNmFl"));
/// # Ok::<(), channel_connect::ConfigError>(())
/// ```
pub fn people_me_request(app: &Webex, access_token: &AccessToken) -> HttpRequest {
    HttpRequest::get(format!("{}/v1/people/me", app.base_url())).bearer(access_token)
}

/// `POST {base}/v1/access_token` with the grant type and the client
/// credentials in the form.
fn token_post(app: &Webex, grant_type: &str) -> HttpRequest {
    HttpRequest::post_form(format!("{}/v1/access_token", app.base_url()))
        .field("grant_type", grant_type)
        .field("client_id", app.client_id().as_str())
        .secret_field("client_secret", app.client_secret())
}

/// A token pair from `access_token` (code exchange or refresh).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebexToken {
    /// The access token (`Debug` redacted).
    pub access_token: AccessToken,
    /// `Bearer`, when Webex said.
    pub token_type: Option<String>,
    /// The refresh token, when sent (`Debug` redacted).
    pub refresh_token: Option<RefreshToken>,
    /// When the access token expires (`expires_in` after the answer).
    pub expires_at: Option<OffsetDateTime>,
    /// When the refresh token expires (`refresh_token_expires_in` after the
    /// answer): `auth.refreshTokenExpiresAt`, for a host that warns before
    /// it runs out (connect again).
    pub refresh_token_expires_at: Option<OffsetDateTime>,
    /// Granted scopes (`scope`, space-separated), when Webex listed them.
    pub scopes: Vec<String>,
}

impl WebexToken {
    /// The connection's `auth`: access and refresh token, type, both
    /// expiries, scopes.
    pub fn auth_record(&self) -> AuthRecord {
        AuthRecord {
            access_token: self.access_token.clone(),
            token_type: self.token_type.clone(),
            refresh_token: self.refresh_token.clone(),
            expires_at: self.expires_at,
            refresh_token_expires_at: self.refresh_token_expires_at,
            scopes: self.scopes.clone(),
        }
    }

    /// The `auth` to store after refreshing `previous`: [`Self::auth_record`],
    /// except that an answer without `refresh_token_expires_in` keeps the
    /// previous expiry when it sent the same refresh token back.
    ///
    /// ```
    /// use channel_connect::http::HttpResponse;
    /// use channel_connect::provider::webex::oauth;
    /// use time::{Duration, OffsetDateTime};
    ///
    /// let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// let first = br#"{"access_token":"ZDI3MGEy","expires_in":1209600,"refresh_token":"MDEyMzQ1","refresh_token_expires_in":7776000}"#;
    /// let before = oauth::parse_token(&HttpResponse::new(200, first), now)?.auth_record();
    /// assert_eq!(before.refresh_token_expires_at, Some(now + Duration::days(90)));
    ///
    /// // Fifteen days on, the same refresh token back, its lifetime unsaid: kept.
    /// let later = now + Duration::days(15);
    /// let same = br#"{"access_token":"NmY0ZDQ5","expires_in":1209600,"refresh_token":"MDEyMzQ1"}"#;
    /// let after = oauth::parse_refresh(&HttpResponse::new(200, same), later)?.auth_record_after(Some(&before));
    /// assert_eq!(after.refresh_token_expires_at, before.refresh_token_expires_at);
    /// // Said: the new one.
    /// let said = br#"{"access_token":"NmY0ZDQ5","expires_in":1209600,"refresh_token":"MDEyMzQ1","refresh_token_expires_in":7776000}"#;
    /// let after = oauth::parse_refresh(&HttpResponse::new(200, said), later)?.auth_record_after(Some(&before));
    /// assert_eq!(after.refresh_token_expires_at, Some(later + Duration::days(90)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn auth_record_after(&self, previous: Option<&AuthRecord>) -> AuthRecord {
        let mut auth = self.auth_record();
        // A new refresh token without a lifetime has an unknown one: none,
        // rather than the spent token's.
        if let Some(previous) = previous
            && auth.refresh_token_expires_at.is_none()
            && auth.refresh_token.is_some()
            && auth.refresh_token == previous.refresh_token
        {
            auth.refresh_token_expires_at = previous.refresh_token_expires_at;
        }
        auth
    }
}

/// The person behind a token (`people/me`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebexPerson {
    /// The person id (`Y2lzY29zcGFyazovL3VzL1BFT1BMRS8...`).
    pub id: String,
    /// The person's organization id.
    pub org_id: String,
    /// The organization's key: the connection's `workspace.id` ([`org_key`]).
    pub org_key: String,
    /// The display name, when sent (cut at 256 bytes).
    pub display_name: Option<String>,
    /// The person's email addresses.
    pub emails: Vec<String>,
}

#[derive(Deserialize)]
struct RawToken {
    access_token: Option<AccessToken>,
    token_type: Option<String>,
    refresh_token: Option<RefreshToken>,
    #[serde(default, deserialize_with = "lenient_seconds")]
    expires_in: Option<u64>,
    #[serde(default, deserialize_with = "lenient_seconds")]
    refresh_token_expires_in: Option<u64>,
    scope: Option<String>,
    // An error answer's markers (OAuth's `error`, Webex's REST `errors`;
    // `null` reads as absent): an answer carrying one failed, whatever its
    // status says.
    #[serde(default)]
    error: Option<Value>,
    #[serde(default)]
    errors: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPerson {
    id: Option<String>,
    org_id: Option<String>,
    display_name: Option<String>,
    #[serde(default)]
    emails: Option<Vec<String>>,
}

/// Which call an error answer came from: they mean different things.
#[derive(Clone, Copy)]
enum Call {
    Token,
    PeopleMe,
}

/// The OAuth error codes Webex's token endpoint reports (as `error`, or
/// inside `message`: `... error = '(invalid_grant) ...'`).
const OAUTH_CODES: &[&str] = &[
    "invalid_grant",
    "invalid_client",
    "unauthorized_client",
    "invalid_request",
    "unsupported_grant_type",
    "invalid_scope",
    "redirect_uri_mismatch",
];

fn kind_of(code: &str) -> ProviderErrorKind {
    use ProviderErrorKind as K;
    match code {
        "invalid_grant" => K::InvalidGrant,
        "invalid_client" | "unauthorized_client" => K::InvalidClient,
        "redirect_uri_mismatch" => K::RedirectUriMismatch,
        "rate_limited" => K::RateLimited,
        "unauthorized" => K::TokenRevoked,
        "forbidden" => K::Forbidden,
        _ => K::Other,
    }
}

/// An answer that is not a success: Webex's error (an OAuth `error`, or its
/// REST shape `{"message", "errors": [{"description"}], "trackingId"}`), or
/// the bare status when the body says nothing usable.
///
/// Only a 4xx is Webex refusing the request: the code another answer names
/// (a gateway's 5xx, an error body in a 2xx) is kept for the logs but means
/// nothing ([`ProviderErrorKind::Other`]), so no such answer marks a refresh
/// token dead.
fn webex_error(response: &HttpResponse<'_>, call: Call) -> ExchangeError {
    let body: Option<Map<String, Value>> = parse_json(response).ok();
    let text = |k: &str| body.as_ref().and_then(|b| b.get(k)).and_then(Value::as_str);
    let message = text("message");
    let described = text("error_description").or(message);
    let code = text("error")
        .map(str::to_owned)
        .or_else(|| {
            let m = message?;
            OAUTH_CODES
                .iter()
                .find(|c| m.contains(*c))
                .map(|c| (*c).to_owned())
        })
        .or_else(|| match (response.status, call) {
            (429, _) => Some("rate_limited".to_owned()),
            (401, Call::Token) => Some("invalid_client".to_owned()),
            (401, Call::PeopleMe) => Some("unauthorized".to_owned()),
            (403, Call::PeopleMe) => Some("forbidden".to_owned()),
            _ => None,
        });
    let refusal = (400..500).contains(&response.status);
    match code {
        Some(code) => {
            let kind = if refusal {
                kind_of(&code)
            } else {
                ProviderErrorKind::Other
            };
            let e = ProviderError::new("Webex", Some(&code), kind).with_description(described);
            ExchangeError::Provider(e)
        }
        None if body.is_some() && (response.status == 400 || response.is_success()) => {
            ProviderError::new("Webex", None, ProviderErrorKind::Other)
                .with_description(described)
                .into()
        }
        None => ExchangeError::HttpStatus(response.status),
    }
}

/// Parses the token endpoint's answer received at `now`: the access token
/// (required), the refresh token and both lifetimes.
///
/// ```
/// use channel_connect::exchange::{ExchangeError, ProviderErrorKind};
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::webex::oauth;
/// use time::{Duration, OffsetDateTime};
///
/// let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// let ok = br#"{"access_token":"ZDI3MGEyYzQtNmFl","expires_in":1209600,"refresh_token":"MDEyMzQ1Njc4OWFi","refresh_token_expires_in":7776000}"#;
/// let token = oauth::parse_token(&HttpResponse::new(200, ok), now)?;
/// assert_eq!(token.expires_at, Some(now + Duration::days(14)));
/// assert_eq!(token.refresh_token_expires_at, Some(now + Duration::days(90)));
/// assert!(!format!("{token:?}").contains("ZDI3MGEyYzQtNmFl"));
///
/// // A code used twice: Webex names the OAuth error inside its message.
/// let used = br#"{"message":"POST failed: HTTP/1.1 400 Bad Request (url = https://idbroker.webex.com/idb/oauth2/v1/access_token, error = '(invalid_grant) Authorization code has been used.')","errors":[{"description":"POST failed"}],"trackingId":"ROUTER_6470D2C4"}"#;
/// let err = oauth::parse_token(&HttpResponse::new(400, used), now).unwrap_err();
/// assert!(matches!(&err, ExchangeError::Provider(e) if e.kind() == ProviderErrorKind::InvalidGrant));
/// assert_eq!(err.status(), 400);
/// // A proxy's page is no answer.
/// assert_eq!(oauth::parse_token(&HttpResponse::new(502, b"<html>"), now).unwrap_err(), ExchangeError::HttpStatus(502));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_token(response: &HttpResponse<'_>, now: OffsetDateTime) -> Result<WebexToken, ExchangeError> {
    if !response.is_success() {
        return Err(webex_error(response, Call::Token));
    }
    let raw: RawToken = parse_json(response)?;
    if raw.error.is_some() || raw.errors.is_some() {
        return Err(webex_error(response, Call::Token));
    }
    let access_token = required_secret(raw.access_token, "access_token")?;
    // It is sent as `Authorization: Bearer <token>` (people/me, and by
    // whoever reads the stored tokens): nothing in it may end that header.
    if !access_token.expose().bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ExchangeError::InvalidField("access_token"));
    }
    Ok(WebexToken {
        access_token,
        token_type: raw.token_type.filter(|t| !t.is_empty() && t.len() <= 32),
        refresh_token: raw.refresh_token.filter(|t| !t.expose().is_empty()),
        expires_at: expires_at(now, raw.expires_in, "expires_in")?,
        refresh_token_expires_at: expires_at(now, raw.refresh_token_expires_in, "refresh_token_expires_in")?,
        scopes: raw
            .scope
            .as_deref()
            .unwrap_or("")
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

/// Parses the answer to [`refresh_request`] received at `now`. A refresh
/// without a refresh token or an expiry is refused: storing it would end
/// the refreshes.
///
/// ```
/// use channel_connect::exchange::{ExchangeError, ProviderErrorKind};
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::webex::oauth;
/// use time::OffsetDateTime;
///
/// let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// // The refresh token ran out (90 days unused), or was revoked.
/// let dead = br#"{"error":"invalid_grant","error_description":"The refresh token provided is expired, revoked, malformed, or invalid."}"#;
/// match oauth::parse_refresh(&HttpResponse::new(400, dead), now) {
///     Err(ExchangeError::Provider(e)) => assert_eq!((e.code(), e.kind()), ("invalid_grant", ProviderErrorKind::InvalidGrant)),
///     other => panic!("{other:?}"),
/// }
/// let no_expiry = br#"{"access_token":"NmY0ZDQ5YjMtYzE4","refresh_token":"MDEy"}"#;
/// assert_eq!(oauth::parse_refresh(&HttpResponse::new(200, no_expiry), now).unwrap_err(), ExchangeError::MissingField("expires_in"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_refresh(response: &HttpResponse<'_>, now: OffsetDateTime) -> Result<WebexToken, ExchangeError> {
    let token = parse_token(response, now)?;
    if token.refresh_token.is_none() {
        return Err(ExchangeError::MissingField("refresh_token"));
    }
    if token.expires_at.is_none() {
        return Err(ExchangeError::MissingField("expires_in"));
    }
    Ok(token)
}

/// A Webex id as kept: 1 to 512 bytes of base64 (standard or url-safe).
fn webex_id(value: Option<String>, field: &'static str) -> Result<String, ExchangeError> {
    let id = value
        .filter(|v| !v.is_empty())
        .ok_or(ExchangeError::MissingField(field))?;
    let ok = id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'));
    if ok {
        Ok(id)
    } else {
        Err(ExchangeError::InvalidField(field))
    }
}

/// Parses `people/me`: the person's `id` and `orgId` are required (the
/// endpoint and the workspace), the name and emails kept when sent.
///
/// ```
/// use channel_connect::exchange::{ExchangeError, ProviderErrorKind};
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::webex::oauth;
///
/// let me = br#"{"id":"Y2lzY29zcGFyazovL3VzL1BFT1BMRS9mNWIzNjE4Ny1jOGRkLTQ3MjctOGIyZi1mOWM0NDdmMjkwNDY","emails":["megan@example.com"],"displayName":"Megan Bowen","orgId":"Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi85NmFiYzJhYS0zZGNjLTExZTUtYTE1Mi1mZTM0ODE5Y2RjOWE","type":"person"}"#;
/// let person = oauth::parse_person(&HttpResponse::new(200, me))?;
/// assert_eq!(person.org_key, "96abc2aa-3dcc-11e5-a152-fe34819cdc9a");
/// assert_eq!(person.display_name.as_deref(), Some("Megan Bowen"));
///
/// // The token did not work.
/// let err = oauth::parse_person(&HttpResponse::new(401, br#"{"message":"The request requires a valid access token set in the Authorization request header.","errors":[{"description":"The request requires a valid access token set in the Authorization request header."}],"trackingId":"ROUTER_1"}"#)).unwrap_err();
/// assert!(matches!(err, ExchangeError::Provider(e) if e.kind() == ProviderErrorKind::TokenRevoked));
/// # Ok::<(), ExchangeError>(())
/// ```
pub fn parse_person(response: &HttpResponse<'_>) -> Result<WebexPerson, ExchangeError> {
    if !response.is_success() {
        return Err(webex_error(response, Call::PeopleMe));
    }
    let raw: RawPerson = parse_json(response)?;
    let id = webex_id(raw.id, "id")?;
    let org_id = webex_id(raw.org_id, "orgId")?;
    let org_key = org_key(&org_id)
        .ok_or(ExchangeError::InvalidField("orgId"))?
        .into_owned();
    let display_name = raw
        .display_name
        .map(|n| cut(&n, MAX_NAME_LEN))
        .filter(|n| !n.is_empty());
    Ok(WebexPerson {
        id,
        org_id,
        org_key,
        display_name,
        emails: raw.emails.unwrap_or_default().into_iter().take(16).collect(),
    })
}

/// `s` without control characters, cut at `max` bytes on a character boundary.
fn cut(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in s.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out.trim().to_owned()
}

/// The records of a Webex sign-in.
///
/// * A connect: the connection in the person's organization (`workspace`:
///   the organization's key as `id`, the full `orgId`, and the person's
///   display name as `name`, as Novu stores it), with the token pair; and a
///   `webex_person` endpoint when the state has autoLinkUser and a
///   subscriber.
/// * A user link: the `webex_person` endpoint, for the connection the state
///   names (Novu requires one for a Webex link), in its organization when
///   the state is restricted to it.
///
/// A state restricted to an organization refuses a person of another
/// ([`ExchangeError::WrongWorkspace`]).
pub fn records(
    state: &VerifiedState,
    token: &WebexToken,
    person: &WebexPerson,
) -> Result<StoredRecords, ExchangeError> {
    match state.purpose() {
        Purpose::Connect => {
            let mut details = Map::new();
            details.insert("orgId".into(), Value::String(person.org_id.clone()));
            let workspace = WorkspaceRecord {
                id: person.org_key.clone(),
                name: person.display_name.clone(),
                details,
            };
            let connection = records::connection(state, workspace, Some(token.auth_record()))?;
            let mut endpoints = Vec::new();
            if state.auto_link_user() && state.subscriber_id().is_some() {
                endpoints.push(records::endpoint(state, webex_person_endpoint(&person.id))?);
            }
            Ok(StoredRecords {
                connection: Some(connection),
                endpoints,
            })
        }
        Purpose::LinkUser => {
            records::same_workspace(state, &person.org_key)?;
            if state.connection_identifier().is_none() {
                return Err(ExchangeError::WrongFlow(FlowMismatch::NoConnectionIdentifier));
            }
            Ok(StoredRecords {
                connection: None,
                endpoints: vec![records::endpoint(state, webex_person_endpoint(&person.id))?],
            })
        }
        _ => Err(ExchangeError::WrongFlow(FlowMismatch::NoProofSignIn)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap()
    }

    #[test]
    fn error_bodies() {
        let oauth = br#"{"error":"invalid_client","error_description":"bad secret"}"#;
        let Err(ExchangeError::Provider(e)) = parse_token(&HttpResponse::new(401, oauth), now()) else {
            panic!()
        };
        assert_eq!(
            (e.code(), e.kind()),
            ("invalid_client", ProviderErrorKind::InvalidClient)
        );
        let limited = parse_token(&HttpResponse::new(429, b""), now()).unwrap_err();
        assert_eq!(limited.status(), 429);
        let plain = br#"{"message":"Something odd","trackingId":"ROUTER_1"}"#;
        let e = parse_token(&HttpResponse::new(400, plain), now()).unwrap_err();
        assert!(
            matches!(&e, ExchangeError::Provider(p) if p.code() == "unrecognized"),
            "{e:?}"
        );
        assert_eq!(
            parse_token(&HttpResponse::new(500, plain), now()).unwrap_err(),
            ExchangeError::HttpStatus(500)
        );
        assert_eq!(
            parse_token(&HttpResponse::new(302, b""), now()).unwrap_err(),
            ExchangeError::HttpStatus(302)
        );
        // A hostile error code never reaches a message.
        let hostile = br#"{"error":"<script>alert(1)</script>","error_description":"<b>x</b>\r\ny"}"#;
        let Err(ExchangeError::Provider(e)) = parse_token(&HttpResponse::new(400, hostile), now()) else {
            panic!()
        };
        assert_eq!(e.code(), "unrecognized");
        assert!(!e.to_string().contains('<') && !e.description().unwrap().contains('<'));
    }

    #[test]
    fn hostile_success_bodies() {
        let big = format!(
            r#"{{"access_token":"{}"}}"#,
            "a".repeat(crate::exchange::MAX_RESPONSE_BYTES)
        );
        assert_eq!(
            parse_token(&HttpResponse::new(200, big.as_bytes()), now()).unwrap_err(),
            ExchangeError::TooLarge
        );
        let deep = "[".repeat(100_000);
        assert!(parse_token(&HttpResponse::new(200, deep.as_bytes()), now()).is_err());
        assert!(parse_person(&HttpResponse::new(200, deep.as_bytes())).is_err());
        for body in [
            &br#"{"access_token":"t","expires_in":18446744073709551615}"#[..],
            br#"{"access_token":"t","expires_in":-1}"#,
            br#"{"access_token":"t","expires_in":"soon"}"#,
            br#"{"access_token":""}"#,
            br#"{"access_token":7}"#,
            b"null",
            b"\xff\xfe",
        ] {
            assert!(parse_token(&HttpResponse::new(200, body), now()).is_err());
        }
        let secret = br#"{"access_token":"very-secret-token","expires_in":"x"}"#;
        let e = parse_token(&HttpResponse::new(200, secret), now()).unwrap_err();
        assert!(!format!("{e} {e:?}").contains("very-secret-token"));
    }

    #[test]
    fn person_fields_are_checked() {
        let org = "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi85NmFiYzJhYS0zZGNjLTExZTUtYTE1Mi1mZTM0ODE5Y2RjOWE";
        let person = |id: &str, org: &str| {
            let body = serde_json::json!({"id": id, "orgId": org, "displayName": "A\u{0}B\u{7}".to_owned() + &"é".repeat(300)});
            parse_person(&HttpResponse::new(200, body.to_string().as_bytes()))
        };
        let p = person("cGVyc29u", org).unwrap();
        assert!(p.display_name.as_ref().unwrap().len() <= MAX_NAME_LEN);
        assert!(p.display_name.as_ref().unwrap().starts_with("AB"));
        assert_eq!(person("", org).unwrap_err(), ExchangeError::MissingField("id"));
        assert_eq!(person("a b", org).unwrap_err(), ExchangeError::InvalidField("id"));
        assert_eq!(
            person(&"a".repeat(513), org).unwrap_err(),
            ExchangeError::InvalidField("id")
        );
        assert_eq!(
            person("cGVyc29u", "../x").unwrap_err(),
            ExchangeError::InvalidField("orgId")
        );
        assert_eq!(
            person("cGVyc29u", &"QUFB".repeat(30)).unwrap_err(),
            ExchangeError::InvalidField("orgId")
        );
        let no_org = br#"{"id":"cGVyc29u"}"#;
        assert_eq!(
            parse_person(&HttpResponse::new(200, no_org)).unwrap_err(),
            ExchangeError::MissingField("orgId")
        );
        let e = parse_person(&HttpResponse::new(403, br#"{"message":"no"}"#)).unwrap_err();
        assert_eq!(e.status(), 403);
    }
}
