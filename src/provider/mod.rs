//! One trait for every chat provider. The core seals states and checks
//! them; a provider owns the rest of its flow: its authorize URL, reading
//! its callback, the token request a verified callback leads to, and the
//! records its answer yields. A third provider implements [`Provider`] and
//! plugs into [`crate::Integration::new`] without any change to the core
//! (`tests/third_provider.rs` shows one).

use std::borrow::Cow;
use std::fmt;

use time::OffsetDateTime;

use crate::callback::{CallbackError, CallbackParams, ProviderOutcome};
use crate::config::{ClientId, ConfigError, RedirectUri};
use crate::exchange::{Exchange, ExchangeError};
use crate::http::{HttpRequest, HttpResponse};
use crate::records::StoredRecords;
use crate::request::{ConnectRequest, RequestError, Scopes};
use crate::state::{Purpose, VerifiedState};

pub mod msteams;
pub mod slack;

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

    /// The token request a verified callback leads to; `Ok(None)` when
    /// there is nothing to exchange (a Teams admin consent, which continues
    /// with [`Provider::proof_workspace`]'s sign-in). The default: nothing.
    fn token_request(&self, exchange: &Exchange<'_>) -> Result<Option<HttpRequest>, ExchangeError> {
        let _ = exchange;
        Ok(None)
    }

    /// The records the provider's answer to [`Provider::token_request`]
    /// yields, received at `now`. Every record must name the workspace the
    /// state is restricted to, when it is ([`crate::records::connection`]
    /// checks it).
    fn records(
        &self,
        exchange: &Exchange<'_>,
        response: &HttpResponse<'_>,
        now: OffsetDateTime,
    ) -> Result<StoredRecords, ExchangeError> {
        let _ = (exchange, response, now);
        Err(ExchangeError::WrongFlow("this provider exchanges nothing"))
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
