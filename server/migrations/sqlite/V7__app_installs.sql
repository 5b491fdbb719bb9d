-- The Teams app's installation for a linked Teams user: its status, the
-- attempts so far, and when the next one is due (pending only).
ALTER TABLE endpoints ADD COLUMN app_install TEXT;
ALTER TABLE endpoints ADD COLUMN app_install_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN app_install_next INTEGER;
CREATE INDEX endpoints_app_install_due ON endpoints (app_install_next) WHERE app_install = 'pending';
