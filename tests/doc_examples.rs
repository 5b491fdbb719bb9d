//! What the API documentation shows, checked in full with the refusals:
//! each test was a long doc example; the docs keep its usage part.

use channel_connect::*;
use time::OffsetDateTime;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const ENV: &str = "6615c4b2e0f3a1b2c3d4e5f6";
const ORG: &str = "6615c4b2e0f3a1b2c3d4e5f7";
const REDIRECT: &str = "https://api.example.com/v1/integrations/chat/oauth/callback";

fn keys() -> KeyRing {
    KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32]).unwrap())
}

fn slack() -> Slack {
    let client = ClientId::new("1234567890.1234567890").unwrap();
    Slack::new(
        client,
        Secret::new("slack-client-secret"),
        RedirectUri::new(REDIRECT).unwrap(),
    )
}

fn teams() -> MsTeams {
    let client = ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e").unwrap();
    MsTeams::new(
        client,
        Secret::new("teams-client-secret"),
        RedirectUri::new(REDIRECT).unwrap(),
    )
}

/// A Slack integration, "slack", in the environment.
fn slack_core() -> ChannelConnect {
    ChannelConnect::builder(ENV, ORG, keys())
        .integration(Integration::new("slack", slack()))
        .build()
        .unwrap()
}

/// Connect subscriber-123 through "slack".
fn slack_body() -> ConnectRequestBody {
    ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)
        .unwrap()
}

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap()
}

// `ChannelConnect::finish_callback` (its docs keep the usage).
#[test]
fn finish_callback_on_the_environment_the_state_names() -> TestResult {
    use time::Duration;
    let now = now();
    let platform = Platform::new(KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?));
    // An environment's configuration, from its database row.
    let load = |environment_id: &str| -> Result<ChannelConnect, ConfigError> {
        let slack = slack();
        ChannelConnect::builder_on(&platform, environment_id, "6615c4b2e0f3a1b2c3d4e5f7")
            .integration(Integration::new("slack", slack))
            .build()
    };
    let body = slack_body();
    let issued =
        load("6615c4b2e0f3a1b2c3d4e5f6")?.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    let query = format!("code=4724.demo-code&state={}", issued.state().unwrap());
    let params = CallbackParams::parse(&query)?;
    let verify = VerifyParams::at(now + Duration::seconds(20));
    let opened = platform.open_callback(&params, &verify)?;
    let environment = load(opened.state().environment_id())?;
    let verified = environment.finish_callback(opened, &verify)?;
    assert!(verified.token_request()?.is_some());

    // Finished on another environment than the one the state names.
    let opened = platform.open_callback(&params, &verify)?;
    let refused = load("6615c4b2e0f3a1b2c3d4e5f8")?
        .finish_callback(opened, &verify)
        .unwrap_err();
    assert!(matches!(refused, CallbackError::State(e) if e.kind() == StateErrorKind::WrongEnvironment));
    Ok(())
}

// `ChannelConnect` (its docs keep the usage).
#[test]
fn state_does_not_open_in_another_environment() -> TestResult {
    use time::Duration;

    let core = slack_core();
    let now = now();
    let body = slack_body();
    let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    let query = format!("code=4724.demo-code&state={}", issued.state().unwrap());
    let params = CallbackParams::parse(&query)?;
    let verify = VerifyParams::at(now + Duration::seconds(30));
    assert_eq!(
        core.verify_callback(&params, &verify)?.state.environment_id(),
        "6615c4b2e0f3a1b2c3d4e5f6"
    );

    // Another environment, even with the same keys, does not act on this state.
    let staging = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f8", "6615c4b2e0f3a1b2c3d4e5f7", keys())
        .integration(Integration::new("slack", slack()))
        .build()?;
    match staging.verify_callback(&params, &verify) {
        Err(CallbackError::State(e)) => assert_eq!(e.kind(), StateErrorKind::WrongEnvironment),
        other => panic!("{other:?}"),
    }
    Ok(())
}

