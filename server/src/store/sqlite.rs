//! The SQLite store (the zero-setup default): connections, endpoints, replay marks and idempotency
//! entries. Provider tokens (and webhook URLs) are sealed with
//! XChaCha20-Poly1305 before they reach the file; what the list endpoints
//! answer is kept beside them with every credential removed.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use channel_connect::records::{ChannelConnectionRecord, ChannelEndpointRecord, StoredRecords};
use rusqlite::{Connection, OptionalExtension, params};

use crate::store::ownership::{self, Conflict};
use crate::store::seal::{Sealer, relinked};
use crate::store::{
    ConnectionRow, Connections, EndpointRow, Endpoints, Filter, IDEMPOTENCY_TTL_SECS, IN_FLIGHT_TTL_SECS,
    Idempotency, IdempotencyEntries, ParkedRecords, ReplayMarks, Saved, StartLink, StartLinks, StoreError,
    StoreFuture, blocking,
};

/// Migrations, applied in order on open; `user_version` counts the applied ones.
const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE connections (
    environment_id TEXT NOT NULL,
    identifier TEXT NOT NULL,
    integration_identifier TEXT NOT NULL,
    subscriber_id TEXT,
    natural_key BLOB NOT NULL,
    public_json TEXT NOT NULL,
    sealed BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (environment_id, identifier)
);
CREATE INDEX connections_natural ON connections (environment_id, natural_key);
CREATE TABLE endpoints (
    environment_id TEXT NOT NULL,
    identifier TEXT NOT NULL,
    integration_identifier TEXT NOT NULL,
    subscriber_id TEXT NOT NULL,
    connection_identifier TEXT,
    natural_key BLOB NOT NULL,
    public_json TEXT NOT NULL,
    sealed BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (environment_id, identifier),
    UNIQUE (environment_id, natural_key)
);
CREATE TABLE replay_marks (
    replay_id BLOB PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE TABLE starts (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    cookie TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE idempotency (
    environment_id TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    status INTEGER,
    response TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (environment_id, key)
);
",
    "
CREATE TABLE parked (
    key BLOB PRIMARY KEY,
    sealed BLOB NOT NULL,
    expires_at INTEGER NOT NULL
);
",
    "
-- Expired rows are purged on every use: by index, not by scanning.
CREATE INDEX idempotency_created ON idempotency (created_at);
CREATE INDEX replay_marks_expiry ON replay_marks (expires_at);
CREATE INDEX starts_expiry ON starts (expires_at);
CREATE INDEX parked_expiry ON parked (expires_at);
",
    "
-- A connection's endpoints (the list filter).
CREATE INDEX endpoints_connection ON endpoints (environment_id, connection_identifier);
",
];

/// The database, shared by the handlers (cheap to clone).
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    sealer: Sealer,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store { .. }")
    }
}

impl Store {
    /// Opens (creating) the database at `path` and applies the migrations.
    /// `entropy` fills nonces (the OS generator in the binary).
    pub fn open(path: &Path, token_key: &[u8; 32], entropy: fn(&mut [u8])) -> Result<Store, StoreError> {
        let conn = Connection::open(path).map_err(|e| StoreError::with("open", e))?;
        Store::with_connection(conn, token_key, entropy)
    }

