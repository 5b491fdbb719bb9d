//! Token refreshes in SQLite: the lease and the renewal (see
//! [`crate::store::Refreshes`]). Every write goes through the one writer
//! connection, so a lease taken here holds for every task of the process
//! (and for another process on the same file).

use rusqlite::{OptionalExtension, params};

use super::Store;
use crate::store::{Change, Lease, Refreshes, Renewal, StoreError, StoreFuture, Tokens, blocking, change};

/// A connection's sealed record, reconnection mark, lease end and origin.
type TokenColumns = (Vec<u8>, Option<String>, Option<i64>, bool);

impl Store {
    fn tokens_on(
        conn: &rusqlite::Connection,
        store: &Store,
        env: &str,
        id: &str,
    ) -> Result<Option<Tokens>, StoreError> {
        let row: Option<TokenColumns> = conn
            .query_row(
                "SELECT sealed, reconnect, lease_until, minted FROM connections WHERE environment_id = ?1 AND identifier = ?2",
                params![env, id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(|e| StoreError::with("read connection", e))?;
        let Some((sealed, reconnect, leased_until, minted)) = row else {
            return Ok(None);
        };
        Ok(Some(Tokens {
            record: store.sealer.open_connection(env, id, &sealed)?,
            reconnect,
            leased_until,
            minted,
        }))
    }

    /// A connection's tokens and their state.
    pub fn tokens(&self, env: &str, id: &str) -> Result<Option<Tokens>, StoreError> {
        Store::tokens_on(&self.read_lock(), self, env, id)
    }

    /// Takes the refresh lease (see [`Refreshes::lease`]).
    pub fn lease(
        &self,
        env: &str,
        id: &str,
        holder: &str,
        now: i64,
        until: i64,
    ) -> Result<Option<Lease>, StoreError> {
        let conn = self.lock();
        let taken = conn
            .execute(
                "UPDATE connections SET lease_holder = ?3, lease_until = ?5
                 WHERE environment_id = ?1 AND identifier = ?2 AND (lease_until IS NULL OR lease_until <= ?4)",
                params![env, id, holder, now, until],
            )
            .map_err(|e| StoreError::with("lease", e))?;
        let tokens = Store::tokens_on(&conn, self, env, id)?;
        Ok(tokens.map(|t| {
            if taken == 1 {
                Lease::Taken(t)
            } else {
                Lease::Held(t)
            }
        }))
    }

    /// Ends a lease (see [`Refreshes::release`]).
    pub fn release(
        &self,
        env: &str,
        id: &str,
        holder: &str,
        renewal: &Renewal,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| StoreError::with("begin", e))?;
        let sealed: Option<Vec<u8>> = tx
            .query_row(
                "SELECT sealed FROM connections WHERE environment_id = ?1 AND identifier = ?2",
                params![env, id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| StoreError::with("read connection", e))?;
        let Some(sealed) = sealed else { return Ok(false) };
        let record = self.sealer.open_connection(env, id, &sealed)?;
        // Each statement also ends the lease.
        let written = match change(record, renewal) {
            Some(Change::Renewed(record)) => {
                let row = self.sealer.connection_row(env, &record, id)?;
                // The public JSON too: it keeps the new tokens' expiries.
                tx.execute(
                    "UPDATE connections SET sealed = ?3, refreshable_until = ?4, updated_at = ?5, public_json = ?6,
                         reconnect = NULL, lease_holder = NULL, lease_until = NULL
                     WHERE environment_id = ?1 AND identifier = ?2",
                    params![env, id, row.sealed, row.refreshable_until, now, row.public_json],
                )
                .map_err(|e| StoreError::with("write connection", e))?;
                true
            }
            Some(Change::Reconnect(reason)) => {
                tx.execute(
                    "UPDATE connections SET reconnect = ?3, refreshable_until = NULL, updated_at = ?4,
                         lease_holder = NULL, lease_until = NULL
                     WHERE environment_id = ?1 AND identifier = ?2",
                    params![env, id, reason, now],
                )
                .map_err(|e| StoreError::with("write connection", e))?;
                true
            }
            None => {
                let until = match renewal {
                    Renewal::RetryAfter(t) => Some(*t),
                    _ => None,
                };
                tx.execute(
                    "UPDATE connections SET lease_until = ?4, lease_holder = CASE WHEN ?4 IS NULL THEN NULL ELSE lease_holder END
                     WHERE environment_id = ?1 AND identifier = ?2 AND lease_holder = ?3",
                    params![env, id, holder, until],
                )
                .map_err(|e| StoreError::with("release lease", e))?;
                false
            }
        };
        tx.commit().map_err(|e| StoreError::with("commit", e))?;
        Ok(written)
    }

    /// Marks a connection as needing reconnection (see [`Refreshes::mark_reconnect`]).
    pub fn mark_reconnect(&self, env: &str, id: &str, reason: &str, now: i64) -> Result<bool, StoreError> {
        let changed = self
            .lock()
            .execute(
                "UPDATE connections SET reconnect = ?3, refreshable_until = NULL, updated_at = ?4
                 WHERE environment_id = ?1 AND identifier = ?2",
                params![env, id, reason, now],
            )
            .map_err(|e| StoreError::with("write connection", e))?;
        Ok(changed == 1)
    }

    /// Connections due for a refresh (see [`Refreshes::expiring`]).
    pub fn expiring(&self, before: i64, now: i64, limit: i64) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.read_lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT environment_id, identifier FROM connections
                 WHERE refreshable_until IS NOT NULL AND refreshable_until < ?1
                   AND (lease_until IS NULL OR lease_until <= ?2)
                 ORDER BY refreshable_until LIMIT ?3",
            )
            .map_err(|e| StoreError::with("expiring", e))?;
        let rows = stmt
            .query_map(params![before, now, limit], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| StoreError::with("expiring", e))?;
        rows.map(|r| r.map_err(|e| StoreError::with("expiring", e)))
            .collect()
    }
}

