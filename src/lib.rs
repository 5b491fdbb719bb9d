//! # channel-connect
//!
//! The sans-IO core of "connect your Slack workspace / Microsoft Teams tenant"
//! through OAuth, modelled on Novu's
//! `POST /v1/integrations/channel-connections/oauth`.
//!
//! * [`ChannelConnect::connect_url`] validates a request body and answers the
//!   provider authorize URL carrying a signed, expiring `state`.
//! * [`ChannelConnect::verify_callback`] opens that state when the provider
//!   redirects back and returns what to do next: a code to exchange
//!   ([`VerifiedCallback::token_request`], then [`VerifiedCallback::records`]), or
//!   a next redirect.
//!
//! Nothing a callback claims is trusted until the provider proves it. A Teams
//! connect takes two redirects, because Microsoft's admin-consent callback
//! names a tenant anyone could have written:
//!
//! 1. the admin consent; its callback yields no connection, only
//!    [`VerifiedCallback::next`]:
//! 2. a delegated OpenID Connect sign-in with PKCE in the claimed tenant,
//!    whose state ([`Purpose::ConnectProof`]) seals that tenant and expires
//!    with the first;
//! 3. its code is redeemed in that tenant ([`VerifiedCallback::token_request`]);
//! 4. [`VerifiedCallback::records`] answers the connection only when the
//!    `id_token`'s `tid` is the sealed tenant (and links the user when asked).
//!
//! A Slack install, or a user link to a known connection, is likewise bound
//! to its workspace: the state seals the expected team or tenant
//! ([`IssueParams::workspace`], [`Slack::with_team`]) and the token response
//! must name it.
//!
//! No I/O: the clock (`now`) and randomness ([`Entropy`]) are arguments; HTTP
//! exchanges are values for the host to send.
//!
//! ## Getting started
//!
//! Add the crate (it brings no HTTP client, runtime or database):
//!
//! ```toml
//! [dependencies]
//! channel-connect = "0.1"
//! time = "0.3" # the clock you pass in
//! ```
//!
//! * **Run the whole API instead of embedding the core:** the companion
//!   binary `channel-connect-server` (the `server/` folder of the
//!   repository) serves Novu's routes over HTTP with SQLite, or Redis and
//!   PostgreSQL, stores the connections and hands tokens to your sender;
//!   `cargo run -p channel-connect-server -- --demo` runs it against
//!   stand-in providers on loopback.
//! * **Runnable examples** are in `examples/` of the repository and the
//!   packaged crate: `cargo run --example connect` (a request body to
//!   `{"url"}`, as the API answers it) and `cargo run --example callback`
//!   (a redirect back to the verified outcome, the token request and the
//!   records).
//! * **The state format** byte by byte, with the request rules it relies on,
//!   is [`spec`] (`SPEC.md`), precise enough to implement in another language.
//! * The README shows the whole flow, serving many environments and keeping
//!   tokens fresh.
//!
//! The example below is the flow in miniature.
//!
//! ```
//! use channel_connect::*;
//! use time::OffsetDateTime;
//!
//! let keys = KeyRing::new(SigningKey::new(KeyId(1), &[7u8; 32])?);
//! let slack = Slack::new(
//!     ClientId::new("1234.5678")?,
//!     Secret::new("slack-client-secret"),
//!     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
//! );
//! let core = ChannelConnect::builder("env-1", "org-1", keys)
//!     .integration(Integration::new("slack", slack))
//!     .build()?;
//!
//! // 1. The API call: a body in, a URL out.
//! let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
//! let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
//! let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([42; 32])))?;
//! assert!(issued.url.starts_with("https://slack.com/oauth/v2/authorize?state="));
//!
//! // 2. Slack redirects back with a code and the same state.
//! let state = issued.url.split("state=").nth(1).unwrap().split('&').next().unwrap();
//! let query = format!("code=4724.abc&state={state}");
//! let params = CallbackParams::parse(&query)?;
//! let verified = core.verify_callback(&params, &VerifyParams::at(now + time::Duration::seconds(20)))?;
//! assert_eq!(verified.state.subscriber_id(), Some("subscriber-123"));
//! assert!(matches!(verified.outcome, ProviderOutcome::Code { .. }));
//!
//! // 3. Five minutes later the same state is refused.
//! let late = core.verify_callback(&params, &VerifyParams::at(now + time::Duration::seconds(300)));
//! assert_eq!(late.unwrap_err().to_string(), "Invalid OAuth state parameter");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod callback;
mod channel_connect;
pub mod config;
pub mod context;
pub mod context_hash;
mod encode;
pub mod exchange;
pub mod http;
pub mod ids;
mod integration;
mod issued_url;
pub mod keys;
mod params;
pub mod pkce;
mod platform;
pub mod provider;
pub mod records;
pub mod request;
mod rfc3339;
pub mod secret;
pub mod state;
mod text;
pub mod validation {
    //! The public path of [`ValidationError`], kept for code that names it.
    pub use crate::validation_error::ValidationError;
}
mod validation_error;
mod verified_callback;

pub use callback::{CallbackError, CallbackParams, ProviderOutcome, UnverifiedTenant};
pub use channel_connect::{
    ChannelConnect, ChannelConnectBuilder, MAX_URL_LEN, MIN_ENVIRONMENT_SECRET_KEY_LEN,
};
pub use config::{BaseUrl, ClientId, ConfigError, RedirectUri};
pub use exchange::{Exchange, ExchangeError, IdTokenError, ProviderError, ProviderErrorKind};
pub use http::{HttpRequest, HttpResponse};
pub use integration::Integration;
pub use issued_url::IssuedUrl;
pub use keys::{KeyError, KeyId, KeyRing, SigningKey};
pub use params::{Entropy, IssueParams, VerifyParams};
pub use pkce::PkceVerifier;
pub use platform::{DEFAULT_LIFETIME_SECS, DEFAULT_SKEW_SECS, Platform};
pub use provider::msteams::{MsTeams, Tenant};
pub use provider::slack::Slack;
pub use provider::webex::Webex;
pub use provider::{AuthorizeRequest, Provider};
pub use records::StoredRecords;
pub use request::{
    ConnectRequest, ConnectRequestBody, ConnectResponse, ConnectionMode, LinkUserRequestBody, RequestError,
    ValidationError,
};
pub use secret::Secret;
pub use state::{Purpose, ReplayId, StateError, StateErrorKind, VerifiedState};
pub use verified_callback::{OpenedCallback, VerifiedCallback};

/// The state format, version 1, byte by byte: `SPEC.md` of the crate.
#[doc = include_str!("../SPEC.md")]
pub mod spec {}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
