//! Fixtures shared by the integration tests.
#![allow(dead_code)]

use channel_connect::*;
use time::OffsetDateTime;

pub const ENV: &str = "6615c4b2e0f3a1b2c3d4e5f6";
pub const ORG: &str = "6615c4b2e0f3a1b2c3d4e5f7";
pub const REDIRECT: &str = "http://localhost:3000/v1/integrations/chat/oauth/callback";
pub const SLACK_CLIENT_ID: &str = "1234567890.1234567890";
pub const TEAMS_CLIENT_ID: &str = "00000000-0000-0000-0000-000000000abc";
pub const SLACK_SECRET: &str = "slack-client-secret-value";
pub const TEAMS_SECRET: &str = "teams-client-secret-value";
pub const ENV_SECRET_KEY: &str = "demo-environment-secret-key";
pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const T0: i64 = 1_767_225_600;

// Novu's two example bodies, shared with the fuzz harness and the benches.
#[path = "../support/harness.rs"]
mod harness;
#[allow(unused_imports)] // each test file uses a part
pub use harness::{SEED_CURL, SEED_PHP};

pub fn key(id: u8, fill: u8) -> SigningKey {
    SigningKey::new(KeyId(id), &[fill; 32]).unwrap()
}

pub fn slack() -> Slack {
    Slack::new(
        ClientId::new(SLACK_CLIENT_ID).unwrap(),
        Secret::new(SLACK_SECRET),
        RedirectUri::new(REDIRECT).unwrap(),
    )
}

pub fn teams() -> MsTeams {
    MsTeams::new(
        ClientId::new(TEAMS_CLIENT_ID).unwrap(),
        Secret::new(TEAMS_SECRET),
        RedirectUri::new(REDIRECT).unwrap(),
    )
}

pub fn builder(ring: KeyRing) -> ChannelConnectBuilder {
    ChannelConnect::builder(ENV, ORG, ring)
        .integration(Integration::new("slack", slack()))
        .integration(Integration::new("slack-hmac", slack()).with_context_hmac(true))
        .integration(Integration::new("msteams", teams()))
        .integration(Integration::missing_client_id("slack-no-credentials", "Slack"))
        .integration(Integration::not_chat("sendgrid"))
        .environment_secret_key(Secret::new(ENV_SECRET_KEY))
}

/// The standard core: key 1 active.
pub fn core() -> ChannelConnect {
    builder(KeyRing::new(key(1, 7))).build().unwrap()
}

pub fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap()
}

pub fn entropy() -> Entropy {
    let mut e = [0u8; 32];
    e.iter_mut().enumerate().for_each(|(i, b)| *b = 0x40 + i as u8);
    Entropy(e)
}

pub fn body(json: &str) -> ConnectRequestBody {
    ConnectRequestBody::from_json(json.as_bytes()).unwrap()
}

pub fn issue(core: &ChannelConnect, json: &str) -> String {
    core.connect_url(&body(json), &IssueParams::new(at(T0), &entropy()))
        .unwrap()
        .url
}

/// A query parameter of a URL, percent-decoded.
pub fn param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The names of a URL's query parameters, in order.
pub fn param_names(url: &str) -> Vec<String> {
    let query = url.split_once('?').map_or("", |q| q.1);
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, _)| k.into_owned())
        .collect()
}

pub fn state_of(url: &str) -> String {
    param(url, "state").expect("a state")
}

pub fn verify(
    core: &ChannelConnect,
    query: &str,
    now: i64,
) -> Result<VerifiedCallback<'static>, CallbackError> {
    let params = CallbackParams::parse(query)?;
    core.verify_callback(&params, &VerifyParams::at(at(now)))
        .map(VerifiedCallback::into_owned)
}

pub fn state_kind(r: Result<VerifiedCallback<'_>, CallbackError>) -> StateErrorKind {
    match r {
        Err(CallbackError::State(e)) => e.kind(),
        other => panic!("expected a state error, got {other:?}"),
    }
}

/// Opens a state alone, as `Platform::open_state` does, with this ring, clock and skew.
pub fn open_with(
    token: &str,
    ring: &KeyRing,
    now: i64,
    skew: u16,
    binding: Option<&[u8]>,
) -> Result<VerifiedState, StateError> {
    let platform = Platform::new(ring.clone())
        .with_skew_secs(skew)
        .expect("skew in range");
    let now = time::OffsetDateTime::from_unix_timestamp(now).expect("now in range");
    platform.open_state(
        token,
        &VerifyParams {
            binding,
            ..VerifyParams::at(now)
        },
    )
}
