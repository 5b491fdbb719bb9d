//! Connections, endpoints and start links in SQLite.

use channel_connect::records::{ChannelConnectionRecord, ChannelEndpointRecord, StoredRecords};
use rusqlite::{OptionalExtension, params};

use super::{Store, decode};
use crate::store::ownership::{self, Conflict};
use crate::store::seal::{Sealer, relinked};
use crate::store::{
    ConnectionRow, Connections, EndpointRow, Endpoints, Filter, Listed, Saved, StartLink, StartLinks,
    StoreError, StoreFuture, Write, blocking,
};

impl Store {
    /// Stores one callback's records in one transaction: a connection for
    /// the same workspace, context and owner is updated (its identifier
    /// kept), an endpoint for the same user likewise. Nothing is stored when
    /// the connection's identifier names one these records may not replace.
    pub fn save(
        &self,
        environment_id: &str,
        records: &StoredRecords,
        pin: Option<&str>,
        now: i64,
    ) -> Result<Saved, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| StoreError::with("begin", e))?;
        let mut stored_id = None;
        if let Some(c) = &records.connection {
            match self.save_connection(&tx, environment_id, c, now)? {
                Ok(id) => stored_id = Some(id),
                // Dropped without commit: nothing written.
                Err(conflict) => return Ok(Saved::Refused(conflict)),
            }
        }
        for e in &records.endpoints {
            let e = relinked(e, stored_id.as_deref());
            // A user link to a connection stored before: it must still be
            // there, its owner's, in the flow's workspace.
            if let (None, Some(cid)) = (&records.connection, &e.connection_identifier) {
                let stored: Option<String> = tx
                    .query_row(
                        "SELECT public_json FROM connections WHERE environment_id = ?1 AND identifier = ?2",
                        params![environment_id, cid],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(|e| StoreError::with("find connection", e))?;
                if let Err(conflict) = ownership::check_endpoint_public(stored.as_deref(), &e, pin) {
                    return Ok(Saved::Refused(conflict));
                }
            }
            self.save_endpoint(&tx, environment_id, &e, now)?;
        }
        tx.commit().map_err(|e| StoreError::with("commit", e))?;
        Ok(Saved::Stored(stored_id))
    }

    fn save_connection(
        &self,
        tx: &rusqlite::Transaction<'_>,
        env: &str,
        c: &ChannelConnectionRecord,
        now: i64,
    ) -> Result<Result<String, Conflict>, StoreError> {
        let natural = Sealer::connection_key(c)?;
        let by_id: Option<String> = tx
            .query_row(
                "SELECT public_json FROM connections WHERE environment_id = ?1 AND identifier = ?2",
                params![env, c.identifier],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| StoreError::with("find connection", e))?;
        let existing = match by_id {
            Some(public) => match ownership::check_public(&public, c) {
                Ok(()) => Some(c.identifier.clone()),
                Err(conflict) => return Ok(Err(conflict)),
            },
            None => tx
                .query_row(
                    "SELECT identifier FROM connections WHERE environment_id = ?1 AND natural_key = ?2
                     ORDER BY created_at, rowid LIMIT 1",
                    params![env, natural],
                    |r| r.get::<_, String>(0),
                )
                .optional()
                .map_err(|e| StoreError::with("find connection", e))?,
        };
        let row = self
            .sealer
            .connection_row(env, c, existing.as_deref().unwrap_or(&c.identifier))?;
        tx.execute(
            // A re-install brings working tokens: no reconnection needed any more.
            "INSERT INTO connections (environment_id, identifier, integration_identifier, subscriber_id,
                 natural_key, public_json, sealed, created_at, updated_at, context_keys, refreshable_until, minted)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, 1)
             ON CONFLICT (environment_id, identifier) DO UPDATE SET
                 integration_identifier = excluded.integration_identifier, subscriber_id = excluded.subscriber_id,
                 natural_key = excluded.natural_key, public_json = excluded.public_json,
                 sealed = excluded.sealed, updated_at = excluded.updated_at, context_keys = excluded.context_keys,
                 refreshable_until = excluded.refreshable_until, reconnect = NULL, minted = 1",
            params![env, row.identifier, c.integration_identifier, c.subscriber_id, row.natural_key, row.public_json, row.sealed, now, row.context_keys, row.refreshable_until],
        )
        .map_err(|e| StoreError::with("write connection", e))?;
        Ok(Ok(row.identifier))
    }

    fn save_endpoint(
        &self,
        tx: &rusqlite::Transaction<'_>,
        env: &str,
        e: &ChannelEndpointRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        let existing: Option<String> = tx
            .query_row(
                "SELECT identifier FROM endpoints WHERE environment_id = ?1 AND natural_key = ?2",
                params![env, Sealer::endpoint_key(e)?],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| StoreError::with("find endpoint", e))?;
        let row = self.sealer.endpoint_row(env, e, existing)?;
        tx.execute(
            // A linked Teams user's app installation: due now when there was
            // none or it failed; else kept as it is (installed, or pending:
            // an attempt may hold it).
            "INSERT INTO endpoints (environment_id, identifier, integration_identifier, subscriber_id,
                 connection_identifier, natural_key, public_json, sealed, created_at, updated_at, context_keys,
                 app_install, app_install_next)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11, CASE WHEN ?11 IS NULL THEN NULL ELSE ?9 END)
             ON CONFLICT (environment_id, identifier) DO UPDATE SET
                 public_json = excluded.public_json, sealed = excluded.sealed, updated_at = excluded.updated_at,
                 context_keys = excluded.context_keys,
                 app_install = CASE WHEN COALESCE(endpoints.app_install, 'failed') <> 'failed' THEN endpoints.app_install
                     ELSE excluded.app_install END,
                 app_install_attempts = CASE WHEN COALESCE(endpoints.app_install, 'failed') <> 'failed'
                     THEN endpoints.app_install_attempts ELSE 0 END,
                 app_install_next = CASE WHEN COALESCE(endpoints.app_install, 'failed') <> 'failed'
                     THEN endpoints.app_install_next ELSE excluded.app_install_next END",
            params![env, row.identifier, e.integration_identifier, e.subscriber_id, e.connection_identifier, row.natural_key, row.public_json, row.sealed, now, row.context_keys, row.app_install],
        )
        .map_err(|e| StoreError::with("write endpoint", e))?;
        Ok(())
    }

    /// A connection's full record, tokens included (for the host's own use:
    /// sending messages, refreshing; never for an API answer).
    pub fn connection_with_tokens(
        &self,
        env: &str,
        identifier: &str,
    ) -> Result<Option<ChannelConnectionRecord>, StoreError> {
        let sealed: Option<Vec<u8>> = self
            .lock()
            .query_row(
                "SELECT sealed FROM connections WHERE environment_id = ?1 AND identifier = ?2",
                params![env, identifier],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| StoreError::with("read connection", e))?;
        let Some(sealed) = sealed else { return Ok(None) };
        self.sealer.open_connection(env, identifier, &sealed).map(Some)
    }

    /// Writes a connection as given (see [`Connections::put_connection`]).
    pub fn put_connection(
        &self,
        env: &str,
        c: &ChannelConnectionRecord,
        write: Write,
        now: i64,
    ) -> Result<Result<ConnectionRow, Conflict>, StoreError> {
        let row = self.sealer.connection_row(env, c, &c.identifier)?;
        let sql = match write {
            Write::Create => {
                "INSERT INTO connections (environment_id, identifier, integration_identifier, subscriber_id,
                     natural_key, public_json, sealed, created_at, updated_at, context_keys, refreshable_until)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10)
                 ON CONFLICT DO NOTHING RETURNING created_at, updated_at, reconnect"
            }
            Write::Update => {
                "UPDATE connections SET integration_identifier = ?3, subscriber_id = ?4, natural_key = ?5,
                     public_json = ?6, sealed = ?7, updated_at = ?8, context_keys = ?9, refreshable_until = ?10,
                     reconnect = NULL
                 WHERE environment_id = ?1 AND identifier = ?2 RETURNING created_at, updated_at, reconnect"
            }
        };
        let written: Option<(i64, i64, Option<String>)> = self
            .lock()
            .query_row(
                sql,
                params![
                    env,
                    row.identifier,
                    c.integration_identifier,
                    c.subscriber_id,
                    row.natural_key,
                    row.public_json,
                    row.sealed,
                    now,
                    row.context_keys,
                    row.refreshable_until
                ],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(|e| StoreError::with("write connection", e))?;
        let Some((created_at, updated_at, reconnect)) = written else {
            return Ok(Err(write.refused()));
        };
        ConnectionRow::from_public(&row.public_json, created_at, updated_at, reconnect).map(Ok)
    }

    /// See [`Connections::workspace_connections`].
    pub fn workspace_connections(
        &self,
        env: &str,
        integration: &str,
        workspace: &str,
    ) -> Result<Vec<String>, StoreError> {
        let conn = self.read_lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT identifier FROM connections WHERE environment_id = ?1 AND integration_identifier = ?2
                 AND json_extract(public_json, '$.workspace.id') = ?3",
            )
            .map_err(|e| StoreError::with("find connections", e))?;
        let rows = stmt
            .query_map(params![env, integration, workspace], |r| r.get(0))
            .map_err(|e| StoreError::with("find connections", e))?;
        rows.map(|r| r.map_err(|e| StoreError::with("find connections", e)))
            .collect()
    }

    /// Removes a connection and its endpoints (see [`Connections::delete_connection`]).
    pub fn delete_connection(&self, env: &str, identifier: &str) -> Result<Option<u64>, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| StoreError::with("begin", e))?;
        let gone = tx
            .execute(
                "DELETE FROM connections WHERE environment_id = ?1 AND identifier = ?2",
                params![env, identifier],
            )
            .map_err(|e| StoreError::with("delete connection", e))?;
        if gone == 0 {
            return Ok(None);
        }
        let endpoints = tx
            .execute(
                "DELETE FROM endpoints WHERE environment_id = ?1 AND connection_identifier = ?2",
                params![env, identifier],
            )
            .map_err(|e| StoreError::with("delete endpoints", e))?;
        tx.commit().map_err(|e| StoreError::with("commit", e))?;
        Ok(Some(endpoints as u64))
    }

    /// Writes an endpoint as given (see [`Endpoints::put_endpoint`]).
    pub fn put_endpoint(
        &self,
        env: &str,
        identifier: &str,
        e: &ChannelEndpointRecord,
        write: Write,
        now: i64,
    ) -> Result<Result<EndpointRow, Conflict>, StoreError> {
        let row = self.sealer.endpoint_row(env, e, Some(identifier.to_owned()))?;
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| StoreError::with("begin", e))?;
        let holder: Option<String> = tx
            .query_row(
                "SELECT identifier FROM endpoints WHERE environment_id = ?1 AND natural_key = ?2",
                params![env, row.natural_key],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| StoreError::with("find endpoint", e))?;
        if holder.is_some_and(|h| h != identifier) {
            return Ok(Err(Conflict::Exists));
        }
        let sql = match write {
            Write::Create => {
                "INSERT INTO endpoints (environment_id, identifier, integration_identifier, subscriber_id,
                     connection_identifier, natural_key, public_json, sealed, created_at, updated_at, context_keys)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)
                 ON CONFLICT DO NOTHING RETURNING created_at, updated_at, app_install"
            }
            Write::Update => {
                "UPDATE endpoints SET integration_identifier = ?3, subscriber_id = ?4, connection_identifier = ?5,
                     natural_key = ?6, public_json = ?7, sealed = ?8, updated_at = ?9, context_keys = ?10,
                     app_install = NULL, app_install_next = NULL
                 WHERE environment_id = ?1 AND identifier = ?2 RETURNING created_at, updated_at, app_install"
            }
        };
        let written: Option<(i64, i64, Option<String>)> = tx
            .query_row(
                sql,
                params![
                    env,
                    row.identifier,
                    e.integration_identifier,
                    e.subscriber_id,
                    e.connection_identifier,
                    row.natural_key,
                    row.public_json,
                    row.sealed,
                    now,
                    row.context_keys
                ],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(|e| StoreError::with("write endpoint", e))?;
        let Some((created_at, updated_at, app_install)) = written else {
            return Ok(Err(write.refused()));
        };
        tx.commit().map_err(|e| StoreError::with("commit", e))?;
        Ok(Ok(EndpointRow {
            identifier: row.identifier,
            endpoint: decode(&row.public_json)?,
            created_at,
            updated_at,
            app_install,
        }))
    }

    /// Removes an endpoint.
    pub fn delete_endpoint(&self, env: &str, identifier: &str) -> Result<bool, StoreError> {
        let gone = self
            .lock()
            .execute(
                "DELETE FROM endpoints WHERE environment_id = ?1 AND identifier = ?2",
                params![env, identifier],
            )
            .map_err(|e| StoreError::with("delete endpoint", e))?;
        Ok(gone > 0)
    }

    /// Keeps a start link until the state expires.
    pub fn save_start(&self, id: &str, link: &StartLink, expires_at: i64) -> Result<(), StoreError> {
        self.lock()
            .execute(
                "INSERT INTO starts (id, url, cookie, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, link.url, link.cookie, expires_at],
            )
            .map_err(|e| StoreError::with("starts", e))?;
        Ok(())
    }

    /// Takes a start link (once).
    pub fn take_start(&self, id: &str, now: i64) -> Result<Option<StartLink>, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(|e| StoreError::with("begin", e))?;
        tx.execute("DELETE FROM starts WHERE expires_at < ?1", params![now])
            .map_err(|e| StoreError::with("starts", e))?;
        let found = tx
            .query_row("SELECT url, cookie FROM starts WHERE id = ?1", params![id], |r| {
                Ok(StartLink {
                    url: r.get(0)?,
                    cookie: r.get(1)?,
                })
            })
            .optional()
            .map_err(|e| StoreError::with("starts", e))?;
        tx.execute("DELETE FROM starts WHERE id = ?1", params![id])
            .map_err(|e| StoreError::with("starts", e))?;
        tx.commit().map_err(|e| StoreError::with("commit", e))?;
        Ok(found)
    }
}

