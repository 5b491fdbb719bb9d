//! Token refreshes in PostgreSQL: the lease every instance sees, and the
//! renewal written under the row's lock (see [`crate::store::Refreshes`]).

use super::{PgStore, bounded, failed};
use crate::store::{Change, Lease, Refreshes, Renewal, StoreError, StoreFuture, Tokens, change};

impl PgStore {
    async fn tokens_now(&self, env: &str, id: &str) -> Result<Option<Tokens>, StoreError> {
        let (client, _) = self.conn().await?;
        let row = client
            .query_opt(
                "SELECT sealed, reconnect, lease_until, minted FROM cc_connections WHERE environment_id = $1 AND identifier = $2",
                &[&env, &id],
            )
            .await
            .map_err(failed("read connection"))?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Tokens {
            record: self.sealer.open_connection(env, id, row.get(0))?,
            reconnect: row.get(1),
            leased_until: row.get(2),
            minted: row.get(3),
        }))
    }
}

impl Refreshes for PgStore {
    fn tokens<'a>(&'a self, env: &'a str, identifier: &'a str) -> StoreFuture<'a, Option<Tokens>> {
        Box::pin(bounded(self.tokens_now(env, identifier)))
    }

    fn lease<'a>(
        &'a self,
        env: &'a str,
        identifier: &'a str,
        holder: &'a str,
        now: i64,
        until: i64,
    ) -> StoreFuture<'a, Option<Lease>> {
        Box::pin(bounded(async move {
            let taken = {
                let (client, _) = self.conn().await?;
                client
                    .execute(
                        "UPDATE cc_connections SET lease_holder = $3, lease_until = $5
                         WHERE environment_id = $1 AND identifier = $2 AND (lease_until IS NULL OR lease_until <= $4)",
                        &[&env, &identifier, &holder, &now, &until],
                    )
                    .await
                    .map_err(failed("lease"))?
            };
            let tokens = self.tokens_now(env, identifier).await?;
            Ok(tokens.map(|t| {
                if taken == 1 {
                    Lease::Taken(t)
                } else {
                    Lease::Held(t)
                }
            }))
        }))
    }

    fn release<'a>(
        &'a self,
        env: &'a str,
        identifier: &'a str,
        holder: &'a str,
        renewal: Renewal,
        now: i64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(bounded(async move {
            let (mut client, _) = self.conn().await?;
            let tx = client.transaction().await.map_err(failed("begin"))?;
            let row = tx
                .query_opt(
                    "SELECT sealed FROM cc_connections WHERE environment_id = $1 AND identifier = $2 FOR UPDATE",
                    &[&env, &identifier],
                )
                .await
                .map_err(failed("read connection"))?;
            let Some(row) = row else { return Ok(false) };
            let record = self.sealer.open_connection(env, identifier, row.get(0))?;
            // Each statement also ends the lease.
            let written = match change(record, &renewal) {
                Some(Change::Renewed(record)) => {
                    let row = self.sealer.connection_row(env, &record, identifier)?;
                    // The public JSON too: it keeps the new tokens' expiries.
                    tx.execute(
                        "UPDATE cc_connections SET sealed = $3, refreshable_until = $4, updated_at = $5, public_json = $6,
                             reconnect = NULL, lease_holder = NULL, lease_until = NULL
                         WHERE environment_id = $1 AND identifier = $2",
                        &[&env, &identifier, &row.sealed, &row.refreshable_until, &now, &row.public_json],
                    )
                    .await
                    .map_err(failed("write connection"))?;
                    true
                }
                Some(Change::Reconnect(reason)) => {
                    tx.execute(
                        "UPDATE cc_connections SET reconnect = $3, refreshable_until = NULL, updated_at = $4,
                             lease_holder = NULL, lease_until = NULL
                         WHERE environment_id = $1 AND identifier = $2",
                        &[&env, &identifier, &reason, &now],
                    )
                    .await
                    .map_err(failed("write connection"))?;
                    true
                }
                None => {
                    let until: Option<i64> = match renewal {
                        Renewal::RetryAfter(t) => Some(t),
                        _ => None,
                    };
                    tx.execute(
                        "UPDATE cc_connections SET lease_until = $4,
                             lease_holder = CASE WHEN $4::BIGINT IS NULL THEN NULL ELSE lease_holder END
                         WHERE environment_id = $1 AND identifier = $2 AND lease_holder = $3",
                        &[&env, &identifier, &holder, &until],
                    )
                    .await
                    .map_err(failed("release lease"))?;
                    false
                }
            };
            tx.commit().await.map_err(failed("commit"))?;
            Ok(written)
        }))
    }

    fn mark_reconnect<'a>(
        &'a self,
        env: &'a str,
        identifier: &'a str,
        reason: &'a str,
        now: i64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(bounded(async move {
            let (client, _) = self.conn().await?;
            let changed = client
                .execute(
                    "UPDATE cc_connections SET reconnect = $3, refreshable_until = NULL, updated_at = $4
                     WHERE environment_id = $1 AND identifier = $2",
                    &[&env, &identifier, &reason, &now],
                )
                .await
                .map_err(failed("write connection"))?;
            Ok(changed == 1)
        }))
    }

    fn expiring<'a>(&'a self, before: i64, now: i64, limit: i64) -> StoreFuture<'a, Vec<(String, String)>> {
        Box::pin(bounded(async move {
            let (client, _) = self.conn().await?;
            let rows = client
                .query(
                    "SELECT environment_id, identifier FROM cc_connections
                     WHERE refreshable_until IS NOT NULL AND refreshable_until < $1
                       AND (lease_until IS NULL OR lease_until <= $2)
                     ORDER BY refreshable_until LIMIT $3",
                    &[&before, &now, &limit],
                )
                .await
                .map_err(failed("expiring"))?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        }))
    }
}
