//! What the fuzz targets run (`fuzz/fuzz_targets/*` include this file with
//! `#[path]`), shared with `tests/fuzz_corpus_replay.rs`, the other tests
//! and the benches: the stable test replays the committed corpus through
//! exactly the code the fuzzer runs. It lives under `tests/` so the packaged
//! crate (which leaves `fuzz/` out) still builds its tests and benches.
//!
//! Each entry point takes arbitrary bytes, must never panic, and checks the
//! properties that must hold whatever the input: an issued URL's state opens
//! with the facts of the request, a verified follow-up state opens as a
//! connect-proof state for the claimed tenant and expires with its parent,
//! a PKCE challenge in a URL matches the re-derived verifier, and an admin
//! consent never yields records.
#![allow(dead_code)] // each fuzz target uses one entry point

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use channel_connect::state::{self, STATE_MAC_LABEL, TAG_LEN};
use channel_connect::{
    CallbackError, CallbackParams, ChannelConnect, ClientId, ConnectRequestBody, DEFAULT_LIFETIME_SECS,
    DEFAULT_SKEW_SECS, Entropy, HttpResponse, Integration, IssueParams, IssuedUrl, KeyId, KeyRing,
    LinkUserRequestBody, MAX_URL_LEN, MsTeams, Purpose, RedirectUri, RequestError, Secret, SigningKey, Slack,
    StateError, VerifiedCallback, VerifiedState, VerifyParams,
};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use time::OffsetDateTime;

/// The demo configuration (the same facts as `examples/demo`).
pub const KEY: [u8; 32] = *b"demo-signing-key-not-for-product";
pub const KEY_ID: u8 = 1;
pub const ENVIRONMENT_ID: &str = "6615c4b2e0f3a1b2c3d4e5f6";
pub const ORGANIZATION_ID: &str = "6615c4b2e0f3a1b2c3d4e5f7";
pub const REDIRECT_URI: &str = "http://localhost:3000/v1/integrations/chat/oauth/callback";
pub const SLACK_CLIENT_ID: &str = "1234567890.1234567890";
pub const TEAMS_CLIENT_ID: &str = "00000000-0000-0000-0000-000000000abc";
pub const ENV_SECRET_KEY: &str = "demo-environment-secret-key";
pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// Seeds are issued at this time with this entropy; everything is opened and
/// verified 20 seconds later.
pub const ISSUED_AT: i64 = 1_767_225_600;
pub const VERIFY_AT: i64 = ISSUED_AT + 20;
pub const ENTROPY: Entropy = Entropy(entropy_bytes());
/// The browser binding presented at every open (unbound states ignore it).
pub const BINDING: &[u8] = b"install-cookie-hash";

/// Novu's PHP SDK example body.
pub const SEED_PHP: &str = r#"{"subscriberId":"subscriber-123","integrationIdentifier":"slack","connectionIdentifier":"slack-connection-abc123","context":{"key":"org-acme"},"scope":["chat:write","chat:write.public","channels:read"],"connectionMode":"shared","autoLinkUser":true}"#;

/// Novu's curl example body (integrationIdentifier renamed to `slack`).
pub const SEED_CURL: &str = r#"{
    "subscriberId": "subscriber-123",
    "integrationIdentifier": "slack",
    "connectionIdentifier": "slack-connection-abc123",
    "context": {
      "property1": "org-acme",
      "property2": "org-acme"
    },
    "scope": [
      "chat:write",
      "chat:write.public",
      "channels:read"
    ],
    "connectionMode": "shared",
    "autoLinkUser": true
  }"#;

const fn entropy_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        b[i] = (i as u8).wrapping_mul(37).wrapping_add(11);
        i += 1;
    }
    b
}

/// The core every entry point uses, built once.
pub fn demo() -> &'static ChannelConnect {
    static CORE: OnceLock<ChannelConnect> = OnceLock::new();
    CORE.get_or_init(|| {
        let key = SigningKey::new(KeyId(KEY_ID), &KEY).expect("32-byte key");
        let redirect = || RedirectUri::new(REDIRECT_URI).expect("loopback http redirect");
        let slack = || {
            Slack::new(
                ClientId::new(SLACK_CLIENT_ID).expect("client id"),
                Secret::new("demo-slack-client-secret"),
                redirect(),
            )
        };
        let teams = MsTeams::new(
            ClientId::new(TEAMS_CLIENT_ID).expect("client id"),
            Secret::new("demo-teams-client-secret"),
            redirect(),
        );
        ChannelConnect::builder(ENVIRONMENT_ID, ORGANIZATION_ID, KeyRing::new(key))
            .environment_secret_key(Secret::new(ENV_SECRET_KEY))
            .integration(Integration::new("slack", slack()))
            .integration(Integration::new("slack-hmac", slack()).with_context_hmac(true))
            .integration(Integration::new("msteams", teams))
            .integration(Integration::missing_client_id("slack-no-credentials", "Slack"))
            .integration(Integration::not_chat("sendgrid"))
            .build()
            .expect("demo configuration")
    })
}

