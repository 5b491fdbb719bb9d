//! Installing the Teams app for a linked user, so the bot can message them
//! first: find the app in the tenant's catalog by its client id
//! (<https://learn.microsoft.com/en-us/graph/api/appcatalogs-list-teamsapps>),
//! then install it in the user's personal scope
//! (<https://learn.microsoft.com/en-us/graph/api/userteamwork-post-installedapps>).
//! Both calls take an app-only token for the tenant
//! ([`super::token::app_only_token_request`]) and need the application
//! permissions `AppCatalog.Read.All` and
//! `TeamsAppInstallation.ReadWriteSelfForUser.All`. The second call is not
//! available in the cloud operated by 21Vianet.
//!
//! ```
//! use channel_connect::http::HttpResponse;
//! use channel_connect::provider::msteams::graph::{self, AppDistribution, UserInstall};
//! use channel_connect::{ClientId, MsTeams, RedirectUri, Secret};
//!
//! let app = MsTeams::new(
//!     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
//!     Secret::new("teams-client-secret"),
//!     RedirectUri::new("https://api.example.com/cb")?,
//! );
//! let token = channel_connect::secret::AccessToken::new("app-only-token");
//! let find = graph::find_app_request(&app, &token, AppDistribution::Organization);
//! assert!(find.url().starts_with("https://graph.microsoft.com/v1.0/appCatalogs/teamsApps?%24filter="));
//! let body = br#"{"value":[{"id":"b1c5353a-7aca-41b3-830f-27d5218fe0e5","externalId":"6731de76-14a6-49ae-97bc-6eba6914391e"}]}"#;
//! let found = graph::parse_find_app(&HttpResponse::new(200, body))?;
//! let install = graph::install_for_user_request(&app, &token, "00000000-0000-0000-66f3-3332eca7ea81", &found)?;
//! assert_eq!(install.method(), "POST");
//! assert_eq!(graph::parse_install_for_user(&HttpResponse::new(409, b"{}"))?, UserInstall::AlreadyInstalled);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::Deserialize;

use crate::encode::percent_encode_into;
use crate::exchange::{ExchangeError, ProviderError, ProviderErrorKind, parse_json};
use crate::http::{HttpRequest, HttpResponse};
use crate::provider::msteams::MsTeams;
use crate::provider::msteams::is_guid;
use crate::secret::AccessToken;

/// How the app reached the tenant's catalog: uploaded by the organization
/// (a line-of-business app, what Novu looks for) or from the Teams store.
///
/// ```
/// use channel_connect::provider::msteams::graph::{self, AppDistribution};
/// use channel_connect::{ClientId, MsTeams, RedirectUri, Secret};
///
/// # let app = MsTeams::new(
/// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
/// #     Secret::new("teams-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// let token = channel_connect::secret::AccessToken::new("app-only-token");
/// let store = graph::find_app_request(&app, &token, AppDistribution::Store);
/// assert!(store.url().ends_with("%27store%27")); // ...distributionMethod eq 'store'
/// # Ok::<(), channel_connect::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppDistribution {
    /// `distributionMethod eq 'organization'`.
    Organization,
    /// `distributionMethod eq 'store'`.
    Store,
}

/// The app's id in the tenant's catalog (not its client id).
///
/// Each tenant's catalog gives the same app its own id: find it in the
/// tenant of the user ([`find_app_request`], [`parse_find_app`]).
///
/// ```
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::msteams::graph;
///
/// let body = br#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#appCatalogs/teamsApps","value":[{"id":"b1c5353a-7aca-41b3-830f-27d5218fe0e5","externalId":"6731de76-14a6-49ae-97bc-6eba6914391e","displayName":"Acme Notifications","distributionMethod":"organization"}]}"#;
/// let id = graph::parse_find_app(&HttpResponse::new(200, body))?;
/// assert_eq!(id.as_str(), "b1c5353a-7aca-41b3-830f-27d5218fe0e5");
/// # Ok::<(), channel_connect::ExchangeError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamsAppId(String);