    /// An in-memory database (tests, `--db :memory:`).
    pub fn in_memory(token_key: &[u8; 32], entropy: fn(&mut [u8])) -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory().map_err(|e| StoreError::with("open", e))?;
        Store::with_connection(conn, token_key, entropy)
    }

    fn with_connection(
        mut conn: Connection,
        key: &[u8; 32],
        entropy: fn(&mut [u8]),
    ) -> Result<Store, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| StoreError::with("configure", e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| StoreError::with("configure", e))?;
        migrate(&mut conn)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
            sealer: Sealer::new(key, entropy),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (every write is a transaction).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks a state as used; `false` when it already was (a replay).
    /// Marks past their expiry are dropped on the way.
    pub fn mark_used_blocking(
        &self,
        replay_id: &[u8],
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let conn = self.lock();
        conn.execute("DELETE FROM replay_marks WHERE expires_at < ?1", params![now])
            .map_err(|e| StoreError::with("replay marks", e))?;
        let added = conn
            .execute(
                "INSERT OR IGNORE INTO replay_marks (replay_id, expires_at) VALUES (?1, ?2)",
                params![replay_id, expires_at],
            )
            .map_err(|e| StoreError::with("replay marks", e))?;
        Ok(added == 1)
    }

    /// Stores one callback's records in one transaction: a connection for
    /// the same workspace, context and owner is updated (its identifier
    /// kept), an endpoint for the same user likewise. Nothing is stored when
    /// the connection's identifier names one these records may not replace.
    pub fn save(&self, environment_id: &str, records: &StoredRecords, now: i64) -> Result<Saved, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| StoreError::with("begin", e))?;
        let mut stored_id = None;
        if let Some(c) = &records.connection {
            match self.save_connection(&tx, environment_id, c, now)? {
                Ok(id) => stored_id = Some(id),
                // Dropped without commit: nothing written.
                Err(conflict) => return Ok(Saved::Refused(conflict)),
            }
        }
        for e in &records.endpoints {
            let e = relinked(e, stored_id.as_deref());
            self.save_endpoint(&tx, environment_id, &e, now)?;
        }
        tx.commit().map_err(|e| StoreError::with("commit", e))?;
        Ok(Saved::Stored(stored_id))
    }

    fn save_connection(
        &self,
        tx: &rusqlite::Transaction<'_>,
        env: &str,
        c: &ChannelConnectionRecord,
        now: i64,
    ) -> Result<Result<String, Conflict>, StoreError> {
        let natural = Sealer::connection_key(c)?;
        let by_id: Option<String> = tx
            .query_row(
                "SELECT public_json FROM connections WHERE environment_id = ?1 AND identifier = ?2",
                params![env, c.identifier],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| StoreError::with("find connection", e))?;
        let existing = match by_id {
            Some(public) => match ownership::check_public(&public, c) {
                Ok(()) => Some(c.identifier.clone()),
                Err(conflict) => return Ok(Err(conflict)),
            },
            None => tx
                .query_row(
                    "SELECT identifier FROM connections WHERE environment_id = ?1 AND natural_key = ?2
                     ORDER BY created_at, rowid LIMIT 1",
                    params![env, natural],
                    |r| r.get::<_, String>(0),
                )
                .optional()
                .map_err(|e| StoreError::with("find connection", e))?,
        };
        let row = self
            .sealer
            .connection_row(env, c, existing.as_deref().unwrap_or(&c.identifier))?;
        tx.execute(
            "INSERT INTO connections (environment_id, identifier, integration_identifier, subscriber_id,
                 natural_key, public_json, sealed, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
             ON CONFLICT (environment_id, identifier) DO UPDATE SET
                 integration_identifier = excluded.integration_identifier, subscriber_id = excluded.subscriber_id,
                 natural_key = excluded.natural_key, public_json = excluded.public_json,
                 sealed = excluded.sealed, updated_at = excluded.updated_at",
            params![env, row.identifier, c.integration_identifier, c.subscriber_id, row.natural_key, row.public_json, row.sealed, now],
        )
        .map_err(|e| StoreError::with("write connection", e))?;
        Ok(Ok(row.identifier))
    }

    fn save_endpoint(
        &self,
        tx: &rusqlite::Transaction<'_>,
        env: &str,
        e: &ChannelEndpointRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        let existing: Option<String> = tx
            .query_row(
                "SELECT identifier FROM endpoints WHERE environment_id = ?1 AND natural_key = ?2",
                params![env, Sealer::endpoint_key(e)?],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| StoreError::with("find endpoint", e))?;
        let row = self.sealer.endpoint_row(env, e, existing)?;
        tx.execute(
            "INSERT INTO endpoints (environment_id, identifier, integration_identifier, subscriber_id,
                 connection_identifier, natural_key, public_json, sealed, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
             ON CONFLICT (environment_id, identifier) DO UPDATE SET
                 public_json = excluded.public_json, sealed = excluded.sealed, updated_at = excluded.updated_at",
            params![env, row.identifier, e.integration_identifier, e.subscriber_id, e.connection_identifier, row.natural_key, row.public_json, row.sealed, now],
        )
        .map_err(|e| StoreError::with("write endpoint", e))?;
        Ok(())
    }

    /// A connection's full record, tokens included (for the host's own use:
    /// sending messages, refreshing; never for an API answer).
    pub fn connection_with_tokens(
        &self,
        env: &str,
        identifier: &str,
    ) -> Result<Option<ChannelConnectionRecord>, StoreError> {
        let sealed: Option<Vec<u8>> = self
            .lock()
            .query_row(
                "SELECT sealed FROM connections WHERE environment_id = ?1 AND identifier = ?2",
                params![env, identifier],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| StoreError::with("read connection", e))?;
        let Some(sealed) = sealed else { return Ok(None) };
        self.sealer.open_connection(env, identifier, &sealed).map(Some)
    }

    /// The environment's connections, credentials removed, oldest first.
    pub fn list_connections(&self, env: &str, f: &Filter) -> Result<Vec<ConnectionRow>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT public_json, created_at, updated_at FROM connections WHERE environment_id = ?1
                     AND (?2 IS NULL OR subscriber_id = ?2) AND (?3 IS NULL OR identifier = ?3)
                     AND (?4 IS NULL OR integration_identifier = ?4)
                 ORDER BY created_at, rowid LIMIT ?5 OFFSET ?6",
            )
            .map_err(|e| StoreError::with("list", e))?;
        let rows = stmt
            .query_map(filter_params(env, f), |r| {
                Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(|e| StoreError::with("list", e))?;
        rows.map(|row| {
            let (public, created_at, updated_at) = row.map_err(|e| StoreError::with("list", e))?;
            Ok(ConnectionRow {
                connection: decode(&public)?,
                created_at,
                updated_at,
            })
        })
        .collect()
    }

    /// The environment's endpoints, credentials removed, oldest first.
    pub fn list_endpoints(&self, env: &str, f: &Filter) -> Result<Vec<EndpointRow>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT identifier, public_json, created_at, updated_at FROM endpoints WHERE environment_id = ?1
                     AND (?2 IS NULL OR subscriber_id = ?2) AND (?3 IS NULL OR connection_identifier = ?3)
                     AND (?4 IS NULL OR integration_identifier = ?4)
                 ORDER BY created_at, rowid LIMIT ?5 OFFSET ?6",
            )
            .map_err(|e| StoreError::with("list", e))?;
        let rows = stmt
            .query_map(filter_params(env, f), |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get(2)?,
                    r.get(3)?,
                ))
            })
            .map_err(|e| StoreError::with("list", e))?;
        rows.map(|row| {
            let (identifier, public, created_at, updated_at) =
                row.map_err(|e| StoreError::with("list", e))?;
            Ok(EndpointRow {
                identifier,
                endpoint: decode(&public)?,
                created_at,
                updated_at,
            })
        })
        .collect()
    }

    /// Keeps a start link until the state expires.
    pub fn save_start(&self, id: &str, link: &StartLink, expires_at: i64) -> Result<(), StoreError> {
        self.lock()
            .execute(
                "INSERT INTO starts (id, url, cookie, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, link.url, link.cookie, expires_at],
            )
            .map_err(|e| StoreError::with("starts", e))?;
        Ok(())
    }

    /// Takes a start link (once).
    pub fn take_start(&self, id: &str, now: i64) -> Result<Option<StartLink>, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| StoreError::with("begin", e))?;
        tx.execute("DELETE FROM starts WHERE expires_at < ?1", params![now])
            .map_err(|e| StoreError::with("starts", e))?;
        let found = tx
            .query_row("SELECT url, cookie FROM starts WHERE id = ?1", params![id], |r| {
                Ok(StartLink {
                    url: r.get(0)?,
                    cookie: r.get(1)?,
                })
            })
            .optional()
            .map_err(|e| StoreError::with("starts", e))?;
        tx.execute("DELETE FROM starts WHERE id = ?1", params![id])
            .map_err(|e| StoreError::with("starts", e))?;
        tx.commit().map_err(|e| StoreError::with("commit", e))?;
        Ok(found)
    }

    /// Keeps a redeemed code's sealed records for a retry (see [`ReplayMarks::park`]).
    pub fn park_blocking(
        &self,
        key: &[u8],
        sealed: &[u8],
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let conn = self.lock();
        conn.execute("DELETE FROM parked WHERE expires_at < ?1", params![now])
            .map_err(|e| StoreError::with("parked", e))?;
        conn.execute(
            "INSERT OR REPLACE INTO parked (key, sealed, expires_at) VALUES (?1, ?2, ?3)",
            params![key, sealed, expires_at],
        )
        .map_err(|e| StoreError::with("parked", e))?;
        Ok(())
    }

    /// Takes parked records once.
    pub fn take_parked_blocking(&self, key: &[u8], now: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let conn = self.lock();
        conn.query_row(
            "DELETE FROM parked WHERE key = ?1 AND expires_at >= ?2 RETURNING sealed",
            params![key, now],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| StoreError::with("parked", e))
    }

    /// Claims an idempotency key for a request (its hash), or answers what
    /// the key already holds. Entries older than a day are dropped first.
    pub fn idempotency_begin(
        &self,
        env: &str,
        key: &str,
        request_hash: &[u8],
        now: i64,
    ) -> Result<Idempotency, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| StoreError::with("begin", e))?;
        tx.execute(
            "DELETE FROM idempotency WHERE created_at < ?1",
            params![now - IDEMPOTENCY_TTL_SECS],
        )
        .map_err(|e| StoreError::with("idempotency", e))?;
        // A claim never answered within its time is forgotten.
        tx.execute(
            "DELETE FROM idempotency WHERE environment_id = ?1 AND key = ?2 AND status IS NULL AND created_at < ?3",
            params![env, key, now - IN_FLIGHT_TTL_SECS],
        )
        .map_err(|e| StoreError::with("idempotency", e))?;
        let found: Option<(Vec<u8>, Option<u16>, Option<String>)> = tx
            .query_row(
                "SELECT request_hash, status, response FROM idempotency WHERE environment_id = ?1 AND key = ?2",
                params![env, key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(|e| StoreError::with("idempotency", e))?;
        let answer = match found {
            None => {
                tx.execute(
                    "INSERT INTO idempotency (environment_id, key, request_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![env, key, request_hash, now],
                )
                .map_err(|e| StoreError::with("idempotency", e))?;
                Idempotency::Fresh
            }
            Some((hash, _, _)) if hash != request_hash => Idempotency::Mismatch,
            Some((_, Some(status), Some(body))) => Idempotency::Replay { status, body },
            Some(_) => Idempotency::InFlight,
        };
        tx.commit().map_err(|e| StoreError::with("commit", e))?;
        Ok(answer)
    }

    /// Records the answer to a claimed key.
    pub fn idempotency_finish(
        &self,
        env: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError> {
        self.lock()
            .execute(
                "UPDATE idempotency SET status = ?3, response = ?4 WHERE environment_id = ?1 AND key = ?2",
                params![env, key, status, body],
            )
            .map_err(|e| StoreError::with("idempotency", e))?;
        Ok(())
    }

    /// Gives a claimed key up (the handler failed before answering).
    pub fn idempotency_abandon(&self, env: &str, key: &str) -> Result<(), StoreError> {
        self.lock()
            .execute(
                "DELETE FROM idempotency WHERE environment_id = ?1 AND key = ?2 AND status IS NULL",
                params![env, key],
            )
            .map_err(|e| StoreError::with("idempotency", e))?;
        Ok(())
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction().map_err(|e| StoreError::with("migrate", e))?;
    let applied: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| StoreError::with("migrate", e))?;
    for (n, sql) in (0i64..)
        .zip(MIGRATIONS)
        .skip(usize::try_from(applied).unwrap_or(usize::MAX))
    {
        tx.execute_batch(sql)
            .map_err(|e| StoreError::with("migrate", e))?;
        tx.pragma_update(None, "user_version", n + 1)
            .map_err(|e| StoreError::with("migrate", e))?;
    }
    tx.commit().map_err(|e| StoreError::with("migrate", e))
}

impl ReplayMarks for Store {
    fn mark_used<'a>(&'a self, replay_id: &'a [u8], expires_at: i64, now: i64) -> StoreFuture<'a, bool> {
        let (store, id) = (self.clone(), replay_id.to_vec());
        Box::pin(blocking(move || store.mark_used_blocking(&id, expires_at, now)))
    }
}

impl ParkedRecords for Store {
    fn park<'a>(&'a self, key: &'a [u8], sealed: &'a [u8], expires_at: i64, now: i64) -> StoreFuture<'a, ()> {
        let (store, key, sealed) = (self.clone(), key.to_vec(), sealed.to_vec());
        Box::pin(blocking(move || {
            store.park_blocking(&key, &sealed, expires_at, now)
        }))
    }

    fn take_parked<'a>(&'a self, key: &'a [u8], now: i64) -> StoreFuture<'a, Option<Vec<u8>>> {
        let (store, key) = (self.clone(), key.to_vec());
        Box::pin(blocking(move || store.take_parked_blocking(&key, now)))
    }
}

