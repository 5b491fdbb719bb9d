//! What the store engines promise, one trait per concern: replay marks and
//! idempotency entries (shared by every instance of the service, so they
//! may live in Redis) beside the records (connections, endpoints), which
//! [`crate::store::sqlite::Store`] keeps.

pub mod ownership;
pub mod postgres;
pub mod redis;
pub mod seal;
pub mod sqlite;

use std::future::Future;

use channel_connect::records::StoredRecords;

use ownership::Conflict;
use serde_json::Value;
use std::pin::Pin;

/// A future a store answers with.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A storage failure: the operation that failed and, when there was one,
/// the engine's error (kept as the source, for the log; an API answer says
/// only that the service is unavailable).
#[derive(Debug)]
pub struct StoreError {
    op: &'static str,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StoreError {
    /// A failure of `op` with no error of the engine's behind it.
    pub fn new(op: &'static str) -> StoreError {
        StoreError { op, source: None }
    }

    /// A failure of `op` caused by `source`.
    pub fn with(op: &'static str, source: impl std::error::Error + Send + Sync + 'static) -> StoreError {
        StoreError {
            op,
            source: Some(Box::new(source)),
        }
    }

    /// The operation that failed (`"write connection"`, `"postgres connect"`, ...).
    pub fn op(&self) -> &'static str {
        self.op
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "storage failed: {}", self.op)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// What an idempotency key found.
#[derive(Debug, PartialEq, Eq)]
pub enum Idempotency {
    /// First use: the caller handles the request, then [`IdempotencyEntries::finish`].
    Fresh,
    /// Same key, same request, finished: the cached answer.
    Replay {
        /// The cached status.
        status: u16,
        /// The cached body.
        body: String,
    },
    /// Same key, another request body (422).
    Mismatch,
    /// Same key, still being handled (409).
    InFlight,
}

/// How long an idempotency entry is kept (Novu: 24 hours).
pub const IDEMPOTENCY_TTL_SECS: i64 = 24 * 60 * 60;

/// How long a claim without an answer holds its key: longer than any
/// request may run (30 s), so a claim left behind by a failed `finish` or
/// a dropped request frees itself instead of answering 409 for a day.
pub const IN_FLIGHT_TTL_SECS: i64 = 60;

/// The list endpoints' filters.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only this subscriber's.
    pub subscriber_id: Option<String>,
    /// Only this connection (or, for endpoints, those linked to it).
    pub connection_identifier: Option<String>,
    /// Only this integration's.
    pub integration_identifier: Option<String>,
    /// At most this many (default 10, at most 100).
    pub limit: i64,
    /// Skip this many.
    pub offset: i64,
}

/// Which rows a list answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listing {
    /// `GET /v1/channel-connections`.
    Connections,
    /// `GET /v1/channel-endpoints`.
    Endpoints,
}

/// What a save did.
#[derive(Debug, PartialEq, Eq)]
pub enum Saved {
    /// Stored; the connection's identifier (an existing one when it is a re-install).
    Stored(Option<String>),
    /// Nothing stored: the connection's identifier names a stored
    /// connection that these records may not replace ([`crate::store::ownership`]).
    Refused(Conflict),
}

/// Connections, endpoints and start URLs.
pub trait Records: Send + Sync {
    /// Stores one callback's records in one transaction, or nothing when
    /// they would replace a connection they are no re-install of.
    fn save<'a>(&'a self, env: &'a str, records: &'a StoredRecords, now: i64) -> StoreFuture<'a, Saved>;
    /// A page of the environment's rows, credentials removed, oldest first.
    fn list<'a>(&'a self, what: Listing, env: &'a str, filter: &'a Filter) -> StoreFuture<'a, Vec<Value>>;
    /// Keeps a start URL's target and cookie until the state expires.
    fn save_start<'a>(
        &'a self,
        id: &'a str,
        url: &'a str,
        cookie: &'a str,
        expires_at: i64,
    ) -> StoreFuture<'a, ()>;
    /// Takes a start once: the provider URL and the cookie.
    fn take_start<'a>(&'a self, id: &'a str, now: i64) -> StoreFuture<'a, Option<(String, String)>>;
}

/// Marks each state used once. An engine that cannot answer fails closed:
/// the caller refuses the callback.
pub trait ReplayMarks: Send + Sync {
    /// Marks `replay_id` used until `expires_at` (Unix seconds); `false`
    /// when it already was.
    fn mark_used<'a>(&'a self, replay_id: &'a [u8], expires_at: i64, now: i64) -> StoreFuture<'a, bool>;
    /// Keeps a redeemed code's records, sealed, under `key` until
    /// `expires_at`: the records store failed after the exchange, and the
    /// code cannot be redeemed again, so a retry of the same callback
    /// stores these instead.
    fn park<'a>(&'a self, key: &'a [u8], sealed: &'a [u8], expires_at: i64, now: i64) -> StoreFuture<'a, ()>;
    /// Takes parked records once (`None`: none, or expired).
    fn take_parked<'a>(&'a self, key: &'a [u8], now: i64) -> StoreFuture<'a, Option<Vec<u8>>>;
}

/// Novu's `idempotency-key` entries, scoped per environment.
pub trait IdempotencyEntries: Send + Sync {
    /// Claims `key` for a request (its hash), or answers what it holds.
    fn begin<'a>(
        &'a self,
        env: &'a str,
        key: &'a str,
        hash: &'a [u8],
        now: i64,
    ) -> StoreFuture<'a, Idempotency>;
    /// Keeps the answer to a claimed key.
    fn finish<'a>(&'a self, env: &'a str, key: &'a str, status: u16, body: &'a str) -> StoreFuture<'a, ()>;
    /// Releases a claimed key without an answer (a retry may run).
    fn abandon<'a>(&'a self, env: &'a str, key: &'a str) -> StoreFuture<'a, ()>;
}

/// Runs blocking storage work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::with("task", e))?
}
