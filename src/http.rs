//! HTTP exchanges as values. The library sends nothing: it builds
//! [`HttpRequest`]s for the host's own client and reads the answers the host
//! hands back as [`HttpResponse`]s.
//!
//! Credentials in a request (an `Authorization` header, a client secret, a
//! code, a PKCE verifier, a refresh token) are marked when they are added,
//! and `Debug` shows them as `[redacted]`.
//!
//! ```
//! use channel_connect::http::{HttpRequest, HttpResponse};
//! use channel_connect::Secret;
//!
//! // A host builds its own request the same way the providers do.
//! let token = Secret::new("xoxb-secret");
//! let req = HttpRequest::post_form("https://slack.com/api/auth.test").bearer(&token).field("pretty", "1");
//! assert_eq!(req.method(), "POST");
//! assert_eq!(req.body(), "pretty=1");
//! assert_eq!(req.header_value("authorization"), Some("Bearer xoxb-secret"));
//! assert!(!format!("{req:?}").contains("xoxb-secret"));
//!
//! // The answer, as the host's client received it.
//! let res = HttpResponse::new(200, br#"{"ok":true}"#);
//! assert!(res.is_success());
//! ```
//!
//! (Most of this file's length is the runnable examples in its doc comments;
//! the code, tests included, is about 300 lines.)

use std::borrow::Cow;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::encode::percent_encode_into;
use crate::secret::ExposeSecret;

/// `GET`, `POST` or `DELETE`, the methods these exchanges use.
///
/// ```
/// use channel_connect::http::{HttpRequest, Method};
///
/// assert_eq!(Method::Post.as_str(), "POST");
/// // A request gives its method as the same text.
/// assert_eq!(HttpRequest::get("https://graph.microsoft.com/v1.0/me").method(), Method::Get.as_str());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `DELETE`.
    Delete,
}

impl Method {
    /// The method as HTTP writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// One header of an [`HttpRequest`]. `Debug` hides a sensitive value.
///
/// ```
/// use channel_connect::http::HttpRequest;
/// use channel_connect::Secret;
///
/// let req = HttpRequest::get("https://graph.microsoft.com/v1.0/me").bearer(&Secret::new("eyJ0eXAi.demo"));
/// let names: Vec<&str> = req.headers().iter().map(|h| h.name()).collect();
/// assert_eq!(names, ["Accept", "Authorization"]);
/// let auth = &req.headers()[1];
/// assert_eq!(auth.value(), "Bearer eyJ0eXAi.demo");
/// assert_eq!(format!("{auth:?}"), r#"Header("Authorization", "[redacted]")"#);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    name: Cow<'static, str>,
    value: String,
    sensitive: bool,
}

impl Header {
    /// The header name, as HTTP/1.1 would write it (`Content-Type`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value to send.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// True for a credential (`Authorization`): keep it out of logs.
    ///
    /// ```
    /// use channel_connect::http::HttpRequest;
    /// use channel_connect::Secret;
    ///
    /// let req = HttpRequest::post_form("https://slack.com/api/auth.revoke").bearer(&Secret::new("xoxb-1"));
    /// // What a host's request log may show.
    /// let loggable: Vec<String> = req
    ///     .headers()
    ///     .iter()
    ///     .map(|h| format!("{}: {}", h.name(), if h.is_sensitive() { "***" } else { h.value() }))
    ///     .collect();
    /// assert_eq!(
    ///     loggable,
    ///     ["Accept: application/json", "Content-Type: application/x-www-form-urlencoded", "Authorization: ***"]
    /// );
    /// ```
    pub fn is_sensitive(&self) -> bool {
        self.sensitive
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = if self.sensitive { "[redacted]" } else { &self.value };
        f.debug_tuple("Header").field(&self.name).field(&value).finish()
    }
}

#[derive(Clone, PartialEq, Eq)]
struct FormField {
    name: Cow<'static, str>,
    value: String,
    secret: bool,
}

