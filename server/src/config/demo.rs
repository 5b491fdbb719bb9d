//! The embedded demo configuration (`--demo`): published keys, and
//! integrations pointing at the stand-ins under `{base}/standin/`.

/// The demo configuration; `{base}` is this server's own address, so the
/// integrations point at the stand-ins it serves under `/standin/`.
pub(super) const DEMO_CONFIG: &str = r#"{
  "keys": [{ "id": 1, "secretHex": "64656d6f2d7369676e696e672d6b65792d6e6f742d666f722d70726f64756374", "active": true }],
  "tokenKeyHex": "64656d6f2d746f6b656e2d6b65792d6e6f742d666f722d70726f64756374696f",
  "environments": [{
    "id": "6615c4b2e0f3a1b2c3d4e5f6",
    "organizationId": "6615c4b2e0f3a1b2c3d4e5f7",
    "apiKeys": ["demo-secret-key"],
    "credentialsKeys": ["demo-credentials-key"],
    "environmentSecretKeys": ["demo-environment-secret-key"],
    "integrations": {integrations}
  }, {
    "id": "6615c4b2e0f3a1b2c3d4e5f8",
    "organizationId": "6615c4b2e0f3a1b2c3d4e5f7",
    "apiKeys": ["demo-browser-secret-key"],
    "browserBinding": true,
    "integrations": {integrations}
  }]
}"#;

/// The demo integrations, in both demo environments.
pub(super) const DEMO_INTEGRATIONS: &str = r#"[
      { "identifier": "slack", "provider": "slack",
        "clientId": "1234567890.1234567890", "clientSecret": "demo-slack-client-secret",
        "redirectUri": "{base}/v1/integrations/chat/oauth/callback",
        "baseUrl": "{base}/standin/slack", "signingSecret": "demo-slack-signing-secret" },
      { "identifier": "slack-rotating", "provider": "slack",
        "clientId": "1234567890.2222222222", "clientSecret": "demo-slack-client-secret",
        "redirectUri": "{base}/v1/integrations/chat/oauth/callback",
        "baseUrl": "{base}/standin/slack", "signingSecret": "demo-slack-signing-secret" },
      { "identifier": "msteams", "provider": "msteams", "tenant": "organizations",
        "clientId": "00000000-0000-0000-0000-000000000abc", "clientSecret": "demo-teams-client-secret",
        "redirectUri": "{base}/v1/integrations/chat/oauth/callback",
        "authority": "{base}/standin/microsoft", "graphBaseUrl": "{base}/standin/graph" },
      { "identifier": "webex", "provider": "webex",
        "clientId": "C0000000000000000000000000000000000000000000000000000000000demo", "clientSecret": "demo-webex-client-secret",
        "redirectUri": "{base}/v1/integrations/chat/oauth/callback",
        "baseUrl": "{base}/standin/webex" }
    ]"#;
