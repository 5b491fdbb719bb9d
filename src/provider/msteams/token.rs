//! The Microsoft identity platform v2.0 token endpoint
//! (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow>):
//! the delegated code exchange of the Teams sign-ins (with PKCE), whose
//! `id_token` proves the tenant and identifies the user; the
//! client-credentials request for an app-only token
//! (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>);
//! parsers of both answers; and the records a sign-in yields.
//!
//! What proves what:
//! * the admin-consent callback's `tenant`: nothing (anyone can write it);
//! * an app-only token ([`app_only_token_request`]): that the tenant has
//!   consented to this application at some time, so the app can act there;
//!   not who is in this flow;
//! * the delegated sign-in's `id_token` from the token endpoint over TLS
//!   ([`TokenEndpointClaims`]): that the person who signed in belongs to
//!   `tid` (and, with `wids`, holds an admin role there).
//!
//! (Most of this file's length is the runnable examples in its doc comments;
//! the code, tests included, is about 430 lines.)

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD_INDIFFERENT;
use serde::Deserialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::exchange::{
    ExchangeError, FlowMismatch, IdTokenError, ProviderError, ProviderErrorKind, expires_at, lenient_seconds,
    parse_json,
};
use crate::http::{HttpRequest, HttpResponse};
use crate::pkce::PkceVerifier;
use crate::provider::msteams::{ADMIN_ROLE_TEMPLATE_IDS, MsTeams, Tenant};
use crate::provider::msteams::{is_consumer_tenant, is_guid};
use crate::records::{self, ChannelConnectionRecord, ChannelEndpointRecord, Endpoint, WorkspaceRecord};
use crate::secret::{AccessToken, AuthorizationCode, RefreshToken, Secret};
use crate::state::{Purpose, VerifiedState};

/// Clock skew allowed on the `id_token`'s `exp` and `nbf`: 300 seconds, the
/// default of Microsoft's own token validation libraries.
pub const ID_TOKEN_LEEWAY_SECS: i64 = 300;

/// Longest `id_token` read; Microsoft's are 1 to 3 KiB.
const MAX_ID_TOKEN_CHARS: usize = 16 * 1024;

fn token_url(app: &MsTeams, tenant: &Tenant) -> String {
    format!("{}/{}/oauth2/v2.0/token", app.authority(), tenant.as_str())
}

/// The delegated code exchange of a Teams sign-in:
/// `POST {authority}/{tenant}/oauth2/v2.0/token` with `client_id, scope,
/// code, redirect_uri, grant_type=authorization_code, client_secret,
/// code_verifier`. `tenant` and `scope` are those of the authorize URL (for
/// a connect-proof, the claimed tenant's GUID); `verifier` comes from
/// [`crate::VerifiedCallback::pkce_verifier`].
///
/// [`crate::VerifiedCallback::token_request`] builds it for every Teams
/// sign-in code; calling it directly gives the same request:
///
/// ```
/// use channel_connect::provider::msteams::token;
/// use channel_connect::*;
/// use time::{Duration, OffsetDateTime};
///
/// # let app = MsTeams::new(
/// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
/// #     Secret::new("teams-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
/// #     .integration(Integration::new("msteams", app.clone()))
/// #     .build()?;
/// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// // A Teams user link, back with its code.
/// let body = LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"msteams","subscriberId":"subscriber-123"}"#)?;
/// let issued = core.link_user_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
/// let query = format!("code=0.AXoA-demo&state={}", issued.state().unwrap());
/// let verified = core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now + Duration::seconds(40)))?;
///
/// let code = channel_connect::secret::AuthorizationCode::new("0.AXoA-demo");
/// let verifier = verified.pkce_verifier().expect("sign-ins use PKCE");
/// let req = token::delegated_token_request(&app, &Tenant::organizations(), &app.sign_in_scope(true), &code, verifier);
/// assert_eq!(req.url(), "https://login.microsoftonline.com/organizations/oauth2/v2.0/token");
/// assert_eq!(req.form_field("grant_type"), Some("authorization_code"));
/// assert_eq!(req.form_field("code_verifier"), Some(verifier.expose()));
/// assert_eq!(Some(req), verified.token_request()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn delegated_token_request(
    app: &MsTeams,
    tenant: &Tenant,
    scope: &str,
    code: &AuthorizationCode<'_>,
    verifier: &PkceVerifier,
) -> HttpRequest {
    HttpRequest::post_form(token_url(app, tenant))
        .field("client_id", app.client_id().as_str())
        .field("scope", scope)
        .secret_field("code", code)
        .field("redirect_uri", app.redirect_uri().as_str())
        .field("grant_type", "authorization_code")
        .secret_field("client_secret", app.client_secret())
        .secret_field_str("code_verifier", verifier.expose())
}

/// An app-only Graph token for a tenant: a client-credentials request,
/// `POST {authority}/{tenant}/oauth2/v2.0/token` with `client_id,
/// scope={graph}/.default, client_secret, grant_type=client_credentials`.
/// It lasts about an hour ([`AppOnlyToken::expires_at`]); ask again when it
/// is near its end (there is no refresh token).
///
/// Its success proves only that the tenant has consented to this
/// application (the app can act there), not who sent any callback: never
/// use it to decide which tenant a connection belongs to. The proof of that
/// is the connect-proof sign-in's `id_token`.
///
/// ```
/// use channel_connect::provider::msteams::token;
/// use channel_connect::{ClientId, MsTeams, RedirectUri, Secret, Tenant};
///
/// # let app = MsTeams::new(
/// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
/// #     Secret::new("teams-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// // The tenant of a stored Teams connection.
/// let tenant = Tenant::new("72f988bf-86f1-41af-91ab-2d7cd011db47")?;
/// let req = token::app_only_token_request(&app, &tenant);
/// assert_eq!(req.url(), "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token");
/// assert_eq!(req.form_field("grant_type"), Some("client_credentials"));
/// assert_eq!(req.form_field("scope"), Some("https://graph.microsoft.com/.default"));
/// assert!(!format!("{req:?}").contains("teams-client-secret"));
/// # Ok::<(), channel_connect::ConfigError>(())
/// ```
pub fn app_only_token_request(app: &MsTeams, tenant: &Tenant) -> HttpRequest {
    HttpRequest::post_form(token_url(app, tenant))
        .field("client_id", app.client_id().as_str())
        .field("scope", &app.graph_default_scope())
        .secret_field("client_secret", app.client_secret())
        .field("grant_type", "client_credentials")
}