#[derive(Clone, PartialEq, Eq)]
enum Body {
    Empty,
    Form { fields: Vec<FormField>, encoded: String },
    Json(String),
}

/// A request to send: method, URL, headers and a body (none, a form, or
/// JSON). Built with [`HttpRequest::get`], [`HttpRequest::post_form`],
/// [`HttpRequest::post_json`] or [`HttpRequest::delete`], then [`HttpRequest::header`],
/// [`HttpRequest::secret_header`], [`HttpRequest::bearer`],
/// [`HttpRequest::basic_auth`], [`HttpRequest::field`] and
/// [`HttpRequest::secret_field`].
///
/// `Debug` hides sensitive headers and secret form fields; the body itself
/// is reachable only through [`HttpRequest::body`], for sending.
///
/// Any client sends it from four parts: [`HttpRequest::method`],
/// [`HttpRequest::url`], every one of [`HttpRequest::headers`], and
/// [`HttpRequest::body`] (with the `http` feature,
/// `http::Request::<String>::try_from(&req)` does it for clients on the
/// `http` crate). The answer comes back as an [`HttpResponse`].
///
/// ```
/// use channel_connect::http::HttpRequest;
/// use channel_connect::provider::slack::oauth;
/// use channel_connect::{ClientId, RedirectUri, Secret, Slack};
///
/// # let app = Slack::new(
/// #     ClientId::new("1234567890.1234567890")?,
/// #     Secret::new("slack-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// let req = oauth::access_request(&app, &channel_connect::secret::AuthorizationCode::new("4724.demo-code"));
/// assert_eq!((req.method(), req.url()), ("POST", "https://slack.com/api/oauth.v2.access"));
/// assert_eq!(
///     req.body(),
///     "code=4724.demo-code&redirect_uri=https%3A%2F%2Fapi.example.com%2Fv1%2Fintegrations%2Fchat%2Foauth%2Fcallback"
/// );
/// // Safe to log: the code and the Basic credentials are redacted.
/// let logged = format!("{req:?}");
/// assert!(!logged.contains("4724.demo-code") && logged.contains("[redacted]"));
/// # Ok::<(), channel_connect::ConfigError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    method: Method,
    url: String,
    headers: Vec<Header>,
    body: Body,
}

impl HttpRequest {
    fn new(method: Method, url: impl Into<String>, body: Body) -> Self {
        HttpRequest {
            method,
            url: url.into(),
            headers: Vec::new(),
            body,
        }
        .header("Accept", "application/json")
    }

