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
//! Removing it again (the user unlinked, the connection is deleted) is two
//! calls with the same token and permission, neither available in the cloud
//! operated by 21Vianet: list the user's installations of the app
//! (<https://learn.microsoft.com/en-us/graph/api/userteamwork-list-installedapps>,
//! [`user_installs_request`], [`parse_user_installs`]), then delete each
//! (<https://learn.microsoft.com/en-us/graph/api/userteamwork-delete-installedapps>,
//! [`uninstall_for_user_request`], [`parse_uninstall_for_user`]).
//!
//! ```
//! use channel_connect::http::HttpResponse;
//! use channel_connect::provider::msteams::graph::{self, AppDistribution, UserInstall, UserUninstall};
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
//!
//! // Later, removing it: find the installation, then delete it.
//! let list = graph::user_installs_request(&app, &token, "00000000-0000-0000-66f3-3332eca7ea81", &found)?;
//! assert_eq!(list.method(), "GET");
//! let listed = br#"{"value":[{"id":"YjFjNTM1M2EtN2FjYS00MWIzLTgzMGYtMjdkNTIxOGZlMGU1IyMwMDAwMDAwMC0wMDAwLTAwMDAtNjZmMy0zMzMyZWNhN2VhODE=","teamsAppDefinition":{"teamsAppId":"b1c5353a-7aca-41b3-830f-27d5218fe0e5"}}]}"#;
//! for installation in graph::parse_user_installs(&HttpResponse::new(200, listed), &found)? {
//!     let remove = graph::uninstall_for_user_request(&app, &token, "00000000-0000-0000-66f3-3332eca7ea81", &installation)?;
//!     assert_eq!(remove.method(), "DELETE");
//!     assert_eq!(graph::parse_uninstall_for_user(&HttpResponse::new(204, b""))?, UserUninstall::Removed);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use serde::de::{IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::encode::percent_encode_into;
use crate::exchange::{ExchangeError, ProviderError, ProviderErrorKind, parse_json, required};
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

/// The id of one installation of an app in a user's personal scope (not
/// the app's catalog id): opaque to this library, Graph writes it in
/// base64 (`NjRiOWM3NDYtYTE1NS00ZDU4...=`).
///
/// ```
/// use channel_connect::provider::msteams::graph::InstallationId;
///
/// let id = InstallationId::new("NjRiOWM3NDYtYTE1NS00ZDU4LTlmNjQtNzQyZGQ5YzcwMDg2IyMwMjQwYTM2OC0yNWUwLTQ1NjItOGMzNi1mZmQ2OWFlYzZkYzk=");
/// assert!(id.is_some());
/// // Only base64's characters (either alphabet) and `=`: nothing that moves a URL's path.
/// for hostile in ["", "a/../b", "a?b", "a#b", "a b", "%2F", "..", &"A".repeat(513)] {
///     assert_eq!(InstallationId::new(hostile), None, "{hostile:?}");
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstallationId(String);

impl InstallationId {
    /// An id from [`parse_user_installs`] or kept from it: 1 to 512 of
    /// `A-Z a-z 0-9 + / - _ =`, else `None`. (It is percent-encoded into a
    /// URL path all the same, `/` included.)
    pub fn new(id: &str) -> Option<Self> {
        let ok = (1..=MAX_INSTALLATION_ID).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'='));
        ok.then(|| InstallationId(id.to_owned()))
    }

    /// The installation id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Longest [`InstallationId`] accepted (Graph's are about 100 characters).
const MAX_INSTALLATION_ID: usize = 512;

/// Most entries read from one answer to [`user_installs_request`]; more is
/// refused (the filter leaves one, or none).
const MAX_USER_INSTALLS: usize = 100;

