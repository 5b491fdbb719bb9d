//! The crate's state format against vectors produced outside it by an
//! independent Python implementation written from SPEC.md alone
//! (tests/vectors/state_v1.gen.py; the JSON shape is in its `format` field).

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use channel_connect::callback::Conflict;
use channel_connect::state::{StateErrorKind, VerifiedState, binding_tag};
use channel_connect::*;
use common::open_with;
use serde_json::{Value, json};
use time::OffsetDateTime;

const VECTORS: &str = include_str!("vectors/state_v1.json");

fn file() -> Value {
    serde_json::from_str(VECTORS).expect("state_v1.json is JSON")
}

fn entries<'a>(f: &'a Value, name: &str) -> &'a Vec<Value> {
    f[name].as_array().unwrap_or_else(|| panic!("{name} is an array"))
}

fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is a string in {v}"))
}

fn int(v: &Value, field: &str) -> i64 {
    v[field]
        .as_i64()
        .unwrap_or_else(|| panic!("{field} is an integer in {v}"))
}

fn opt_str<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    match &v[field] {
        Value::Null => None,
        Value::String(x) => Some(x),
        other => panic!("{field} is a string or null, not {other}"),
    }
}

fn unhex(h: &str) -> Vec<u8> {
    assert!(h.len().is_multiple_of(2), "odd hex {h}");
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap_or_else(|_| panic!("bad hex {h}")))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).expect("in range")
}

fn key(id: i64, hex_key: &str) -> SigningKey {
    SigningKey::new(KeyId(u8::try_from(id).unwrap()), &unhex(hex_key)).expect("32-byte key")
}

/// `keys: [{id, key, active}]`: the active key first, the others verify-only.
fn ring_of(keys: &Value) -> KeyRing {
    let keys = keys.as_array().expect("keys is an array");
    let active: Vec<&Value> = keys.iter().filter(|k| k["active"] == json!(true)).collect();
    assert_eq!(active.len(), 1, "exactly one active key in {keys:?}");
    let mut ring = KeyRing::new(key(int(active[0], "id"), s(active[0], "key")));
    for k in keys.iter().filter(|k| k["active"] != json!(true)) {
        ring = ring
            .with_verify_only(key(int(k, "id"), s(k, "key")))
            .expect("unique ids");
    }
    ring
}

fn integration_of(i: &Value) -> Integration {
    let client_id = ClientId::new(s(i, "client_id")).expect("client id");
    let redirect = RedirectUri::new(s(i, "redirect_uri")).expect("redirect URI");
    let secret = Secret::new("client-secret");
    match s(i, "provider") {
        "slack" => {
            let mut slack = Slack::new(client_id, secret, redirect);
            if let Some(team) = opt_str(i, "team") {
                slack = slack.with_team(team).expect("team");
            }
            Integration::new(s(i, "identifier"), slack)
        }
        "webex" => Integration::new(s(i, "identifier"), Webex::new(client_id, secret, redirect)),
        "msteams" => {
            let tenant = Tenant::new(opt_str(i, "tenant").unwrap_or("organizations")).expect("tenant");
            let teams = MsTeams::new(client_id, secret, redirect).with_tenant(tenant);
            Integration::new(s(i, "identifier"), teams)
        }
        other => panic!("unknown provider {other}"),
    }
}

fn core_of(v: &Value, ring: KeyRing) -> ChannelConnect {
    let lifetime = v.get("lifetime").map_or(300, |l| l.as_u64().unwrap());
    ChannelConnect::builder(s(v, "environment_id"), s(v, "organization_id"), ring)
        .lifetime_secs(u16::try_from(lifetime).unwrap())
        .integration(integration_of(&v["integration"]))
        .build()
        .expect("valid configuration")
}

/// The state parameter of an authorize URL (base64url: never percent-encoded).
fn state_param(url: &str) -> &str {
    let (_, query) = url.split_once('?').expect("URL has a query");
    query
        .split('&')
        .find_map(|p| p.strip_prefix("state="))
        .unwrap_or_else(|| panic!("no state in {url}"))
}

