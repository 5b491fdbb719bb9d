//! Connections and endpoints as the engines keep them: typed rows (the
//! record without its credentials, and when it was written), the list
//! filters, and what a callback's save did.

use channel_connect::records::{ChannelConnectionRecord, ChannelEndpointRecord, StoredRecords};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::{StoreError, StoreFuture};
use super::ownership::Conflict;

/// Where a connection row's public JSON keeps its [`AuthExpiry`].
const AUTH_EXPIRY: &str = "authExpiry";

/// When a connection's tokens expire (Unix seconds). Not secrets: the
/// row's public JSON keeps them beside the record (`authExpiry`), its
/// `auth` sealed only, for the connection object to show.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthExpiry {
    /// The access token's (`auth.expiresAt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// The refresh token's (`auth.refreshTokenExpiresAt`, Webex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_expires_at: Option<i64>,
}

impl AuthExpiry {
    /// `record`'s, none without `auth`.
    pub fn of(record: &ChannelConnectionRecord) -> AuthExpiry {
        let auth = record.auth.as_ref();
        AuthExpiry {
            expires_at: auth.and_then(|a| a.expires_at).map(|t| t.unix_timestamp()),
            refresh_token_expires_at: auth
                .and_then(|a| a.refresh_token_expires_at)
                .map(|t| t.unix_timestamp()),
        }
    }

    /// Added to a connection's public JSON, when there is any.
    pub fn write_into(self, public: &mut Map<String, Value>) {
        if self != AuthExpiry::default()
            && let Ok(v) = serde_json::to_value(self)
        {
            public.insert(AUTH_EXPIRY.into(), v);
        }
    }
}

/// A stored connection: its record without `auth`, and its times (Unix seconds).
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionRow {
    /// The record, credentials removed.
    pub connection: ChannelConnectionRecord,
    /// When its tokens expire (none for a row written before they were
    /// kept in its public JSON, until its next write or refresh).
    pub auth_expiry: AuthExpiry,
    /// When it was first stored.
    pub created_at: i64,
    /// When it was last written.
    pub updated_at: i64,
    /// Why it must be connected again, when its tokens no longer work
    /// ([`super::Tokens::reconnect`]).
    pub reconnect: Option<String>,
}

impl ConnectionRow {
    /// A row from its public JSON and its columns.
    pub fn from_public(
        public: &str,
        created_at: i64,
        updated_at: i64,
        reconnect: Option<String>,
    ) -> Result<ConnectionRow, StoreError> {
        #[derive(Deserialize)]
        struct Times {
            #[serde(default, rename = "authExpiry")]
            auth_expiry: AuthExpiry,
        }
        let decode = |e| StoreError::with("decode", e);
        let connection = serde_json::from_str(public).map_err(decode)?;
        // Read again only for a row that has times (most have none).
        let auth_expiry = if public.contains(AUTH_EXPIRY) {
            serde_json::from_str::<Times>(public).map_err(decode)?.auth_expiry
        } else {
            AuthExpiry::default()
        };
        Ok(ConnectionRow {
            connection,
            auth_expiry,
            created_at,
            updated_at,
            reconnect,
        })
    }
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
    /// A linked Teams user's: the Teams app's installation ([`super::app_installs`]).
    pub app_install: Option<String>,
}

/// Which way a list runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// Oldest first.
    Asc,
    /// Newest first (Novu's default).
    #[default]
    Desc,
}

/// What a list is ordered by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OrderBy {
    /// When first stored (Novu's default).
    #[default]
    CreatedAt,
    /// When last written.
    UpdatedAt,
}

