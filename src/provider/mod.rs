//! One trait for every chat provider. The core seals states and checks them;
//! a provider only writes its authorize URL and reads its own callback.
//! A third provider implements [`Provider`] and plugs into
//! [`crate::Integration::new`] without any change to the core.

use std::borrow::Cow;
use std::fmt;

use crate::callback::{CallbackError, CallbackParams, ProviderOutcome};
use crate::config::{ClientId, ConfigError, RedirectUri};
use crate::request::{ConnectRequest, RequestError, Scopes};
use crate::state::{Purpose, VerifiedState};

pub mod msteams;
pub mod slack;

pub use msteams::{MsTeams, Tenant};
pub use slack::Slack;

/// What the core hands a provider to write an authorize URL.
#[derive(Clone, Copy, Debug)]
pub struct AuthorizeRequest<'a> {
    /// Connect (install, admin consent), link-user (personal sign-in) or
    /// connect-proof (the sign-in that proves a connect's workspace).
    pub purpose: Purpose,
    /// The sealed state, base64url (needs no encoding).
    pub state: &'a str,
    /// Connect: the requested bot scopes (`None`: the provider's default).
    pub scopes: Option<Scopes<'a>>,
    /// Link-user: the requested user scopes (`None`: the provider's default).
    pub user_scopes: Option<Scopes<'a>>,
    /// The S256 challenge, when [`Provider::uses_pkce`] asked for one.
    pub pkce_challenge: Option<&'a str>,
    /// The workspace the state is restricted to (a Slack team, a Teams
    /// tenant): the URL should send the user there.
    pub workspace: Option<&'a str>,
    /// The flow also links the subscriber's own user (a connect-proof
    /// sign-in then asks for the user's profile too).
    pub links_user: bool,
}

/// A chat provider (Slack, Microsoft Teams, ...).
pub trait Provider: fmt::Debug + Send + Sync {
    /// The id written in states: 1 to 32 characters of `[a-z0-9_-]`, stable forever.
    fn id(&self) -> &str;

    /// Name used in messages ("Slack", "MS Teams").
    fn display_name(&self) -> &str;

    /// The OAuth client id.
    fn client_id(&self) -> &ClientId;

    /// The redirect URI, reused byte for byte at the code exchange.
    fn redirect_uri(&self) -> &RedirectUri;

    /// Provider-specific request rules (Slack: `incoming-webhook` needs a subscriber).
    fn check_connect(&self, request: &ConnectRequest<'_>) -> Result<(), RequestError> {
        let _ = request;
        Ok(())
    }

    /// The workspace a new state is restricted to: `expected`, the host's
    /// (it knows the connection a user is being linked to), checked for this
    /// provider's shape and against the integration's own restriction; else
    /// that restriction (a configured Slack team or Teams tenant); else none.
    /// The default passes `expected` through.
    fn restrict_workspace<'a>(
        &'a self,
        expected: Option<&'a str>,
    ) -> Result<Option<Cow<'a, str>>, RequestError> {
        Ok(expected.map(Cow::Borrowed))
    }

    /// Whether the authorize URL for `purpose` carries a PKCE challenge.
    fn uses_pkce(&self, purpose: Purpose) -> bool {
        let _ = purpose;
        false
    }

    /// Appends the authorize URL to `out` (which is empty).
    fn authorize_url(&self, request: &AuthorizeRequest<'_>, out: &mut String);

    /// The length [`Provider::authorize_url`] would write. The default writes
    /// the URL to measure it; a provider may answer without writing.
    fn authorize_url_len(&self, request: &AuthorizeRequest<'_>) -> usize {
        let mut scratch = String::new();
        self.authorize_url(request, &mut scratch);
        scratch.len()
    }

    /// Reads the callback of a verified state. Called only after the state
    /// opened; errors are checked before success parameters.
    fn interpret(
        &self,
        state: &VerifiedState,
        params: &CallbackParams<'_>,
    ) -> Result<ProviderOutcome, CallbackError>;

    /// For a provider whose connect callback proves nothing by itself
    /// (Teams admin consent): the workspace the callback claims, which a
    /// connect-proof sign-in must then confirm. The core answers such a
    /// callback with that sign-in's URL, never with a connection.
    fn proof_workspace<'o>(&self, state: &VerifiedState, outcome: &'o ProviderOutcome) -> Option<&'o str> {
        let _ = (state, outcome);
        None
    }

    /// `Some(n)` when [`Provider::proof_workspace`] can answer, `n` the
    /// length of the workspace ids it gives (a tenant GUID: 36), so that a
    /// connect whose proof URL would be too long is refused at issue.
    fn proof_workspace_len(&self) -> Option<usize> {
        None
    }

    /// The token endpoint this provider's callbacks lead to, with the client
    /// secret (and tenant) the exchange needs; read by
    /// [`crate::exchange::request_for`]. `None` (the default): the host
    /// exchanges codes itself.
    fn token_endpoint(&self) -> Option<crate::exchange::TokenEndpoint<'_>> {
        None
    }
}

/// Checks a provider id: 1 to 32 characters of `[a-z0-9_-]`.
pub(crate) fn check_provider_id(id: &str) -> Result<(), ConfigError> {
    let ok = !id.is_empty()
        && id.len() <= 32
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::ProviderId(id.to_owned()))
    }
}
