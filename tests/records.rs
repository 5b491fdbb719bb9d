//! Records from token responses, end to end: request body → authorize URL →
//! callback → token response → what the host stores (as JSON).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use channel_connect::provider::msteams::token as microsoft;
use channel_connect::provider::slack::oauth as slack;
use channel_connect::records::{ChannelEndpointRecord, StoredRecords};
use channel_connect::*;
use serde_json::{Value, json};
use time::OffsetDateTime;

const REDIRECT: &str = "https://api.example.com/v1/integrations/chat/oauth/callback";
const SLACK_CLIENT_ID: &str = "1234567890.1234567890";
const TEAMS_CLIENT_ID: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OID: &str = "00000000-0000-0000-66f3-3332eca7ea81";
const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

const BOT_TOKEN: &str = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy";
const WEBHOOK_URL: &str = "https://hooks.slack.com/TXXXXX/BXXXXX/XXXXXXXXXX-webhook-secret";
const APP_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.ms-app-token-secret";

fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap()
}

fn teams_app() -> MsTeams {
    MsTeams::new(
        ClientId::new(TEAMS_CLIENT_ID).unwrap(),
        Secret::new("teams-secret"),
        RedirectUri::new(REDIRECT).unwrap(),
    )
}

fn core() -> ChannelConnect {
    let keys = KeyRing::new(SigningKey::new(KeyId(1), &[7u8; 32]).unwrap());
    let redirect = || RedirectUri::new(REDIRECT).unwrap();
    ChannelConnect::builder("env-1", "org-1", keys)
        .integration(Integration::new(
            "slack",
            Slack::new(
                ClientId::new(SLACK_CLIENT_ID).unwrap(),
                Secret::new("slack-secret"),
                redirect(),
            ),
        ))
        .integration(Integration::new(
            "msteams",
            MsTeams::new(
                ClientId::new(TEAMS_CLIENT_ID).unwrap(),
                Secret::new("teams-secret"),
                redirect(),
            ),
        ))
        .build()
        .unwrap()
}

fn state_of(url: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

fn connect(core: &ChannelConnect, json: &str) -> String {
    let body = ConnectRequestBody::from_json(json.as_bytes()).unwrap();
    let url = core
        .connect_url(&body, &IssueParams::new(at(T0), &Entropy([0x42; 32])))
        .unwrap()
        .url;
    state_of(&url)
}

fn link_user(core: &ChannelConnect, json: &str) -> String {
    let body = LinkUserRequestBody::from_json(json.as_bytes()).unwrap();
    let url = core
        .link_user_url(&body, &IssueParams::new(at(T0), &Entropy([0x24; 32])))
        .unwrap()
        .url;
    state_of(&url)
}

fn verify(core: &ChannelConnect, query: &str, now: i64) -> VerifiedCallback<'static> {
    let params = CallbackParams::parse(query).unwrap();
    core.verify_callback(&params, &VerifyParams::at(at(now)))
        .unwrap()
        .into_owned()
}

fn slack_code(core: &ChannelConnect, state: &str) -> VerifiedCallback<'static> {
    verify(core, &format!("code=4724.1.abc&state={state}"), T0 + 20)
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

fn slack_install_body() -> Value {
    json!({
        "ok": true,
        "app_id": "A0KRD7HC3",
        "authed_user": {"id": "U1234", "scope": "", "token_type": "user"},
        "scope": "chat:write,incoming-webhook",
        "token_type": "bot",
        "access_token": BOT_TOKEN,
        "bot_user_id": "U0KRQLJ9H",
        "team": {"id": "T9TK3CUKW", "name": "Slack Softball Team"},
        "enterprise": null,
        "is_enterprise_install": false,
        "incoming_webhook": {
            "channel": "#alerts",
            "channel_id": "C05002EAE",
            "configuration_url": "https://teamname.slack.com/services/BXXXXX",
            "url": WEBHOOK_URL
        }
    })
}

