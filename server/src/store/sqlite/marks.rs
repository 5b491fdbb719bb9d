//! Replay marks, parked records and idempotency entries in SQLite.

use rusqlite::{OptionalExtension, params};

use super::Store;
use crate::store::{
    IDEMPOTENCY_TTL_SECS, IN_FLIGHT_TTL_SECS, Idempotency, IdempotencyEntries, ParkedRecords, ReplayMarks,
    StoreError, StoreFuture, blocking,
};

impl Store {
    /// Marks a state as used; `false` when it already was (a replay).
    /// Marks past their expiry are dropped on the way.
    pub fn mark_used_blocking(
        &self,
        replay_id: &[u8],
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let conn = self.lock();
        conn.execute("DELETE FROM replay_marks WHERE expires_at < ?1", params![now])
            .map_err(|e| StoreError::with("replay marks", e))?;
        let added = conn
            .execute(
                "INSERT OR IGNORE INTO replay_marks (replay_id, expires_at) VALUES (?1, ?2)",
                params![replay_id, expires_at],
            )
            .map_err(|e| StoreError::with("replay marks", e))?;
        Ok(added == 1)
    }

    /// Keeps a redeemed code's sealed records for a retry (see [`ParkedRecords::park`]).
    pub fn park_blocking(
        &self,
        key: &[u8],
        sealed: &[u8],
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let conn = self.lock();
        conn.execute("DELETE FROM parked WHERE expires_at < ?1", params![now])
            .map_err(|e| StoreError::with("parked", e))?;
        conn.execute(
            "INSERT OR REPLACE INTO parked (key, sealed, expires_at) VALUES (?1, ?2, ?3)",
            params![key, sealed, expires_at],
        )
        .map_err(|e| StoreError::with("parked", e))?;
        Ok(())
    }

    /// Takes parked records once.
    pub fn take_parked_blocking(&self, key: &[u8], now: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let conn = self.lock();
        conn.query_row(
            "DELETE FROM parked WHERE key = ?1 AND expires_at >= ?2 RETURNING sealed",
            params![key, now],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| StoreError::with("parked", e))
    }

    /// Claims an idempotency key for a request (its hash), or answers what
    /// the key already holds. Entries older than a day are dropped first.
    pub fn idempotency_begin(
        &self,
        env: &str,
        key: &str,
        request_hash: &[u8],
        now: i64,
    ) -> Result<Idempotency, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| StoreError::with("begin", e))?;
        tx.execute(
            "DELETE FROM idempotency WHERE created_at < ?1",
            params![now - IDEMPOTENCY_TTL_SECS],
        )
        .map_err(|e| StoreError::with("idempotency", e))?;
        // A claim never answered within its time is forgotten.
        tx.execute(
            "DELETE FROM idempotency WHERE environment_id = ?1 AND key = ?2 AND status IS NULL AND created_at < ?3",
            params![env, key, now - IN_FLIGHT_TTL_SECS],
        )
        .map_err(|e| StoreError::with("idempotency", e))?;
        let found: Option<(Vec<u8>, Option<u16>, Option<String>)> = tx
            .query_row(
                "SELECT request_hash, status, response FROM idempotency WHERE environment_id = ?1 AND key = ?2",
                params![env, key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(|e| StoreError::with("idempotency", e))?;
        let answer = match found {
            None => {
                tx.execute(
                    "INSERT INTO idempotency (environment_id, key, request_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![env, key, request_hash, now],
                )
                .map_err(|e| StoreError::with("idempotency", e))?;
                Idempotency::Fresh
            }
            Some((hash, _, _)) if hash != request_hash => Idempotency::Mismatch,
            Some((_, Some(status), Some(body))) => Idempotency::Replay { status, body },
            Some(_) => Idempotency::InFlight,
        };
        tx.commit().map_err(|e| StoreError::with("commit", e))?;
        Ok(answer)
    }

    /// Records the answer to a claimed key.
    pub fn idempotency_finish(
        &self,
        env: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError> {
        self.lock()
            .execute(
                "UPDATE idempotency SET status = ?3, response = ?4 WHERE environment_id = ?1 AND key = ?2",
                params![env, key, status, body],
            )
            .map_err(|e| StoreError::with("idempotency", e))?;
        Ok(())
    }

    /// Gives a claimed key up (the handler failed before answering).
    pub fn idempotency_abandon(&self, env: &str, key: &str) -> Result<(), StoreError> {
        self.lock()
            .execute(
                "DELETE FROM idempotency WHERE environment_id = ?1 AND key = ?2 AND status IS NULL",
                params![env, key],
            )
            .map_err(|e| StoreError::with("idempotency", e))?;
        Ok(())
    }
}

impl ReplayMarks for Store {
    fn mark_used<'a>(&'a self, replay_id: &'a [u8], expires_at: i64, now: i64) -> StoreFuture<'a, bool> {
        let (store, id) = (self.clone(), replay_id.to_vec());
        Box::pin(blocking(move || store.mark_used_blocking(&id, expires_at, now)))
    }
}

impl ParkedRecords for Store {
    fn park<'a>(&'a self, key: &'a [u8], sealed: &'a [u8], expires_at: i64, now: i64) -> StoreFuture<'a, ()> {
        let (store, key, sealed) = (self.clone(), key.to_vec(), sealed.to_vec());
        Box::pin(blocking(move || {
            store.park_blocking(&key, &sealed, expires_at, now)
        }))
    }

    fn take_parked<'a>(&'a self, key: &'a [u8], now: i64) -> StoreFuture<'a, Option<Vec<u8>>> {
        let (store, key) = (self.clone(), key.to_vec());
        Box::pin(blocking(move || store.take_parked_blocking(&key, now)))
    }
}

impl IdempotencyEntries for Store {
    fn begin<'a>(
        &'a self,
        env: &'a str,
        key: &'a str,
        hash: &'a [u8],
        now: i64,
    ) -> StoreFuture<'a, Idempotency> {
        let (store, env, key, hash) = (self.clone(), env.to_owned(), key.to_owned(), hash.to_vec());
        Box::pin(blocking(move || store.idempotency_begin(&env, &key, &hash, now)))
    }

    fn finish<'a>(&'a self, env: &'a str, key: &'a str, status: u16, body: &'a str) -> StoreFuture<'a, ()> {
        let (store, env, key, body) = (self.clone(), env.to_owned(), key.to_owned(), body.to_owned());
        Box::pin(blocking(move || {
            store.idempotency_finish(&env, &key, status, &body)
        }))
    }

    fn abandon<'a>(&'a self, env: &'a str, key: &'a str) -> StoreFuture<'a, ()> {
        let (store, env, key) = (self.clone(), env.to_owned(), key.to_owned());
        Box::pin(blocking(move || store.idempotency_abandon(&env, &key)))
    }
}
