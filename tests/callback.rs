//! Callbacks end to end through the public API: every Slack and Microsoft
//! callback shape, every error shape, the Teams second redirect, binding and
//! replay ids.

mod common;

use channel_connect::*;
use common::*;
use proptest::prelude::*;

const TEAMS_AUTOLINK: &str =
    r#"{"integrationIdentifier":"msteams","subscriberId":"subscriber-123","context":{"tenant":"acme"}}"#;

/// SPEC.md section 8: the 8 KiB count the query alone, as received: not
/// the `?`, nor the scheme, host and path before it, nor a fragment; the same
/// whether the verifier (or `examples/callback`) is given the whole URL, the
/// path and query, or the query with or without its `?`.
#[test]
fn the_callback_limit_counts_the_query_alone() {
    let query = |n: usize| {
        let q = "code=4724.demo-code&state=AQEB&pad=";
        let pad = n - q.len();
        format!("{q}{}", "x".repeat(pad))
    };
    let limit = channel_connect::callback::MAX_CALLBACK_BYTES;
    assert_eq!(limit, 8192);
    for (n, fits) in [(limit, true), (limit + 1, false)] {
        let q = query(n);
        for input in [
            q.clone(),
            format!("?{q}"),
            format!("/v1/integrations/chat/oauth/callback?{q}"),
            format!("https://api.example.com/v1/integrations/chat/oauth/callback?{q}"),
            format!("https://api.example.com/cb?{q}#{}", "f".repeat(9000)),
            // A path may hold `=` and `&` before its `?`.
            format!("https://api.example.com/cb;v=1&w?{q}"),
            format!("/cb;v=1?{q}"),
        ] {
            let parsed = CallbackParams::parse(&input);
            match (fits, parsed) {
                (true, Ok(p)) => assert_eq!(p.state.as_deref(), Some("AQEB"), "{}", &input[..40]),
                (false, Err(CallbackError::TooLarge)) => {}
                (fits, other) => panic!("{n} bytes, fits {fits}: {other:?} for {}", &input[..40]),
            }
        }
    }
    // A `?` inside a raw query's value is the value's.
    let p = CallbackParams::parse("code=a?b&state=AQEB").unwrap();
    assert_eq!(p.code.as_deref(), Some("a?b"));
}

#[test]
fn slack_code() {
    let core = core();
    let state = state_of(&issue(&core, SEED_PHP));
    let v = verify(
        &core,
        &format!("{REDIRECT}?code=4724.1.abc&state={state}"),
        T0 + 10,
    )
    .unwrap();
    match &v.outcome {
        ProviderOutcome::Code { code } => assert_eq!(code.expose(), "4724.1.abc"),
        other => panic!("{other:?}"),
    }
    assert_eq!(v.state.purpose(), Purpose::Connect);
    assert!(
        v.next.is_none(),
        "Slack links the user from authed_user: no second redirect"
    );
}

#[test]
fn slack_denied_and_other_errors_keep_the_provider_words() {
    let core = core();
    let state = state_of(&issue(&core, SEED_PHP));
    let e = verify(&core, &format!("error=access_denied&state={state}"), T0 + 10).unwrap_err();
    assert_eq!(
        e,
        CallbackError::Denied {
            error: "access_denied".into(),
            description: None
        }
    );
    let e = verify(
        &core,
        &format!("error=invalid_scope&error_description=bad+scope&state={state}"),
        T0 + 10,
    )
    .unwrap_err();
    assert_eq!(
        e,
        CallbackError::Provider {
            error: "invalid_scope".into(),
            description: Some("bad scope".into())
        }
    );
    // The error wins even with a code.
    let e = verify(
        &core,
        &format!("code=x&error=access_denied&state={state}"),
        T0 + 10,
    )
    .unwrap_err();
    assert!(matches!(e, CallbackError::Denied { .. }));
}