impl TeamsAppId {
    /// An id kept from an earlier [`parse_find_app`] (a host caches it per
    /// tenant): 1 to 128 visible ASCII characters, else `None`.
    pub fn new(id: &str) -> Option<Self> {
        let ok = (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| TeamsAppId(id.to_owned()))
    }

    /// The catalog id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `GET {graph}/v1.0/appCatalogs/teamsApps?$filter=externalId eq
/// '{client id}' and distributionMethod eq '{distribution}'` with the
/// app-only token.
///
/// ```
/// use channel_connect::provider::msteams::graph::{self, AppDistribution};
/// use channel_connect::{ClientId, MsTeams, RedirectUri, Secret};
///
/// # let app = MsTeams::new(
/// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
/// #     Secret::new("teams-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// let req = graph::find_app_request(&app, &channel_connect::secret::AccessToken::new("app-only-token"), AppDistribution::Organization);
/// assert_eq!(req.method(), "GET");
/// let query = req.url().split_once('?').unwrap().1;
/// let filter: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
/// assert_eq!(filter, [(
///     "$filter".to_owned(),
///     "externalId eq '6731de76-14a6-49ae-97bc-6eba6914391e' and distributionMethod eq 'organization'".to_owned(),
/// )]);
/// assert_eq!(req.header_value("authorization"), Some("Bearer app-only-token"));
/// # Ok::<(), channel_connect::ConfigError>(())
/// ```
pub fn find_app_request(
    app: &MsTeams,
    app_token: &AccessToken,
    distribution: AppDistribution,
) -> HttpRequest {
    let method = match distribution {
        AppDistribution::Organization => "organization",
        AppDistribution::Store => "store",
    };
    // A client id is visible ASCII; a quote in it would end the OData string.
    let filter = format!(
        "externalId eq '{}' and distributionMethod eq '{method}'",
        app.client_id().as_str().replace('\'', "''")
    );
    let mut url = format!("{}/v1.0/appCatalogs/teamsApps?", app.graph());
    percent_encode_into(&mut url, "$filter");
    url.push('=');
    percent_encode_into(&mut url, &filter);
    HttpRequest::get(url).bearer(app_token)
}

#[derive(Deserialize)]
struct Catalog {
    value: Option<Vec<CatalogApp>>,
}

#[derive(Deserialize)]
struct CatalogApp {
    id: Option<String>,
}

/// Parses the answer to [`find_app_request`]: the first app's id. An empty
/// list is [`ProviderErrorKind::NotFound`] (`app_not_in_catalog`: the app
/// was never uploaded to, or approved in, that tenant).
///
/// ```
/// use channel_connect::exchange::{ExchangeError, ProviderErrorKind};
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::msteams::graph;
///
/// assert!(graph::parse_find_app(&HttpResponse::new(200, br#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#appCatalogs/teamsApps","value":[{"id":"b1c5353a-7aca-41b3-830f-27d5218fe0e5","externalId":"6731de76-14a6-49ae-97bc-6eba6914391e","displayName":"Acme Notifications","distributionMethod":"organization"}]}"#)).is_ok());
///
/// // The tenant's admin has not uploaded (or approved) the app yet.
/// let empty = br#"{"value":[]}"#;
/// match graph::parse_find_app(&HttpResponse::new(200, empty)) {
///     Err(ExchangeError::Provider(e)) => {
///         assert_eq!((e.code(), e.kind()), ("app_not_in_catalog", ProviderErrorKind::NotFound));
///     }
///     other => panic!("{other:?}"),
/// }
/// // The token lacks AppCatalog.Read.All.
/// let denied = br#"{"error":{"code":"Forbidden","message":"Missing role permissions on the request."}}"#;
/// let err = graph::parse_find_app(&HttpResponse::new(403, denied)).unwrap_err();
/// assert_eq!(err.status(), 403);
/// ```
pub fn parse_find_app(response: &HttpResponse<'_>) -> Result<TeamsAppId, ExchangeError> {
    if !response.is_success() {
        return Err(graph_error(response));
    }
    let catalog: Catalog = parse_json(response)?;
    let app = catalog.value.unwrap_or_default().into_iter().find_map(|a| a.id);
    match app {
        Some(id) => TeamsAppId::new(&id).ok_or(ExchangeError::InvalidField("value[0].id")),
        None => Err(ProviderError::new(
            "Microsoft Graph",
            Some("app_not_in_catalog"),
            ProviderErrorKind::NotFound,
        )
        .into()),
    }
}

/// `POST {graph}/v1.0/users/{user}/teamwork/installedApps` with
/// `{"teamsApp@odata.bind": "{graph}/v1.0/appCatalogs/teamsApps/{id}"}` and
/// the app-only token. `user_id` is the user's object id (`oid`, a GUID).
///
/// ```
/// use channel_connect::exchange::ExchangeError;
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::msteams::graph;
/// use channel_connect::{ClientId, MsTeams, RedirectUri, Secret};
///
/// # let app = MsTeams::new(
/// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
/// #     Secret::new("teams-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// # let found = graph::parse_find_app(&HttpResponse::new(200, br#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#appCatalogs/teamsApps","value":[{"id":"b1c5353a-7aca-41b3-830f-27d5218fe0e5","externalId":"6731de76-14a6-49ae-97bc-6eba6914391e","displayName":"Acme Notifications","distributionMethod":"organization"}]}"#))?;
/// let token = channel_connect::secret::AccessToken::new("app-only-token");
/// // `found`: the catalog id from `parse_find_app`; the user: the `ms_teams_user` endpoint's `userId`.
/// let req = graph::install_for_user_request(&app, &token, "00000000-0000-0000-66f3-3332eca7ea81", &found)?;
/// assert_eq!(req.url(), "https://graph.microsoft.com/v1.0/users/00000000-0000-0000-66f3-3332eca7ea81/teamwork/installedApps");
/// assert_eq!(
///     req.body(),
///     r#"{"teamsApp@odata.bind":"https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/b1c5353a-7aca-41b3-830f-27d5218fe0e5"}"#
/// );
///
/// // A user id that is not an object id (an email, a path) is refused before it reaches a URL.
/// let err = graph::install_for_user_request(&app, &token, "MeganB@contoso.onmicrosoft.com", &found).unwrap_err();
/// assert_eq!(err, ExchangeError::InvalidField("oid"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn install_for_user_request(
    app: &MsTeams,
    app_token: &AccessToken,
    user_id: &str,
    teams_app: &TeamsAppId,
) -> Result<HttpRequest, ExchangeError> {
    if !is_guid(user_id) {
        return Err(ExchangeError::InvalidField("oid"));
    }
    let mut bind = format!("{}/v1.0/appCatalogs/teamsApps/", app.graph());
    percent_encode_into(&mut bind, teams_app.as_str());
    let body = serde_json::json!({ "teamsApp@odata.bind": bind });
    let url = format!("{}/v1.0/users/{user_id}/teamwork/installedApps", app.graph());
    Ok(HttpRequest::post_json(url, &body).bearer(app_token))
}