/// What an error answer of the token endpoint means, from its AADSTS code
/// first and its `error` second
/// (<https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes>).
fn microsoft_error(error: &str, description: Option<&str>, error_codes: &[u32]) -> ExchangeError {
    use ProviderErrorKind as K;
    let aadsts = error_codes
        .first()
        .copied()
        .or_else(|| description.and_then(aadsts_in));
    let kind = match aadsts {
        // Code expired; already redeemed.
        Some(70008 | 54005) => K::InvalidGrant,
        // App not in the tenant; consent not granted.
        Some(700016 | 65001) => K::NotConsented,
        // Redirect URI mismatch.
        Some(50011) => K::RedirectUriMismatch,
        // Invalid client secret.
        Some(7000215 | 7000222) => K::InvalidClient,
        _ => match error {
            "invalid_grant" => K::InvalidGrant,
            "invalid_client" => K::InvalidClient,
            "consent_required" | "unauthorized_client" => K::NotConsented,
            "temporarily_unavailable" => K::RateLimited,
            _ => K::Other,
        },
    };
    let mut e = ProviderError::new("Microsoft", Some(error), kind).with_description(description);
    if let Some(n) = aadsts {
        e = e.with_detail(&format!("AADSTS{n}"));
    }
    e.into()
}

/// The number after the first `AADSTS` in `text`.
fn aadsts_in(text: &str) -> Option<u32> {
    let start = text.find("AADSTS")? + "AADSTS".len();
    let digits: &str = text.get(start..)?;
    let end = digits
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    digits.get(..end).filter(|d| d.len() <= 9)?.parse().ok()
}

/// The checked claims of an `id_token` received in the token endpoint's
/// answer: `aud` is the client id, `iss` is `{authority}/{tid}/v2.0`, `exp`
/// is not past and `nbf` not in the future (each with
/// [`ID_TOKEN_LEEWAY_SECS`] of leeway), `oid` is present and `tid` is a
/// GUID, not the consumer tenant, and the tenant the request was sent to
/// when that is a GUID.
///
/// The signature is **not** checked, on purpose: OpenID Connect Core 1.0
/// §3.1.3.7 item 6 lets a client that receives the ID token directly from
/// the token endpoint over TLS use the TLS server validation instead of the
/// token signature. That is the only way this type is made: just the
/// parser of the token response ([`parse_delegated_response`]) can
/// construct it, so claims taken from anywhere else (a browser, a query
/// string) can never pose as these. This also keeps the library free of
/// key fetching (I/O).
///
/// ```
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::msteams::token;
/// use channel_connect::{ClientId, MsTeams, RedirectUri, Secret, Tenant};
/// use time::OffsetDateTime;
///
/// # let app = MsTeams::new(
/// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
/// #     Secret::new("teams-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// # use base64::Engine;
/// # use serde_json::json;
/// # fn b64(v: &serde_json::Value) -> String {
/// #     base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
/// # }
/// # // A token endpoint answer whose id_token has these claims over the defaults.
/// # fn answer(overrides: serde_json::Value) -> Vec<u8> {
/// #     let mut claims = json!({
/// #         "aud": "6731de76-14a6-49ae-97bc-6eba6914391e",
/// #         "iss": "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
/// #         "iat": 1_767_225_600, "nbf": 1_767_225_600, "exp": 1_767_229_200,
/// #         "name": "Megan Bowen", "preferred_username": "MeganB@contoso.onmicrosoft.com",
/// #         "oid": "00000000-0000-0000-66f3-3332eca7ea81",
/// #         "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47", "ver": "2.0"
/// #     });
/// #     for (k, v) in overrides.as_object().unwrap() {
/// #         claims[k] = v.clone();
/// #     }
/// #     let id_token = format!("{}.{}.c2lnbmF0dXJl", b64(&json!({"typ": "JWT", "alg": "RS256", "kid": "demo"})), b64(&claims));
/// #     json!({"token_type": "Bearer", "scope": "openid profile User.Read", "expires_in": 3599,
/// #            "access_token": "eyJ0eXAiOiJKV1QiLCJub25jZSI6.demo", "id_token": id_token}).to_string().into_bytes()
/// # }
/// let now = OffsetDateTime::from_unix_timestamp(1_767_225_610)?;
/// let body = answer(json!({}));
/// let sign_in = token::parse_delegated_response(&app, &HttpResponse::new(200, &body), &Tenant::organizations(), now)?;
/// let claims = &sign_in.claims;
/// // Identify the user by `oid` and `tid`, never by name or email.
/// assert_eq!(claims.object_id(), "00000000-0000-0000-66f3-3332eca7ea81");
/// assert_eq!(claims.tenant_id(), "72f988bf-86f1-41af-91ab-2d7cd011db47");
/// assert_eq!(claims.audience(), "6731de76-14a6-49ae-97bc-6eba6914391e");
/// assert_eq!(claims.preferred_username(), Some("MeganB@contoso.onmicrosoft.com"));
/// assert_eq!(claims.expires_at().unix_timestamp(), 1_767_229_200);
/// assert!(claims.directory_roles().is_empty()); // no `wids` in this token
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenEndpointClaims {
    oid: String,
    tid: String,
    aud: String,
    iss: String,
    exp: OffsetDateTime,
    nbf: Option<OffsetDateTime>,
    iat: Option<OffsetDateTime>,
    name: Option<String>,
    preferred_username: Option<String>,
    wids: Vec<String>,
}

