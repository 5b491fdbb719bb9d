//! Webex (`webex-messaging`) through the public API: the authorize URL, the
//! callback, the token request, the person behind the token
//! (`identity_request`), the records and the refresh; error answers and
//! hostile ones.

mod common;

use channel_connect::exchange::{ExchangeError, FlowMismatch, ProviderErrorKind};
use channel_connect::http::HttpResponse;
use channel_connect::provider::webex::{Webex, oauth};
use channel_connect::secret::RefreshToken;
use channel_connect::*;
use common::*;
use serde_json::json;
use time::Duration;

const CLIENT_ID: &str = "C64ab04639eefee4798f58e7bc3fe01d47161be0d97ff0d31e040a6ffe66d7f0a";
const SECRET: &str = "webex-client-secret-value";
/// base64 of `ciscospark://us/ORGANIZATION/96abc2aa-3dcc-11e5-a152-fe34819cdc9a`.
const ORG_ID: &str =
    "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi85NmFiYzJhYS0zZGNjLTExZTUtYTE1Mi1mZTM0ODE5Y2RjOWE";
const ORG_KEY: &str = "96abc2aa-3dcc-11e5-a152-fe34819cdc9a";
/// base64 of `ciscospark://us/PEOPLE/f5b36187-c8dd-4727-8b2f-f9c447f29046`.
const PERSON_ID: &str = "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9mNWIzNjE4Ny1jOGRkLTQ3MjctOGIyZi1mOWM0NDdmMjkwNDY";

fn webex() -> Webex {
    Webex::new(
        ClientId::new(CLIENT_ID).unwrap(),
        Secret::new(SECRET),
        RedirectUri::new(REDIRECT).unwrap(),
    )
}

/// Webex as it was before `check_link`: every other method delegated.
#[derive(Debug)]
struct Unchecked(Webex);

impl Provider for Unchecked {
    fn id(&self) -> &str {
        self.0.id()
    }
    fn display_name(&self) -> &str {
        self.0.display_name()
    }
    fn client_id(&self) -> &ClientId {
        self.0.client_id()
    }
    fn redirect_uri(&self) -> &RedirectUri {
        self.0.redirect_uri()
    }
    fn restrict_workspace<'a>(
        &'a self,
        expected: Option<&'a str>,
    ) -> Result<Option<std::borrow::Cow<'a, str>>, RequestError> {
        self.0.restrict_workspace(expected)
    }
    fn authorize_url(&self, request: &provider::AuthorizeRequest<'_>, out: &mut String) {
        self.0.authorize_url(request, out)
    }
    fn interpret<'q>(
        &self,
        state: &VerifiedState,
        params: &CallbackParams<'q>,
    ) -> Result<ProviderOutcome<'q>, CallbackError> {
        self.0.interpret(state, params)
    }
    fn token_request(
        &self,
        exchange: &exchange::Exchange<'_>,
    ) -> Result<Option<http::HttpRequest>, ExchangeError> {
        self.0.token_request(exchange)
    }
    fn identity_request(
        &self,
        exchange: &exchange::Exchange<'_>,
        token_response: &HttpResponse<'_>,
    ) -> Result<Option<http::HttpRequest>, ExchangeError> {
        self.0.identity_request(exchange, token_response)
    }
    fn records(
        &self,
        exchange: &exchange::Exchange<'_>,
        response: &HttpResponse<'_>,
        now: time::OffsetDateTime,
    ) -> Result<records::StoredRecords, ExchangeError> {
        self.0.records(exchange, response, now)
    }
}

fn core() -> ChannelConnect {
    ChannelConnect::builder(ENV, ORG, KeyRing::new(key(1, 7)))
        .integration(Integration::new("webex", webex()))
        .build()
        .unwrap()
}

const TOKENS: &[u8] = br#"{"access_token":"ZDI3MGEyYzQtNmFl_PF84_1eb65fdf-9643-417f-9974-ad72cae0e10f","expires_in":1209599,"refresh_token":"MDEyMzQ1Njc4OWFiY2RlZg_PF84_1eb65fdf","refresh_token_expires_in":7775999,"token_type":"Bearer"}"#;

