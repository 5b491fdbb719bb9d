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
