//! `rekey` in SQLite (see [`crate::store::rekey`]): a batch is one
//! `IMMEDIATE` transaction on the writer, so no other process on the file
//! writes between the read and the write; each update still checks the
//! sealed value it replaces.

use rusqlite::{ToSql, TransactionBehavior, params};

use super::Store;
use crate::store::rekey::{Batch, Cursor, Rekey, Stale, by_key, stale_filter, stale_rows};
use crate::store::seal::Sealed;
use crate::store::{StoreError, StoreFuture, blocking};

fn table(kind: Sealed) -> &'static str {
    match kind {
        Sealed::Connection => "connections",
        Sealed::Endpoint => "endpoints",
    }
}

impl Store {
    /// One batch of `rekey` (see [`Rekey::rekey_batch`]).
    pub fn rekey_batch_blocking(
        &self,
        kind: Sealed,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Batch, StoreError> {
        let stale = Stale::of(self.sealer.active_key());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| StoreError::with("begin", e))?;
        let rows: Vec<(String, String, Vec<u8>)> = {
            let mut stmt = tx
                .prepare(&stale_rows(table(kind), after.is_some(), |n| format!("?{n}")))
                .map_err(|e| StoreError::with("rekey read", e))?;
            let mut bound: Vec<&dyn ToSql> = vec![&stale.magic, &stale.id, &stale.headed, &limit];
            if let Some((env, id)) = after {
                bound.extend([env as &dyn ToSql, id]);
            }
            stmt.query_map(&bound[..], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(|e| StoreError::with("rekey read", e))?
                .collect::<Result<_, _>>()
                .map_err(|e| StoreError::with("rekey read", e))?
        };
        let mut batch = Batch {
            seen: rows.len(),
            last: rows.last().map(|(e, i, _)| (e.clone(), i.clone())),
            ..Batch::default()
        };
        let update = format!(
            "UPDATE {} SET sealed = ?4 WHERE environment_id = ?1 AND identifier = ?2 AND sealed = ?3",
            table(kind)
        );
        for (env, id, sealed) in &rows {
            let Some(new) = self.resealed(kind, env, id, sealed) else {
                batch.unreadable += 1;
                continue;
            };
            let written = tx
                .execute(&update, params![env, id, sealed, new])
                .map_err(|e| StoreError::with("rekey write", e))?;
            batch.resealed += written as u64;
        }
        tx.commit().map_err(|e| StoreError::with("commit", e))?;
        Ok(batch)
    }

    /// A row's value under the active key; `None` (logged) when no key opens it.
    fn resealed(&self, kind: Sealed, env: &str, id: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        self.sealer
            .reseal(kind, env, id, sealed)
            .inspect_err(|e| tracing::warn!(environment = env, identifier = id, error = %e, "rekey: a row no token key opens"))
            .ok()
    }

    /// Rows under other keys than the active one (see [`Rekey::not_active`]).
    pub fn not_active_blocking(&self) -> Result<Vec<(u8, u64)>, StoreError> {
        let stale = Stale::of(self.sealer.active_key());
        let conn = self.read_lock();
        let mut counts = Vec::new();
        for kind in [Sealed::Connection, Sealed::Endpoint] {
            let sql = format!(
                "SELECT CASE WHEN substr(sealed, 1, 7) = ?1 THEN substr(sealed, 8, 1) ELSE X'' END AS k, count(*)
                 FROM {} WHERE ({}) GROUP BY k",
                table(kind),
                stale_filter(|n| format!("?{n}"))
            );
            let mut stmt = conn
                .prepare(&sql)
                .map_err(|e| StoreError::with("rekey count", e))?;
            let rows = stmt
                .query_map(params![stale.magic, stale.id, stale.headed], |r| {
                    Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?))
                })
                .map_err(|e| StoreError::with("rekey count", e))?;
            for row in rows {
                let (id, n) = row.map_err(|e| StoreError::with("rekey count", e))?;
                counts.push((id, u64::try_from(n).unwrap_or(0)));
            }
        }
        Ok(by_key(counts))
    }
}

impl Rekey for Store {
    fn rekey_batch<'a>(
        &'a self,
        kind: Sealed,
        after: Option<&'a Cursor>,
        limit: usize,
    ) -> StoreFuture<'a, Batch> {
        let (store, after) = (self.clone(), after.cloned());
        Box::pin(blocking(move || {
            store.rekey_batch_blocking(kind, after.as_ref(), limit)
        }))
    }

    fn not_active<'a>(&'a self) -> StoreFuture<'a, Vec<(u8, u64)>> {
        let store = self.clone();
        Box::pin(blocking(move || store.not_active_blocking()))
    }
}