fn person(org: &str) -> Vec<u8> {
    json!({
        "id": PERSON_ID, "emails": ["megan@example.com"], "displayName": "Megan Bowen",
        "orgId": org, "type": "person", "created": "2015-10-18T14:26:16.000Z"
    })
    .to_string()
    .into_bytes()
}

#[test]
fn connect_links_the_person_and_keeps_the_token_pair() {
    let core = core();
    let url = issue(
        &core,
        r#"{"integrationIdentifier":"webex","subscriberId":"u1","connectionIdentifier":"webex-1","autoLinkUser":true}"#,
    );
    assert!(url.starts_with("https://webexapis.com/v1/authorize?state="));
    assert_eq!(
        param_names(&url),
        ["state", "client_id", "response_type", "redirect_uri", "scope"]
    );
    assert_eq!(
        param(&url, "scope").as_deref(),
        Some("spark:messages_write spark:rooms_read spark:people_read spark:memberships_read spark:kms")
    );
    let v = verify(
        &core,
        &format!("code=NzFkZTc5Y2Et&state={}", state_of(&url)),
        T0 + 5,
    )
    .unwrap();
    assert_eq!(v.state.provider(), "webex-messaging");
    assert!(v.next.is_none() && v.pkce_verifier().is_none());

    let req = v.token_request().unwrap().expect("a code to redeem");
    assert_eq!(
        (req.method(), req.url()),
        ("POST", "https://webexapis.com/v1/access_token")
    );
    assert_eq!(req.form_field("grant_type"), Some("authorization_code"));
    assert_eq!(req.form_field("client_id"), Some(CLIENT_ID));
    assert_eq!(req.form_field("redirect_uri"), Some(REDIRECT));
    let shown = format!("{req:?}");
    assert!(
        !shown.contains("NzFkZTc5Y2Et") && !shown.contains(SECRET),
        "{shown}"
    );

    let tokens = HttpResponse::new(200, TOKENS);
    let me = v
        .identity_request(&tokens)
        .unwrap()
        .expect("Webex needs people/me");
    assert_eq!(
        (me.method(), me.url()),
        ("GET", "https://webexapis.com/v1/people/me")
    );
    assert!(
        me.header_value("authorization")
            .unwrap()
            .starts_with("Bearer ZDI3MGEyYzQtNmFl")
    );
    assert!(!format!("{me:?}").contains("ZDI3MGEyYzQtNmFl"));

    let now = at(T0 + 6);
    let person = person(ORG_ID);
    let stored = v
        .records_with_identity(&tokens, &HttpResponse::new(200, &person), now)
        .unwrap();
    let c = stored.connection.as_ref().unwrap();
    assert_eq!(
        (
            c.identifier.as_str(),
            c.provider_id.as_str(),
            c.subscriber_id.as_deref()
        ),
        ("webex-1", "webex-messaging", Some("u1"))
    );
    assert_eq!(
        serde_json::to_value(&c.workspace).unwrap(),
        json!({"id": ORG_KEY, "name": "Megan Bowen", "orgId": ORG_ID})
    );
    let auth = c.auth.as_ref().unwrap();
    assert_eq!(auth.expires_at, Some(now + Duration::seconds(1_209_599)));
    // The refresh token's lifetime too (`refresh_token_expires_in`, 90 days).
    assert_eq!(
        auth.refresh_token_expires_at,
        Some(now + Duration::seconds(7_775_999))
    );
    let stored_auth = serde_json::to_value(auth).unwrap();
    assert_eq!(
        (&stored_auth["expiresAt"], &stored_auth["refreshTokenExpiresAt"]),
        (&json!("2026-01-15T00:00:05Z"), &json!("2026-04-01T00:00:05Z"))
    );
    assert_eq!(
        auth.refresh_token.as_ref().map(|t| t.expose()),
        Some("MDEyMzQ1Njc4OWFiY2RlZg_PF84_1eb65fdf")
    );
    assert!(auth.needs_refresh(now + Duration::days(14), Duration::minutes(10)));
    assert!(!format!("{stored:?}").contains("ZDI3MGEyYzQtNmFl"));
    assert_eq!(stored.endpoints.len(), 1);
    let e = &stored.endpoints[0];
    assert_eq!(
        serde_json::to_value(&e.endpoint).unwrap(),
        json!({"type": "webex_person", "endpoint": {"personId": PERSON_ID}})
    );
    assert_eq!(e.connection_identifier.as_deref(), Some("webex-1"));

    // The person's answer is required: the token alone names nobody.
    assert_eq!(
        v.records(&tokens, now).unwrap_err(),
        ExchangeError::WrongFlow(FlowMismatch::NoIdentity)
    );
}

