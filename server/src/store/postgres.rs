//! Connections, endpoints and start URLs in PostgreSQL, shared by every
//! instance. Rows are written as the SQLite store writes them (sealed by
//! [`crate::store::seal::Sealer`]); one callback's records in one transaction.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use channel_connect::records::{ChannelConnectionRecord, StoredRecords};
use sha2::{Digest, Sha256};
use std::time::Duration;

use futures_util::future::try_join_all;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};
use rustls_platform_verifier::BuilderVerifierExt;
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement, Transaction};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::ownership::{self, Conflict};
use crate::store::seal::{Row, Sealer, relinked};
use crate::store::{
    ConnectionRow, Connections, EndpointRow, Endpoints, Filter, Saved, StartLink, StartLinks, StoreError,
    StoreFuture,
};

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
-- Purged on every start request (unauthenticated): by index, not by scanning.
CREATE INDEX IF NOT EXISTS cc_starts_expiry ON cc_starts (expires_at);
-- A connection's endpoints (the list filter).
CREATE INDEX IF NOT EXISTS cc_endpoints_connection ON cc_endpoints (environment_id, connection_identifier);
";

/// A small pool of PostgreSQL connections, each opened again on its next
/// use after it breaks.
#[derive(Clone)]
pub struct PgStore {
    url: Arc<str>,
    tls: MakeRustlsConnect,
    slots: Arc<[Mutex<Option<Conn>>]>,
    next: Arc<AtomicUsize>,
    sealer: Sealer,
}

/// One pooled connection and its statements, prepared once on first use
/// (an unprepared query costs a second round trip each time).
struct Conn {
    client: Client,
    statements: Option<Arc<Statements>>,
}

/// Every statement the store runs (see their SQL below).
struct Statements {
    lock: Statement,
    connection_by_id: Statement,
    connection_by_key: Statement,
    upsert_connection: Statement,
    endpoint_by_key: Statement,
    upsert_endpoint: Statement,
    list_connections: Statement,
    list_endpoints: Statement,
    insert_start: Statement,
    purge_starts: Statement,
    take_start: Statement,
}

impl Statements {
    async fn prepare(c: &Client) -> Result<Statements, StoreError> {
        let p = |sql: &'static str| async move { c.prepare(sql).await.map_err(failed("prepare")) };
        Ok(Statements {
            lock: p("SELECT pg_advisory_xact_lock($1)").await?,
            connection_by_id: p(
                "SELECT public_json FROM cc_connections WHERE environment_id = $1 AND identifier = $2",
            )
            .await?,
            connection_by_key: p(
                // A host reusing identifiers can give two rows one key: the oldest answers.
                "SELECT identifier FROM cc_connections WHERE environment_id = $1 AND natural_key = $2
                 ORDER BY created_at, seq LIMIT 1",
            )
            .await?,
            upsert_connection: p(
                "INSERT INTO cc_connections (environment_id, identifier, integration_identifier, subscriber_id,
                     natural_key, public_json, sealed, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
                 ON CONFLICT (environment_id, identifier) DO UPDATE SET
                     integration_identifier = excluded.integration_identifier, subscriber_id = excluded.subscriber_id,
                     natural_key = excluded.natural_key, public_json = excluded.public_json,
                     sealed = excluded.sealed, updated_at = excluded.updated_at",
            )
            .await?,
            endpoint_by_key: p(
                "SELECT identifier FROM cc_endpoints WHERE environment_id = $1 AND natural_key = $2",
            )
            .await?,
            upsert_endpoint: p(
                "INSERT INTO cc_endpoints (environment_id, identifier, integration_identifier, subscriber_id,
                     connection_identifier, natural_key, public_json, sealed, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
                 ON CONFLICT (environment_id, identifier) DO UPDATE SET
                     public_json = excluded.public_json, sealed = excluded.sealed, updated_at = excluded.updated_at",
            )
            .await?,
            list_connections: p(
                "SELECT public_json, created_at, updated_at FROM cc_connections WHERE environment_id = $1
                     AND ($2::text IS NULL OR subscriber_id = $2) AND ($3::text IS NULL OR identifier = $3)
                     AND ($4::text IS NULL OR integration_identifier = $4)
                 ORDER BY created_at, seq LIMIT $5 OFFSET $6",
            )
            .await?,
            list_endpoints: p(
                "SELECT identifier, public_json, created_at, updated_at FROM cc_endpoints WHERE environment_id = $1
                     AND ($2::text IS NULL OR subscriber_id = $2)
                     AND ($3::text IS NULL OR connection_identifier = $3)
                     AND ($4::text IS NULL OR integration_identifier = $4)
                 ORDER BY created_at, seq LIMIT $5 OFFSET $6",
            )
            .await?,
            insert_start: p("INSERT INTO cc_starts (id, url, cookie, expires_at) VALUES ($1, $2, $3, $4)")
                .await?,
            purge_starts: p("DELETE FROM cc_starts WHERE expires_at < $1").await?,
            take_start: p("DELETE FROM cc_starts WHERE id = $1 RETURNING url, cookie").await?,
        })
    }
}

