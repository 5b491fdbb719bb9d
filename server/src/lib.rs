//! # channel-connect-server
//!
//! The `channel-connect` core as a running service: Novu's channel-connection
//! OAuth endpoints over HTTP on axum, SQLite storage with provider tokens
//! sealed at rest, and provider calls over rustls. The library crate stays
//! pure; this crate does the I/O.
//!
//! One folder per concern, data flowing one way (`http` uses `state`,
//! `store`, `config` and `sender`; `store` uses none of them):
//!
//! * [`http`]: the routes ([`http::router`], to serve or to mount in a
//!   service of your own), their extractors, errors and pages.
//! * [`store`]: one trait per stored concern, and the engines:
//!   [`store::sqlite::Store`] (everything, zero setup),
//!   [`store::redis::RedisStore`] (replay marks and idempotency shared by
//!   instances), [`store::postgres::PgStore`] (connections and endpoints
//!   shared by instances).
//! * [`state::AppState`]: what every handler shares; [`config::Config`]:
//!   environments, API keys, integrations; [`sender::Sender`]: sends the
//!   core's request values; [`serve`]: the listener and its limits.
//! * [`demo`] (feature `demo`, on by default): the stand-ins for Slack and
//!   Microsoft and the start page that `--demo` serves.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
pub mod http;
pub mod logs;
pub mod metrics;
pub mod periodic;
pub mod rate_limit;
pub mod refresh;
pub mod revoke;
pub mod sender;
pub mod serve;
pub mod state;
pub mod store;
pub mod teams_app;

use std::sync::Arc;

use axum::Router;

pub use http::router;
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
#[cfg(feature = "demo")]
pub fn app(state: Arc<AppState>, demo: bool, base: &str) -> Router {
    let api = router(state.clone());
    if demo {
        api.nest("/standin", demo::standin::router(base))
            .merge(demo::router(state))
    } else {
        api
    }
}

/// The API (this build has no demo: feature `demo` is off).
#[cfg(not(feature = "demo"))]
pub fn app(state: Arc<AppState>, _demo: bool, _base: &str) -> Router {
    router(state)
}

/// Installs rustls' `ring` provider for the process (once; later calls are no-ops).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