impl Refreshes for Store {
    fn tokens<'a>(&'a self, env: &'a str, identifier: &'a str) -> StoreFuture<'a, Option<Tokens>> {
        let (store, env, id) = (self.clone(), env.to_owned(), identifier.to_owned());
        Box::pin(blocking(move || store.tokens(&env, &id)))
    }

    fn lease<'a>(
        &'a self,
        env: &'a str,
        identifier: &'a str,
        holder: &'a str,
        now: i64,
        until: i64,
    ) -> StoreFuture<'a, Option<Lease>> {
        let (store, env, id, holder) = (
            self.clone(),
            env.to_owned(),
            identifier.to_owned(),
            holder.to_owned(),
        );
        Box::pin(blocking(move || store.lease(&env, &id, &holder, now, until)))
    }

    fn release<'a>(
        &'a self,
        env: &'a str,
        identifier: &'a str,
        holder: &'a str,
        renewal: Renewal,
        now: i64,
    ) -> StoreFuture<'a, bool> {
        let (store, env, id, holder) = (
            self.clone(),
            env.to_owned(),
            identifier.to_owned(),
            holder.to_owned(),
        );
        Box::pin(blocking(move || store.release(&env, &id, &holder, &renewal, now)))
    }

    fn mark_reconnect<'a>(
        &'a self,
        env: &'a str,
        identifier: &'a str,
        reason: &'a str,
        now: i64,
    ) -> StoreFuture<'a, bool> {
        let (store, env, id, reason) = (
            self.clone(),
            env.to_owned(),
            identifier.to_owned(),
            reason.to_owned(),
        );
        Box::pin(blocking(move || store.mark_reconnect(&env, &id, &reason, now)))
    }

    fn expiring<'a>(&'a self, before: i64, now: i64, limit: i64) -> StoreFuture<'a, Vec<(String, String)>> {
        let store = self.clone();
        Box::pin(blocking(move || store.expiring(before, now, limit)))
    }
}