/// `GET {graph}/v1.0/users/{user}/teamwork/installedApps` with
/// `$expand=teamsAppDefinition` and `$filter=teamsAppDefinition/teamsAppId
/// eq '{id}'` and the app-only token: the user's installations of the app
/// whose catalog id is `teams_app` ([`parse_find_app`]). `user_id` is the
/// user's object id (`oid`, a GUID).
///
/// ```
/// use channel_connect::exchange::ExchangeError;
/// use channel_connect::provider::msteams::graph::{self, TeamsAppId};
/// use channel_connect::{ClientId, MsTeams, RedirectUri, Secret};
///
/// # let app = MsTeams::new(
/// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
/// #     Secret::new("teams-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// let token = channel_connect::secret::AccessToken::new("app-only-token");
/// let teams_app = TeamsAppId::new("12345678-9abc-def0-1234-56789abcdef0").unwrap();
/// let req = graph::user_installs_request(&app, &token, "00000000-0000-0000-66f3-3332eca7ea81", &teams_app)?;
/// assert_eq!(req.method(), "GET");
/// let (path, query) = req.url().split_once('?').unwrap();
/// assert_eq!(path, "https://graph.microsoft.com/v1.0/users/00000000-0000-0000-66f3-3332eca7ea81/teamwork/installedApps");
/// let query: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
/// assert_eq!(query, [
///     ("$expand".to_owned(), "teamsAppDefinition".to_owned()),
///     ("$filter".to_owned(), "teamsAppDefinition/teamsAppId eq '12345678-9abc-def0-1234-56789abcdef0'".to_owned()),
/// ]);
/// assert_eq!(req.header_value("authorization"), Some("Bearer app-only-token"));
///
/// // A user id that is not an object id is refused before it reaches a URL.
/// let err = graph::user_installs_request(&app, &token, "../me", &teams_app).unwrap_err();
/// assert_eq!(err, ExchangeError::InvalidField("oid"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn user_installs_request(
    app: &MsTeams,
    app_token: &AccessToken,
    user_id: &str,
    teams_app: &TeamsAppId,
) -> Result<HttpRequest, ExchangeError> {
    if !is_guid(user_id) {
        return Err(ExchangeError::InvalidField("oid"));
    }
    // A catalog id is visible ASCII; a quote in it would end the OData string.
    let filter = format!(
        "teamsAppDefinition/teamsAppId eq '{}'",
        teams_app.as_str().replace('\'', "''")
    );
    let mut url = format!("{}/v1.0/users/{user_id}/teamwork/installedApps?", app.graph());
    percent_encode_into(&mut url, "$expand");
    url.push('=');
    percent_encode_into(&mut url, "teamsAppDefinition");
    url.push('&');
    percent_encode_into(&mut url, "$filter");
    url.push('=');
    percent_encode_into(&mut url, &filter);
    Ok(HttpRequest::get(url).bearer(app_token))
}

#[derive(Deserialize)]
struct InstalledApps {
    value: Option<Bounded>,
}

/// At most [`MAX_USER_INSTALLS`] entries; the rest is skipped unread and
/// marked.
struct Bounded {
    entries: Vec<InstalledApp>,
    overflow: bool,
}

impl<'de> Deserialize<'de> for Bounded {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = Bounded;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of installed apps")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Bounded, A::Error> {
                let mut entries = Vec::new();
                while entries.len() < MAX_USER_INSTALLS {
                    match seq.next_element()? {
                        Some(entry) => entries.push(entry),
                        None => {
                            return Ok(Bounded {
                                entries,
                                overflow: false,
                            });
                        }
                    }
                }
                let mut overflow = false;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    overflow = true;
                }
                Ok(Bounded { entries, overflow })
            }
        }
        deserializer.deserialize_seq(Entries)
    }
}

#[derive(Deserialize)]
struct InstalledApp {
    id: Option<String>,
    #[serde(rename = "teamsAppDefinition")]
    definition: Option<AppDefinition>,
}

#[derive(Deserialize)]
struct AppDefinition {
    #[serde(rename = "teamsAppId")]
    teams_app_id: Option<String>,
}

