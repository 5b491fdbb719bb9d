//! The lists in PostgreSQL: a page and its count, pipelined.

use deadpool_postgres::Object;
use tokio_postgres::Statement;
use tokio_postgres::types::ToSql;

use super::{CACHED_STATEMENTS, PgStore, bounded, decode, failed};
use crate::store::query::{self, Param, Table};
use crate::store::{ConnectionRow, EndpointRow, Filter, Listed, StoreError, StoreFuture};

impl PgStore {
    /// A page of connections ([`crate::store::Connections::list_connections`]).
    pub(super) fn connections_page<'a>(
        &'a self,
        env: &'a str,
        f: &'a Filter,
    ) -> StoreFuture<'a, Listed<ConnectionRow>> {
        let table = Table {
            name: "cc_connections",
            columns: "identifier, public_json, created_at, updated_at, reconnect",
            tiebreak: "seq",
            linked: false,
            placeholder: |n| format!("${n}"),
        };
        Box::pin(bounded(async move {
            self.listed(
                &table,
                env,
                f,
                |r: &ConnectionRow| r.connection.identifier.as_str(),
                |r| ConnectionRow::from_public(r.get(1), r.get(2), r.get(3), r.get(4)),
            )
            .await
        }))
    }

    /// A page of endpoints ([`crate::store::Endpoints::list_endpoints`]).
    pub(super) fn endpoints_page<'a>(
        &'a self,
        env: &'a str,
        f: &'a Filter,
    ) -> StoreFuture<'a, Listed<EndpointRow>> {
        let table = Table {
            name: "cc_endpoints",
            columns: "identifier, public_json, created_at, updated_at, app_install",
            tiebreak: "seq",
            linked: true,
            placeholder: |n| format!("${n}"),
        };
        Box::pin(bounded(async move {
            self.listed(
                &table,
                env,
                f,
                |r: &EndpointRow| r.identifier.as_str(),
                |r| {
                    Ok(EndpointRow {
                        identifier: r.get(0),
                        endpoint: decode(r.get(1))?,
                        created_at: r.get(2),
                        updated_at: r.get(3),
                        app_install: r.get(4),
                    })
                },
            )
            .await
        }))
    }
    /// A page and its count (two statements, pipelined).
    async fn listed<T>(
        &self,
        table: &Table<'_>,
        env: &str,
        f: &Filter,
        id: fn(&T) -> &str,
        row: impl Fn(&tokio_postgres::Row) -> Result<T, StoreError>,
    ) -> Result<Listed<T>, StoreError> {
        let (client, _) = self.conn().await?;
        let built = query::page(table, env, f);
        let page_params = bound(&built.params);
        let page_refs = refs(&page_params);
        let page = prepare(&client, &built.sql, f).await?;
        // A point read's count is its row count (as on SQLite).
        let (rows, counted) = if f.count && f.point().is_none() {
            let counting = query::count(table, env, f);
            let count_params = bound(&counting.params);
            let count_refs = refs(&count_params);
            let count = prepare(&client, &counting.sql, f).await?;
            let (rows, counted) = tokio::try_join!(
                client.query(&page, &page_refs),
                client.query_one(&count, &count_refs),
            )
            .map_err(failed("list"))?;
            (rows, counted.get::<_, i64>(0))
        } else {
            let rows = client.query(&page, &page_refs).await.map_err(failed("list"))?;
            let n = rows.len() as i64;
            (rows, n)
        };
        let rows = rows.iter().map(row).collect::<Result<Vec<T>, StoreError>>()?;
        Ok(Listed::assemble(rows, f, built.reversed, counted, id))
    }
}

/// Most texts are prepared once per pooled connection: a statement by text
/// is prepared on every run, a second round trip (a connect naming its
/// connection reads it here, on every connect). A list of integration
/// identifiers gives one text per length, so long lists are prepared each
/// time rather than kept; and the filters, orders and cursors a caller
/// picks give some 1,500 texts even so (about 40 kB each in the server, per
/// connection), so past [`CACHED_STATEMENTS`] the cache starts over.
async fn prepare(client: &Object, sql: &str, f: &Filter) -> Result<Statement, StoreError> {
    const CACHED_LIST_LEN: usize = 8;
    if f.integration_identifiers
        .as_ref()
        .is_none_or(|l| l.len() <= CACHED_LIST_LEN)
    {
        // Those in use stay prepared until dropped; the rest are closed.
        if client.statement_cache.size() >= CACHED_STATEMENTS {
            client.statement_cache.clear();
        }
        client.prepare_cached(sql).await
    } else {
        client.prepare(sql).await
    }
    .map_err(failed("list"))
}

/// A built statement's parameters as PostgreSQL takes them.
fn bound(params: &[Param]) -> Vec<Box<dyn ToSql + Sync + Send>> {
    params
        .iter()
        .map(|p| -> Box<dyn ToSql + Sync + Send> {
            match p {
                Param::Text(t) => Box::new(t.clone()),
                Param::Int(i) => Box::new(*i),
            }
        })
        .collect()
}

fn refs(params: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect()
}