/// What [`install_for_user_request`] achieved. Both mean the bot can now
/// message the user.
///
/// ```
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::msteams::graph::{self, UserInstall};
///
/// assert_eq!(graph::parse_install_for_user(&HttpResponse::new(201, b""))?, UserInstall::Installed);
/// assert_eq!(graph::parse_install_for_user(&HttpResponse::new(409, b"{}"))?, UserInstall::AlreadyInstalled);
/// # Ok::<(), channel_connect::ExchangeError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserInstall {
    /// 201 Created: installed now.
    Installed,
    /// 409 Conflict: the user already has the app. Nothing to do.
    AlreadyInstalled,
}

/// Parses the answer to [`install_for_user_request`]: 201 (or any 2xx) is
/// installed, 409 already installed; any other status is Graph's error
/// (403 [`ProviderErrorKind::Forbidden`]: the permission is not granted;
/// 404 [`ProviderErrorKind::NotFound`]: no such user or app; 429
/// [`ProviderErrorKind::RateLimited`]).
///
/// ```
/// use channel_connect::exchange::{ExchangeError, ProviderErrorKind};
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::msteams::graph::{self, UserInstall};
///
/// assert_eq!(graph::parse_install_for_user(&HttpResponse::new(201, b"{}"))?, UserInstall::Installed);
///
/// // TeamsAppInstallation.ReadWriteSelfForUser.All was not granted.
/// let denied = br#"{"error":{"code":"Forbidden","message":"Missing role permissions on the request. API requires one of 'TeamsAppInstallation.ReadWriteSelfForUser.All'."}}"#;
/// match graph::parse_install_for_user(&HttpResponse::new(403, denied)) {
///     Err(ExchangeError::Provider(e)) => {
///         assert_eq!((e.code(), e.kind()), ("forbidden", ProviderErrorKind::Forbidden));
///         assert!(e.description().unwrap().contains("TeamsAppInstallation.ReadWriteSelfForUser.All"));
///     }
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), ExchangeError>(())
/// ```
pub fn parse_install_for_user(response: &HttpResponse<'_>) -> Result<UserInstall, ExchangeError> {
    match response.status {
        409 => Ok(UserInstall::AlreadyInstalled),
        _ if response.is_success() => Ok(UserInstall::Installed),
        _ => Err(graph_error(response)),
    }
}

