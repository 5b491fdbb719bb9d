//! The connect path through the public API: seed bodies, URLs, every error
//! rule of Novu's connect API, defaults and limits.

mod common;

use channel_connect::*;
use common::*;
use proptest::prelude::*;

#[test]
fn both_seed_bodies_deserialize_and_give_slack_urls() {
    let core = core();
    for seed in [SEED_PHP, SEED_CURL] {
        let url = issue(&core, seed);
        assert!(
            url.starts_with("https://slack.com/oauth/v2/authorize?state="),
            "{url}"
        );
        assert_eq!(param_names(&url), ["state", "client_id", "redirect_uri", "scope"]);
        assert_eq!(param(&url, "client_id").unwrap(), SLACK_CLIENT_ID);
        assert_eq!(param(&url, "redirect_uri").unwrap(), REDIRECT);
        assert_eq!(
            param(&url, "scope").unwrap(),
            "chat:write,chat:write.public,channels:read"
        );
        assert!(url.contains("&scope=chat:write,chat:write.public,channels:read"));
        assert!(url.contains(
            "&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fv1%2Fintegrations%2Fchat%2Foauth%2Fcallback"
        ));
    }
}

#[test]
fn seed_state_is_at_most_256_characters_and_opens_to_the_request() {
    let core = core();
    let url = issue(&core, SEED_PHP);
    let state = state_of(&url);
    assert!(state.len() <= 256, "{} chars", state.len());
    let (s, _) = core.open_state(&state, &VerifyParams::at(at(T0 + 1))).unwrap();
    assert_eq!(s.provider(), "slack");
    assert_eq!(s.purpose(), Purpose::Connect);
    assert_eq!(s.integration_identifier(), "slack");
    assert_eq!(s.environment_id(), ENV);
    assert_eq!(s.organization_id(), ORG);
    assert_eq!(s.subscriber_id(), Some("subscriber-123"));
    assert_eq!(s.connection_identifier(), Some("slack-connection-abc123"));
    assert_eq!(s.connection_mode(), ConnectionMode::Shared);
    assert!(s.auto_link_user());
    let ctx: Vec<_> = s.context().map(|e| (e.key, e.id, e.data)).collect();
    assert_eq!(ctx, [("key", "org-acme", None)]);
    assert_eq!(s.expires_at(), at(T0 + 300));
    assert_eq!(s.replay_id().to_string(), "404142434445464748494a4b4c4d4e4f");
}

#[test]
fn unknown_fields_are_ignored_and_both_context_shapes_parse() {
    let b = body(
        r#"{"integrationIdentifier":"slack","subscriberId":"u","idempotencyKey":"x","extra":{"a":[1]},
            "context":{"tenant":"acme","app":{"id":"a1","data":{"plan":"pro"}},"team":{"id":"t1","data":null}}}"#,
    );
    let ctx = b.context.as_ref().unwrap();
    assert_eq!(ctx.len(), 3);
    assert!(ConnectRequest::validate(&b).is_ok());
    let e =
        ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","context":["a"]}"#).unwrap_err();
    assert_eq!(e.status(), 422);
}

#[test]
fn response_serializes_to_url_object() {
    let r = ConnectResponse {
        url: "https://x".into(),
    };
    assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"url":"https://x"}"#);
}

#[test]
fn teams_gets_the_admin_consent_url_and_ignores_scope() {
    let core = core();
    let url = issue(
        &core,
        r#"{"integrationIdentifier":"msteams","subscriberId":"u1","scope":["chat:write"]}"#,
    );
    assert!(
        url.starts_with("https://login.microsoftonline.com/organizations/v2.0/adminconsent?client_id="),
        "{url}"
    );
    assert_eq!(param_names(&url), ["client_id", "redirect_uri", "scope", "state"]);
    assert_eq!(
        param(&url, "scope").unwrap(),
        "https://graph.microsoft.com/.default"
    );
    assert_eq!(param(&url, "client_id").unwrap(), TEAMS_CLIENT_ID);
}

