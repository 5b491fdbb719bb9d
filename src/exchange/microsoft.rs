//! The Microsoft identity platform v2.0 token endpoint: the delegated code
//! exchange of the Teams sign-ins (with PKCE), whose `id_token` proves the
//! tenant and identifies the user; the client-credentials request for an
//! app-only token; and parsers of both answers.
//!
//! What proves what:
//! * the admin-consent callback's `tenant`: nothing (anyone can write it);
//! * an app-only token ([`app_only_token_request`]): that the tenant has
//!   consented to this application at some time, so the app can act there;
//!   not who is in this flow;
//! * the delegated sign-in's `id_token` from the token endpoint over TLS
//!   ([`TokenEndpointClaims`]): that the person who signed in belongs to
//!   `tid` (and, with `wids`, holds an admin role there).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD_INDIFFERENT;
use serde::Deserialize;
use time::OffsetDateTime;

use crate::callback::{is_consumer_tenant, is_guid};
use crate::config::ClientId;
use crate::exchange::{AppCredentials, ExchangeError, HttpRequest, lenient_seconds, parse_json};
use crate::pkce::PkceVerifier;
use crate::provider::Tenant;
use crate::provider::msteams::{ADMIN_ROLE_TEMPLATE_IDS, GRAPH_DEFAULT_SCOPE, MICROSOFT_LOGIN};
use crate::secret::Secret;
use crate::text::{description as safe_description, error_code};

/// Clock skew allowed on the `id_token`'s `exp` and `nbf`: 300 seconds, the
/// default of Microsoft's own token validation libraries.
pub const ID_TOKEN_LEEWAY_SECS: i64 = 300;

/// Longest `id_token` read; Microsoft's are 1 to 3 KiB.
const MAX_ID_TOKEN_CHARS: usize = 16 * 1024;

fn token_url(tenant: &str) -> String {
    format!("{MICROSOFT_LOGIN}/{tenant}/oauth2/v2.0/token")
}

/// The delegated code exchange of a Teams sign-in:
/// `POST https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token` with
/// `client_id, scope, code, redirect_uri, grant_type=authorization_code,
/// client_secret, code_verifier`. `tenant` and `scope` are those of the
/// authorize URL (for a connect-proof, the claimed tenant's GUID);
/// `verifier` comes from [`crate::ChannelConnect::pkce_verifier`].
pub fn delegated_token_request(
    app: &AppCredentials<'_>,
    tenant: &Tenant,
    scope: &str,
    code: &Secret,
    verifier: &PkceVerifier,
) -> HttpRequest {
    HttpRequest::form_post(token_url(tenant.as_str()))
        .with_field("client_id", app.client_id.as_str())
        .with_field("scope", scope)
        .with_field("code", code.expose())
        .with_field("redirect_uri", app.redirect_uri.as_str())
        .with_field("grant_type", "authorization_code")
        .with_field("client_secret", app.client_secret.expose())
        .with_field("code_verifier", verifier.expose())
}

/// An app-only Graph token for a tenant: a client-credentials request,
/// `POST https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token` with
/// `client_id, scope=https://graph.microsoft.com/.default, client_secret,
/// grant_type=client_credentials`.
///
/// Its success proves only that the tenant has consented to this
/// application (the app can act there), not who sent any callback: never
/// use it to decide which tenant a connection belongs to. The proof of that
/// is the connect-proof sign-in's `id_token`.
pub fn app_only_token_request(app: &AppCredentials<'_>, tenant: &Tenant) -> HttpRequest {
    HttpRequest::form_post(token_url(tenant.as_str()))
        .with_field("client_id", app.client_id.as_str())
        .with_field("scope", GRAPH_DEFAULT_SCOPE)
        .with_field("client_secret", app.client_secret.expose())
        .with_field("grant_type", "client_credentials")
}

/// What an error answer of the token endpoint means, from its AADSTS code
/// first and its `error` second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MicrosoftErrorKind {
    /// AADSTS70008: the code expired (they live about 10 minutes).
    CodeExpired,
    /// AADSTS54005: the code was already redeemed.
    CodeAlreadyRedeemed,
    /// Any other `invalid_grant` (wrong PKCE verifier, redirect URI mismatch, ...).
    InvalidGrant,
    /// AADSTS700016: the application is not in the tenant (never consented there).
    AppNotFoundInTenant,
    /// AADSTS65001 or `consent_required`: consent was not granted.
    ConsentNotGranted,
    /// `invalid_client`: wrong or expired client secret.
    InvalidClient,
    /// `unauthorized_client`, without a more precise AADSTS code.
    UnauthorizedClient,
    /// Anything else.
    Other,
}

/// An error answer of the Microsoft token endpoint
/// (`{error, error_description, error_codes}`).
///
/// `Display` shows only the `error` code and the AADSTS number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct MicrosoftError {
    error: String,
    kind: MicrosoftErrorKind,
    aadsts: Option<u32>,
    error_codes: Vec<u32>,
    description: Option<String>,
}

