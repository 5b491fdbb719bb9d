//! Novu's `idempotency-key`: a POST's answer kept under its key, per environment.

use super::error::StoreFuture;

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
