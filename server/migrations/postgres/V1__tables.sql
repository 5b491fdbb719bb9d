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
        UPDATE cc_connections SET context_keys = COALESCE((SELECT string_agg(k, E'\n' ORDER BY k) FROM
            (SELECT key || ':' || (value ->> 'id') AS k FROM jsonb_each(public_json::jsonb -> 'context')) keys), '');
        UPDATE cc_endpoints SET context_keys = COALESCE((SELECT string_agg(k, E'\n' ORDER BY k) FROM
            (SELECT key || ':' || (value ->> 'id') AS k FROM jsonb_each(public_json::jsonb -> 'context')) keys), '');
    END IF;
END $$;
-- Lists walk environments newest first.
CREATE INDEX IF NOT EXISTS cc_connections_created ON cc_connections (environment_id, created_at);
CREATE INDEX IF NOT EXISTS cc_endpoints_created ON cc_endpoints (environment_id, created_at);
-- A connection's endpoints (the list filter).
CREATE INDEX IF NOT EXISTS cc_endpoints_connection ON cc_endpoints (environment_id, connection_identifier);
