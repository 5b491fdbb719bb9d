-- Whether this service obtained the connection's token (an OAuth callback)
-- rather than being given it (the API): only its own does it revoke.
ALTER TABLE connections ADD COLUMN minted INTEGER NOT NULL DEFAULT 0;
