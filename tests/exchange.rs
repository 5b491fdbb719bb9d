//! Code exchange through the public API: the requests a verified callback
//! leads to, and the parsers of realistic Slack and Microsoft answers.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use channel_connect::provider::msteams::token::{self as microsoft, DelegatedSignIn, TokenEndpointClaims};
use channel_connect::provider::slack::oauth as slack;
use channel_connect::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

// A redirect URI with a port and a query, to show it is re-sent byte for byte.
const REDIRECT: &str = "https://api.example.com:8443/v1/integrations/chat/oauth/callback?env=prod";
const SLACK_CLIENT_ID: &str = "1234567890.1234567890";
const SLACK_SECRET: &str = "slack-client-secret-8f14e45fceea167a";
const TEAMS_CLIENT_ID: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";
const TEAMS_SECRET: &str = "teams-client-secret-c9f0f895fb98ab91";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OID: &str = "00000000-0000-0000-66f3-3332eca7ea81";
const T0: i64 = 1_767_225_600;

const SLACK_CODE: &str = "4724469134.4738498362.slack-code-secret";
const TEAMS_CODE: &str = "0.AXkAv4j5cvGGr0GRqy180BHbR-teams-code-secret";
const BOT_TOKEN: &str = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy";
const USER_TOKEN: &str = "xoxp-1234-5678-user-token-secret";
const WEBHOOK_URL: &str = "https://hooks.slack.com/TXXXXX/BXXXXX/XXXXXXXXXX-webhook-secret";
const ROTATED_BOT_TOKEN: &str = "xoxe.xoxb-1-rotated-bot-token-secret";
const BOT_REFRESH: &str = "xoxe-1-bot-refresh-token-secret";
const MS_ACCESS_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJub25jZSI6.ms-access-token-secret";
const MS_APP_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.ms-app-token-secret";

fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap()
}

fn slack_app() -> Slack {
    Slack::new(
        ClientId::new(SLACK_CLIENT_ID).unwrap(),
        Secret::new(SLACK_SECRET),
        RedirectUri::new(REDIRECT).unwrap(),
    )
}

fn teams_app() -> MsTeams {
    MsTeams::new(
        ClientId::new(TEAMS_CLIENT_ID).unwrap(),
        Secret::new(TEAMS_SECRET),
        RedirectUri::new(REDIRECT).unwrap(),
    )
}

fn core() -> ChannelConnect {
    let keys = KeyRing::new(SigningKey::new(KeyId(1), &[7u8; 32]).unwrap());
    ChannelConnect::builder("env-1", "org-1", keys)
        .integration(Integration::new("slack", slack_app()))
        .integration(Integration::new("msteams", teams_app()))
        .build()
        .unwrap()
}

fn connect(core: &ChannelConnect, json: &str) -> String {
    let body = ConnectRequestBody::from_json(json.as_bytes()).unwrap();
    core.connect_url(&body, &IssueParams::new(at(T0), &Entropy([0x42; 32])))
        .unwrap()
        .url
}

fn verify(core: &ChannelConnect, query: &str, now: i64) -> VerifiedCallback<'static> {
    let params = CallbackParams::parse(query).unwrap();
    core.verify_callback(&params, &VerifyParams::at(at(now)))
        .unwrap()
        .into_owned()
}

/// A query parameter (or form field), percent-decoded.
fn param(query_or_url: &str, name: &str) -> Option<String> {
    let query = query_or_url.split_once('?').map_or(query_or_url, |(_, q)| q);
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The raw (still encoded) value of a parameter.
fn raw_param<'a>(query_or_url: &'a str, name: &str) -> Option<&'a str> {
    let query = query_or_url.split_once('?').map_or(query_or_url, |(_, q)| q);
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

fn field_names(body: &str) -> Vec<String> {
    url::form_urlencoded::parse(body.as_bytes())
        .map(|(k, _)| k.into_owned())
        .collect()
}

fn b64url(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// A JWT with a JSON header and payload and a dummy signature.
fn jwt(claims: &Value) -> String {
    let header = json!({"typ": "JWT", "alg": "RS256", "kid": "nOo3ZDrODXEK1jKWhXslHR_KXEg"});
    format!(
        "{}.{}.bm90LWEtcmVhbC1zaWduYXR1cmU",
        b64url(&header),
        b64url(claims)
    )
}

/// The claims of a v2.0 id_token for the `openid profile` scopes, issued at `now - 10`.
fn claims(now: i64) -> Value {
    json!({
        "aud": TEAMS_CLIENT_ID,
        "iss": format!("https://login.microsoftonline.com/{TENANT}/v2.0"),
        "iat": now - 10,
        "nbf": now - 10,
        "exp": now + 3590,
        "name": "Megan Bowen",
        "oid": OID,
        "preferred_username": "MeganB@contoso.onmicrosoft.com",
        "rh": "0.AXkAv4j5cvGGr0GRqy180BHbR3bej5qRFM5Ju9vpBWDLd1I5AAA.",
        "sub": "Vr3pQ7iqU3JvG2nD4J8Qm3n5h0F9dJ6a8Wk1x2y3z4A",
        "tid": TENANT,
        "uti": "AbCdEfGh-KLmn-OpQrSt",
        "ver": "2.0"
    })
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn without(mut v: Value, key: &str) -> Value {
    v.as_object_mut().unwrap().remove(key);
    v
}

fn delegated_body(id_token: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "token_type": "Bearer",
        "scope": "openid profile User.Read email",
        "expires_in": 4763,
        "ext_expires_in": 4763,
        "access_token": MS_ACCESS_TOKEN,
        "id_token": id_token
    }))
    .unwrap()
}

