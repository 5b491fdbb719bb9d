//! What every store operation answers: its future, and the failure that
//! keeps the engine's error as its source.

use std::future::Future;
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

/// Runs blocking storage work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::with("task", e))?
}
