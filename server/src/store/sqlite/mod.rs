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

/// The migrations in `server/migrations/sqlite/`, applied in order on open.
mod embedded {
    refinery::embed_migrations!("migrations/sqlite");
}

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
    let runner = embedded::migrations::runner();
    adopt_user_version(conn, &runner)?;
    runner.run(conn).map_err(|e| StoreError::with("migrate", e))?;
    Ok(())
}

/// A file migrated before the migrations were versioned counts them in
/// `user_version`: those are recorded as applied (once), so refinery runs
/// only the ones after.
fn adopt_user_version(conn: &mut Connection, runner: &refinery::Runner) -> Result<(), StoreError> {
    let failed = |e| StoreError::with("migrate", e);
    let applied: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(failed)?;
    let history: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'refinery_schema_history'",
            [],
            |r| r.get(0),
        )
        .map_err(failed)?;
    if applied == 0 || history > 0 {
        return Ok(());
    }
    let tx = conn.transaction().map_err(failed)?;
    tx.execute_batch(
        "CREATE TABLE refinery_schema_history (version INT4 PRIMARY KEY, name VARCHAR(255),
             applied_on VARCHAR(255), checksum VARCHAR(255))",
    )
    .map_err(failed)?;
    for m in runner
        .get_migrations()
        .iter()
        .filter(|m| i64::from(m.version()) <= applied)
    {
        tx.execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![m.version(), m.name(), "1970-01-01T00:00:00Z", m.checksum().to_string()],
        )
        .map_err(failed)?;
    }
    tx.commit().map_err(failed)
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
    fn a_file_migrated_before_versioned_migrations_takes_only_the_later_ones() {
        let mut conn = Connection::open_in_memory().unwrap();
        // As the service left a file before: five migrations, counted in user_version.
        for sql in [
            include_str!("../../../migrations/sqlite/V1__tables.sql"),
            include_str!("../../../migrations/sqlite/V2__parked.sql"),
            include_str!("../../../migrations/sqlite/V3__expiry_indexes.sql"),
            include_str!("../../../migrations/sqlite/V4__endpoints_by_connection.sql"),
            include_str!("../../../migrations/sqlite/V5__context_keys.sql"),
        ] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 5).unwrap();
        migrate(&mut conn).unwrap();
        let versions: i64 = conn
            .query_row("SELECT count(*) FROM refinery_schema_history", [], |r| r.get(0))
            .unwrap();
        assert_eq!(versions, 8);
        // The later ones ran: their columns exist; and again, nothing is redone.
        conn.execute_batch("SELECT minted, reconnect FROM connections; SELECT app_install FROM endpoints")
            .unwrap();
        migrate(&mut conn).unwrap();
        let store = Store::with_connection(conn, (&[9; 32]).into(), crate::os_entropy).unwrap();
        store
            .save("env", &install("c1", "T1", "xoxb-one"), None, 1)
            .unwrap();
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