impl TokenEndpointClaims {
    /// `wids`: the directory role template ids of the signer (sent only
    /// when the app registration asks for them).
    pub fn directory_roles(&self) -> &[String] {
        &self.wids
    }

    /// True when `wids` holds a role that can grant admin consent
    /// ([`ADMIN_ROLE_TEMPLATE_IDS`]).
    ///
    /// ```
    /// use channel_connect::http::HttpResponse;
    /// use channel_connect::provider::msteams::token;
    /// use channel_connect::{ClientId, MsTeams, RedirectUri, Secret, Tenant};
    /// use time::OffsetDateTime;
    ///
    /// # let app = MsTeams::new(
    /// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
    /// #     Secret::new("teams-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// # use base64::Engine;
    /// # use serde_json::json;
    /// # fn b64(v: &serde_json::Value) -> String {
    /// #     base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    /// # }
    /// # // A token endpoint answer whose id_token has these claims over the defaults.
    /// # fn answer(overrides: serde_json::Value) -> Vec<u8> {
    /// #     let mut claims = json!({
    /// #         "aud": "6731de76-14a6-49ae-97bc-6eba6914391e",
    /// #         "iss": "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
    /// #         "iat": 1_767_225_600, "nbf": 1_767_225_600, "exp": 1_767_229_200,
    /// #         "name": "Megan Bowen", "preferred_username": "MeganB@contoso.onmicrosoft.com",
    /// #         "oid": "00000000-0000-0000-66f3-3332eca7ea81",
    /// #         "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47", "ver": "2.0"
    /// #     });
    /// #     for (k, v) in overrides.as_object().unwrap() {
    /// #         claims[k] = v.clone();
    /// #     }
    /// #     let id_token = format!("{}.{}.c2lnbmF0dXJl", b64(&json!({"typ": "JWT", "alg": "RS256", "kid": "demo"})), b64(&claims));
    /// #     json!({"token_type": "Bearer", "scope": "openid profile User.Read", "expires_in": 3599,
    /// #            "access_token": "eyJ0eXAiOiJKV1QiLCJub25jZSI6.demo", "id_token": id_token}).to_string().into_bytes()
    /// # }
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_610)?;
    /// # let parse = |body: &[u8]| token::parse_delegated_response(&app, &HttpResponse::new(200, body), &Tenant::organizations(), now);
    /// // Global Administrator (62e90394-...) among the signer's roles.
    /// let admin = parse(&answer(json!({"wids": ["62e90394-69f5-4237-9190-012177145e10", "b79fbf4d-3ef9-4689-8143-76b194e85509"]})))?;
    /// assert!(admin.claims.holds_admin_role());
    /// // A member without an admin role.
    /// let member = parse(&answer(json!({"wids": ["b79fbf4d-3ef9-4689-8143-76b194e85509"]})))?;
    /// assert!(!member.claims.holds_admin_role());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn holds_admin_role(&self) -> bool {
        self.wids
            .iter()
            .any(|w| ADMIN_ROLE_TEMPLATE_IDS.iter().any(|a| a.eq_ignore_ascii_case(w)))
    }

    /// `oid`: the user's object id, stable across applications of the tenant.
    pub fn object_id(&self) -> &str {
        &self.oid
    }

    /// `tid`: the user's tenant (lowercase GUID as Microsoft writes it).
    pub fn tenant_id(&self) -> &str {
        &self.tid
    }

    /// `aud`: this application's client id.
    pub fn audience(&self) -> &str {
        &self.aud
    }

    /// `iss`.
    pub fn issuer(&self) -> &str {
        &self.iss
    }

    /// `exp`.
    pub fn expires_at(&self) -> OffsetDateTime {
        self.exp
    }

    /// `nbf`, when sent.
    pub fn not_before(&self) -> Option<OffsetDateTime> {
        self.nbf
    }

    /// `iat`, when sent.
    pub fn issued_at(&self) -> Option<OffsetDateTime> {
        self.iat
    }

    /// `name`, when sent (display name; not an identifier).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// `preferred_username`, when sent (mutable; not an identifier).
    pub fn preferred_username(&self) -> Option<&str> {
        self.preferred_username.as_deref()
    }
}

/// The answer to the delegated code exchange.
///
/// ```
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::msteams::token;
/// use channel_connect::{ClientId, MsTeams, RedirectUri, Secret, Tenant};
/// use time::OffsetDateTime;
///
/// # let app = MsTeams::new(
/// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
/// #     Secret::new("teams-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// # use base64::Engine;
/// # use serde_json::json;
/// # fn b64(v: &serde_json::Value) -> String {
/// #     base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
/// # }
/// # // A token endpoint answer whose id_token has these claims over the defaults.
/// # fn answer(overrides: serde_json::Value) -> Vec<u8> {
/// #     let mut claims = json!({
/// #         "aud": "6731de76-14a6-49ae-97bc-6eba6914391e",
/// #         "iss": "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
/// #         "iat": 1_767_225_600, "nbf": 1_767_225_600, "exp": 1_767_229_200,
/// #         "name": "Megan Bowen", "preferred_username": "MeganB@contoso.onmicrosoft.com",
/// #         "oid": "00000000-0000-0000-66f3-3332eca7ea81",
/// #         "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47", "ver": "2.0"
/// #     });
/// #     for (k, v) in overrides.as_object().unwrap() {
/// #         claims[k] = v.clone();
/// #     }
/// #     let id_token = format!("{}.{}.c2lnbmF0dXJl", b64(&json!({"typ": "JWT", "alg": "RS256", "kid": "demo"})), b64(&claims));
/// #     json!({"token_type": "Bearer", "scope": "openid profile User.Read", "expires_in": 3599,
/// #            "access_token": "eyJ0eXAiOiJKV1QiLCJub25jZSI6.demo", "id_token": id_token}).to_string().into_bytes()
/// # }
/// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_610)?;
/// let body = answer(json!({}));
/// let sign_in = token::parse_delegated_response(&app, &HttpResponse::new(200, &body), &Tenant::organizations(), now)?;
/// assert_eq!(sign_in.scopes, ["openid", "profile", "User.Read"]);
/// assert_eq!((sign_in.token_type.as_str(), sign_in.expires_in), ("Bearer", Some(3599)));
/// assert!(sign_in.refresh_token.is_none()); // no `offline_access` asked
/// assert!(!format!("{sign_in:?}").contains("eyJ0eXAiOiJKV1QiLCJub25jZSI6")); // tokens redacted
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DelegatedSignIn {
    /// The Graph access token (delegated, `User.Read`).
    pub access_token: AccessToken,
    /// `Bearer`.
    pub token_type: String,
    /// Granted scopes (`scope`, space-separated on the wire).
    pub scopes: Vec<String>,
    /// Seconds the access token lives.
    pub expires_in: Option<u64>,
    /// A refresh token, when `offline_access` was granted.
    pub refresh_token: Option<RefreshToken>,
    /// The raw `id_token`.
    pub id_token: Secret,
    /// Its checked claims.
    pub claims: TokenEndpointClaims,
}