    /// `GET url`, accepting JSON.
    ///
    /// ```
    /// use channel_connect::http::HttpRequest;
    ///
    /// let req = HttpRequest::get("https://graph.microsoft.com/v1.0/me");
    /// assert_eq!(req.header_value("accept"), Some("application/json"));
    /// assert_eq!(req.body(), "");
    /// ```
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::Get, url, Body::Empty)
    }

    /// `POST url` with an `application/x-www-form-urlencoded` body (add
    /// fields with [`HttpRequest::field`]), accepting JSON.
    ///
    /// ```
    /// use channel_connect::http::HttpRequest;
    ///
    /// let req = HttpRequest::post_form("https://slack.com/api/oauth.v2.access")
    ///     .field("grant_type", "refresh_token");
    /// assert_eq!(req.header_value("content-type"), Some("application/x-www-form-urlencoded"));
    /// assert_eq!(req.body(), "grant_type=refresh_token");
    /// ```
    pub fn post_form(url: impl Into<String>) -> Self {
        let body = Body::Form {
            fields: Vec::new(),
            encoded: String::new(),
        };
        Self::new(Method::Post, url, body).header("Content-Type", "application/x-www-form-urlencoded")
    }

    /// `POST url` with a JSON body, accepting JSON.
    ///
    /// ```
    /// use channel_connect::http::HttpRequest;
    /// use serde_json::json;
    ///
    /// let req = HttpRequest::post_json(
    ///     "https://graph.microsoft.com/v1.0/users/00000000-0000-0000-66f3-3332eca7ea81/teamwork/installedApps",
    ///     &json!({"teamsApp@odata.bind": "https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/b1c5353a-7aca-41b3-830f-27d5218fe0e5"}),
    /// );
    /// assert_eq!(req.header_value("content-type"), Some("application/json"));
    /// assert!(req.body().starts_with(r#"{"teamsApp@odata.bind":"#));
    /// // Form fields do not apply to a JSON body: ignored.
    /// assert_eq!(req.clone().field("x", "1").body(), req.body());
    /// ```
    pub fn post_json(url: impl Into<String>, body: &serde_json::Value) -> Self {
        Self::new(Method::Post, url, Body::Json(body.to_string())).header("Content-Type", "application/json")
    }

    /// `DELETE url`, without a body, accepting JSON.
    ///
    /// ```
    /// use channel_connect::http::{HttpRequest, Method};
    ///
    /// let req = HttpRequest::delete("https://graph.microsoft.com/v1.0/users/00000000-0000-0000-66f3-3332eca7ea81/teamwork/installedApps/NjRiOWM3NDY%3D");
    /// assert_eq!((req.method(), req.method_kind()), ("DELETE", Method::Delete));
    /// assert_eq!((req.body(), req.header_value("content-type")), ("", None));
    /// ```
    pub fn delete(url: impl Into<String>) -> Self {
        Self::new(Method::Delete, url, Body::Empty)
    }

    /// Adds a header.
    ///
    /// ```
    /// use channel_connect::http::HttpRequest;
    ///
    /// let req = HttpRequest::get("https://graph.microsoft.com/v1.0/appCatalogs/teamsApps")
    ///     .header("ConsistencyLevel", "eventual");
    /// assert_eq!(req.header_value("consistencylevel"), Some("eventual"));
    /// assert!(!req.headers().last().unwrap().is_sensitive());
    /// ```
    pub fn header(mut self, name: impl Into<Cow<'static, str>>, value: impl Into<String>) -> Self {
        self.push_header(name.into(), value.into(), false);
        self
    }

    /// Adds a header that carries a credential (redacted in `Debug`).
    ///
    /// ```
    /// use channel_connect::http::HttpRequest;
    /// use channel_connect::Secret;
    ///
    /// let req = HttpRequest::get("https://api.example.net/v2/me").secret_header("X-Api-Key", &Secret::new("k-123"));
    /// assert_eq!(req.header_value("x-api-key"), Some("k-123"));
    /// assert!(!format!("{req:?}").contains("k-123"));
    /// ```
    pub fn secret_header(mut self, name: impl Into<Cow<'static, str>>, value: &impl ExposeSecret) -> Self {
        self.push_header(name.into(), value.expose_secret().to_owned(), true);
        self
    }

    /// `Authorization: Bearer <token>` (RFC 6750 section 2.1).
    ///
    /// ```
    /// use channel_connect::http::HttpRequest;
    /// use channel_connect::Secret;
    ///
    /// let req = HttpRequest::post_form("https://slack.com/api/auth.revoke").bearer(&Secret::new("xoxb-1"));
    /// assert_eq!(req.header_value("Authorization"), Some("Bearer xoxb-1"));
    /// assert!(req.headers().iter().any(|h| h.name() == "Authorization" && h.is_sensitive()));
    /// ```
    pub fn bearer(mut self, token: &impl ExposeSecret) -> Self {
        self.push_header(
            "Authorization".into(),
            format!("Bearer {}", token.expose_secret()),
            true,
        );
        self
    }

    /// `Authorization: Basic base64(user:password)` (RFC 7617).
    ///
    /// ```
    /// use channel_connect::http::HttpRequest;
    /// use channel_connect::Secret;
    ///
    /// // RFC 7617 section 2's example.
    /// let req = HttpRequest::post_form("https://slack.com/api/oauth.v2.access")
    ///     .basic_auth("Aladdin", &Secret::new("open sesame"));
    /// assert_eq!(req.header_value("authorization"), Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
    /// assert!(!format!("{req:?}").contains("QWxhZGRpbjpvcGVuIHNlc2FtZQ"));
    /// ```
    pub fn basic_auth(mut self, user: &str, password: &impl ExposeSecret) -> Self {
        let encoded = STANDARD.encode(format!("{user}:{}", password.expose_secret()));
        self.push_header("Authorization".into(), format!("Basic {encoded}"), true);
        self
    }

    fn push_header(&mut self, name: Cow<'static, str>, value: String, sensitive: bool) {
        self.headers.push(Header {
            name,
            value,
            sensitive,
        });
    }

    /// Appends `name=value` to a form body, percent-encoded. Ignored on a
    /// request without a form body.
    ///
    /// ```
    /// use channel_connect::http::HttpRequest;
    ///
    /// let req = HttpRequest::post_form("https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token")
    ///     .field("scope", "https://graph.microsoft.com/.default")
    ///     .field("grant_type", "client_credentials");
    /// assert_eq!(req.body(), "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&grant_type=client_credentials");
    /// assert_eq!(req.form_field("scope"), Some("https://graph.microsoft.com/.default"));
    ///
    /// // A GET has no body to add to.
    /// assert_eq!(HttpRequest::get("https://graph.microsoft.com/v1.0/me").field("scope", "x").body(), "");
    /// ```
    pub fn field(mut self, name: impl Into<Cow<'static, str>>, value: &str) -> Self {
        self.push_field(name.into(), value, false);
        self
    }

    /// Appends a form field that carries a credential (redacted in `Debug`).
    ///
    /// ```
    /// use channel_connect::http::HttpRequest;
    /// use channel_connect::Secret;
    ///
    /// let req = HttpRequest::post_form("https://slack.com/api/oauth.v2.access")
    ///     .field("grant_type", "refresh_token")
    ///     .secret_field("refresh_token", &Secret::new("xoxe-1-My0xLTI0"));
    /// assert_eq!(req.body(), "grant_type=refresh_token&refresh_token=xoxe-1-My0xLTI0");
    /// assert_eq!(
    ///     format!("{req:?}").split("form: ").nth(1),
    ///     Some(r#"{"grant_type": "refresh_token", "refresh_token": "[redacted]"} }"#)
    /// );
    /// ```
    pub fn secret_field(mut self, name: impl Into<Cow<'static, str>>, value: &impl ExposeSecret) -> Self {
        self.push_field(name.into(), value.expose_secret(), true);
        self
    }

    /// A secret form field from a value that is not a [`Secret`] (a PKCE verifier).
    pub(crate) fn secret_field_str(mut self, name: &'static str, value: &str) -> Self {
        self.push_field(name.into(), value, true);
        self
    }

    fn push_field(&mut self, name: Cow<'static, str>, value: &str, secret: bool) {
        if let Body::Form { fields, encoded } = &mut self.body {
            if !encoded.is_empty() {
                encoded.push('&');
            }
            percent_encode_into(encoded, &name);
            encoded.push('=');
            percent_encode_into(encoded, value);
            fields.push(FormField {
                name,
                value: value.to_owned(),
                secret,
            });
        }
    }

    /// The method, as HTTP writes it.
    pub fn method(&self) -> &'static str {
        self.method.as_str()
    }

    /// The method, as a value to match on.
    pub fn method_kind(&self) -> Method {
        self.method
    }

    /// The endpoint URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The headers, in the order to send them.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The value of a header, the name compared case-insensitively.
    ///
    /// ```
    /// use channel_connect::http::HttpRequest;
    ///
    /// let req = HttpRequest::post_form("https://slack.com/api/oauth.v2.access");
    /// assert_eq!(req.header_value("CONTENT-TYPE"), Some("application/x-www-form-urlencoded"));
    /// assert_eq!(req.header_value("Authorization"), None);
    /// ```
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(Header::value)
    }

    /// The body to send (it may hold credentials: do not log it).
    pub fn body(&self) -> &str {
        match &self.body {
            Body::Empty => "",
            Body::Form { encoded, .. } => encoded,
            Body::Json(json) => json,
        }
    }

    /// The decoded value of one form field of the body.
    ///
    /// ```
    /// use channel_connect::http::HttpRequest;
    /// use channel_connect::Secret;
    ///
    /// let req = HttpRequest::post_form("https://slack.com/api/oauth.v2.access")
    ///     .secret_field("code", &Secret::new("4724.a/b+c"))
    ///     .field("redirect_uri", "https://api.example.com/v1/integrations/chat/oauth/callback");
    /// assert_eq!(req.form_field("code"), Some("4724.a/b+c")); // decoded
    /// assert!(req.body().starts_with("code=4724.a%2Fb%2Bc&")); // encoded on the wire
    /// assert_eq!(req.form_field("client_secret"), None);
    /// ```
    pub fn form_field(&self, name: &str) -> Option<&str> {
        match &self.body {
            Body::Form { fields, .. } => fields.iter().find(|f| f.name == name).map(|f| f.value.as_str()),
            _ => None,
        }
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Form<'a>(&'a [FormField]);
        impl fmt::Debug for Form<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map()
                    .entries(self.0.iter().map(|field| {
                        let value = if field.secret { "[redacted]" } else { &field.value };
                        (&field.name, value)
                    }))
                    .finish()
            }
        }
        let mut d = f.debug_struct("HttpRequest");
        d.field("method", &self.method.as_str())
            .field("url", &self.url)
            .field("headers", &self.headers);
        match &self.body {
            Body::Empty => {}
            Body::Form { fields, .. } => {
                d.field("form", &Form(fields));
            }
            Body::Json(json) => {
                d.field("json", json);
            }
        }
        d.finish()
    }
}

