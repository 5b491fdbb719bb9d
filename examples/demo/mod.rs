#![allow(dead_code)] // each example uses part of this module

//! The demo configuration shared by the examples, and their small helpers.
//! (A module directory without `main.rs`, so cargo does not take it for an example.)

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use channel_connect::{
    BaseUrl, ChannelConnect, ClientId, Integration, KeyId, KeyRing, MsTeams, RedirectUri, Secret, SigningKey,
    Slack, Tenant, Webex,
};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

/// The embedded demo configuration (`--config FILE` takes the same shape).
pub const DEMO_CONFIG: &str = r#"{
  "environmentId": "6615c4b2e0f3a1b2c3d4e5f6",
  "organizationId": "6615c4b2e0f3a1b2c3d4e5f7",
  "lifetimeSecs": 300,
  "keys": [
    { "id": 1, "secretHex": "64656d6f2d7369676e696e672d6b65792d6e6f742d666f722d70726f64756374", "active": true }
  ],
  "environmentSecretKeys": ["demo-environment-secret-key"],
  "integrations": [
    { "identifier": "slack", "provider": "slack",
      "clientId": "1234567890.1234567890", "clientSecret": "demo-slack-client-secret",
      "redirectUri": "http://localhost:3000/v1/integrations/chat/oauth/callback" },
    { "identifier": "slack-hmac", "provider": "slack", "contextHmac": true,
      "clientId": "1234567890.1234567890", "clientSecret": "demo-slack-client-secret",
      "redirectUri": "http://localhost:3000/v1/integrations/chat/oauth/callback" },
    { "identifier": "msteams", "provider": "msteams", "tenant": "organizations",
      "clientId": "00000000-0000-0000-0000-000000000abc", "clientSecret": "demo-teams-client-secret",
      "redirectUri": "http://localhost:3000/v1/integrations/chat/oauth/callback" },
    { "identifier": "webex", "provider": "webex",
      "clientId": "C0000000000000000000000000000000000000000000000000000000000demo", "clientSecret": "demo-webex-client-secret",
      "redirectUri": "http://localhost:3000/v1/integrations/chat/oauth/callback" },
    { "identifier": "slack-no-credentials", "provider": "slack" },
    { "identifier": "sendgrid", "provider": "sendgrid" }
  ]
}"#;

/// The request body of Novu's documentation (PHP SDK example), for the `slack` integration.
pub const SEED_BODY: &str = r#"{
  "subscriberId": "subscriber-123",
  "integrationIdentifier": "slack",
  "connectionIdentifier": "slack-connection-abc123",
  "context": { "key": "org-acme" },
  "scope": ["chat:write", "chat:write.public", "channels:read"],
  "connectionMode": "shared",
  "autoLinkUser": true
}"#;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Config {
    environment_id: String,
    organization_id: String,
    #[serde(default, alias = "ttl")]
    lifetime_secs: Option<u16>,
    #[serde(default)]
    skew_secs: Option<u16>,
    keys: Vec<KeyConfig>,
    #[serde(default)]
    environment_secret_keys: Vec<String>,
    integrations: Vec<IntegrationConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyConfig {
    id: u8,
    secret_hex: String,
    #[serde(default)]
    active: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntegrationConfig {
    identifier: String,
    provider: String,
    client_id: Option<String>,
    client_secret: Option<String>,
    redirect_uri: Option<String>,
    tenant: Option<String>,
    team: Option<String>,
    #[serde(default)]
    require_admin_role: bool,
    /// Slack: `https://slack.com`, Webex: `https://webexapis.com`, unless given (GovSlack, a stand-in).
    base_url: Option<String>,
    /// Teams: `https://login.microsoftonline.com` unless given.
    authority: Option<String>,
    /// Teams: `https://graph.microsoft.com` unless given.
    graph_base_url: Option<String>,
    #[serde(default)]
    context_hmac: bool,
}

/// Builds the core from `--config FILE` or the embedded demo configuration.
pub fn load(config_path: Option<&str>) -> Result<ChannelConnect, String> {
    let text = match config_path {
        Some(p) => std::fs::read_to_string(p).map_err(|e| format!("cannot read {p}: {e}"))?,
        None => DEMO_CONFIG.to_owned(),
    };
    let cfg: Config = serde_json::from_str(&text).map_err(|e| format!("bad configuration: {e}"))?;
    let mut active = None;
    let mut others = Vec::new();
    for k in &cfg.keys {
        let bytes = hex(&k.secret_hex).ok_or_else(|| format!("key {}: secretHex is not hex", k.id))?;
        let key = SigningKey::new(KeyId(k.id), &bytes).map_err(|e| e.to_string())?;
        if k.active && active.is_none() {
            active = Some(key)
        } else {
            others.push(key)
        }
    }
    let mut ring = KeyRing::new(active.ok_or("configuration needs one key with \"active\": true")?);
    for k in others {
        ring = ring.with_verify_only(k).map_err(|e| e.to_string())?;
    }
    let mut b = ChannelConnect::builder(cfg.environment_id, cfg.organization_id, ring);
    if let Some(l) = cfg.lifetime_secs {
        b = b.lifetime_secs(l);
    }
    if let Some(s) = cfg.skew_secs {
        b = b.skew_secs(s);
    }
    for k in cfg.environment_secret_keys {
        b = b.environment_secret_key(Secret::new(k));
    }
    for i in cfg.integrations {
        b = b.integration(integration(i)?);
    }
    b.build().map_err(|e| e.to_string())
}

fn integration(i: IntegrationConfig) -> Result<Integration, String> {
    let display = match i.provider.as_str() {
        "slack" => "Slack",
        "msteams" => "MS Teams",
        "webex" => "Webex",
        _ => return Ok(Integration::not_chat(i.identifier)),
    };
    let Some(client_id) = i.client_id else {
        return Ok(Integration::missing_client_id(i.identifier, display).with_context_hmac(i.context_hmac));
    };
    let err = |e: channel_connect::ConfigError| format!("integration {}: {e}", i.identifier);
    let client_id = ClientId::new(client_id).map_err(err)?;
    let secret = Secret::new(i.client_secret.unwrap_or_default());
    let redirect = RedirectUri::new(i.redirect_uri.unwrap_or_default()).map_err(err)?;
    let base = |u: &Option<String>| u.as_deref().map(BaseUrl::new).transpose().map_err(err);
    let integ = if i.provider == "slack" {
        let mut slack = Slack::new(client_id, secret, redirect);
        if let Some(b) = base(&i.base_url)? {
            slack = slack.with_base_url(b);
        }
        if let Some(team) = &i.team {
            slack = slack.with_team(team).map_err(err)?;
        }
        Integration::new(i.identifier, slack)
    } else if i.provider == "webex" {
        let mut webex = Webex::new(client_id, secret, redirect);
        if let Some(b) = base(&i.base_url)? {
            webex = webex.with_base_url(b);
        }
        Integration::new(i.identifier, webex)
    } else {
        let mut teams = MsTeams::new(client_id, secret, redirect);
        if let Some(t) = &i.tenant {
            teams = teams.with_tenant(Tenant::new(t).map_err(err)?);
        }
        if i.require_admin_role {
            teams = teams.require_admin_role();
        }
        if let Some(a) = base(&i.authority)? {
            teams = teams.with_authority(a);
        }
        if let Some(g) = base(&i.graph_base_url)? {
            teams = teams.with_graph(g);
        }
        Integration::new(i.identifier, teams)
    };
    Ok(integ.with_context_hmac(i.context_hmac))
}

/// Decodes hex.
pub fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `--now UNIX_SECONDS`, or the system clock (examples may read it; the library never does).
pub fn now(arg: Option<&str>) -> Result<OffsetDateTime, String> {
    match arg {
        Some(s) => {
            let secs: i64 = s
                .parse()
                .map_err(|_| format!("--now takes Unix seconds, not {s:?}"))?;
            OffsetDateTime::from_unix_timestamp(secs).map_err(|e| e.to_string())
        }
        None => Ok(OffsetDateTime::now_utc()),
    }
}

/// `--entropy HEX64`, or 32 bytes from the OS.
pub fn entropy(arg: Option<&str>) -> Result<[u8; 32], String> {
    let mut out = [0u8; 32];
    match arg {
        Some(h) => {
            let bytes = hex(h)
                .filter(|b| b.len() == 32)
                .ok_or("--entropy takes 32 bytes as 64 hex digits")?;
            out.copy_from_slice(&bytes);
        }
        None => std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut out))
            .map_err(|e| format!("no OS randomness ({e}); pass --entropy"))?,
    }
    Ok(out)
}

