//! What a host puts in its logs and API answers: camelCase JSON of the
//! issued URL, the verified state and outcome, and every error in one shape,
//! with no secret in any of it.

mod common;

use channel_connect::*;
use common::*;
use serde_json::{Value, json};

#[test]
fn an_issued_url_exposes_its_state_and_connection() {
    let core = core();
    let issued = core
        .connect_url(
            &body(r#"{"integrationIdentifier":"slack","subscriberId":"u1"}"#),
            &IssueParams::new(at(T0), &entropy()),
        )
        .unwrap();
    let generated = issued.connection_identifier().unwrap();
    assert!(
        generated.starts_with("chconn_") && generated.len() == 19,
        "{generated}"
    );
    assert_eq!(issued.state(), Some(state_of(&issued.url).as_str()));
    let json = serde_json::to_value(&issued).unwrap();
    assert_eq!(json["url"], issued.url.as_str());
    assert_eq!(json["expiresAt"], "2026-01-01T00:05:00Z");
    assert_eq!(json["state"], issued.state().unwrap());
    assert_eq!(json["connectionIdentifier"], generated);
    // A link-user URL that names no connection says so.
    let link = core
        .link_user_url(
            &LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"u1"}"#)
                .unwrap(),
            &IssueParams::new(at(T0), &entropy()),
        )
        .unwrap();
    assert_eq!(
        serde_json::to_value(&link).unwrap()["connectionIdentifier"],
        Value::Null
    );
}

#[test]
fn a_verified_callback_serializes_without_its_code() {
    let core = core();
    let url = issue(&core, SEED_PHP);
    let v = verify(
        &core,
        &format!("code=secret-code-4724&state={}", state_of(&url)),
        T0 + 5,
    )
    .unwrap();
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(
        json["state"],
        json!({
            "provider": "slack", "purpose": "connect", "integrationIdentifier": "slack",
            "environmentId": ENV, "organizationId": ORG, "subscriberId": "subscriber-123",
            "connectionIdentifier": "slack-connection-abc123", "workspace": null,
            "connectionMode": "shared", "autoLinkUser": true, "context": {"key": "org-acme"},
            "issuedAt": "2026-01-01T00:00:00Z", "expiresAt": "2026-01-01T00:05:00Z",
            "replayId": v.state.replay_id().to_string()
        })
    );
    assert_eq!(json["outcome"], json!({"type": "code"}));
    assert!(!json.to_string().contains("secret-code"));

    let teams = issue(
        &core,
        r#"{"integrationIdentifier":"msteams","subscriberId":"u1"}"#,
    );
    let consent = verify(
        &core,
        &format!("admin_consent=True&tenant={TENANT}&state={}", state_of(&teams)),
        T0 + 5,
    )
    .unwrap();
    let json = serde_json::to_value(&consent).unwrap();
    assert_eq!(
        json["outcome"],
        json!({"type": "adminConsent", "unverifiedTenant": TENANT, "scope": null})
    );
    assert_eq!(json["next"]["url"], consent.next.as_ref().unwrap().url.as_str());
}

#[test]
fn every_error_answers_the_same_shape() {
    let core = core();
    let request = core
        .connect_url(
            &body(r#"{"integrationIdentifier":"slack"}"#),
            &IssueParams::new(at(T0), &entropy()),
        )
        .unwrap_err();
    let callback = verify(&core, "code=x&state=AAAA", T0).unwrap_err();
    let exchange = ExchangeError::WrongWorkspace;
    for (json, status) in [
        (request.to_json(), 400),
        (callback.to_json(), 400),
        (exchange.to_json(), 403),
    ] {
        assert_eq!(json["statusCode"], status, "{json}");
        assert!(json["message"].is_string(), "{json}");
    }
    assert_eq!(callback.to_json()["message"], "Invalid OAuth state parameter");
}
