//! The server's configuration: environments (API keys, integrations) on one
//! platform (signing keys, state lifetime), and the keys that seal tokens at
//! rest. One JSON file (`file`), or the embedded demo (`demo`).
//!
//! A secret field may name an environment variable instead of holding the
//! secret: `"env:NAME"` reads `NAME` at start (missing: an error).

mod demo;
mod environment;
mod file;

use std::sync::Arc;

use channel_connect::Platform;

pub use crate::store::seal::TokenKeys;
pub use environment::{Binding, Environment, SlackApp};

/// The callback path this server serves (the integrations' `redirectUri`).
pub const CALLBACK_PATH: &str = "/v1/integrations/chat/oauth/callback";

/// The demo API key (also printed at start).
pub const DEMO_API_KEY: &str = "demo-secret-key";
/// The demo's credentials key (reads connections' tokens for a sender).
pub const DEMO_CREDENTIALS_KEY: &str = "demo-credentials-key";
/// The API key of the demo environment with browser binding on (the start page's).
pub const DEMO_BROWSER_API_KEY: &str = "demo-browser-secret-key";

/// Everything the server runs with.
pub struct Config {
    /// Signing keys and clock rules shared by every environment.
    pub platform: Platform,
    /// The environments, each with its own API keys and integrations.
    pub environments: Vec<Arc<Environment>>,
    /// The AEAD keys for tokens at rest (`tokenKeyHex`, or the `tokenKeys` ring).
    pub token_keys: TokenKeys,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.environments.iter().map(|e| e.id()).collect();
        f.debug_struct("Config")
            .field("environments", &ids)
            .field("token_keys", &self.token_keys)
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
        demo::DEMO_CONFIG
            .replace("{integrations}", demo::DEMO_INTEGRATIONS)
            .replace("{base}", base.trim_end_matches('/'))
    }

    /// Reads a configuration file.
    pub fn from_file(path: &str) -> Result<Config, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        Config::parse(&text)
    }

    /// Parses and validates a configuration.
    pub fn parse(text: &str) -> Result<Config, String> {
        let parsed = file::parse(text)?;
        Ok(Config {
            platform: parsed.platform,
            environments: parsed.environments,
            token_keys: parsed.token_keys,
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

    /// The environment a credentials key selects.
    pub fn by_credentials_key(&self, presented: &str) -> Option<&Arc<Environment>> {
        self.environments.iter().fold(None, |found, e| {
            if e.accepts_credentials(presented) {
                Some(e)
            } else {
                found
            }
        })
    }

    /// The environment with this id.
    pub fn by_id(&self, id: &str) -> Option<&Arc<Environment>> {
        self.environments.iter().find(|e| e.id() == id)
    }
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

    /// The demo's text with `tokenKeyHex` replaced by `ring` (the JSON after `"tokenKeys": `).
    fn with_token_keys(ring: &str) -> String {
        let demo = Config::demo_text("http://127.0.0.1:1");
        let start = demo.find("\"tokenKeyHex\"").unwrap();
        let end = start + demo[start..].find(",\n").unwrap();
        format!("{}\"tokenKeys\": {ring}{}", &demo[..start], &demo[end..])
    }

    const K1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const K2: &str = "2222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn token_keys_are_one_key_or_a_ring_with_one_active() {
        let demo = Config::demo("http://127.0.0.1:1").unwrap();
        assert_eq!(
            (demo.token_keys.active(), demo.token_keys.ids()),
            (0, vec![0]),
            "tokenKeyHex is key 0"
        );
        let ring = format!(
            r#"[{{ "id": 1, "secretHex": "{K1}" }}, {{ "id": 2, "secretHex": "{K2}", "active": true }}]"#
        );
        let c = Config::parse(&with_token_keys(&ring)).unwrap();
        assert_eq!((c.token_keys.active(), c.token_keys.ids()), (2, vec![2, 1]));
        let shown = format!("{c:?}");
        assert!(
            shown.contains("active: 2") && !shown.contains("17, 17") && !shown.contains("34, 34"),
            "{shown}"
        );
        let err = |ring: &str| Config::parse(&with_token_keys(ring)).unwrap_err();
        let none_active = format!(r#"[{{ "id": 1, "secretHex": "{K1}" }}]"#);
        assert!(
            err(&none_active).contains("exactly one key"),
            "{}",
            err(&none_active)
        );
        let two_active = format!(
            r#"[{{ "id": 1, "secretHex": "{K1}", "active": true }}, {{ "id": 2, "secretHex": "{K2}", "active": true }}]"#
        );
        assert!(err(&two_active).contains("exactly one key"));
        let twice = format!(
            r#"[{{ "id": 1, "secretHex": "{K1}", "active": true }}, {{ "id": 1, "secretHex": "{K2}" }}]"#
        );
        assert!(err(&twice).contains("id 1 is listed twice"), "{}", err(&twice));
        let short = format!(
            r#"[{{ "id": 1, "secretHex": "{K1}", "active": true }}, {{ "id": 2, "secretHex": "22aa" }}]"#
        );
        let short = err(&short);
        assert!(
            short.contains("key 2 must be 32 bytes") && !short.contains("22aa"),
            "{short}"
        );
        let from_env =
            r#"[{ "id": 1, "secretHex": "env:CHANNEL_CONNECT_TEST_UNSET_TOKEN_KEY", "active": true }]"#;
        assert!(err(from_env).contains("CHANNEL_CONNECT_TEST_UNSET_TOKEN_KEY"));
        let wrong_type = r#"[{ "id": 1, "secretHex": ["c0ffee"], "active": true }]"#;
        assert!(!err(wrong_type).contains("c0ffee"), "{}", err(wrong_type));
        let one_key_two_ids = format!(
            r#"[{{ "id": 1, "secretHex": "{K1}", "active": true }}, {{ "id": 2, "secretHex": "{K1}" }}]"#
        );
        let relabel = err(&one_key_two_ids);
        assert!(
            relabel.contains("the same key as another id") && !relabel.contains(K1),
            "{relabel}"
        );
    }

    #[test]
    fn token_key_hex_and_token_keys_exclude_each_other() {
        let demo = Config::demo_text("http://127.0.0.1:1");
        let both = demo.replace(
            "\"environments\"",
            &format!(r#""tokenKeys": [{{ "id": 1, "secretHex": "{K1}", "active": true }}], "environments""#),
        );
        assert!(Config::parse(&both).unwrap_err().contains("not both"));
        let neither = with_token_keys("null");
        assert!(
            Config::parse(&neither)
                .unwrap_err()
                .contains("needs tokenKeyHex or tokenKeys")
        );
        let bad = demo.replace("64656d6f2d746f6b656e", "zz");
        let bad = Config::parse(&bad).unwrap_err();
        assert!(
            bad.contains("tokenKeyHex must be 32 bytes") && !bad.contains("6b6579"),
            "{bad}"
        );
    }

    #[test]
    fn a_redirect_uri_is_this_servers_callback_route() {
        let other = Config::demo_text("http://127.0.0.1:1").replacen(
            "/v1/integrations/chat/oauth/callback",
            "/somewhere/else",
            1,
        );
        let err = Config::parse(&other).unwrap_err();
        assert!(
            err.contains("redirectUri must end with /v1/integrations/chat/oauth/callback"),
            "{err}"
        );
        let mounted = Config::demo_text("http://127.0.0.1:1").replace(
            "/v1/integrations/chat/oauth/callback",
            "/api/v1/integrations/chat/oauth/callback",
        );
        assert!(Config::parse(&mounted).is_ok(), "mounted under a prefix");
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