/// Connections per instance unless [`PgOptions`] says otherwise.
pub const DEFAULT_POOL_SIZE: usize = 8;

/// How the store reaches PostgreSQL, besides its URL.
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// Connections in the pool (at least one; the others open on first use).
    pub pool_size: usize,
    /// A PEM file of the CA certificates that sign the server's certificate
    /// (else the system's trust store).
    pub ca_file: Option<PathBuf>,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            pool_size: DEFAULT_POOL_SIZE,
            ca_file: None,
        }
    }
}

/// One statement's parameters.
type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// How long one store operation may take, connecting included.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: not kept.
        f.write_str("PgStore { .. }")
    }
}

/// Opens one connection, its driver task spawned.
async fn open(url: &str, tls: &MakeRustlsConnect) -> Result<Client, StoreError> {
    let connecting = tokio_postgres::connect(url, tls.clone());
    let (client, connection) = tokio::time::timeout(OPERATION_TIMEOUT, connecting)
        .await
        .map_err(|e| StoreError::with("postgres connect", e))?
        .map_err(failed("postgres connect"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::error!(error = %e, "postgres connection ended");
        }
    });
    Ok(client)
}

/// TLS to PostgreSQL (used as the URL's `sslmode` says; `require` in
/// production): the server's certificate is verified against `ca_file`'s
/// certificates, else the system's trust store.
fn tls(ca_file: Option<&Path>) -> Result<MakeRustlsConnect, StoreError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::with("postgres tls", e))?;
    let config = match ca_file {
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for cert in
                CertificateDer::pem_file_iter(path).map_err(|e| StoreError::with("postgres ca file", e))?
            {
                roots
                    .add(cert.map_err(|e| StoreError::with("postgres ca file", e))?)
                    .map_err(|e| StoreError::with("postgres ca file", e))?;
            }
            if roots.is_empty() {
                return Err(StoreError::new("postgres ca file"));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => builder
            .with_platform_verifier()
            .map_err(|e| StoreError::with("postgres tls", e))?
            .with_no_client_auth(),
    };
    Ok(MakeRustlsConnect::new(config))
}

/// Bounds an operation: a store that hangs is a store that failed.
async fn bounded<T>(op: impl std::future::Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    tokio::time::timeout(OPERATION_TIMEOUT, op)
        .await
        .map_err(|e| StoreError::with("postgres timeout", e))?
}

