//! Whether a store answers: what `/readyz` asks each configured engine.

use super::error::StoreFuture;

/// A store that can say it answers.
pub trait Ready: Send + Sync {
    /// Answers when the engine does (a trivial query); the caller bounds the wait.
    fn ready(&self) -> StoreFuture<'_, ()>;
}