#[test]
fn state_less_callbacks_are_their_own_outcome_never_success() {
    let core = core();
    for (q, has_code, error) in [
        ("code=4724.1.abc", true, None),
        ("code=4724.1.abc&state=", true, None),
        ("", false, None),
        (
            "error=access_denied&error_description=x",
            false,
            Some("access_denied".to_string()),
        ),
    ] {
        let e = verify(&core, q, T0).unwrap_err();
        assert_eq!(e, CallbackError::Unsolicited { has_code, error }, "{q}");
        assert_eq!(e.status(), 400);
    }
}

#[test]
fn a_callback_with_neither_code_nor_consent_is_novus_error() {
    let core = core();
    let slack_state = state_of(&issue(&core, SEED_PHP));
    let teams_state = state_of(&issue(&core, TEAMS_AUTOLINK));
    for q in [
        format!("state={slack_state}"),
        format!("state={teams_state}"),
        format!("state={teams_state}&tenant={TENANT}"),
    ] {
        let e = verify(&core, &q, T0 + 1).unwrap_err();
        assert_eq!(e, CallbackError::MissingParameters);
        assert_eq!(e.to_string(), "Missing required OAuth parameters: code or tenant");
    }
}

/// Without autoLinkUser (shared mode) the admin consent still yields no
/// connection: it continues with a sign-in that only proves the tenant.
#[test]
fn teams_admin_consent_without_autolink_continues_with_a_proof_sign_in() {
    let core = core();
    let state = state_of(&issue(
        &core,
        r#"{"integrationIdentifier":"msteams","context":{"tenant":"acme"}}"#,
    ));
    let q = format!(
        "admin_consent=True&tenant={TENANT}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&state={state}"
    );
    let v = verify(&core, &q, T0 + 30).unwrap();
    match &v.outcome {
        ProviderOutcome::AdminConsent { tenant, scope } => {
            assert_eq!(tenant.claimed(), TENANT);
            assert_eq!(scope.as_deref(), Some("https://graph.microsoft.com/.default"));
        }
        other => panic!("{other:?}"),
    }
    assert!(core.pkce_verifier(&v.state).is_none(), "no PKCE on admin consent");
    let next = v.next.expect("every admin consent continues with the proof");
    let prefix = format!("https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/authorize?");
    assert!(next.url.starts_with(&prefix), "{}", next.url);
    // It links no user: no User.Read.
    assert_eq!(param(&next.url, "scope").unwrap(), "openid profile");
    let (proof, _) = core
        .open_state(&state_of(&next.url), &VerifyParams::at(at(T0 + 31)))
        .unwrap();
    assert_eq!(proof.purpose(), Purpose::ConnectProof);
    assert_eq!(proof.workspace(), Some(TENANT));
    assert!(!proof.links_user());
}

/// Admin consent with autoLinkUser: the proof URL in the claimed tenant, its
/// state, its PKCE, and the sign-in callback that follows.
#[test]
fn teams_admin_consent_with_autolink_then_delegated_code() {
    let core = core();
    let first = state_of(&issue(&core, TEAMS_AUTOLINK));
    let v = verify(
        &core,
        &format!("admin_consent=True&tenant={TENANT}&state={first}"),
        T0 + 40,
    )
    .unwrap();
    let next = v.next.expect("a second redirect");
    let url = &next.url;
    let prefix = format!("https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/authorize?");
    assert!(url.starts_with(&prefix), "{url}");
    assert_eq!(
        param_names(url),
        [
            "client_id",
            "response_type",
            "redirect_uri",
            "response_mode",
            "scope",
            "state",
            "code_challenge",
            "code_challenge_method"
        ]
    );
    assert_eq!(param(url, "response_type").unwrap(), "code");
    assert_eq!(param(url, "response_mode").unwrap(), "query");
    assert_eq!(param(url, "scope").unwrap(), "openid profile User.Read");
    assert_eq!(param(url, "code_challenge_method").unwrap(), "S256");
    assert_eq!(
        next.expires_at,
        at(T0 + 300),
        "the proof expires with the state it continues"
    );

    let second = state_of(url);
    assert_ne!(second, first);
    let (s2, _) = core.open_state(&second, &VerifyParams::at(at(T0 + 41))).unwrap();
    assert_eq!(s2.purpose(), Purpose::ConnectProof);
    assert_eq!(s2.workspace(), Some(TENANT));
    assert!(s2.links_user());
    assert_eq!(s2.subscriber_id(), Some("subscriber-123"));
    assert_eq!(s2.connection_identifier(), v.state.connection_identifier());
    assert_eq!(
        s2.context().collect::<Vec<_>>(),
        v.state.context().collect::<Vec<_>>()
    );
    assert_ne!(s2.replay_id(), v.state.replay_id());

    // The sign-in callback: a code, and the verifier re-derived without storage.
    let v2 = verify(&core, &format!("code=0.AXoA-delegated&state={second}"), T0 + 90).unwrap();
    assert!(matches!(v2.outcome, ProviderOutcome::Code { .. }));
    assert!(v2.next.is_none());
    let verifier = core.pkce_verifier(&v2.state).expect("PKCE for Teams sign-in");
    assert_eq!(verifier.expose().len(), 43);
    assert_eq!(
        verifier.challenge().as_str(),
        param(url, "code_challenge").unwrap()
    );
}

