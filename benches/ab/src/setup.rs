// Included twice, with `cc` naming one build of the crate each time.
use cc::*;
use std::hint::black_box;
const KEY: [u8; 32] = *b"demo-signing-key-not-for-product";
const SEED: &str = r#"{"subscriberId":"subscriber-123","integrationIdentifier":"slack","connectionIdentifier":"slack-connection-abc123","context":{"key":"org-acme"},"scope":["chat:write","chat:write.public","channels:read"],"connectionMode":"shared","autoLinkUser":true}"#;
/// Any fixed entropy: both builds seal the same state from it.
const ENTROPY: [u8; 32] = [42; 32];
pub struct Setup {
    core: ChannelConnect,
    slack: ConnectRequestBody,
    teams: ConnectRequestBody,
    pub query: String,
    token: String,
    now: time::OffsetDateTime,
    verify: VerifyParams<'static>,
}
pub fn setup() -> Setup {
    let redirect = || RedirectUri::new("http://localhost:3000/v1/integrations/chat/oauth/callback").unwrap();
    let core = ChannelConnect::builder(
        "6615c4b2e0f3a1b2c3d4e5f6",
        "6615c4b2e0f3a1b2c3d4e5f7",
        KeyRing::new(SigningKey::new(KeyId(1), &KEY).unwrap()),
    )
    .integration(Integration::new(
        "slack",
        Slack::new(
            ClientId::new("1234567890.1234567890").unwrap(),
            Secret::new("s"),
            redirect(),
        ),
    ))
    .integration(Integration::new(
        "msteams",
        MsTeams::new(
            ClientId::new("00000000-0000-0000-0000-000000000abc").unwrap(),
            Secret::new("t"),
            redirect(),
        ),
    ))
    .build()
    .unwrap();
    let slack = ConnectRequestBody::from_json(SEED.as_bytes()).unwrap();
    let mut teams = slack.clone();
    teams.integration_identifier = Some("msteams".into());
    let now = time::OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
    let url = core
        .connect_url(&slack, &IssueParams::new(now, &Entropy(ENTROPY)))
        .unwrap()
        .url;
    // The state is the URL's first parameter (`...authorize?state=...&`).
    let token = url
        .split_once("state=")
        .and_then(|(_, rest)| rest.split('&').next())
        .unwrap()
        .to_owned();
    let query = format!("code=4724369.8123.abc123def&state={token}");
    let verify = VerifyParams::at(now + time::Duration::seconds(20));
    Setup {
        core,
        slack,
        teams,
        query,
        token,
        now,
        verify,
    }
}
impl Setup {
    pub fn issue_slack(&self) -> bool {
        self.core
            .connect_url(
                black_box(&self.slack),
                &IssueParams::new(self.now, &Entropy(ENTROPY)),
            )
            .is_ok()
    }
    pub fn issue_teams(&self) -> bool {
        self.core
            .connect_url(
                black_box(&self.teams),
                &IssueParams::new(self.now, &Entropy(ENTROPY)),
            )
            .is_ok()
    }
    pub fn open(&self) -> bool {
        self.core
            .platform()
            .open_state(black_box(&self.token), &self.verify)
            .is_ok()
    }
    pub fn verify_slack(&self) -> bool {
        let p = CallbackParams::parse(black_box(&self.query)).unwrap();
        self.core.verify_callback(&p, &self.verify).is_ok()
    }
}
