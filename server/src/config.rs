//! The server's configuration: environments (API keys, integrations) on one
//! platform (signing keys, state lifetime), and the key that seals tokens at
//! rest. One JSON file, or the embedded demo.
//!
//! A secret field may name an environment variable instead of holding the
//! secret: `"env:NAME"` reads `NAME` at start (missing: an error).

use std::collections::HashMap;
use std::sync::Arc;

use channel_connect::{
    BaseUrl, ChannelConnect, ClientId, Integration, KeyId, KeyRing, MsTeams, Platform, RedirectUri, Secret,
    SigningKey, Slack, Tenant,
};
use serde::Deserialize;

/// The callback path this server serves (the integrations' `redirectUri`).
pub const CALLBACK_PATH: &str = "/v1/integrations/chat/oauth/callback";

/// The demo API key (also printed at start).
pub const DEMO_API_KEY: &str = "demo-secret-key";
/// The API key of the demo environment with browser binding on (the start page's).
pub const DEMO_BROWSER_API_KEY: &str = "demo-browser-secret-key";

/// The demo configuration; `{base}` is this server's own address, so the
/// integrations point at the stand-ins it serves under `/standin/`.
const DEMO_CONFIG: &str = r#"{
  "keys": [{ "id": 1, "secretHex": "64656d6f2d7369676e696e672d6b65792d6e6f742d666f722d70726f64756374", "active": true }],
  "tokenKeyHex": "64656d6f2d746f6b656e2d6b65792d6e6f742d666f722d70726f64756374696f",
  "environments": [{
    "id": "6615c4b2e0f3a1b2c3d4e5f6",
    "organizationId": "6615c4b2e0f3a1b2c3d4e5f7",
    "apiKeys": ["demo-secret-key"],
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
const DEMO_INTEGRATIONS: &str = r#"[
      { "identifier": "slack", "provider": "slack",
        "clientId": "1234567890.1234567890", "clientSecret": "demo-slack-client-secret",
        "redirectUri": "{base}/v1/integrations/chat/oauth/callback",
        "baseUrl": "{base}/standin/slack" },
      { "identifier": "msteams", "provider": "msteams", "tenant": "organizations",
        "clientId": "00000000-0000-0000-0000-000000000abc", "clientSecret": "demo-teams-client-secret",
        "redirectUri": "{base}/v1/integrations/chat/oauth/callback",
        "authority": "{base}/standin/microsoft", "graphBaseUrl": "{base}/standin/graph" }
    ]"#;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct File {
    keys: Vec<KeyFile>,
    #[serde(default)]
    lifetime_secs: Option<u16>,
    #[serde(default)]
    skew_secs: Option<u16>,
    token_key_hex: String,
    environments: Vec<EnvironmentFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeyFile {
    id: u8,
    secret_hex: String,
    #[serde(default)]
    active: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EnvironmentFile {
    id: String,
    organization_id: String,
    api_keys: Vec<String>,
    #[serde(default)]
    environment_secret_keys: Vec<String>,
    /// Answer a first-party start URL that sets the binding cookie:
    /// `true`, `false` or `"rollout"` (see [`Binding`]).
    #[serde(default)]
    browser_binding: BindingFile,
    integrations: Vec<IntegrationFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IntegrationFile {
    identifier: String,
    provider: String,
    client_id: Option<String>,
    client_secret: Option<String>,
    redirect_uri: Option<String>,
    tenant: Option<String>,
    team: Option<String>,
    #[serde(default)]
    require_admin_role: bool,
    base_url: Option<String>,
    authority: Option<String>,
    graph_base_url: Option<String>,
    #[serde(default)]
    context_hmac: bool,
    /// Where the browser goes after the callback (else a result page).
    redirect_url: Option<String>,
}

/// `browserBinding` as the file writes it: a boolean, or `"rollout"`.
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum BindingFile {
    #[default]
    #[serde(skip)]
    Absent,
    Flag(bool),
    Mode(RolloutWord),
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum RolloutWord {
    Rollout,
}

/// Whether an environment's flows are bound to the browser that opens the
/// start URL (an `HttpOnly` cookie the callback must present).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    /// Unbound states, answered with the provider URL itself.
    Off,
    /// Bound states issued, unbound ones still accepted: for turning binding
    /// on without refusing the flows issued just before (their states live
    /// five minutes). Switch to `On` once those have expired.
    Rollout,
    /// Bound states only: a callback whose state carries no binding is refused.
    On,
}

impl Binding {
    /// Whether new states are bound (start URLs answered).
    pub fn issues_bound(self) -> bool {
        self != Binding::Off
    }

    /// Whether a callback may present a state without a binding.
    pub fn accepts_unbound(self) -> bool {
        self != Binding::On
    }
}

/// One environment: its API keys, its core, and what the server needs
/// besides the core (redirect URLs, the Teams apps for app installs).
pub struct Environment {
    api_keys: Vec<Secret>,
    /// The library's core for this environment.
    pub core: ChannelConnect,
    /// `redirectUrl` per integration identifier.
    pub redirect_urls: HashMap<String, url::Url>,
    /// The Teams apps per integration identifier (for installing the app for a linked user).
    pub teams: HashMap<String, MsTeams>,
    /// Whether flows are bound to the browser that opens the start URL.
    pub browser_binding: Binding,
}

impl Environment {
    /// The environment's id.
    pub fn id(&self) -> &str {
        self.core.environment_id()
    }

    /// Whether `presented` is one of this environment's API keys, compared
    /// in constant time.
    pub fn accepts(&self, presented: &str) -> bool {
        self.api_keys.iter().fold(false, |hit, k| {
            hit | constant_time_eq(k.expose().as_bytes(), presented.as_bytes())
        })
    }
}

/// Equal bytes, in time that depends on the lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Everything the server runs with.
pub struct Config {
    /// Signing keys and clock rules shared by every environment.
    pub platform: Platform,
    /// The environments, each with its own API keys and integrations.
    pub environments: Vec<Arc<Environment>>,
    /// The AEAD key for tokens at rest (32 bytes).
    pub token_key: [u8; 32],
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.environments.iter().map(|e| e.id()).collect();
        f.debug_struct("Config")
            .field("environments", &ids)
            .field("token_key", &"[redacted]")
            .finish()
    }
}

impl Config {
    /// The embedded demo, its integrations pointing at the stand-ins under `base`.
    pub fn demo(base: &str) -> Result<Config, String> {
        Config::parse(&Config::demo_text(base))
    }

    /// The demo configuration's JSON text (a starting point for a file of
    /// one's own, and for tests that change a part of it).
    pub fn demo_text(base: &str) -> String {
        DEMO_CONFIG
            .replace("{integrations}", DEMO_INTEGRATIONS)
            .replace("{base}", base.trim_end_matches('/'))
    }

    /// Reads a configuration file.
    pub fn from_file(path: &str) -> Result<Config, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        Config::parse(&text)
    }

    /// Parses and validates a configuration.
    pub fn parse(text: &str) -> Result<Config, String> {
        let file: File = serde_json::from_str(text)
            .map_err(|e| format!("bad configuration: {}", without_values(&e.to_string())))?;
        let mut platform = Platform::new(key_ring(&file.keys)?);
        if let Some(l) = file.lifetime_secs {
            platform = platform.with_lifetime_secs(l).map_err(|e| e.to_string())?;
        }
        if let Some(s) = file.skew_secs {
            platform = platform.with_skew_secs(s).map_err(|e| e.to_string())?;
        }
        let token_key: [u8; 32] = hex(&secret(&file.token_key_hex)?)
            .and_then(|k| k.try_into().ok())
            .ok_or("tokenKeyHex must be 32 bytes as 64 hex digits")?;
        let mut environments = Vec::new();
        let mut api_keys = std::collections::HashSet::new();
        for env in file.environments {
            if environments.iter().any(|e: &Arc<Environment>| e.id() == env.id) {
                return Err(format!("environment {} is configured twice", env.id));
            }
            // An API key selects one environment: a shared one would pick either.
            for k in &env.api_keys {
                if !api_keys.insert(secret(k)?) {
                    return Err(format!("environment {}: an API key is listed twice", env.id));
                }
            }
            environments.push(Arc::new(environment(&platform, env)?));
        }
        Ok(Config {
            platform,
            environments,
            token_key,
        })
    }

    /// The environment an API key selects.
    pub fn by_api_key(&self, presented: &str) -> Option<&Arc<Environment>> {
        // Every environment is compared, so the time does not say which matched.
        self.environments.iter().fold(
            None,
            |found, e| if e.accepts(presented) { Some(e) } else { found },
        )
    }

    /// The environment with this id.
    pub fn by_id(&self, id: &str) -> Option<&Arc<Environment>> {
        self.environments.iter().find(|e| e.id() == id)
    }
}

/// A parser's message with every quoted value blanked: a secret in a field
/// of the wrong type must not reach the terminal or a log.
fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '"' {
            // Skip to the closing quote, escapes included.
            while let Some(inner) = chars.next() {
                match inner {
                    '\\' => {
                        chars.next();
                    }
                    '"' => break,
                    _ => {}
                }
            }
            out.push_str("...\"");
        }
    }
    out
}

