//! What every handler shares: the configuration, the stores, the sender,
//! and the clock and entropy (the system's, unless a test passes its own).

use std::sync::Arc;

use time::OffsetDateTime;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::sender::Sender;
use crate::store::Ready;
use crate::store::seal::Sealer;
use crate::store::sqlite::Store;
use crate::store::{
    AppInstalls, Connections, Endpoints, IdempotencyEntries, ParkedRecords, Refreshes, ReplayMarks,
    StartLinks,
};

/// Tokens expiring within ten minutes are refreshed before they are handed out.
pub const DEFAULT_REFRESH_MARGIN: time::Duration = time::Duration::minutes(10);

/// What every handler shares.
pub struct AppState {
    /// Environments and keys.
    pub config: Config,
    /// Connections (the SQLite store, or PostgreSQL shared by every instance).
    pub connections: Arc<dyn Connections>,
    /// Endpoints (likewise).
    pub endpoints: Arc<dyn Endpoints>,
    /// Start links (likewise).
    pub starts: Arc<dyn StartLinks>,
    /// Token refreshes (with the connections' engine).
    pub refreshes: Arc<dyn Refreshes>,
    /// The Teams app's installations for linked users (with the endpoints' engine).
    pub app_installs: Arc<dyn AppInstalls>,
    /// Replay marks (the SQLite store, or Redis shared by every instance).
    pub replay: Arc<dyn ReplayMarks>,
    /// Records parked for a retry (likewise).
    pub parked: Arc<dyn ParkedRecords>,
    /// Idempotency entries (likewise).
    pub idempotency: Arc<dyn IdempotencyEntries>,
    /// Provider calls.
    pub sender: Sender,
    /// Seals records parked for a retry (the token keys).
    pub sealer: Sealer,
    /// Fills entropy for states (the OS generator by default).
    pub entropy: fn(&mut [u8]),
    /// Tokens that expire within this margin are refreshed first
    /// ([`crate::refresh`]).
    pub refresh_margin: time::Duration,
    /// How often pending Teams app installations are tried, and the first
    /// pause after a failed one ([`crate::teams_app`]).
    pub app_install_interval: std::time::Duration,
    /// The clock (the system clock by default; tests may move it).
    pub clock: fn() -> OffsetDateTime,
    /// This server's address as browsers reach it (start URLs).
    pub public_url: String,
    /// The engines `/readyz` asks, by name (`sqlite`, `redis`, `postgres`).
    pub ready: Vec<(&'static str, Arc<dyn Ready>)>,
    /// The per-address limit on the routes anyone may call (none by default).
    pub rate_limit: Option<crate::rate_limit::RateLimit>,
    /// What `/metrics` answers.
    pub metrics: crate::metrics::Metrics,
    /// Work a handler hands off to finish even if its request goes away (a
    /// callback past its replay mark); a graceful shutdown waits for it.
    pub tasks: TaskTracker,
}

impl AppState {
    /// Everything in the SQLite store, the OS's entropy and the system clock.
    pub fn new(config: Config, store: Store, sender: Sender, public_url: &str) -> AppState {
        AppState {
            connections: Arc::new(store.clone()),
            endpoints: Arc::new(store.clone()),
            starts: Arc::new(store.clone()),
            refreshes: Arc::new(store.clone()),
            app_installs: Arc::new(store.clone()),
            replay: Arc::new(store.clone()),
            parked: Arc::new(store.clone()),
            idempotency: Arc::new(store.clone()),
            ready: vec![("sqlite", Arc::new(store) as Arc<dyn Ready>)],
            sealer: Sealer::new(&config.token_keys, crate::os_entropy),
            sender,
            entropy: crate::os_entropy,
            clock: OffsetDateTime::now_utc,
            refresh_margin: DEFAULT_REFRESH_MARGIN,
            app_install_interval: std::time::Duration::from_secs(30),
            public_url: public_url.trim_end_matches('/').to_owned(),
            tasks: TaskTracker::new(),
            metrics: crate::metrics::Metrics::new(),
            rate_limit: None,
            config,
        }
    }

    /// Replay marks, parked records and idempotency entries in `shared` (Redis) instead.
    pub fn sharing<T>(mut self, shared: T) -> AppState
    where
        T: ReplayMarks + ParkedRecords + IdempotencyEntries + Ready + Clone + 'static,
    {
        self.ready.push(("redis", Arc::new(shared.clone())));
        self.replay = Arc::new(shared.clone());
        self.parked = Arc::new(shared.clone());
        self.idempotency = Arc::new(shared);
        self
    }

    /// Connections, endpoints and start links in `records` (PostgreSQL) instead.
    pub fn recording<T>(mut self, records: T) -> AppState
    where
        T: Connections + Endpoints + StartLinks + Refreshes + AppInstalls + Ready + Clone + 'static,
    {
        self.ready.push(("postgres", Arc::new(records.clone())));
        self.connections = Arc::new(records.clone());
        self.refreshes = Arc::new(records.clone());
        self.app_installs = Arc::new(records.clone());
        self.endpoints = Arc::new(records.clone());
        self.starts = Arc::new(records);
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
