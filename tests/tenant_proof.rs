//! The attacker's view of the tenant proof and the workspace binding: every
//! way to get a connection or a user link for a workspace the person in the
//! flow does not belong to, tried through the public API, and refused.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use channel_connect::provider::msteams::token as microsoft;

use channel_connect::*;
use common::*;
use serde_json::{Value, json};

/// The victim's tenant: it consented to this multi-tenant app once.
const VICTIM: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// The attacker's own tenant.
const ATTACKER: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
const CONSUMER: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";

fn jwt(claims: &Value) -> String {
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    format!(
        "{}.{}.c2ln",
        b64(&json!({"typ": "JWT", "alg": "RS256"})),
        b64(claims)
    )
}

/// The token endpoint's answer to a sign-in by a user of `tid`.
fn sign_in_answer(tid: Option<&str>, extra: Value) -> Vec<u8> {
    let mut claims = json!({
        "aud": TEAMS_CLIENT_ID,
        "iat": T0, "nbf": T0, "exp": T0 + 3600,
        "oid": "00000000-0000-0000-66f3-3332eca7ea81",
    });
    if let Some(tid) = tid {
        claims["tid"] = json!(tid);
        claims["iss"] = json!(format!("https://login.microsoftonline.com/{tid}/v2.0"));
    }
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    serde_json::to_vec(&json!({
        "token_type": "Bearer", "scope": "openid profile", "expires_in": 3599,
        "access_token": "eyJ0.delegated", "id_token": jwt(&claims)
    }))
    .unwrap()
}

fn app_only_answer() -> Vec<u8> {
    br#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0.app-only"}"#
        .to_vec()
}

fn records_for(v: &VerifiedCallback<'_>, body: &[u8]) -> Result<StoredRecords, ExchangeError> {
    v.records(&HttpResponse::new(200, body), at(T0 + 60))
}

/// The attacker's own connect in `mode`, a forged admin-consent callback
/// naming the victim's tenant (never visiting Microsoft), and the proof
/// sign-in it leads to.
fn forged_consent(core: &ChannelConnect, body: &str) -> (VerifiedCallback<'static>, String) {
    let state = state_of(&issue(core, body));
    let consent = verify(
        core,
        &format!("admin_consent=True&tenant={VICTIM}&state={state}"),
        T0 + 5,
    )
    .unwrap();
    let next = consent.next.clone().expect("a proof sign-in follows");
    (consent, next.url)
}

const SHARED: &str =
    r#"{"integrationIdentifier":"msteams","context":{"org":"attacker"},"connectionMode":"shared"}"#;
const SUBSCRIBER: &str =
    r#"{"integrationIdentifier":"msteams","subscriberId":"attacker","autoLinkUser":true}"#;

#[test]
fn a_forged_admin_consent_never_yields_a_connection_in_either_mode() {
    let core = core();
    for body in [SHARED, SUBSCRIBER] {
        let (consent, proof_url) = forged_consent(&core, body);
        // The consent itself: nothing to exchange, and no answer a host could
        // feed in (an app-only token for the victim, which would succeed)
        // makes records of it.
        assert!(consent.token_request().unwrap().is_none(), "{body}");
        for answer in [app_only_answer(), sign_in_answer(Some(VICTIM), json!({}))] {
            assert!(matches!(
                records_for(&consent, &answer),
                Err(ExchangeError::WrongFlow(_))
            ));
        }
        // The proof runs in the victim's tenant, where the attacker cannot sign in.
        let prefix = format!("https://login.microsoftonline.com/{VICTIM}/oauth2/v2.0/authorize?");
        assert!(proof_url.starts_with(&prefix), "{proof_url}");
        assert!(param(&proof_url, "code_challenge").is_some());
        let proof = verify(&core, &format!("code=c&state={}", state_of(&proof_url)), T0 + 10).unwrap();
        let token = proof.token_request().unwrap().unwrap();
        assert_eq!(
            token.url(),
            format!("https://login.microsoftonline.com/{VICTIM}/oauth2/v2.0/token")
        );
        // Signing in anywhere else, or as a personal account, or with no tid, is refused.
        for (tid, want) in [
            (Some(ATTACKER), ExchangeError::IdToken(IdTokenError::WrongTenant)),
            (
                Some(CONSUMER),
                ExchangeError::IdToken(IdTokenError::ConsumerTenant),
            ),
            (None, ExchangeError::IdToken(IdTokenError::MissingClaim("tid"))),
        ] {
            assert_eq!(
                records_for(&proof, &sign_in_answer(tid, json!({}))).unwrap_err(),
                want,
                "{body}"
            );
        }
        // Only a member of the victim's tenant completes it.
        let stored = records_for(&proof, &sign_in_answer(Some(VICTIM), json!({}))).unwrap();
        assert_eq!(stored.connection.unwrap().workspace.id, VICTIM);
    }
}