/// A verified state in the vectors' `fields` shape. `binding_value` is the
/// value the state was bound with, when known: the crate exposes only whether
/// a state is bound, so the 16-byte field is recomputed from that value.
fn fields_of(st: &VerifiedState, binding_value: Option<&str>) -> Value {
    let purpose_link = st.purpose() == Purpose::LinkUser;
    let proof = st.purpose() == Purpose::ConnectProof;
    let shared = st.connection_mode() == ConnectionMode::Shared;
    let flags = u8::from(purpose_link)
        | u8::from(shared) << 1
        | u8::from(st.auto_link_user()) << 2
        | u8::from(st.subscriber_id().is_some()) << 3
        | u8::from(st.connection_identifier().is_some()) << 4
        | u8::from(st.is_bound()) << 5
        | u8::from(proof) << 6
        | u8::from(st.workspace().is_some()) << 7;
    let issued_at = st.issued_at().unix_timestamp();
    let expires_at = st.expires_at().unix_timestamp();
    let binding = if st.is_bound() {
        let value = binding_value.expect("a bound state opened only with a binding value");
        json!(hex(&binding_tag(value.as_bytes())))
    } else {
        Value::Null
    };
    let context: Vec<Value> = st
        .context()
        .map(|e| json!({"key": e.key, "id": e.id, "data": e.data}))
        .collect();
    json!({
        "version": 1,
        "key_id": st.key_id().0,
        "flags": flags,
        "purpose": match st.purpose() {
            Purpose::Connect => "connect",
            Purpose::LinkUser => "link-user",
            _ => "connect-proof",
        },
        "mode": if shared { "shared" } else { "subscriber" },
        "auto_link_user": st.auto_link_user(),
        "issued_at": issued_at,
        "lifetime": expires_at - issued_at,
        "expires_at": expires_at,
        "nonce": st.replay_id().to_string(),
        "binding": binding,
        "provider": st.provider(),
        "integration": st.integration_identifier(),
        "environment": st.environment_id(),
        "organization": st.organization_id(),
        "subscriber": st.subscriber_id(),
        "connection": st.connection_identifier(),
        "workspace": st.workspace(),
        "context": context,
    })
}

fn kind_name(k: StateErrorKind) -> String {
    format!("{k:?}")
}

#[test]
fn file_has_the_promised_coverage() {
    let f = file();
    assert!(s(&f, "format").contains("SPEC.md"));
    assert!(entries(&f, "issue").len() >= 12);
    assert!(!entries(&f, "follow_up").is_empty());
    let refusals = |name| {
        let mut kinds: Vec<String> = entries(&f, name)
            .iter()
            .filter_map(|v| v["expected"]["error"].as_str().map(str::to_owned))
            .collect();
        kinds.sort_unstable();
        kinds.dedup();
        kinds
    };
    for kind in [
        "InvalidWorkspace",
        "UrlTooLong",
        "BodyInvalid",
        "ContextDataNumber",
        "ContextDataTooDeep",
        "LinkWithoutConnection",
    ] {
        assert!(refusals("issue").iter().any(|k| k == kind), "{kind}");
    }
    assert_eq!(
        refusals("follow_up"),
        [
            "CodeOnAdminConsent",
            "Expired",
            "MalformedAdminConsent",
            "MalformedTenant",
            "MissingParameters",
            "QueryTooLarge",
            "TenantNotAllowed",
            "Unsolicited",
            "WorkspaceMismatch"
        ]
    );
    let proofs = entries(&f, "open")
        .iter()
        .filter(|v| v["expected"]["ok"]["purpose"] == "connect-proof")
        .count();
    assert!(proofs >= 2, "{proofs} connect-proof open vectors");
    let opens = entries(&f, "open");
    assert!(opens.len() >= 20);
    let mut kinds: Vec<&str> = opens
        .iter()
        .filter_map(|o| o["expected"]["error"].as_str())
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "BadMac",
            "BindingMismatch",
            "BindingMissing",
            "Expired",
            "Malformed",
            "Missing",
            "NotYetValid",
            "Oversized",
            "UnknownKey",
            "UnknownVersion"
        ]
    );
}