// `ChannelConnect::keys` (its docs keep the usage).
#[test]
fn key_rotation_keeps_then_drops_old_states() -> TestResult {
    let now = now();
    let (key_1, key_2) = ([1_u8; 32], [2_u8; 32]);
    let before = ChannelConnect::builder(
        "6615c4b2e0f3a1b2c3d4e5f6",
        "6615c4b2e0f3a1b2c3d4e5f7",
        KeyRing::new(SigningKey::new(KeyId(1), &key_1)?),
    )
    .integration(Integration::new("slack", slack()))
    .build()?;
    let body = slack_body();
    let issued = before.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;

    // Rotation: key 2 seals from now on; key 1 stays verify-only for one lifetime.
    let ring = KeyRing::new(SigningKey::new(KeyId(2), &key_2)?)
        .with_verify_only(SigningKey::new(KeyId(1), &key_1)?)?;
    let during = ChannelConnect::builder(ENV, ORG, ring)
        .integration(Integration::new("slack", slack()))
        .build()?;
    assert_eq!(during.keys().active().id(), KeyId(2));
    assert!(
        during
            .open_state(issued.state().unwrap(), &VerifyParams::at(now))
            .is_ok()
    );

    // Once key 1 is dropped, its states no longer open.
    let after = ChannelConnect::builder(
        "6615c4b2e0f3a1b2c3d4e5f6",
        "6615c4b2e0f3a1b2c3d4e5f7",
        KeyRing::new(SigningKey::new(KeyId(2), &key_2)?),
    )
    .integration(Integration::new("slack", slack()))
    .build()?;
    let refused = after
        .open_state(issued.state().unwrap(), &VerifyParams::at(now))
        .unwrap_err();
    assert_eq!(refused.kind(), StateErrorKind::UnknownKey);
    Ok(())
}

// `ChannelConnectBuilder::environment_secret_key` (its docs keep the usage).
#[test]
fn environment_secret_key_rotation_and_length() -> TestResult {
    use channel_connect::context_hash::context_hash;
    let now = now();
    let slack = slack();

    // Rotating: the new key and the old one both check contextHash.
    let core = ChannelConnect::builder(ENV, ORG, keys())
        .integration(Integration::new("slack", slack).with_context_hmac(true))
        .environment_secret_key(Secret::new("sk_env_2026_9d41b7c03e5a"))
        .environment_secret_key(Secret::new("sk_env_2025_4e0c2f8b61d7"))
        .build()?;
    let context = serde_json::json!({"tenant": "org-acme"});
    let old_hash = context_hash(b"sk_env_2025_4e0c2f8b61d7", context.as_object().unwrap())?;
    let body = ConnectRequestBody::from_json(
        format!(r#"{{"integrationIdentifier":"slack","context":{context},"contextHash":"{old_hash}"}}"#)
            .as_bytes(),
    )?;
    assert!(
        core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))
            .is_ok()
    );

    // A short key would make contextHash guessable.
    let weak = ChannelConnect::builder(ENV, ORG, keys())
        .environment_secret_key(Secret::new("secret"))
        .build();
    assert_eq!(weak.unwrap_err(), ConfigError::EnvironmentSecretKey);
    Ok(())
}

// `VerifiedCallback::provider` (its docs keep the usage).
#[test]
fn verified_callback_provider_and_repointed_integration() -> TestResult {
    use time::Duration;
    let slack = slack();
    let teams = teams();
    let now = now();
    let core = ChannelConnect::builder(ENV, ORG, keys())
        .integration(Integration::new("chat", slack))
        .build()?;
    let body = ConnectRequestBody::from_json(
        br#"{"integrationIdentifier":"chat","subscriberId":"subscriber-123"}"#,
    )?;
    let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    let query = format!("code=4724.demo-code&state={}", issued.state().unwrap());
    let params = CallbackParams::parse(&query)?;
    let verify = VerifyParams::at(now + Duration::seconds(20));
    let verified = core.verify_callback(&params, &verify)?;
    assert_eq!(
        (verified.provider().id(), verified.provider().display_name()),
        ("slack", "Slack")
    );

    // The integration "chat" now points at Teams: a Slack state is not Teams' to read.
    let repointed = ChannelConnect::builder(ENV, ORG, keys())
        .integration(Integration::new("chat", teams))
        .build()?;
    match repointed.verify_callback(&params, &verify) {
        Err(CallbackError::State(e)) => assert_eq!(e.kind(), StateErrorKind::WrongProvider),
        other => panic!("{other:?}"),
    }
    Ok(())
}

