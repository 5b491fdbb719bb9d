//! What every call takes beyond its request: the platform's shared keys
//! and clock rules ([`Platform`]), the clock and randomness of one issue
//! ([`IssueParams`], [`Entropy`]) and of one verification ([`VerifyParams`]).
//! All time is an argument.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::config::ConfigError;
use crate::keys::KeyRing;
use crate::state::Purpose;

/// Default state lifetime: 5 minutes, as the API documents.
pub const DEFAULT_LIFETIME_SECS: u16 = 300;
/// Default allowance for a state issued in the future (clock skew between hosts).
pub const DEFAULT_SKEW_SECS: u16 = 30;

/// What every environment of a platform shares: the key ring that seals and
/// opens states, the state lifetime (1 to 3600 s, default 300) and the
/// allowance for clock skew between hosts (at most 300 s, default 30).
///
/// A platform with many environments opens a callback's state with it
/// ([`Platform::open_callback`]), reads which environment and integration
/// the state names, builds that environment's [`crate::ChannelConnect`] on
/// the same platform ([`crate::ChannelConnect::builder_on`]) and finishes
/// there ([`crate::ChannelConnect::finish_callback`]), without opening the
/// state twice. Cloning is cheap (the keys are shared).
#[derive(Clone, Debug)]
pub struct Platform {
    pub(crate) keys: Arc<KeyRing>,
    pub(crate) lifetime: u16,
    pub(crate) skew: u16,
}

impl Platform {
    /// The key ring with the default lifetime and skew.
    pub fn new(keys: KeyRing) -> Self {
        Platform {
            keys: Arc::new(keys),
            lifetime: DEFAULT_LIFETIME_SECS,
            skew: DEFAULT_SKEW_SECS,
        }
    }

    /// Another state lifetime, 1 to 3600 seconds.
    pub fn with_lifetime_secs(mut self, secs: u16) -> Result<Self, ConfigError> {
        if !(1..=3600).contains(&secs) {
            return Err(ConfigError::Lifetime);
        }
        self.lifetime = secs;
        Ok(self)
    }

    /// Another skew allowance, at most 300 seconds.
    pub fn with_skew_secs(mut self, secs: u16) -> Result<Self, ConfigError> {
        if secs > 300 {
            return Err(ConfigError::Skew);
        }
        self.skew = secs;
        Ok(self)
    }

    /// The key ring.
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// The state lifetime in seconds.
    pub fn lifetime_secs(&self) -> u16 {
        self.lifetime
    }

    /// The skew allowance in seconds.
    pub fn skew_secs(&self) -> u16 {
        self.skew
    }
}

/// 32 bytes from the caller's CSPRNG: bytes 0..16 become the state nonce,
/// bytes 16..25 a generated connection identifier; 25..32 are reserved.
#[derive(Clone, Copy)]
pub struct Entropy(pub [u8; 32]);

impl std::fmt::Debug for Entropy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Entropy([redacted])")
    }
}

/// What issuing a URL takes beyond the request body: the clock, randomness,
/// and optionally a browser binding and the workspace the flow must stay in.
#[derive(Clone, Copy, Debug)]
pub struct IssueParams<'a> {
    /// The caller's clock.
    pub now: OffsetDateTime,
    /// 32 bytes from the caller's CSPRNG.
    pub entropy: &'a Entropy,
    /// A value the browser will present again at the callback (for example
    /// the hash of an install cookie), when the host binds states.
    pub binding: Option<&'a [u8]>,
    /// The workspace the flow must end in, when the host knows it: the
    /// Teams tenant GUID or Slack team id of the connection a user is being
    /// linked to. Sealed in the state; the provider's answer must name it.
    /// Without it, the integration's own restriction (a configured Slack
    /// team or Teams tenant GUID) is sealed, if any.
    pub workspace: Option<&'a str>,
}

impl<'a> IssueParams<'a> {
    /// Just the clock and the entropy.
    pub fn new(now: OffsetDateTime, entropy: &'a Entropy) -> Self {
        IssueParams {
            now,
            entropy,
            binding: None,
            workspace: None,
        }
    }

    /// Binds the state to a browser (see [`IssueParams::binding`]).
    pub fn with_binding(mut self, binding: &'a [u8]) -> Self {
        self.binding = Some(binding);
        self
    }

    /// Restricts the flow to a workspace (see [`IssueParams::workspace`]).
    pub fn with_workspace(mut self, workspace: &'a str) -> Self {
        self.workspace = Some(workspace);
        self
    }
}

/// Time and browser binding for a verification.
#[derive(Clone, Copy, Debug)]
pub struct VerifyParams<'a> {
    /// The caller's clock.
    pub now: OffsetDateTime,
    /// The binding value the browser presents (for example the hash of the
    /// install cookie), when the host binds states.
    pub binding: Option<&'a [u8]>,
    /// Refuse a state of another provider (for per-provider callback routes).
    pub expect_provider: Option<&'a str>,
    /// Refuse a state of another purpose (for per-purpose callback routes).
    pub expect_purpose: Option<Purpose>,
}

impl VerifyParams<'_> {
    /// Just the clock.
    pub fn at(now: OffsetDateTime) -> VerifyParams<'static> {
        VerifyParams {
            now,
            binding: None,
            expect_provider: None,
            expect_purpose: None,
        }
    }
}
