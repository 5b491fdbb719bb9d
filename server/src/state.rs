//! What every handler shares: the configuration, the stores, the sender,
//! and the clock and entropy (the system's, unless a test passes its own).

use std::sync::Arc;

use axum::http::{HeaderMap, header};
use time::OffsetDateTime;
use tokio_util::task::TaskTracker;

use crate::config::{Config, Environment};
use crate::http::error::ApiError;
use crate::sender::Sender;
use crate::store::seal::Sealer;
use crate::store::sqlite::Store;
use crate::store::{IdempotencyEntries, Records, ReplayMarks};

/// What every handler shares.
pub struct AppState {
    /// Environments and keys.
    pub config: Config,
    /// The records (connections, endpoints) and start URLs.
    pub records: Arc<dyn Records>,
    /// Replay marks (the SQLite store, or Redis shared by every instance).
    pub replay: Arc<dyn ReplayMarks>,
    /// Idempotency entries (likewise).
    pub idempotency: Arc<dyn IdempotencyEntries>,
    /// Provider calls.
    pub sender: Sender,
    /// Seals records parked for a retry (the token key).
    pub sealer: Sealer,
    /// Fills entropy for states (the OS generator by default).
    pub entropy: fn(&mut [u8]),
    /// The clock (the system clock by default; tests may move it).
    pub clock: fn() -> OffsetDateTime,
    /// This server's address as browsers reach it (start URLs).
    pub public_url: String,
    /// Work a handler hands off to finish even if its request goes away (a
    /// callback past its replay mark); a graceful shutdown waits for it.
    pub tasks: TaskTracker,
}

impl AppState {
    /// Everything in the SQLite store, the OS's entropy and the system clock.
    pub fn new(config: Config, store: Store, sender: Sender, public_url: &str) -> AppState {
        AppState {
            replay: Arc::new(store.clone()),
            idempotency: Arc::new(store.clone()),
            records: Arc::new(store),
            sealer: Sealer::new(&config.token_key, crate::os_entropy),
            sender,
            entropy: crate::os_entropy,
            clock: OffsetDateTime::now_utc,
            public_url: public_url.trim_end_matches('/').to_owned(),
            tasks: TaskTracker::new(),
            config,
        }
    }

    /// Replay marks and idempotency entries in `shared` (Redis) instead.
    pub fn sharing<T: ReplayMarks + IdempotencyEntries + Clone + 'static>(mut self, shared: T) -> AppState {
        self.replay = Arc::new(shared.clone());
        self.idempotency = Arc::new(shared);
        self
    }

    /// Records (connections, endpoints, starts) in `records` (PostgreSQL) instead.
    pub fn recording<T: Records + 'static>(mut self, records: T) -> AppState {
        self.records = Arc::new(records);
        self
    }

    /// Another clock (tests).
    pub fn with_clock(mut self, clock: fn() -> OffsetDateTime) -> AppState {
        self.clock = clock;
        self
    }

    pub(crate) fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }
}

/// The environment the `Authorization: ApiKey ...` header selects.
pub(crate) fn authorize<'a>(state: &'a AppState, headers: &HeaderMap) -> Result<&'a Environment, ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("ApiKey "))
        .ok_or(ApiError::Unauthorized)?;
    state
        .config
        .by_api_key(presented.trim())
        .ok_or(ApiError::Unauthorized)
}