// `VerifiedCallback::token_request` (its docs keep the usage).
#[test]
fn token_request_for_slack_code_and_teams_consent() -> TestResult {
    use time::Duration;
    let slack = slack();
    let teams = teams();
    let core = ChannelConnect::builder(ENV, ORG, keys())
        .integration(Integration::new("slack", slack))
        .integration(Integration::new("msteams", teams))
        .build()?;
    let now = now();
    // Owned: the query and its parameters end with the closure.
    let callback = |query: String| -> Result<VerifiedCallback<'static>, Box<dyn std::error::Error>> {
        let params = CallbackParams::parse(&query)?;
        Ok(core
            .verify_callback(&params, &VerifyParams::at(now + Duration::seconds(20)))?
            .into_owned())
    };
    // A Slack install: redeem the code at oauth.v2.access.
    let body = slack_body();
    let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    let install = callback(format!("code=4724.demo-code&state={}", issued.state().unwrap()))?;
    let request = install.token_request()?.expect("a code to redeem");
    assert_eq!(
        (request.method(), request.url()),
        ("POST", "https://slack.com/api/oauth.v2.access")
    );
    assert_eq!(request.form_field("code"), Some("4724.demo-code"));

    // A Teams admin consent: nothing to redeem (follow `next` instead).
    let body = ConnectRequestBody::from_json(
        br#"{"integrationIdentifier":"msteams","subscriberId":"subscriber-123"}"#,
    )?;
    let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    let consent = callback(format!(
        "admin_consent=True&tenant=72f988bf-86f1-41af-91ab-2d7cd011db47&state={}",
        issued.state().unwrap()
    ))?;
    assert!(consent.token_request()?.is_none());
    assert!(consent.next.is_some());
    Ok(())
}

// `VerifiedCallback::identity_request` (its docs keep the usage).
#[test]
fn webex_identity_request_then_records() -> TestResult {
    use channel_connect::http::HttpResponse;
    use channel_connect::provider::webex::Webex;
    use time::Duration;
    let webex = Webex::new(
        ClientId::new("C64ab04639eefee4798f58e7bc3fe01d47161be0d97ff0d31e040a6ffe66d7f0a")?,
        Secret::new("webex-client-secret"),
        RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    );
    let core = ChannelConnect::builder(ENV, ORG, keys())
        .integration(Integration::new("webex", webex))
        .build()?;
    let now = now();
    let body = ConnectRequestBody::from_json(
        br#"{"integrationIdentifier":"webex","subscriberId":"subscriber-123","autoLinkUser":true}"#,
    )?;
    let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    let query = format!("code=NzFkZTc5Y2Et&state={}", issued.state().unwrap());
    let params = CallbackParams::parse(&query)?;
    let verified = core.verify_callback(&params, &VerifyParams::at(now + Duration::seconds(20)))?;
    let token_request = verified.token_request()?.expect("a code to redeem");
    assert_eq!(token_request.url(), "https://webexapis.com/v1/access_token");
    // Webex answers a token pair, and nothing about whose it is...
    let tokens = br#"{"access_token":"ZDI3MGEyYzQtNmFl","expires_in":1209600,"refresh_token":"MDEyMzQ1Njc4OWFi","refresh_token_expires_in":7776000,"token_type":"Bearer"}"#;
    let tokens = HttpResponse::new(200, tokens);
    let people_me = verified
        .identity_request(&tokens)?
        .expect("Webex needs the person");
    assert_eq!(people_me.url(), "https://webexapis.com/v1/people/me");
    // ...which `GET /v1/people/me` tells.
    let person = br#"{"id":"Y2lzY29zcGFyazovL3VzL1BFT1BMRS9mNWIzNjE4Ny1jOGRkLTQ3MjctOGIyZi1mOWM0NDdmMjkwNDY","emails":["megan@example.com"],"displayName":"Megan Bowen","orgId":"Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi85NmFiYzJhYS0zZGNjLTExZTUtYTE1Mi1mZTM0ODE5Y2RjOWE"}"#;
    let records = verified.records_with_identity(
        &tokens,
        &HttpResponse::new(200, person),
        now + Duration::seconds(21),
    )?;
    assert_eq!(records.connection.unwrap().provider_id, "webex-messaging");
    assert_eq!(records.endpoints[0].endpoint.kind(), "webex_person");

    // Without the person's answer there is nothing to store.
    assert!(verified.records(&tokens, now + Duration::seconds(21)).is_err());
    Ok(())
}