impl Connections for Store {
    fn connection_record<'a>(
        &'a self,
        env: &'a str,
        identifier: &'a str,
    ) -> StoreFuture<'a, Option<ChannelConnectionRecord>> {
        let (store, env, id) = (self.clone(), env.to_owned(), identifier.to_owned());
        Box::pin(blocking(move || store.connection_with_tokens(&env, &id)))
    }

    fn put_connection<'a>(
        &'a self,
        env: &'a str,
        connection: &'a ChannelConnectionRecord,
        write: Write,
        now: i64,
    ) -> StoreFuture<'a, Result<ConnectionRow, Conflict>> {
        let (store, env, c) = (self.clone(), env.to_owned(), connection.clone());
        Box::pin(blocking(move || store.put_connection(&env, &c, write, now)))
    }

    fn workspace_connections<'a>(
        &'a self,
        env: &'a str,
        integration: &'a str,
        workspace: &'a str,
    ) -> StoreFuture<'a, Vec<String>> {
        let (store, env, integration, workspace) = (
            self.clone(),
            env.to_owned(),
            integration.to_owned(),
            workspace.to_owned(),
        );
        Box::pin(blocking(move || {
            store.workspace_connections(&env, &integration, &workspace)
        }))
    }

    fn delete_connection<'a>(&'a self, env: &'a str, identifier: &'a str) -> StoreFuture<'a, Option<u64>> {
        let (store, env, id) = (self.clone(), env.to_owned(), identifier.to_owned());
        Box::pin(blocking(move || store.delete_connection(&env, &id)))
    }

    fn save<'a>(
        &'a self,
        env: &'a str,
        records: &'a StoredRecords,
        pin: Option<&'a str>,
        now: i64,
    ) -> StoreFuture<'a, Saved> {
        let (store, env, records) = (self.clone(), env.to_owned(), records.clone());
        let pin = pin.map(str::to_owned);
        Box::pin(blocking(move || store.save(&env, &records, pin.as_deref(), now)))
    }

    fn list_connections<'a>(
        &'a self,
        env: &'a str,
        filter: &'a Filter,
    ) -> StoreFuture<'a, Listed<ConnectionRow>> {
        if filter.identifier.is_some() && !self.readers.is_empty() {
            // A point read on a reader of its own (WAL: no writer to wait
            // for) takes microseconds: on this thread, without the hop to
            // the blocking pool that would cost more than the read.
            return Box::pin(std::future::ready(self.list_connections(env, filter)));
        }
        let (store, env, filter) = (self.clone(), env.to_owned(), filter.clone());
        Box::pin(blocking(move || store.list_connections(&env, &filter)))
    }
}

