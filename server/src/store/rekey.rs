//! `rekey`: every connection and endpoint row sealed again under the active
//! token key, so the keys before it can leave the configuration.
//!
//! Each engine walks a table in primary-key order, a batch of rows at a time
//! ([`Rekey::rekey_batch`]), and picks only the rows whose sealed value
//! names another key than the active one (the header of
//! [`crate::store::seal`], compared in SQL: see `Stale`). A batch is one
//! transaction, and a row is written only if its sealed value is still the
//! one read: a running server that wrote the row meanwhile keeps its write.
//! Nothing is kept between runs: a run that stops (a crash, `max_batches`)
//! has committed its batches, and the next run finds only the rows still
//! under other keys.
//!
//! Parked records (a callback's records kept a few minutes for a retry, in
//! SQLite or Redis) are not re-sealed: they expire on their own, so keep the
//! old key in the ring for their lifetime after the new key became active.

use crate::store::seal::{MAGIC, Sealed};
use crate::store::{StoreError, StoreFuture};

/// Where a walk through a table is: the last row's environment and identifier.
pub type Cursor = (String, String);

/// What one batch did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Rows read (fewer than asked: the table is done).
    pub seen: usize,
    /// The last row read: the next batch starts after it.
    pub last: Option<Cursor>,
    /// Rows written under the active key.
    pub resealed: u64,
    /// Rows that no key of the ring opens, left as they are.
    pub unreadable: u64,
}

/// The engine's part of `rekey`.
pub trait Rekey {
    /// Up to `limit` rows of `kind` after `after` (from the start: `None`)
    /// that are not under the active key, sealed again under it in one
    /// transaction; each written only if unchanged since it was read.
    fn rekey_batch<'a>(
        &'a self,
        kind: Sealed,
        after: Option<&'a Cursor>,
        limit: usize,
    ) -> StoreFuture<'a, Batch>;

    /// How many connection and endpoint rows each other key than the
    /// active one seals (key 0: rows without a key id), by key id.
    fn not_active<'a>(&'a self) -> StoreFuture<'a, Vec<(u8, u64)>>;
}

/// How a run goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RekeyOptions {
    /// Rows per batch (one transaction each); at least 1.
    pub batch_size: usize,
    /// Stop after this many batches (the next run continues).
    pub max_batches: Option<u64>,
}

impl Default for RekeyOptions {
    fn default() -> Self {
        RekeyOptions {
            batch_size: 500,
            max_batches: None,
        }
    }
}

/// What a run did, and what is left.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RekeyReport {
    /// Rows written under the active key.
    pub resealed: u64,
    /// Rows no key of the ring opens (each logged with its identifier).
    pub unreadable: u64,
    /// Batches run.
    pub batches: u64,
    /// Whether `max_batches` stopped the run before the end.
    pub stopped: bool,
    /// Rows under other keys when the run ended, by key id.
    pub remaining: Vec<(u8, u64)>,
}

impl RekeyReport {
    /// Rows under other keys when the run ended.
    pub fn remaining_rows(&self) -> u64 {
        self.remaining.iter().map(|(_, n)| n).sum()
    }
}

/// Re-seals every connection and endpoint row under the active key.
pub async fn rekey(store: &(impl Rekey + ?Sized), options: RekeyOptions) -> Result<RekeyReport, StoreError> {
    let limit = options.batch_size.max(1);
    let mut report = RekeyReport::default();
    'tables: for kind in [Sealed::Connection, Sealed::Endpoint] {
        let mut after: Option<Cursor> = None;
        loop {
            if options.max_batches.is_some_and(|max| report.batches >= max) {
                report.stopped = true;
                break 'tables;
            }
            let batch = store.rekey_batch(kind, after.as_ref(), limit).await?;
            report.batches += 1;
            report.resealed += batch.resealed;
            report.unreadable += batch.unreadable;
            if report.batches.is_multiple_of(20) {
                tracing::info!(
                    resealed = report.resealed,
                    batches = report.batches,
                    "rekey: in progress"
                );
            }
            match batch.last {
                Some(last) if batch.seen >= limit => after = Some(last),
                _ => break,
            }
        }
    }
    report.remaining = store.not_active().await?;
    Ok(report)
}

/// The parameters of the engines' filter for the rows not under the
/// active key, written alike in SQLite and PostgreSQL as
/// `CASE WHEN substr(sealed, 1, 7) = magic THEN substr(sealed, 8, 1) <> id ELSE headed END`:
/// a value with a header is stale when it names another key; one without
/// (key 0's) when the active key writes headers.
pub(crate) struct Stale {
    /// [`MAGIC`].
    pub(crate) magic: &'static [u8],
    /// The active key's id, as the one byte after the magic.
    pub(crate) id: Vec<u8>,
    /// Whether the active key writes a header (every key but 0).
    pub(crate) headed: bool,
}

impl Stale {
    /// The filter for rows not under `active`.
    pub(crate) fn of(active: u8) -> Stale {
        Stale {
            magic: MAGIC.as_slice(),
            id: vec![active],
            headed: active != 0,
        }
    }
}

/// Per-key counts from the engines' `(header id byte or empty, rows)` pairs.
pub(crate) fn by_key(counts: impl IntoIterator<Item = (Vec<u8>, u64)>) -> Vec<(u8, u64)> {
    let mut out: Vec<(u8, u64)> = Vec::new();
    for (id, n) in counts {
        let id = id.first().copied().unwrap_or(0);
        match out.iter_mut().find(|(k, _)| *k == id) {
            Some((_, total)) => *total += n,
            None => out.push((id, n)),
        }
    }
    out.sort_unstable();
    out
}

/// The filter for the rows not under the active key (placeholders 1 to 3:
/// the magic, the active id, whether a row without a header is stale), in
/// the engine's placeholder style.
pub(crate) fn stale_filter(p: fn(usize) -> String) -> String {
    format!(
        "CASE WHEN substr(sealed, 1, 7) = {} THEN substr(sealed, 8, 1) <> {} ELSE {} END",
        p(1),
        p(2),
        p(3)
    )
}

/// The next rows of `table` not under the active key, in primary-key order
/// (placeholder 4 the limit; after a cursor, 5 and 6 its environment and
/// identifier).
pub(crate) fn stale_rows(table: &str, after: bool, p: fn(usize) -> String) -> String {
    let from = if after {
        format!("AND (environment_id, identifier) > ({}, {})", p(5), p(6))
    } else {
        String::new()
    };
    format!(
        "SELECT environment_id, identifier, sealed FROM {table} WHERE ({}) {from}
         ORDER BY environment_id, identifier LIMIT {}",
        stale_filter(p),
        p(4)
    )
}
