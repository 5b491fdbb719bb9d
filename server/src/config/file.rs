//! The configuration file: its JSON shape (every field checked, unknown
//! ones refused) and how it becomes environments on one platform.

use std::collections::HashMap;
use std::sync::Arc;

use channel_connect::provider::slack::events::SigningSecret;
use channel_connect::{
    BaseUrl, ChannelConnect, ClientId, Integration, KeyId, KeyRing, MsTeams, Platform, RedirectUri, Secret,
    SigningKey, Slack, Tenant, Webex,
};
use serde::Deserialize;

use super::environment::{Binding, Environment, SlackApp};
use crate::store::seal::TokenKeys;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct File {
    keys: Vec<KeyFile>,
    #[serde(default)]
    lifetime_secs: Option<u16>,
    #[serde(default)]
    skew_secs: Option<u16>,
    /// One token key (id 0): what `tokenKeys` replaces for a rotation.
    #[serde(default)]
    token_key_hex: Option<String>,
    /// The token key ring: one active, the others to open what they sealed.
    #[serde(default)]
    token_keys: Option<Vec<KeyFile>>,
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
    /// Keys that read connections' credentials (the sender's), and nothing else.
    #[serde(default)]
    credentials_keys: Vec<String>,
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
    /// Slack: the app's signing secret (its Events API requests are checked with it).
    signing_secret: Option<String>,
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

/// What a file holds, checked: the platform, the environments, the token keys.
pub(super) struct Parsed {
    pub(super) platform: Platform,
    pub(super) environments: Vec<Arc<Environment>>,
    pub(super) token_keys: TokenKeys,
}

/// Parses and validates a configuration's text.
pub(super) fn parse(text: &str) -> Result<Parsed, String> {
    let file: File = serde_json::from_str(text)
        .map_err(|e| format!("bad configuration: {}", without_values(&e.to_string())))?;
    let mut platform = Platform::new(key_ring(&file.keys)?);
    if let Some(l) = file.lifetime_secs {
        platform = platform.with_lifetime_secs(l).map_err(|e| e.to_string())?;
    }
    if let Some(s) = file.skew_secs {
        platform = platform.with_skew_secs(s).map_err(|e| e.to_string())?;
    }
    let token_keys = token_keys(file.token_key_hex.as_deref(), file.token_keys.as_deref())?;
    let mut environments = Vec::new();
    let mut api_keys = std::collections::HashSet::new();
    for env in file.environments {
        if environments.iter().any(|e: &Arc<Environment>| e.id() == env.id) {
            return Err(format!("environment {} is configured twice", env.id));
        }
        // An API key selects one environment: a shared one would pick either.
        for k in env.api_keys.iter().chain(&env.credentials_keys) {
            if !api_keys.insert(secret(k)?) {
                return Err(format!("environment {}: an API key is listed twice", env.id));
            }
        }
        environments.push(Arc::new(environment(&platform, env)?));
    }
    Ok(Parsed {
        platform,
        environments,
        token_keys,
    })
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

/// `tokenKeyHex` (key 0) or `tokenKeys`, one of them.
fn token_keys(single: Option<&str>, ring: Option<&[KeyFile]>) -> Result<TokenKeys, String> {
    match (single, ring) {
        (Some(hex), None) => Ok(TokenKeys::new(0, &token_key(hex, "tokenKeyHex")?)),
        (None, Some(keys)) => token_key_ring(keys),
        (Some(_), Some(_)) => Err("give tokenKeyHex or tokenKeys, not both".to_owned()),
        (None, None) => Err("the configuration needs tokenKeyHex or tokenKeys".to_owned()),
    }
}

fn token_key_ring(keys: &[KeyFile]) -> Result<TokenKeys, String> {
    let mut active = keys.iter().filter(|k| k.active);
    let (Some(first), None) = (active.next(), active.next()) else {
        return Err("tokenKeys needs exactly one key with \"active\": true".to_owned());
    };
    let what = |k: &KeyFile| format!("tokenKeys: key {}", k.id);
    let first_key = token_key(&first.secret_hex, &what(first))?;
    let mut ring = TokenKeys::new(first.id, &first_key);
    // One key under two ids would let a sealed value be relabelled.
    let mut seen = vec![first_key];
    for k in keys.iter().filter(|k| !k.active) {
        let key = token_key(&k.secret_hex, &what(k))?;
        if seen.contains(&key) {
            return Err(format!("{}: the same key as another id", what(k)));
        }
        seen.push(key);
        ring = ring
            .with_reader(k.id, &key)
            .map_err(|e| format!("tokenKeys: {e}"))?;
    }
    Ok(ring)
}

/// A 32-byte token key from its hex (or `env:NAME`); the error names `what`, never the value.
fn token_key(value: &str, what: &str) -> Result<[u8; 32], String> {
    hex(&secret(value)?)
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| format!("{what} must be 32 bytes as 64 hex digits"))
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
    let mut slack = HashMap::new();
    let mut webex = HashMap::new();
    let mut providers = HashMap::new();
    for i in env.integrations {
        let id = i.identifier.clone();
        match i.provider.as_str() {
            "slack" | "msteams" => {
                providers.insert(id.clone(), i.provider.clone());
            }
            // Novu's providerId for Webex.
            "webex" => {
                providers.insert(
                    id.clone(),
                    channel_connect::provider::webex::PROVIDER_ID.to_owned(),
                );
            }
            _ => {}
        }
        if let Some(u) = &i.redirect_url {
            let parsed = url::Url::parse(u).map_err(|e| format!("integration {id}: redirectUrl: {e}"))?;
            if !matches!(parsed.scheme(), "https" | "http") {
                return Err(format!("integration {id}: redirectUrl must be http(s)"));
            }
            redirect_urls.insert(id.clone(), parsed);
        }
        let (integration, app) = integration(i).map_err(|e| format!("environment {}: {e}", env.id))?;
        match app {
            Some(App::Teams(app)) => {
                teams.insert(id, app);
            }
            Some(App::Slack(app)) => {
                slack.insert(id, app);
            }
            Some(App::Webex(app)) => {
                webex.insert(id, app);
            }
            None => {}
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
        credentials_keys: env
            .credentials_keys
            .iter()
            .map(|k| secret(k).map(Secret::new))
            .collect::<Result<Vec<_>, _>>()?,
        core,
        redirect_urls,
        teams,
        slack,
        webex,
        providers,
    })
}

/// A chat integration's app, for the calls after the callback.
enum App {
    Slack(SlackApp),
    Teams(MsTeams),
    Webex(Webex),
}

fn integration(i: IntegrationFile) -> Result<(Integration, Option<App>), String> {
    let display = match i.provider.as_str() {
        "slack" => "Slack",
        "msteams" => "MS Teams",
        "webex" => "Webex",
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
    let redirect_text = i.redirect_uri.unwrap_or_default();
    // The provider sends the browser back there: it must be this server's callback route.
    let callback_path = url::Url::parse(&redirect_text).map(|u| u.path().ends_with(super::CALLBACK_PATH));
    if callback_path == Ok(false) {
        return Err(format!(
            "integration {id}: redirectUri must end with {}",
            super::CALLBACK_PATH
        ));
    }
    let redirect = RedirectUri::new(redirect_text).map_err(err)?;
    let base = |u: &Option<String>| u.as_deref().map(BaseUrl::new).transpose().map_err(err);
    let (integ, app) = if i.provider == "slack" {
        let mut slack = Slack::new(client_id, client_secret, redirect);
        if let Some(b) = base(&i.base_url)? {
            slack = slack.with_base_url(b);
        }
        if let Some(team) = &i.team {
            slack = slack.with_team(team).map_err(err)?;
        }
        let signing_secret = match i.signing_secret.as_deref().map(secret).transpose()? {
            Some(s) => Some(SigningSecret::new(&s).map_err(err)?),
            None => None,
        };
        let app = SlackApp {
            app: slack.clone(),
            signing_secret,
        };
        (Integration::new(i.identifier, slack), Some(App::Slack(app)))
    } else if i.provider == "webex" {
        let mut app = Webex::new(client_id, client_secret, redirect);
        if let Some(b) = base(&i.base_url)? {
            app = app.with_base_url(b);
        }
        (Integration::new(i.identifier, app.clone()), Some(App::Webex(app)))
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
        (Integration::new(i.identifier, app.clone()), Some(App::Teams(app)))
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
