CREATE TABLE connections (
    environment_id TEXT NOT NULL,
    identifier TEXT NOT NULL,
    integration_identifier TEXT NOT NULL,
    subscriber_id TEXT,
    natural_key BLOB NOT NULL,
    public_json TEXT NOT NULL,
    sealed BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (environment_id, identifier)
);
CREATE INDEX connections_natural ON connections (environment_id, natural_key);
CREATE TABLE endpoints (
    environment_id TEXT NOT NULL,
    identifier TEXT NOT NULL,
    integration_identifier TEXT NOT NULL,
    subscriber_id TEXT NOT NULL,
    connection_identifier TEXT,
    natural_key BLOB NOT NULL,
    public_json TEXT NOT NULL,
    sealed BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (environment_id, identifier),
    UNIQUE (environment_id, natural_key)
);
CREATE TABLE replay_marks (
    replay_id BLOB PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE TABLE starts (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    cookie TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE idempotency (
    environment_id TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    status INTEGER,
    response TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (environment_id, key)
);