/// An app-only Graph token for a tenant, the answer to
/// [`app_only_token_request`]. It shows that the tenant has consented to
/// this application; it says nothing about who sent a callback.
///
/// ```
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::msteams::token;
/// use time::{Duration, OffsetDateTime};
///
/// let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// let body = br#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0eXAiOiJKV1QiLCJub25jZSI6.app-only"}"#;
/// let token = token::parse_app_only_token(&HttpResponse::new(200, body), now)?;
/// assert_eq!(token.token_type(), "Bearer");
/// assert_eq!(token.access_token().expose(), "eyJ0eXAiOiJKV1QiLCJub25jZSI6.app-only");
/// // Cache it per tenant; ask again a few minutes before this.
/// assert_eq!(token.expires_at(), Some(now + Duration::seconds(3599)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppOnlyToken {
    access_token: AccessToken,
    token_type: String,
    expires_at: Option<OffsetDateTime>,
}

impl AppOnlyToken {
    /// The token (about an hour; renewed by asking again, there is no
    /// refresh token).
    pub fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    /// `Bearer`.
    pub fn token_type(&self) -> &str {
        &self.token_type
    }

    /// When it expires (`now + expires_in`), when Microsoft said.
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        self.expires_at
    }
}

#[derive(Deserialize)]
struct Raw {
    error: Option<String>,
    error_description: Option<String>,
    error_codes: Option<Vec<serde_json::Value>>,
    token_type: Option<String>,
    scope: Option<String>,
    #[serde(default, deserialize_with = "lenient_seconds")]
    expires_in: Option<u64>,
    access_token: Option<AccessToken>,
    refresh_token: Option<RefreshToken>,
    id_token: Option<Secret>,
}

/// Reads the body and turns `{error, ...}` into [`MicrosoftError`].
/// Microsoft answers errors with 400 or 401 and a JSON body; a success is a
/// 200. Another status without an `error` body is refused as it is.
fn parse_raw(response: &HttpResponse<'_>) -> Result<Raw, ExchangeError> {
    let raw: Raw = match parse_json(response) {
        Ok(raw) => raw,
        Err(_) if !response.is_success() => return Err(ExchangeError::HttpStatus(response.status)),
        Err(e) => return Err(e),
    };
    if let Some(error) = &raw.error {
        let codes: Vec<u32> = raw
            .error_codes
            .iter()
            .flatten()
            .filter_map(|c| c.as_u64().and_then(|n| u32::try_from(n).ok()))
            .collect();
        return Err(microsoft_error(error, raw.error_description.as_deref(), &codes));
    }
    if !response.is_success() {
        return Err(ExchangeError::HttpStatus(response.status));
    }
    Ok(raw)
}

/// Access token and `Bearer` token type, required in every success.
fn bearer(raw: &mut Raw) -> Result<(AccessToken, String), ExchangeError> {
    let access_token = crate::exchange::required_secret(raw.access_token.take(), "access_token")?;
    let token_type = crate::exchange::required(raw.token_type.take(), "token_type")?;
    if !token_type.eq_ignore_ascii_case("bearer") {
        return Err(ExchangeError::InvalidField("token_type"));
    }
    Ok((access_token, token_type))
}