/// Parses the answer to [`user_installs_request`]: the installations of
/// `teams_app`, each id once, in Graph's order; an empty list when the user
/// does not have the app (nothing to remove).
///
/// The query's filter already asks for that app only; the answer is checked
/// again, so an entry whose `teamsAppDefinition.teamsAppId` is another app's
/// (compared ignoring ASCII case, as GUIDs are) or absent is skipped, never
/// handed to [`uninstall_for_user_request`]. An entry of the app without a
/// usable id is refused (`value[].id`) rather than skipped, so the app is
/// not left installed unseen. No `value` is [`ExchangeError::MissingField`];
/// more than 100 entries is [`ExchangeError::InvalidField`] (`value`). A
/// next page (`@odata.nextLink`) is not followed: a user has the app
/// installed at most once in their personal scope. Any status but 2xx is
/// Graph's error (403 [`ProviderErrorKind::Forbidden`], 404
/// [`ProviderErrorKind::NotFound`]: no such user, 429
/// [`ProviderErrorKind::RateLimited`]).
///
/// ```
/// use channel_connect::exchange::{ExchangeError, ProviderErrorKind};
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::msteams::graph::{self, TeamsAppId};
///
/// let teams_app = TeamsAppId::new("12345678-9abc-def0-1234-56789abcdef0").unwrap();
/// let body = br#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users('00000000-0000-0000-66f3-3332eca7ea81')/teamwork/installedApps(teamsAppDefinition())","value":[{"id":"NjRiOWM3NDYtYTE1NS00ZDU4LTlmNjQtNzQyZGQ5YzcwMDg2IyMwMjQwYTM2OC0yNWUwLTQ1NjItOGMzNi1mZmQ2OWFlYzZkYzk=","teamsAppDefinition":{"id":"MDI0MGEzNjgtMjVlMC00NTYyLThjMzYtZmZkNjlhZWM2ZGM5IyMxLjAuMCMjUHVibGlzaGVk","teamsAppId":"12345678-9abc-def0-1234-56789abcdef0","displayName":"Acme Notifications","version":"1.0.0"}}]}"#;
/// let found = graph::parse_user_installs(&HttpResponse::new(200, body), &teams_app)?;
/// assert_eq!(found.len(), 1);
/// assert!(found[0].as_str().starts_with("NjRiOWM3NDYt"));
///
/// // The user does not have the app: nothing to remove.
/// assert!(graph::parse_user_installs(&HttpResponse::new(200, br#"{"value":[]}"#), &teams_app)?.is_empty());
///
/// // The token lacks the permission.
/// let denied = br#"{"error":{"code":"Forbidden","message":"Missing role permissions on the request."}}"#;
/// match graph::parse_user_installs(&HttpResponse::new(403, denied), &teams_app) {
///     Err(ExchangeError::Provider(e)) => assert_eq!(e.kind(), ProviderErrorKind::Forbidden),
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), ExchangeError>(())
/// ```
pub fn parse_user_installs(
    response: &HttpResponse<'_>,
    teams_app: &TeamsAppId,
) -> Result<Vec<InstallationId>, ExchangeError> {
    if !response.is_success() {
        return Err(graph_error(response));
    }
    let list: InstalledApps = parse_json(response)?;
    let list = list.value.ok_or(ExchangeError::MissingField("value"))?;
    if list.overflow {
        return Err(ExchangeError::InvalidField("value"));
    }
    let mut ids: Vec<InstallationId> = Vec::new();
    for entry in list.entries {
        let ours = entry
            .definition
            .and_then(|d| d.teams_app_id)
            .is_some_and(|id| id.eq_ignore_ascii_case(teams_app.as_str()));
        if !ours {
            continue;
        }
        let id = required(entry.id, "value[].id")?;
        let id = InstallationId::new(&id).ok_or(ExchangeError::InvalidField("value[].id"))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// `DELETE {graph}/v1.0/users/{user}/teamwork/installedApps/{installation}`
/// with the app-only token, the installation id percent-encoded.
/// `user_id` is the user's object id (`oid`, a GUID).
///
/// ```
/// use channel_connect::exchange::ExchangeError;
/// use channel_connect::provider::msteams::graph::{self, InstallationId};
/// use channel_connect::{ClientId, MsTeams, RedirectUri, Secret};
///
/// # let app = MsTeams::new(
/// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
/// #     Secret::new("teams-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// let token = channel_connect::secret::AccessToken::new("app-only-token");
/// // From `parse_user_installs`.
/// let installation = InstallationId::new("NjRiOWM3NDYtYTE1NS00ZDU4LTlmNjQtNzQyZGQ5YzcwMDg2IyMwMjQwYTM2OC0yNWUwLTQ1NjItOGMzNi1mZmQ2OWFlYzZkYzk=").unwrap();
/// let req = graph::uninstall_for_user_request(&app, &token, "00000000-0000-0000-66f3-3332eca7ea81", &installation)?;
/// assert_eq!(req.method(), "DELETE");
/// assert_eq!(
///     req.url(),
///     "https://graph.microsoft.com/v1.0/users/00000000-0000-0000-66f3-3332eca7ea81/teamwork/installedApps/NjRiOWM3NDYtYTE1NS00ZDU4LTlmNjQtNzQyZGQ5YzcwMDg2IyMwMjQwYTM2OC0yNWUwLTQ1NjItOGMzNi1mZmQ2OWFlYzZkYzk%3D"
/// );
/// assert_eq!((req.body(), req.header_value("authorization")), ("", Some("Bearer app-only-token")));
///
/// let err = graph::uninstall_for_user_request(&app, &token, "MeganB@contoso.onmicrosoft.com", &installation).unwrap_err();
/// assert_eq!(err, ExchangeError::InvalidField("oid"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn uninstall_for_user_request(
    app: &MsTeams,
    app_token: &AccessToken,
    user_id: &str,
    installation: &InstallationId,
) -> Result<HttpRequest, ExchangeError> {
    if !is_guid(user_id) {
        return Err(ExchangeError::InvalidField("oid"));
    }
    let mut url = format!("{}/v1.0/users/{user_id}/teamwork/installedApps/", app.graph());
    percent_encode_into(&mut url, installation.as_str());
    Ok(HttpRequest::delete(url).bearer(app_token))
}

/// What [`uninstall_for_user_request`] achieved. Both mean the app is no
/// longer installed for the user.
///
/// ```
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::msteams::graph::{self, UserUninstall};
///
/// assert_eq!(graph::parse_uninstall_for_user(&HttpResponse::new(204, b""))?, UserUninstall::Removed);
/// assert_eq!(graph::parse_uninstall_for_user(&HttpResponse::new(404, b"{}"))?, UserUninstall::AlreadyGone);
/// # Ok::<(), channel_connect::ExchangeError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserUninstall {
    /// 204 No Content: removed now.
    Removed,
    /// 404 Not Found: no such installation (removed already, by the user or
    /// an earlier attempt), or no such user. Nothing to do.
    AlreadyGone,
}