fn secret(value: &str) -> Result<String, String> {
    match value.strip_prefix("env:") {
        Some(name) => std::env::var(name).map_err(|_| format!("environment variable {name} is not set")),
        None => Ok(value.to_owned()),
    }
}

fn key_ring(keys: &[KeyFile]) -> Result<KeyRing, String> {
    let mut active = None;
    let mut others = Vec::new();
    for k in keys {
        let bytes =
            hex(&secret(&k.secret_hex)?).ok_or_else(|| format!("key {}: secretHex is not hex", k.id))?;
        let key = SigningKey::new(KeyId(k.id), &bytes).map_err(|e| format!("key {}: {e}", k.id))?;
        if k.active {
            if active.is_some() {
                return Err("only one key may be \"active\": true".to_owned());
            }
            active = Some(key);
        } else {
            others.push(key);
        }
    }
    let mut ring = KeyRing::new(active.ok_or("the configuration needs one key with \"active\": true")?);
    for k in others {
        ring = ring.with_verify_only(k).map_err(|e| e.to_string())?;
    }
    Ok(ring)
}

fn environment(platform: &Platform, env: EnvironmentFile) -> Result<Environment, String> {
    if env.api_keys.is_empty() {
        return Err(format!("environment {} has no apiKeys", env.id));
    }
    let api_keys = env
        .api_keys
        .iter()
        .map(|k| secret(k).map(Secret::new))
        .collect::<Result<Vec<_>, _>>()?;
    let mut b = ChannelConnect::builder_on(platform, env.id.clone(), env.organization_id);
    for k in &env.environment_secret_keys {
        b = b.environment_secret_key(Secret::new(secret(k)?));
    }
    let mut redirect_urls = HashMap::new();
    let mut teams = HashMap::new();
    for i in env.integrations {
        let id = i.identifier.clone();
        if let Some(u) = &i.redirect_url {
            let parsed = url::Url::parse(u).map_err(|e| format!("integration {id}: redirectUrl: {e}"))?;
            if !matches!(parsed.scheme(), "https" | "http") {
                return Err(format!("integration {id}: redirectUrl must be http(s)"));
            }
            redirect_urls.insert(id.clone(), parsed);
        }
        let (integration, app) = integration(i).map_err(|e| format!("environment {}: {e}", env.id))?;
        if let Some(app) = app {
            teams.insert(id, app);
        }
        b = b.integration(integration);
    }
    let core = b.build().map_err(|e| format!("environment {}: {e}", env.id))?;
    Ok(Environment {
        browser_binding: match env.browser_binding {
            BindingFile::Absent | BindingFile::Flag(false) => Binding::Off,
            BindingFile::Flag(true) => Binding::On,
            BindingFile::Mode(RolloutWord::Rollout) => Binding::Rollout,
        },
        api_keys,
        core,
        redirect_urls,
        teams,
    })
}

