-- Whether this service obtained the connection's token (an OAuth callback)
-- rather than being given it (the API): only its own does it revoke.
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_name = 'cc_connections' AND column_name = 'minted') THEN
        ALTER TABLE cc_connections ADD COLUMN minted BOOLEAN NOT NULL DEFAULT FALSE;
    END IF;
END $$;