#[derive(Deserialize)]
struct GraphErrorBody {
    error: Option<GraphErrorDetail>,
}

#[derive(Deserialize)]
struct GraphErrorDetail {
    code: Option<String>,
    message: Option<String>,
}

/// Graph's `{"error": {"code", "message"}}`, its kind from the status.
fn graph_error(response: &HttpResponse<'_>) -> ExchangeError {
    use ProviderErrorKind as K;
    let kind = match response.status {
        401 => K::TokenRevoked,
        403 => K::Forbidden,
        404 => K::NotFound,
        429 => K::RateLimited,
        _ => K::Other,
    };
    let detail = parse_json::<GraphErrorBody>(response).ok().and_then(|b| b.error);
    let Some(detail) = detail else {
        return ExchangeError::HttpStatus(response.status);
    };
    // Graph's codes are CamelCase (`Forbidden`, `Authorization_RequestDenied`).
    let code = detail.code.map(|c| c.to_ascii_lowercase());
    ProviderError::new("Microsoft Graph", code.as_deref(), kind)
        .with_description(detail.message.as_deref())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClientId, RedirectUri};

    fn app() -> MsTeams {
        MsTeams::new(
            ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e").unwrap(),
            crate::Secret::new("s"),
            RedirectUri::new("https://a.example/cb").unwrap(),
        )
    }

    #[test]
    fn the_filter_is_encoded() {
        let req = find_app_request(&app(), &AccessToken::new("t"), AppDistribution::Store);
        let decoded: Vec<(String, String)> =
            url::form_urlencoded::parse(req.url().split_once('?').unwrap().1.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
        assert_eq!(
            decoded,
            [(
                "$filter".to_owned(),
                "externalId eq '6731de76-14a6-49ae-97bc-6eba6914391e' and distributionMethod eq 'store'"
                    .to_owned()
            )]
        );
    }

    #[test]
    fn a_user_id_must_be_a_guid() {
        let id = TeamsAppId("x".into());
        assert!(install_for_user_request(&app(), &AccessToken::new("t"), "../me", &id).is_err());
    }
}
