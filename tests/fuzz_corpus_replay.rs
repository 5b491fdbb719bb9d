//! Replays the committed fuzz seed corpus (`tests/support/corpus/TARGET/*`) through
//! the same code the fuzz targets run (`tests/support/harness.rs`,
//! included below), on stable, as part of `cargo test`.
//!
//! Seed names say what must happen: `valid-*` states open at the harness's
//! verify time, `ok-*` callbacks verify and `ok-*` bodies issue a URL; every
//! other seed must be refused without a panic.
//!
//! Regenerate the seeds (deterministic: fixed time, entropy and key) with
//! `cargo test --test fuzz_corpus_replay -- --ignored regenerate_seed_corpus`.

#[path = "../tests/support/harness.rs"]
mod harness;

use std::fs;
use std::path::PathBuf;

use channel_connect::{CallbackParams, ConnectRequestBody, IssueParams, LinkUserRequestBody, VerifyParams};
use harness::*;

const TARGETS: [&str; 4] = ["open_state", "verify_callback", "request_body", "token_response"];
const MAX_SEED_BYTES: usize = 4096;
const MAX_SEEDS: usize = 16;

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support/corpus")
        .join(target)
}

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut out: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("directory entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&path).expect("readable seed"))
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

#[test]
fn corpus_stays_small() {
    for target in TARGETS {
        let seeds = seeds(target);
        assert!(seeds.len() <= MAX_SEEDS, "{target}: {} seeds", seeds.len());
        for (name, bytes) in &seeds {
            assert!(
                bytes.len() < MAX_SEED_BYTES,
                "{target}/{name}: {} bytes",
                bytes.len()
            );
        }
    }
}

#[test]
fn replay_open_state() {
    let mut valid = 0;
    for (name, bytes) in seeds("open_state") {
        let opened = open_state(&bytes);
        if name.starts_with("valid-") {
            let s = opened
                .unwrap_or_else(|| panic!("{name} is not UTF-8"))
                .unwrap_or_else(|e| panic!("{name} does not open: {e:?}"));
            assert_eq!(s.environment_id(), ENVIRONMENT_ID, "{name}");
            valid += 1;
        } else if name.starts_with("body-") {
            // A raw state body: it opens once signed with the demo key.
            let token = sign_body(&bytes).expect("small body");
            open_token(&token).unwrap_or_else(|e| panic!("{name} does not open once signed: {e:?}"));
        } else if let Some(r) = opened {
            assert!(r.is_err(), "{name} opened but is not named valid-*");
        }
    }
    assert!(valid >= 4, "only {valid} valid states");
}

#[test]
fn replay_verify_callback() {
    for (name, bytes) in seeds("verify_callback") {
        let verified = verify_callback(&bytes);
        if name.starts_with("ok-") {
            let v = verified
                .unwrap_or_else(|| panic!("{name} is not UTF-8"))
                .unwrap_or_else(|e| panic!("{name} does not verify: {e:?}"));
            assert_eq!(v.state.environment_id(), ENVIRONMENT_ID);
        } else if let Some(r) = verified {
            assert!(r.is_err(), "{name} verified but is not named ok-*");
        }
    }
}

#[test]
fn replay_request_body() {
    for (name, bytes) in seeds("request_body") {
        let issued = request_body(&bytes);
        if name.starts_with("ok-") {
            let _ = issued
                .connect
                .as_ref()
                .or(issued.link_user.as_ref())
                .unwrap_or_else(|e| panic!("{name} issues nothing: {e:?}"));
        } else {
            assert!(
                issued.connect.is_err(),
                "{name} issued a connect URL but is not named ok-*"
            );
        }
    }
}

#[test]
fn replay_token_response() {
    for (name, bytes) in seeds("token_response") {
        let accepted = token_response(&bytes);
        if name.starts_with("ok-") {
            assert!(accepted >= 1, "{name} was accepted by no flow");
        } else {
            assert_eq!(accepted, 0, "{name} was accepted but is not named ok-*");
        }
    }
}

// ------------------------------------------------------------- the generator

struct Seeds {
    target: &'static str,
    files: Vec<(String, Vec<u8>)>,
}

impl Seeds {
    fn new(target: &'static str) -> Self {
        Seeds {
            target,
            files: Vec::new(),
        }
    }

    fn add(&mut self, name: &str, bytes: impl AsRef<[u8]>) {
        self.files.push((name.to_owned(), bytes.as_ref().to_vec()));
    }

    fn write(self) {
        let dir = corpus_dir(self.target);
        if dir.exists() {
            fs::remove_dir_all(&dir).unwrap();
        }
        fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in self.files {
            fs::write(dir.join(name), bytes).unwrap();
        }
    }
}

fn connect_state(body: &str, issued_at: i64) -> String {
    let body = ConnectRequestBody::from_json(body.as_bytes()).unwrap();
    let issued = demo()
        .connect_url(&body, &IssueParams::new(at(issued_at), &ENTROPY))
        .unwrap();
    state_in_url(&issued.url).unwrap().to_owned()
}

fn link_user_state(body: &str, binding: Option<&[u8]>) -> String {
    let body = LinkUserRequestBody::from_json(body.as_bytes()).unwrap();
    let issued = demo()
        .link_user_url(
            &body,
            &IssueParams {
                binding,
                ..IssueParams::new(at(ISSUED_AT), &ENTROPY)
            },
        )
        .unwrap();
    state_in_url(&issued.url).unwrap().to_owned()
}

const MINIMAL: &str = r#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#;
const TEAMS: &str = r#"{"subscriberId":"subscriber-123","integrationIdentifier":"msteams","connectionIdentifier":"teams-connection-abc123","context":{"key":"org-acme"},"connectionMode":"shared","autoLinkUser":true}"#;
const CONTEXT_DATA: &str = r#"{"integrationIdentifier":"slack","context":{"tenant":{"id":"org-acme","data":{"plan":"pro","seats":25,"name":"Acme, Inc. ünïcode"}},"app":"web"}}"#;
const FIVE_KEYS: &str = r#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123","context":{"a":"1","b":"2","c":"3","d":"4","e":"5"},"connectionMode":"subscriber","autoLinkUser":false}"#;
const LINK_SLACK: &str = r#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123","connectionIdentifier":"slack-connection-abc123","userScope":["identity.basic","identity.email"]}"#;
const LINK_TEAMS: &str = r#"{"integrationIdentifier":"msteams","subscriberId":"subscriber-123","connectionIdentifier":"teams-connection-abc123","context":{"key":"org-acme"}}"#;

fn decoded(token: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .unwrap()
}

#[test]
#[ignore = "writes tests/support/corpus; run by hand to regenerate the seeds"]
fn regenerate_seed_corpus() {
    let slack = connect_state(SEED_PHP, ISSUED_AT);
    let teams = connect_state(TEAMS, ISSUED_AT);
    let slack_link = link_user_state(LINK_SLACK, None);
    let teams_link = link_user_state(LINK_TEAMS, Some(BINDING));

    // open_state: tokens (valid-* open at VERIFY_AT), raw bodies (body-*), refusals.
    let mut s = Seeds::new("open_state");
    s.add("valid-slack-seed-php", &slack);
    s.add("valid-slack-seed-curl", connect_state(SEED_CURL, ISSUED_AT));
    s.add("valid-slack-minimal", connect_state(MINIMAL, ISSUED_AT));
    s.add("valid-slack-context-data", connect_state(CONTEXT_DATA, ISSUED_AT));
    s.add("valid-slack-five-keys", connect_state(FIVE_KEYS, ISSUED_AT));
    s.add("valid-msteams-connect", &teams);
    s.add("valid-slack-link-user", &slack_link);
    s.add("valid-msteams-link-user-bound", &teams_link);
    s.add(
        "body-slack-seed-php",
        &decoded(&slack)[..decoded(&slack).len() - 16],
    );
    s.add(
        "body-msteams-link-user-bound",
        &decoded(&teams_link)[..decoded(&teams_link).len() - 16],
    );
    s.add("expired-slack", connect_state(SEED_PHP, ISSUED_AT - 400));
    let mut tampered = slack.clone().into_bytes();
    tampered[40] = if tampered[40] == b'A' { b'B' } else { b'A' };
    s.add("tampered-slack", tampered);
    s.add("not-base64", "not a state!");
    s.write();

    // verify_callback: real callback shapes (ok-* verify).
    let mut s = Seeds::new("verify_callback");
    s.add(
        "ok-slack-code",
        format!("code=4724369.8123.abc123def&state={slack}"),
    );
    s.add(
        "ok-slack-code-full-url",
        format!("{REDIRECT_URI}?code=4724369.8123.abc123def&state={slack}"),
    );
    s.add(
        "slack-access-denied",
        format!("error=access_denied&state={slack}"),
    );
    s.add("slack-no-state-app-directory", "code=4724369.8123.abc123def");
    s.add("slack-no-state-error", "error=access_denied");
    s.add(
        "ok-slack-link-user-code",
        format!("?code=4724369.999.user&state={slack_link}"),
    );
    s.add(
        "ok-msteams-admin-consent",
        format!(
            "{REDIRECT_URI}?admin_consent=True&tenant={TENANT}&state={teams}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
        ),
    );
    s.add(
        "msteams-admin-consent-error",
        format!(
            "?error=access_denied&error_description=AADSTS65004%3A+User+declined+to+consent+to+access+the+app.&admin_consent=True&tenant={TENANT}&state={teams}"
        ),
    );
    s.add(
        "ok-msteams-delegated-code",
        format!(
            "code=0.AXoA8nMd-abc_def&state={teams_link}&session_state=5f2a1c3e-0000-4000-8000-000000000000"
        ),
    );
    let consent = format!("admin_consent=True&tenant={TENANT}&state={teams}");
    let consent = CallbackParams::parse(&consent).unwrap();
    let proof = demo()
        .verify_callback(&consent, &VerifyParams::at(at(ISSUED_AT + 10)))
        .unwrap()
        .next
        .unwrap();
    let proof = state_in_url(&proof.url).unwrap();
    s.add(
        "ok-msteams-proof-code",
        format!("code=0.AXoA-proof&state={proof}"),
    );
    s.add(
        "msteams-consumer-tenant",
        format!("admin_consent=True&tenant=9188040d-6c67-4c5b-b112-36a304b66dad&state={teams}"),
    );
    s.add(
        "msteams-tenant-malformed",
        format!("admin_consent=True&tenant=contoso.com&state={teams}"),
    );
    s.add("duplicate-state", format!("state={slack}&code=x&state={teams}"));
    s.add("bad-utf8-code", format!("code=%ff%fe&state={slack}"));
    s.write();

    // request_body: both seed bodies, Teams, link-user, and refusals (ok-* issue).
    let mut s = Seeds::new("request_body");
    s.add("ok-seed-php", SEED_PHP);
    s.add("ok-seed-curl", SEED_CURL);
    s.add("ok-minimal", MINIMAL);
    s.add("ok-msteams", TEAMS);
    s.add("ok-context-data", CONTEXT_DATA);
    s.add("ok-five-keys", FIVE_KEYS);
    s.add("ok-link-user-slack", LINK_SLACK);
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(r#"{"key":"org-acme"}"#).unwrap();
    let hash = channel_connect::context_hash::context_hash(ENV_SECRET_KEY.as_bytes(), &map).unwrap();
    s.add(
        "ok-slack-hmac",
        format!(
            r#"{{"integrationIdentifier":"slack-hmac","subscriberId":"subscriber-123","context":{{"key":"org-acme"}},"contextHash":"{hash}"}}"#
        ),
    );
    s.add(
        "webhook-without-subscriber",
        r#"{"integrationIdentifier":"slack","context":{"key":"org-acme"},"scope":["incoming-webhook"]}"#,
    );
    s.add(
        "shared-without-context",
        r#"{"integrationIdentifier":"slack","subscriberId":"u","connectionMode":"shared"}"#,
    );
    s.add(
        "missing-credentials",
        r#"{"integrationIdentifier":"slack-no-credentials","subscriberId":"u"}"#,
    );
    s.add(
        "not-chat",
        r#"{"integrationIdentifier":"sendgrid","subscriberId":"u"}"#,
    );
    s.add("not-an-object", "[1]");
    s.add("truncated-json", &SEED_PHP[..60]);
    s.write();

    // token_response: the providers' answers (ok-* are accepted by some flow).
    let mut s = Seeds::new("token_response");
    s.add(
        "ok-slack-install",
        r##"{"ok":true,"app_id":"A0KRD7HC3","authed_user":{"id":"U1234","scope":"identity.basic","access_token":"xoxp-1","token_type":"user"},"scope":"chat:write,channels:read","token_type":"bot","access_token":"xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy","bot_user_id":"U0KRQLJ9H","team":{"name":"Acme","id":"T9TK3CUKW"},"enterprise":null,"is_enterprise_install":false,"incoming_webhook":{"channel":"#general","channel_id":"C1","configuration_url":"https://acme.slack.com/services/B1","url":"https://hooks.slack.com/services/T1/B1/x"}}"##,
    );
    s.add(
        "ok-slack-org-wide-install",
        r#"{"ok":true,"app_id":"A1","access_token":"xoxb-1","token_type":"bot","scope":"chat:write","bot_user_id":"U1","team":null,"enterprise":{"id":"E12345","name":"Org"},"is_enterprise_install":true,"authed_user":{"id":"U2"},"refresh_token":"xoxe-1-abc","expires_in":43200}"#,
    );
    s.add("slack-invalid-code", r#"{"ok":false,"error":"invalid_code"}"#);
    s.add(
        "slack-bad-redirect",
        r#"{"ok":false,"error":"bad_redirect_uri","warning":"superfluous_charset"}"#,
    );
    let claims = format!(
        r#"{{"aud":"{TEAMS_CLIENT_ID}","iss":"https://login.microsoftonline.com/{TENANT}/v2.0","tid":"{TENANT}","oid":"00000000-0000-0000-66f3-3332eca7ea81","iat":{ISSUED_AT},"nbf":{ISSUED_AT},"exp":{},"name":"Ada"}}"#,
        ISSUED_AT + 3600
    );
    let jwt = {
        use base64::Engine as _;
        let e = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.c2ln", e(r#"{"alg":"RS256","typ":"JWT"}"#), e(&claims))
    };
    s.add(
        "ok-microsoft-delegated",
        format!(
            r#"{{"token_type":"Bearer","scope":"openid profile User.Read","expires_in":3599,"access_token":"eyJ0.access","refresh_token":"0.AX.refresh","id_token":"{jwt}"}}"#
        ),
    );
    s.add(
        "microsoft-client-credentials-proves-nothing",
        r#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0.app-token"}"#,
    );
    s.add(
        "microsoft-code-expired",
        r#"{"error":"invalid_grant","error_description":"AADSTS70008: The provided authorization code or refresh token has expired.","error_codes":[70008]}"#,
    );
    s.add(
        "microsoft-app-not-in-tenant",
        r#"{"error":"unauthorized_client","error_description":"AADSTS700016: Application not found in the directory.","error_codes":[700016]}"#,
    );
    s.add("not-json", "<html>502 Bad Gateway</html>");
    s.write();
}
