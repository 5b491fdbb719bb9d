//! What the store engines promise, one trait per stored concern, and the
//! engines. Replay marks, parked records and idempotency entries are shared
//! by every instance (so they may live in Redis); connections, endpoints
//! and start links are records (SQLite, or PostgreSQL shared by instances).
//! [`sqlite::Store`] keeps all six.

pub mod app_installs;
mod error;
mod idempotency;
mod marks;
pub mod ownership;
pub mod postgres;
pub mod query;
mod ready;
mod records;
pub mod redis;
mod refreshes;
pub mod rekey;
pub mod seal;
pub mod sqlite;
mod starts;

pub use app_installs::{AppInstalls, DueInstall};
pub(crate) use error::blocking;
pub use error::{StoreError, StoreFuture};
pub use idempotency::{IDEMPOTENCY_TTL_SECS, IN_FLIGHT_TTL_SECS, Idempotency, IdempotencyEntries};
pub use marks::{ParkedRecords, ReplayMarks};
pub use ready::Ready;
pub use records::{
    AuthExpiry, ConnectionRow, Connections, EndpointRow, Endpoints, Filter, Listed, Order, OrderBy, Saved,
    Write, context_key_list, context_keys,
};
pub use refreshes::{Change, Lease, Refreshes, Renewal, Tokens, change, refreshable_until};
pub use starts::{StartLink, StartLinks};