// `IssueParams::with_binding` (its docs keep the usage).
#[test]
fn binding_refuses_another_browser() -> TestResult {
    use sha2::{Digest, Sha256};
    use time::Duration;
    let core = slack_core();
    let now = now();
    let body = slack_body();
    // The `cc_bind` cookie set on the install path, hashed.
    let cookie = "q2xhc3NpYy1jb29raWUtdmFsdWUtMzItYnl0ZXMtbG9uZw";
    let binding = Sha256::digest(cookie);
    let issued = core.connect_url(
        &body,
        &IssueParams::new(now, &Entropy([7; 32])).with_binding(&binding),
    )?;
    let query = format!("code=4724.demo-code&state={}", issued.state().unwrap());
    let params = CallbackParams::parse(&query)?;
    let at = VerifyParams::at(now + Duration::seconds(20));
    // At the callback, the same browser presents the same cookie.
    assert!(
        core.verify_callback(
            &params,
            &VerifyParams {
                binding: Some(&binding),
                ..at
            }
        )
        .is_ok()
    );

    // Another browser (no cookie, or another one) is refused.
    let kind = |r: Result<VerifiedCallback<'_>, CallbackError>| match r {
        Err(CallbackError::State(e)) => Some(e.kind()),
        _ => None,
    };
    assert_eq!(
        kind(core.verify_callback(&params, &at)),
        Some(StateErrorKind::BindingMissing)
    );
    let other = Sha256::digest("another-browser-cookie");
    let other_browser = VerifyParams {
        binding: Some(&other),
        ..at
    };
    assert_eq!(
        kind(core.verify_callback(&params, &other_browser)),
        Some(StateErrorKind::BindingMismatch)
    );
    Ok(())
}

// `Platform::open_callback` (its docs keep the usage).
#[test]
fn platform_open_callback_routes_and_refuses_unsolicited() -> TestResult {
    let platform = Platform::new(KeyRing::new(SigningKey::new(KeyId(1), &[9; 32])?));
    // Each environment's configuration, as a database would give it.
    let environment = |env: &str| -> Result<ChannelConnect, ConfigError> {
        let slack = Slack::new(
            ClientId::new("1234567890.1234567890")?,
            Secret::new("secret-of-this-environment"),
            RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
        );
        ChannelConnect::builder_on(&platform, env, "org-1")
            .integration(Integration::new("slack", slack))
            .build()
    };
    let now = now();
    let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"u1"}"#)?;
    let issued = environment("env-7")?.connect_url(&body, &IssueParams::new(now, &Entropy([3; 32])))?;

    // The one callback route: open, look the environment up, finish.
    let query = format!("code=4724.1&state={}", issued.state().unwrap());
    let params = CallbackParams::parse(&query)?;
    let verify = VerifyParams::at(now + time::Duration::seconds(20));
    let opened = platform.open_callback(&params, &verify)?;
    let core = environment(opened.state().environment_id())?;
    let verified = core.finish_callback(opened, &verify)?;
    assert_eq!(verified.state.environment_id(), "env-7");

    // An install started from the Slack App Directory has no state: refused.
    let params = CallbackParams::parse("code=4724.1")?;
    let refused = platform.open_callback(&params, &verify).unwrap_err();
    assert!(matches!(
        refused,
        CallbackError::Unsolicited { has_code: true, .. }
    ));
    assert_eq!(refused.to_string(), "Invalid OAuth state parameter");
    Ok(())
}

