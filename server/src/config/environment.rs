//! One environment: its API keys, its core, its browser binding, and what
//! the server needs besides the core.

use std::collections::HashMap;

use channel_connect::provider::slack::events::SigningSecret;
use channel_connect::{ChannelConnect, MsTeams, Secret, Slack, Webex};

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

/// A Slack integration's app, for what follows the callback.
#[derive(Debug)]
pub struct SlackApp {
    /// The app (client credentials, base URL): refresh and revoke.
    pub app: Slack,
    /// Checks the Events API's requests (`signingSecret`); without it the
    /// integration's events route answers 404.
    pub signing_secret: Option<SigningSecret>,
}

/// One environment: its API keys, its core, and what the server needs
/// besides the core (redirect URLs, the Teams apps for app installs).
pub struct Environment {
    pub(super) api_keys: Vec<Secret>,
    /// The keys that read credentials (`credentialsKeys`).
    pub(super) credentials_keys: Vec<Secret>,
    /// The library's core for this environment.
    pub core: ChannelConnect,
    /// `redirectUrl` per integration identifier.
    pub redirect_urls: HashMap<String, url::Url>,
    /// The Teams apps per integration identifier (for installing the app for a linked user).
    pub teams: HashMap<String, MsTeams>,
    /// The Slack apps per integration identifier (token refresh and revoke, events).
    pub slack: HashMap<String, SlackApp>,
    /// The Webex integrations per integration identifier (token refresh).
    pub webex: HashMap<String, Webex>,
    /// Whether flows are bound to the browser that opens the start URL.
    pub browser_binding: Binding,
    /// The provider (`slack`, `msteams`, `webex-messaging`) per chat integration identifier.
    pub providers: HashMap<String, String>,
}

impl Environment {
    /// The chat integrations of `provider` (Novu's `providerId` filter).
    pub fn integrations_of(&self, provider: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .providers
            .iter()
            .filter(|(_, p)| *p == provider)
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    }
}

impl Environment {
    /// The environment's id.
    pub fn id(&self) -> &str {
        self.core.environment_id()
    }

    /// Whether `presented` is one of this environment's API keys, compared
    /// in constant time.
    pub fn accepts(&self, presented: &str) -> bool {
        any_of(&self.api_keys, presented)
    }

    /// Whether `presented` is one of this environment's credentials keys.
    pub fn accepts_credentials(&self, presented: &str) -> bool {
        any_of(&self.credentials_keys, presented)
    }
}

/// Whether `presented` is one of `keys`, every one compared in constant time.
fn any_of(keys: &[Secret], presented: &str) -> bool {
    keys.iter().fold(false, |hit, k| {
        hit | constant_time_eq(k.expose().as_bytes(), presented.as_bytes())
    })
}

/// Equal bytes, in time that depends on the lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
