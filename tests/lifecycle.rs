//! After the callback: any cloud (GovSlack, Microsoft's national clouds, a
//! loopback stand-in), Slack token rotation and revocation, Teams app-only
//! tokens and the app installation for a linked user. Bodies are the
//! providers' documented answers.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use channel_connect::exchange::{ExchangeError, IdTokenError, ProviderErrorKind};
use channel_connect::http::HttpResponse;
use channel_connect::provider::msteams::graph::{self, AppDistribution, UserInstall};
use channel_connect::provider::msteams::token as microsoft;
use channel_connect::provider::msteams::{US_GOVERNMENT_GRAPH, US_GOVERNMENT_LOGIN};
use channel_connect::provider::slack::{GOVSLACK_BASE_URL, oauth};
use channel_connect::records::AuthRecord;
use channel_connect::secret::{AccessToken, RefreshToken};
use channel_connect::*;
use common::*;
use serde_json::json;
use time::Duration;

const TENANT_ID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OID: &str = "00000000-0000-0000-66f3-3332eca7ea81";

fn govslack() -> Slack {
    slack().with_base_url(BaseUrl::new(GOVSLACK_BASE_URL).unwrap())
}

fn usgov_teams() -> MsTeams {
    teams()
        .with_authority(BaseUrl::new(US_GOVERNMENT_LOGIN).unwrap())
        .with_graph(BaseUrl::new(US_GOVERNMENT_GRAPH).unwrap())
}

fn core_with(slack: Slack, teams: MsTeams) -> ChannelConnect {
    ChannelConnect::builder(ENV, ORG, KeyRing::new(key(1, 7)))
        .integration(Integration::new("slack", slack))
        .integration(Integration::new("msteams", teams))
        .build()
        .unwrap()
}

fn id_token_answer(issuer_host: &str, tid: &str) -> Vec<u8> {
    let b64 = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap());
    let claims = json!({"aud": TEAMS_CLIENT_ID, "iss": format!("{issuer_host}/{tid}/v2.0"), "tid": tid, "oid": OID,
        "iat": T0, "nbf": T0, "exp": T0 + 3600});
    let jwt = format!(
        "{}.{}.c2ln",
        b64(json!({"alg": "RS256", "typ": "JWT"})),
        b64(claims)
    );
    serde_json::to_vec(
        &json!({"token_type": "Bearer", "scope": "openid profile", "expires_in": 3599,
        "access_token": "eyJ0.delegated", "id_token": jwt}),
    )
    .unwrap()
}

