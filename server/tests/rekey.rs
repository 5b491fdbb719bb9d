//! The token key at rest rotates (issue 19, item 5): a sealed row names its
//! key, a ring of keys opens every row, a rollout one instance at a time
//! never fails a read, and `rekey` (the library function and the binary's
//! subcommand) moves every row to the active key in batches, resumably,
//! after which the old key can leave the ring. On SQLite, and on a real
//! PostgreSQL (Debian's package: skipped without it, failed under CI).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use channel_connect::records::StoredRecords;
use channel_connect_server::config::{Config, TokenKeys};
use channel_connect_server::os_entropy;
use channel_connect_server::store::postgres::PgStore;
use channel_connect_server::store::rekey::{Rekey, RekeyOptions, RekeyReport, rekey};
use channel_connect_server::store::seal::{Sealer, key_id};
use channel_connect_server::store::sqlite::Store;
use channel_connect_server::store::{Connections, Saved, Write};
use common::db_path;
use common::engines::Postgres;

/// `tokenKeyHex`'s key (id 0: rows from before key ids).
const K0: [u8; 32] = [0x10; 32];
const K1: [u8; 32] = [0x11; 32];
const K2: [u8; 32] = [0x22; 32];
const K9: [u8; 32] = [0x99; 32];

/// A ring: `active` seals, `readers` open what they sealed.
fn ring(active: (u8, &[u8; 32]), readers: &[(u8, &[u8; 32])]) -> TokenKeys {
    readers
        .iter()
        .fold(TokenKeys::new(active.0, active.1), |r, (id, k)| {
            r.with_reader(*id, k).unwrap()
        })
}

/// One Slack install for `team`: a connection with its token, a user link
/// and a webhook (whose URL is sealed too).
fn install(id: &str, team: &str) -> StoredRecords {
    install_with(id, team, &format!("xoxb-{id}"))
}

fn install_with(id: &str, team: &str, token: &str) -> StoredRecords {
    serde_json::from_value(serde_json::json!({
        "connection": {
            "identifier": id, "integrationIdentifier": "slack", "providerId": "slack",
            "workspace": { "id": team },
            "auth": { "accessToken": token, "tokenType": "bot" }
        },
        "endpoints": [
            { "type": "slack_user", "endpoint": { "userId": "U1" }, "subscriberId": "s1",
              "connectionIdentifier": id, "integrationIdentifier": "slack" },
            { "type": "webhook", "endpoint": { "url": format!("https://hooks.example/{id}") },
              "subscriberId": "s1", "connectionIdentifier": id, "integrationIdentifier": "slack" }
        ]
    }))
    .unwrap()
}

async fn save(records: &dyn Connections, id: &str, team: &str) {
    let saved = records.save("env", &install(id, team), None, 1).await.unwrap();
    assert_eq!(saved, Saved::Stored(Some(id.to_owned())));
}

/// Every credentials read answers each connection's own token.
async fn every_read_works(records: &dyn Connections, ids: &[&str]) {
    for id in ids {
        let c = records.connection_record("env", id).await.unwrap().unwrap();
        assert_eq!(c.auth.unwrap().access_token.expose(), format!("xoxb-{id}"));
    }
}

/// Every sealed row as stored: (table, identifier, sealed).
type Raw = Vec<(&'static str, String, Vec<u8>)>;

fn raw_sqlite(db: &Path) -> Raw {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut out = Vec::new();
    for table in ["connections", "endpoints"] {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT identifier, sealed FROM {table} ORDER BY identifier"
            ))
            .unwrap();
        let rows = stmt.query_map([], |r| Ok((table, r.get(0)?, r.get(1)?))).unwrap();
        out.extend(rows.map(Result::unwrap));
    }
    out
}

/// The key ids the rows name, sorted.
fn key_ids(raw: &Raw) -> Vec<u8> {
    let mut ids: Vec<u8> = raw.iter().map(|(_, _, s)| key_id(s)).collect();
    ids.sort_unstable();
    ids
}

