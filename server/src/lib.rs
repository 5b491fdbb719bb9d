//! # channel-connect-server
//!
//! The `channel-connect` core as a running service: Novu's channel-connection
//! OAuth endpoints over HTTP on axum, SQLite storage with provider tokens
//! sealed at rest, and provider calls over rustls. The library crate stays
//! pure; this crate does the I/O.
//!
//! * [`app::router`]: the API routes, to serve or to mount in a service,
//!   over an [`AppState`].
//! * [`sqlite::Store`]: connections, endpoints, replay marks, idempotency in SQLite;
//!   [`redis::RedisStore`]: replay marks and idempotency shared by instances;
//!   [`postgres::PgStore`]: connections and endpoints shared by instances
//!   ([`stores`] has the traits).
//! * [`sender::Sender`]: sends the core's request values.
//! * [`config::Config`]: environments, API keys, integrations.
//!
//! `--demo` adds [`standin`] (Slack and Microsoft, offline) and [`demo`]'s
//! start page.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
mod binding;
mod callback;
pub mod config;
pub mod demo;
pub mod error;
pub mod issue;
pub mod ownership;
pub mod page;
pub mod postgres;
pub mod redis;
pub mod seal;
pub mod sender;
pub mod serve;
pub mod sqlite;
pub mod standin;
pub mod state;
pub mod stores;

use std::sync::Arc;

use axum::Router;

pub use app::router;
pub use state::AppState;

/// 32 bytes (or any length) from the operating system's generator.
///
/// # Panics
/// When the OS has no randomness to give: the server cannot run safely then.
pub fn os_entropy(out: &mut [u8]) {
    getrandom::fill(out).expect("the operating system's random generator");
}

/// The API, plus the stand-ins and the start page when `demo` is set
/// (`base` is the server's own address, the stand-ins' redirect target).
pub fn app(state: Arc<AppState>, demo: bool, base: &str) -> Router {
    let api = router(state.clone());
    if demo {
        api.nest("/standin", standin::router(base))
            .merge(demo::router(state))
    } else {
        api
    }
}

/// Installs rustls' `ring` provider for the process (once; later calls are no-ops).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
