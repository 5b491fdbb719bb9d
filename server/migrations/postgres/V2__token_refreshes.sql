-- Guarded by a look at the catalog (as every change after V1): a database
-- made before the migrations were versioned has it already.
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