/// The request body: a file, stdin (`-`, or no argument with piped stdin),
/// or the seed body when there is no argument and stdin is a terminal or empty.
pub fn read_body(arg: Option<&str>) -> Result<Vec<u8>, String> {
    match arg {
        Some("-") => read_stdin(),
        Some(path) => std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}")),
        None if std::io::stdin().is_terminal() => Ok(SEED_BODY.as_bytes().to_vec()),
        None => {
            let piped = read_stdin()?;
            let empty = piped.iter().all(u8::is_ascii_whitespace);
            Ok(if empty {
                SEED_BODY.as_bytes().to_vec()
            } else {
                piped
            })
        }
    }
}

fn read_stdin() -> Result<Vec<u8>, String> {
    let mut v = Vec::new();
    std::io::stdin().read_to_end(&mut v).map_err(|e| e.to_string())?;
    Ok(v)
}

/// Command-line arguments: `--name value` options, `--flag`s, and positionals.
pub struct Args {
    pub options: Vec<(String, String)>,
    pub flags: Vec<String>,
    pub positional: Vec<String>,
}

impl Args {
    /// Parses the command line; `with_value` names the options that take a
    /// value. An argument that is not UTF-8 is an error, not a panic.
    pub fn parse(with_value: &[&str]) -> Result<Args, String> {
        let mut a = Args {
            options: vec![],
            flags: vec![],
            positional: vec![],
        };
        let args: Vec<String> = std::env::args_os()
            .skip(1)
            .enumerate()
            .map(|(i, arg)| {
                arg.into_string()
                    .map_err(|_| format!("argument {} is not valid UTF-8", i + 1))
            })
            .collect::<Result<_, _>>()?;
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            match arg.strip_prefix("--") {
                Some(name) if with_value.contains(&name) => {
                    let v = it.next().ok_or(format!("--{name} needs a value"))?;
                    a.options.push((name.to_owned(), v));
                }
                Some(name) if !name.is_empty() => a.flags.push(name.to_owned()),
                _ => a.positional.push(arg),
            }
        }
        Ok(a)
    }

    /// The value of `--name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// True when `--name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }
}

/// Writes a line to stdout; a closed pipe (`| head`) is not an error worth a panic.
pub fn print_out(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// Writes a line to stderr, ignoring a closed pipe.
pub fn print_err(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Prints `{"statusCode": N, "message": ...}` (plus any extra fields) on stderr; exit 2.
pub fn fail(status: u16, message: &str, extra: Option<Value>) -> ExitCode {
    let mut body = json!({ "statusCode": status, "message": message });
    if let (Some(Value::Object(extra)), Value::Object(b)) = (extra, &mut body) {
        b.extend(extra);
    }
    print_err(&body.to_string());
    ExitCode::from(2)
}