#[test]
fn slack_subscriber_install_with_webhook_and_auto_link() {
    let core = core();
    let state = connect(
        &core,
        r#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123","connectionIdentifier":"slack-connection-abc123",
            "context":{"tenant":{"id":"org-acme","data":{"plan":"pro","seats":12}},"app":"web"},
            "scope":["chat:write","incoming-webhook"]}"#,
    );
    let v = slack_code(&core, &state);
    let stored = v
        .records(
            &HttpResponse::new(200, &bytes(&slack_install_body())),
            at(T0 + 21),
        )
        .unwrap();
    let context =
        json!({"app": {"id": "web"}, "tenant": {"id": "org-acme", "data": {"plan": "pro", "seats": 12}}});
    assert_eq!(
        to_json(&stored),
        json!({
            "connection": {
                "identifier": "slack-connection-abc123",
                "integrationIdentifier": "slack",
                "providerId": "slack",
                "subscriberId": "subscriber-123",
                "context": context,
                "workspace": {"id": "T9TK3CUKW", "name": "Slack Softball Team", "botUserId": "U0KRQLJ9H"},
                "auth": {"accessToken": BOT_TOKEN, "tokenType": "bot", "scopes": ["chat:write", "incoming-webhook"]}
            },
            "endpoints": [
                {
                    "type": "slack_user",
                    "endpoint": {"userId": "U1234"},
                    "subscriberId": "subscriber-123",
                    "connectionIdentifier": "slack-connection-abc123",
                    "integrationIdentifier": "slack",
                    "context": context
                },
                {
                    "type": "webhook",
                    "endpoint": {"url": WEBHOOK_URL, "channel": "#alerts", "channelId": "C05002EAE"},
                    "subscriberId": "subscriber-123",
                    "connectionIdentifier": "slack-connection-abc123",
                    "integrationIdentifier": "slack",
                    "context": context
                }
            ]
        })
    );
    // What is stored reads back the same.
    let back: StoredRecords = serde_json::from_value(to_json(&stored)).unwrap();
    assert_eq!(back, stored);
}

#[test]
fn slack_shared_install_has_no_owner_but_links_the_user() {
    let core = core();
    // Novu's PHP SDK example body: shared mode with a subscriber and autoLinkUser.
    let state = connect(
        &core,
        r#"{"subscriberId":"subscriber-123","integrationIdentifier":"slack","connectionIdentifier":"slack-connection-abc123","context":{"key":"org-acme"},"scope":["chat:write","chat:write.public","channels:read"],"connectionMode":"shared","autoLinkUser":true}"#,
    );
    let v = slack_code(&core, &state);
    let body = bytes(&json!({
        "ok": true, "app_id": "A0KRD7HC3", "authed_user": {"id": "U1234"},
        "scope": "chat:write,chat:write.public,channels:read", "token_type": "bot",
        "access_token": BOT_TOKEN, "bot_user_id": "U0KRQLJ9H",
        "team": {"id": "T9TK3CUKW", "name": "Acme"}, "enterprise": null, "is_enterprise_install": false
    }));
    let stored = v.records(&HttpResponse::new(200, &body), at(T0 + 21)).unwrap();
    let connection = stored.connection.unwrap();
    assert_eq!(connection.subscriber_id, None);
    assert_eq!(to_json(&connection.context), json!({"key": {"id": "org-acme"}}));
    assert!(to_json(&connection).get("subscriberId").is_none());
    assert_eq!(stored.endpoints.len(), 1);
    assert_eq!(stored.endpoints[0].endpoint, slack::slack_user_endpoint("U1234"));
    assert_eq!(stored.endpoints[0].subscriber_id, "subscriber-123");
}