#[test]
fn the_record_builders_check_the_sealed_tenant_too() {
    let core = core();
    let (_, proof_url) = forged_consent(&core, SUBSCRIBER);
    let proof = verify(&core, &format!("code=c&state={}", state_of(&proof_url)), T0 + 10).unwrap();
    // A host that parses with a looser tenant and calls the builders directly
    // still cannot attach another tenant.
    let loose = microsoft::parse_delegated_response(
        &teams(),
        &HttpResponse::new(200, &sign_in_answer(Some(ATTACKER), json!({}))),
        &Tenant::organizations(),
        at(T0 + 60),
    )
    .unwrap();
    assert_eq!(
        microsoft::connection_record(&proof.state, &loose).unwrap_err(),
        ExchangeError::WrongWorkspace
    );
    assert_eq!(
        microsoft::user_record(&proof.state, &loose).unwrap_err(),
        ExchangeError::WrongWorkspace
    );
    // And a connect state (no proof) makes no Teams connection at all.
    let connect = verify(
        &core,
        &format!(
            "admin_consent=True&tenant={VICTIM}&state={}",
            state_of(&issue(&core, SHARED))
        ),
        T0 + 5,
    )
    .unwrap();
    assert!(matches!(
        microsoft::connection_record(&connect.state, &loose),
        Err(ExchangeError::WrongFlow(_))
    ));
}

#[test]
fn the_consumer_tenant_and_malformed_tenants_are_refused_at_consent() {
    let core = core();
    let state = state_of(&issue(&core, SHARED));
    for (tenant, want) in [
        (CONSUMER, CallbackError::TenantNotAllowed),
        (
            "9188040D-6C67-4C5B-B112-36A304B66DAD",
            CallbackError::TenantNotAllowed,
        ),
        ("contoso.onmicrosoft.com", CallbackError::Malformed("tenant")),
        ("organizations", CallbackError::Malformed("tenant")),
    ] {
        let e = verify(
            &core,
            &format!("admin_consent=True&tenant={tenant}&state={state}"),
            T0 + 5,
        )
        .unwrap_err();
        assert_eq!(e, want, "{tenant}");
    }
    assert!(matches!(
        Tenant::new(CONSUMER),
        Err(ConfigError::TenantNotAllowed(_))
    ));
}

#[test]
fn a_proof_state_is_not_a_connect_or_link_user_state() {
    let core = core();
    let (_, proof_url) = forged_consent(&core, SUBSCRIBER);
    let proof = state_of(&proof_url);
    // Replayed as an admin consent (to chain proofs or swap the tenant).
    let e = verify(
        &core,
        &format!("admin_consent=True&tenant={ATTACKER}&state={proof}"),
        T0 + 10,
    )
    .unwrap_err();
    assert!(matches!(e, CallbackError::Conflicting(_)), "{e:?}");
    // Routed where a link-user or connect state is expected.
    let query = format!("code=c&state={proof}");
    for purpose in [Purpose::LinkUser, Purpose::Connect] {
        let p = CallbackParams::parse(&query).unwrap();
        let vp = VerifyParams {
            expect_purpose: Some(purpose),
            ..VerifyParams::at(at(T0 + 10))
        };
        assert_eq!(
            state_kind(core.verify_callback(&p, &vp)),
            StateErrorKind::WrongPurpose
        );
    }
    // A plain link-user sign-in yields no connection, whatever its tid.
    let link = core
        .link_user_url(
            &LinkUserRequestBody::from_json(
                br#"{"integrationIdentifier":"msteams","subscriberId":"attacker"}"#,
            )
            .unwrap(),
            &IssueParams::new(at(T0), &entropy()),
        )
        .unwrap();
    let v = verify(&core, &format!("code=c&state={}", state_of(&link.url)), T0 + 10).unwrap();
    let stored = records_for(&v, &sign_in_answer(Some(VICTIM), json!({}))).unwrap();
    assert!(stored.connection.is_none());
}

