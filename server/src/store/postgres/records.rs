//! The records' reads and writes in PostgreSQL: a callback's save in five
//! pipelined round trips, the lists, start links.

use channel_connect::records::{ChannelConnectionRecord, ChannelEndpointRecord, StoredRecords};
use futures_util::future::try_join_all;
use tokio_postgres::Transaction;
use tokio_postgres::types::ToSql;

use super::statements::Statements;
use super::{Params, PgStore, bounded, decode, failed, lock_id};
use crate::store::ownership::{self, Conflict};
use crate::store::seal::{Row, Sealer, relinked};
use crate::store::{
    ConnectionRow, Connections, EndpointRow, Endpoints, Filter, Listed, Saved, StartLink, StartLinks,
    StoreError, StoreFuture, Write,
};

impl PgStore {
    /// The row a connection is written to: under its own identifier (when
    /// the stored one there is re-installed), else the one stored for its
    /// natural key, else its own; after the locks of both.
    async fn connection_row(
        &self,
        tx: &Transaction<'_>,
        st: &Statements,
        env: &str,
        c: &ChannelConnectionRecord,
    ) -> Result<Result<Row, Conflict>, StoreError> {
        let natural = Sealer::connection_key(c)?;
        // The identifier's lock first, then the key's (every save in this
        // order): two saves naming one identifier from two workspaces run
        // one after the other, and the second sees the first's row.
        let id_lock = lock_id(env, &[b"identifier\0", c.identifier.as_bytes()].concat());
        let key_lock = lock_id(env, &natural);
        let (p_id_lock, p_key_lock, p_id, p_key): (Params, Params, Params, Params) = (
            &[&id_lock],
            &[&key_lock],
            &[&env, &c.identifier],
            &[&env, &natural],
        );
        // Pipelined: the server runs them in order, so both reads come after the locks.
        let (_, _, by_id, by_key) = tokio::try_join!(
            tx.execute(&st.lock, p_id_lock),
            tx.execute(&st.lock, p_key_lock),
            tx.query_opt(&st.connection_by_id, p_id),
            tx.query_opt(&st.connection_by_key, p_key),
        )
        .map_err(failed("find connection"))?;
        let existing = match by_id {
            Some(row) => match ownership::check_public(row.get::<_, &str>(0), c) {
                Ok(()) => c.identifier.clone(),
                Err(conflict) => return Ok(Err(conflict)),
            },
            None => by_key.map_or_else(|| c.identifier.clone(), |row| row.get::<_, String>(0)),
        };
        self.sealer.connection_row(env, c, &existing).map(Ok)
    }

    /// An endpoint's existing identifier, after its natural key's lock.
    async fn endpoint_identifier(
        tx: &Transaction<'_>,
        st: &Statements,
        env: &str,
        natural: &[u8],
    ) -> Result<Option<String>, StoreError> {
        let lock = lock_id(env, natural);
        let (p_lock, p_key): (Params, Params) = (&[&lock], &[&env, &natural]);
        let (_, found) = tokio::try_join!(
            tx.execute(&st.lock, p_lock),
            tx.query_opt(&st.endpoint_by_key, p_key),
        )
        .map_err(failed("find endpoint"))?;
        Ok(found.map(|row| row.get::<_, String>(0)))
    }
}

