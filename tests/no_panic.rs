//! No public parsing function panics, whatever it is given: property tests
//! over arbitrary strings and bytes, and over structured near-misses (JSON
//! token responses and id_tokens with extreme values) that random bytes
//! would rarely reach.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use channel_connect::provider::msteams::graph;
use channel_connect::provider::msteams::token as microsoft;
use channel_connect::provider::slack::events as slack_events;
use channel_connect::provider::slack::oauth as slack;
use channel_connect::*;
use common::open_with;
use proptest::prelude::*;
use time::OffsetDateTime;

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap()
}

fn all_parsers(bytes: &[u8]) {
    let app = MsTeams::new(
        ClientId::new("00000000-0000-0000-0000-000000000abc").unwrap(),
        Secret::new("s"),
        RedirectUri::new("https://a.example/cb").unwrap(),
    );
    let tenant = Tenant::organizations();
    let pinned = Tenant::new("72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap();
    for status in [200, 400, 409, 503] {
        let r = HttpResponse::new(status, bytes);
        let _ = slack::parse_install(&r);
        let _ = slack::parse_user_sign_in(&r);
        let _ = slack::parse_refresh(&r, now());
        let _ = slack::parse_revoke(&r);
        let _ = microsoft::parse_delegated_response(&app, &r, &tenant, now());
        let _ = microsoft::parse_delegated_response(&app, &r, &pinned, now());
        let _ = microsoft::parse_app_only_token(&r, now());
        let _ = graph::parse_find_app(&r);
        let _ = graph::parse_install_for_user(&r);
    }
    let _ = slack_events::parse_event(bytes);
    let _ = ConnectRequestBody::from_json(bytes);
    let _ = LinkUserRequestBody::from_json(bytes);
    if let Ok(s) = std::str::from_utf8(bytes) {
        let _ = CallbackParams::parse(s);
        let ring = KeyRing::new(SigningKey::new(KeyId(1), &[7; 32]).unwrap());
        let _ = open_with(s, &ring, 0, 30, Some(bytes));
        let _ = Tenant::new(s);
        let _ = RedirectUri::new(s);
        let _ = ClientId::new(s);
        let _ = UnverifiedTenant::new(s);
        let _ = slack_events::SigningSecret::new(s);
        let secret = slack_events::SigningSecret::new("8f742231b10e8888abcd99yyyzzz85a5").unwrap();
        for now in [now(), OffsetDateTime::from_unix_timestamp(0).unwrap()] {
            let _ = slack_events::verify_request(&secret, Some(s), Some(s), bytes, now);
            let _ = slack_events::verify_request(&secret, Some("1767225600"), Some(s), bytes, now);
        }
    }
}

fn number() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, Into::into)),
        Just(serde_json::json!("1767225600")),
        Just(serde_json::Value::Null),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        all_parsers(&bytes);
    }

    #[test]
    fn arbitrary_strings(s in any::<String>()) {
        all_parsers(s.as_bytes());
    }

    /// Token responses whose id_token claims hold extreme or mistyped values.
    #[test]
    fn id_tokens_with_extreme_claims(
        exp in number(), nbf in number(), iat in number(),
        aud in "[a-z0-9-]{0,40}", tid in "[a-f0-9-]{0,40}", oid in proptest::option::of("[a-f0-9-]{0,40}"),
        sig in "[A-Za-z0-9_-]{0,10}",
        expires_in in number(),
    ) {
        let claims = serde_json::json!({
            "aud": aud, "iss": format!("https://login.microsoftonline.com/{tid}/v2.0"), "tid": tid,
            "oid": oid, "exp": exp, "nbf": nbf, "iat": iat,
        });
        let jwt = format!(
            "{}.{}.{sig}",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
        );
        let body = serde_json::json!({
            "token_type": "Bearer", "access_token": "eyJ0", "expires_in": expires_in,
            "scope": "openid profile User.Read", "id_token": jwt, "refresh_token": "0.AX",
        });
        all_parsers(body.to_string().as_bytes());
    }

    /// Slack responses with fields of the wrong types and extreme numbers.
    #[test]
    fn slack_responses_with_odd_fields(ok in any::<bool>(), expires_in in number(), team_null in any::<bool>()) {
        let body = serde_json::json!({
            "ok": ok, "app_id": "A1", "access_token": "xoxb-1", "token_type": "bot", "scope": "chat:write",
            "bot_user_id": "U1", "team": if team_null { serde_json::Value::Null } else { serde_json::json!({"id": "T1"}) },
            "expires_in": expires_in, "refresh_token": "xoxe-1", "error": "invalid_code",
            "authed_user": {"id": "U2", "expires_in": expires_in},
        });
        all_parsers(body.to_string().as_bytes());
    }

    /// Canonical JSON over arbitrary JSON values never panics.
    #[test]
    fn canonical_json_over_arbitrary_values(s in any::<String>(), n in number(), k in any::<String>()) {
        let mut m = serde_json::Map::new();
        m.insert(k, serde_json::json!({"id": s, "data": {"n": n, "list": [n, s]}}));
        let _ = context_hash::canonical_json(&m);
        let _ = context_hash::verify_context_hash(&[b"key"], &m, "00");
    }
}