/// Unix seconds as a time.
pub fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).expect("in range")
}

fn verify_params(expect_purpose: Option<Purpose>) -> VerifyParams<'static> {
    VerifyParams {
        now: at(VERIFY_AT),
        binding: Some(BINDING),
        expect_provider: None,
        expect_purpose,
    }
}

// ---------------------------------------------------------------- open_state

/// Target `open_state`: the bytes as a state token (when UTF-8), then the
/// bytes as a state body signed with the demo key, so that the layout
/// parser and the accessors behind the MAC are fuzzed too.
pub fn open_state(data: &[u8]) -> Option<Result<VerifiedState, StateError>> {
    if let Some(token) = sign_body(data) {
        let _ = open_token(&token);
    }
    std::str::from_utf8(data).ok().map(open_token)
}

/// `Platform::open_state` at [`VERIFY_AT`] with [`BINDING`]; then the service's
/// checks, and every accessor of a state that opened.
pub fn open_token(token: &str) -> Result<VerifiedState, StateError> {
    let core = demo();
    let opened = core.platform().open_state(token, &verify_params(None));
    match &opened {
        Ok(s) => {
            exercise_state(s);
            if let Ok((again, _provider)) = core.open_state(token, &verify_params(None)) {
                assert_eq!(again.replay_id(), s.replay_id());
                let _ = core.pkce_verifier(&again);
            }
        }
        Err(e) => {
            assert_eq!(e.to_string(), "Invalid OAuth state parameter");
            assert_eq!(e.status(), 400);
            let _ = e.kind();
        }
    }
    opened
}

/// Base64url of `body || HMAC tag`, as `state::seal` would write it, for any body.
pub fn sign_body(body: &[u8]) -> Option<String> {
    if body.len() + TAG_LEN > state::MAX_STATE_BYTES {
        return None;
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&KEY).expect("any key length");
    mac.update(STATE_MAC_LABEL);
    mac.update(&[0]);
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let mut raw = body.to_vec();
    raw.extend_from_slice(&tag[..TAG_LEN]);
    Some(URL_SAFE_NO_PAD.encode(raw))
}

/// Every accessor, and what must hold of any state that opened at [`VERIFY_AT`].
pub fn exercise_state(s: &VerifiedState) {
    let _ = format!("{s:?} {}", s.replay_id());
    let _ = (
        s.key_id(),
        s.purpose(),
        s.connection_mode(),
        s.auto_link_user(),
        s.is_bound(),
        s.links_user(),
    );
    if s.purpose() == Purpose::ConnectProof {
        assert!(s.workspace().is_some(), "{s:?}");
    }
    let fields = [
        s.provider(),
        s.integration_identifier(),
        s.environment_id(),
        s.organization_id(),
    ];
    assert!(fields.iter().all(|f| !f.is_empty()), "{s:?}");
    let _ = (s.subscriber_id(), s.connection_identifier());
    assert!(s.context().count() <= 5);
    for e in s.context() {
        assert!(!e.key.is_empty() && !e.id.is_empty());
    }
    let now = at(VERIFY_AT);
    assert!(s.issued_at() <= now + time::Duration::seconds(i64::from(DEFAULT_SKEW_SECS)));
    assert!(s.expires_at() > now, "{s:?} opened after it expired");
}

// ----------------------------------------------------------- verify_callback

/// Target `verify_callback`: the bytes as a callback URL or query (when
/// UTF-8), parsed and verified at [`VERIFY_AT`] with [`BINDING`].
pub fn verify_callback(data: &[u8]) -> Option<Result<VerifiedCallback<'static>, CallbackError>> {
    let input = std::str::from_utf8(data).ok()?;
    let verified = CallbackParams::parse(input).and_then(|params| {
        demo()
            .verify_callback(&params, &verify_params(None))
            .map(VerifiedCallback::into_owned)
    });
    match &verified {
        Ok(v) => check_verified(v),
        Err(e) => {
            let _ = format!("{e} {e:?}");
            assert_eq!(e.status(), 400);
        }
    }
    Some(verified)
}