#[test]
fn a_shared_connect_without_auto_link_stores_no_endpoint() {
    let core = core();
    let url = issue(
        &core,
        r#"{"integrationIdentifier":"webex","context":{"tenant":"acme"},"scope":["spark:messages_write"]}"#,
    );
    assert_eq!(param(&url, "scope").as_deref(), Some("spark:messages_write"));
    let v = verify(&core, &format!("code=c&state={}", state_of(&url)), T0 + 5).unwrap();
    let person = person(ORG_ID);
    let stored = v
        .records_with_identity(
            &HttpResponse::new(200, TOKENS),
            &HttpResponse::new(200, &person),
            at(T0 + 6),
        )
        .unwrap();
    assert!(stored.endpoints.is_empty());
    assert!(stored.connection.unwrap().subscriber_id.is_none());
}

#[test]
fn a_link_is_for_a_connection_in_its_organization() {
    let core = core();
    let link = |workspace: Option<&str>, connection: bool| {
        let body = if connection {
            r#"{"integrationIdentifier":"webex","subscriberId":"u2","connectionIdentifier":"webex-1"}"#
        } else {
            r#"{"integrationIdentifier":"webex","subscriberId":"u2"}"#
        };
        let body = LinkUserRequestBody::from_json(body.as_bytes()).unwrap();
        let entropy = entropy();
        let mut params = IssueParams::new(at(T0), &entropy);
        if let Some(w) = workspace {
            params = params.with_workspace(w);
        }
        core.link_user_url(&body, &params)
    };
    // The host pins the link to the stored workspace id (or names the full orgId).
    let issued = link(Some(ORG_ID), true).unwrap();
    assert_eq!(param(&issued.url, "scope").as_deref(), Some("spark:people_read"));
    let v = verify(
        &core,
        &format!("code=c&state={}", issued.state().unwrap()),
        T0 + 5,
    )
    .unwrap();
    assert_eq!(v.state.workspace(), Some(ORG_KEY));
    let tokens = HttpResponse::new(200, TOKENS);
    let ours = person(ORG_ID);
    let stored = v
        .records_with_identity(&tokens, &HttpResponse::new(200, &ours), at(T0 + 6))
        .unwrap();
    assert!(stored.connection.is_none());
    assert_eq!(stored.endpoints[0].endpoint.get("personId"), Some(PERSON_ID));
    assert_eq!(stored.endpoints[0].subscriber_id, "u2");

    // A person of another organization.
    let other_org = base64_of("ciscospark://us/ORGANIZATION/11111111-2222-4333-8444-555555555555");
    let theirs = person(&other_org);
    assert_eq!(
        v.records_with_identity(&tokens, &HttpResponse::new(200, &theirs), at(T0 + 6))
            .unwrap_err(),
        ExchangeError::WrongWorkspace
    );

    // Without a connection to link to: refused at issue (400)...
    let refused = link(None, false).unwrap_err();
    assert_eq!(refused, RequestError::LinkWithoutConnection { provider: "Webex" });
    assert_eq!(
        refused.to_json(),
        json!({"statusCode": 400, "message": "connectionIdentifier is required to link a Webex user"})
    );
    // ...and at the callback, for a state issued without that check (an
    // issuer of its own, here the same Webex without `check_link`).
    let unchecked = ChannelConnect::builder(ENV, ORG, KeyRing::new(key(1, 7)))
        .integration(Integration::new("webex", Unchecked(webex())))
        .build()
        .unwrap();
    let body =
        LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"webex","subscriberId":"u2"}"#).unwrap();
    let entropy = entropy();
    let issued = unchecked
        .link_user_url(&body, &IssueParams::new(at(T0), &entropy))
        .unwrap();
    let v = verify(
        &core,
        &format!("code=c&state={}", issued.state().unwrap()),
        T0 + 5,
    )
    .unwrap();
    assert_eq!(
        v.records_with_identity(&tokens, &HttpResponse::new(200, &ours), at(T0 + 6))
            .unwrap_err(),
        ExchangeError::WrongFlow(FlowMismatch::NoConnectionIdentifier)
    );

    // A workspace that is no Webex organization key cannot be sealed.
    assert!(matches!(
        link(Some("not an org/id"), true),
        Err(RequestError::InvalidWorkspace(_))
    ));
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(s)
}