impl IdempotencyEntries for Store {
    fn begin<'a>(
        &'a self,
        env: &'a str,
        key: &'a str,
        hash: &'a [u8],
        now: i64,
    ) -> StoreFuture<'a, Idempotency> {
        let (store, env, key, hash) = (self.clone(), env.to_owned(), key.to_owned(), hash.to_vec());
        Box::pin(blocking(move || store.idempotency_begin(&env, &key, &hash, now)))
    }

    fn finish<'a>(&'a self, env: &'a str, key: &'a str, status: u16, body: &'a str) -> StoreFuture<'a, ()> {
        let (store, env, key, body) = (self.clone(), env.to_owned(), key.to_owned(), body.to_owned());
        Box::pin(blocking(move || {
            store.idempotency_finish(&env, &key, status, &body)
        }))
    }

    fn abandon<'a>(&'a self, env: &'a str, key: &'a str) -> StoreFuture<'a, ()> {
        let (store, env, key) = (self.clone(), env.to_owned(), key.to_owned());
        Box::pin(blocking(move || store.idempotency_abandon(&env, &key)))
    }
}

impl Connections for Store {
    fn save<'a>(&'a self, env: &'a str, records: &'a StoredRecords, now: i64) -> StoreFuture<'a, Saved> {
        let (store, env, records) = (self.clone(), env.to_owned(), records.clone());
        Box::pin(blocking(move || store.save(&env, &records, now)))
    }

    fn list_connections<'a>(
        &'a self,
        env: &'a str,
        filter: &'a Filter,
    ) -> StoreFuture<'a, Vec<ConnectionRow>> {
        let (store, env, filter) = (self.clone(), env.to_owned(), filter.clone());
        Box::pin(blocking(move || store.list_connections(&env, &filter)))
    }
}