/// Parses the answer to [`uninstall_for_user_request`]: 204 (or any 2xx) is
/// removed, 404 already gone; any other status is Graph's error (403
/// [`ProviderErrorKind::Forbidden`]: the permission is not granted; 429
/// [`ProviderErrorKind::RateLimited`]).
///
/// ```
/// use channel_connect::exchange::{ExchangeError, ProviderErrorKind};
/// use channel_connect::http::HttpResponse;
/// use channel_connect::provider::msteams::graph::{self, UserUninstall};
///
/// assert_eq!(graph::parse_uninstall_for_user(&HttpResponse::new(204, b""))?, UserUninstall::Removed);
/// let gone = br#"{"error":{"code":"NotFound","message":"Resource not found."}}"#;
/// assert_eq!(graph::parse_uninstall_for_user(&HttpResponse::new(404, gone))?, UserUninstall::AlreadyGone);
///
/// let throttled = br#"{"error":{"code":"TooManyRequests","message":"Too many requests."}}"#;
/// match graph::parse_uninstall_for_user(&HttpResponse::new(429, throttled)) {
///     Err(ExchangeError::Provider(e)) => {
///         assert_eq!((e.code(), e.kind()), ("toomanyrequests", ProviderErrorKind::RateLimited));
///     }
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), ExchangeError>(())
/// ```
pub fn parse_uninstall_for_user(response: &HttpResponse<'_>) -> Result<UserUninstall, ExchangeError> {
    match response.status {
        404 => Ok(UserUninstall::AlreadyGone),
        _ if response.is_success() => Ok(UserUninstall::Removed),
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
        assert!(user_installs_request(&app(), &AccessToken::new("t"), "../me", &id).is_err());
        let installation = InstallationId("a".into());
        assert!(uninstall_for_user_request(&app(), &AccessToken::new("t"), "../me", &installation).is_err());
    }

    #[test]
    fn a_quote_in_the_app_id_stays_in_the_odata_string() {
        let id = TeamsAppId::new("it's").unwrap();
        let req = user_installs_request(
            &app(),
            &AccessToken::new("t"),
            "00000000-0000-0000-66f3-3332eca7ea81",
            &id,
        )
        .unwrap();
        let filter = url::form_urlencoded::parse(req.url().split_once('?').unwrap().1.as_bytes())
            .find(|(k, _)| k == "$filter")
            .map(|(_, v)| v.into_owned());
        assert_eq!(
            filter.as_deref(),
            Some("teamsAppDefinition/teamsAppId eq 'it''s'")
        );
    }

    #[test]
    fn entries_past_the_bound_are_refused_unread() {
        let id = TeamsAppId::new("x").unwrap();
        let at = |n: usize| {
            let entries = vec![r#"{"id":"a","teamsAppDefinition":{"teamsAppId":"x"}}"#; n].join(",");
            format!(r#"{{"value":[{entries}]}}"#)
        };
        let ok = at(MAX_USER_INSTALLS);
        let ids = parse_user_installs(&HttpResponse::new(200, ok.as_bytes()), &id).unwrap();
        assert_eq!(ids, [InstallationId("a".into())]); // once
        let over = at(MAX_USER_INSTALLS + 1);
        assert_eq!(
            parse_user_installs(&HttpResponse::new(200, over.as_bytes()), &id),
            Err(ExchangeError::InvalidField("value"))
        );
    }
}