/// Parses the answer to [`delegated_token_request`] and checks its
/// `id_token` at `now` (see [`TokenEndpointClaims`]) against `app`'s client
/// id and authority. `tenant` is the segment the request went to: a GUID
/// pins `tid` to it.
///
/// ```
/// use channel_connect::exchange::{ExchangeError, IdTokenError};
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::msteams::token;
/// use channel_connect::{ClientId, MsTeams, RedirectUri, Secret, Tenant};
/// use time::OffsetDateTime;
///
/// # let app = MsTeams::new(
/// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
/// #     Secret::new("teams-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// # use base64::Engine;
/// # use serde_json::json;
/// # fn b64(v: &serde_json::Value) -> String {
/// #     base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
/// # }
/// # // A token endpoint answer whose id_token has these claims over the defaults.
/// # fn answer(overrides: serde_json::Value) -> Vec<u8> {
/// #     let mut claims = json!({
/// #         "aud": "6731de76-14a6-49ae-97bc-6eba6914391e",
/// #         "iss": "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
/// #         "iat": 1_767_225_600, "nbf": 1_767_225_600, "exp": 1_767_229_200,
/// #         "name": "Megan Bowen", "preferred_username": "MeganB@contoso.onmicrosoft.com",
/// #         "oid": "00000000-0000-0000-66f3-3332eca7ea81",
/// #         "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47", "ver": "2.0"
/// #     });
/// #     for (k, v) in overrides.as_object().unwrap() {
/// #         claims[k] = v.clone();
/// #     }
/// #     let id_token = format!("{}.{}.c2lnbmF0dXJl", b64(&json!({"typ": "JWT", "alg": "RS256", "kid": "demo"})), b64(&claims));
/// #     json!({"token_type": "Bearer", "scope": "openid profile User.Read", "expires_in": 3599,
/// #            "access_token": "eyJ0eXAiOiJKV1QiLCJub25jZSI6.demo", "id_token": id_token}).to_string().into_bytes()
/// # }
/// let now = OffsetDateTime::from_unix_timestamp(1_767_225_610)?;
/// let contoso = Tenant::new("72f988bf-86f1-41af-91ab-2d7cd011db47")?;
/// let parse = |body: &[u8]| token::parse_delegated_response(&app, &HttpResponse::new(200, body), &contoso, now);
/// assert!(parse(&answer(json!({})))?.claims.tenant_id() == contoso.as_str());
///
/// // Signed in to another tenant than the one the request was sent to.
/// let other = answer(json!({
///     "tid": "f8cdef31-a31e-4b4a-93e4-5f571e91255a",
///     "iss": "https://login.microsoftonline.com/f8cdef31-a31e-4b4a-93e4-5f571e91255a/v2.0"
/// }));
/// assert_eq!(parse(&other).unwrap_err(), ExchangeError::IdToken(IdTokenError::WrongTenant));
/// // An id_token issued to another application.
/// let foreign = answer(json!({"aud": "00000003-0000-0000-c000-000000000000"}));
/// assert_eq!(parse(&foreign).unwrap_err(), ExchangeError::IdToken(IdTokenError::Audience));
/// // Expired more than 5 minutes ago.
/// let stale = answer(json!({"exp": 1_767_225_000}));
/// assert_eq!(parse(&stale).unwrap_err(), ExchangeError::IdToken(IdTokenError::Expired));
/// // Microsoft's error answer: a code already redeemed.
/// let used = br#"{"error":"invalid_grant","error_description":"AADSTS54005: OAuth2 Authorization code was already redeemed.","error_codes":[54005]}"#;
/// assert_eq!(token::parse_delegated_response(&app, &HttpResponse::new(400, used), &contoso, now).unwrap_err().status(), 400);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_delegated_response(
    app: &MsTeams,
    response: &HttpResponse<'_>,
    tenant: &Tenant,
    now: OffsetDateTime,
) -> Result<DelegatedSignIn, ExchangeError> {
    let mut raw = parse_raw(response)?;
    let (access_token, token_type) = bearer(&mut raw)?;
    let id_token = crate::exchange::required_secret(raw.id_token, "id_token")?;
    let claims = check_id_token(id_token.expose(), app, tenant, now)?;
    Ok(DelegatedSignIn {
        access_token,
        token_type,
        scopes: raw
            .scope
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        expires_in: raw.expires_in,
        refresh_token: raw.refresh_token.filter(|t| !t.expose().is_empty()),
        id_token,
        claims,
    })
}

/// Parses the answer to [`app_only_token_request`] received at `now`. An
/// error answer is [`ExchangeError::Provider`] (kind
/// [`ProviderErrorKind::NotConsented`] with detail `AADSTS700016`: never
/// consented there; [`ProviderErrorKind::InvalidClient`]: a wrong secret).
///
/// ```
/// use channel_connect::exchange::{ExchangeError, ProviderErrorKind};
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::msteams::token;
/// use time::OffsetDateTime;
///
/// let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// let ok = br#"{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ0eXAi.app-only"}"#;
/// assert!(token::parse_app_only_token(&HttpResponse::new(200, ok), now).is_ok());
///
/// // The client secret expired (Microsoft caps their lifetime).
/// let expired_secret = br#"{"error":"invalid_client","error_description":"AADSTS7000222: The provided client secret keys for app '6731de76-14a6-49ae-97bc-6eba6914391e' are expired.","error_codes":[7000222]}"#;
/// match token::parse_app_only_token(&HttpResponse::new(401, expired_secret), now) {
///     Err(ExchangeError::Provider(e)) => {
///         assert_eq!((e.kind(), e.detail()), (ProviderErrorKind::InvalidClient, Some("AADSTS7000222")));
///     }
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_app_only_token(
    response: &HttpResponse<'_>,
    now: OffsetDateTime,
) -> Result<AppOnlyToken, ExchangeError> {
    let mut raw = parse_raw(response)?;
    let (access_token, token_type) = bearer(&mut raw)?;
    let expires_at = expires_at(now, raw.expires_in, "expires_in")?;
    Ok(AppOnlyToken {
        access_token,
        token_type,
        expires_at,
    })
}

