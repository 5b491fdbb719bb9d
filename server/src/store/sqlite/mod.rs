//! The SQLite store (the zero-setup default): every stored concern in one
//! file. Provider tokens (and webhook URLs) are sealed with
//! XChaCha20-Poly1305 before they reach the file; what the list endpoints
//! answer is kept beside them with every credential removed. `records`
//! has connections, endpoints and start links; `marks` replay marks,
//! parked records and idempotency entries.

mod app_installs;
mod lists;
mod marks;
mod records;
mod refreshes;
mod rekey;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;

use crate::store::StoreError;
use crate::store::seal::{Sealer, TokenKeys};

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
    "
-- Novu's contextKeys filter: the context's type:id keys, sorted, one per line.
ALTER TABLE connections ADD COLUMN context_keys TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN context_keys TEXT NOT NULL DEFAULT '';
UPDATE connections SET context_keys = COALESCE((SELECT group_concat(k, char(10)) FROM
    (SELECT key || ':' || json_extract(value, '$.id') AS k FROM json_each(connections.public_json, '$.context') ORDER BY k)), '');
UPDATE endpoints SET context_keys = COALESCE((SELECT group_concat(k, char(10)) FROM
    (SELECT key || ':' || json_extract(value, '$.id') AS k FROM json_each(endpoints.public_json, '$.context') ORDER BY k)), '');
-- Lists walk environments newest first.
CREATE INDEX connections_created ON connections (environment_id, created_at);
CREATE INDEX endpoints_created ON endpoints (environment_id, created_at);
",
    "
-- Token refreshes: when a connection's tokens expire (if they can be
-- refreshed), the lease of the one refresher at a time, and why the
-- connection must be connected again when its tokens stopped working.
ALTER TABLE connections ADD COLUMN refreshable_until INTEGER;
ALTER TABLE connections ADD COLUMN lease_holder TEXT;
ALTER TABLE connections ADD COLUMN lease_until INTEGER;
ALTER TABLE connections ADD COLUMN reconnect TEXT;
CREATE INDEX connections_refreshable ON connections (refreshable_until) WHERE refreshable_until IS NOT NULL;
",
    "
-- The Teams app's installation for a linked Teams user: its status, the
-- attempts so far, and when the next one is due (pending only).
ALTER TABLE endpoints ADD COLUMN app_install TEXT;
ALTER TABLE endpoints ADD COLUMN app_install_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN app_install_next INTEGER;
CREATE INDEX endpoints_app_install_due ON endpoints (app_install_next) WHERE app_install = 'pending';
",
    "
-- Whether this service obtained the connection's token (an OAuth callback)
-- rather than being given it (the API): only its own does it revoke.
ALTER TABLE connections ADD COLUMN minted INTEGER NOT NULL DEFAULT 0;
",
];

/// The database, shared by the handlers (cheap to clone).
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    /// Read-only connections for the lists and point reads (WAL lets them
    /// read beside the writer); none for an in-memory database.
    readers: Arc<[Mutex<Connection>]>,
    next_reader: Arc<std::sync::atomic::AtomicUsize>,
    sealer: Sealer,
}

/// Read-only connections per file.
const READERS: usize = 4;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store { .. }")
    }
}

impl Store {
    /// Opens (creating) the database at `path` and applies the migrations.
    /// `keys` seal the tokens ([`TokenKeys`], or one key: `&[u8; 32]`);
    /// `entropy` fills nonces (the OS generator in the binary).
    pub fn open(
        path: &Path,
        keys: impl Into<TokenKeys>,
        entropy: fn(&mut [u8]),
    ) -> Result<Store, StoreError> {
        let conn = Connection::open(path).map_err(|e| StoreError::with("open", e))?;
        let mut store = Store::with_connection(conn, keys.into(), entropy)?;
        // After the migrations: the readers see the schema.
        let readers = (0..READERS)
            .map(|_| {
                let c = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                    .map_err(|e| StoreError::with("open", e))?;
                c.busy_timeout(std::time::Duration::from_secs(5))
                    .map_err(|e| StoreError::with("configure", e))?;
                Ok(Mutex::new(c))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        store.readers = readers.into();
        Ok(store)
    }

    /// An in-memory database (tests, `--db :memory:`).
    pub fn in_memory(keys: impl Into<TokenKeys>, entropy: fn(&mut [u8])) -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory().map_err(|e| StoreError::with("open", e))?;
        Store::with_connection(conn, keys.into(), entropy)
    }

    fn with_connection(
        mut conn: Connection,
        keys: TokenKeys,
        entropy: fn(&mut [u8]),
    ) -> Result<Store, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| StoreError::with("configure", e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| StoreError::with("configure", e))?;
        migrate(&mut conn)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
            readers: Vec::new().into(),
            next_reader: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            sealer: Sealer::new(keys, entropy),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (every write is a transaction).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection to read with: the first idle reader from a rotating
    /// start, else the writer's (an in-memory database has no readers).
    fn read_lock(&self) -> MutexGuard<'_, Connection> {
        let n = self.readers.len();
        if n == 0 {
            return self.lock();
        }
        let start = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (0..n)
            .find_map(|i| self.readers[(start + i) % n].try_lock().ok())
            .unwrap_or_else(|| self.readers[start % n].lock().unwrap_or_else(|p| p.into_inner()))
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

/// A row's public JSON as its record.
pub(super) fn decode<T: serde::de::DeserializeOwned>(public: &str) -> Result<T, StoreError> {
    serde_json::from_str(public).map_err(|e| StoreError::with("decode", e))
}

impl crate::store::Ready for Store {
    fn ready(&self) -> crate::store::StoreFuture<'_, ()> {
        let store = self.clone();
        Box::pin(crate::store::blocking(move || {
            store
                .read_lock()
                .query_row("SELECT 1", [], |_| Ok(()))
                .map_err(|e| StoreError::with("sqlite ping", e))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use channel_connect::records::StoredRecords;

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
        store
            .save("env", &install("c1", "T1", "xoxb-one"), None, 1)
            .unwrap();
        store
            .save("env", &install("c2", "T2", "xoxb-two"), None, 1)
            .unwrap();
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
        let other = Store::with_connection(conn, (&[8; 32]).into(), crate::os_entropy).unwrap();
        assert!(other.connection_with_tokens("env", "c1").is_err());
    }
}
