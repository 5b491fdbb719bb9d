//! Connections, endpoints and start links in PostgreSQL, shared by every
//! instance: the pool (here), the schema and statements
//! (`statements`), and the records' reads and writes (`records`). Rows are
//! written as the SQLite store writes them (sealed by
//! [`crate::store::seal::Sealer`]); one callback's records in one transaction.

mod app_installs;
mod lists;
mod records;
mod refreshes;
mod rekey;
mod statements;

/// The migrations in `server/migrations/postgres/`, each guarded or
/// idempotent (a database made before they were versioned takes them all).
mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};
use rustls_platform_verifier::BuilderVerifierExt;
use sha2::{Digest, Sha256};
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::StoreError;
use crate::store::seal::{Sealer, TokenKeys};
use statements::{Statements, failed};

/// Connections, endpoints and start links in PostgreSQL, through a pool
/// (`deadpool-postgres`: a request takes whichever connection frees first;
/// a broken one is replaced).
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    sealer: Sealer,
}

/// Connections per instance unless [`PgOptions`] says otherwise.
pub const DEFAULT_POOL_SIZE: usize = 8;

/// Most statements a connection of the pool keeps prepared: the store's
/// own and the lists' most recent texts (a caller's filters give some 1,500).
pub const CACHED_STATEMENTS: usize = 128;

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

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`) and creates the
    /// schema; a pool of [`DEFAULT_POOL_SIZE`] connections. `keys` seal the
    /// tokens ([`TokenKeys`], or one key: `&[u8; 32]`).
    pub async fn connect(
        url: &str,
        keys: impl Into<TokenKeys>,
        entropy: fn(&mut [u8]),
    ) -> Result<PgStore, StoreError> {
        PgStore::connect_with(url, keys, entropy, &PgOptions::default()).await
    }

    /// [`PgStore::connect`] with a pool size and a CA file of one's own.
    pub async fn connect_with(
        url: &str,
        keys: impl Into<TokenKeys>,
        entropy: fn(&mut [u8]),
        options: &PgOptions,
    ) -> Result<PgStore, StoreError> {
        let tls = tls(options.ca_file.as_deref())?;
        let mut client = open(url, &tls).await?;
        // Instances starting together take turns; migrations already applied
        // are not run again (their statements would take table locks).
        client
            .batch_execute("SELECT pg_advisory_lock(7312846001); SET client_min_messages = warning")
            .await
            .map_err(failed("postgres migrate"))?;
        let migrated = embedded::migrations::runner().run_async(&mut client).await;
        client
            .batch_execute("SELECT pg_advisory_unlock(7312846001)")
            .await
            .map_err(failed("postgres migrate"))?;
        migrated.map_err(|e| StoreError::with("postgres migrate", e))?;
        // The schema's client goes; the pool opens its own as they are needed.
        drop(client);
        let pg_config: tokio_postgres::Config = url.parse().map_err(failed("postgres url"))?;
        let manager = Manager::from_config(
            pg_config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(OPERATION_TIMEOUT))
            .create_timeout(Some(OPERATION_TIMEOUT))
            .recycle_timeout(Some(OPERATION_TIMEOUT))
            .build()
            .map_err(|e| StoreError::with("postgres pool", e))?;
        Ok(PgStore {
            pool,
            sealer: Sealer::new(keys, entropy),
        })
    }

    /// How many statements a connection of the pool keeps prepared (at
    /// most [`CACHED_STATEMENTS`]; tests).
    pub async fn cached_statements(&self) -> Result<usize, StoreError> {
        let (client, _) = self.conn().await?;
        Ok(client.statement_cache.size())
    }

    /// A connection of the pool and its statements (prepared once per
    /// connection: an unprepared query costs a second round trip each time).
    async fn conn(&self) -> Result<(Object, Statements), StoreError> {
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| StoreError::with("postgres connect", e))?;
        let statements = Statements::prepare(&client).await?;
        Ok((client, statements))
    }
}

/// A row's public JSON as its record.
fn decode<T: serde::de::DeserializeOwned>(public: &str) -> Result<T, StoreError> {
    serde_json::from_str(public).map_err(|e| StoreError::with("decode", e))
}

impl crate::store::Ready for PgStore {
    fn ready(&self) -> crate::store::StoreFuture<'_, ()> {
        Box::pin(bounded(async move {
            let (client, _) = self.conn().await?;
            client
                .simple_query("SELECT 1")
                .await
                .map_err(failed("postgres ping"))?;
            Ok(())
        }))
    }
}