fn integration(i: IntegrationFile) -> Result<(Integration, Option<MsTeams>), String> {
    let display = match i.provider.as_str() {
        "slack" => "Slack",
        "msteams" => "MS Teams",
        _ => return Ok((Integration::not_chat(i.identifier), None)),
    };
    let Some(client_id) = i.client_id else {
        let integ = Integration::missing_client_id(i.identifier, display).with_context_hmac(i.context_hmac);
        return Ok((integ, None));
    };
    let id = i.identifier.clone();
    let err = |e: channel_connect::ConfigError| format!("integration {id}: {e}");
    let client_id = ClientId::new(client_id).map_err(err)?;
    let client_secret = Secret::new(secret(i.client_secret.as_deref().unwrap_or_default())?);
    let redirect = RedirectUri::new(i.redirect_uri.unwrap_or_default()).map_err(err)?;
    let base = |u: &Option<String>| u.as_deref().map(BaseUrl::new).transpose().map_err(err);
    let (integ, app) = if i.provider == "slack" {
        let mut slack = Slack::new(client_id, client_secret, redirect);
        if let Some(b) = base(&i.base_url)? {
            slack = slack.with_base_url(b);
        }
        if let Some(team) = &i.team {
            slack = slack.with_team(team).map_err(err)?;
        }
        (Integration::new(i.identifier, slack), None)
    } else {
        let mut app = MsTeams::new(client_id, client_secret, redirect);
        if let Some(t) = &i.tenant {
            app = app.with_tenant(Tenant::new(t).map_err(err)?);
        }
        if i.require_admin_role {
            app = app.require_admin_role();
        }
        if let Some(a) = base(&i.authority)? {
            app = app.with_authority(a);
        }
        if let Some(g) = base(&i.graph_base_url)? {
            app = app.with_graph(g);
        }
        (Integration::new(i.identifier, app.clone()), Some(app))
    };
    Ok((integ.with_context_hmac(i.context_hmac), app))
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_parses_and_keys_select_environments() {
        let c = Config::demo("http://127.0.0.1:3000").unwrap();
        assert!(c.by_api_key(DEMO_API_KEY).is_some());
        assert!(c.by_api_key("demo-secret-kez").is_none());
        assert!(c.by_api_key("").is_none());
        assert!(!format!("{c:?}").contains("64656d6f"));
    }

    #[test]
    fn secrets_from_the_environment_must_exist() {
        let text = Config::demo_text("http://127.0.0.1:1").replace(
            "\"demo-secret-key\"",
            "\"env:CHANNEL_CONNECT_TEST_UNSET_VARIABLE\"",
        );
        let err = Config::parse(&text).unwrap_err();
        assert!(err.contains("CHANNEL_CONNECT_TEST_UNSET_VARIABLE"), "{err}");
    }

    #[test]
    fn an_api_key_selects_one_environment() {
        let shared =
            Config::demo_text("http://127.0.0.1:1").replace("demo-browser-secret-key", "demo-secret-key");
        let err = Config::parse(&shared).unwrap_err();
        assert!(err.contains("listed twice"), "{err}");
        assert!(!err.contains("demo-secret-key"), "the key is not repeated: {err}");
    }

    #[test]
    fn browser_binding_is_off_on_or_rolling_out() {
        let with = |value: &str| {
            let text = Config::demo_text("http://127.0.0.1:1").replace(
                "\"browserBinding\": true",
                &format!("\"browserBinding\": {value}"),
            );
            Config::parse(&text).map(|c| c.environments[1].browser_binding)
        };
        assert_eq!(with("true"), Ok(Binding::On));
        assert_eq!(with("false"), Ok(Binding::Off));
        assert_eq!(with("\"rollout\""), Ok(Binding::Rollout));
        assert!(with("\"maybe\"").is_err());
        let demo = Config::demo("http://127.0.0.1:1").unwrap();
        assert_eq!(demo.environments[0].browser_binding, Binding::Off, "absent: off");
        assert!(!Binding::On.accepts_unbound() && Binding::Rollout.accepts_unbound());
    }

    #[test]
    fn a_field_of_the_wrong_type_does_not_show_its_value() {
        let text = Config::demo_text("http://127.0.0.1:1").replace(
            r#""apiKeys": ["demo-secret-key"]"#,
            r#""apiKeys": "sk_live_\"SUPER\"SECRET""#,
        );
        let err = Config::parse(&text).unwrap_err();
        assert!(!err.contains("SECRET") && !err.contains("sk_live"), "{err}");
        assert!(
            err.contains("expected a sequence") && err.contains("line"),
            "{err}"
        );
    }

    #[test]
    fn one_key_is_active() {
        let two = Config::demo_text("http://127.0.0.1:1").replace(
            r#""active": true }]"#,
            r#""active": true }, { "id": 2, "secretHex": "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "active": true }]"#,
        );
        let err = Config::parse(&two).unwrap_err();
        assert!(err.contains("only one key"), "{err}");
    }
}