/// Refuses claims whose signer holds no role that can grant admin consent
/// (see [`crate::MsTeams::require_admin_role`]).
///
/// ```
/// use channel_connect::exchange::IdTokenError;
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::msteams::token;
/// use channel_connect::{ClientId, MsTeams, RedirectUri, Secret, Tenant};
/// use time::OffsetDateTime;
///
/// # let app = MsTeams::new(
/// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
/// #     Secret::new("teams-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// # use base64::Engine;
/// # use serde_json::json;
/// # fn b64(v: &serde_json::Value) -> String {
/// #     base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
/// # }
/// # // A token endpoint answer whose id_token has these claims over the defaults.
/// # fn answer(overrides: serde_json::Value) -> Vec<u8> {
/// #     let mut claims = json!({
/// #         "aud": "6731de76-14a6-49ae-97bc-6eba6914391e",
/// #         "iss": "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
/// #         "iat": 1_767_225_600, "nbf": 1_767_225_600, "exp": 1_767_229_200,
/// #         "name": "Megan Bowen", "preferred_username": "MeganB@contoso.onmicrosoft.com",
/// #         "oid": "00000000-0000-0000-66f3-3332eca7ea81",
/// #         "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47", "ver": "2.0"
/// #     });
/// #     for (k, v) in overrides.as_object().unwrap() {
/// #         claims[k] = v.clone();
/// #     }
/// #     let id_token = format!("{}.{}.c2lnbmF0dXJl", b64(&json!({"typ": "JWT", "alg": "RS256", "kid": "demo"})), b64(&claims));
/// #     json!({"token_type": "Bearer", "scope": "openid profile User.Read", "expires_in": 3599,
/// #            "access_token": "eyJ0eXAiOiJKV1QiLCJub25jZSI6.demo", "id_token": id_token}).to_string().into_bytes()
/// # }
/// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_610)?;
/// # let parse = |body: &[u8]| token::parse_delegated_response(&app, &HttpResponse::new(200, body), &Tenant::organizations(), now);
/// // Application Administrator.
/// let admin = parse(&answer(json!({"wids": ["9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"]})))?;
/// assert_eq!(token::check_admin_role(&admin.claims), Ok(()));
/// // No `wids` at all: the app registration does not ask for them, or no role.
/// let member = parse(&answer(json!({})))?;
/// assert_eq!(token::check_admin_role(&member.claims), Err(IdTokenError::NotAdmin));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_admin_role(claims: &TokenEndpointClaims) -> Result<(), IdTokenError> {
    if claims.holds_admin_role() {
        Ok(())
    } else {
        Err(IdTokenError::NotAdmin)
    }
}