/// Converts into an [`http::Request`] for clients built on the `http` crate
/// (reqwest, hyper). Feature `http`.
#[cfg(feature = "http")]
impl TryFrom<&HttpRequest> for ::http::Request<String> {
    type Error = ::http::Error;

    fn try_from(req: &HttpRequest) -> Result<Self, Self::Error> {
        let method = match req.method {
            Method::Get => ::http::Method::GET,
            Method::Post => ::http::Method::POST,
            Method::Delete => ::http::Method::DELETE,
        };
        let mut builder = ::http::Request::builder().method(method).uri(req.url());
        for h in req.headers() {
            let mut value = ::http::HeaderValue::from_str(h.value())?;
            value.set_sensitive(h.is_sensitive());
            builder = builder.header(h.name(), value);
        }
        builder.body(req.body().to_owned())
    }
}

/// A response as the host's client received it: the status and the body.
/// `Debug` shows the body's length only (it may carry tokens).
///
/// ```
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::slack::oauth;
///
/// let body = br#"{"ok":true,"revoked":true}"#;
/// let response = HttpResponse::new(200, body);
/// assert!(oauth::parse_revoke(&response)?);
/// assert_eq!(format!("{response:?}"), "HttpResponse { status: 200, body_len: 26 }");
/// # Ok::<(), channel_connect::ExchangeError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HttpResponse<'a> {
    /// The HTTP status code.
    pub status: u16,
    /// The body bytes.
    pub body: &'a [u8],
}

