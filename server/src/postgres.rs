//! Connections, endpoints and start URLs in PostgreSQL, shared by every
//! instance. Rows are written as the SQLite store writes them (sealed by
//! [`crate::seal::Sealer`]); one callback's records in one transaction.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use channel_connect::records::{ChannelConnectionRecord, ChannelEndpointRecord, StoredRecords};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::time::Duration;

use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};
use tokio_postgres::{Client, NoTls, Transaction};

use crate::seal::{Sealer, relinked};
use crate::stores::{Filter, Listing, Records, StoreError, StoreFuture};

/// The schema, created under an advisory lock so instances starting
/// together do not race.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cc_connections (
    environment_id TEXT NOT NULL,
    identifier TEXT NOT NULL,
    integration_identifier TEXT NOT NULL,
    subscriber_id TEXT,
    natural_key BYTEA NOT NULL,
    public_json TEXT NOT NULL,
    sealed BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    seq BIGSERIAL,
    PRIMARY KEY (environment_id, identifier)
);
CREATE INDEX IF NOT EXISTS cc_connections_natural ON cc_connections (environment_id, natural_key);
CREATE TABLE IF NOT EXISTS cc_endpoints (
    environment_id TEXT NOT NULL,
    identifier TEXT NOT NULL,
    integration_identifier TEXT NOT NULL,
    subscriber_id TEXT NOT NULL,
    connection_identifier TEXT,
    natural_key BYTEA NOT NULL,
    public_json TEXT NOT NULL,
    sealed BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    seq BIGSERIAL,
    PRIMARY KEY (environment_id, identifier),
    UNIQUE (environment_id, natural_key)
);
CREATE TABLE IF NOT EXISTS cc_starts (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    cookie TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
";

/// A small pool of PostgreSQL connections, each opened again on its next
/// use after it breaks.
#[derive(Clone)]
pub struct PgStore {
    url: Arc<str>,
    slots: Arc<[Mutex<Option<Client>>]>,
    next: Arc<AtomicUsize>,
    sealer: Sealer,
}

/// Connections per instance unless [`PgStore::connect_pooled`] says otherwise.
pub const DEFAULT_POOL_SIZE: usize = 8;

/// How long one store operation may take, connecting included.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: not kept.
        f.write_str("PgStore { .. }")
    }
}

/// Opens one connection, its driver task spawned.
async fn open(url: &str) -> Result<Client, StoreError> {
    let connecting = tokio_postgres::connect(url, NoTls);
    let (client, connection) = tokio::time::timeout(OPERATION_TIMEOUT, connecting)
        .await
        .map_err(|_| StoreError("postgres connect"))?
        .map_err(failed("postgres connect"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::error!(error = %e, "postgres connection ended");
        }
    });
    Ok(client)
}

/// Bounds an operation: a store that hangs is a store that failed.
async fn bounded<T>(op: impl std::future::Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    tokio::time::timeout(OPERATION_TIMEOUT, op)
        .await
        .map_err(|_| StoreError("postgres timeout"))?
}

/// Serializes the transactions that write one natural key (two callbacks
/// for one workspace at once, on a pool or on two instances): the second
/// finds the first's row instead of adding a second one.
async fn lock_key(tx: &Transaction<'_>, env: &str, natural_key: &[u8]) -> Result<(), StoreError> {
    let mut h = Sha256::new();
    h.update(env.as_bytes());
    h.update([0]);
    h.update(natural_key);
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&i64::from_be_bytes(first)])
        .await
        .map_err(failed("lock key"))?;
    Ok(())
}