/// A proof state lives no longer than the state it continues: issued at its
/// parent's last second, it is refused one second after the parent expired.
#[test]
fn a_proof_state_never_outlives_its_parent() {
    let core = core();
    let first = state_of(&issue(&core, TEAMS_AUTOLINK));
    let last_second = T0 + 299;
    let v = verify(
        &core,
        &format!("admin_consent=True&tenant={TENANT}&state={first}"),
        last_second,
    )
    .unwrap();
    let next = v.next.unwrap();
    assert_eq!(next.expires_at, at(T0 + 300));
    let proof = state_of(&next.url);
    let q = format!("code=c&state={proof}");
    assert!(verify(&core, &q, last_second).is_ok());
    for late in [T0 + 300, T0 + 301] {
        let e = verify(&core, &q, late).unwrap_err();
        assert_eq!(state_kind(Err(e)), StateErrorKind::Expired, "at {late}");
    }
    // And a parent already expired gives no proof at all.
    let e = verify(
        &core,
        &format!("admin_consent=True&tenant={TENANT}&state={first}"),
        T0 + 300,
    )
    .unwrap_err();
    assert_eq!(state_kind(Err(e)), StateErrorKind::Expired);
}

#[test]
fn teams_error_is_checked_before_admin_consent() {
    let core = core();
    let state = state_of(&issue(&core, TEAMS_AUTOLINK));
    let q = format!(
        "admin_consent=True&error=consent_required&error_description=AADSTS65004%3A+User+declined&tenant={TENANT}&state={state}"
    );
    let e = verify(&core, &q, T0 + 1).unwrap_err();
    assert_eq!(
        e,
        CallbackError::Provider {
            error: "consent_required".into(),
            description: Some("AADSTS65004: User declined".into())
        }
    );
    let e = verify(&core, &format!("error=access_denied&state={state}"), T0 + 1).unwrap_err();
    assert!(matches!(e, CallbackError::Denied { .. }));
}

#[test]
fn teams_flows_refuse_each_others_parameters() {
    let core = core();
    let connect = state_of(&issue(&core, TEAMS_AUTOLINK));
    let e = verify(
        &core,
        &format!("admin_consent=True&tenant={TENANT}&code=x&state={connect}"),
        T0 + 1,
    )
    .unwrap_err();
    assert!(matches!(e, CallbackError::Conflicting(_)), "{e:?}");
    let e = verify(&core, &format!("code=x&state={connect}"), T0 + 1).unwrap_err();
    assert!(matches!(e, CallbackError::Conflicting(_)), "{e:?}");

    let link = core
        .link_user_url(
            &LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"msteams","subscriberId":"u"}"#)
                .unwrap(),
            &IssueParams::new(at(T0), &entropy()),
        )
        .unwrap();
    let link = state_of(&link.url);
    let e = verify(&core, &format!("code=x&admin_consent=True&state={link}"), T0 + 1).unwrap_err();
    assert!(matches!(e, CallbackError::Conflicting(_)), "{e:?}");
    let e = verify(
        &core,
        &format!("admin_consent=True&tenant={TENANT}&state={link}"),
        T0 + 1,
    )
    .unwrap_err();
    assert!(matches!(e, CallbackError::Conflicting(_)), "{e:?}");
    let e = verify(
        &core,
        &format!("admin_consent=True&tenant=not-a-guid&state={connect}"),
        T0 + 1,
    )
    .unwrap_err();
    assert_eq!(e, CallbackError::Malformed("tenant"));
    // A Slack state never takes Microsoft's parameters.
    let slack = state_of(&issue(&core, SEED_PHP));
    let e = verify(
        &core,
        &format!("admin_consent=True&tenant={TENANT}&state={slack}"),
        T0 + 1,
    )
    .unwrap_err();
    assert!(matches!(e, CallbackError::Conflicting(_)), "{e:?}");
}