/// Every row opens with `keys`: the connections' tokens, the webhooks' URLs.
fn every_row_opens(raw: &Raw, keys: &TokenKeys) {
    let sealer = Sealer::new(keys, os_entropy);
    for (table, id, sealed) in raw {
        if *table == "connections" {
            sealer.open_connection("env", id, sealed).unwrap();
        } else {
            let e = sealer.open_endpoint("env", id, sealed).unwrap();
            if e.endpoint.kind() == "webhook" {
                assert!(
                    e.endpoint
                        .get("url")
                        .unwrap()
                        .starts_with("https://hooks.example/")
                );
            }
        }
    }
}

async fn run(store: &dyn Rekey, batch_size: usize, max_batches: Option<u64>) -> RekeyReport {
    let options = RekeyOptions {
        batch_size,
        max_batches,
    };
    rekey(store, options).await.unwrap()
}

/// Rows sealed under `old` read on `new`'s ring and back: what two
/// instances see while the new key rolls out (`old`: key 1 active, 2
/// reads; `new`: 2 active, 1 reads).
async fn rollout_rules(old: &dyn Connections, new: &dyn Connections) {
    save(old, "by-old", "T1").await;
    save(new, "by-new", "T2").await;
    every_read_works(old, &["by-old", "by-new"]).await;
    every_read_works(new, &["by-old", "by-new"]).await;
    // A write on either (an API write, a re-install) reads on the other.
    let mut c = old.connection_record("env", "by-new").await.unwrap().unwrap();
    c.workspace.name = Some("renamed".into());
    old.put_connection("env", &c, Write::Update, 2)
        .await
        .unwrap()
        .unwrap();
    save(new, "by-old", "T1").await;
    every_read_works(new, &["by-old", "by-new"]).await;
    every_read_works(old, &["by-old", "by-new"]).await;
}

#[tokio::test]
async fn a_new_key_rolls_out_one_instance_at_a_time_on_sqlite() {
    let db = db_path("rekey-rollout");
    let old = Store::open(&db, ring((1, &K1), &[(2, &K2)]), os_entropy).unwrap();
    let new = Store::open(&db, ring((2, &K2), &[(1, &K1)]), os_entropy).unwrap();
    rollout_rules(&old, &new).await;
    // Each row names the key of the instance that wrote it last.
    let raw = raw_sqlite(&db);
    let named = |id: &str| {
        key_id(
            &raw.iter()
                .find(|(t, i, _)| *t == "connections" && i == id)
                .unwrap()
                .2,
        )
    };
    assert_eq!((named("by-old"), named("by-new")), (2, 1));
}

/// Rows under key 0 (`tokenKeyHex`, the format from before key ids) and
/// key 1; the configuration moves to key 2 with both readable; `rekey`;
/// then key 2 alone reads everything, and a key outside the ring is a
/// store error.
#[tokio::test]
async fn rekey_moves_every_row_to_the_active_key_on_sqlite() {
    let db = db_path("rekey-sqlite");
    save(&Store::open(&db, &K0, os_entropy).unwrap(), "legacy", "T0").await;
    save(
        &Store::open(&db, ring((1, &K1), &[(0, &K0)]), os_entropy).unwrap(),
        "one",
        "T1",
    )
    .await;
    assert_eq!(key_ids(&raw_sqlite(&db)), [0, 0, 0, 1, 1, 1]);

    let both = ring((2, &K2), &[(1, &K1), (0, &K0)]);
    let store = Store::open(&db, &both, os_entropy).unwrap();
    every_read_works(&store, &["legacy", "one"]).await;
    let report = run(&store, 500, None).await;
    assert_eq!(
        (report.resealed, report.unreadable, report.stopped),
        (6, 0, false)
    );
    assert!(report.remaining.is_empty(), "{report:?}");
    assert_eq!(key_ids(&raw_sqlite(&db)), [2; 6]);
    assert_eq!(run(&store, 500, None).await.resealed, 0, "nothing left to do");

    // Key 1 and key 0 leave the ring: every row still opens.
    let only_new = ring((2, &K2), &[]);
    let store = Store::open(&db, &only_new, os_entropy).unwrap();
    every_read_works(&store, &["legacy", "one"]).await;
    every_row_opens(&raw_sqlite(&db), &only_new);

    // A row under a key the ring does not have: a store error, and rekey leaves it.
    save(
        &Store::open(&db, ring((9, &K9), &[]), os_entropy).unwrap(),
        "stray",
        "T9",
    )
    .await;
    let err = store.connection_record("env", "stray").await.unwrap_err();
    assert_eq!(err.op(), "unseal");
    assert!(err.to_string().contains("token key 9"), "{err}");
    let report = run(&store, 500, None).await;
    assert_eq!((report.resealed, report.unreadable), (0, 3));
    assert_eq!(report.remaining, [(9, 3)]);
}

