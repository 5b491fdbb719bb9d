//! Link one subscriber (`POST /v1/integrations/channel-endpoints/oauth`):
//! Slack `user_scope` sign-in and Teams delegated sign-in with PKCE.

mod common;

use channel_connect::*;
use common::*;

fn link(core: &ChannelConnect, json: &str) -> Result<IssuedUrl, RequestError> {
    let body = LinkUserRequestBody::from_json(json.as_bytes())?;
    core.link_user_url(&body, &IssueParams::new(at(T0), &entropy()))
}

#[test]
fn slack_link_user_url_has_user_scope_and_no_bot_scope() {
    let core = core();
    let url = link(
        &core,
        r#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#,
    )
    .unwrap()
    .url;
    assert!(url.starts_with("https://slack.com/oauth/v2/authorize?state="));
    assert_eq!(
        param_names(&url),
        ["state", "client_id", "redirect_uri", "user_scope"]
    );
    assert_eq!(param(&url, "user_scope").unwrap(), "identity.basic");
    assert_eq!(param(&url, "scope"), None);

    let url = link(
        &core,
        r#"{"integrationIdentifier":"slack","subscriberId":"u","userScope":["identity.basic","identity.email"],"connectionIdentifier":"conn-1","context":{"tenant":"acme"}}"#,
    )
    .unwrap()
    .url;
    assert_eq!(
        param(&url, "user_scope").unwrap(),
        "identity.basic,identity.email"
    );
    let (s, _) = core
        .open_state(&state_of(&url), &VerifyParams::at(at(T0)))
        .unwrap();
    assert_eq!(s.purpose(), Purpose::LinkUser);
    assert_eq!(s.connection_identifier(), Some("conn-1"));
    assert_eq!(s.connection_mode(), ConnectionMode::Shared);
    assert!(s.auto_link_user());
}

#[test]
fn slack_link_user_callback_is_a_code() {
    let core = core();
    let url = link(
        &core,
        r#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#,
    )
    .unwrap()
    .url;
    let v = verify(
        &core,
        &format!("code=1.2.user-code&state={}", state_of(&url)),
        T0 + 20,
    )
    .unwrap();
    assert!(matches!(v.outcome, ProviderOutcome::Code { .. }));
    assert_eq!(v.state.purpose(), Purpose::LinkUser);
    assert_eq!(v.state.subscriber_id(), Some("subscriber-123"));
    assert!(v.next.is_none());
    assert!(core.pkce_verifier(&v.state).is_none(), "Slack uses no PKCE");
}

#[test]
fn teams_link_user_url_is_the_delegated_sign_in_with_pkce() {
    let core = core();
    let url = link(
        &core,
        r#"{"integrationIdentifier":"msteams","subscriberId":"subscriber-123"}"#,
    )
    .unwrap()
    .url;
    assert!(
        url.starts_with("https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize?client_id=")
    );
    assert_eq!(param(&url, "response_type").unwrap(), "code");
    assert_eq!(param(&url, "response_mode").unwrap(), "query");
    assert_eq!(param(&url, "scope").unwrap(), "openid profile User.Read");
    assert_eq!(param(&url, "redirect_uri").unwrap(), REDIRECT);
    assert_eq!(param(&url, "code_challenge_method").unwrap(), "S256");
    let challenge = param(&url, "code_challenge").unwrap();

    let v = verify(&core, &format!("code=0.AXoA&state={}", state_of(&url)), T0 + 20).unwrap();
    assert!(matches!(v.outcome, ProviderOutcome::Code { .. }));
    assert_eq!(
        core.pkce_verifier(&v.state).unwrap().challenge().as_str(),
        challenge
    );

    let e = verify(
        &core,
        &format!(
            "error=invalid_request&error_description=AADSTS50011&state={}",
            state_of(&url)
        ),
        T0 + 20,
    )
    .unwrap_err();
    assert_eq!(
        e,
        CallbackError::Provider {
            error: "invalid_request".into(),
            description: Some("AADSTS50011".into())
        }
    );
}

#[test]
fn link_user_and_connect_states_are_not_interchangeable() {
    let core = core();
    for integ in ["slack", "msteams"] {
        let link_state = state_of(
            &link(
                &core,
                &format!(r#"{{"integrationIdentifier":"{integ}","subscriberId":"u"}}"#),
            )
            .unwrap()
            .url,
        );
        let connect_state = state_of(&issue(
            &core,
            &format!(r#"{{"integrationIdentifier":"{integ}","subscriberId":"u"}}"#),
        ));
        for (state, expected) in [
            (&link_state, Purpose::Connect),
            (&connect_state, Purpose::LinkUser),
        ] {
            let q = format!("code=c&state={state}");
            let p = CallbackParams::parse(&q).unwrap();
            let mut vp = VerifyParams::at(at(T0 + 1));
            vp.expect_purpose = Some(expected);
            assert_eq!(
                state_kind(core.verify_callback(&p, &vp)),
                StateErrorKind::WrongPurpose,
                "{integ}"
            );
        }
    }
}

#[test]
fn link_user_validation_and_context_hash() {
    let core = core();
    let e = link(&core, r#"{"integrationIdentifier":"slack"}"#).unwrap_err();
    assert_eq!(
        (e.status(), e.to_string().as_str()),
        (422, "Validation Error: subscriberId is required")
    );
    let e = link(&core, r#"{"subscriberId":"u"}"#).unwrap_err();
    assert_eq!(e.status(), 422);
    let e = link(&core, r#"{"integrationIdentifier":"nope","subscriberId":"u"}"#).unwrap_err();
    assert_eq!(e.status(), 404);
    let e = link(
        &core,
        r#"{"integrationIdentifier":"slack","subscriberId":"u","userScope":["a b"]}"#,
    )
    .unwrap_err();
    assert_eq!(e.status(), 422);
    let e = link(
        &core,
        r#"{"integrationIdentifier":"slack-hmac","subscriberId":"u","context":{"t":"a"}}"#,
    )
    .unwrap_err();
    assert_eq!(e, RequestError::ContextHashRequired);
    let ctx = serde_json::json!({"t": "a"});
    let h = context_hash::context_hash(ENV_SECRET_KEY.as_bytes(), ctx.as_object().unwrap()).unwrap();
    let json = format!(
        r#"{{"integrationIdentifier":"slack-hmac","subscriberId":"u","context":{{"t":"a"}},"contextHash":"{h}"}}"#
    );
    assert!(link(&core, &json).is_ok());
}