#[test]
fn duplicated_state_is_an_attack() {
    let core = core();
    let state = state_of(&issue(&core, SEED_PHP));
    let e = verify(&core, &format!("code=a&state={state}&state={state}"), T0).unwrap_err();
    assert_eq!(e, CallbackError::DuplicateParameter("state"));
    let e = verify(&core, &format!("code=a&code=b&state={state}"), T0).unwrap_err();
    assert_eq!(e, CallbackError::DuplicateParameter("code"));
}

#[test]
fn browser_binding() {
    let core = core();
    let cookie = b"sha256-of-a-random-cookie-0123456789abcdef";
    let issued = core
        .connect_url(
            &body(SEED_PHP),
            &IssueParams::new(at(T0), &entropy()).with_binding(cookie),
        )
        .unwrap();
    let state = state_of(&issued.url);
    let params_owned = format!("code=a&state={state}");
    let params = CallbackParams::parse(&params_owned).unwrap();
    let with = |binding: Option<&[u8]>| {
        let mut vp = VerifyParams::at(at(T0 + 5));
        vp.binding = binding;
        core.verify_callback(&params, &vp)
    };
    assert!(with(Some(cookie)).unwrap().state.is_bound());
    assert_eq!(state_kind(with(None)), StateErrorKind::BindingMissing);
    assert_eq!(
        state_kind(with(Some(b"another-browser"))),
        StateErrorKind::BindingMismatch
    );
    // The Teams follow-up stays bound to the same browser.
    let issued = core
        .connect_url(
            &body(TEAMS_AUTOLINK),
            &IssueParams::new(at(T0), &entropy()).with_binding(cookie),
        )
        .unwrap();
    let q = format!(
        "admin_consent=True&tenant={TENANT}&state={}",
        state_of(&issued.url)
    );
    let p = CallbackParams::parse(&q).unwrap();
    let mut vp = VerifyParams::at(at(T0 + 5));
    vp.binding = Some(cookie);
    let next = core.verify_callback(&p, &vp).unwrap().next.unwrap();
    let (s2, _) = core.open_state(&state_of(&next.url), &vp).unwrap();
    assert!(s2.is_bound());
    assert_eq!(
        core.open_state(&state_of(&next.url), &VerifyParams::at(at(T0 + 5)))
            .unwrap_err()
            .kind(),
        StateErrorKind::BindingMissing
    );
}

#[test]
fn replay_id_is_stable_and_expiry_is_exposed() {
    let core = core();
    let state = state_of(&issue(&core, SEED_PHP));
    let a = verify(&core, &format!("code=a&state={state}"), T0 + 1).unwrap();
    let b = verify(&core, &format!("code=a&state={state}"), T0 + 2).unwrap();
    assert_eq!(
        a.state.replay_id(),
        b.state.replay_id(),
        "the host refuses the second by this id"
    );
    assert_eq!(a.state.expires_at(), at(T0 + 300));
    let mut other = entropy();
    other.0[0] ^= 1;
    let s2 = state_of(
        &core
            .connect_url(&body(SEED_PHP), &IssueParams::new(at(T0), &other))
            .unwrap()
            .url,
    );
    let c = verify(&core, &format!("code=a&state={s2}"), T0 + 1).unwrap();
    assert_ne!(a.state.replay_id(), c.state.replay_id());
}