#[tokio::test]
async fn rekey_resumes_where_it_stopped_on_sqlite() {
    let db = db_path("rekey-resume");
    let first = Store::open(&db, ring((1, &K1), &[]), os_entropy).unwrap();
    for (id, team) in [("a", "T1"), ("b", "T2"), ("c", "T3")] {
        save(&first, id, team).await;
    }
    let store = Store::open(&db, ring((2, &K2), &[(1, &K1)]), os_entropy).unwrap();
    resume_rules(&store).await;
    every_row_opens(&raw_sqlite(&db), &ring((2, &K2), &[]));

    // And back to one key, `tokenKeyHex`'s: the rows lose their header again.
    let back = Store::open(&db, ring((0, &K0), &[(2, &K2)]), os_entropy).unwrap();
    assert_eq!(run(&back, 500, None).await.resealed, 9);
    assert_eq!(key_ids(&raw_sqlite(&db)), [0; 9]);
    every_row_opens(&raw_sqlite(&db), &TokenKeys::from(&K0));
}

/// Three installs (nine rows) under key 1; `store` seals under key 2.
async fn resume_rules(store: &(impl Rekey + Connections)) {
    // One batch of one row, as if the process had been stopped after it.
    let stopped = run(store, 1, Some(1)).await;
    assert_eq!((stopped.resealed, stopped.batches, stopped.stopped), (1, 1, true));
    assert_eq!(stopped.remaining, [(1, 8)]);
    every_read_works(store, &["a", "b", "c"]).await;
    let two_more = run(store, 1, Some(2)).await;
    assert_eq!((two_more.resealed, two_more.remaining_rows()), (2, 6));
    let rest = run(store, 4, None).await;
    assert_eq!((rest.resealed, rest.stopped), (6, false));
    assert!(rest.remaining.is_empty(), "{rest:?}");
    every_read_works(store, &["a", "b", "c"]).await;
}

/// The demo configuration with `tokenKeys` instead of `tokenKeyHex`:
/// `(id, key, active)`.
fn config_file(name: &str, keys: &[(u8, &[u8; 32], bool)]) -> PathBuf {
    let mut file: serde_json::Value = serde_json::from_str(&Config::demo_text("http://127.0.0.1:1")).unwrap();
    let file_map = file.as_object_mut().unwrap();
    file_map.remove("tokenKeyHex");
    let hex = |k: &[u8; 32]| k.iter().map(|b| format!("{b:02x}")).collect::<String>();
    file_map.insert(
        "tokenKeys".into(),
        keys.iter()
            .map(|(id, k, active)| serde_json::json!({ "id": id, "secretHex": hex(k), "active": active }))
            .collect(),
    );
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-config.json"));
    std::fs::write(&path, file.to_string()).unwrap();
    path
}