/// The advisory lock of one natural key: transactions that write the same
/// key (two callbacks for one workspace at once, on a pool or on two
/// instances) run one after the other, and the second finds the first's row.
fn lock_id(env: &str, natural_key: &[u8]) -> i64 {
    let mut h = Sha256::new();
    h.update(env.as_bytes());
    h.update([0]);
    h.update(natural_key);
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

fn failed(what: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |e| StoreError::with(what, e)
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`) and creates the
    /// schema; a pool of [`DEFAULT_POOL_SIZE`] connections.
    pub async fn connect(
        url: &str,
        token_key: &[u8; 32],
        entropy: fn(&mut [u8]),
    ) -> Result<PgStore, StoreError> {
        PgStore::connect_with(url, token_key, entropy, &PgOptions::default()).await
    }

    /// [`PgStore::connect`] with a pool size and a CA file of one's own.
    pub async fn connect_with(
        url: &str,
        token_key: &[u8; 32],
        entropy: fn(&mut [u8]),
        options: &PgOptions,
    ) -> Result<PgStore, StoreError> {
        let tls = tls(options.ca_file.as_deref())?;
        let mut client = open(url, &tls).await?;
        let tx = client.transaction().await.map_err(failed("postgres migrate"))?;
        tx.execute("SELECT pg_advisory_xact_lock(7312846001)", &[])
            .await
            .map_err(failed("postgres migrate"))?;
        tx.batch_execute(SCHEMA)
            .await
            .map_err(failed("postgres migrate"))?;
        tx.commit().await.map_err(failed("postgres migrate"))?;
        let size = options.pool_size.max(1);
        let mut slots: Vec<Mutex<Option<Conn>>> = (0..size).map(|_| Mutex::new(None)).collect();
        slots[0] = Mutex::new(Some(Conn {
            client,
            statements: None,
        }));
        Ok(PgStore {
            url: url.into(),
            tls,
            slots: slots.into(),
            next: Arc::new(AtomicUsize::new(0)),
            sealer: Sealer::new(token_key, entropy),
        })
    }

    /// A connection of the pool and its statements: the first idle one
    /// from a rotating start, else a wait for that one; opened again first
    /// when it broke.
    async fn conn(&self) -> Result<(MappedMutexGuard<'_, Client>, Arc<Statements>), StoreError> {
        let n = self.slots.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let idle = (0..n).find_map(|i| self.slots[(start + i) % n].try_lock().ok());
        let mut guard = match idle {
            Some(g) => g,
            None => self.slots[start].lock().await,
        };
        if guard.as_ref().is_none_or(|c| c.client.is_closed()) {
            *guard = None;
            let client = open(&self.url, &self.tls).await?;
            *guard = Some(Conn {
                client,
                statements: None,
            });
        }
        let conn = guard.as_mut().ok_or(StoreError::new("postgres connect"))?;
        let statements = match &conn.statements {
            Some(s) => s.clone(),
            None => {
                let s = Arc::new(Statements::prepare(&conn.client).await?);
                conn.statements = Some(s.clone());
                s
            }
        };
        let client = MutexGuard::try_map(guard, |c| c.as_mut().map(|c| &mut c.client))
            .map_err(|_| StoreError::new("postgres connect"))?;
        Ok((client, statements))
    }

    /// The row a connection is written to: under its own identifier (when
    /// the stored one there is re-installed), else the one stored for its
    /// natural key, else its own; after the locks of both.
    async fn connection_row(
        &self,
        tx: &Transaction<'_>,
        st: &Statements,
        env: &str,
        c: &ChannelConnectionRecord,
    ) -> Result<Result<Row, Conflict>, StoreError> {
        let natural = Sealer::connection_key(c)?;
        // The identifier's lock first, then the key's (every save in this
        // order): two saves naming one identifier from two workspaces run
        // one after the other, and the second sees the first's row.
        let id_lock = lock_id(env, &[b"identifier\0", c.identifier.as_bytes()].concat());
        let key_lock = lock_id(env, &natural);
        let (p_id_lock, p_key_lock, p_id, p_key): (Params, Params, Params, Params) = (
            &[&id_lock],
            &[&key_lock],
            &[&env, &c.identifier],
            &[&env, &natural],
        );
        // Pipelined: the server runs them in order, so both reads come after the locks.
        let (_, _, by_id, by_key) = tokio::try_join!(
            tx.execute(&st.lock, p_id_lock),
            tx.execute(&st.lock, p_key_lock),
            tx.query_opt(&st.connection_by_id, p_id),
            tx.query_opt(&st.connection_by_key, p_key),
        )
        .map_err(failed("find connection"))?;
        let existing = match by_id {
            Some(row) => match ownership::check_public(row.get::<_, &str>(0), c) {
                Ok(()) => c.identifier.clone(),
                Err(conflict) => return Ok(Err(conflict)),
            },
            None => by_key.map_or_else(|| c.identifier.clone(), |row| row.get::<_, String>(0)),
        };
        self.sealer.connection_row(env, c, &existing).map(Ok)
    }

    /// An endpoint's existing identifier, after its natural key's lock.
    async fn endpoint_identifier(
        tx: &Transaction<'_>,
        st: &Statements,
        env: &str,
        natural: &[u8],
    ) -> Result<Option<String>, StoreError> {
        let lock = lock_id(env, natural);
        let (p_lock, p_key): (Params, Params) = (&[&lock], &[&env, &natural]);
        let (_, found) = tokio::try_join!(
            tx.execute(&st.lock, p_lock),
            tx.query_opt(&st.endpoint_by_key, p_key),
        )
        .map_err(failed("find endpoint"))?;
        Ok(found.map(|row| row.get::<_, String>(0)))
    }
}

impl Connections for PgStore {
    fn save<'a>(&'a self, env: &'a str, records: &'a StoredRecords, now: i64) -> StoreFuture<'a, Saved> {
        // Five round trips whatever the records: begin; the connection's
        // lookup; its write with every endpoint's lookup; the endpoints'
        // writes; commit.
        Box::pin(bounded(async move {
            let (mut client, st) = self.conn().await?;
            let tx = client.transaction().await.map_err(failed("begin"))?;
            let connection = match &records.connection {
                Some(c) => match self.connection_row(&tx, &st, env, c).await? {
                    Ok(row) => Some((c, row)),
                    // Dropped without commit: nothing written.
                    Err(conflict) => return Ok(Saved::Refused(conflict)),
                },
                None => None,
            };
            let stored = connection.as_ref().map(|(_, row)| row.identifier.clone());
            let mut keyed = records
                .endpoints
                .iter()
                .map(|e| {
                    let e = relinked(e, stored.as_deref());
                    Ok((Sealer::endpoint_key(&e)?, e))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            // Locks in key order: two saves of the same endpoints cannot deadlock.
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            let (keys, endpoints): (Vec<_>, Vec<_>) = keyed.into_iter().unzip();
            let write_connection = async {
                let Some((c, row)) = &connection else {
                    return Ok(());
                };
                let params: [&(dyn ToSql + Sync); 8] = [
                    &env,
                    &row.identifier,
                    &c.integration_identifier,
                    &c.subscriber_id,
                    &row.natural_key,
                    &row.public_json,
                    &row.sealed,
                    &now,
                ];
                tx.execute(&st.upsert_connection, &params)
                    .await
                    .map(drop)
                    .map_err(failed("write connection"))
            };
            let lookups = try_join_all(
                keys.iter()
                    .map(|k| PgStore::endpoint_identifier(&tx, &st, env, k)),
            );
            let ((), existing) = tokio::try_join!(write_connection, lookups)?;
            let rows = endpoints
                .iter()
                .zip(existing)
                .map(|(e, id)| Ok((e, self.sealer.endpoint_row(env, e, id)?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            let params: Vec<[&(dyn ToSql + Sync); 9]> = rows
                .iter()
                .map(|(e, row)| {
                    [
                        &env as &(dyn ToSql + Sync),
                        &row.identifier,
                        &e.integration_identifier,
                        &e.subscriber_id,
                        &e.connection_identifier,
                        &row.natural_key,
                        &row.public_json,
                        &row.sealed,
                        &now,
                    ]
                })
                .collect();
            try_join_all(params.iter().map(|p| tx.execute(&st.upsert_endpoint, p)))
                .await
                .map_err(failed("write endpoint"))?;
            // Dropped without commit on any error above: nothing half-written.
            tx.commit().await.map_err(failed("commit"))?;
            Ok(Saved::Stored(stored))
        }))
    }

    fn list_connections<'a>(&'a self, env: &'a str, f: &'a Filter) -> StoreFuture<'a, Vec<ConnectionRow>> {
        Box::pin(bounded(async move {
            let (client, st) = self.conn().await?;
            let rows = client
                .query(&st.list_connections, &filter_params(&env, f))
                .await
                .map_err(failed("list"))?;
            rows.iter()
                .map(|r| {
                    Ok(ConnectionRow {
                        connection: decode(r.get(0))?,
                        created_at: r.get(1),
                        updated_at: r.get(2),
                    })
                })
                .collect()
        }))
    }
}

impl Endpoints for PgStore {
    fn list_endpoints<'a>(&'a self, env: &'a str, f: &'a Filter) -> StoreFuture<'a, Vec<EndpointRow>> {
        Box::pin(bounded(async move {
            let (client, st) = self.conn().await?;
            let rows = client
                .query(&st.list_endpoints, &filter_params(&env, f))
                .await
                .map_err(failed("list"))?;
            rows.iter()
                .map(|r| {
                    Ok(EndpointRow {
                        identifier: r.get(0),
                        endpoint: decode(r.get(1))?,
                        created_at: r.get(2),
                        updated_at: r.get(3),
                    })
                })
                .collect()
        }))
    }
}

impl StartLinks for PgStore {
    fn save_start<'a>(&'a self, id: &'a str, link: &'a StartLink, expires_at: i64) -> StoreFuture<'a, ()> {
        Box::pin(bounded(async move {
            let (client, st) = self.conn().await?;
            client
                .execute(&st.insert_start, &[&id, &link.url, &link.cookie, &expires_at])
                .await
                .map_err(failed("starts"))?;
            Ok(())
        }))
    }

    fn take_start<'a>(&'a self, id: &'a str, now: i64) -> StoreFuture<'a, Option<StartLink>> {
        Box::pin(bounded(async move {
            let (client, st) = self.conn().await?;
            client
                .execute(&st.purge_starts, &[&now])
                .await
                .map_err(failed("starts"))?;
            let row = client
                .query_opt(&st.take_start, &[&id])
                .await
                .map_err(failed("starts"))?;
            Ok(row.map(|r| StartLink {
                url: r.get(0),
                cookie: r.get(1),
            }))
        }))
    }
}

/// The list statements' parameters, in their order.
fn filter_params<'a>(env: &'a &'a str, f: &'a Filter) -> [&'a (dyn ToSql + Sync); 6] {
    [
        env as &(dyn ToSql + Sync),
        &f.subscriber_id,
        &f.connection_identifier,
        &f.integration_identifier,
        &f.limit,
        &f.offset,
    ]
}

/// A row's public JSON as its record.
fn decode<T: serde::de::DeserializeOwned>(public: &str) -> Result<T, StoreError> {
    serde_json::from_str(public).map_err(|e| StoreError::with("decode", e))
}
