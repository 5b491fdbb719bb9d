//! What keeps a state to one use: its replay mark, and the records a
//! failed store parked for a retry of the same callback.

use super::error::StoreFuture;

/// Marks each state used once. An engine that cannot answer fails closed:
/// the caller refuses the callback.
pub trait ReplayMarks: Send + Sync {
    /// Marks `replay_id` used until `expires_at` (Unix seconds); `false`
    /// when it already was.
    fn mark_used<'a>(&'a self, replay_id: &'a [u8], expires_at: i64, now: i64) -> StoreFuture<'a, bool>;
}

/// A redeemed code's records, sealed, kept for a retry: the records store
/// failed after the exchange, and the code cannot be redeemed again.
pub trait ParkedRecords: Send + Sync {
    /// Keeps `sealed` under `key` until `expires_at`.
    fn park<'a>(&'a self, key: &'a [u8], sealed: &'a [u8], expires_at: i64, now: i64) -> StoreFuture<'a, ()>;
    /// Takes parked records once (`None`: none, or expired).
    fn take_parked<'a>(&'a self, key: &'a [u8], now: i64) -> StoreFuture<'a, Option<Vec<u8>>>;
}