#[derive(Deserialize)]
struct RawClaims {
    aud: Option<Audience>,
    azp: Option<String>,
    iss: Option<String>,
    exp: Option<serde_json::Number>,
    nbf: Option<serde_json::Number>,
    iat: Option<serde_json::Number>,
    oid: Option<String>,
    tid: Option<String>,
    name: Option<String>,
    preferred_username: Option<String>,
    wids: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// The JWT's payload, decoded (header checked to be a JSON object).
fn decode_payload(jwt: &str) -> Result<RawClaims, IdTokenError> {
    if jwt.len() > MAX_ID_TOKEN_CHARS {
        return Err(IdTokenError::Malformed);
    }
    let mut parts = jwt.split('.');
    let (Some(header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(IdTokenError::Malformed);
    };
    let json = |segment: &str| {
        URL_SAFE_NO_PAD_INDIFFERENT
            .decode(segment)
            .map_err(|_| IdTokenError::Malformed)
    };
    serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&json(header)?)
        .map_err(|_| IdTokenError::Malformed)?;
    serde_json::from_slice(&json(payload)?).map_err(|_| IdTokenError::Malformed)
}

/// A JWT NumericDate (seconds, possibly fractional) as a time.
fn numeric_date(n: Option<serde_json::Number>, name: &'static str) -> Result<Option<i64>, IdTokenError> {
    let Some(n) = n else { return Ok(None) };
    let secs = match (n.as_i64(), n.as_f64()) {
        (Some(i), _) => i,
        (None, Some(f)) if f.is_finite() && f.abs() < 1e15 => f.floor() as i64,
        _ => return Err(IdTokenError::InvalidClaim(name)),
    };
    OffsetDateTime::from_unix_timestamp(secs).map_err(|_| IdTokenError::InvalidClaim(name))?;
    Ok(Some(secs))
}

fn to_time(secs: i64) -> OffsetDateTime {
    // Range checked by `numeric_date`.
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn check_id_token(
    jwt: &str,
    app: &MsTeams,
    tenant: &Tenant,
    now: OffsetDateTime,
) -> Result<TokenEndpointClaims, IdTokenError> {
    let client_id = app.client_id().as_str();
    let c = decode_payload(jwt)?;
    let present = |v: Option<String>, name| {
        v.filter(|s| !s.is_empty())
            .ok_or(IdTokenError::MissingClaim(name))
    };
    // Microsoft writes tenant ids in lower case; keep one form everywhere.
    let tid = present(c.tid, "tid")?.to_ascii_lowercase();
    let oid = present(c.oid, "oid")?;
    let iss = present(c.iss, "iss")?;
    if !is_guid(&tid) {
        return Err(IdTokenError::TenantId);
    }
    if is_consumer_tenant(&tid) {
        return Err(IdTokenError::ConsumerTenant);
    }
    // The issuer follows the configured authority (national clouds, stand-ins).
    if iss != format!("{}/{tid}/v2.0", app.authority()) {
        return Err(IdTokenError::Issuer);
    }
    let aud_ok = match &c.aud {
        None => return Err(IdTokenError::MissingClaim("aud")),
        Some(Audience::One(a)) => a == client_id,
        // OIDC Core §3.1.3.7 items 3-5: several audiences need azp = client id.
        Some(Audience::Many(all)) => {
            all.iter().any(|a| a == client_id) && (all.len() == 1 || c.azp.as_deref() == Some(client_id))
        }
    };
    if !aud_ok {
        return Err(IdTokenError::Audience);
    }
    let exp = numeric_date(c.exp, "exp")?.ok_or(IdTokenError::MissingClaim("exp"))?;
    let nbf = numeric_date(c.nbf, "nbf")?;
    let iat = numeric_date(c.iat, "iat")?;
    let now = now.unix_timestamp();
    if exp.saturating_add(ID_TOKEN_LEEWAY_SECS) <= now {
        return Err(IdTokenError::Expired);
    }
    if nbf.is_some_and(|nbf| nbf > now.saturating_add(ID_TOKEN_LEEWAY_SECS)) {
        return Err(IdTokenError::NotYetValid);
    }
    // A GUID tenant segment names the one tenant allowed to sign in: the
    // tenant a connect claimed, the linked connection's, or a configured one.
    if is_guid(tenant.as_str()) && !tenant.as_str().eq_ignore_ascii_case(&tid) {
        return Err(IdTokenError::WrongTenant);
    }
    Ok(TokenEndpointClaims {
        oid,
        tid,
        aud: client_id.to_owned(),
        iss,
        exp: to_time(exp),
        nbf: nbf.map(to_time),
        iat: iat.map(to_time),
        name: c.name,
        preferred_username: c.preferred_username,
        wids: c.wids.unwrap_or_default(),
    })
}

/// The Teams connection a connect-proof sign-in proves: the `id_token`'s
/// `tid` (checked by [`parse_delegated_response`] against the tenant the
/// sign-in ran in) must be the tenant the state sealed. No token: the
/// connection's app-only tokens are taken on demand
/// ([`app_only_token_request`]).
///
/// ```
/// use channel_connect::exchange::ExchangeError;
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::msteams::token;
/// use channel_connect::*;
/// use time::{Duration, OffsetDateTime};
///
/// # let app = MsTeams::new(
/// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
/// #     Secret::new("teams-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// # use base64::Engine;
/// # use serde_json::json;
/// # fn b64(v: &serde_json::Value) -> String {
/// #     base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
/// # }
/// # // A token endpoint answer whose id_token has these claims over the defaults.
/// # fn answer(overrides: serde_json::Value) -> Vec<u8> {
/// #     let mut claims = json!({
/// #         "aud": "6731de76-14a6-49ae-97bc-6eba6914391e",
/// #         "iss": "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
/// #         "iat": 1_767_225_600, "nbf": 1_767_225_600, "exp": 1_767_229_200,
/// #         "name": "Megan Bowen", "preferred_username": "MeganB@contoso.onmicrosoft.com",
/// #         "oid": "00000000-0000-0000-66f3-3332eca7ea81",
/// #         "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47", "ver": "2.0"
/// #     });
/// #     for (k, v) in overrides.as_object().unwrap() {
/// #         claims[k] = v.clone();
/// #     }
/// #     let id_token = format!("{}.{}.c2lnbmF0dXJl", b64(&json!({"typ": "JWT", "alg": "RS256", "kid": "demo"})), b64(&claims));
/// #     json!({"token_type": "Bearer", "scope": "openid profile User.Read", "expires_in": 3599,
/// #            "access_token": "eyJ0eXAiOiJKV1QiLCJub25jZSI6.demo", "id_token": id_token}).to_string().into_bytes()
/// # }
/// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
/// #     .integration(Integration::new("msteams", app.clone()))
/// #     .build()?;
/// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"msteams","context":{"tenant":"org-acme"}}"#)?;
/// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
/// # let query = format!("admin_consent=True&tenant=72f988bf-86f1-41af-91ab-2d7cd011db47&state={}", issued.state().unwrap());
/// # let consent = core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now + Duration::seconds(30)))?;
/// # let next = consent.next.unwrap();
/// # let query = format!("code=0.AXoA-demo&state={}", next.state().unwrap());
/// // The proof sign-in's callback, after an admin consent that claimed Contoso's tenant.
/// let proof = core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now + Duration::seconds(60)))?;
/// assert_eq!(proof.state.workspace(), Some("72f988bf-86f1-41af-91ab-2d7cd011db47"));
/// let contoso = Tenant::new(proof.state.workspace().unwrap())?;
/// let sign_in = token::parse_delegated_response(&app, &HttpResponse::new(200, &answer(json!({}))), &contoso, now)?;
/// let connection = token::connection_record(&proof.state, &sign_in)?;
/// assert_eq!(connection.workspace.id, "72f988bf-86f1-41af-91ab-2d7cd011db47");
/// assert!(connection.auth.is_none());
///
/// // A sign-in in another tenant (parsed without the pin) proves nothing for this one.
/// let other = answer(json!({
///     "tid": "f8cdef31-a31e-4b4a-93e4-5f571e91255a",
///     "iss": "https://login.microsoftonline.com/f8cdef31-a31e-4b4a-93e4-5f571e91255a/v2.0"
/// }));
/// let sign_in = token::parse_delegated_response(&app, &HttpResponse::new(200, &other), &Tenant::organizations(), now)?;
/// assert_eq!(token::connection_record(&proof.state, &sign_in).unwrap_err(), ExchangeError::WrongWorkspace);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn connection_record(
    state: &VerifiedState,
    sign_in: &DelegatedSignIn,
) -> Result<ChannelConnectionRecord, ExchangeError> {
    if state.purpose() != Purpose::ConnectProof {
        return Err(ExchangeError::WrongFlow(FlowMismatch::NeedsProofState));
    }
    let tenant = sign_in.claims.tenant_id().to_ascii_lowercase();
    if state.workspace() != Some(tenant.as_str()) {
        return Err(ExchangeError::WrongWorkspace);
    }
    let workspace = WorkspaceRecord {
        id: tenant,
        name: None,
        details: Map::new(),
    };
    records::connection(state, workspace, None)
}

/// The `ms_teams_user` endpoint `{userId: oid, tenantId: tid}` of a sign-in
/// that links the user (a link-user state, or a connect-proof with
/// autoLinkUser and a subscriber). When the state is restricted to a
/// tenant, `tid` must equal it.
///
/// ```
/// use channel_connect::exchange::ExchangeError;
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::msteams::token;
/// use channel_connect::*;
/// use time::OffsetDateTime;
///
/// # let app = MsTeams::new(
/// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
/// #     Secret::new("teams-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// # use base64::Engine;
/// # use serde_json::json;
/// # fn b64(v: &serde_json::Value) -> String {
/// #     base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
/// # }
/// # // A token endpoint answer whose id_token has these claims over the defaults.
/// # fn answer(overrides: serde_json::Value) -> Vec<u8> {
/// #     let mut claims = json!({
/// #         "aud": "6731de76-14a6-49ae-97bc-6eba6914391e",
/// #         "iss": "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
/// #         "iat": 1_767_225_600, "nbf": 1_767_225_600, "exp": 1_767_229_200,
/// #         "name": "Megan Bowen", "preferred_username": "MeganB@contoso.onmicrosoft.com",
/// #         "oid": "00000000-0000-0000-66f3-3332eca7ea81",
/// #         "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47", "ver": "2.0"
/// #     });
/// #     for (k, v) in overrides.as_object().unwrap() {
/// #         claims[k] = v.clone();
/// #     }
/// #     let id_token = format!("{}.{}.c2lnbmF0dXJl", b64(&json!({"typ": "JWT", "alg": "RS256", "kid": "demo"})), b64(&claims));
/// #     json!({"token_type": "Bearer", "scope": "openid profile User.Read", "expires_in": 3599,
/// #            "access_token": "eyJ0eXAiOiJKV1QiLCJub25jZSI6.demo", "id_token": id_token}).to_string().into_bytes()
/// # }
/// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
/// #     .integration(Integration::new("msteams", app.clone()))
/// #     .build()?;
/// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// // Link subscriber-123's Teams user to a connection of Contoso's tenant.
/// let body = LinkUserRequestBody::from_json(
///     br#"{"integrationIdentifier":"msteams","subscriberId":"subscriber-123","connectionIdentifier":"chconn_nEEH0l4zqBD2"}"#,
/// )?;
/// let issue = IssueParams::new(now, &Entropy([7; 32])).with_workspace("72f988bf-86f1-41af-91ab-2d7cd011db47");
/// let issued = core.link_user_url(&body, &issue)?;
/// let state = core.platform().open_state(issued.state().unwrap(), &VerifyParams::at(now))?;
///
/// let sign_in = token::parse_delegated_response(&app, &HttpResponse::new(200, &answer(json!({}))), &Tenant::organizations(), now)?;
/// let endpoint = token::user_record(&state, &sign_in)?;
/// assert_eq!(endpoint.endpoint.kind(), "ms_teams_user");
/// assert_eq!(endpoint.endpoint.get("userId"), Some("00000000-0000-0000-66f3-3332eca7ea81"));
/// assert_eq!(endpoint.connection_identifier.as_deref(), Some("chconn_nEEH0l4zqBD2"));
///
/// // The same person's account in another tenant cannot be linked to Contoso's connection.
/// let guest = answer(json!({
///     "tid": "f8cdef31-a31e-4b4a-93e4-5f571e91255a",
///     "iss": "https://login.microsoftonline.com/f8cdef31-a31e-4b4a-93e4-5f571e91255a/v2.0"
/// }));
/// let sign_in = token::parse_delegated_response(&app, &HttpResponse::new(200, &guest), &Tenant::organizations(), now)?;
/// assert_eq!(token::user_record(&state, &sign_in).unwrap_err(), ExchangeError::WrongWorkspace);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn user_record(
    state: &VerifiedState,
    sign_in: &DelegatedSignIn,
) -> Result<ChannelEndpointRecord, ExchangeError> {
    if !state.links_user() || state.purpose() == Purpose::Connect {
        return Err(ExchangeError::WrongFlow(FlowMismatch::NeedsLinkUserState));
    }
    let tenant = sign_in.claims.tenant_id();
    if state.workspace().is_some_and(|w| !w.eq_ignore_ascii_case(tenant)) {
        return Err(ExchangeError::WrongWorkspace);
    }
    records::endpoint(state, ms_teams_user_endpoint(sign_in.claims.object_id(), tenant))
}

