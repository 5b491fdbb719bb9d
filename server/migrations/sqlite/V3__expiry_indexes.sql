-- Expired rows are purged on every use: by index, not by scanning.
CREATE INDEX idempotency_created ON idempotency (created_at);
CREATE INDEX replay_marks_expiry ON replay_marks (expires_at);
CREATE INDEX starts_expiry ON starts (expires_at);
CREATE INDEX parked_expiry ON parked (expires_at);
