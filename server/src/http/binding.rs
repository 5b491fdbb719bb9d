//! Browser binding: the first-party start URL that sets the cookie, the
//! cookie's attributes, and the binding value a callback presents.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use sha2::{Digest, Sha256};

use crate::http::error::ApiError;
use crate::http::page::{Page, finish};
use crate::state::AppState;
use crate::store::StartLink;

/// The first-party start URL's path (browser binding).
pub const START_PATH: &str = "/v1/integrations/chat/oauth/start";
/// The binding cookie's name.
pub const BINDING_COOKIE: &str = "cc_bind";
/// The binding cookie's path: the start URL and the callback.
const COOKIE_PATH: &str = "/v1/integrations/chat/oauth";

/// The start URL: sets the binding cookie (once per start) and sends the
/// browser on to the provider.
#[utoipa::path(
    get,
    path = crate::http::START_ROUTE,
    tag = "OAuth",
    operation_id = "oauthStart",
    summary = "A start link (browser binding)",
    description = "The first-party URL a connect or link answers when the environment has `browserBinding`: \
        sets the `HttpOnly` binding cookie the callback must present and redirects to the provider. Each \
        link works once, within the state's lifetime. No key: the id is the credential. Not in Novu. \
        Rate-limited per client address.",
    params(("id" = String, Path, description = "The start link's id (a bearer secret).")),
    responses(
        (status = 303, description = "To the provider's sign-in, with the binding cookie.",
            headers(
                ("Location" = String, description = "The provider's authorize URL"),
                ("Set-Cookie" = String, description = "The binding cookie (`cc_bind_...`): `HttpOnly`, `SameSite=Lax`, `Secure` but on a loopback http address, its path the start link's and the callback's, for the state's lifetime"),
            )),
        (status = 404, description = "Expired or already used: a page.", content_type = "text/html", body = String),
        (status = 429, description = "Too many requests from this address: a page.", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "A store did not answer: try again.", body = crate::http::openapi::ErrorDto),
    )
)]
pub(crate) async fn start(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let now = s.now().unix_timestamp();
    match s.starts.take_start(&id, now).await {
        Ok(Some(StartLink { url, cookie })) => {
            let max_age = s.config.platform.lifetime_secs();
            // A name per flow (from the start id): a second flow leaves the first's cookie be.
            let name = format!("{BINDING_COOKIE}_{}", id.get(..8).unwrap_or(&id));
            let cookie = binding_cookie(&s.public_url, name, cookie, i64::from(max_age));
            let mut res = Redirect::to(&url).into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie.to_string()) {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Ok(None) => finish(
            None,
            StatusCode::NOT_FOUND,
            &[],
            &Page {
                title: "Link expired",
                message: "This link has expired or was already used.",
                hint: "Go back to the app and start again.",
                detail: None,
            },
            headers.get(super::REQUEST_ID).and_then(|v| v.to_str().ok()),
        ),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// A binding cookie named `name` holding `value` for `max_age` seconds (0:
/// the browser drops it): `HttpOnly`, `SameSite=Lax` (the provider's
/// redirect back is a cross-site top-level navigation), `Secure` except on
/// a loopback http address (browsers keep no Secure cookie from http), on
/// the OAuth routes under the public URL's own path (a service mounted at
/// /api sees /api/v1/...).
pub(crate) fn binding_cookie(public_url: &str, name: String, value: String, max_age: i64) -> Cookie<'static> {
    let secure = !(public_url.starts_with("http://127.0.0.1")
        || public_url.starts_with("http://localhost")
        || public_url.starts_with("http://[::1]"));
    let prefix = url::Url::parse(public_url)
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    Cookie::build((name, value))
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .path(format!("{prefix}{COOKIE_PATH}"))
        .max_age(time::Duration::seconds(max_age))
        .build()
}

/// A binding cookie the browser presents: its name and the hash of its
/// value (what the state is bound to).
pub(crate) struct BindingCookie {
    pub name: String,
    pub hash: [u8; 32],
}

/// Most binding cookies read from one request (one per flow in progress);
/// values not of the form this server sets are skipped before counting.
const MAX_BINDING_COOKIES: usize = 32;

/// Whether a cookie value has the form of one this server sets: 32 random
/// bytes as unpadded base64url.
fn well_formed(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The binding cookies the browser presents: one per flow it started, so
/// flows in two tabs do not undo each other.
pub(crate) fn presented_bindings(headers: &HeaderMap) -> Vec<BindingCookie> {
    let per_flow = format!("{BINDING_COOKIE}_");
    CookieJar::from_headers(headers)
        .iter()
        .filter(|c| (c.name() == BINDING_COOKIE || c.name().starts_with(&per_flow)) && well_formed(c.value()))
        .take(MAX_BINDING_COOKIES)
        .map(|c| BindingCookie {
            name: c.name().to_owned(),
            hash: Sha256::digest(c.value().as_bytes()).into(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::binding_cookie;

    #[test]
    fn the_cookie_follows_the_public_url() {
        let mounted = binding_cookie(
            "https://api.example.com/api/",
            "cc_bind_x".into(),
            "v".into(),
            300,
        );
        assert_eq!(mounted.path(), Some("/api/v1/integrations/chat/oauth"));
        assert_eq!((mounted.secure(), mounted.http_only()), (Some(true), Some(true)));
        let root = binding_cookie("http://127.0.0.1:3000", "cc_bind_x".into(), "v".into(), 300);
        assert_eq!(root.path(), Some("/v1/integrations/chat/oauth"));
        assert_eq!(root.secure(), Some(false), "loopback http");
        let text = root.to_string();
        assert!(
            text.starts_with("cc_bind_x=v;") && text.contains("SameSite=Lax") && text.contains("Max-Age=300"),
            "{text}"
        );
    }
}