impl MicrosoftError {
    fn new(error: &str, description: Option<String>, error_codes: Vec<u32>) -> Self {
        let aadsts = error_codes
            .first()
            .copied()
            .or_else(|| description.as_deref().and_then(aadsts_in));
        let description = description.as_deref().and_then(safe_description);
        let error = error_code(Some(error));
        let kind = match aadsts {
            Some(70008) => MicrosoftErrorKind::CodeExpired,
            Some(54005) => MicrosoftErrorKind::CodeAlreadyRedeemed,
            Some(700016) => MicrosoftErrorKind::AppNotFoundInTenant,
            Some(65001) => MicrosoftErrorKind::ConsentNotGranted,
            _ => match error.as_str() {
                "invalid_grant" => MicrosoftErrorKind::InvalidGrant,
                "invalid_client" => MicrosoftErrorKind::InvalidClient,
                "consent_required" => MicrosoftErrorKind::ConsentNotGranted,
                "unauthorized_client" => MicrosoftErrorKind::UnauthorizedClient,
                _ => MicrosoftErrorKind::Other,
            },
        };
        MicrosoftError {
            error,
            kind,
            aadsts,
            error_codes,
            description,
        }
    }

    /// The OAuth `error` (`invalid_grant`, ...), or `unrecognized`.
    pub fn error(&self) -> &str {
        &self.error
    }

    /// What it means.
    pub fn kind(&self) -> MicrosoftErrorKind {
        self.kind
    }

    /// The AADSTS number (`70008` for AADSTS70008): the first of
    /// `error_codes`, else the one the description starts with.
    pub fn aadsts(&self) -> Option<u32> {
        self.aadsts
    }

    /// `error_codes` as sent.
    pub fn error_codes(&self) -> &[u32] {
        &self.error_codes
    }

    /// `error_description` as plain text (Microsoft's text with trace ids;
    /// markup and control characters removed, at most 256 bytes): for logs,
    /// never for end users.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
}

impl fmt::Display for MicrosoftError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Microsoft refused the token request: {}", self.error)?;
        if let Some(n) = self.aadsts {
            write!(f, " (AADSTS{n})")?;
        }
        Ok(())
    }
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

/// Why the `id_token` was refused. No variant carries a claim value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenError {
    /// Not three base64url segments with a JSON header and payload.
    #[error("the id_token is not a JWT")]
    Malformed,
    /// A required claim is absent or empty.
    #[error("the id_token has no `{0}` claim")]
    MissingClaim(&'static str),
    /// A claim has a value of the wrong shape (a time out of range).
    #[error("the id_token claim `{0}` is unusable")]
    InvalidClaim(&'static str),
    /// `tid` is not a GUID.
    #[error("the id_token tenant id is not a GUID")]
    TenantId,
    /// `aud` is not this application's client id.
    #[error("the id_token was issued for another application")]
    Audience,
    /// `iss` is not `https://login.microsoftonline.com/{tid}/v2.0`.
    #[error("the id_token issuer does not match its tenant")]
    Issuer,
    /// `tid` is the consumer tenant (a personal Microsoft account), which
    /// has no Teams organization.
    #[error("the id_token belongs to a personal Microsoft account")]
    ConsumerTenant,
    /// An admin role was required and `wids` names none.
    #[error("the signer holds no role that can grant admin consent")]
    NotAdmin,
    /// `exp` is past (beyond the leeway).
    #[error("the id_token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("the id_token is not valid yet")]
    NotYetValid,
    /// The sign-in was restricted to a tenant (the tenant a connect claimed,
    /// the tenant of the connection a user is linked to, or a configured
    /// tenant GUID) and `tid` is another.
    #[error("the id_token belongs to another tenant than the expected one")]
    WrongTenant,
}

/// The claims of an `id_token` received in the token endpoint's answer,
/// checked: `aud` is the client id, `iss` is
/// `https://login.microsoftonline.com/{tid}/v2.0`, `exp` is not past and
/// `nbf` not in the future (each with [`ID_TOKEN_LEEWAY_SECS`] of leeway),
/// `oid` is present and `tid` is a GUID, not the consumer tenant, and the
/// tenant the request was sent to when that is a GUID.
///
/// The signature is **not** checked, on purpose: OpenID Connect Core 1.0
/// §3.1.3.7 item 6 lets a client that receives the ID token directly from
/// the token endpoint over TLS use the TLS server validation instead of the
/// token signature. That is the only way this type is made: just the
/// parser of the token response ([`parse_delegated_response`]) can
/// construct it, so claims taken from anywhere else (a browser, a query
/// string) can never pose as these. This also keeps the library free of
/// key fetching (I/O).
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
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DelegatedSignIn {
    /// The Graph access token (delegated, `User.Read`).
    pub access_token: Secret,
    /// `Bearer`.
    pub token_type: String,
    /// Granted scopes (`scope`, space-separated on the wire).
    pub scopes: Vec<String>,
    /// Seconds the access token lives.
    pub expires_in: Option<u64>,
    /// A refresh token, when `offline_access` was granted.
    pub refresh_token: Option<Secret>,
    /// The raw `id_token`.
    pub id_token: Secret,
    /// Its checked claims.
    pub claims: TokenEndpointClaims,
}

/// An app-only Graph token for a tenant, the answer to
/// [`app_only_token_request`]. It shows that the tenant has consented to
/// this application; it says nothing about who sent a callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppOnlyToken {
    access_token: Secret,
    token_type: String,
    expires_at: Option<OffsetDateTime>,
}

