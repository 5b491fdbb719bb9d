//! The lists in SQLite: a page and its count, in one read transaction.

use rusqlite::params_from_iter;

use super::{Store, decode};
use crate::store::query::{self, Param, Table};
use crate::store::{ConnectionRow, EndpointRow, Filter, Listed, StoreError};

impl Store {
    /// A page of the environment's connections, credentials removed.
    pub fn list_connections(&self, env: &str, f: &Filter) -> Result<Listed<ConnectionRow>, StoreError> {
        let table = Table {
            name: "connections",
            columns: "identifier, public_json, created_at, updated_at, reconnect",
            tiebreak: "rowid",
            linked: false,
            placeholder: |n| format!("?{n}"),
        };
        self.listed(
            &table,
            env,
            f,
            |(_, public, created_at, updated_at, reconnect)| {
                ConnectionRow::from_public(&public, created_at, updated_at, reconnect)
            },
            |r| r.connection.identifier.as_str(),
        )
    }

    /// A page of the environment's endpoints, credentials removed.
    pub fn list_endpoints(&self, env: &str, f: &Filter) -> Result<Listed<EndpointRow>, StoreError> {
        let table = Table {
            name: "endpoints",
            columns: "identifier, public_json, created_at, updated_at, app_install",
            tiebreak: "rowid",
            linked: true,
            placeholder: |n| format!("?{n}"),
        };
        self.listed(
            &table,
            env,
            f,
            |(identifier, public, created_at, updated_at, app_install)| {
                Ok(EndpointRow {
                    identifier,
                    endpoint: decode(&public)?,
                    created_at,
                    updated_at,
                    app_install,
                })
            },
            |r| r.identifier.as_str(),
        )
    }

    /// A page and its count, in one read transaction.
    fn listed<T>(
        &self,
        table: &Table<'_>,
        env: &str,
        f: &Filter,
        row: impl Fn(ListedColumns) -> Result<T, StoreError>,
        id: fn(&T) -> &str,
    ) -> Result<Listed<T>, StoreError> {
        let conn = self.read_lock();
        if let Some(id) = f.point() {
            // By primary key: the generic page's statement would be prepared
            // again on each run (SQLite's STAT4 re-plans it for new values).
            let sql = format!(
                "SELECT {} FROM {} WHERE environment_id = ?1 AND identifier = ?2",
                table.columns, table.name
            );
            let mut stmt = conn
                .prepare_cached(&sql)
                .map_err(|e| StoreError::with("list", e))?;
            let rows = stmt
                .query_map(rusqlite::params![env, id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .map_err(|e| StoreError::with("list", e))?
                .map(|r| r.map_err(|e| StoreError::with("list", e)).and_then(&row))
                .collect::<Result<Vec<T>, StoreError>>()?;
            let total = rows.len() as i64;
            return Ok(Listed {
                rows,
                next: None,
                previous: None,
                total,
                capped: false,
            });
        }
        // One statement needs no transaction; a page and its count read one
        // snapshot (statements on the connection run inside it).
        let _snapshot = if f.count {
            Some(
                conn.unchecked_transaction()
                    .map_err(|e| StoreError::with("list", e))?,
            )
        } else {
            None
        };
        let db: &rusqlite::Connection = &conn;
        let built = query::page(table, env, f);
        let rows = {
            let mut stmt = db
                .prepare_cached(&built.sql)
                .map_err(|e| StoreError::with("list", e))?;
            let raw = stmt
                .query_map(params_from_iter(built.params.iter().map(bind)), |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .map_err(|e| StoreError::with("list", e))?;
            raw.map(|r| r.map_err(|e| StoreError::with("list", e)).and_then(&row))
                .collect::<Result<Vec<T>, StoreError>>()?
        };
        let counted: i64 = if f.count {
            let counting = query::count(table, env, f);
            db.query_row(
                &counting.sql,
                params_from_iter(counting.params.iter().map(bind)),
                |r| r.get(0),
            )
            .map_err(|e| StoreError::with("count", e))?
        } else {
            rows.len() as i64
        };
        Ok(Listed::assemble(rows, f, built.reversed, counted, id))
    }
}

/// A listed row's columns: identifier, public JSON, times, and a status
/// (a connection's reconnection mark, an endpoint's app installation).
type ListedColumns = (String, String, i64, i64, Option<String>);

/// A built statement's parameter as SQLite takes it.
fn bind(p: &Param) -> rusqlite::types::Value {
    match p {
        Param::Text(t) => rusqlite::types::Value::Text(t.clone()),
        Param::Int(i) => rusqlite::types::Value::Integer(*i),
    }
}