/// `channel-connect-server --config FILE <store flags> rekey <args>`: its
/// exit code and what it printed.
fn rekey_binary(config: &Path, store: &[&str], args: &[&str]) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_channel-connect-server"));
    // Only the flags given here: none from the test's environment.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CHANNEL_CONNECT_") {
            command.env_remove(name);
        }
    }
    let out = command
        .arg("--config")
        .arg(config)
        .args(store)
        .arg("rekey")
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn the_rekey_command_reseals_a_sqlite_file() {
    let db = db_path("rekey-binary");
    save(&Store::open(&db, &K0, os_entropy).unwrap(), "legacy", "T0").await;
    save(
        &Store::open(&db, ring((1, &K1), &[]), os_entropy).unwrap(),
        "one",
        "T1",
    )
    .await;
    let config = config_file(
        "rekey-binary",
        &[(2, &K2, true), (1, &K1, false), (0, &K0, false)],
    );
    let db_arg = ["--db", db.to_str().unwrap()];

    let (code, out) = rekey_binary(&config, &db_arg, &["--batch-size", "2", "--max-batches", "1"]);
    assert_eq!(code, 1, "rows remain: {out}");
    assert!(
        out.contains("2 rows sealed again under token key 2 (1 batches)"),
        "{out}"
    );
    assert!(
        out.contains("4 rows remain: 2 under key 0, 2 under key 1"),
        "{out}"
    );
    assert!(out.contains("run it again to continue"), "{out}");

    let (code, out) = rekey_binary(&config, &db_arg, &["--batch-size", "2"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("4 rows sealed again under token key 2"), "{out}");
    assert!(out.contains("no row remains under another key"), "{out}");

    // Key 2 alone now reads every row.
    let only_new = ring((2, &K2), &[]);
    every_read_works(
        &Store::open(&db, &only_new, os_entropy).unwrap(),
        &["legacy", "one"],
    )
    .await;
    every_row_opens(&raw_sqlite(&db), &only_new);

    // A mistyped path is an error, not an empty file "done".
    let missing = db.with_file_name("rekey-no-such.db");
    let (code, out) = rekey_binary(&config, &["--db", missing.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no database at") && !missing.exists(), "{out}");
}

// PostgreSQL: the same rollout, rekey, resume and command on a real server.

/// Every sealed row in PostgreSQL: (table, identifier, sealed).
async fn raw_postgres(pg: &Postgres) -> Raw {
    let (client, conn) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut out = Vec::new();
    for (table, name) in [("connections", "cc_connections"), ("endpoints", "cc_endpoints")] {
        let sql = format!("SELECT identifier, sealed FROM {name} ORDER BY identifier");
        for row in client.query(&sql, &[]).await.unwrap() {
            out.push((table, row.get(0), row.get(1)));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_key_rotates_on_postgres() {
    let Some(pg) = Postgres::start("rekey") else {
        return;
    };
    let url = pg.url();
    let old = PgStore::connect(&url, ring((1, &K1), &[(2, &K2)]), os_entropy)
        .await
        .unwrap();
    let new = PgStore::connect(&url, ring((2, &K2), &[(1, &K1)]), os_entropy)
        .await
        .unwrap();
    rollout_rules(&old, &new).await;
    save(
        &PgStore::connect(&url, &K0, os_entropy).await.unwrap(),
        "legacy",
        "T0",
    )
    .await;
    // by-new's connection was written last by `old` (key 1), the rest by `new`.
    assert_eq!(key_ids(&raw_postgres(&pg).await), [0, 0, 0, 1, 2, 2, 2, 2, 2]);

    // The library's rekey, then key 2 alone.
    let both = PgStore::connect(&url, ring((2, &K2), &[(1, &K1), (0, &K0)]), os_entropy)
        .await
        .unwrap();
    every_read_works(&both, &["legacy", "by-old", "by-new"]).await;
    let report = run(&both, 2, None).await;
    assert_eq!((report.resealed, report.unreadable), (4, 0), "{report:?}");
    assert!(report.remaining.is_empty(), "{report:?}");
    let only_new = ring((2, &K2), &[]);
    let store = PgStore::connect(&url, &only_new, os_entropy).await.unwrap();
    every_read_works(&store, &["legacy", "by-old", "by-new"]).await;
    every_row_opens(&raw_postgres(&pg).await, &only_new);

    // A key outside the ring: a store error, left by rekey.
    save(
        &PgStore::connect(&url, ring((9, &K9), &[]), os_entropy)
            .await
            .unwrap(),
        "stray",
        "T9",
    )
    .await;
    let err = store.connection_record("env", "stray").await.unwrap_err();
    assert!(
        err.op() == "unseal" && err.to_string().contains("token key 9"),
        "{err}"
    );
    let report = run(&store, 500, None).await;
    assert_eq!((report.unreadable, report.remaining.clone()), (3, vec![(9, 3)]));
    common::engines::psql(&pg, "DELETE FROM cc_connections; DELETE FROM cc_endpoints;").await;

    // Resumable: stopped after one batch of one row, then on to the end.
    let first = PgStore::connect(&url, ring((1, &K1), &[]), os_entropy)
        .await
        .unwrap();
    for (id, team) in [("a", "T1"), ("b", "T2"), ("c", "T3")] {
        save(&first, id, team).await;
    }
    resume_rules(
        &PgStore::connect(&url, ring((2, &K2), &[(1, &K1)]), os_entropy)
            .await
            .unwrap(),
    )
    .await;

    // The command, on rows under key 1 again.
    let config = config_file("rekey-postgres", &[(1, &K1, true), (2, &K2, false)]);
    let (code, out) = rekey_binary(&config, &["--database", &url], &["--batch-size", "4"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("9 rows sealed again under token key 1 (3 batches)"),
        "{out}"
    );
    assert_eq!(key_ids(&raw_postgres(&pg).await), [1; 9]);
    every_read_works(&store_on(&url, ring((1, &K1), &[])).await, &["a", "b", "c"]).await;
}

async fn store_on(url: &str, keys: TokenKeys) -> PgStore {
    PgStore::connect(url, keys, os_entropy).await.unwrap()
}

/// A write that lands between rekey's read and its write is kept: the
/// row's new value is not replaced by the old one sealed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rekey_keeps_a_write_made_meanwhile_on_postgres() {
    let Some(pg) = Postgres::start("rekey-race") else {
        return;
    };
    let url = pg.url();
    let old = store_on(&url, ring((1, &K1), &[])).await;
    // Two values of one row, both under key 1: "xoxb-hot" stored, "xoxb-later" to come.
    let later = install_with("hot", "T1", "xoxb-later");
    old.save("env", &later, None, 1).await.unwrap();
    let later_sealed = raw_postgres(&pg)
        .await
        .into_iter()
        .find(|(t, _, _)| *t == "connections")
        .unwrap()
        .2;
    save(&old, "hot", "T1").await;

    // Connected first: connecting creates the schema, which waits for writers.
    let new = store_on(&url, ring((2, &K2), &[(1, &K1)])).await;
    // Another writer holds the row, then writes "xoxb-later" while rekey waits for it.
    let (writer, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    writer.batch_execute("BEGIN").await.unwrap();
    writer
        .execute(
            "UPDATE cc_connections SET sealed = $1 WHERE identifier = 'hot'",
            &[&later_sealed],
        )
        .await
        .unwrap();
    let rekeying = tokio::spawn(async move { rekey(&new, RekeyOptions::default()).await.unwrap() });
    // Watched from a connection of its own: inside the writer's transaction
    // pg_stat_activity is a snapshot taken at its first read, so a rekey
    // that blocked after that read was never seen (the test failed when the
    // first poll came before the rekey's update).
    let (monitor, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'";
    // Up to 30 s: a connection opened and its statements prepared first,
    // which a machine busy with a build can make slow.
    let mut blocked = false;
    for _ in 0..3000 {
        blocked = monitor.query_one(waiting, &[]).await.unwrap().get::<_, i64>(0) == 1;
        if blocked {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(blocked, "rekey waits for the row");
    writer.batch_execute("COMMIT").await.unwrap();
    let report = rekeying.await.unwrap();
    assert_eq!(
        (report.resealed, report.remaining.clone()),
        (2, vec![(1, 1)]),
        "the endpoints only"
    );
    let c = old.connection_record("env", "hot").await.unwrap().unwrap();
    assert_eq!(c.auth.unwrap().access_token.expose(), "xoxb-later");
}