#[test]
fn slack_install_without_auto_link_or_subscriber() {
    let core = core();
    let state = connect(
        &core,
        r#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123","autoLinkUser":false,"scope":["chat:write","incoming-webhook"]}"#,
    );
    let stored = (slack_code(&core, &state))
        .records(&HttpResponse::new(200, &bytes(&slack_install_body())), at(T0))
        .unwrap();
    let kinds: Vec<_> = stored
        .endpoints
        .iter()
        .map(|e| to_json(e)["type"].clone())
        .collect();
    assert_eq!(kinds, [json!("webhook")], "no slack_user without autoLinkUser");
    // The generated connection identifier is the connection's identifier.
    let id = stored.connection.unwrap().identifier;
    assert!(id.starts_with("chconn_") && id.len() == 19, "{id}");

    // Context only: a shared connection and no endpoint at all.
    let state = connect(
        &core,
        r#"{"integrationIdentifier":"slack","context":{"tenant":"org-acme"}}"#,
    );
    let mut body = slack_install_body();
    body.as_object_mut().unwrap().remove("incoming_webhook");
    let stored = (slack_code(&core, &state))
        .records(&HttpResponse::new(200, &bytes(&body)), at(T0))
        .unwrap();
    assert!(stored.endpoints.is_empty());
    assert_eq!(stored.connection.unwrap().subscriber_id, None);
}

#[test]
fn slack_org_wide_install_and_token_rotation() {
    let core = core();
    let state = connect(
        &core,
        r#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#,
    );
    let body = bytes(&json!({
        "ok": true,
        "app_id": "A0KRD7HC3",
        "authed_user": {"id": "W0AB1CD2E"},
        "scope": "chat:write",
        "token_type": "bot",
        "access_token": "xoxe.xoxb-1-rotated",
        "refresh_token": "xoxe-1-refresh",
        "expires_in": 43200,
        "bot_user_id": "U0KRQLJ9H",
        "team": null,
        "enterprise": {"id": "E0AB1CD2E", "name": "Acme Grid"},
        "is_enterprise_install": true
    }));
    let now = at(T0 + 21);
    let stored = (slack_code(&core, &state))
        .records(&HttpResponse::new(200, &body), now)
        .unwrap();
    let connection = to_json(&stored.connection.unwrap());
    assert_eq!(
        connection["workspace"],
        json!({"id": "E0AB1CD2E", "name": "Acme Grid", "botUserId": "U0KRQLJ9H", "enterpriseId": "E0AB1CD2E"})
    );
    assert_eq!(
        connection["auth"],
        json!({
            "accessToken": "xoxe.xoxb-1-rotated",
            "tokenType": "bot",
            "refreshToken": "xoxe-1-refresh",
            "expiresAt": "2026-01-01T12:00:21Z",
            "scopes": ["chat:write"]
        })
    );
    assert_eq!(
        to_json(&stored.endpoints[0])["endpoint"],
        json!({"userId": "W0AB1CD2E"})
    );
}

#[test]
fn slack_link_user_gives_one_endpoint() {
    let core = core();
    let state = link_user(
        &core,
        r#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123","connectionIdentifier":"slack-connection-abc123"}"#,
    );
    let v = slack_code(&core, &state);
    assert_eq!(v.state.purpose(), Purpose::LinkUser);
    let body = bytes(&json!({
        "ok": true,
        "app_id": "A0KRD7HC3",
        "authed_user": {"id": "U1234", "scope": "identity.basic", "access_token": "xoxp-1234", "token_type": "user"},
        "team": {"id": "T9TK3CUKW"},
        "enterprise": null,
        "is_enterprise_install": false
    }));
    let stored = v.records(&HttpResponse::new(200, &body), at(T0 + 21)).unwrap();
    assert!(stored.connection.is_none());
    assert_eq!(
        to_json(&stored.endpoints),
        json!([{
            "type": "slack_user",
            "endpoint": {"userId": "U1234"},
            "subscriberId": "subscriber-123",
            "connectionIdentifier": "slack-connection-abc123",
            "integrationIdentifier": "slack"
        }])
    );
}