#[test]
fn route_expectations_refuse_other_providers_and_purposes() {
    let core = core();
    let state = state_of(&issue(&core, SEED_PHP));
    let q = format!("code=a&state={state}");
    let p = CallbackParams::parse(&q).unwrap();
    let mut vp = VerifyParams::at(at(T0 + 1));
    vp.expect_provider = Some("msteams");
    assert_eq!(
        state_kind(core.verify_callback(&p, &vp)),
        StateErrorKind::WrongProvider
    );
    vp.expect_provider = Some("slack");
    vp.expect_purpose = Some(Purpose::LinkUser);
    assert_eq!(
        state_kind(core.verify_callback(&p, &vp)),
        StateErrorKind::WrongPurpose
    );
    vp.expect_purpose = Some(Purpose::Connect);
    assert!(core.verify_callback(&p, &vp).is_ok());
}

#[test]
fn every_state_failure_is_novus_message_with_status_400() {
    let core = core();
    let e = verify(&core, "code=a&state=AAAA", T0).unwrap_err();
    assert_eq!(e.to_string(), "Invalid OAuth state parameter");
    assert_eq!(e.status(), 400);
    assert_eq!(state_kind(Err(e)), StateErrorKind::Malformed);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// No panic on arbitrary query strings, and nothing without a valid state succeeds.
    #[test]
    fn arbitrary_queries_never_panic_or_succeed(q in "[a-z_=&%+A-Z0-9.~-]{0,300}") {
        let core = core();
        if let Ok(p) = CallbackParams::parse(&q) {
            prop_assert!(core.verify_callback(&p, &VerifyParams::at(at(T0))).is_err());
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(q in any::<String>()) {
        let core = core();
        if let Ok(p) = CallbackParams::parse(&q) {
            prop_assert!(core.verify_callback(&p, &VerifyParams::at(at(T0))).is_err());
        }
    }

    /// A real state with arbitrary extra parameters is never confused.
    #[test]
    fn a_real_state_with_noise(noise in "[a-z_]{1,12}=[a-zA-Z0-9%+]{0,20}") {
        let core = core();
        let state = state_of(&issue(&core, SEED_PHP));
        let q = format!("{noise}&state={state}&code=c");
        if let Ok(p) = CallbackParams::parse(&q)
            && let Ok(v) = core.verify_callback(&p, &VerifyParams::at(at(T0 + 1)))
        {
            let is_code = matches!(v.outcome, ProviderOutcome::Code { .. });
            prop_assert!(is_code);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// The hand-written query parser agrees with the `url` crate's
    /// `application/x-www-form-urlencoded` parser wherever both succeed.
    #[test]
    fn query_parser_agrees_with_url_crate(
        pairs in proptest::collection::vec(
            (prop_oneof![Just("state"), Just("code"), Just("error"), Just("x"), Just("")],
             "[a-zA-Z0-9%+=._~-]{0,30}"),
            0..6,
        )
    ) {
        let q = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        let ours = CallbackParams::parse(&q);
        let theirs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes()).into_owned().collect();
        let count = |n: &str| theirs.iter().filter(|(k, _)| k == n).count();
        let value = |n: &str| theirs.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        match ours {
            Ok(p) => {
                for (name, got) in [("state", &p.state), ("code", &p.code), ("error", &p.error)] {
                    prop_assert!(count(name) <= 1);
                    prop_assert_eq!(got.as_deref().map(str::to_owned), value(name));
                }
            }
            Err(CallbackError::DuplicateParameter(name)) => prop_assert!(count(name) > 1),
            Err(CallbackError::Encoding(name)) => {
                let lossy = value(name).is_some_and(|v| v.contains(char::REPLACEMENT_CHARACTER));
                prop_assert!(lossy);
            }
            Err(e) => prop_assert!(false, "unexpected {e:?}"),
        }
    }
}