fn check_verified(v: &VerifiedCallback<'_>) {
    exercise_state(&v.state);
    let _ = format!("{:?}", v.outcome);
    if let Some(next) = &v.next {
        // The proof sign-in: its state opens as connect-proof for the
        // claimed tenant, same facts, expiring with its parent, and its PKCE
        // challenge is the one the callback will re-derive.
        let followed = round_trip(next, Purpose::ConnectProof);
        assert_eq!(followed.subscriber_id(), v.state.subscriber_id());
        assert_eq!(followed.connection_identifier(), v.state.connection_identifier());
        assert_ne!(followed.replay_id(), v.state.replay_id());
        assert_eq!(followed.expires_at(), v.state.expires_at());
        let channel_connect::ProviderOutcome::AdminConsent { tenant, .. } = &v.outcome else {
            panic!("only an admin consent continues: {v:?}");
        };
        assert_eq!(followed.workspace(), Some(tenant.claimed()));
        assert!(v.token_request().unwrap().is_none());
    }
    if v.state.purpose() != Purpose::Connect {
        let _ = demo().pkce_verifier(&v.state);
    }
}

// -------------------------------------------------------------- request_body

/// What [`request_body`] got from one input.
pub struct Issued {
    /// `ConnectRequestBody::from_json` then `connect_url`.
    pub connect: Result<IssuedUrl, RequestError>,
    /// `LinkUserRequestBody::from_json` then `link_user_url`.
    pub link_user: Result<IssuedUrl, RequestError>,
}

/// Target `request_body`: the bytes as a connect body and as a link-user
/// body, issued at [`ISSUED_AT`] with [`ENTROPY`]; an issued URL's state must
/// open at [`VERIFY_AT`] with the facts of the body.
pub fn request_body(data: &[u8]) -> Issued {
    let core = demo();
    let connect = ConnectRequestBody::from_json(data)
        .and_then(|body| {
            let issued = core.connect_url(&body, &IssueParams::new(at(ISSUED_AT), &ENTROPY))?;
            let s = round_trip(&issued, Purpose::Connect);
            assert_eq!(s.subscriber_id(), body.subscriber_id.as_deref());
            assert_eq!(
                Some(s.integration_identifier()),
                body.integration_identifier.as_deref()
            );
            match body.connection_identifier.as_deref() {
                Some(c) => assert_eq!(s.connection_identifier(), Some(c)),
                None => assert!(
                    s.connection_identifier()
                        .is_some_and(|c| c.starts_with("chconn_"))
                ),
            }
            assert_eq!(s.context().count(), body.context.as_ref().map_or(0, |c| c.len()));
            assert!(!s.is_bound());
            Ok(issued)
        })
        .inspect_err(check_request_error);
    let link_user = LinkUserRequestBody::from_json(data)
        .and_then(|body| {
            let issued = core.link_user_url(
                &body,
                &IssueParams::new(at(ISSUED_AT), &ENTROPY).with_binding(BINDING),
            )?;
            let s = round_trip(&issued, Purpose::LinkUser);
            assert_eq!(s.subscriber_id(), body.subscriber_id.as_deref());
            assert_eq!(s.connection_identifier(), body.connection_identifier.as_deref());
            assert!(s.is_bound());
            Ok(issued)
        })
        .inspect_err(check_request_error);
    Issued { connect, link_user }
}

fn check_request_error(e: &RequestError) {
    let json = e.to_json();
    assert_eq!(json["statusCode"], e.status());
    assert!([400, 404, 422].contains(&e.status()), "{e}");
}