impl<'a> HttpResponse<'a> {
    /// A response with this status and body, borrowed from what the host's
    /// client received.
    ///
    /// ```
    /// use channel_connect::http::HttpResponse;
    /// use channel_connect::provider::slack::oauth;
    ///
    /// // What a client hands back: a status and the body bytes.
    /// let (status, body): (u16, Vec<u8>) = (200, br#"{"ok":false,"error":"invalid_code"}"#.to_vec());
    /// let response = HttpResponse::new(status, &body);
    /// assert!(response.is_success()); // HTTP says yes...
    /// assert!(oauth::parse_install(&response).is_err()); // ...Slack says no
    /// ```
    pub fn new(status: u16, body: &'a [u8]) -> Self {
        HttpResponse { status, body }
    }

    /// True for a 2xx status.
    ///
    /// Parsers look at more than this: Slack answers its errors with 200 and
    /// `"ok": false`, Microsoft with 400 and a JSON error body.
    ///
    /// ```
    /// use channel_connect::http::HttpResponse;
    ///
    /// assert!(HttpResponse::new(201, b"{}").is_success());
    /// assert!(!HttpResponse::new(409, b"{}").is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl fmt::Debug for HttpResponse<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn form_body_is_encoded_and_debug_redacts() {
        let req = HttpRequest::post_form("https://x.test/token")
            .basic_auth("id", &Secret::new("s3cret"))
            .field("scope", "openid profile")
            .secret_field("code", &Secret::new("c0de/+"));
        assert_eq!(req.body(), "scope=openid%20profile&code=c0de%2F%2B");
        assert_eq!(req.form_field("code"), Some("c0de/+"));
        assert_eq!(
            req.header_value("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(req.header_value("ACCEPT"), Some("application/json"));
        let dbg = format!("{req:?}");
        for secret in ["s3cret", "aWQ6czNjcmV0", "c0de"] {
            assert!(!dbg.contains(secret), "{dbg}");
        }
        assert!(dbg.contains("openid profile"), "{dbg}");
    }

    #[test]
    fn get_and_json_bodies() {
        let get = HttpRequest::get("https://graph.test/v1.0/x").bearer(&Secret::new("tok"));
        assert_eq!((get.method(), get.body()), ("GET", ""));
        assert_eq!(get.header_value("content-type"), None);
        let json = HttpRequest::post_json("https://graph.test/y", &serde_json::json!({"a": 1}));
        assert_eq!((json.method(), json.body()), ("POST", r#"{"a":1}"#));
        assert_eq!(json.header_value("content-type"), Some("application/json"));
        assert!(!format!("{get:?}").contains("tok"));
        let delete = HttpRequest::delete("https://graph.test/z").bearer(&Secret::new("tok"));
        assert_eq!((delete.method(), delete.body()), ("DELETE", ""));
        assert_eq!(delete.header_value("content-type"), None);
    }

    #[cfg(feature = "http")]
    #[test]
    fn converts_to_an_http_request() {
        let req = HttpRequest::post_form("https://slack.com/api/oauth.v2.access")
            .basic_auth("id", &Secret::new("s3cret"))
            .field("code", "c");
        let http: ::http::Request<String> = (&req).try_into().unwrap();
        assert_eq!(http.method(), ::http::Method::POST);
        assert_eq!(http.uri(), "https://slack.com/api/oauth.v2.access");
        assert_eq!(http.body(), "code=c");
        let auth = &http.headers()["authorization"];
        assert!(auth.is_sensitive());
        assert_eq!(
            http.headers()["content-type"],
            "application/x-www-form-urlencoded"
        );
        let delete: ::http::Request<String> =
            (&HttpRequest::delete("https://graph.test/z")).try_into().unwrap();
        assert_eq!(
            (delete.method(), delete.body().as_str()),
            (&::http::Method::DELETE, "")
        );
    }

    #[test]
    fn response_debug_hides_the_body() {
        let r = HttpResponse::new(200, b"xoxb-secret");
        assert!(!format!("{r:?}").contains("xoxb"));
        assert!(r.is_success() && !HttpResponse::new(409, b"").is_success());
    }
}
