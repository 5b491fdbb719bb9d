//! Connections and endpoints as the engines keep them: typed rows (the
//! record without its credentials, and when it was written), the list
//! filters, and what a callback's save did.

use channel_connect::records::{ChannelConnectionRecord, ChannelEndpointRecord, StoredRecords};

use super::StoreFuture;
use super::ownership::Conflict;

/// A stored connection: its record without `auth`, and its times (Unix seconds).
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionRow {
    /// The record, credentials removed.
    pub connection: ChannelConnectionRecord,
    /// When it was first stored.
    pub created_at: i64,
    /// When it was last written.
    pub updated_at: i64,
}

/// A stored endpoint: its identifier, its record without credentials
/// (`url`, `*token`, `*secret`), and its times (Unix seconds).
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointRow {
    /// The endpoint's identifier (`chendp_...`, the server's).
    pub identifier: String,
    /// The record, credentials removed.
    pub endpoint: ChannelEndpointRecord,
    /// When it was first stored.
    pub created_at: i64,
    /// When it was last written.
    pub updated_at: i64,
}

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

/// What a save did.
#[derive(Debug, PartialEq, Eq)]
pub enum Saved {
    /// Stored; the connection's identifier (an existing one when it is a re-install).
    Stored(Option<String>),
    /// Nothing stored: the connection's identifier names a stored
    /// connection that these records may not replace ([`super::ownership`]).
    Refused(Conflict),
}

/// Connections, and the one write that spans both tables: a callback's records.
pub trait Connections: Send + Sync {
    /// Stores one callback's records (a connection, its user endpoints) in
    /// one transaction, or nothing when they would replace a connection
    /// they are no re-install of.
    fn save<'a>(&'a self, env: &'a str, records: &'a StoredRecords, now: i64) -> StoreFuture<'a, Saved>;
    /// A page of the environment's connections, oldest first.
    fn list_connections<'a>(
        &'a self,
        env: &'a str,
        filter: &'a Filter,
    ) -> StoreFuture<'a, Vec<ConnectionRow>>;
}

/// Endpoints: where a subscriber is reached.
pub trait Endpoints: Send + Sync {
    /// A page of the environment's endpoints, oldest first.
    fn list_endpoints<'a>(&'a self, env: &'a str, filter: &'a Filter) -> StoreFuture<'a, Vec<EndpointRow>>;
}