#[test]
fn teams_tenant_segment_is_configurable() {
    let core = ChannelConnect::builder(ENV, ORG, KeyRing::new(key(1, 7)))
        .integration(Integration::new(
            "t",
            teams().with_tenant(Tenant::new("contoso.onmicrosoft.com").unwrap()),
        ))
        .build()
        .unwrap();
    let url = issue(&core, r#"{"integrationIdentifier":"t","subscriberId":"u"}"#);
    assert!(url.starts_with("https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/adminconsent?"));
    assert!(matches!(
        Tenant::new("common"),
        Err(ConfigError::TenantNotAllowed(_))
    ));
}

#[test]
fn slack_default_scopes_and_team_restriction() {
    let core = ChannelConnect::builder(ENV, ORG, KeyRing::new(key(1, 7)))
        .integration(Integration::new("s", slack().with_team("T0123ABCD").unwrap()))
        .build()
        .unwrap();
    let url = issue(&core, r#"{"integrationIdentifier":"s","subscriberId":"u"}"#);
    assert_eq!(
        param(&url, "scope").unwrap(),
        "chat:write,chat:write.public,channels:read,groups:read,users:read,users:read.email"
    );
    assert_eq!(param(&url, "team").unwrap(), "T0123ABCD");
    assert!(slack().with_team("bad team").is_err());
}

#[test]
fn defaults_mode_autolink_and_generated_connection_identifier() {
    let core = core();
    let url = issue(&core, r#"{"integrationIdentifier":"slack","subscriberId":"u"}"#);
    let (s, _) = core
        .open_state(&state_of(&url), &VerifyParams::at(at(T0)))
        .unwrap();
    assert_eq!(s.connection_mode(), ConnectionMode::Subscriber);
    assert!(s.auto_link_user());
    // entropy bytes 16..25 are 0x50..0x58.
    let id = s.connection_identifier().unwrap();
    assert_eq!(id, "chconn_UFFSU1RVVldY");
    assert_eq!(id.len(), 19);

    let url = issue(
        &core,
        r#"{"integrationIdentifier":"slack","context":{"tenant":"t1"}}"#,
    );
    let (s, _) = core
        .open_state(&state_of(&url), &VerifyParams::at(at(T0)))
        .unwrap();
    assert_eq!(s.connection_mode(), ConnectionMode::Shared);
    assert!(!s.auto_link_user());
    assert_eq!(s.subscriber_id(), None);

    let url = issue(
        &core,
        r#"{"integrationIdentifier":"slack","context":{"tenant":"t1"},"autoLinkUser":true,"subscriberId":"u","connectionMode":"shared"}"#,
    );
    let (s, _) = core
        .open_state(&state_of(&url), &VerifyParams::at(at(T0)))
        .unwrap();
    assert!(s.auto_link_user());
    assert_eq!(s.subscriber_id(), Some("u"));
}

#[test]
fn context_entity_with_data_round_trips() {
    let core = core();
    let url = issue(
        &core,
        r#"{"integrationIdentifier":"slack","context":{"tenant":{"id":"acme","data":{"plan":"pro","seats":5}},"app":"a1"}}"#,
    );
    let (s, _) = core
        .open_state(&state_of(&url), &VerifyParams::at(at(T0)))
        .unwrap();
    let ctx: Vec<_> = s.context().map(|e| (e.key, e.id, e.data)).collect();
    assert_eq!(
        ctx,
        [
            ("app", "a1", None),
            ("tenant", "acme", Some(r#"{"plan":"pro","seats":5}"#))
        ]
    );
}

/// Every rule of Novu's connect API with its status and message.
#[test]
fn every_error_rule_has_its_status_and_message() {
    let core = core();
    let cases: &[(&str, u16, &str)] = &[
        (
            r#"{"subscriberId":"u"}"#,
            422,
            "Validation Error: Integration identifier is required",
        ),
        (
            r#"{"integrationIdentifier":"","subscriberId":"u"}"#,
            422,
            "Validation Error: Integration identifier is required",
        ),
        (
            r#"{"integrationIdentifier":"nope","subscriberId":"u"}"#,
            404,
            "Integration not found: nope in environment 6615c4b2e0f3a1b2c3d4e5f6",
        ),
        (
            r#"{"integrationIdentifier":"sendgrid","subscriberId":"u"}"#,
            404,
            "Integration not found: sendgrid in environment 6615c4b2e0f3a1b2c3d4e5f6",
        ),
        (
            r#"{"integrationIdentifier":"slack-no-credentials","subscriberId":"u"}"#,
            404,
            "Slack integration missing required OAuth credentials (clientId)",
        ),
        (
            r#"{"integrationIdentifier":"slack","context":{"a":"b"},"scope":["incoming-webhook"]}"#,
            400,
            "subscriberId is required for incoming webhook",
        ),
        (
            r#"{"integrationIdentifier":"slack","subscriberId":"u","connectionMode":"shared"}"#,
            400,
            "context is required when connectionMode is \"shared\"",
        ),
        (
            r#"{"integrationIdentifier":"slack","context":{"a":"b"},"connectionMode":"subscriber"}"#,
            400,
            "subscriberId is required when connectionMode is \"subscriber\"",
        ),
        (
            r#"{"integrationIdentifier":"slack"}"#,
            400,
            "Either subscriberId or context must be provided",
        ),
        (
            r#"{"integrationIdentifier":"slack-hmac","subscriberId":"u"}"#,
            400,
            "A context is required when HMAC validation is enabled.",
        ),
        (
            r#"{"integrationIdentifier":"slack-hmac","context":{"a":"b"}}"#,
            400,
            "A valid contextHash is required when HMAC validation is enabled.",
        ),
        (
            r#"{"integrationIdentifier":"slack-hmac","context":{"a":"b"},"contextHash":"00"}"#,
            400,
            "Please provide a valid context HMAC hash",
        ),
        (
            r#"{"integrationIdentifier":"slack","subscriberId":"u","connectionMode":"both"}"#,
            422,
            "",
        ),
        (
            r#"{"integrationIdentifier":"slack","subscriberId":"u","context":{}}"#,
            422,
            "Validation Error: context must have 1 to 5 keys",
        ),
        (
            r#"{"integrationIdentifier":"slack","subscriberId":"u","connectionIdentifier":"no spaces"}"#,
            422,
            "",
        ),
        (
            r#"{"integrationIdentifier":"slack","subscriberId":"u","scope":[]}"#,
            422,
            "",
        ),
    ];
    for (json, status, message) in cases {
        let err = match ConnectRequestBody::from_json(json.as_bytes()) {
            Ok(b) => core
                .connect_url(&b, &IssueParams::new(at(T0), &entropy()))
                .unwrap_err(),
            Err(e) => e,
        };
        assert_eq!(err.status(), *status, "{json}: {err}");
        if !message.is_empty() {
            assert_eq!(err.to_string(), *message, "{json}");
        }
        let j = err.to_json();
        assert_eq!(j["statusCode"], *status);
        if *status == 422 {
            assert_eq!(j["message"], "Validation Error");
        } else {
            assert_eq!(j["message"], *message);
        }
    }
}

#[test]
fn a_correct_context_hash_is_accepted() {
    let core = core();
    let ctx = serde_json::json!({"tenant": {"id": "acme", "data": {"b": 1, "a": "x"}}});
    let hash = context_hash::context_hash(ENV_SECRET_KEY.as_bytes(), ctx.as_object().unwrap()).unwrap();
    let json = serde_json::json!({"integrationIdentifier":"slack-hmac","context": ctx, "contextHash": hash})
        .to_string();
    assert!(issue(&core, &json).starts_with("https://slack.com/"));
}

#[test]
fn urls_of_1800_characters_or_more_are_refused() {
    let core = core();
    let big = "x".repeat(1500);
    let json = format!(
        r#"{{"integrationIdentifier":"slack","context":{{"t":{{"id":"a","data":{{"k":"{big}"}}}}}}}}"#
    );
    let err = core
        .connect_url(&body(&json), &IssueParams::new(at(T0), &entropy()))
        .unwrap_err();
    assert!(matches!(err, RequestError::UrlTooLong { .. }), "{err:?}");
    assert_eq!(err.status(), 400);

    // A Teams connect fits, but its follow-up sign-in URL (longer base) would not.
    let mut fits = None;
    for n in (600..1300).step_by(4) {
        let d = "y".repeat(n);
        let json = format!(
            r#"{{"integrationIdentifier":"msteams","subscriberId":"u","context":{{"t":{{"id":"a","data":{{"k":"{d}"}}}}}}}}"#
        );
        let r = core.connect_url(&body(&json), &IssueParams::new(at(T0), &entropy()));
        if let Err(RequestError::UrlTooLong { .. }) = r {
            let no_link = json.replace(
                r#""subscriberId":"u","#,
                r#""subscriberId":"u","autoLinkUser":false,"#,
            );
            fits = Some(
                core.connect_url(&body(&no_link), &IssueParams::new(at(T0), &entropy()))
                    .is_ok(),
            );
            break;
        }
    }
    assert_eq!(
        fits,
        Some(true),
        "the follow-up length check should refuse before the connect URL itself"
    );
}

#[test]
fn configuration_is_validated_once() {
    assert!(RedirectUri::new("http://example.com/cb").is_err());
    assert!(RedirectUri::new("https://example.com/cb#x").is_err());
    assert!(ClientId::new("").is_err());
    let ring = || KeyRing::new(key(1, 7));
    assert_eq!(
        ChannelConnect::builder("", ORG, ring()).build().unwrap_err(),
        ConfigError::Id("environment id")
    );
    assert_eq!(
        ChannelConnect::builder(ENV, ORG, ring())
            .lifetime_secs(0)
            .build()
            .unwrap_err(),
        ConfigError::Lifetime
    );
    assert_eq!(
        ChannelConnect::builder(ENV, ORG, ring())
            .skew_secs(301)
            .build()
            .unwrap_err(),
        ConfigError::Skew
    );
    let dup = ChannelConnect::builder(ENV, ORG, ring())
        .integration(Integration::new("s", slack()))
        .integration(Integration::new("s", teams()))
        .build();
    assert_eq!(dup.unwrap_err(), ConfigError::Integration("s".into()));
    assert!(SigningKey::new(KeyId(1), &[0; 31]).is_err());
}

#[test]
fn lifetime_is_configurable() {
    let core = builder(KeyRing::new(key(1, 7)))
        .lifetime_secs(60)
        .build()
        .unwrap();
    let issued = core
        .connect_url(&body(SEED_PHP), &IssueParams::new(at(T0), &entropy()))
        .unwrap();
    assert_eq!(issued.expires_at, at(T0 + 60));
    let state = state_of(&issued.url);
    assert!(core.open_state(&state, &VerifyParams::at(at(T0 + 59))).is_ok());
    assert!(core.open_state(&state, &VerifyParams::at(at(T0 + 60))).is_err());
}

fn id_strategy() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{1,24}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// For arbitrary valid requests a sealed state opens to the same values.
    #[test]
    fn arbitrary_valid_requests_round_trip(
        subscriber in proptest::option::of("[^\\p{Cc}]{1,40}"),
        conn in proptest::option::of("[A-Za-z0-9._-]{1,100}"),
        ctx in proptest::collection::btree_map(id_strategy(), (id_strategy(), proptest::option::of(any::<u32>())), 1..=5),
        shared in any::<bool>(),
        auto in proptest::option::of(any::<bool>()),
        teams in any::<bool>(),
        nonce in any::<[u8; 32]>(),
        now in 0i64..4_000_000_000,
    ) {
        let core = core();
        let context: serde_json::Map<String, serde_json::Value> = ctx.iter().map(|(k, (id, data))| {
            let v = match data {
                None => serde_json::json!(id),
                Some(n) => serde_json::json!({"id": id, "data": {"n": n}}),
            };
            (k.clone(), v)
        }).collect();
        let body = ConnectRequestBody {
            integration_identifier: Some(if teams { "msteams" } else { "slack" }.into()),
            subscriber_id: subscriber.clone(),
            connection_identifier: conn.clone(),
            context: Some(context),
            connection_mode: Some(if shared { ConnectionMode::Shared } else { ConnectionMode::Subscriber }),
            auto_link_user: auto,
            ..Default::default()
        };
        let result = core.connect_url(&body, &IssueParams::new(at(now), &Entropy(nonce)));
        if !shared && subscriber.is_none() {
            prop_assert_eq!(result.unwrap_err(), RequestError::SubscriberModeWithoutSubscriber);
            return Ok(());
        }
        let url = result.unwrap().url;
        let (s, _) = core.open_state(&state_of(&url), &VerifyParams::at(at(now))).unwrap();
        prop_assert_eq!(s.subscriber_id(), subscriber.as_deref());
        if let Some(c) = &conn {
            prop_assert_eq!(s.connection_identifier(), Some(c.as_str()));
        }
        prop_assert_eq!(s.connection_mode() == ConnectionMode::Shared, shared);
        prop_assert_eq!(s.auto_link_user(), auto.unwrap_or(!shared));
        prop_assert_eq!(s.provider(), if teams { "msteams" } else { "slack" });
        let got: Vec<(String, String, Option<String>)> =
            s.context().map(|e| (e.key.to_owned(), e.id.to_owned(), e.data.map(str::to_owned))).collect();
        let want: Vec<(String, String, Option<String>)> = ctx.iter()
            .map(|(k, (id, d))| (k.clone(), id.clone(), d.map(|n| format!("{{\"n\":{n}}}"))))
            .collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(&s.replay_id().0[..], &nonce[..16]);
    }
}

fn refusal(core: &ChannelConnect, json: &str) -> (u16, String) {
    let e = match ConnectRequestBody::from_json(json.as_bytes()) {
        Ok(b) => core
            .connect_url(&b, &IssueParams::new(at(T0), &entropy()))
            .unwrap_err(),
        Err(e) => e,
    };
    (
        e.status(),
        e.to_json()["message"].as_str().unwrap_or("").to_owned(),
    )
}

#[test]
fn checks_run_in_novus_order() {
    let core = core();
    // The integration lookup comes before the mode rules...
    assert_eq!(
        refusal(&core, r#"{"integrationIdentifier":"nope"}"#),
        (404, format!("Integration not found: nope in environment {ENV}"))
    );
    // ...Slack's incoming-webhook rule before them too...
    assert_eq!(
        refusal(
            &core,
            r#"{"integrationIdentifier":"slack","scope":["incoming-webhook"],"connectionMode":"shared"}"#
        )
        .1,
        "subscriberId is required for incoming webhook"
    );
    // ...and the mode rules before the missing credentials.
    assert_eq!(
        refusal(&core, r#"{"integrationIdentifier":"slack-no-credentials"}"#).1,
        "Either subscriberId or context must be provided"
    );
    assert_eq!(
        refusal(
            &core,
            r#"{"integrationIdentifier":"slack-no-credentials","subscriberId":"u"}"#
        )
        .0,
        404
    );
    // Field validation (422) precedes everything.
    assert_eq!(
        refusal(&core, r#"{"integrationIdentifier":"nope","subscriberId":""}"#).0,
        422
    );
}

#[test]
fn context_keys_are_free_values_are_checked_with_novus_messages() {
    let core = core();
    let ctx = serde_json::json!({"é": "x", "z": "y", "team.name": "acme"});
    let hash =
        channel_connect::context_hash::context_hash(ENV_SECRET_KEY.as_bytes(), ctx.as_object().unwrap())
            .unwrap();
    let body = serde_json::json!({"integrationIdentifier": "slack-hmac", "subscriberId": "s", "context": ctx, "contextHash": hash});
    let url = issue(&core, &body.to_string());
    let v = verify(&core, &format!("code=c&state={}", state_of(&url)), T0 + 1).unwrap();
    let keys: Vec<&str> = v.state.context().map(|e| e.key).collect();
    assert_eq!(keys, ["team.name", "z", "é"]);

    let six =
        r#"{"integrationIdentifier":"slack","context":{"a":"1","b":"1","c":"1","d":"1","e":"1","f":"1"}}"#;
    let (status, _) = refusal(&core, six);
    let e = ConnectRequestBody::from_json(six.as_bytes())
        .map(|b| {
            core.connect_url(&b, &IssueParams::new(at(T0), &entropy()))
                .unwrap_err()
        })
        .unwrap();
    assert_eq!(status, 422);
    assert_eq!(
        e.to_json()["errors"][0],
        "Too many contexts: 6 provided, maximum allowed is 5"
    );
    let big = serde_json::json!({"integrationIdentifier": "slack", "context": {"k": {"id": "x", "data": {"v": "a".repeat(70_000)}}}});
    let e = core
        .connect_url(
            &ConnectRequestBody::from_json(big.to_string().as_bytes()).unwrap(),
            &IssueParams::new(at(T0), &entropy()),
        )
        .unwrap_err();
    assert_eq!(
        e.to_json()["errors"][0],
        "Context 'k' data is too large: 69KB exceeds 64KB limit"
    );
}

#[test]
fn integral_numbers_in_data_are_written_as_integers() {
    let core = core();
    let body = r#"{"integrationIdentifier":"slack","subscriberId":"u","context":{"k":{"id":"x","data":{"n":1.0,"m":-0,"e":1e3,"deep":[2.0e1,{"z":-3.0}]}}}}"#;
    let v = verify(
        &core,
        &format!("code=c&state={}", state_of(&issue(&core, body))),
        T0 + 1,
    )
    .unwrap();
    let entry = v.state.context().next().unwrap();
    assert_eq!(entry.data, Some(r#"{"deep":[20,{"z":-3}],"e":1000,"m":0,"n":1}"#));
    let (status, _) = refusal(&core, &body.replace("-3.0", "-3.5"));
    assert_eq!(status, 422);
}