impl AppOnlyToken {
    /// The token (about an hour; renewed by asking again, there is no
    /// refresh token).
    pub fn access_token(&self) -> &Secret {
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
    access_token: Option<Secret>,
    refresh_token: Option<Secret>,
    id_token: Option<Secret>,
}

/// Reads the body and turns `{error, ...}` into [`MicrosoftError`].
fn parse_raw(body: &[u8]) -> Result<Raw, ExchangeError> {
    let raw: Raw = parse_json(body)?;
    if let Some(error) = &raw.error {
        let codes = raw
            .error_codes
            .iter()
            .flatten()
            .filter_map(|c| c.as_u64().and_then(|n| u32::try_from(n).ok()))
            .collect();
        return Err(MicrosoftError::new(error, raw.error_description.clone(), codes).into());
    }
    Ok(raw)
}

/// Access token and `Bearer` token type, required in every success.
fn bearer(raw: &mut Raw) -> Result<(Secret, String), ExchangeError> {
    let access_token = super::required_secret(raw.access_token.take(), "access_token")?;
    let token_type = super::required(raw.token_type.take(), "token_type")?;
    if !token_type.eq_ignore_ascii_case("bearer") {
        return Err(ExchangeError::InvalidField("token_type"));
    }
    Ok((access_token, token_type))
}

/// Parses the answer to [`delegated_token_request`] and checks its
/// `id_token` at `now` (see [`TokenEndpointClaims`]). `client_id` and
/// `tenant` are those of the request.
pub fn parse_delegated_response(
    body: &[u8],
    client_id: &ClientId,
    tenant: &Tenant,
    now: OffsetDateTime,
) -> Result<DelegatedSignIn, ExchangeError> {
    let mut raw = parse_raw(body)?;
    let (access_token, token_type) = bearer(&mut raw)?;
    let id_token = super::required_secret(raw.id_token, "id_token")?;
    let claims = check_id_token(id_token.expose(), client_id.as_str(), tenant, now)?;
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
/// error answer is [`ExchangeError::Microsoft`] (see
/// [`MicrosoftErrorKind::AppNotFoundInTenant`]: never consented there;
/// [`MicrosoftErrorKind::InvalidClient`]; [`MicrosoftErrorKind::ConsentNotGranted`]).
pub fn parse_app_only_token(body: &[u8], now: OffsetDateTime) -> Result<AppOnlyToken, ExchangeError> {
    let mut raw = parse_raw(body)?;
    let (access_token, token_type) = bearer(&mut raw)?;
    let expires_at = raw
        .expires_in
        .map(|secs| {
            i64::try_from(secs)
                .ok()
                .and_then(|s| now.unix_timestamp().checked_add(s))
                .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
                .ok_or(ExchangeError::InvalidField("expires_in"))
        })
        .transpose()?;
    Ok(AppOnlyToken {
        access_token,
        token_type,
        expires_at,
    })
}

/// Refuses claims whose signer holds no role that can grant admin consent
/// (see [`crate::MsTeams::require_admin_role`]).
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
    client_id: &str,
    tenant: &Tenant,
    now: OffsetDateTime,
) -> Result<TokenEndpointClaims, IdTokenError> {
    let c = decode_payload(jwt)?;
    let present = |v: Option<String>, name| {
        v.filter(|s| !s.is_empty())
            .ok_or(IdTokenError::MissingClaim(name))
    };
    let tid = present(c.tid, "tid")?;
    let oid = present(c.oid, "oid")?;
    let iss = present(c.iss, "iss")?;
    if !is_guid(&tid) {
        return Err(IdTokenError::TenantId);
    }
    if is_consumer_tenant(&tid) {
        return Err(IdTokenError::ConsumerTenant);
    }
    if iss != format!("{MICROSOFT_LOGIN}/{tid}/v2.0") {
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
        let e = MicrosoftError::new("invalid_grant", Some("AADSTS1: x".into()), vec![70008]);
        assert_eq!(e.aadsts(), Some(70008));
        assert_eq!(e.kind(), MicrosoftErrorKind::CodeExpired);
        assert_eq!(
            e.to_string(),
            "Microsoft refused the token request: invalid_grant (AADSTS70008)"
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