fn failed(what: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |_| StoreError(what)
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`) and creates the
    /// schema; a pool of [`DEFAULT_POOL_SIZE`] connections.
    pub async fn connect(
        url: &str,
        token_key: &[u8; 32],
        entropy: fn(&mut [u8]),
    ) -> Result<PgStore, StoreError> {
        PgStore::connect_pooled(url, token_key, entropy, DEFAULT_POOL_SIZE).await
    }

    /// [`PgStore::connect`] with `size` connections (at least one); the
    /// others open on first use.
    pub async fn connect_pooled(
        url: &str,
        token_key: &[u8; 32],
        entropy: fn(&mut [u8]),
        size: usize,
    ) -> Result<PgStore, StoreError> {
        let mut client = open(url).await?;
        let tx = client.transaction().await.map_err(failed("postgres migrate"))?;
        tx.execute("SELECT pg_advisory_xact_lock(7312846001)", &[])
            .await
            .map_err(failed("postgres migrate"))?;
        tx.batch_execute(SCHEMA)
            .await
            .map_err(failed("postgres migrate"))?;
        tx.commit().await.map_err(failed("postgres migrate"))?;
        let mut slots: Vec<Mutex<Option<Client>>> = (0..size.max(1)).map(|_| Mutex::new(None)).collect();
        slots[0] = Mutex::new(Some(client));
        Ok(PgStore {
            url: url.into(),
            slots: slots.into(),
            next: Arc::new(AtomicUsize::new(0)),
            sealer: Sealer::new(token_key, entropy),
        })
    }

    /// A connection of the pool: the first idle one from a rotating start,
    /// else a wait for that one; opened again first when it broke.
    async fn client(&self) -> Result<MappedMutexGuard<'_, Client>, StoreError> {
        let n = self.slots.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let idle = (0..n).find_map(|i| self.slots[(start + i) % n].try_lock().ok());
        let mut guard = match idle {
            Some(g) => g,
            None => self.slots[start].lock().await,
        };
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = None;
            *guard = Some(open(&self.url).await?);
        }
        MutexGuard::try_map(guard, Option::as_mut).map_err(|_| StoreError("postgres connect"))
    }

    async fn save_connection(
        &self,
        tx: &Transaction<'_>,
        env: &str,
        c: &ChannelConnectionRecord,
        now: i64,
    ) -> Result<String, StoreError> {
        let natural = Sealer::connection_key(c)?;
        lock_key(tx, env, &natural).await?;
        let by_id = tx
            .query_opt(
                "SELECT identifier FROM cc_connections WHERE environment_id = $1 AND identifier = $2",
                &[&env, &c.identifier],
            )
            .await
            .map_err(failed("find connection"))?;
        let existing = match by_id {
            Some(row) => Some(row.get::<_, String>(0)),
            None => tx
                .query_opt(
                    "SELECT identifier FROM cc_connections WHERE environment_id = $1 AND natural_key = $2",
                    &[&env, &natural],
                )
                .await
                .map_err(failed("find connection"))?
                .map(|row| row.get::<_, String>(0)),
        };
        let row = self
            .sealer
            .connection_row(env, c, existing.as_deref().unwrap_or(&c.identifier))?;
        tx.execute(
            "INSERT INTO cc_connections (environment_id, identifier, integration_identifier, subscriber_id,
                 natural_key, public_json, sealed, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
             ON CONFLICT (environment_id, identifier) DO UPDATE SET
                 integration_identifier = excluded.integration_identifier, subscriber_id = excluded.subscriber_id,
                 natural_key = excluded.natural_key, public_json = excluded.public_json,
                 sealed = excluded.sealed, updated_at = excluded.updated_at",
            &[
                &env,
                &row.identifier,
                &c.integration_identifier,
                &c.subscriber_id,
                &row.natural_key,
                &row.public_json,
                &row.sealed,
                &now,
            ],
        )
        .await
        .map_err(failed("write connection"))?;
        Ok(row.identifier)
    }

    async fn save_endpoint(
        &self,
        tx: &Transaction<'_>,
        env: &str,
        e: &ChannelEndpointRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        let natural = Sealer::endpoint_key(e)?;
        lock_key(tx, env, &natural).await?;
        let existing = tx
            .query_opt(
                "SELECT identifier FROM cc_endpoints WHERE environment_id = $1 AND natural_key = $2",
                &[&env, &natural],
            )
            .await
            .map_err(failed("find endpoint"))?
            .map(|row| row.get::<_, String>(0));
        let row = self.sealer.endpoint_row(env, e, existing)?;
        tx.execute(
            "INSERT INTO cc_endpoints (environment_id, identifier, integration_identifier, subscriber_id,
                 connection_identifier, natural_key, public_json, sealed, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
             ON CONFLICT (environment_id, identifier) DO UPDATE SET
                 public_json = excluded.public_json, sealed = excluded.sealed, updated_at = excluded.updated_at",
            &[
                &env,
                &row.identifier,
                &e.integration_identifier,
                &e.subscriber_id,
                &e.connection_identifier,
                &row.natural_key,
                &row.public_json,
                &row.sealed,
                &now,
            ],
        )
        .await
        .map_err(failed("write endpoint"))?;
        Ok(())
    }
}

impl Records for PgStore {
    fn save<'a>(
        &'a self,
        env: &'a str,
        records: &'a StoredRecords,
        now: i64,
    ) -> StoreFuture<'a, Option<String>> {
        Box::pin(bounded(async move {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(failed("begin"))?;
            let mut stored = None;
            if let Some(c) = &records.connection {
                stored = Some(self.save_connection(&tx, env, c, now).await?);
            }
            for e in &records.endpoints {
                let e = relinked(e, stored.as_deref());
                self.save_endpoint(&tx, env, &e, now).await?;
            }
            // Dropped without commit on any error above: nothing half-written.
            tx.commit().await.map_err(failed("commit"))?;
            Ok(stored)
        }))
    }

    fn list<'a>(&'a self, what: Listing, env: &'a str, f: &'a Filter) -> StoreFuture<'a, Vec<Value>> {
        Box::pin(bounded(async move {
            let sql = match what {
                Listing::Connections => {
                    "SELECT public_json FROM cc_connections WHERE environment_id = $1
                         AND ($2::text IS NULL OR subscriber_id = $2) AND ($3::text IS NULL OR identifier = $3)
                         AND ($4::text IS NULL OR integration_identifier = $4)
                     ORDER BY created_at, seq LIMIT $5 OFFSET $6"
                }
                Listing::Endpoints => {
                    "SELECT public_json FROM cc_endpoints WHERE environment_id = $1
                         AND ($2::text IS NULL OR subscriber_id = $2)
                         AND ($3::text IS NULL OR connection_identifier = $3)
                         AND ($4::text IS NULL OR integration_identifier = $4)
                     ORDER BY created_at, seq LIMIT $5 OFFSET $6"
                }
            };
            let client = self.client().await?;
            let rows = client
                .query(
                    sql,
                    &[
                        &env,
                        &f.subscriber_id,
                        &f.connection_identifier,
                        &f.integration_identifier,
                        &f.limit,
                        &f.offset,
                    ],
                )
                .await
                .map_err(failed("list"))?;
            rows.iter()
                .map(|r| serde_json::from_str(r.get::<_, &str>(0)).map_err(|_| StoreError("decode")))
                .collect()
        }))
    }

    fn save_start<'a>(
        &'a self,
        id: &'a str,
        url: &'a str,
        cookie: &'a str,
        expires_at: i64,
    ) -> StoreFuture<'a, ()> {
        Box::pin(bounded(async move {
            let client = self.client().await?;
            client
                .execute(
                    "INSERT INTO cc_starts (id, url, cookie, expires_at) VALUES ($1, $2, $3, $4)",
                    &[&id, &url, &cookie, &expires_at],
                )
                .await
                .map_err(failed("starts"))?;
            Ok(())
        }))
    }

    fn take_start<'a>(&'a self, id: &'a str, now: i64) -> StoreFuture<'a, Option<(String, String)>> {
        Box::pin(bounded(async move {
            let client = self.client().await?;
            client
                .execute("DELETE FROM cc_starts WHERE expires_at < $1", &[&now])
                .await
                .map_err(failed("starts"))?;
            let row = client
                .query_opt(
                    "DELETE FROM cc_starts WHERE id = $1 RETURNING url, cookie",
                    &[&id],
                )
                .await
                .map_err(failed("starts"))?;
            Ok(row.map(|r| (r.get(0), r.get(1))))
        }))
    }
}
