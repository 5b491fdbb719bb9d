//! The list query, written once for every SQL engine: Novu's filters and
//! cursor paging as SQL text with numbered parameters, which each engine
//! binds its own way (`?N` in SQLite, `$N` in PostgreSQL).

use super::records::{Filter, Order, OrderBy};

pub use super::records::COUNT_CAP;

/// A parameter of a built statement.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    /// A text value.
    Text(String),
    /// An integer.
    Int(i64),
}

/// A statement and its parameters, in order.
#[derive(Debug)]
pub struct Built {
    /// The SQL, parameters as the engine writes them.
    pub sql: String,
    /// The values to bind.
    pub params: Vec<Param>,
    /// Whether the rows come back in the opposite order (a `before` page).
    pub reversed: bool,
}

/// What differs between engines and tables.
pub struct Table<'a> {
    /// The table's name.
    pub name: &'a str,
    /// The columns selected, in the order the engine reads them.
    pub columns: &'a str,
    /// The insertion-order column breaking ties (`rowid`, `seq`).
    pub tiebreak: &'a str,
    /// Whether rows have a `connection_identifier` (endpoints).
    pub linked: bool,
    /// Writes parameter `n` (1-based).
    pub placeholder: fn(usize) -> String,
}

struct Builder<'a> {
    table: &'a Table<'a>,
    sql: String,
    params: Vec<Param>,
}

impl Builder<'_> {
    fn bind(&mut self, p: Param) -> String {
        self.params.push(p);
        (self.table.placeholder)(self.params.len())
    }

    /// `WHERE` with the environment and every filter set.
    fn filters(&mut self, env: &str, f: &Filter) {
        let env = self.bind(Param::Text(env.to_owned()));
        self.sql.push_str(&format!(" WHERE environment_id = {env}"));
        if let Some(s) = &f.subscriber_id {
            let p = self.bind(Param::Text(s.clone()));
            self.sql.push_str(&format!(" AND subscriber_id = {p}"));
        }
        if let Some(id) = &f.identifier {
            let p = self.bind(Param::Text(id.clone()));
            self.sql.push_str(&format!(" AND identifier = {p}"));
        }
        if let (true, Some(c)) = (self.table.linked, &f.connection_identifier) {
            let p = self.bind(Param::Text(c.clone()));
            self.sql.push_str(&format!(" AND connection_identifier = {p}"));
        }
        if let Some(ids) = &f.integration_identifiers {
            if ids.is_empty() {
                self.sql.push_str(" AND 1 = 0");
            } else {
                let list: Vec<String> = ids.iter().map(|i| self.bind(Param::Text(i.clone()))).collect();
                self.sql
                    .push_str(&format!(" AND integration_identifier IN ({})", list.join(", ")));
            }
        }
        match f.shared {
            Some(true) => self.sql.push_str(" AND subscriber_id IS NULL"),
            Some(false) => self.sql.push_str(" AND subscriber_id IS NOT NULL"),
            None => {}
        }
        if let Some(keys) = &f.context_keys {
            let p = self.bind(Param::Text(keys.clone()));
            self.sql.push_str(&format!(" AND context_keys = {p}"));
        }
    }
}

/// A page of rows: the filters, then the cursor (a row's identifier; none
/// found, no rows), in the filter's order, one row more than asked so the
/// caller knows whether another page follows.
pub fn page(table: &Table<'_>, env: &str, f: &Filter) -> Built {
    let mut b = Builder {
        table,
        sql: format!("SELECT {} FROM {}", table.columns, table.name),
        params: Vec::new(),
    };
    b.filters(env, f);
    let column = match f.order_by {
        OrderBy::CreatedAt => "created_at",
        OrderBy::UpdatedAt => "updated_at",
    };
    let tb = table.tiebreak;
    let (cursor, backwards) = match (&f.after, &f.before) {
        (Some(after), _) => (Some(after), false),
        (None, Some(before)) => (Some(before), true),
        (None, None) => (None, false),
    };
    // Walking forward in DESC order means smaller keys; a `before` page walks back.
    let ascending = (f.order == Order::Asc) != backwards;
    if let Some(id) = cursor {
        let env = b.bind(Param::Text(env.to_owned()));
        let id = b.bind(Param::Text(id.clone()));
        let op = match (ascending, f.include_cursor) {
            (true, false) => ">",
            (true, true) => ">=",
            (false, false) => "<",
            (false, true) => "<=",
        };
        b.sql.push_str(&format!(
            " AND ({column}, {tb}) {op} (SELECT {column}, {tb} FROM {} WHERE environment_id = {env} AND identifier = {id})",
            table.name
        ));
    }
    let limit = b.bind(Param::Int(f.limit + 1));
    if f.identifier.is_some() {
        // A point read: one row at most, found by its key (an ORDER BY
        // could lead the planner to walk the environment's rows instead).
        b.sql.push_str(&format!(" LIMIT {limit}"));
    } else {
        let dir = if ascending { "ASC" } else { "DESC" };
        b.sql
            .push_str(&format!(" ORDER BY {column} {dir}, {tb} {dir} LIMIT {limit}"));
    }
    Built {
        sql: b.sql,
        params: b.params,
        reversed: backwards,
    }
}

/// How many rows the filters match, counted up to [`COUNT_CAP`] + 1.
pub fn count(table: &Table<'_>, env: &str, f: &Filter) -> Built {
    let mut b = Builder {
        table,
        sql: format!("SELECT 1 FROM {}", table.name),
        params: Vec::new(),
    };
    b.filters(env, f);
    let cap = b.bind(Param::Int(COUNT_CAP + 1));
    Built {
        sql: format!("SELECT COUNT(*) FROM ({} LIMIT {cap}) AS matched", b.sql),
        params: b.params,
        reversed: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Table<'static> = Table {
        name: "t",
        columns: "identifier",
        tiebreak: "rowid",
        linked: true,
        placeholder: |n| format!("?{n}"),
    };

    #[test]
    fn a_page_after_a_cursor_walks_on_in_the_order_asked() {
        let f = Filter {
            after: Some("c9".into()),
            subscriber_id: Some("s".into()),
            integration_identifiers: Some(vec!["a".into(), "b".into()]),
            ..Filter::page(10)
        };
        let built = page(&T, "env", &f);
        assert_eq!(
            built.sql,
            "SELECT identifier FROM t WHERE environment_id = ?1 AND subscriber_id = ?2 \
             AND integration_identifier IN (?3, ?4) AND (created_at, rowid) < \
             (SELECT created_at, rowid FROM t WHERE environment_id = ?5 AND identifier = ?6) \
             ORDER BY created_at DESC, rowid DESC LIMIT ?7"
        );
        assert_eq!(built.params.last(), Some(&Param::Int(11)));
        assert!(!built.reversed);
        let back = Filter {
            before: Some("c9".into()),
            include_cursor: true,
            ..Filter::page(10)
        };
        let built = page(&T, "env", &back);
        assert!(
            built.sql.contains(">= (SELECT") && built.sql.contains("ASC"),
            "{}",
            built.sql
        );
        assert!(built.reversed);
    }

    #[test]
    fn no_integration_of_a_provider_matches_nothing() {
        let f = Filter {
            integration_identifiers: Some(Vec::new()),
            ..Filter::page(10)
        };
        assert!(count(&T, "env", &f).sql.contains("1 = 0"));
    }
}
