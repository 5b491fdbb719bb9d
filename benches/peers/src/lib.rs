//! The two sides of the peers benchmark, with the same facts and the same
//! seed request body.
//!
//! * Peers: the `oauth2` crate writes the authorize URL, its `CsrfToken`
//!   carrying a `jsonwebtoken` HS256 state (issue); `jsonwebtoken` decodes
//!   and validates that state (verify).
//! * Ours: `ChannelConnect::connect_url` (validate + seal + URL) and
//!   `CallbackParams::parse` + `ChannelConnect::verify_callback`.

use std::time::{SystemTime, UNIX_EPOCH};

use channel_connect::{
    CallbackParams, ChannelConnect, ConnectRequestBody, Entropy, Integration, IssueParams, IssuedUrl, KeyId,
    KeyRing, RedirectUri, Secret, SigningKey, Slack, VerifyParams,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use oauth2::basic::BasicClient;
use oauth2::{AuthUrl, CsrfToken, EndpointNotSet, EndpointSet, RedirectUrl, Scope};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

pub const KEY: [u8; 32] = *b"demo-signing-key-not-for-product";
pub const ENVIRONMENT_ID: &str = "6615c4b2e0f3a1b2c3d4e5f6";
pub const ORGANIZATION_ID: &str = "6615c4b2e0f3a1b2c3d4e5f7";
pub const REDIRECT_URI: &str = "http://localhost:3000/v1/integrations/chat/oauth/callback";
pub const SLACK_CLIENT_ID: &str = "1234567890.1234567890";
pub const SLACK_AUTHORIZE_URL: &str = "https://slack.com/oauth/v2/authorize";
/// Novu's PHP SDK example body.
pub const SEED_PHP: &str = r#"{"subscriberId":"subscriber-123","integrationIdentifier":"slack","connectionIdentifier":"slack-connection-abc123","context":{"key":"org-acme"},"scope":["chat:write","chat:write.public","channels:read"],"connectionMode":"shared","autoLinkUser":true}"#;
pub const LIFETIME_SECS: u64 = 300;
pub const SKEW_SECS: u64 = 30;
pub const CODE: &str = "4724369.8123.abc123def";

/// The peers' state: the facts our binary state carries, as JWT claims.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssueClaims<'a> {
    pub provider: &'a str,
    pub purpose: &'a str,
    pub integration_identifier: &'a str,
    pub environment_id: &'a str,
    pub organization_id: &'a str,
    pub subscriber_id: Option<&'a str>,
    pub connection_identifier: Option<&'a str>,
    pub context: Option<&'a Map<String, Value>>,
    pub connection_mode: &'a str,
    pub auto_link_user: bool,
    pub iat: u64,
    pub exp: u64,
    pub nonce: &'a str,
}

/// The same claims, decoded.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    pub provider: String,
    pub purpose: String,
    pub integration_identifier: String,
    pub environment_id: String,
    pub organization_id: String,
    pub subscriber_id: Option<String>,
    pub connection_identifier: Option<String>,
    pub context: Option<Map<String, Value>>,
    pub connection_mode: String,
    pub auto_link_user: bool,
    pub iat: u64,
    pub exp: u64,
    pub nonce: String,
}

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet>;

/// `oauth2` + `jsonwebtoken`, keyed and configured once.
pub struct Peer {
    client: Client,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    header: Header,
}

impl Default for Peer {
    fn default() -> Self {
        Self::new()
    }
}

impl Peer {
    pub fn new() -> Self {
        let client = BasicClient::new(oauth2::ClientId::new(SLACK_CLIENT_ID.into()))
            .set_auth_uri(AuthUrl::new(SLACK_AUTHORIZE_URL.into()).unwrap())
            .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.into()).unwrap());
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = SKEW_SECS;
        validation.set_required_spec_claims(&["exp", "iat"]);
        Peer {
            client,
            encoding: EncodingKey::from_secret(&KEY),
            decoding: DecodingKey::from_secret(&KEY),
            validation,
            header: Header::new(Algorithm::HS256),
        }
    }

    /// Issue: the JWT state, then the authorize URL carrying it.
    pub fn issue(&self, body: &ConnectRequestBody, now: u64, nonce: &str) -> String {
        let claims = IssueClaims {
            provider: "slack",
            purpose: "connect",
            integration_identifier: body.integration_identifier.as_deref().unwrap_or(""),
            environment_id: ENVIRONMENT_ID,
            organization_id: ORGANIZATION_ID,
            subscriber_id: body.subscriber_id.as_deref(),
            connection_identifier: body.connection_identifier.as_deref(),
            context: body.context.as_ref(),
            connection_mode: body.connection_mode.map_or("subscriber", |m| m.as_str()),
            auto_link_user: body.auto_link_user.unwrap_or(false),
            iat: now,
            exp: now + LIFETIME_SECS,
            nonce,
        };
        let jwt = jsonwebtoken::encode(&self.header, &claims, &self.encoding).expect("HS256 signs");
        let scopes = body.scope.iter().flatten().map(|s| Scope::new(s.clone()));
        let (url, _csrf) = self
            .client
            .authorize_url(|| CsrfToken::new(jwt))
            .add_scopes(scopes)
            .url();
        url.into()
    }

    /// Verify: decode and validate the JWT state (signature, exp, iat), and
    /// check its environment, as our open does.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        (data.claims.environment_id == ENVIRONMENT_ID).then_some(data.claims)
    }
}

/// Ours: the library configured with the same facts.
pub fn ours() -> ChannelConnect {
    let key = SigningKey::new(KeyId(1), &KEY).unwrap();
    let slack = Slack::new(
        channel_connect::ClientId::new(SLACK_CLIENT_ID).unwrap(),
        Secret::new("demo-slack-client-secret"),
        RedirectUri::new(REDIRECT_URI).unwrap(),
    );
    ChannelConnect::builder(ENVIRONMENT_ID, ORGANIZATION_ID, KeyRing::new(key))
        .integration(Integration::new("slack", slack))
        .build()
        .unwrap()
}

pub fn ours_issue(core: &ChannelConnect, body: &ConnectRequestBody, now: OffsetDateTime) -> IssuedUrl {
    core.connect_url(body, &IssueParams::new(now, &Entropy([42; 32])))
        .unwrap()
}

/// Parse + `verify_callback`, its answer checked and dropped here: it
/// borrows the query (the JWT side's claims are owned, and dropped by the caller).
pub fn ours_verify(core: &ChannelConnect, query: &str, now: OffsetDateTime) -> Option<bool> {
    let params = CallbackParams::parse(query).ok()?;
    let verified = core.verify_callback(&params, &VerifyParams::at(now)).ok()?;
    Some(verified.state.subscriber_id().is_some())
}

/// The `state` parameter of a URL (either side's state needs no decoding:
/// base64url and JWT are URL-safe).
pub fn state_of(url: &str) -> &str {
    url.split_once('?')
        .and_then(|(_, q)| q.split('&').find_map(|p| p.strip_prefix("state=")))
        .expect("a state parameter")
}

/// Unix seconds now (the JWT side validates `exp` against the system clock).
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}