#[test]
fn a_tenant_restricted_integration_refuses_a_consent_for_another_tenant() {
    let core = ChannelConnect::builder(ENV, ORG, KeyRing::new(key(1, 7)))
        .integration(Integration::new(
            "msteams",
            teams().with_tenant(Tenant::new(VICTIM).unwrap()),
        ))
        .build()
        .unwrap();
    let url = issue(&core, SHARED);
    assert!(url.starts_with(&format!(
        "https://login.microsoftonline.com/{VICTIM}/v2.0/adminconsent?"
    )));
    let state = state_of(&url);
    let e = verify(
        &core,
        &format!("admin_consent=True&tenant={ATTACKER}&state={state}"),
        T0 + 5,
    )
    .unwrap_err();
    assert_eq!(e, CallbackError::WorkspaceMismatch);
    let upper = VICTIM.to_uppercase();
    assert!(
        verify(
            &core,
            &format!("admin_consent=True&tenant={upper}&state={state}"),
            T0 + 5
        )
        .is_ok()
    );
}

#[test]
fn an_admin_role_can_be_required_of_the_proof() {
    let core = ChannelConnect::builder(ENV, ORG, KeyRing::new(key(1, 7)))
        .integration(Integration::new("msteams", teams().require_admin_role()))
        .build()
        .unwrap();
    let (_, proof_url) = forged_consent(&core, SHARED);
    let proof = verify(&core, &format!("code=c&state={}", state_of(&proof_url)), T0 + 10).unwrap();
    let member = "b79fbf4d-3ef9-4689-8143-76b194e85509"; // the "member" role template
    for extra in [json!({}), json!({"wids": []}), json!({"wids": [member]})] {
        let e = records_for(&proof, &sign_in_answer(Some(VICTIM), extra.clone())).unwrap_err();
        assert_eq!(e, ExchangeError::IdToken(IdTokenError::NotAdmin), "{extra}");
    }
    let admin = sign_in_answer(Some(VICTIM), json!({"wids": [member, GLOBAL_ADMIN]}));
    assert!(records_for(&proof, &admin).unwrap().connection.is_some());
    // A link-user sign-in is not a proof: no admin role asked of it.
    let link = core
        .link_user_url(
            &LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"msteams","subscriberId":"u"}"#)
                .unwrap(),
            &IssueParams::new(at(T0), &entropy()),
        )
        .unwrap();
    let v = verify(&core, &format!("code=c&state={}", state_of(&link.url)), T0 + 10).unwrap();
    assert!(records_for(&v, &sign_in_answer(Some(VICTIM), json!({}))).is_ok());
}

fn link_teams(core: &ChannelConnect, workspace: &str) -> Result<IssuedUrl, RequestError> {
    core.link_user_url(
        &LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"msteams","subscriberId":"s1"}"#)
            .unwrap(),
        &IssueParams::new(at(T0), &entropy()).with_workspace(workspace),
    )
}

#[test]
fn a_teams_user_link_binds_to_the_connection_tenant() {
    let core = core();
    let url = link_teams(&core, &VICTIM.to_uppercase()).unwrap().url;
    assert!(
        url.starts_with(&format!(
            "https://login.microsoftonline.com/{VICTIM}/oauth2/v2.0/authorize?"
        )),
        "{url}"
    );
    let v = verify(&core, &format!("code=c&state={}", state_of(&url)), T0 + 10).unwrap();
    assert_eq!(v.state.workspace(), Some(VICTIM));
    let req = v.token_request().unwrap().unwrap();
    assert!(req.url().contains(VICTIM));
    // A user of another tenant cannot be linked to this connection.
    assert_eq!(
        records_for(&v, &sign_in_answer(Some(ATTACKER), json!({}))).unwrap_err(),
        ExchangeError::IdToken(IdTokenError::WrongTenant)
    );
    let stored = records_for(&v, &sign_in_answer(Some(VICTIM), json!({}))).unwrap();
    assert_eq!(stored.endpoints.len(), 1);
    // Workspaces that are not tenants are refused at issue.
    for bad in [CONSUMER, "contoso.com", "", "T0123ABCD"] {
        assert!(
            matches!(link_teams(&core, bad), Err(RequestError::InvalidWorkspace(_))),
            "{bad:?}"
        );
    }
}

