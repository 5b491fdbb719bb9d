//! The schema and every statement the PostgreSQL store runs, prepared
//! once per pooled connection.

use deadpool_postgres::ClientWrapper;
use tokio_postgres::Statement;

use crate::store::StoreError;

/// Answers a row when the schema is current: the column the last change
/// below adds (move it with each change).
pub(super) const SCHEMA_MARK: &str = "SELECT 1 FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name = 'cc_connections' AND column_name = 'minted'";

/// The schema, created under an advisory lock so instances starting
/// together do not race.
pub(super) const SCHEMA: &str = "
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
-- Novu's contextKeys filter: the context's type:id keys, sorted, one per line
-- (added, and filled in for the rows before it, once).
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_name = 'cc_connections' AND column_name = 'context_keys') THEN
        ALTER TABLE cc_connections ADD COLUMN context_keys TEXT NOT NULL DEFAULT '';
        ALTER TABLE cc_endpoints ADD COLUMN context_keys TEXT NOT NULL DEFAULT '';
        UPDATE cc_connections SET context_keys = COALESCE((SELECT string_agg(k, E'\\n' ORDER BY k) FROM
            (SELECT key || ':' || (value ->> 'id') AS k FROM jsonb_each(public_json::jsonb -> 'context')) keys), '');
        UPDATE cc_endpoints SET context_keys = COALESCE((SELECT string_agg(k, E'\\n' ORDER BY k) FROM
            (SELECT key || ':' || (value ->> 'id') AS k FROM jsonb_each(public_json::jsonb -> 'context')) keys), '');
    END IF;
END $$;
-- Lists walk environments newest first.
CREATE INDEX IF NOT EXISTS cc_connections_created ON cc_connections (environment_id, created_at);
CREATE INDEX IF NOT EXISTS cc_endpoints_created ON cc_endpoints (environment_id, created_at);
-- A connection's endpoints (the list filter).
CREATE INDEX IF NOT EXISTS cc_endpoints_connection ON cc_endpoints (environment_id, connection_identifier);
-- Each later change runs once, guarded by a look at the catalog: an ALTER
-- TABLE takes the table's exclusive lock even when it has nothing to do,
-- and would queue every instance's writes behind each start.
-- Token refreshes: when a connection's tokens expire (if they can be
-- refreshed), the lease of the one refresher at a time across instances,
-- and why the connection must be connected again when its tokens stopped working.
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_name = 'cc_connections' AND column_name = 'refreshable_until') THEN
        ALTER TABLE cc_connections ADD COLUMN refreshable_until BIGINT;
        ALTER TABLE cc_connections ADD COLUMN lease_holder TEXT;
        ALTER TABLE cc_connections ADD COLUMN lease_until BIGINT;
        ALTER TABLE cc_connections ADD COLUMN reconnect TEXT;
        CREATE INDEX cc_connections_refreshable ON cc_connections (refreshable_until)
            WHERE refreshable_until IS NOT NULL;
    END IF;
END $$;
-- The Teams app's installation for a linked Teams user: its status, the
-- attempts so far, and when the next one is due (pending only).
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_name = 'cc_endpoints' AND column_name = 'app_install') THEN
        ALTER TABLE cc_endpoints ADD COLUMN app_install TEXT;
        ALTER TABLE cc_endpoints ADD COLUMN app_install_attempts BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE cc_endpoints ADD COLUMN app_install_next BIGINT;
        CREATE INDEX cc_endpoints_app_install_due ON cc_endpoints (app_install_next)
            WHERE app_install = 'pending';
    END IF;
END $$;
-- Whether this service obtained the connection's token (an OAuth callback)
-- rather than being given it (the API): only its own does it revoke.
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_name = 'cc_connections' AND column_name = 'minted') THEN
        ALTER TABLE cc_connections ADD COLUMN minted BOOLEAN NOT NULL DEFAULT FALSE;
    END IF;
END $$;
";

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