// `IssuedUrl` (its docs keep the usage).
#[test]
fn issued_url_json_and_url_length_limit() -> TestResult {
    let core = slack_core();
    let now = now();
    let body = ConnectRequestBody::from_json(
        br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123","connectionIdentifier":"slack-connection-abc123"}"#,
    )?;
    let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    let json = serde_json::to_value(&issued)?;
    assert_eq!(json["expiresAt"], "2026-01-01T00:05:00Z");
    assert_eq!(json["connectionIdentifier"], "slack-connection-abc123");
    assert_eq!(json["state"], issued.state().unwrap());
    // The API itself answers only the URL.
    let response = ConnectResponse {
        url: issued.url.clone(),
    };
    assert_eq!(
        serde_json::to_value(&response)?,
        serde_json::json!({"url": issued.url})
    );

    // A context too large for a URL Microsoft (and Slack) accept is refused at issue.
    let notes = "x".repeat(1500);
    let body = ConnectRequestBody::from_json(
        format!(r#"{{"integrationIdentifier":"slack","context":{{"tenant":{{"id":"org-acme","data":{{"notes":"{notes}"}}}}}}}}"#).as_bytes(),
    )?;
    let refused = core
        .connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))
        .unwrap_err();
    assert!(matches!(refused, RequestError::UrlTooLong { .. }));
    assert_eq!(refused.status(), 400);
    Ok(())
}

// `Integration::new` (its docs keep the usage).
#[test]
fn integration_new_refuses_a_blank_identifier() -> TestResult {
    let teams = teams();
    let integration = Integration::new("msteams", teams.clone());
    assert_eq!(integration.identifier(), "msteams");
    let core = ChannelConnect::builder(ENV, ORG, keys())
        .integration(integration)
        .build()?;
    assert_eq!(core.provider("msteams").unwrap().id(), "msteams");

    // The identifier is what requests name: a blank one is refused at build.
    let blank = ChannelConnect::builder(ENV, ORG, keys())
        .integration(Integration::new(" ", teams))
        .build();
    assert_eq!(blank.unwrap_err(), ConfigError::Integration(" ".into()));
    Ok(())
}

// `Integration::missing_client_id` (its docs keep the usage).
#[test]
fn missing_client_id_answers_404_after_mode_rules() -> TestResult {
    let keys = KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?);
    let now = now();

    // A Slack integration row whose client id was never filled in.
    let core = ChannelConnect::builder(ENV, ORG, keys)
        .integration(Integration::missing_client_id("slack", "Slack"))
        .build()?;
    assert!(core.provider("slack").is_none());
    let body = slack_body();
    let refused = core
        .connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))
        .unwrap_err();
    assert_eq!(
        refused.to_json(),
        serde_json::json!({"statusCode": 404, "message": "Slack integration missing required OAuth credentials (clientId)"})
    );

    // In Novu's order, a body that breaks a mode rule gets its 400 first.
    let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack"}"#)?;
    let refused = core
        .connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))
        .unwrap_err();
    assert_eq!(refused, RequestError::NeitherSubscriberNorContext);
    Ok(())
}

// `Integration::with_context_hmac` (its docs keep the usage).
#[test]
fn context_hmac_refuses_a_tampered_context() -> TestResult {
    use channel_connect::context_hash::context_hash;
    let keys = KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?);
    let now = now();
    let slack = slack();

    let core = ChannelConnect::builder(ENV, ORG, keys)
        .integration(Integration::new("slack", slack).with_context_hmac(true))
        .environment_secret_key(Secret::new("sk_env_2f1c9a7e04b3d8c6"))
        .build()?;
    // The customer's backend signs the context it lets the browser send.
    let context = serde_json::json!({"tenant": "org-acme"});
    let hash = context_hash(b"sk_env_2f1c9a7e04b3d8c6", context.as_object().unwrap())?;
    let body = ConnectRequestBody::from_json(
        format!(r#"{{"integrationIdentifier":"slack","context":{context},"contextHash":"{hash}"}}"#)
            .as_bytes(),
    )?;
    assert!(
        core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))
            .is_ok()
    );

    // A context the browser changed no longer matches its hash.
    let tampered = ConnectRequestBody::from_json(
        format!(
            r#"{{"integrationIdentifier":"slack","context":{{"tenant":"org-other"}},"contextHash":"{hash}"}}"#
        )
        .as_bytes(),
    )?;
    let refused = core
        .connect_url(&tampered, &IssueParams::new(now, &Entropy([7; 32])))
        .unwrap_err();
    assert_eq!(refused, RequestError::ContextHashInvalid);
    assert_eq!(refused.to_string(), "Please provide a valid context HMAC hash");
    Ok(())
}