/// A list's filters and page, as Novu's list endpoints take them.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only this subscriber's.
    pub subscriber_id: Option<String>,
    /// Only the row with this identifier.
    pub identifier: Option<String>,
    /// Endpoints only: those linked to this connection.
    pub connection_identifier: Option<String>,
    /// Only these integrations' (`Some(empty)`: none).
    pub integration_identifiers: Option<Vec<String>>,
    /// Connections only: shared ones (`Some(true)`) or a subscriber's (`Some(false)`).
    pub shared: Option<bool>,
    /// Only rows with exactly these context keys, as [`context_keys`] writes them.
    pub context_keys: Option<String>,
    /// The rows after this one (an identifier), in the list's order.
    pub after: Option<String>,
    /// The rows before this one.
    pub before: Option<String>,
    /// Whether the cursor's own row is in the page.
    pub include_cursor: bool,
    /// What the list is ordered by.
    pub order_by: OrderBy,
    /// Which way.
    pub order: Order,
    /// At most this many rows (1 to 100).
    pub limit: i64,
    /// Whether to count every row the filters match (a list's
    /// `totalCount`); a point read skips it.
    pub count: bool,
}

impl Filter {
    /// No filter, newest first, `limit` rows.
    pub fn page(limit: i64) -> Filter {
        Filter {
            limit,
            count: true,
            ..Filter::default()
        }
    }

    /// The identifier when this filter asks for that row and nothing else
    /// (a point read an engine can answer by primary key).
    pub fn point(&self) -> Option<&str> {
        let only = self.subscriber_id.is_none()
            && self.connection_identifier.is_none()
            && self.integration_identifiers.is_none()
            && self.shared.is_none()
            && self.context_keys.is_none()
            && self.after.is_none()
            && self.before.is_none()
            && self.limit >= 1;
        self.identifier.as_deref().filter(|_| only)
    }

    /// The row with this identifier.
    pub fn one(identifier: &str) -> Filter {
        Filter {
            identifier: Some(identifier.to_owned()),
            count: false,
            ..Filter::page(1)
        }
    }
}

/// Most rows counted for `totalCount`; past it the count says so (`totalCountCapped`).
pub const COUNT_CAP: i64 = 50_000;

/// A page of rows and where the pages around it start.
#[derive(Clone, Debug, PartialEq)]
pub struct Listed<T> {
    /// The rows, in the list's order.
    pub rows: Vec<T>,
    /// The cursor for the next page (`after`), when there is one.
    pub next: Option<String>,
    /// The cursor for the previous page (`before`), when there is one.
    pub previous: Option<String>,
    /// How many rows the filters match (at most [`COUNT_CAP`]).
    pub total: i64,
    /// Whether `total` stopped at the cap.
    pub capped: bool,
}

impl<T> Listed<T> {
    /// A page from the rows a [`super::query::page`] statement answered
    /// (one more than asked when more follow) and the count.
    pub fn assemble(mut rows: Vec<T>, f: &Filter, reversed: bool, counted: i64, id: fn(&T) -> &str) -> Self {
        let limit = usize::try_from(f.limit).unwrap_or(0);
        let more = rows.len() > limit;
        rows.truncate(limit);
        if reversed {
            rows.reverse();
        }
        let first = rows.first().map(|r| id(r).to_owned());
        let last = rows.last().map(|r| id(r).to_owned());
        let (next, previous) = match (f.after.is_some(), f.before.is_some()) {
            // A page before a cursor: the cursor's side continues; this side if more.
            (false, true) => (last, if more { first } else { None }),
            (true, _) => (if more { last } else { None }, first),
            (false, false) => (if more { last } else { None }, None),
        };
        Listed {
            rows,
            next,
            previous,
            total: counted.min(COUNT_CAP),
            capped: counted > COUNT_CAP,
        }
    }
}

/// A context as one comparable text: its `type:id` keys, sorted, one per
/// line (what the `contextKeys` filter matches exactly, order aside).
pub fn context_keys(context: &channel_connect::records::ContextRecords) -> String {
    context_key_list(context).join("\n")
}

/// A context's `type:id` keys, sorted (Novu's `contextKeys`).
pub fn context_key_list(context: &channel_connect::records::ContextRecords) -> Vec<String> {
    let mut keys: Vec<String> = context.iter().map(|(k, v)| format!("{k}:{}", v.id)).collect();
    keys.sort();
    keys
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

/// What an API write may do: add a row that must not exist, or change one
/// that must (neither checks then writes: the statement itself decides).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    /// Insert; an existing row (identifier, or an endpoint's target) is [`Conflict::Exists`].
    Create,
    /// Update in place; no such row is [`Conflict::Gone`].
    Update,
}