/// `{"type": "ms_teams_user", "endpoint": {"userId": oid, "tenantId": tid}}`.
///
/// ```
/// use channel_connect::provider::msteams::token::ms_teams_user_endpoint;
///
/// let endpoint = ms_teams_user_endpoint("00000000-0000-0000-66f3-3332eca7ea81", "72f988bf-86f1-41af-91ab-2d7cd011db47");
/// assert_eq!(
///     serde_json::to_value(&endpoint)?,
///     serde_json::json!({"type": "ms_teams_user", "endpoint": {
///         "userId": "00000000-0000-0000-66f3-3332eca7ea81",
///         "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47"
///     }})
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn ms_teams_user_endpoint(user_id: &str, tenant_id: &str) -> Endpoint {
    let mut m = Map::new();
    m.insert("userId".into(), Value::String(user_id.to_owned()));
    m.insert("tenantId".into(), Value::String(tenant_id.to_owned()));
    Endpoint::new("ms_teams_user", m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aadsts_from_text() {
        assert_eq!(
            aadsts_in("AADSTS70008: The provided authorization code expired."),
            Some(70008)
        );
        assert_eq!(aadsts_in("x AADSTS700016: app"), Some(700016));
        assert_eq!(aadsts_in("AADSTS"), None);
        assert_eq!(aadsts_in("AADSTS99999999999"), None);
        assert_eq!(aadsts_in("no code"), None);
    }

    #[test]
    fn error_codes_win_over_the_description() {
        let ExchangeError::Provider(e) = microsoft_error("invalid_grant", Some("AADSTS1: x"), &[70008])
        else {
            panic!("a provider error")
        };
        assert_eq!(e.detail(), Some("AADSTS70008"));
        assert_eq!(e.kind(), ProviderErrorKind::InvalidGrant);
        assert_eq!(
            e.to_string(),
            "Microsoft refused the request: invalid_grant (AADSTS70008)"
        );
    }

    #[test]
    fn not_a_jwt() {
        for bad in ["", "a.b", "a.b.c.d", "!!.e30.x", "e30.!!.x", "W10.e30.x"] {
            assert!(decode_payload(bad).is_err(), "{bad}");
        }
        assert!(decode_payload("e30.e30.").is_ok());
    }
}
