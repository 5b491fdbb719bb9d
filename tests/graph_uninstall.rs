//! Removing the Teams app installed for a linked user: the list of the
//! user's installations of the app and the delete of each, as requests
//! (URLs, methods, headers, ids refused before they reach a URL) and as
//! answers (Graph's documented bodies, other apps' entries, broken bodies,
//! Graph's errors). Nothing panics on any input.

use channel_connect::exchange::{ExchangeError, MAX_RESPONSE_BYTES, ProviderErrorKind};
use channel_connect::http::{HttpResponse, Method};
use channel_connect::provider::msteams::US_GOVERNMENT_GRAPH;
use channel_connect::provider::msteams::graph::{self, InstallationId, TeamsAppId, UserUninstall};
use channel_connect::secret::AccessToken;
use channel_connect::{BaseUrl, ClientId, MsTeams, RedirectUri, Secret};
use proptest::prelude::*;

const OID: &str = "00000000-0000-0000-66f3-3332eca7ea81";
const APP: &str = "12345678-9abc-def0-1234-56789abcdef0";
/// The installation id of Graph's documented example.
const INSTALLATION: &str =
    "NjRiOWM3NDYtYTE1NS00ZDU4LTlmNjQtNzQyZGQ5YzcwMDg2IyMwMjQwYTM2OC0yNWUwLTQ1NjItOGMzNi1mZmQ2OWFlYzZkYzk=";

fn teams() -> MsTeams {
    MsTeams::new(
        ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e").unwrap(),
        Secret::new("teams-client-secret"),
        RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback").unwrap(),
    )
}

fn token() -> AccessToken {
    AccessToken::new("app-only-token")
}

fn app_id() -> TeamsAppId {
    TeamsAppId::new(APP).unwrap()
}

fn installation(id: &str) -> InstallationId {
    InstallationId::new(id).unwrap()
}