impl Endpoints for Store {
    fn list_endpoints<'a>(&'a self, env: &'a str, filter: &'a Filter) -> StoreFuture<'a, Vec<EndpointRow>> {
        let (store, env, filter) = (self.clone(), env.to_owned(), filter.clone());
        Box::pin(blocking(move || store.list_endpoints(&env, &filter)))
    }
}

impl StartLinks for Store {
    fn save_start<'a>(&'a self, id: &'a str, link: &'a StartLink, expires_at: i64) -> StoreFuture<'a, ()> {
        let (store, id, link) = (self.clone(), id.to_owned(), link.clone());
        Box::pin(blocking(move || store.save_start(&id, &link, expires_at)))
    }

    fn take_start<'a>(&'a self, id: &'a str, now: i64) -> StoreFuture<'a, Option<StartLink>> {
        let (store, id) = (self.clone(), id.to_owned());
        Box::pin(blocking(move || store.take_start(&id, now)))
    }
}

/// The list statements' parameters, in their order.
fn filter_params<'a>(env: &'a str, f: &'a Filter) -> impl rusqlite::Params + 'a {
    (
        env,
        &f.subscriber_id,
        &f.connection_identifier,
        &f.integration_identifier,
        f.limit,
        f.offset,
    )
}

/// A row's public JSON as its record.
fn decode<T: serde::de::DeserializeOwned>(public: &str) -> Result<T, StoreError> {
    serde_json::from_str(public).map_err(|e| StoreError::with("decode", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn install(identifier: &str, team: &str, token: &str) -> StoredRecords {
        serde_json::from_value(serde_json::json!({
            "connection": {
                "identifier": identifier, "integrationIdentifier": "slack", "providerId": "slack",
                "workspace": { "id": team },
                "auth": { "accessToken": token }
            }
        }))
        .unwrap()
    }

    #[test]
    fn sealed_tokens_open_for_their_row_only() {
        let store = Store::in_memory(&[9; 32], crate::os_entropy).unwrap();
        store.save("env", &install("c1", "T1", "xoxb-one"), 1).unwrap();
        store.save("env", &install("c2", "T2", "xoxb-two"), 1).unwrap();
        let c1 = store.connection_with_tokens("env", "c1").unwrap().unwrap();
        assert_eq!(c1.auth.unwrap().access_token.expose(), "xoxb-one");
        assert!(store.connection_with_tokens("other-env", "c1").unwrap().is_none());
        // A sealed record copied onto another row does not open there.
        store
            .lock()
            .execute(
                "UPDATE connections SET sealed = (SELECT sealed FROM connections WHERE identifier = 'c1')
                 WHERE identifier = 'c2'",
                [],
            )
            .unwrap();
        assert!(store.connection_with_tokens("env", "c2").is_err());
        // Another key opens nothing.
        let conn = std::mem::replace(&mut *store.lock(), Connection::open_in_memory().unwrap());
        let other = Store::with_connection(conn, &[8; 32], crate::os_entropy).unwrap();
        assert!(other.connection_with_tokens("env", "c1").is_err());
    }
}
