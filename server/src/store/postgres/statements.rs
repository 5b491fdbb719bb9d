//! Every statement the PostgreSQL store runs, prepared once per pooled
//! connection (the schema is in `server/migrations/postgres/`).

use deadpool_postgres::ClientWrapper;
use tokio_postgres::Statement;

use crate::store::StoreError;

/// Every statement the store runs (see their SQL below).
pub(super) struct Statements {
    pub(super) lock: Statement,
    pub(super) connection_by_id: Statement,
    pub(super) connection_by_key: Statement,
    pub(super) upsert_connection: Statement,
    pub(super) endpoint_by_key: Statement,
    pub(super) upsert_endpoint: Statement,
    pub(super) insert_start: Statement,
    pub(super) purge_starts: Statement,
    pub(super) take_start: Statement,
}

impl Statements {
    /// The statements on `c`, from its cache after the first time.
    pub(super) async fn prepare(c: &ClientWrapper) -> Result<Statements, StoreError> {
        let p = |sql: &'static str| async move { c.prepare_cached(sql).await.map_err(failed("prepare")) };
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
                // A re-install brings working tokens: no reconnection needed any more.
                "INSERT INTO cc_connections (environment_id, identifier, integration_identifier, subscriber_id,
                     natural_key, public_json, sealed, created_at, updated_at, context_keys, refreshable_until, minted)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, TRUE)
                 ON CONFLICT (environment_id, identifier) DO UPDATE SET
                     integration_identifier = excluded.integration_identifier, subscriber_id = excluded.subscriber_id,
                     natural_key = excluded.natural_key, public_json = excluded.public_json,
                     sealed = excluded.sealed, updated_at = excluded.updated_at, context_keys = excluded.context_keys,
                     refreshable_until = excluded.refreshable_until, reconnect = NULL, minted = TRUE",
            )
            .await?,
            endpoint_by_key: p(
                "SELECT identifier FROM cc_endpoints WHERE environment_id = $1 AND natural_key = $2",
            )
            .await?,
            upsert_endpoint: p(
                // A linked Teams user's app installation: due now when there was
                // none or it failed; else kept as it is (installed, or pending:
                // an attempt may hold it).
                "INSERT INTO cc_endpoints (environment_id, identifier, integration_identifier, subscriber_id,
                     connection_identifier, natural_key, public_json, sealed, created_at, updated_at, context_keys,
                     app_install, app_install_next)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11::TEXT,
                     CASE WHEN $11::TEXT IS NULL THEN NULL ELSE $9::BIGINT END)
                 ON CONFLICT (environment_id, identifier) DO UPDATE SET
                     public_json = excluded.public_json, sealed = excluded.sealed, updated_at = excluded.updated_at,
                     context_keys = excluded.context_keys,
                 app_install = CASE WHEN COALESCE(cc_endpoints.app_install, 'failed') <> 'failed' THEN cc_endpoints.app_install
                     ELSE excluded.app_install END,
                 app_install_attempts = CASE WHEN COALESCE(cc_endpoints.app_install, 'failed') <> 'failed'
                     THEN cc_endpoints.app_install_attempts ELSE 0 END,
                 app_install_next = CASE WHEN COALESCE(cc_endpoints.app_install, 'failed') <> 'failed'
                     THEN cc_endpoints.app_install_next ELSE excluded.app_install_next END",
            )
            .await?,
            insert_start: p("INSERT INTO cc_starts (id, url, cookie, expires_at) VALUES ($1, $2, $3, $4)")
                .await?,
            purge_starts: p("DELETE FROM cc_starts WHERE expires_at < $1").await?,
            take_start: p("DELETE FROM cc_starts WHERE id = $1 RETURNING url, cookie").await?,
        })
    }
}

/// A PostgreSQL failure of `what`, its error kept.
pub(super) fn failed(what: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |e| StoreError::with(what, e)
}