#[test]
fn error_answers_stop_the_exchange() {
    let core = core();
    let url = issue(&core, r#"{"integrationIdentifier":"webex","subscriberId":"u1"}"#);
    let state = state_of(&url);
    let v = verify(&core, &format!("code=c&state={state}"), T0 + 5).unwrap();

    // The code was used already: no people/me is sent.
    let used = br#"{"message":"POST failed: HTTP/1.1 400 Bad Request (url = https://idbroker.webex.com/idb/oauth2/v1/access_token, error = '(invalid_grant) Authorization code has been used.')","errors":[{"description":"POST failed"}],"trackingId":"ROUTER_6470D2C4-4F2B-01BB-1DB4-0ABE8A9A1DB4"}"#;
    let Err(ExchangeError::Provider(e)) = v.identity_request(&HttpResponse::new(400, used)) else {
        panic!("a provider error")
    };
    assert_eq!(
        (e.code(), e.kind()),
        ("invalid_grant", ProviderErrorKind::InvalidGrant)
    );
    assert_eq!(e.to_string(), "Webex refused the request: invalid_grant");
    assert!(
        e.description()
            .unwrap()
            .contains("Authorization code has been used")
    );

    // people/me refused the new token.
    let tokens = HttpResponse::new(200, TOKENS);
    let refused = v
        .records_with_identity(&tokens, &HttpResponse::new(401, b"{}"), at(T0 + 6))
        .unwrap_err();
    assert!(matches!(&refused, ExchangeError::Provider(p) if p.kind() == ProviderErrorKind::TokenRevoked));
    assert_eq!(
        v.records_with_identity(&tokens, &HttpResponse::new(503, b"<html>"), at(T0 + 6))
            .unwrap_err(),
        ExchangeError::HttpStatus(503)
    );

    // The user pressed "Cancel"; Webex's error is bounded before it is shown.
    let denied = verify(
        &core,
        &format!("error=access_denied&error_description=Denied%3Cb%3E&state={state}"),
        T0 + 5,
    )
    .unwrap_err();
    assert!(
        matches!(&denied, CallbackError::Denied { description, .. } if description.as_deref() == Some("Denied"))
    );
    let hostile = verify(&core, &format!("error=%3Cscript%3E&state={state}"), T0 + 5).unwrap_err();
    assert!(matches!(&hostile, CallbackError::Provider { error, .. } if error == "unrecognized"));
    // Microsoft's parameters have no business here; nor has a missing code.
    assert_eq!(
        verify(&core, &format!("code=c&tenant=x&state={state}"), T0 + 5).unwrap_err(),
        CallbackError::Malformed("tenant")
    );
    assert_eq!(
        verify(&core, &format!("code=&state={state}"), T0 + 5).unwrap_err(),
        CallbackError::MissingParameters
    );
}

#[test]
fn hostile_answers_never_panic() {
    let core = core();
    let url = issue(
        &core,
        r#"{"integrationIdentifier":"webex","subscriberId":"u1","autoLinkUser":true}"#,
    );
    let v = verify(&core, &format!("code=c&state={}", state_of(&url)), T0 + 5).unwrap();
    let bodies: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"\xff\xfe\x00".to_vec(),
        b"[".repeat(50_000),
        b"{\"access_token\":".to_vec(),
        br#"{"access_token":"t","expires_in":1e400}"#.to_vec(),
        br#"{"access_token":"t","expires_in":99999999999999999999}"#.to_vec(),
        br#"{"access_token":"t","expires_in":9223372036854775807}"#.to_vec(),
        br#"{"access_token":["t"]}"#.to_vec(),
        br#"{"id":"\u0000","orgId":"\ud800"}"#.to_vec(),
        br#"{"id":"cA","orgId":"Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi8"}"#.to_vec(),
        vec![b' '; channel_connect::exchange::MAX_RESPONSE_BYTES + 1],
    ];
    for status in [200, 201, 204, 301, 400, 401, 403, 404, 429, 500, 599] {
        for a in &bodies {
            let _ = v.identity_request(&HttpResponse::new(status, a));
            for b in &bodies {
                let _ = v.records_with_identity(
                    &HttpResponse::new(status, a),
                    &HttpResponse::new(status, b),
                    at(T0 + 6),
                );
                let _ = v.records_with_identity(
                    &HttpResponse::new(200, TOKENS),
                    &HttpResponse::new(status, b),
                    at(T0 + 6),
                );
            }
            let _ = oauth::parse_refresh(&HttpResponse::new(status, a), at(T0));
        }
    }
    // Whatever failed, no token of the answer reached the error.
    let err = v
        .records_with_identity(
            &HttpResponse::new(200, br#"{"access_token":"leaky-token","expires_in":"later"}"#),
            &HttpResponse::new(200, &person(ORG_ID)),
            at(T0 + 6),
        )
        .unwrap_err();
    assert!(!format!("{err} {err:?} {}", err.to_json()).contains("leaky-token"));
}

#[test]
fn refresh_is_a_value_and_keeps_rotating() {
    let app = webex();
    let req = oauth::refresh_request(&app, &RefreshToken::new("MDEyMzQ1Njc4OWFi"));
    assert_eq!(req.url(), "https://webexapis.com/v1/access_token");
    assert_eq!(req.form_field("grant_type"), Some("refresh_token"));
    assert_eq!(req.form_field("refresh_token"), Some("MDEyMzQ1Njc4OWFi"));
    assert_eq!(req.form_field("client_id"), Some(CLIENT_ID));
    let shown = format!("{req:?} {app:?}");
    assert!(
        !shown.contains("MDEyMzQ1Njc4OWFi") && !shown.contains(SECRET),
        "{shown}"
    );

    let refreshed = oauth::parse_refresh(&HttpResponse::new(200, TOKENS), at(T0)).unwrap();
    assert_eq!(refreshed.expires_at, Some(at(T0 + 1_209_599)));
    assert_eq!(refreshed.refresh_token_expires_at, Some(at(T0 + 7_775_999)));
    let auth = refreshed.auth_record();
    assert_eq!(auth.token_type.as_deref(), Some("Bearer"));
    assert_eq!(auth.refresh_token_expires_at, Some(at(T0 + 7_775_999)));
    assert_eq!(
        oauth::parse_refresh(
            &HttpResponse::new(200, br#"{"access_token":"a","expires_in":60}"#),
            at(T0)
        )
        .unwrap_err(),
        ExchangeError::MissingField("refresh_token")
    );
    // A stand-in (or a regional host) serves the same paths.
    let local = app.with_base_url(BaseUrl::new("http://127.0.0.1:3000/standin/webex").unwrap());
    let req = oauth::refresh_request(&local, &RefreshToken::new("r"));
    assert_eq!(req.url(), "http://127.0.0.1:3000/standin/webex/v1/access_token");
}

#[test]
fn a_refresh_updates_the_refresh_tokens_expiry() {
    // Stored at the connect, 15 days before the refresh.
    let connected = oauth::parse_token(&HttpResponse::new(200, TOKENS), at(T0)).unwrap();
    let before = connected.auth_record();
    assert_eq!(before.refresh_token_expires_at, Some(at(T0 + 7_775_999)));
    let later = T0 + 15 * 86_400;
    let refresh = |body: &str| {
        oauth::parse_refresh(&HttpResponse::new(200, body.as_bytes()), at(later))
            .unwrap()
            .auth_record_after(Some(&before))
    };
    // Webex extends the refresh token in use and says for how long: the new expiry.
    let extended = refresh(
        r#"{"access_token":"NmY0ZDQ5YjMtYzE4","expires_in":1209600,"refresh_token":"MDEyMzQ1Njc4OWFiY2RlZg_PF84_1eb65fdf","refresh_token_expires_in":7776000}"#,
    );
    assert_eq!(extended.access_token.expose(), "NmY0ZDQ5YjMtYzE4");
    assert_eq!(extended.expires_at, Some(at(later + 1_209_600)));
    assert_eq!(extended.refresh_token_expires_at, Some(at(later + 7_776_000)));
    let json = serde_json::to_value(&extended).unwrap();
    assert_eq!(json["refreshTokenExpiresAt"], "2026-04-16T00:00:00Z");
    // The same refresh token, its lifetime unsaid: the stored expiry stays.
    let same = refresh(
        r#"{"access_token":"NmY0ZDQ5YjMtYzE4","expires_in":1209600,"refresh_token":"MDEyMzQ1Njc4OWFiY2RlZg_PF84_1eb65fdf"}"#,
    );
    assert_eq!(same.refresh_token_expires_at, before.refresh_token_expires_at);
    // A new refresh token without a lifetime: unknown, not the old one's.
    let rotated = refresh(
        r#"{"access_token":"NmY0ZDQ5YjMtYzE4","expires_in":1209600,"refresh_token":"bmV3LXJlZnJlc2gtdG9rZW4"}"#,
    );
    assert_eq!(rotated.refresh_token_expires_at, None);
    assert!(
        !serde_json::to_string(&rotated)
            .unwrap()
            .contains("refreshTokenExpiresAt")
    );
    // Nothing before (a record stored without it): what the answer says.
    let fresh = oauth::parse_refresh(&HttpResponse::new(200, TOKENS), at(later)).unwrap();
    assert_eq!(
        fresh.auth_record_after(None).refresh_token_expires_at,
        Some(at(later + 7_775_999))
    );
    // A record stored before the field existed still reads.
    let old: records::AuthRecord = serde_json::from_value(json!({
        "accessToken": "ZDI3MGEy", "refreshToken": "MDEy", "expiresAt": "2026-01-15T00:00:00Z"
    }))
    .unwrap();
    assert_eq!(old.refresh_token_expires_at, None);
}

/// A connect for subscriber u1, its callback verified (with code `c`).
fn connect_callback(core: &ChannelConnect) -> VerifiedCallback<'static> {
    let url = issue(core, r#"{"integrationIdentifier":"webex","subscriberId":"u1"}"#);
    verify(core, &format!("code=c&state={}", state_of(&url)), T0 + 5).unwrap()
}

#[test]
fn an_error_body_in_a_success_sends_no_people_me() {
    let v = connect_callback(&core());
    // An answer that says it failed is a failure, whatever its status and
    // whatever else it carries: no token of it goes to people/me.
    for body in [
        &br#"{"error":"invalid_grant","error_description":"Authorization code has been used.","access_token":"left-over"}"#[..],
        br#"{"error":{"code":"invalid_grant"},"access_token":"left-over"}"#,
        br#"{"message":"POST failed (error = '(invalid_grant) used')","errors":[{"description":"POST failed"}],"trackingId":"ROUTER_1","access_token":"left-over"}"#,
    ] {
        for status in [200, 201] {
            let refused = v.identity_request(&HttpResponse::new(status, body));
            assert!(refused.is_err(), "{status} {}: {refused:?}", String::from_utf8_lossy(body));
            let refused = refused.unwrap_err();
            assert!(!format!("{refused} {refused:?}").contains("left-over"));
            // Nor is it stored, nor taken for a refresh.
            let person = person(ORG_ID);
            assert!(
                v.records_with_identity(&HttpResponse::new(status, body), &HttpResponse::new(200, &person), at(T0 + 6))
                    .is_err()
            );
            assert!(oauth::parse_refresh(&HttpResponse::new(status, body), at(T0)).is_err());
        }
    }
}

#[test]
fn an_access_token_that_cannot_be_a_header_value_is_refused() {
    let v = connect_callback(&core());
    // The token goes into people/me's Authorization header: a line break
    // (or any control character, a space, non-ASCII) in it would write
    // other headers, or a second request, into that call.
    for token in [
        "a\r\nHost: attacker.example",
        "a\nX-Injected: 1",
        "a\r\n\r\nGET /v1/people/me HTTP/1.1",
        "tok en",
        "tok\ten",
        "tok\u{0}en",
        "tök",
        "tok\u{2028}en",
    ] {
        let body = json!({"access_token": token, "expires_in": 1_209_599, "refresh_token": "r"}).to_string();
        let answer = HttpResponse::new(200, body.as_bytes());
        let refused = v.identity_request(&answer);
        assert_eq!(
            refused.as_ref().err(),
            Some(&ExchangeError::InvalidField("access_token")),
            "{token:?}: {:?}",
            refused.as_ref().map(|r| r
                .as_ref()
                .map(|r| r.header_value("authorization").map(str::to_owned)))
        );
        // A refresh answering one is refused too (it would be stored and sent).
        assert_eq!(
            oauth::parse_refresh(&answer, at(T0)).unwrap_err(),
            ExchangeError::InvalidField("access_token")
        );
    }
    // Webex's own tokens (and a base64 one with padding) pass.
    for token in [
        "ZDI3MGEyYzQtNmFl_PF84_1eb65fdf-9643-417f-9974-ad72cae0e10f",
        "YWJj+/d==",
        "a.b~c",
    ] {
        let body = json!({"access_token": token, "expires_in": 60}).to_string();
        let me = v
            .identity_request(&HttpResponse::new(200, body.as_bytes()))
            .unwrap()
            .unwrap();
        assert_eq!(
            me.header_value("authorization"),
            Some(format!("Bearer {token}").as_str())
        );
    }
}

#[test]
fn only_a_refusal_proves_a_refresh_token_dead() {
    // invalid_grant in a 400 is Webex refusing the refresh token: the host
    // marks the connection for reconnection.
    let dead = br#"{"message":"POST failed: HTTP/1.1 400 Bad Request (url = https://idbroker.webex.com/idb/oauth2/v1/access_token, error = '(invalid_grant) The refresh token provided is expired, revoked, malformed, or invalid.')","errors":[{"description":"POST failed"}],"trackingId":"ROUTER_1"}"#;
    let Err(ExchangeError::Provider(e)) = oauth::parse_refresh(&HttpResponse::new(400, dead), at(T0)) else {
        panic!("a provider error")
    };
    assert_eq!(e.kind(), ProviderErrorKind::InvalidGrant);
    // The same words from a gateway's error page, or in a success, prove
    // nothing about the token: a connection must not be marked dead (and
    // stop being refreshed) on a Webex outage.
    let oauth_body = br#"{"error":"invalid_grant","error_description":"expired"}"#;
    for status in [200, 500, 502, 503, 504] {
        for body in [&dead[..], &oauth_body[..]] {
            let err = oauth::parse_refresh(&HttpResponse::new(status, body), at(T0)).unwrap_err();
            assert!(
                !matches!(&err, ExchangeError::Provider(p) if p.kind() == ProviderErrorKind::InvalidGrant),
                "{status}: {err:?}"
            );
            assert_ne!(err.status(), 400, "{status}: {err:?}");
        }
    }
}