#[test]
fn govslack_sends_every_request_to_its_own_host() {
    let core = core_with(govslack(), teams());
    let url = issue(&core, r#"{"integrationIdentifier":"slack","subscriberId":"u1"}"#);
    assert!(
        url.starts_with("https://slack-gov.com/oauth/v2/authorize?state="),
        "{url}"
    );
    let v = verify(&core, &format!("code=c&state={}", state_of(&url)), T0 + 5).unwrap();
    assert_eq!(
        v.token_request().unwrap().unwrap().url(),
        "https://slack-gov.com/api/oauth.v2.access"
    );
    let app = govslack();
    let token = channel_connect::secret::RefreshToken::new("xoxe-1-refresh");
    assert_eq!(
        oauth::refresh_request(&app, &token).url(),
        "https://slack-gov.com/api/oauth.v2.access"
    );
    assert_eq!(
        oauth::revoke_request(&app, &channel_connect::secret::AccessToken::new("xoxb-1")).url(),
        "https://slack-gov.com/api/auth.revoke"
    );
}

#[test]
fn a_national_cloud_is_used_end_to_end_and_its_issuer_checked() {
    let core = core_with(slack(), usgov_teams());
    let url = issue(
        &core,
        r#"{"integrationIdentifier":"msteams","context":{"k":"acme"}}"#,
    );
    assert!(
        url.starts_with("https://login.microsoftonline.us/organizations/v2.0/adminconsent?"),
        "{url}"
    );
    assert_eq!(
        param(&url, "scope").as_deref(),
        Some("https://graph.microsoft.us/.default")
    );
    let consent = verify(
        &core,
        &format!("admin_consent=True&tenant={TENANT_ID}&state={}", state_of(&url)),
        T0 + 5,
    )
    .unwrap();
    let next = consent.next.unwrap();
    assert!(next.url.starts_with(&format!(
        "https://login.microsoftonline.us/{TENANT_ID}/oauth2/v2.0/authorize?"
    )));
    let proof = verify(&core, &format!("code=c&state={}", state_of(&next.url)), T0 + 10).unwrap();
    let req = proof.token_request().unwrap().unwrap();
    assert_eq!(
        req.url(),
        format!("https://login.microsoftonline.us/{TENANT_ID}/oauth2/v2.0/token")
    );
    // The issuer follows the authority: a global-cloud token is refused here.
    let global = id_token_answer("https://login.microsoftonline.com", TENANT_ID);
    assert_eq!(
        proof
            .records(&HttpResponse::new(200, &global), at(T0 + 11))
            .unwrap_err(),
        ExchangeError::IdToken(IdTokenError::Issuer)
    );
    let usgov = id_token_answer("https://login.microsoftonline.us", TENANT_ID);
    assert!(
        proof
            .records(&HttpResponse::new(200, &usgov), at(T0 + 11))
            .unwrap()
            .connection
            .is_some()
    );
    // Linking a user asks for User.Read on that cloud's Graph.
    assert_eq!(
        usgov_teams().sign_in_scope(true),
        "openid profile https://graph.microsoft.us/User.Read"
    );
}

#[test]
fn a_loopback_stand_in_is_allowed_plain_http_elsewhere_is_not() {
    let stand_in = BaseUrl::new("http://127.0.0.1:8025").unwrap();
    let core = core_with(
        slack().with_base_url(stand_in.clone()),
        teams().with_authority(stand_in.clone()).with_graph(stand_in),
    );
    let url = issue(&core, r#"{"integrationIdentifier":"slack","subscriberId":"u1"}"#);
    assert!(url.starts_with("http://127.0.0.1:8025/oauth/v2/authorize?state="));
    for bad in [
        "http://example.com",
        "http://127.0.0.1.example.com",
        "https://user:pw@slack.com",
    ] {
        let e = BaseUrl::new(bad).unwrap_err();
        assert!(e.to_string().starts_with("base URL "), "{bad}: {e}");
    }
}

/// Slack's token rotation answer
/// (<https://api.slack.com/authentication/rotation>).
const ROTATED: &[u8] = br#"{
    "ok": true,
    "app_id": "A0KRD7HC3",
    "authed_user": {"id": "U1234"},
    "scope": "commands,incoming-webhook",
    "token_type": "bot",
    "access_token": "xoxe.xoxb-1-MS0yLTIyMDI4NjM0Mjg4NTEtMjYxNDg2OTg2MjE",
    "bot_user_id": "U0KRQLJ9H",
    "refresh_token": "xoxe-1-My0xLTIyMDI4NjM0Mjg4NTEtMjYxNDg2OTg2MjE",
    "expires_in": 43200,
    "team": {"id": "T9TK3CUKW", "name": "Slack Softball Team"},
    "enterprise": null,
    "is_enterprise_install": false
}"#;

#[test]
fn slack_token_rotation() {
    let app = slack();
    let old = RefreshToken::new("xoxe-1-old-refresh-token");
    let req = oauth::refresh_request(&app, &old);
    assert_eq!(req.url(), "https://slack.com/api/oauth.v2.access");
    assert_eq!(req.form_field("grant_type"), Some("refresh_token"));
    assert_eq!(req.form_field("refresh_token"), Some("xoxe-1-old-refresh-token"));
    assert!(req.header_value("authorization").unwrap().starts_with("Basic "));
    assert!(!format!("{req:?}").contains("old-refresh"));

    let refreshed = oauth::parse_refresh(&HttpResponse::new(200, ROTATED), at(T0)).unwrap();
    assert_eq!(refreshed.expires_at, at(T0 + 43200));
    let auth = refreshed.auth_record();
    assert!(auth.refresh_token.unwrap().expose().starts_with("xoxe-1-My0x"));
    assert!(!format!("{refreshed:?}").contains("xoxe.xoxb"));

    for (code, kind) in [
        ("invalid_refresh_token", ProviderErrorKind::InvalidGrant),
        ("invalid_grant_type", ProviderErrorKind::InvalidGrant),
        ("bad_client_secret", ProviderErrorKind::InvalidClient),
    ] {
        let body = json!({"ok": false, "error": code}).to_string();
        let ExchangeError::Provider(e) =
            oauth::parse_refresh(&HttpResponse::new(200, body.as_bytes()), at(T0)).unwrap_err()
        else {
            panic!("{code}")
        };
        assert_eq!((e.code(), e.kind()), (code, kind));
    }
    // A refresh without a new refresh token would lose the rotation.
    let partial = br#"{"ok":true,"access_token":"xoxe.xoxb-1","token_type":"bot","expires_in":43200}"#;
    assert_eq!(
        oauth::parse_refresh(&HttpResponse::new(200, partial), at(T0)).unwrap_err(),
        ExchangeError::MissingField("refresh_token")
    );
}

#[test]
fn needs_refresh_follows_the_expiry_and_the_margin() {
    let auth = oauth::parse_refresh(&HttpResponse::new(200, ROTATED), at(T0))
        .unwrap()
        .auth_record();
    let margin = Duration::minutes(5);
    assert!(!auth.needs_refresh(at(T0), margin));
    assert!(!auth.needs_refresh(at(T0 + 43200 - 301), margin));
    assert!(auth.needs_refresh(at(T0 + 43200 - 300), margin));
    assert!(auth.needs_refresh(at(T0 + 50000), margin));
    let forever = AuthRecord {
        expires_at: None,
        ..auth.clone()
    };
    assert!(
        !forever.needs_refresh(at(T0 + 10_000_000), margin),
        "a token that never expires"
    );
}

#[test]
fn slack_revoke() {
    let token = AccessToken::new("xoxb-to-revoke");
    let req = oauth::revoke_request(&slack(), &token);
    assert_eq!(
        (req.method(), req.url()),
        ("POST", "https://slack.com/api/auth.revoke")
    );
    assert_eq!(req.header_value("Authorization"), Some("Bearer xoxb-to-revoke"));
    assert!(!format!("{req:?}").contains("to-revoke"));
    assert!(oauth::parse_revoke(&HttpResponse::new(200, br#"{"ok":true,"revoked":true}"#)).unwrap());
    assert!(!oauth::parse_revoke(&HttpResponse::new(200, br#"{"ok":true}"#)).unwrap());
    for code in ["invalid_auth", "token_revoked", "not_authed", "account_inactive"] {
        let body = json!({"ok": false, "error": code}).to_string();
        let ExchangeError::Provider(e) =
            oauth::parse_revoke(&HttpResponse::new(200, body.as_bytes())).unwrap_err()
        else {
            panic!("{code}")
        };
        assert_eq!(e.kind(), ProviderErrorKind::TokenRevoked, "{code}");
    }
}

#[test]
fn teams_app_only_token_for_a_tenant() {
    let app = teams();
    let tenant = Tenant::new(TENANT_ID).unwrap();
    let req = microsoft::app_only_token_request(&app, &tenant);
    assert_eq!(
        req.url(),
        format!("https://login.microsoftonline.com/{TENANT_ID}/oauth2/v2.0/token")
    );
    assert_eq!(req.form_field("grant_type"), Some("client_credentials"));
    assert_eq!(
        req.form_field("scope"),
        Some("https://graph.microsoft.com/.default")
    );
    let body = br#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0eXAiOiJKV1Qi.app"}"#;
    let token = microsoft::parse_app_only_token(&HttpResponse::new(200, body), at(T0)).unwrap();
    assert_eq!(token.expires_at(), Some(at(T0 + 3599)));
    let usgov = microsoft::app_only_token_request(&usgov_teams(), &tenant);
    assert_eq!(
        usgov.form_field("scope"),
        Some("https://graph.microsoft.us/.default")
    );
    assert!(usgov.url().starts_with("https://login.microsoftonline.us/"));
}

#[test]
fn teams_app_installation_for_a_linked_user() {
    let app = teams();
    let token = AccessToken::new("app-only-token");
    let find = graph::find_app_request(&app, &token, AppDistribution::Organization);
    assert_eq!(find.method(), "GET");
    assert_eq!(find.header_value("authorization"), Some("Bearer app-only-token"));
    // The documented answer of GET /appCatalogs/teamsApps.
    let listed = br#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#appCatalogs/teamsApps","value":[{"id":"b1c5353a-7aca-41b3-830f-27d5218fe0e5","externalId":"00000000-0000-0000-0000-000000000abc","displayName":"Test App","distributionMethod":"organization"}]}"#;
    let found = graph::parse_find_app(&HttpResponse::new(200, listed)).unwrap();
    assert_eq!(found.as_str(), "b1c5353a-7aca-41b3-830f-27d5218fe0e5");
    let empty = br#"{"@odata.context":"x","value":[]}"#;
    let ExchangeError::Provider(e) = graph::parse_find_app(&HttpResponse::new(200, empty)).unwrap_err()
    else {
        panic!("not found")
    };
    assert_eq!(
        (e.code(), e.kind()),
        ("app_not_in_catalog", ProviderErrorKind::NotFound)
    );

    let install = graph::install_for_user_request(&app, &token, OID, &found).unwrap();
    assert_eq!(
        install.url(),
        format!("https://graph.microsoft.com/v1.0/users/{OID}/teamwork/installedApps")
    );
    let sent: serde_json::Value = serde_json::from_str(install.body()).unwrap();
    assert_eq!(
        sent,
        json!({"teamsApp@odata.bind": "https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/b1c5353a-7aca-41b3-830f-27d5218fe0e5"})
    );
    assert_eq!(
        graph::parse_install_for_user(&HttpResponse::new(201, b"")).unwrap(),
        UserInstall::Installed
    );
    let conflict = br#"{"error":{"code":"Conflict","message":"App is already installed for the user."}}"#;
    assert_eq!(
        graph::parse_install_for_user(&HttpResponse::new(409, conflict)).unwrap(),
        UserInstall::AlreadyInstalled
    );
    let forbidden = br#"{"error":{"code":"Forbidden","message":"Missing role permissions on the request. API requires one of 'TeamsAppInstallation.ReadWriteSelfForUser.All'. Roles on the request ''.","innerError":{"date":"2026-01-01T00:00:00","request-id":"5a1c3f1e-0000-4000-8000-000000000000"}}}"#;
    let e = graph::parse_install_for_user(&HttpResponse::new(403, forbidden)).unwrap_err();
    assert_eq!(e.status(), 403);
    let ExchangeError::Provider(e) = e else { panic!() };
    assert_eq!((e.code(), e.kind()), ("forbidden", ProviderErrorKind::Forbidden));
    assert!(e.description().unwrap().contains("TeamsAppInstallation"));
    assert_eq!(
        graph::parse_install_for_user(&HttpResponse::new(503, b"upstream")).unwrap_err(),
        ExchangeError::HttpStatus(503)
    );
}