impl Endpoints for Store {
    fn put_endpoint<'a>(
        &'a self,
        env: &'a str,
        identifier: &'a str,
        endpoint: &'a ChannelEndpointRecord,
        write: Write,
        now: i64,
    ) -> StoreFuture<'a, Result<EndpointRow, Conflict>> {
        let (store, env, id, e) = (
            self.clone(),
            env.to_owned(),
            identifier.to_owned(),
            endpoint.clone(),
        );
        Box::pin(blocking(move || store.put_endpoint(&env, &id, &e, write, now)))
    }

    fn endpoint_record<'a>(
        &'a self,
        env: &'a str,
        identifier: &'a str,
    ) -> StoreFuture<'a, Option<ChannelEndpointRecord>> {
        let (store, env, id) = (self.clone(), env.to_owned(), identifier.to_owned());
        Box::pin(blocking(move || {
            let sealed: Option<Vec<u8>> = store
                .read_lock()
                .query_row(
                    "SELECT sealed FROM endpoints WHERE environment_id = ?1 AND identifier = ?2",
                    params![env, id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| StoreError::with("read endpoint", e))?;
            sealed
                .map(|sealed| store.sealer.open_endpoint(&env, &id, &sealed))
                .transpose()
        }))
    }

    fn delete_endpoint<'a>(&'a self, env: &'a str, identifier: &'a str) -> StoreFuture<'a, bool> {
        let (store, env, id) = (self.clone(), env.to_owned(), identifier.to_owned());
        Box::pin(blocking(move || store.delete_endpoint(&env, &id)))
    }

    fn list_endpoints<'a>(
        &'a self,
        env: &'a str,
        filter: &'a Filter,
    ) -> StoreFuture<'a, Listed<EndpointRow>> {
        let (store, env, filter) = (self.clone(), env.to_owned(), filter.clone());
        Box::pin(blocking(move || store.list_endpoints(&env, &filter)))
    }
}

impl StartLinks for Store {
    fn save_start<'a>(&'a self, id: &'a str, link: &'a StartLink, expires_at: i64) -> StoreFuture<'a, ()> {
        let (store, id, link) = (self.clone(), id.to_owned(), link.clone());
        Box::pin(blocking(move || store.save_start(&id, &link, expires_at)))
    }

    fn take_start<'a>(&'a self, id: &'a str, now: i64) -> StoreFuture<'a, Option<StartLink>> {
        let (store, id) = (self.clone(), id.to_owned());
        Box::pin(blocking(move || store.take_start(&id, now)))
    }
}