/// Checks an issued URL: under the length limit, expiring after the
/// lifetime, its state opening at [`VERIFY_AT`] for `purpose`, and its PKCE
/// challenge (when any) matching the re-derived verifier.
pub fn round_trip(issued: &IssuedUrl, purpose: Purpose) -> VerifiedState {
    assert!(issued.url.len() < MAX_URL_LEN, "{} characters", issued.url.len());
    let token = state_in_url(&issued.url).expect("an issued URL carries a state");
    let (s, provider) = demo()
        .open_state(token, &verify_params(Some(purpose)))
        .unwrap_or_else(|e| panic!("issued state does not open: {e:?} in {}", issued.url));
    assert_eq!(provider.id(), s.provider());
    assert_eq!(issued.expires_at, s.expires_at());
    if purpose != Purpose::ConnectProof {
        assert_eq!(
            s.expires_at() - s.issued_at(),
            time::Duration::seconds(DEFAULT_LIFETIME_SECS.into())
        );
    }
    assert_eq!(
        (s.environment_id(), s.organization_id()),
        (ENVIRONMENT_ID, ORGANIZATION_ID)
    );
    exercise_state(&s);
    let challenge = param_in_url(&issued.url, "code_challenge");
    match demo().pkce_verifier(&s) {
        Some(v) => assert_eq!(challenge, Some(v.challenge().as_str())),
        None => assert_eq!(challenge, None),
    }
    s
}

/// The `state` parameter of an authorize URL (base64url: never encoded).
pub fn state_in_url(url: &str) -> Option<&str> {
    param_in_url(url, "state")
}

fn param_in_url<'u>(url: &'u str, name: &str) -> Option<&'u str> {
    let (_, query) = url.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| pair.split_once('=').filter(|(n, _)| *n == name).map(|(_, v)| v))
}

// ------------------------------------------------------------ token_response

/// One verified callback of each flow: Slack install code, Slack sign-in
/// code, Teams admin consent (which must never yield records), the Teams
/// proof sign-in that follows it, Teams link-user sign-in code.
pub fn exchange_flows() -> &'static [VerifiedCallback<'static>] {
    static FLOWS: OnceLock<Vec<VerifiedCallback<'static>>> = OnceLock::new();
    FLOWS.get_or_init(|| {
        let core = demo();
        let verify = |url: &str, query: &str| {
            let q = format!("{query}&state={}", state_in_url(url).expect("a state"));
            let params = CallbackParams::parse(&q).expect("parses");
            core.verify_callback(&params, &verify_params(None))
                .expect("verifies")
                .into_owned()
        };
        let connect = |body: &str| {
            let body = ConnectRequestBody::from_json(body.as_bytes()).expect("body");
            core.connect_url(&body, &IssueParams::new(at(ISSUED_AT), &ENTROPY))
                .expect("issues")
                .url
        };
        let link = |body: &str| {
            let body = LinkUserRequestBody::from_json(body.as_bytes()).expect("body");
            core.link_user_url(&body, &IssueParams::new(at(ISSUED_AT), &ENTROPY))
                .expect("issues")
                .url
        };
        let teams_connect = r#"{"integrationIdentifier":"msteams","subscriberId":"subscriber-123"}"#;
        let teams_link = r#"{"integrationIdentifier":"msteams","subscriberId":"subscriber-123"}"#;
        let slack_link = r#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#;
        let consent = verify(
            &connect(teams_connect),
            &format!("admin_consent=True&tenant={TENANT}"),
        );
        let proof_url = &consent.next.as_ref().expect("a proof sign-in follows").url;
        let proof = verify(proof_url, "code=0.AXoA-proof");
        vec![
            verify(&connect(SEED_PHP), "code=4724369.8123.abc"),
            verify(&link(slack_link), "code=4724369.8123.user"),
            consent,
            proof,
            verify(&link(teams_link), "code=0.AXoA-delegated"),
        ]
    })
}

/// Target `token_response`: the bytes as the provider's answer to the token
/// request of each flow, turned into the records to store. Returns how many
/// flows accepted them.
pub fn token_response(data: &[u8]) -> usize {
    let mut accepted = 0;
    for flow in exchange_flows() {
        match flow.records(&HttpResponse::new(200, data), at(VERIFY_AT)) {
            Ok(records) => {
                assert!(flow.next.is_none(), "an admin consent yielded records");
                if let (Some(c), "msteams") = (&records.connection, flow.state.provider()) {
                    assert_eq!(Some(c.workspace.id.as_str()), flow.state.workspace());
                }
                let _ = format!("{records:?}");
                accepted += 1;
            }
            Err(e) => {
                // Formatting must not panic. (That no secret reaches an error
                // is asserted with real tokens in tests/exchange.rs: here a
                // fuzzer can always write our own message as the response.)
                let _ = format!("{e} {e:?}");
            }
        }
    }
    accepted
}