#[test]
fn slack_errors_pass_through() {
    let core = core();
    let state = connect(
        &core,
        r#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#,
    );
    let v = slack_code(&core, &state);
    assert_eq!(
        v.records(
            &HttpResponse::new(200, br#"{"ok":false,"error":"invalid_code"}"#),
            at(T0)
        )
        .unwrap_err(),
        ExchangeError::Provider(ProviderError::new(
            "Slack",
            Some("invalid_code"),
            ProviderErrorKind::InvalidGrant
        ))
    );
}

fn jwt(claims: &Value) -> String {
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    format!(
        "{}.{}.c2ln",
        b64(&json!({"typ": "JWT", "alg": "RS256"})),
        b64(claims)
    )
}

fn delegated_body(now: i64) -> Vec<u8> {
    let id_token = jwt(&json!({
        "aud": TEAMS_CLIENT_ID,
        "iss": format!("https://login.microsoftonline.com/{TENANT}/v2.0"),
        "iat": now - 5, "nbf": now - 5, "exp": now + 3595,
        "name": "Megan Bowen", "oid": OID, "preferred_username": "MeganB@contoso.onmicrosoft.com",
        "tid": TENANT, "ver": "2.0"
    }));
    bytes(&json!({
        "token_type": "Bearer", "scope": "openid profile User.Read email", "expires_in": 4763,
        "access_token": "eyJ0eXAi.delegated", "id_token": id_token
    }))
}

#[test]
fn teams_connection_and_user_link_come_from_the_proof_sign_in() {
    let core = core();
    let state = connect(
        &core,
        r#"{"integrationIdentifier":"msteams","subscriberId":"subscriber-123","connectionIdentifier":"teams-acme","context":{"tenant":"acme"}}"#,
    );
    let consent = verify(
        &core,
        &format!("admin_consent=True&tenant={TENANT}&state={state}"),
        T0 + 30,
    );
    // The consent proves nothing: nothing to exchange, nothing to store,
    // whatever answer a host feeds it.
    assert!(consent.token_request().unwrap().is_none());
    let app_token = bytes(&json!({
        "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": APP_TOKEN
    }));
    for body in [app_token, delegated_body(T0 + 31)] {
        assert!(matches!(
            consent.records(&HttpResponse::new(200, &body), at(T0 + 31)),
            Err(ExchangeError::WrongFlow(_))
        ));
    }

    // The proof sign-in in the claimed tenant yields the connection and,
    // with autoLinkUser and a subscriber, the user link.
    let next = consent.next.as_ref().unwrap();
    let sign_in = verify(
        &core,
        &format!("code=0.AXkA-code&state={}", state_of(&next.url)),
        T0 + 90,
    );
    let request = sign_in.token_request().unwrap().unwrap();
    assert!(request.url().contains(TENANT), "{}", request.url());
    let stored = sign_in
        .records(&HttpResponse::new(200, &delegated_body(T0 + 91)), at(T0 + 91))
        .unwrap();
    assert_eq!(
        to_json(&stored.connection),
        json!({
            "identifier": "teams-acme",
            "integrationIdentifier": "msteams",
            "providerId": "msteams",
            "subscriberId": "subscriber-123",
            "context": {"tenant": {"id": "acme"}},
            "workspace": {"id": TENANT}
        })
    );
    assert_eq!(
        to_json(&stored.endpoints),
        json!([{
            "type": "ms_teams_user",
            "endpoint": {"userId": OID, "tenantId": TENANT},
            "subscriberId": "subscriber-123",
            "connectionIdentifier": "teams-acme",
            "integrationIdentifier": "msteams",
            "context": {"tenant": {"id": "acme"}}
        }])
    );
    let back: Vec<ChannelEndpointRecord> = serde_json::from_value(to_json(&stored.endpoints)).unwrap();
    assert_eq!(back, stored.endpoints);
}

#[test]
fn teams_shared_proof_yields_the_connection_only() {
    let core = core();
    let state = connect(
        &core,
        r#"{"integrationIdentifier":"msteams","context":{"tenant":"acme"}}"#,
    );
    let consent = verify(
        &core,
        &format!("admin_consent=True&tenant={TENANT}&state={state}"),
        T0 + 30,
    );
    let next = consent.next.as_ref().expect("shared mode is proven too");
    let sign_in = verify(
        &core,
        &format!("code=0.AXkA-code&state={}", state_of(&next.url)),
        T0 + 60,
    );
    let request = sign_in.token_request().unwrap().unwrap();
    assert_eq!(request.form_field("scope"), Some("openid profile"));
    let stored = sign_in
        .records(&HttpResponse::new(200, &delegated_body(T0 + 61)), at(T0 + 61))
        .unwrap();
    assert!(stored.endpoints.is_empty());
    let connection = stored.connection.unwrap();
    assert_eq!(connection.subscriber_id, None);
    assert!(connection.auth.is_none());
}

#[test]
fn teams_errors_pass_through() {
    let core = core();
    let state = connect(
        &core,
        r#"{"integrationIdentifier":"msteams","context":{"tenant":"acme"}}"#,
    );
    let consent = verify(
        &core,
        &format!("admin_consent=True&tenant={TENANT}&state={state}"),
        T0 + 30,
    );
    let next = consent.next.as_ref().unwrap();
    let sign_in = verify(
        &core,
        &format!("code=0.AXkA-code&state={}", state_of(&next.url)),
        T0 + 60,
    );
    let body = br#"{"error":"invalid_grant","error_description":"AADSTS70008: The provided authorization code or refresh token has expired due to it has exceeded the maximum lifetime.","error_codes":[70008]}"#;
    match sign_in.records(&HttpResponse::new(200, body), at(T0 + 61)) {
        Err(ExchangeError::Provider(e)) => {
            assert_eq!(e.kind(), ProviderErrorKind::InvalidGrant)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn builders_refuse_the_wrong_state() {
    let core = core();
    let connect_state = connect(
        &core,
        r#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#,
    );
    let connect_cb = slack_code(&core, &connect_state);
    let sign_in = slack::parse_user_sign_in(&HttpResponse::new(
        200,
        br#"{"ok":true,"authed_user":{"id":"U1"}}"#,
    ))
    .unwrap();
    assert!(matches!(
        slack::user_record(&connect_cb.state, &sign_in),
        Err(ExchangeError::WrongFlow(_))
    ));
    let link_state = link_user(
        &core,
        r#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#,
    );
    let link_cb = slack_code(&core, &link_state);
    let install = slack::parse_install(&HttpResponse::new(200, &bytes(&slack_install_body()))).unwrap();
    assert!(matches!(
        slack::install_records(&link_cb.state, &install, at(T0)),
        Err(ExchangeError::WrongFlow(_))
    ));
    let delegated = microsoft::parse_delegated_response(
        &teams_app(),
        &HttpResponse::new(200, &delegated_body(T0)),
        &Tenant::organizations(),
        at(T0),
    )
    .unwrap();
    assert!(matches!(
        microsoft::user_record(&connect_cb.state, &delegated),
        Err(ExchangeError::WrongFlow(_))
    ));
}

#[test]
fn debug_redacts_what_json_keeps() {
    let core = core();
    let state = connect(
        &core,
        r#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123","scope":["incoming-webhook"]}"#,
    );
    let mut body = slack_install_body();
    body["refresh_token"] = json!("xoxe-1-refresh-secret");
    let stored = (slack_code(&core, &state))
        .records(&HttpResponse::new(200, &bytes(&body)), at(T0))
        .unwrap();
    let debug = format!("{stored:?}");
    let json = serde_json::to_string(&stored).unwrap();
    for secret in [BOT_TOKEN, WEBHOOK_URL, "xoxe-1-refresh-secret"] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
        assert!(json.contains(secret), "{secret} must be stored");
    }
    assert!(
        debug.contains("U0KRQLJ9H") && debug.contains("C05002EAE"),
        "{debug}"
    );
}