fn slack_core(team: Option<&str>) -> ChannelConnect {
    let slack = match team {
        Some(t) => slack().with_team(t).unwrap(),
        None => slack(),
    };
    ChannelConnect::builder(ENV, ORG, KeyRing::new(key(1, 7)))
        .integration(Integration::new("slack", slack))
        .build()
        .unwrap()
}

fn slack_install(team: Value, enterprise: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "ok": true, "app_id": "A1", "access_token": "xoxb-1", "token_type": "bot", "scope": "chat:write",
        "bot_user_id": "U0BOT", "team": team, "enterprise": enterprise,
        "is_enterprise_install": team.is_null(), "authed_user": {"id": "U1"}
    }))
    .unwrap()
}

#[test]
fn a_slack_team_restriction_is_enforced_not_just_hinted() {
    let core = slack_core(Some("T0123ABCD"));
    let url = issue(&core, r#"{"integrationIdentifier":"slack","subscriberId":"s1"}"#);
    assert_eq!(param(&url, "team").as_deref(), Some("T0123ABCD"));
    // The user deletes `team=` and installs elsewhere: the state still knows.
    let v = verify(&core, &format!("code=c&state={}", state_of(&url)), T0 + 10).unwrap();
    let elsewhere = slack_install(json!({"id": "T9TK3CUKW", "name": "Other"}), Value::Null);
    assert_eq!(
        records_for(&v, &elsewhere).unwrap_err(),
        ExchangeError::WrongWorkspace
    );
    let org_wide = slack_install(Value::Null, json!({"id": "E0123ABCD", "name": "Org"}));
    assert_eq!(
        records_for(&v, &org_wide).unwrap_err(),
        ExchangeError::WrongWorkspace
    );
    let right = slack_install(
        json!({"id": "T0123ABCD", "name": "Acme"}),
        json!({"id": "E0123ABCD"}),
    );
    assert!(records_for(&v, &right).unwrap().connection.is_some());

    // An org-wide restriction matches the org-wide install.
    let core = slack_core(Some("E0123ABCD"));
    let url = issue(&core, r#"{"integrationIdentifier":"slack","subscriberId":"s1"}"#);
    let v = verify(&core, &format!("code=c&state={}", state_of(&url)), T0 + 10).unwrap();
    assert!(records_for(&v, &org_wide).is_ok());
}

#[test]
fn a_team_expected_at_issue_is_enforced() {
    let core = slack_core(None);
    let issue_with = |team: &str| {
        core.connect_url(
            &body(r#"{"integrationIdentifier":"slack","subscriberId":"s1"}"#),
            &IssueParams::new(at(T0), &entropy()).with_workspace(team),
        )
    };
    let v = verify(
        &core,
        &format!("code=c&state={}", state_of(&issue_with("T0123ABCD").unwrap().url)),
        T0 + 10,
    )
    .unwrap();
    let elsewhere = slack_install(json!({"id": "T9TK3CUKW"}), Value::Null);
    assert_eq!(
        records_for(&v, &elsewhere).unwrap_err(),
        ExchangeError::WrongWorkspace
    );
    for bad in ["t0123abcd", "X1", "", VICTIM] {
        assert!(
            matches!(issue_with(bad), Err(RequestError::InvalidWorkspace(_))),
            "{bad:?}"
        );
    }
    // A configured team cannot be widened by the host either.
    let restricted = slack_core(Some("T0123ABCD"));
    let e = restricted
        .connect_url(
            &body(r#"{"integrationIdentifier":"slack","subscriberId":"s1"}"#),
            &IssueParams::new(at(T0), &entropy()).with_workspace("T9TK3CUKW"),
        )
        .unwrap_err();
    assert!(matches!(e, RequestError::InvalidWorkspace(_)));
}

#[test]
fn a_slack_user_link_binds_to_the_connection_team() {
    let core = slack_core(None);
    let url = core
        .link_user_url(
            &LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"s1"}"#)
                .unwrap(),
            &IssueParams::new(at(T0), &entropy()).with_workspace("T0123ABCD"),
        )
        .unwrap()
        .url;
    assert_eq!(param(&url, "team").as_deref(), Some("T0123ABCD"));
    let v = verify(&core, &format!("code=c&state={}", state_of(&url)), T0 + 10).unwrap();
    let answer = |team: Value| {
        serde_json::to_vec(
            &json!({"ok": true, "app_id": "A1", "authed_user": {"id": "U1", "scope": "identity.basic",
            "access_token": "xoxp-1", "token_type": "user"}, "team": team}),
        )
        .unwrap()
    };
    assert_eq!(
        records_for(&v, &answer(json!({"id": "T9TK3CUKW"}))).unwrap_err(),
        ExchangeError::WrongWorkspace
    );
    assert_eq!(
        records_for(&v, &answer(Value::Null)).unwrap_err(),
        ExchangeError::WrongWorkspace
    );
    assert_eq!(
        records_for(&v, &answer(json!({"id": "T0123ABCD"})))
            .unwrap()
            .endpoints
            .len(),
        1
    );
}

#[test]
fn a_state_of_another_organization_is_refused() {
    let s = state_of(&issue(&core(), SHARED));
    let other = ChannelConnect::builder(ENV, "6615c4b2e0f3a1b2c3d4e5ff", KeyRing::new(key(1, 7)))
        .integration(Integration::new("msteams", teams()))
        .build()
        .unwrap();
    assert_eq!(
        state_kind(verify(
            &other,
            &format!("admin_consent=True&tenant={VICTIM}&state={s}"),
            T0 + 5
        )),
        StateErrorKind::WrongOrganization
    );
}

#[test]
fn an_encoded_duplicate_state_or_code_is_refused() {
    let core = core();
    let mine = state_of(&issue(&core, SUBSCRIBER));
    let other = state_of(&issue(&core, SHARED));
    for q in [
        format!("admin_consent=True&tenant={VICTIM}&state={mine}&%73tate={other}"),
        format!("%73tate={mine}&state={other}&admin_consent=True&tenant={VICTIM}"),
        format!("code=a&c%6fde=b&state={mine}"),
        format!("code=a&%63%6F%64%65=b&state={mine}"),
    ] {
        assert!(
            matches!(
                verify(&core, &q, T0 + 5),
                Err(CallbackError::DuplicateParameter(_))
            ),
            "{q}"
        );
    }
}

#[test]
fn reflected_provider_text_is_made_safe() {
    let core = core();
    let state = state_of(&issue(&core, SHARED));
    let q = format!(
        "error=%3Cscript%3Ealert(1)%3C%2Fscript%3E&error_description=%3Cimg+src%3Dx+onerror%3Dalert(1)%3E%0D%0ASet-Cookie%3A+x%3D1{}&state={state}",
        "A".repeat(2000)
    );
    let e = verify(&core, &q, T0 + 5).unwrap_err();
    let CallbackError::Provider { error, description } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(error, "unrecognized");
    let description = description.as_deref().unwrap();
    assert!(description.len() <= 256, "{}", description.len());
    for shown in [e.to_string(), format!("{e:?}"), description.to_owned()] {
        assert!(
            !shown.contains('<') && !shown.contains('\r') && !shown.contains('\n'),
            "{shown}"
        );
    }
    let q = "error=%3Cb%3E&error_description=x";
    let Err(CallbackError::Unsolicited { error, .. }) = verify(&core, q, T0 + 5) else {
        panic!()
    };
    assert_eq!(error.as_deref(), Some("unrecognized"));
}

#[test]
fn short_environment_secret_keys_are_refused() {
    for k in ["", "fifteen-bytes!!"] {
        let e = ChannelConnect::builder(ENV, ORG, KeyRing::new(key(1, 7)))
            .environment_secret_key(Secret::new(k))
            .build()
            .unwrap_err();
        assert_eq!(e, ConfigError::EnvironmentSecretKey);
    }
    assert!(
        ChannelConnect::builder(ENV, ORG, KeyRing::new(key(1, 7)))
            .environment_secret_key(Secret::new("sixteen-bytes!!!"))
            .build()
            .is_ok()
    );
}
