//! `rekey` in PostgreSQL (see [`crate::store::rekey`]): a batch is read,
//! sealed again here, and written back in one statement (its own
//! transaction) that replaces a row only where its sealed value is still
//! the one read, so a write by a running instance in between is kept.

use std::time::Duration;

use tokio_postgres::types::ToSql;

use super::{PgStore, failed};
use crate::store::rekey::{Batch, Cursor, Rekey, Stale, by_key, stale_filter, stale_rows};
use crate::store::seal::Sealed;
use crate::store::{StoreError, StoreFuture};

/// How long one batch, or the count, may take: longer than a request's
/// store call, since both may scan a large table.
const REKEY_TIMEOUT: Duration = Duration::from_secs(300);

fn table(kind: Sealed) -> &'static str {
    match kind {
        Sealed::Connection => "cc_connections",
        Sealed::Endpoint => "cc_endpoints",
    }
}

/// Rows sealed again, for one statement's arrays.
#[derive(Default)]
struct Resealed {
    envs: Vec<String>,
    ids: Vec<String>,
    old: Vec<Vec<u8>>,
    new: Vec<Vec<u8>>,
}

impl PgStore {
    async fn rekey_batch_now(
        &self,
        kind: Sealed,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Batch, StoreError> {
        let stale = Stale::of(self.sealer.active_key());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (client, _) = self.conn().await?;
        let head: [&(dyn ToSql + Sync); 4] = [&stale.magic, &stale.id, &stale.headed, &limit];
        let rows = match after {
            Some((env, id)) => {
                let all = [&head[..], &[env as &(dyn ToSql + Sync), id]].concat();
                client
                    .query(&stale_rows(table(kind), true, |n| format!("${n}")), &all)
                    .await
            }
            None => {
                client
                    .query(&stale_rows(table(kind), false, |n| format!("${n}")), &head)
                    .await
            }
        }
        .map_err(failed("rekey read"))?;
        let mut batch = Batch {
            seen: rows.len(),
            last: rows.last().map(|r| (r.get(0), r.get(1))),
            ..Batch::default()
        };
        let mut out = Resealed::default();
        for row in &rows {
            let (env, id, sealed): (String, String, Vec<u8>) = (row.get(0), row.get(1), row.get(2));
            match self.sealer.reseal(kind, &env, &id, &sealed) {
                Ok(new) => {
                    out.envs.push(env);
                    out.ids.push(id);
                    out.old.push(sealed);
                    out.new.push(new);
                }
                Err(e) => {
                    tracing::warn!(environment = env, identifier = id, error = %e, "rekey: a row no token key opens");
                    batch.unreadable += 1;
                }
            }
        }
        if !out.envs.is_empty() {
            let update = format!(
                "UPDATE {} AS t SET sealed = u.new
                 FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[]) AS u(env, id, old, new)
                 WHERE t.environment_id = u.env AND t.identifier = u.id AND t.sealed = u.old",
                table(kind)
            );
            batch.resealed = client
                .execute(&update, &[&out.envs, &out.ids, &out.old, &out.new])
                .await
                .map_err(failed("rekey write"))?;
        }
        Ok(batch)
    }

    async fn not_active_now(&self) -> Result<Vec<(u8, u64)>, StoreError> {
        let stale = Stale::of(self.sealer.active_key());
        let (client, _) = self.conn().await?;
        let mut counts = Vec::new();
        for kind in [Sealed::Connection, Sealed::Endpoint] {
            let sql = format!(
                "SELECT CASE WHEN substr(sealed, 1, 7) = $1 THEN substr(sealed, 8, 1) ELSE ''::bytea END AS k, count(*)
                 FROM {} WHERE ({}) GROUP BY k",
                table(kind),
                stale_filter(|n| format!("${n}"))
            );
            let rows = client
                .query(&sql, &[&stale.magic, &stale.id, &stale.headed])
                .await
                .map_err(failed("rekey count"))?;
            for row in rows {
                let n: i64 = row.get(1);
                counts.push((row.get::<_, Vec<u8>>(0), u64::try_from(n).unwrap_or(0)));
            }
        }
        Ok(by_key(counts))
    }
}

/// Bounds a rekey operation by [`REKEY_TIMEOUT`].
async fn within<T>(op: impl std::future::Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    tokio::time::timeout(REKEY_TIMEOUT, op)
        .await
        .map_err(|e| StoreError::with("postgres timeout", e))?
}

impl Rekey for PgStore {
    fn rekey_batch<'a>(
        &'a self,
        kind: Sealed,
        after: Option<&'a Cursor>,
        limit: usize,
    ) -> StoreFuture<'a, Batch> {
        Box::pin(within(self.rekey_batch_now(kind, after, limit)))
    }

    fn not_active<'a>(&'a self) -> StoreFuture<'a, Vec<(u8, u64)>> {
        Box::pin(within(self.not_active_now()))
    }
}