fn parse_delegated(body: &[u8], now: i64) -> Result<DelegatedSignIn, ExchangeError> {
    microsoft::parse_delegated_response(
        &teams_app(),
        &HttpResponse::new(200, body),
        &Tenant::organizations(),
        at(now),
    )
}

/// A provider error's code, kind and detail.
fn provider_error(e: ExchangeError) -> ProviderError {
    match e {
        ExchangeError::Provider(e) => e,
        other => panic!("a provider error, not {other:?}"),
    }
}

fn id_token_error(claims: &Value, now: i64) -> IdTokenError {
    match parse_delegated(&delegated_body(&jwt(claims)), now) {
        Err(ExchangeError::IdToken(e)) => e,
        other => panic!("expected an id_token error, got {other:?}"),
    }
}

fn slack_install_body() -> Value {
    json!({
        "ok": true,
        "access_token": BOT_TOKEN,
        "token_type": "bot",
        "scope": "chat:write,chat:write.public,channels:read,groups:read,users:read,users:read.email",
        "bot_user_id": "U0KRQLJ9H",
        "app_id": "A0KRD7HC3",
        "team": {"name": "Slack Softball Team", "id": "T9TK3CUKW"},
        "enterprise": {"name": "slack-sports", "id": "E12345678"},
        "is_enterprise_install": false,
        "authed_user": {
            "id": "U1234",
            "scope": "chat:write",
            "access_token": USER_TOKEN,
            "token_type": "user"
        }
    })
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

// ---------------------------------------------------------------- Slack

#[test]
fn slack_request_resends_the_authorize_redirect_uri_byte_for_byte() {
    let core = core();
    let url = connect(
        &core,
        r#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#,
    );
    let state = param(&url, "state").unwrap();
    let v = verify(&core, &format!("code={SLACK_CODE}&state={state}"), T0 + 20);
    let req = v.token_request().unwrap().expect("a Slack code is exchanged");

    assert_eq!(req.method(), "POST");
    assert_eq!(req.url(), "https://slack.com/api/oauth.v2.access");
    assert_eq!(
        req.header_value("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(req.header_value("Accept"), Some("application/json"));
    let basic = STANDARD.encode(format!("{SLACK_CLIENT_ID}:{SLACK_SECRET}"));
    assert_eq!(
        req.header_value("Authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert!(
        req.headers()
            .iter()
            .any(|h| h.name() == "Authorization" && h.is_sensitive())
    );

    assert_eq!(field_names(req.body()), ["code", "redirect_uri"]);
    assert_eq!(param(req.body(), "code").as_deref(), Some(SLACK_CODE));
    // Same decoded value as the authorize URL's, and the same encoded bytes.
    assert_eq!(param(req.body(), "redirect_uri"), param(&url, "redirect_uri"));
    assert_eq!(param(req.body(), "redirect_uri").as_deref(), Some(REDIRECT));
    assert_eq!(
        raw_param(req.body(), "redirect_uri"),
        raw_param(&url, "redirect_uri")
    );
    // Credentials travel in the header only.
    assert_eq!(param(req.body(), "client_secret"), None);
}

#[test]
fn slack_link_user_code_uses_the_same_endpoint() {
    let core = core();
    let body = LinkUserRequestBody::from_json(
        br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#,
    )
    .unwrap();
    let url = core
        .link_user_url(&body, &IssueParams::new(at(T0), &Entropy([9; 32])))
        .unwrap()
        .url;
    let state = param(&url, "state").unwrap();
    let v = verify(&core, &format!("code={SLACK_CODE}&state={state}"), T0 + 5);
    let req = v.token_request().unwrap().unwrap();
    assert_eq!(req.url(), "https://slack.com/api/oauth.v2.access");
    assert_eq!(req.form_field("redirect_uri"), Some(REDIRECT));
}

#[test]
fn slack_workspace_install() {
    let install = slack::parse_install(&HttpResponse::new(200, &bytes(&slack_install_body()))).unwrap();
    assert_eq!(install.app_id, "A0KRD7HC3");
    assert_eq!(install.access_token.expose(), BOT_TOKEN);
    assert_eq!(install.token_type, "bot");
    assert_eq!(
        install.scopes,
        [
            "chat:write",
            "chat:write.public",
            "channels:read",
            "groups:read",
            "users:read",
            "users:read.email"
        ]
    );
    assert_eq!(install.bot_user_id, "U0KRQLJ9H");
    let team = install.team.as_ref().unwrap();
    assert_eq!(
        (team.id.as_str(), team.name.as_deref()),
        ("T9TK3CUKW", Some("Slack Softball Team"))
    );
    assert_eq!(install.enterprise.as_ref().unwrap().id, "E12345678");
    assert!(!install.is_enterprise_install);
    assert_eq!(install.workspace().unwrap().id, "T9TK3CUKW");
    let user = install.authed_user.as_ref().unwrap();
    assert_eq!(user.id, "U1234");
    assert_eq!(user.scopes, ["chat:write"]);
    assert_eq!(user.access_token.as_ref().unwrap().expose(), USER_TOKEN);
    assert_eq!(user.token_type.as_deref(), Some("user"));
    assert_eq!((user.refresh_token.as_ref(), user.expires_in), (None, None));
    assert!(install.incoming_webhook.is_none());
    assert_eq!((install.refresh_token.as_ref(), install.expires_in), (None, None));
}

#[test]
fn slack_org_wide_install_has_no_team() {
    let body = json!({
        "ok": true,
        "app_id": "A0KRD7HC3",
        "authed_user": {"id": "W0AB1CD2E"},
        "scope": "chat:write,users:read",
        "token_type": "bot",
        "access_token": BOT_TOKEN,
        "bot_user_id": "U0KRQLJ9H",
        "team": null,
        "enterprise": {"id": "E0AB1CD2E", "name": "Acme Grid"},
        "is_enterprise_install": true
    });
    let install = slack::parse_install(&HttpResponse::new(200, &bytes(&body))).unwrap();
    assert!(install.team.is_none());
    assert!(install.is_enterprise_install);
    let org = install.workspace().unwrap();
    assert_eq!(
        (org.id.as_str(), org.name.as_deref()),
        ("E0AB1CD2E", Some("Acme Grid"))
    );
    let user = install.authed_user.unwrap();
    assert_eq!(user.id, "W0AB1CD2E");
    assert!(user.access_token.is_none() && user.scopes.is_empty());

    // Neither a team nor an enterprise: nowhere to post.
    let nowhere = with(body, "enterprise", Value::Null);
    assert_eq!(
        slack::parse_install(&HttpResponse::new(200, &bytes(&nowhere))).unwrap_err(),
        ExchangeError::MissingField("team")
    );
}

#[test]
fn slack_incoming_webhook() {
    let body = with(
        slack_install_body(),
        "incoming_webhook",
        json!({
            "channel": "#alerts",
            "channel_id": "C05002EAE",
            "configuration_url": "https://teamname.slack.com/services/BXXXXX",
            "url": WEBHOOK_URL
        }),
    );
    let hook = slack::parse_install(&HttpResponse::new(200, &bytes(&body)))
        .unwrap()
        .incoming_webhook
        .unwrap();
    assert_eq!(hook.channel.as_deref(), Some("#alerts"));
    assert_eq!(hook.channel_id, "C05002EAE");
    assert_eq!(
        hook.configuration_url.as_deref(),
        Some("https://teamname.slack.com/services/BXXXXX")
    );
    assert_eq!(hook.url.expose(), WEBHOOK_URL);

    let no_url = with(
        slack_install_body(),
        "incoming_webhook",
        json!({"channel": "#alerts", "channel_id": "C05002EAE"}),
    );
    assert_eq!(
        slack::parse_install(&HttpResponse::new(200, &bytes(&no_url))).unwrap_err(),
        ExchangeError::MissingField("incoming_webhook.url")
    );
}

#[test]
fn slack_token_rotation() {
    let mut body = slack_install_body();
    body["access_token"] = json!(ROTATED_BOT_TOKEN);
    body["refresh_token"] = json!(BOT_REFRESH);
    body["expires_in"] = json!(43200);
    body["authed_user"]["refresh_token"] = json!("xoxe-1-user-refresh-secret");
    body["authed_user"]["expires_in"] = json!(43199);
    let install = slack::parse_install(&HttpResponse::new(200, &bytes(&body))).unwrap();
    assert_eq!(install.access_token.expose(), ROTATED_BOT_TOKEN);
    assert_eq!(install.refresh_token.as_ref().unwrap().expose(), BOT_REFRESH);
    assert_eq!(install.expires_in, Some(43200));
    let user = install.authed_user.unwrap();
    assert_eq!(user.refresh_token.unwrap().expose(), "xoxe-1-user-refresh-secret");
    assert_eq!(user.expires_in, Some(43199));
}

#[test]
fn slack_errors_are_typed() {
    use ProviderErrorKind as K;
    let cases = [
        ("invalid_code", K::InvalidGrant, 400),
        ("code_already_used", K::InvalidGrant, 400),
        ("bad_redirect_uri", K::RedirectUriMismatch, 400),
        ("invalid_client_id", K::InvalidClient, 502),
        ("ratelimited", K::RateLimited, 429),
        ("<b>not a code</b>", K::Other, 502),
    ];
    for (wire, kind, status) in cases {
        let body = bytes(&json!({"ok": false, "error": wire}));
        for err in [
            slack::parse_install(&HttpResponse::new(200, &body)).unwrap_err(),
            slack::parse_user_sign_in(&HttpResponse::new(200, &body)).unwrap_err(),
        ] {
            assert_eq!(err.status(), status, "{wire}");
            let e = provider_error(err);
            assert_eq!((e.provider(), e.kind()), ("Slack", kind), "{wire}");
            let code = if wire.starts_with('<') {
                "unrecognized"
            } else {
                wire
            };
            assert_eq!(e.code(), code);
        }
    }
    let err = slack::parse_install(&HttpResponse::new(
        200,
        br#"{"ok":false,"error":"code_already_used"}"#,
    ))
    .unwrap_err();
    assert_eq!(err.to_string(), "Slack refused the request: code_already_used");
    assert_eq!(
        provider_error(slack::parse_install(&HttpResponse::new(200, br#"{"ok":false}"#)).unwrap_err()).code(),
        "unrecognized"
    );
    // Slack's errors come with 200; a 429 or a proxy's 502 is refused as such.
    let e = provider_error(slack::parse_install(&HttpResponse::new(429, b"")).unwrap_err());
    assert_eq!(e.kind(), K::RateLimited);
    assert_eq!(
        slack::parse_install(&HttpResponse::new(502, b"<html>Bad Gateway</html>")).unwrap_err(),
        ExchangeError::HttpStatus(502)
    );
}

#[test]
fn slack_malformed_and_incomplete_answers() {
    let secretish = "xoxb-must-not-be-echoed";
    for body in [
        format!(r#"{{"ok":true,"access_token":"{secretish}"#),
        format!(r#"{{"ok":true,"access_token":"{secretish}","expires_in":"{secretish}"}}"#),
        format!(r#"{{"ok":"{secretish}"}}"#),
        format!(r#"["{secretish}"]"#),
        "<html>502 Bad Gateway</html>".to_owned(),
    ] {
        let err = slack::parse_install(&HttpResponse::new(200, body.as_bytes())).unwrap_err();
        assert!(matches!(err, ExchangeError::Malformed { .. }), "{body}: {err:?}");
        assert!(!err.to_string().contains(secretish), "{err}");
        assert!(!format!("{err:?}").contains(secretish), "{err:?}");
    }
    let missing = [
        ("app_id", without(slack_install_body(), "app_id")),
        (
            "access_token",
            with(slack_install_body(), "access_token", json!("")),
        ),
        ("token_type", without(slack_install_body(), "token_type")),
        (
            "bot_user_id",
            with(slack_install_body(), "bot_user_id", Value::Null),
        ),
        (
            "team.id",
            with(slack_install_body(), "team", json!({"name": "x"})),
        ),
        ("ok", without(slack_install_body(), "ok")),
    ];
    for (field, body) in missing {
        assert_eq!(
            slack::parse_install(&HttpResponse::new(200, &bytes(&body))).unwrap_err(),
            ExchangeError::MissingField(field)
        );
    }
    let huge = vec![b' '; exchange::MAX_RESPONSE_BYTES + 1];
    assert_eq!(
        slack::parse_install(&HttpResponse::new(200, &huge)).unwrap_err(),
        ExchangeError::TooLarge
    );
}

#[test]
fn slack_user_sign_in() {
    let body = json!({
        "ok": true,
        "app_id": "A0KRD7HC3",
        "authed_user": {
            "id": "U1234",
            "scope": "identity.basic",
            "access_token": USER_TOKEN,
            "token_type": "user"
        },
        "team": {"id": "T9TK3CUKW"},
        "enterprise": null,
        "is_enterprise_install": false
    });
    let sign_in = slack::parse_user_sign_in(&HttpResponse::new(200, &bytes(&body))).unwrap();
    assert_eq!(sign_in.app_id.as_deref(), Some("A0KRD7HC3"));
    assert_eq!(sign_in.authed_user.id, "U1234");
    assert_eq!(sign_in.authed_user.scopes, ["identity.basic"]);
    assert_eq!(
        sign_in.authed_user.access_token.as_ref().unwrap().expose(),
        USER_TOKEN
    );
    assert_eq!(sign_in.team.as_ref().map(|t| t.id.as_str()), Some("T9TK3CUKW"));
    assert_eq!(sign_in.team.as_ref().unwrap().name, None);
    assert!(sign_in.enterprise.is_none());

    // Not an install: no bot token.
    assert_eq!(
        slack::parse_install(&HttpResponse::new(200, &bytes(&body))).unwrap_err(),
        ExchangeError::MissingField("access_token")
    );
    assert_eq!(
        slack::parse_user_sign_in(&HttpResponse::new(
            200,
            &bytes(&without(body.clone(), "authed_user"))
        ))
        .unwrap_err(),
        ExchangeError::MissingField("authed_user")
    );
    assert_eq!(
        slack::parse_user_sign_in(&HttpResponse::new(
            200,
            &bytes(&with(body, "authed_user", json!({"scope": "x"})))
        ))
        .unwrap_err(),
        ExchangeError::MissingField("authed_user.id")
    );
}

// ---------------------------------------------------------------- Microsoft

/// Connect (admin consent) → proof sign-in in the claimed tenant → its callback.
fn teams_sign_in(core: &ChannelConnect) -> (VerifiedCallback<'static>, VerifiedCallback<'static>) {
    let url = connect(
        core,
        r#"{"integrationIdentifier":"msteams","subscriberId":"subscriber-123"}"#,
    );
    let state = param(&url, "state").unwrap();
    let consent = verify(
        core,
        &format!(
            "admin_consent=True&tenant={TENANT}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&state={state}"
        ),
        T0 + 30,
    );
    let next = consent
        .next
        .as_ref()
        .expect("an admin consent continues with the proof sign-in");
    let state = param(&next.url, "state").unwrap();
    let sign_in = verify(core, &format!("code={TEAMS_CODE}&state={state}"), T0 + 60);
    (consent, sign_in)
}

#[test]
fn microsoft_code_verifier_matches_the_challenge_sent() {
    let core = core();
    let (consent, sign_in) = teams_sign_in(&core);
    let next = consent.next.unwrap();
    let challenge = param(&next.url, "code_challenge").unwrap();
    assert_eq!(param(&next.url, "code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(sign_in.state.purpose(), Purpose::ConnectProof);
    assert_eq!(sign_in.state.workspace(), Some(TENANT));

    let req = sign_in
        .token_request()
        .unwrap()
        .expect("a sign-in code is exchanged");
    assert_eq!(req.method(), "POST");
    // The code is redeemed in the tenant the sign-in ran in: the claimed one.
    assert_eq!(
        req.url(),
        format!("https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token")
    );
    assert_eq!(
        req.header_value("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(req.header_value("Accept"), Some("application/json"));
    assert_eq!(req.header_value("Authorization"), None);
    assert_eq!(
        field_names(req.body()),
        [
            "client_id",
            "scope",
            "code",
            "redirect_uri",
            "grant_type",
            "client_secret",
            "code_verifier"
        ]
    );
    let field = |n| param(req.body(), n);
    assert_eq!(field("client_id").as_deref(), Some(TEAMS_CLIENT_ID));
    assert_eq!(field("scope").as_deref(), Some("openid profile User.Read"));
    assert_eq!(field("code").as_deref(), Some(TEAMS_CODE));
    assert_eq!(field("redirect_uri"), param(&next.url, "redirect_uri"));
    assert_eq!(field("grant_type").as_deref(), Some("authorization_code"));
    assert_eq!(field("client_secret").as_deref(), Some(TEAMS_SECRET));

    let verifier = field("code_verifier").unwrap();
    assert_eq!(verifier.len(), 43);
    assert_eq!(
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
        challenge
    );
    assert_eq!(core.pkce_verifier(&sign_in.state).unwrap().expose(), verifier);
}

#[test]
fn an_admin_consent_leads_to_no_exchange() {
    let core = core();
    let (consent, _) = teams_sign_in(&core);
    assert!(consent.token_request().unwrap().is_none());
}

#[test]
fn microsoft_app_only_token_request() {
    let app = teams_app();
    let tenant = Tenant::new(TENANT).unwrap();
    let req = microsoft::app_only_token_request(&app, &tenant);
    assert_eq!(
        req.url(),
        format!("https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token")
    );
    assert_eq!(
        field_names(req.body()),
        ["client_id", "scope", "client_secret", "grant_type"]
    );
    assert_eq!(req.form_field("client_id"), Some(TEAMS_CLIENT_ID));
    assert_eq!(
        req.form_field("scope"),
        Some("https://graph.microsoft.com/.default")
    );
    assert_eq!(req.form_field("client_secret"), Some(TEAMS_SECRET));
    assert_eq!(req.form_field("grant_type"), Some("client_credentials"));
    assert_eq!(req.header_value("Authorization"), None);
}

#[test]
fn microsoft_delegated_response_with_a_good_id_token() {
    let now = T0 + 60;
    let id_token = jwt(&claims(now));
    let sign_in = parse_delegated(&delegated_body(&id_token), now).unwrap();
    assert_eq!(sign_in.access_token.expose(), MS_ACCESS_TOKEN);
    assert_eq!(sign_in.token_type, "Bearer");
    assert_eq!(sign_in.scopes, ["openid", "profile", "User.Read", "email"]);
    assert_eq!(sign_in.expires_in, Some(4763));
    assert!(sign_in.refresh_token.is_none());
    assert_eq!(sign_in.id_token.expose(), id_token);
    let c: &TokenEndpointClaims = &sign_in.claims;
    assert_eq!(c.object_id(), OID);
    assert_eq!(c.tenant_id(), TENANT);
    assert_eq!(c.audience(), TEAMS_CLIENT_ID);
    assert_eq!(
        c.issuer(),
        format!("https://login.microsoftonline.com/{TENANT}/v2.0")
    );
    assert_eq!(c.expires_at(), at(now + 3590));
    assert_eq!(c.not_before(), Some(at(now - 10)));
    assert_eq!(c.issued_at(), Some(at(now - 10)));
    assert_eq!(c.name(), Some("Megan Bowen"));
    assert_eq!(c.preferred_username(), Some("MeganB@contoso.onmicrosoft.com"));

    // A refresh token (offline_access) and expires_in as a string are read too.
    let mut body: Value = serde_json::from_slice(&delegated_body(&id_token)).unwrap();
    body["refresh_token"] = json!("0.AXkA-refresh-token-secret");
    body["expires_in"] = json!("3599");
    let sign_in = parse_delegated(&bytes(&body), now).unwrap();
    assert_eq!(
        sign_in.refresh_token.unwrap().expose(),
        "0.AXkA-refresh-token-secret"
    );
    assert_eq!(sign_in.expires_in, Some(3599));

    // An audience array with the client id alone is the same audience.
    let one = with(claims(now), "aud", json!([TEAMS_CLIENT_ID]));
    assert!(parse_delegated(&delegated_body(&jwt(&one)), now).is_ok());
}

#[test]
fn microsoft_id_token_audience() {
    let now = T0;
    for aud in [
        json!("00000003-0000-0000-c000-000000000000"),
        json!(""),
        json!([TEAMS_CLIENT_ID, "00000003-0000-0000-c000-000000000000"]),
        json!([]),
    ] {
        assert_eq!(
            id_token_error(&with(claims(now), "aud", aud.clone()), now),
            IdTokenError::Audience,
            "{aud}"
        );
    }
    // Several audiences are accepted when azp names this client.
    let many = with(
        with(claims(now), "aud", json!([TEAMS_CLIENT_ID, "api://other"])),
        "azp",
        json!(TEAMS_CLIENT_ID),
    );
    assert!(parse_delegated(&delegated_body(&jwt(&many)), now).is_ok());
    assert_eq!(
        id_token_error(&without(claims(now), "aud"), now),
        IdTokenError::MissingClaim("aud")
    );
}

#[test]
fn microsoft_id_token_issuer() {
    let now = T0;
    let other_tenant = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
    for iss in [
        format!("https://login.microsoftonline.com/{other_tenant}/v2.0"),
        format!("https://sts.windows.net/{TENANT}/"),
        format!("https://login.microsoftonline.com/{TENANT}/v2.0/"),
        "https://login.microsoftonline.com/{tenantid}/v2.0".to_owned(),
        format!("https://evil.example/{TENANT}/v2.0"),
    ] {
        assert_eq!(
            id_token_error(&with(claims(now), "iss", json!(iss)), now),
            IdTokenError::Issuer,
            "{iss}"
        );
    }
    assert_eq!(
        id_token_error(&without(claims(now), "iss"), now),
        IdTokenError::MissingClaim("iss")
    );
}

#[test]
fn microsoft_id_token_times_with_leeway() {
    let now = T0;
    let leeway = microsoft::ID_TOKEN_LEEWAY_SECS;
    assert_eq!(leeway, 300);
    let exp = |e: i64| with(claims(now), "exp", json!(e));
    let nbf = |n: i64| with(claims(now), "nbf", json!(n));
    assert!(parse_delegated(&delegated_body(&jwt(&exp(now - leeway + 1))), now).is_ok());
    assert_eq!(id_token_error(&exp(now - leeway), now), IdTokenError::Expired);
    assert_eq!(id_token_error(&exp(now - 86_400), now), IdTokenError::Expired);
    assert!(parse_delegated(&delegated_body(&jwt(&nbf(now + leeway))), now).is_ok());
    assert_eq!(
        id_token_error(&nbf(now + leeway + 1), now),
        IdTokenError::NotYetValid
    );
    assert_eq!(id_token_error(&nbf(now + 86_400), now), IdTokenError::NotYetValid);
    // nbf is optional in OIDC; exp is not.
    assert!(parse_delegated(&delegated_body(&jwt(&without(claims(now), "nbf"))), now).is_ok());
    assert_eq!(
        id_token_error(&without(claims(now), "exp"), now),
        IdTokenError::MissingClaim("exp")
    );
    assert_eq!(
        id_token_error(&exp(i64::MAX), now),
        IdTokenError::InvalidClaim("exp")
    );
    assert!(matches!(
        parse_delegated(
            &delegated_body(&jwt(&with(claims(now), "exp", json!("soon")))),
            now
        ),
        Err(ExchangeError::IdToken(IdTokenError::Malformed))
    ));
}

#[test]
fn microsoft_id_token_identity_claims() {
    let now = T0;
    assert_eq!(
        id_token_error(&without(claims(now), "oid"), now),
        IdTokenError::MissingClaim("oid")
    );
    assert_eq!(
        id_token_error(&with(claims(now), "oid", json!("")), now),
        IdTokenError::MissingClaim("oid")
    );
    assert_eq!(
        id_token_error(&without(claims(now), "tid"), now),
        IdTokenError::MissingClaim("tid")
    );
    let not_guid = with(
        with(claims(now), "tid", json!("contoso.onmicrosoft.com")),
        "iss",
        json!("https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"),
    );
    assert_eq!(id_token_error(&not_guid, now), IdTokenError::TenantId);

    // The consumer tenant (personal accounts) is never a Teams organization.
    let consumer = "9188040d-6c67-4c5b-b112-36a304b66dad";
    let personal = with(
        with(claims(now), "tid", json!(consumer)),
        "iss",
        json!(format!("https://login.microsoftonline.com/{consumer}/v2.0")),
    );
    assert_eq!(id_token_error(&personal, now), IdTokenError::ConsumerTenant);

    // A GUID tenant segment admits that tenant only.
    let other = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
    let parse_for = |tenant: &str| {
        microsoft::parse_delegated_response(
            &teams_app(),
            &HttpResponse::new(200, &delegated_body(&jwt(&claims(now)))),
            &Tenant::new(tenant).unwrap(),
            at(now),
        )
    };
    assert!(parse_for(&TENANT.to_uppercase()).is_ok());
    assert!(parse_for("contoso.com").is_ok());
    assert_eq!(
        parse_for(other).unwrap_err(),
        ExchangeError::IdToken(IdTokenError::WrongTenant)
    );
}

#[test]
fn microsoft_id_token_must_be_a_jwt() {
    let now = T0;
    let payload = b64url(&claims(now));
    for bad in [
        "not-a-jwt".to_owned(),
        format!("e30.{payload}"),
        format!("e30.{payload}.sig.extra"),
        format!("%%%.{payload}.sig"),
        format!("e30.{payload}!.sig"),
        format!("{}.{payload}.sig", b64url(&json!("header"))),
        format!("e30.{}.sig", URL_SAFE_NO_PAD.encode("not json")),
    ] {
        assert!(
            matches!(
                parse_delegated(&delegated_body(&bad), now),
                Err(ExchangeError::IdToken(IdTokenError::Malformed))
            ),
            "{bad}"
        );
    }
    let mut body: Value = serde_json::from_slice(&delegated_body("x")).unwrap();
    body.as_object_mut().unwrap().remove("id_token");
    assert_eq!(
        parse_delegated(&bytes(&body), now).unwrap_err(),
        ExchangeError::MissingField("id_token")
    );
    body["id_token"] = json!(jwt(&claims(now)));
    body["token_type"] = json!("pop");
    assert_eq!(
        parse_delegated(&bytes(&body), now).unwrap_err(),
        ExchangeError::InvalidField("token_type")
    );
}

fn ms_error(error: &str, description: &str, codes: &[u32]) -> Vec<u8> {
    bytes(&json!({
        "error": error,
        "error_description": description,
        "error_codes": codes,
        "timestamp": "2026-01-01 00:15:00Z",
        "trace_id": "0f9c2a6e-5d1b-4b7e-9d3a-7c2b1e0f4a00",
        "correlation_id": "b3b7f4f1-8c4e-4a5d-9f2e-1a2b3c4d5e6f",
        "error_uri": "https://login.microsoftonline.com/error?code=70008"
    }))
}

#[test]
fn microsoft_delegated_errors() {
    let expired = ms_error(
        "invalid_grant",
        "AADSTS70008: The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource. Trace ID: 0f9c2a6e-5d1b-4b7e-9d3a-7c2b1e0f4a00 Correlation ID: b3b7f4f1-8c4e-4a5d-9f2e-1a2b3c4d5e6f Timestamp: 2026-01-01 00:15:00Z",
        &[70008],
    );
    let e = provider_error(parse_delegated(&expired, T0).unwrap_err());
    assert_eq!(e.code(), "invalid_grant");
    assert_eq!(e.kind(), ProviderErrorKind::InvalidGrant);
    assert_eq!(e.detail(), Some("AADSTS70008"));
    assert!(
        e.description()
            .unwrap()
            .starts_with("AADSTS70008: The provided authorization code")
    );
    assert_eq!(
        e.to_string(),
        "Microsoft refused the request: invalid_grant (AADSTS70008)"
    );

    // Without error_codes the AADSTS number comes from the description.
    let body = bytes(&json!({
        "error": "invalid_grant",
        "error_description": "AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the authorization request."
    }));
    let e = provider_error(parse_delegated(&body, T0).unwrap_err());
    assert_eq!(
        (e.kind(), e.detail()),
        (ProviderErrorKind::InvalidGrant, Some("AADSTS501481"))
    );

    let redeemed = ms_error(
        "invalid_grant",
        "AADSTS54005: OAuth2 Authorization code was already redeemed.",
        &[54005],
    );
    let e = provider_error(parse_delegated(&redeemed, T0).unwrap_err());
    assert_eq!(
        (e.kind(), e.detail()),
        (ProviderErrorKind::InvalidGrant, Some("AADSTS54005"))
    );

    // A bare error.
    let e = provider_error(parse_delegated(br#"{"error":"invalid_grant"}"#, T0).unwrap_err());
    assert_eq!(
        (e.kind(), e.detail(), e.description()),
        (ProviderErrorKind::InvalidGrant, None, None)
    );
    assert_eq!(e.to_string(), "Microsoft refused the request: invalid_grant");

    // Microsoft answers errors with 400: the body is read the same; a 5xx
    // without a JSON body is refused as such.
    let e = microsoft::parse_delegated_response(
        &teams_app(),
        &HttpResponse::new(400, &redeemed),
        &Tenant::organizations(),
        at(T0),
    )
    .unwrap_err();
    assert_eq!(e.status(), 400);
    let e = microsoft::parse_delegated_response(
        &teams_app(),
        &HttpResponse::new(503, b"Service Unavailable"),
        &Tenant::organizations(),
        at(T0),
    )
    .unwrap_err();
    assert_eq!(e, ExchangeError::HttpStatus(503));
}

#[test]
fn microsoft_app_only_token() {
    let body = bytes(&json!({
        "token_type": "Bearer",
        "expires_in": 3599,
        "ext_expires_in": 3599,
        "access_token": MS_APP_TOKEN
    }));
    let token = microsoft::parse_app_only_token(&HttpResponse::new(200, &body), at(T0)).unwrap();
    assert_eq!(token.access_token().expose(), MS_APP_TOKEN);
    assert_eq!(token.token_type(), "Bearer");
    assert_eq!(token.expires_at(), Some(at(T0 + 3599)));

    assert_eq!(
        microsoft::parse_app_only_token(
            &HttpResponse::new(200, br#"{"token_type":"Bearer","expires_in":3599}"#),
            at(T0)
        )
        .unwrap_err(),
        ExchangeError::MissingField("access_token")
    );
}

#[test]
fn microsoft_app_only_token_errors() {
    let cases = [
        (
            ms_error(
                "unauthorized_client",
                &format!(
                    "AADSTS700016: Application with identifier '{TEAMS_CLIENT_ID}' was not found in the directory 'Contoso'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."
                ),
                &[700016],
            ),
            ProviderErrorKind::NotConsented,
            "unauthorized_client",
            Some("AADSTS700016"),
        ),
        (
            ms_error(
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
                &[7000215],
            ),
            ProviderErrorKind::InvalidClient,
            "invalid_client",
            Some("AADSTS7000215"),
        ),
        (
            ms_error(
                "invalid_grant",
                "AADSTS65001: The user or administrator has not consented to use the application with ID '6731de76-14a6-49ae-97bc-6eba6914391e'.",
                &[65001],
            ),
            ProviderErrorKind::NotConsented,
            "invalid_grant",
            Some("AADSTS65001"),
        ),
        (
            ms_error(
                "temporarily_unavailable",
                "AADSTS50196: The server terminated an operation because it encountered a client request loop.",
                &[50196],
            ),
            ProviderErrorKind::RateLimited,
            "temporarily_unavailable",
            Some("AADSTS50196"),
        ),
        (
            bytes(&json!({"error": "invalid_client"})),
            ProviderErrorKind::InvalidClient,
            "invalid_client",
            None,
        ),
    ];
    for (body, kind, error, detail) in cases {
        let e = provider_error(
            microsoft::parse_app_only_token(&HttpResponse::new(400, &body), at(T0)).unwrap_err(),
        );
        assert_eq!((e.kind(), e.code(), e.detail()), (kind, error, detail));
    }
}

// ---------------------------------------------------------------- secrets

#[test]
fn no_secret_in_debug_or_display() {
    let core = core();
    let now = T0 + 60;

    let slack_url = connect(
        &core,
        r#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#,
    );
    let slack_state = param(&slack_url, "state").unwrap();
    let slack_cb = verify(&core, &format!("code={SLACK_CODE}&state={slack_state}"), T0 + 20);
    let slack_req = slack_cb.token_request().unwrap().unwrap();
    let (consent, sign_in_cb) = teams_sign_in(&core);
    assert!(consent.token_request().unwrap().is_none());
    let app_only_req = microsoft::app_only_token_request(&teams_app(), &Tenant::new(TENANT).unwrap());
    let sign_in_req = sign_in_cb.token_request().unwrap().unwrap();
    let verifier = sign_in_req.form_field("code_verifier").unwrap().to_owned();
    let basic = STANDARD.encode(format!("{SLACK_CLIENT_ID}:{SLACK_SECRET}"));

    let mut rotated = with(
        slack_install_body(),
        "incoming_webhook",
        json!({"channel": "#a", "channel_id": "C1", "url": WEBHOOK_URL}),
    );
    rotated["refresh_token"] = json!(BOT_REFRESH);
    let install = slack::parse_install(&HttpResponse::new(200, &bytes(&rotated))).unwrap();
    let id_token = jwt(&claims(now));
    let sign_in = parse_delegated(&delegated_body(&id_token), now).unwrap();
    let app_only = microsoft::parse_app_only_token(
        &HttpResponse::new(
            200,
            &bytes(&json!({"token_type": "Bearer", "expires_in": 3599, "access_token": MS_APP_TOKEN})),
        ),
        at(now),
    )
    .unwrap();

    let errors: Vec<ExchangeError> = vec![
        slack::parse_install(&HttpResponse::new(
            200,
            format!(r#"{{"ok":true,"access_token":"{BOT_TOKEN}"#).as_bytes(),
        ))
        .unwrap_err(),
        slack::parse_install(&HttpResponse::new(
            200,
            format!(r#"{{"ok":true,"expires_in":"{BOT_TOKEN}"}}"#).as_bytes(),
        ))
        .unwrap_err(),
        slack::parse_install(&HttpResponse::new(
            200,
            format!(r#"{{"ok":false,"error":"{BOT_TOKEN}"}}"#).as_bytes(),
        ))
        .unwrap_err(),
        parse_delegated(
            &ms_error(
                "invalid_grant",
                "AADSTS70008: The provided authorization code expired.",
                &[70008],
            ),
            now,
        )
        .unwrap_err(),
        parse_delegated(
            &delegated_body(&jwt(&with(claims(now), "aud", json!(MS_ACCESS_TOKEN)))),
            now,
        )
        .unwrap_err(),
        parse_delegated(
            &delegated_body(&format!("{MS_ACCESS_TOKEN}.{MS_ACCESS_TOKEN}.x")),
            now,
        )
        .unwrap_err(),
    ];

    let mut shown = vec![
        format!("{core:?}"),
        format!("{slack_cb:?}"),
        format!("{sign_in_cb:?}"),
        format!("{slack_req:?}"),
        format!("{app_only_req:?}"),
        format!("{sign_in_req:?}"),
        format!("{:?}", slack_req.headers()),
        format!("{install:?}"),
        format!("{sign_in:?}"),
        format!("{app_only:?}"),
        format!("{:?}", core.pkce_verifier(&sign_in_cb.state)),
    ];
    for e in &errors {
        shown.push(format!("{e:?}"));
        shown.push(e.to_string());
    }
    let secrets = [
        SLACK_SECRET,
        TEAMS_SECRET,
        &basic,
        SLACK_CODE,
        TEAMS_CODE,
        &verifier,
        BOT_TOKEN,
        USER_TOKEN,
        BOT_REFRESH,
        WEBHOOK_URL,
        MS_ACCESS_TOKEN,
        MS_APP_TOKEN,
        &id_token,
    ];
    for text in &shown {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} leaked into {text}");
        }
    }
    // The redaction is visible, and non-secrets still show.
    assert!(
        shown[3].contains("[redacted]") && shown[3].contains("redirect_uri"),
        "{}",
        shown[3]
    );
    assert!(shown[5].contains(TEAMS_CLIENT_ID), "{}", shown[5]);
}