impl Connections for PgStore {
    fn connection_record<'a>(
        &'a self,
        env: &'a str,
        identifier: &'a str,
    ) -> StoreFuture<'a, Option<ChannelConnectionRecord>> {
        Box::pin(bounded(async move {
            let (client, _) = self.conn().await?;
            let row = client
                .query_opt(
                    "SELECT sealed FROM cc_connections WHERE environment_id = $1 AND identifier = $2",
                    &[&env, &identifier],
                )
                .await
                .map_err(failed("read connection"))?;
            row.map(|r| self.sealer.open_connection(env, identifier, r.get(0)))
                .transpose()
        }))
    }

    fn put_connection<'a>(
        &'a self,
        env: &'a str,
        c: &'a ChannelConnectionRecord,
        write: Write,
        now: i64,
    ) -> StoreFuture<'a, Result<ConnectionRow, Conflict>> {
        Box::pin(bounded(async move {
            let row = self.sealer.connection_row(env, c, &c.identifier)?;
            let (client, _) = self.conn().await?;
            let sql = match write {
                Write::Create => {
                    "INSERT INTO cc_connections (environment_id, identifier, integration_identifier, subscriber_id,
                         natural_key, public_json, sealed, created_at, updated_at, context_keys, refreshable_until)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10)
                     ON CONFLICT DO NOTHING RETURNING created_at, updated_at, reconnect"
                }
                Write::Update => {
                    "UPDATE cc_connections SET integration_identifier = $3, subscriber_id = $4, natural_key = $5,
                         public_json = $6, sealed = $7, updated_at = $8, context_keys = $9, refreshable_until = $10,
                         reconnect = NULL
                     WHERE environment_id = $1 AND identifier = $2 RETURNING created_at, updated_at, reconnect"
                }
            };
            let written = client
                .query_opt(
                    sql,
                    &[
                        &env,
                        &row.identifier,
                        &c.integration_identifier,
                        &c.subscriber_id,
                        &row.natural_key,
                        &row.public_json,
                        &row.sealed,
                        &now,
                        &row.context_keys,
                        &row.refreshable_until,
                    ],
                )
                .await
                .map_err(failed("write connection"))?;
            let Some(written) = written else {
                return Ok(Err(write.refused()));
            };
            ConnectionRow::from_public(&row.public_json, written.get(0), written.get(1), written.get(2))
                .map(Ok)
        }))
    }

    fn workspace_connections<'a>(
        &'a self,
        env: &'a str,
        integration: &'a str,
        workspace: &'a str,
    ) -> StoreFuture<'a, Vec<String>> {
        Box::pin(bounded(async move {
            let (client, _) = self.conn().await?;
            let rows = client
                .query(
                    "SELECT identifier FROM cc_connections WHERE environment_id = $1 AND integration_identifier = $2
                     AND (public_json::jsonb -> 'workspace' ->> 'id') = $3",
                    &[&env, &integration, &workspace],
                )
                .await
                .map_err(failed("find connections"))?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        }))
    }

    fn delete_connection<'a>(&'a self, env: &'a str, identifier: &'a str) -> StoreFuture<'a, Option<u64>> {
        Box::pin(bounded(async move {
            let (mut client, _) = self.conn().await?;
            let tx = client.transaction().await.map_err(failed("begin"))?;
            let gone = tx
                .execute(
                    "DELETE FROM cc_connections WHERE environment_id = $1 AND identifier = $2",
                    &[&env, &identifier],
                )
                .await
                .map_err(failed("delete connection"))?;
            if gone == 0 {
                return Ok(None);
            }
            let endpoints = tx
                .execute(
                    "DELETE FROM cc_endpoints WHERE environment_id = $1 AND connection_identifier = $2",
                    &[&env, &identifier],
                )
                .await
                .map_err(failed("delete endpoints"))?;
            tx.commit().await.map_err(failed("commit"))?;
            Ok(Some(endpoints))
        }))
    }

    fn save<'a>(
        &'a self,
        env: &'a str,
        records: &'a StoredRecords,
        pin: Option<&'a str>,
        now: i64,
    ) -> StoreFuture<'a, Saved> {
        // Five round trips whatever the records: begin; the connection's
        // lookup; its write with every endpoint's lookup; the endpoints'
        // writes; commit.
        Box::pin(bounded(async move {
            let (mut client, st) = self.conn().await?;
            let tx = client.transaction().await.map_err(failed("begin"))?;
            let connection = match &records.connection {
                Some(c) => match self.connection_row(&tx, &st, env, c).await? {
                    Ok(row) => Some((c, row)),
                    // Dropped without commit: nothing written.
                    Err(conflict) => return Ok(Saved::Refused(conflict)),
                },
                None => None,
            };
            let stored = connection.as_ref().map(|(_, row)| row.identifier.clone());
            // A user link to a connection stored before: it must still be there
            // (held until commit), its owner's, in the flow's workspace.
            if records.connection.is_none() {
                for e in &records.endpoints {
                    let Some(cid) = &e.connection_identifier else {
                        continue;
                    };
                    let row = tx
                        .query_opt(
                            "SELECT public_json FROM cc_connections
                             WHERE environment_id = $1 AND identifier = $2 FOR SHARE",
                            &[&env, cid],
                        )
                        .await
                        .map_err(failed("find connection"))?;
                    let public = row.as_ref().map(|r| r.get::<_, &str>(0));
                    if let Err(conflict) = ownership::check_endpoint_public(public, e, pin) {
                        return Ok(Saved::Refused(conflict));
                    }
                }
            }
            let mut keyed = records
                .endpoints
                .iter()
                .map(|e| {
                    let e = relinked(e, stored.as_deref());
                    Ok((Sealer::endpoint_key(&e)?, e))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            // Locks in key order: two saves of the same endpoints cannot deadlock.
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            let (keys, endpoints): (Vec<_>, Vec<_>) = keyed.into_iter().unzip();
            let write_connection = async {
                let Some((c, row)) = &connection else {
                    return Ok(());
                };
                let params: [&(dyn ToSql + Sync); 10] = [
                    &env,
                    &row.identifier,
                    &c.integration_identifier,
                    &c.subscriber_id,
                    &row.natural_key,
                    &row.public_json,
                    &row.sealed,
                    &now,
                    &row.context_keys,
                    &row.refreshable_until,
                ];
                tx.execute(&st.upsert_connection, &params)
                    .await
                    .map(drop)
                    .map_err(failed("write connection"))
            };
            let lookups = try_join_all(
                keys.iter()
                    .map(|k| PgStore::endpoint_identifier(&tx, &st, env, k)),
            );
            let ((), existing) = tokio::try_join!(write_connection, lookups)?;
            let rows = endpoints
                .iter()
                .zip(existing)
                .map(|(e, id)| Ok((e, self.sealer.endpoint_row(env, e, id)?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            let params: Vec<[&(dyn ToSql + Sync); 11]> = rows
                .iter()
                .map(|(e, row)| {
                    [
                        &env as &(dyn ToSql + Sync),
                        &row.identifier,
                        &e.integration_identifier,
                        &e.subscriber_id,
                        &e.connection_identifier,
                        &row.natural_key,
                        &row.public_json,
                        &row.sealed,
                        &now,
                        &row.context_keys,
                        &row.app_install,
                    ]
                })
                .collect();
            try_join_all(params.iter().map(|p| tx.execute(&st.upsert_endpoint, p)))
                .await
                .map_err(failed("write endpoint"))?;
            // Dropped without commit on any error above: nothing half-written.
            tx.commit().await.map_err(failed("commit"))?;
            Ok(Saved::Stored(stored))
        }))
    }

    fn list_connections<'a>(&'a self, env: &'a str, f: &'a Filter) -> StoreFuture<'a, Listed<ConnectionRow>> {
        self.connections_page(env, f)
    }
}

impl Endpoints for PgStore {
    fn put_endpoint<'a>(
        &'a self,
        env: &'a str,
        identifier: &'a str,
        e: &'a ChannelEndpointRecord,
        write: Write,
        now: i64,
    ) -> StoreFuture<'a, Result<EndpointRow, Conflict>> {
        Box::pin(bounded(async move {
            let row = self.sealer.endpoint_row(env, e, Some(identifier.to_owned()))?;
            let (mut client, st) = self.conn().await?;
            let tx = client.transaction().await.map_err(failed("begin"))?;
            let lock = lock_id(env, &row.natural_key);
            tx.execute(&st.lock, &[&lock]).await.map_err(failed("lock"))?;
            let holder = tx
                .query_opt(&st.endpoint_by_key, &[&env, &row.natural_key])
                .await
                .map_err(failed("find endpoint"))?;
            if holder.is_some_and(|h| h.get::<_, &str>(0) != identifier) {
                return Ok(Err(Conflict::Exists));
            }
            let written = tx
                .query_opt(
                    match write {
                        Write::Create => {
                            "INSERT INTO cc_endpoints (environment_id, identifier, integration_identifier,
                                 subscriber_id, connection_identifier, natural_key, public_json, sealed,
                                 created_at, updated_at, context_keys)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)
                             ON CONFLICT DO NOTHING RETURNING created_at, updated_at, app_install"
                        }
                        Write::Update => {
                            "UPDATE cc_endpoints SET integration_identifier = $3, subscriber_id = $4,
                                 connection_identifier = $5, natural_key = $6, public_json = $7, sealed = $8,
                                 updated_at = $9, context_keys = $10, app_install = NULL, app_install_next = NULL
                             WHERE environment_id = $1 AND identifier = $2 RETURNING created_at, updated_at, app_install"
                        }
                    },
                    &[
                        &env,
                        &row.identifier,
                        &e.integration_identifier,
                        &e.subscriber_id,
                        &e.connection_identifier,
                        &row.natural_key,
                        &row.public_json,
                        &row.sealed,
                        &now,
                        &row.context_keys,
                    ],
                )
                .await
                .map_err(failed("write endpoint"))?;
            let Some(written) = written else {
                return Ok(Err(write.refused()));
            };
            tx.commit().await.map_err(failed("commit"))?;
            Ok(Ok(EndpointRow {
                identifier: row.identifier,
                endpoint: decode(&row.public_json)?,
                created_at: written.get(0),
                updated_at: written.get(1),
                app_install: written.get(2),
            }))
        }))
    }

    fn endpoint_record<'a>(
        &'a self,
        env: &'a str,
        identifier: &'a str,
    ) -> StoreFuture<'a, Option<ChannelEndpointRecord>> {
        Box::pin(bounded(async move {
            let (client, _) = self.conn().await?;
            let row = client
                .query_opt(
                    "SELECT sealed FROM cc_endpoints WHERE environment_id = $1 AND identifier = $2",
                    &[&env, &identifier],
                )
                .await
                .map_err(failed("read endpoint"))?;
            row.map(|r| self.sealer.open_endpoint(env, identifier, r.get(0)))
                .transpose()
        }))
    }

    fn delete_endpoint<'a>(&'a self, env: &'a str, identifier: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(bounded(async move {
            let (client, _) = self.conn().await?;
            let gone = client
                .execute(
                    "DELETE FROM cc_endpoints WHERE environment_id = $1 AND identifier = $2",
                    &[&env, &identifier],
                )
                .await
                .map_err(failed("delete endpoint"))?;
            Ok(gone > 0)
        }))
    }

    fn list_endpoints<'a>(&'a self, env: &'a str, f: &'a Filter) -> StoreFuture<'a, Listed<EndpointRow>> {
        self.endpoints_page(env, f)
    }
}

impl StartLinks for PgStore {
    fn save_start<'a>(&'a self, id: &'a str, link: &'a StartLink, expires_at: i64) -> StoreFuture<'a, ()> {
        Box::pin(bounded(async move {
            let (client, st) = self.conn().await?;
            client
                .execute(&st.insert_start, &[&id, &link.url, &link.cookie, &expires_at])
                .await
                .map_err(failed("starts"))?;
            Ok(())
        }))
    }

    fn take_start<'a>(&'a self, id: &'a str, now: i64) -> StoreFuture<'a, Option<StartLink>> {
        Box::pin(bounded(async move {
            let (client, st) = self.conn().await?;
            client
                .execute(&st.purge_starts, &[&now])
                .await
                .map_err(failed("starts"))?;
            let row = client
                .query_opt(&st.take_start, &[&id])
                .await
                .map_err(failed("starts"))?;
            Ok(row.map(|r| StartLink {
                url: r.get(0),
                cookie: r.get(1),
            }))
        }))
    }
}