fn query(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn entry(id: &str, teams_app_id: &str) -> String {
    format!(
        r#"{{"id":"{id}","teamsAppDefinition":{{"id":"MDI0MGEzNjgtMjVlMC00NTYyLThjMzYtZmZkNjlhZWM2ZGM5IyMxLjAuMCMjUHVibGlzaGVk","teamsAppId":"{teams_app_id}","displayName":"Acme Notifications","version":"1.0.0"}}}}"#
    )
}

fn listed(entries: &[String]) -> String {
    format!(
        r#"{{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users('{OID}')/teamwork/installedApps(teamsAppDefinition())","value":[{}]}}"#,
        entries.join(",")
    )
}

fn parse_list(status: u16, body: &str) -> Result<Vec<String>, ExchangeError> {
    graph::parse_user_installs(&HttpResponse::new(status, body.as_bytes()), &app_id())
        .map(|ids| ids.iter().map(|id| id.as_str().to_owned()).collect())
}

fn provider_error(err: ExchangeError) -> (String, ProviderErrorKind, Option<String>) {
    match err {
        ExchangeError::Provider(e) => (e.code().to_owned(), e.kind(), e.description().map(str::to_owned)),
        other => panic!("not a provider error: {other:?}"),
    }
}

// Requests.

#[test]
fn the_list_request_asks_for_this_app_with_its_definition() {
    let req = graph::user_installs_request(&teams(), &token(), OID, &app_id()).unwrap();
    assert_eq!((req.method(), req.method_kind()), ("GET", Method::Get));
    assert_eq!(
        req.url(),
        "https://graph.microsoft.com/v1.0/users/00000000-0000-0000-66f3-3332eca7ea81/teamwork/installedApps\
         ?%24expand=teamsAppDefinition\
         &%24filter=teamsAppDefinition%2FteamsAppId%20eq%20%2712345678-9abc-def0-1234-56789abcdef0%27"
    );
    assert_eq!(
        query(req.url()),
        [
            ("$expand".to_owned(), "teamsAppDefinition".to_owned()),
            (
                "$filter".to_owned(),
                format!("teamsAppDefinition/teamsAppId eq '{APP}'")
            ),
        ]
    );
    let headers: Vec<(&str, &str, bool)> = req
        .headers()
        .iter()
        .map(|h| (h.name(), h.value(), h.is_sensitive()))
        .collect();
    assert_eq!(
        headers,
        [
            ("Accept", "application/json", false),
            ("Authorization", "Bearer app-only-token", true),
        ]
    );
    assert_eq!(req.body(), "");
    assert!(!format!("{req:?}").contains("app-only-token"));
}

#[test]
fn the_delete_request_names_the_installation() {
    let req =
        graph::uninstall_for_user_request(&teams(), &token(), OID, &installation(INSTALLATION)).unwrap();
    assert_eq!((req.method(), req.method_kind()), ("DELETE", Method::Delete));
    assert_eq!(
        req.url(),
        format!(
            "https://graph.microsoft.com/v1.0/users/{OID}/teamwork/installedApps/{}%3D",
            INSTALLATION.trim_end_matches('=')
        )
    );
    let headers: Vec<(&str, &str, bool)> = req
        .headers()
        .iter()
        .map(|h| (h.name(), h.value(), h.is_sensitive()))
        .collect();
    assert_eq!(
        headers,
        [
            ("Accept", "application/json", false),
            ("Authorization", "Bearer app-only-token", true),
        ]
    );
    assert_eq!((req.body(), req.header_value("content-type")), ("", None));
    assert!(!format!("{req:?}").contains("app-only-token"));
}

#[test]
fn base64_characters_are_encoded_in_the_path() {
    // Standard base64 has `/` and `+`: encoded, they stay in one path segment.
    let req =
        graph::uninstall_for_user_request(&teams(), &token(), OID, &installation("ab/cd+ef_g-h==")).unwrap();
    let (_, last) = req.url().rsplit_once('/').unwrap();
    assert_eq!(last, "ab%2Fcd%2Bef_g-h%3D%3D");
    assert!(
        req.url()
            .ends_with("/teamwork/installedApps/ab%2Fcd%2Bef_g-h%3D%3D")
    );
    assert!(!req.url().contains('?') && !req.url().contains('#'));
}

#[test]
fn a_national_cloud_uses_its_own_graph() {
    let app = teams().with_graph(BaseUrl::new(US_GOVERNMENT_GRAPH).unwrap());
    let list = graph::user_installs_request(&app, &token(), OID, &app_id()).unwrap();
    assert!(list.url().starts_with(&format!(
        "https://graph.microsoft.us/v1.0/users/{OID}/teamwork/installedApps?"
    )));
    let delete = graph::uninstall_for_user_request(&app, &token(), OID, &installation("abc")).unwrap();
    assert_eq!(
        delete.url(),
        format!("https://graph.microsoft.us/v1.0/users/{OID}/teamwork/installedApps/abc")
    );
}

#[test]
fn a_quote_in_the_app_id_cannot_end_the_filter() {
    // A catalog id is visible ASCII, no spaces: a quote is what could break out.
    let odd = TeamsAppId::new("x'or'y").unwrap();
    let req = graph::user_installs_request(&teams(), &token(), OID, &odd).unwrap();
    assert_eq!(
        query(req.url())[1].1,
        "teamsAppDefinition/teamsAppId eq 'x''or''y'"
    );
}

#[test]
fn hostile_user_ids_are_refused() {
    let hostile = [
        "",
        "me",
        "..",
        "../me",
        "a/b",
        "%2F",
        "MeganB@contoso.onmicrosoft.com",
        "00000000-0000-0000-66f3-3332eca7ea8/",
        "00000000-0000-0000-66f3-3332eca7ea81/..",
        "00000000-0000-0000-66f3-3332eca7ea81?x=1",
        "00000000-0000-0000-66f3-3332eca7ea81#x",
        "00000000-0000-0000-66f3-3332eca7ea%2F",
        " 0000000-0000-0000-66f3-3332eca7ea81",
        "00000000-0000-0000-66f3-3332eca7ea8\u{e9}",
        "000000000000000066f33332eca7ea81",
        "{00000000-0000-0000-66f3-3332eca7ea81}",
    ];
    let installation = installation(INSTALLATION);
    for user in hostile {
        assert_eq!(
            graph::user_installs_request(&teams(), &token(), user, &app_id()).unwrap_err(),
            ExchangeError::InvalidField("oid"),
            "{user:?}"
        );
        assert_eq!(
            graph::uninstall_for_user_request(&teams(), &token(), user, &installation).unwrap_err(),
            ExchangeError::InvalidField("oid"),
            "{user:?}"
        );
    }
    // A GUID in capitals is still an object id.
    assert!(
        graph::user_installs_request(
            &teams(),
            &token(),
            "00000000-0000-0000-66F3-3332ECA7EA81",
            &app_id()
        )
        .is_ok()
    );
}

#[test]
fn hostile_installation_ids_are_refused() {
    let overlong = "A".repeat(513);
    let hostile = [
        "",
        ".",
        "..",
        "/../",
        "abc/../def",
        "abc?x=1",
        "abc#frag",
        "?",
        "#",
        " ",
        "abc def",
        "abc\tdef",
        "abc\n",
        "%2F",
        "abc%2e%2e",
        "abc\\def",
        "abc;x",
        "abc&x",
        "abc'x",
        "abc\u{0}",
        "ab\u{e9}c",
        overlong.as_str(),
    ];
    for id in hostile {
        assert_eq!(InstallationId::new(id), None, "{id:?}");
    }
    let longest = "A".repeat(512);
    assert_eq!(InstallationId::new(&longest).unwrap().as_str(), longest);
    for ok in [INSTALLATION, "a", "Z9+/-_="] {
        assert_eq!(InstallationId::new(ok).unwrap().as_str(), ok);
    }
}

// The list's answers.

#[test]
fn a_list_of_none_one_or_two() {
    assert_eq!(parse_list(200, &listed(&[])), Ok(vec![]));
    assert_eq!(parse_list(200, r#"{"value":[]}"#), Ok(vec![]));
    assert_eq!(
        parse_list(200, &listed(&[entry(INSTALLATION, APP)])),
        Ok(vec![INSTALLATION.to_owned()])
    );
    let two = listed(&[entry("Zmlyc3Q=", APP), entry("c2Vjb25k", APP)]);
    assert_eq!(
        parse_list(200, &two),
        Ok(vec!["Zmlyc3Q=".to_owned(), "c2Vjb25k".to_owned()])
    );
    // The same installation twice: deleted once.
    let twice = listed(&[entry("Zmlyc3Q=", APP), entry("Zmlyc3Q=", APP)]);
    assert_eq!(parse_list(200, &twice), Ok(vec!["Zmlyc3Q=".to_owned()]));
}

#[test]
fn another_apps_entry_is_never_returned() {
    let other = "b1c5353a-7aca-41b3-830f-27d5218fe0e5";
    let mixed = listed(&[entry("b3RoZXI=", other), entry(INSTALLATION, APP)]);
    assert_eq!(parse_list(200, &mixed), Ok(vec![INSTALLATION.to_owned()]));
    assert_eq!(parse_list(200, &listed(&[entry("b3RoZXI=", other)])), Ok(vec![]));
    // Another app's entry is skipped whatever its id.
    assert_eq!(
        parse_list(200, &listed(&[entry("../../x?y#z", other)])),
        Ok(vec![])
    );
    // No definition (the expansion was not honoured) or no app id in it: not provably ours.
    for unknown in [
        r#"{"value":[{"id":"Zmlyc3Q="}]}"#,
        r#"{"value":[{"id":"Zmlyc3Q=","teamsAppDefinition":null}]}"#,
        r#"{"value":[{"id":"Zmlyc3Q=","teamsAppDefinition":{}}]}"#,
        r#"{"value":[{"id":"Zmlyc3Q=","teamsAppDefinition":{"teamsAppId":null}}]}"#,
        r#"{"value":[{"id":"Zmlyc3Q=","teamsAppDefinition":{"teamsAppId":""}}]}"#,
        r#"{"value":[{"id":"Zmlyc3Q=","teamsAppDefinition":{"teamsAppId":"12345678-9abc-def0-1234-56789abcdef"}}]}"#,
        r#"{"value":[{"id":"Zmlyc3Q=","teamsApp":{"id":"12345678-9abc-def0-1234-56789abcdef0"}}]}"#,
    ] {
        assert_eq!(parse_list(200, unknown), Ok(vec![]), "{unknown}");
    }
    // GUIDs compare without regard to case.
    assert_eq!(
        parse_list(200, &listed(&[entry("Zmlyc3Q=", &APP.to_ascii_uppercase())])),
        Ok(vec!["Zmlyc3Q=".to_owned()])
    );
}

#[test]
fn an_entry_of_this_app_without_a_usable_id_is_refused() {
    for (body, err) in [
        (
            format!(r#"{{"value":[{{"teamsAppDefinition":{{"teamsAppId":"{APP}"}}}}]}}"#),
            ExchangeError::MissingField("value[].id"),
        ),
        (
            format!(r#"{{"value":[{{"id":null,"teamsAppDefinition":{{"teamsAppId":"{APP}"}}}}]}}"#),
            ExchangeError::MissingField("value[].id"),
        ),
        (
            listed(&[entry("", APP)]),
            ExchangeError::MissingField("value[].id"),
        ),
        (
            listed(&[entry("../../me", APP)]),
            ExchangeError::InvalidField("value[].id"),
        ),
        (
            listed(&[entry("abc?x", APP)]),
            ExchangeError::InvalidField("value[].id"),
        ),
        (
            listed(&[entry("abc def", APP)]),
            ExchangeError::InvalidField("value[].id"),
        ),
        (
            listed(&[entry(&"A".repeat(513), APP)]),
            ExchangeError::InvalidField("value[].id"),
        ),
    ] {
        assert_eq!(parse_list(200, &body), Err(err), "{body}");
    }
}

#[test]
fn a_list_beyond_the_bound_is_refused() {
    let hundred: Vec<String> = (0..100).map(|i| entry(&format!("aWQ{i}"), APP)).collect();
    assert_eq!(parse_list(200, &listed(&hundred)).map(|ids| ids.len()), Ok(100));
    let mut more = hundred;
    more.push("{}".to_owned());
    assert_eq!(
        parse_list(200, &listed(&more)),
        Err(ExchangeError::InvalidField("value"))
    );
    // Past the bound, entries are skipped unread: their shape does not matter.
    more.push("17".to_owned());
    assert_eq!(
        parse_list(200, &listed(&more)),
        Err(ExchangeError::InvalidField("value"))
    );
}

#[test]
fn broken_list_answers() {
    for body in ["", "not json", "<html>", r#"{"value":[{"id":"a""#, "[]", "null"] {
        assert!(
            matches!(parse_list(200, body), Err(ExchangeError::Malformed { .. })),
            "{body:?}"
        );
    }
    for body in [
        r#"{"value":{}}"#,
        r#"{"value":"x"}"#,
        r#"{"value":[null]}"#,
        r#"{"value":[17]}"#,
        r#"{"value":[{"id":17,"teamsAppDefinition":{"teamsAppId":"12345678-9abc-def0-1234-56789abcdef0"}}]}"#,
        r#"{"value":[{"id":"a","teamsAppDefinition":{"teamsAppId":17}}]}"#,
        r#"{"value":[{"id":"a","teamsAppDefinition":"12345678-9abc-def0-1234-56789abcdef0"}]}"#,
        r#"{"value":[{"id":"a","teamsAppDefinition":[]}]}"#,
    ] {
        assert!(
            matches!(parse_list(200, body), Err(ExchangeError::Malformed { .. })),
            "{body:?}"
        );
    }
    for body in ["{}", r#"{"value":null}"#, r#"{"@odata.context":"x"}"#] {
        assert_eq!(
            parse_list(200, body),
            Err(ExchangeError::MissingField("value")),
            "{body}"
        );
    }
    let huge = format!(r#"{{"value":[],"pad":"{}"}}"#, "x".repeat(MAX_RESPONSE_BYTES));
    assert_eq!(parse_list(200, &huge), Err(ExchangeError::TooLarge));
}

#[test]
fn list_errors_are_graphs() {
    let forbidden = r#"{"error":{"code":"Forbidden","message":"Missing role permissions on the request. API requires one of 'TeamsAppInstallation.ReadForUser.All, TeamsAppInstallation.ReadWriteSelfForUser.All'. Roles on the request ''.","innerError":{"date":"2026-01-01T00:00:00","request-id":"5a1c3f1e-0000-4000-8000-000000000000"}}}"#;
    let (code, kind, description) = provider_error(parse_list(403, forbidden).unwrap_err());
    assert_eq!((code.as_str(), kind), ("forbidden", ProviderErrorKind::Forbidden));
    assert!(
        description
            .unwrap()
            .contains("TeamsAppInstallation.ReadWriteSelfForUser.All")
    );

    let no_user = r#"{"error":{"code":"Request_ResourceNotFound","message":"Resource '00000000-0000-0000-66f3-3332eca7ea81' does not exist or one of its queried reference-property objects are not present."}}"#;
    let (code, kind, _) = provider_error(parse_list(404, no_user).unwrap_err());
    assert_eq!(
        (code.as_str(), kind),
        ("request_resourcenotfound", ProviderErrorKind::NotFound)
    );

    let throttled = r#"{"error":{"code":"TooManyRequests","message":"Too many requests."}}"#;
    let (code, kind, _) = provider_error(parse_list(429, throttled).unwrap_err());
    assert_eq!(
        (code.as_str(), kind),
        ("toomanyrequests", ProviderErrorKind::RateLimited)
    );

    let expired = r#"{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired or is not yet valid."}}"#;
    let (_, kind, _) = provider_error(parse_list(401, expired).unwrap_err());
    assert_eq!(kind, ProviderErrorKind::TokenRevoked);

    // No Graph error body: the status alone.
    assert_eq!(parse_list(503, "upstream"), Err(ExchangeError::HttpStatus(503)));
    assert_eq!(parse_list(404, ""), Err(ExchangeError::HttpStatus(404)));
    // A redirect is not followed: an upstream failure for the service (502).
    assert_eq!(parse_list(302, ""), Err(ExchangeError::HttpStatus(302)));
    assert_eq!(parse_list(302, "").unwrap_err().status(), 502);
}

// The delete's answers.

#[test]
fn delete_answers() {
    let parse = |status: u16, body: &str| {
        graph::parse_uninstall_for_user(&HttpResponse::new(status, body.as_bytes()))
    };
    assert_eq!(parse(204, ""), Ok(UserUninstall::Removed));
    assert_eq!(parse(200, "{}"), Ok(UserUninstall::Removed));
    assert_eq!(parse(204, "not json"), Ok(UserUninstall::Removed));
    assert_eq!(parse(404, ""), Ok(UserUninstall::AlreadyGone));
    let gone = r#"{"error":{"code":"NotFound","message":"Resource not found."}}"#;
    assert_eq!(parse(404, gone), Ok(UserUninstall::AlreadyGone));

    let forbidden = r#"{"error":{"code":"Forbidden","message":"Missing role permissions on the request. API requires one of 'TeamsAppInstallation.ReadWriteSelfForUser.All'."}}"#;
    let (code, kind, _) = provider_error(parse(403, forbidden).unwrap_err());
    assert_eq!((code.as_str(), kind), ("forbidden", ProviderErrorKind::Forbidden));
    let throttled = r#"{"error":{"code":"TooManyRequests","message":"Too many requests."}}"#;
    let (_, kind, _) = provider_error(parse(429, throttled).unwrap_err());
    assert_eq!(kind, ProviderErrorKind::RateLimited);
    let (_, kind, _) = provider_error(parse(409, r#"{"error":{"code":"Conflict"}}"#).unwrap_err());
    assert_eq!(kind, ProviderErrorKind::Other);
    assert_eq!(parse(500, "<html>"), Err(ExchangeError::HttpStatus(500)));
    assert_eq!(parse(429, ""), Err(ExchangeError::HttpStatus(429)));
}

#[test]
fn list_then_delete() {
    let app = teams();
    let list = graph::user_installs_request(&app, &token(), OID, &app_id()).unwrap();
    assert_eq!(list.method(), "GET");
    let body = listed(&[
        entry("b3RoZXI=", "b1c5353a-7aca-41b3-830f-27d5218fe0e5"),
        entry(INSTALLATION, APP),
    ]);
    let found = graph::parse_user_installs(&HttpResponse::new(200, body.as_bytes()), &app_id()).unwrap();
    let urls: Vec<String> = found
        .iter()
        .map(|id| {
            graph::uninstall_for_user_request(&app, &token(), OID, id)
                .unwrap()
                .url()
                .to_owned()
        })
        .collect();
    assert_eq!(
        urls,
        [format!(
            "https://graph.microsoft.com/v1.0/users/{OID}/teamwork/installedApps/{}%3D",
            INSTALLATION.trim_end_matches('=')
        )]
    );
}

// Nothing panics.

fn all(bytes: &[u8], text: &str) {
    let app = teams();
    for status in [0, 200, 204, 302, 401, 403, 404, 409, 429, 500, 503, u16::MAX] {
        let r = HttpResponse::new(status, bytes);
        let _ = graph::parse_user_installs(&r, &app_id());
        let _ = graph::parse_uninstall_for_user(&r);
    }
    let _ = graph::user_installs_request(&app, &token(), text, &app_id());
    if let Some(app_id) = TeamsAppId::new(text) {
        let req = graph::user_installs_request(&app, &token(), OID, &app_id).unwrap();
        assert!(!req.url().contains('#') && req.url().matches('?').count() == 1);
        let _ = graph::parse_user_installs(&HttpResponse::new(200, bytes), &app_id);
    }
    if let Some(id) = InstallationId::new(text) {
        let req = graph::uninstall_for_user_request(&app, &token(), OID, &id).unwrap();
        let tail = req.url().rsplit_once("/installedApps/").unwrap().1;
        assert!(
            tail.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'-' | b'_')),
            "{tail}"
        );
        let _ = graph::uninstall_for_user_request(&app, &token(), text, &id);
    }
}

proptest! {
    #[test]
    fn nothing_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        all(&bytes, &String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn nothing_panics_on_text(text in "\\PC{0,80}") {
        all(text.as_bytes(), &text);
    }

    #[test]
    fn nothing_panics_on_near_misses(
        id in "[A-Za-z0-9+/=_.?# %-]{0,40}",
        app in "[0-9a-fA-F'-]{0,40}",
        extra in prop_oneof![Just(""), Just(",17"), Just(",null"), Just(",{}"), Just(r#","teamsAppDefinition":{}"#)],
    ) {
        let bodies = [
            format!(r#"{{"value":[{{"id":"{id}","teamsAppDefinition":{{"teamsAppId":"{app}"}}}}{extra}]}}"#),
            format!(r#"{{"value":[{{"id":"{id}"{extra}}}]}}"#),
            listed(&[entry(&id, &app), entry(&id, APP)]),
        ];
        for body in bodies {
            all(body.as_bytes(), &id);
        }
    }
}