impl Write {
    /// What this write changing no row means.
    pub fn refused(self) -> Conflict {
        match self {
            Write::Create => Conflict::Exists,
            Write::Update => Conflict::Gone,
        }
    }
}

/// Connections, and the one write that spans both tables: a callback's records.
pub trait Connections: Send + Sync {
    /// Stores one callback's records (a connection, its user endpoints) in
    /// one transaction, or nothing when they would replace a connection
    /// they are no re-install of, or link a user to a connection that is
    /// gone, of another owner, or (`pin`, the flow's workspace) elsewhere.
    fn save<'a>(
        &'a self,
        env: &'a str,
        records: &'a StoredRecords,
        pin: Option<&'a str>,
        now: i64,
    ) -> StoreFuture<'a, Saved>;
    /// A page of the environment's connections (one: [`Filter::one`]).
    fn list_connections<'a>(
        &'a self,
        env: &'a str,
        filter: &'a Filter,
    ) -> StoreFuture<'a, Listed<ConnectionRow>>;
    /// A connection's full record, tokens included (for the host's own use:
    /// sending, refreshing; never for an API answer).
    fn connection_record<'a>(
        &'a self,
        env: &'a str,
        identifier: &'a str,
    ) -> StoreFuture<'a, Option<ChannelConnectionRecord>>;
    /// Writes a connection as given under its identifier (the API's create
    /// and update: the caller checked what may be written), keeping its
    /// first time; the stored row.
    fn put_connection<'a>(
        &'a self,
        env: &'a str,
        connection: &'a ChannelConnectionRecord,
        write: Write,
        now: i64,
    ) -> StoreFuture<'a, Result<ConnectionRow, Conflict>>;
    /// The identifiers of the environment's connections of `integration`
    /// in `workspace` (a Slack team or enterprise, a Microsoft tenant): what
    /// a provider's uninstall event is about. Rare, so read without an index.
    fn workspace_connections<'a>(
        &'a self,
        env: &'a str,
        integration: &'a str,
        workspace: &'a str,
    ) -> StoreFuture<'a, Vec<String>>;
    /// Removes a connection and every endpoint linked to it (none may send
    /// through a connection that is gone), in one transaction; `None` when
    /// there was no such connection, else how many endpoints went with it.
    fn delete_connection<'a>(&'a self, env: &'a str, identifier: &'a str) -> StoreFuture<'a, Option<u64>>;
}

/// Endpoints: where a subscriber is reached.
pub trait Endpoints: Send + Sync {
    /// A page of the environment's endpoints (one: [`Filter::one`]).
    fn list_endpoints<'a>(&'a self, env: &'a str, filter: &'a Filter)
    -> StoreFuture<'a, Listed<EndpointRow>>;
    /// Writes an endpoint as given under `identifier`, keeping its first
    /// time; refused when another endpoint reaches the same target. An
    /// endpoint written through the API is no longer this service's to
    /// install or remove the Teams app for (its user may have changed).
    fn put_endpoint<'a>(
        &'a self,
        env: &'a str,
        identifier: &'a str,
        endpoint: &'a ChannelEndpointRecord,
        write: Write,
        now: i64,
    ) -> StoreFuture<'a, Result<EndpointRow, Conflict>>;
    /// An endpoint's full record, credentials included (a webhook's URL:
    /// for the sender, never for a list answer).
    fn endpoint_record<'a>(
        &'a self,
        env: &'a str,
        identifier: &'a str,
    ) -> StoreFuture<'a, Option<ChannelEndpointRecord>>;
    /// Removes an endpoint; whether there was one.
    fn delete_endpoint<'a>(&'a self, env: &'a str, identifier: &'a str) -> StoreFuture<'a, bool>;
}
