-- Token refreshes: when a connection's tokens expire (if they can be
-- refreshed), the lease of the one refresher at a time, and why the
-- connection must be connected again when its tokens stopped working.
ALTER TABLE connections ADD COLUMN refreshable_until INTEGER;
ALTER TABLE connections ADD COLUMN lease_holder TEXT;
ALTER TABLE connections ADD COLUMN lease_until INTEGER;
ALTER TABLE connections ADD COLUMN reconnect TEXT;
CREATE INDEX connections_refreshable ON connections (refreshable_until) WHERE refreshable_until IS NOT NULL;
