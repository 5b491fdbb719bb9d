CREATE TABLE parked (
    key BLOB PRIMARY KEY,
    sealed BLOB NOT NULL,
    expires_at INTEGER NOT NULL
);