#[test]
fn issue_vectors_give_the_same_states_and_urls() {
    let f = file();
    let mut failures = Vec::new();
    for v in entries(&f, "issue") {
        let name = s(v, "name");
        let ring = KeyRing::new(key(int(v, "key_id"), s(v, "key")));
        let core = core_of(v, ring.clone());
        let mut entropy = [0u8; 32];
        entropy.copy_from_slice(&unhex(s(v, "entropy")));
        let entropy = Entropy(entropy);
        let now = at(int(v, "now"));
        let binding = opt_str(v, "binding");
        // The raw body text when the exact literals matter (`1.0`, `-0`),
        // its bytes when they are not UTF-8.
        let body = match (
            v.get("request_json").and_then(Value::as_str),
            v.get("request_base64").and_then(Value::as_str),
        ) {
            (Some(raw), _) => raw.as_bytes().to_vec(),
            (None, Some(b64)) => STANDARD.decode(b64).expect("request_base64 is base64"),
            (None, None) => serde_json::to_vec(&v["request"]).unwrap(),
        };
        let params = IssueParams {
            binding: binding.map(str::as_bytes),
            workspace: v.get("workspace").and_then(Value::as_str),
            ..IssueParams::new(now, &entropy)
        };
        // Reading the body is part of the request's checks (SPEC.md 11.1 to
        // 11.3): a refusal may come from either.
        let issued = match s(v, "purpose") {
            "connect" => {
                ConnectRequestBody::from_json(&body).and_then(|body| core.connect_url(&body, &params))
            }
            "link-user" => {
                LinkUserRequestBody::from_json(&body).and_then(|body| core.link_user_url(&body, &params))
            }
            other => panic!("unknown purpose {other}"),
        };
        let want = &v["expected"];
        let issued = match (issued, want["error"].as_str()) {
            (Ok(i), None) => i,
            (Err(e), Some(kind)) => {
                if let Some(detail) = want.get("detail").and_then(Value::as_str)
                    && e.to_json()["errors"][0] != detail
                {
                    failures.push(format!("{name}: detail {}, python: {detail}", e.to_json()));
                }
                if let Some(message) = want.get("message").and_then(Value::as_str)
                    && e.to_json()["message"] != message
                {
                    failures.push(format!("{name}: message {}, python: {message}", e.to_json()));
                }
                let got = match e {
                    RequestError::InvalidWorkspace(_) => "InvalidWorkspace",
                    RequestError::UrlTooLong { .. } => "UrlTooLong",
                    RequestError::LinkWithoutConnection { .. } => "LinkWithoutConnection",
                    RequestError::Validation(
                        ValidationError::Body { .. }
                        | ValidationError::BodyNotObject
                        | ValidationError::BodyTooLarge,
                    ) => "BodyInvalid",
                    RequestError::Validation(ValidationError::ContextDataTooDeep { .. }) => {
                        "ContextDataTooDeep"
                    }
                    RequestError::Validation(ValidationError::TooManyContexts { .. }) => "TooManyContexts",
                    RequestError::Validation(ValidationError::ContextKeyInvalid) => "ContextKeyInvalid",
                    RequestError::Validation(ValidationError::ContextDataNumber { .. }) => {
                        "ContextDataNumber"
                    }
                    RequestError::Validation(ValidationError::ContextDataTooLarge { .. }) => {
                        "ContextDataTooLarge"
                    }
                    _ => "other",
                };
                if got != kind {
                    failures.push(format!("{name}: refused as {got} ({e}), python: {kind}"));
                }
                continue;
            }
            (Ok(i), Some(kind)) => {
                failures.push(format!("{name}: issued {}, python refuses: {kind}", i.url));
                continue;
            }
            (Err(e), None) => {
                failures.push(format!("{name}: refused: {e}"));
                continue;
            }
        };
        if issued.url != s(want, "url") {
            failures.push(format!(
                "{name}: url\n  crate:  {}\n  python: {}",
                issued.url,
                s(want, "url")
            ));
        }
        let state = state_param(&issued.url);
        if state != s(want, "state") {
            failures.push(format!(
                "{name}: state\n  crate:  {state}\n  python: {}",
                s(want, "state")
            ));
        }
        let params = OpenParams {
            now: int(v, "now"),
            skew: 30,
            binding: binding.map(str::as_bytes),
        };
        let opened = open_with(state, &ring, params.now, params.skew, params.binding)
            .expect("a freshly issued state opens");
        let got = fields_of(&opened, binding);
        if got != want["fields"] {
            failures.push(format!(
                "{name}: fields\n  crate:  {got}\n  python: {}",
                want["fields"]
            ));
        }
        assert_eq!(
            issued.expires_at.unix_timestamp(),
            want["fields"]["expires_at"].as_i64().unwrap(),
            "{name}"
        );
        let verifier = core.pkce_verifier(&opened);
        match (want.get("pkce_verifier"), verifier) {
            (Some(w), Some(got)) => {
                if got.expose() != w.as_str().unwrap() {
                    failures.push(format!("{name}: pkce_verifier {} != {w}", got.expose()));
                }
                let challenge = s(want, "code_challenge");
                if !issued
                    .url
                    .contains(&format!("&code_challenge={challenge}&code_challenge_method=S256"))
                {
                    failures.push(format!("{name}: code_challenge {challenge} not in the URL"));
                }
            }
            (None, None) => {}
            (w, got) => failures.push(format!(
                "{name}: pkce verifier expected {w:?}, crate has one: {}",
                got.is_some()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn follow_up_vectors_give_the_same_second_redirect() {
    let f = file();
    let mut failures = Vec::new();
    for v in entries(&f, "follow_up") {
        let name = s(v, "name");
        let ring = ring_of(&v["keys"]);
        let core = core_of(v, ring.clone());
        let query = s(v, "callback_query");
        let want = &v["expected"];
        let params = match (CallbackParams::parse(query), want["error"].as_str()) {
            (Ok(params), _) => params,
            (Err(CallbackError::TooLarge), Some("QueryTooLarge")) => continue,
            (Err(e), _) => {
                failures.push(format!("{name}: query refused: {e:?}"));
                continue;
            }
        };
        if let Some(connect_state) = opt_str(v, "connect_state") {
            assert_eq!(params.state.as_deref(), Some(connect_state), "{name}");
        }
        let binding = opt_str(v, "binding");
        let verify = VerifyParams {
            binding: binding.map(str::as_bytes),
            ..VerifyParams::at(at(int(v, "now")))
        };
        let verified = match (core.verify_callback(&params, &verify), want["error"].as_str()) {
            (Ok(verified), None) => verified,
            (Err(e), Some(kind)) => {
                let got = match &e {
                    CallbackError::State(s) => format!("{:?}", s.kind()),
                    CallbackError::WorkspaceMismatch => "WorkspaceMismatch".into(),
                    CallbackError::TenantNotAllowed => "TenantNotAllowed".into(),
                    CallbackError::Malformed("tenant") => "MalformedTenant".into(),
                    CallbackError::Malformed("admin_consent") => "MalformedAdminConsent".into(),
                    CallbackError::Conflicting(Conflict::CodeOnAdminConsent) => "CodeOnAdminConsent".into(),
                    CallbackError::MissingParameters => "MissingParameters".into(),
                    CallbackError::Unsolicited { .. } => "Unsolicited".into(),
                    other => format!("{other:?}"),
                };
                if got != kind {
                    failures.push(format!("{name}: refused as {got}, python: {kind}"));
                }
                continue;
            }
            (r, want) => {
                failures.push(format!("{name}: crate {r:?}, python {want:?}"));
                continue;
            }
        };
        assert!(
            matches!(verified.outcome, ProviderOutcome::AdminConsent { .. }),
            "{name}"
        );
        let next = verified.next.unwrap_or_else(|| panic!("{name}: no follow-up"));
        if next.url != s(want, "url") {
            failures.push(format!(
                "{name}: url\n  crate:  {}\n  python: {}",
                next.url,
                s(want, "url")
            ));
        }
        let state = state_param(&next.url);
        if state != s(want, "state") {
            failures.push(format!(
                "{name}: state\n  crate:  {state}\n  python: {}",
                s(want, "state")
            ));
        }
        let opened = open_with(state, &ring, int(v, "now"), 30, binding.map(str::as_bytes))
            .expect("the follow-up state opens");
        let got = fields_of(&opened, binding);
        if got != want["fields"] {
            failures.push(format!(
                "{name}: fields\n  crate:  {got}\n  python: {}",
                want["fields"]
            ));
        }
        let verifier = core.pkce_verifier(&opened).expect("a Teams proof uses PKCE");
        if verifier.expose() != s(want, "pkce_verifier") {
            failures.push(format!("{name}: pkce_verifier {}", verifier.expose()));
        }
        if !next.url.contains(&format!(
            "&code_challenge={}&code_challenge_method=S256",
            s(want, "code_challenge")
        )) {
            failures.push(format!("{name}: code_challenge not in the URL"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn open_vectors_give_the_same_fields_or_refusals() {
    let f = file();
    let mut failures = Vec::new();
    for v in entries(&f, "open") {
        let name = s(v, "name");
        let ring = ring_of(&v["keys"]);
        let binding = opt_str(v, "binding");
        let params = OpenParams {
            now: int(v, "now"),
            skew: u16::try_from(int(v, "skew")).unwrap(),
            binding: binding.map(str::as_bytes),
        };
        let got = match open_with(s(v, "state"), &ring, params.now, params.skew, params.binding) {
            Ok(st) => json!({ "ok": fields_of(&st, binding) }),
            Err(e) => json!({ "error": kind_name(e.kind()) }),
        };
        if got != v["expected"] {
            failures.push(format!("{name}:\n  crate:  {got}\n  python: {}", v["expected"]));
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The open vectors' clock and binding.
struct OpenParams<'a> {
    now: i64,
    skew: u16,
    binding: Option<&'a [u8]>,
}
