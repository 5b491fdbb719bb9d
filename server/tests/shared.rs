//! Past one process: replay marks and idempotency entries in a real
//! `redis-server`, records in a real PostgreSQL (Debian's packages), each
//! started on a loopback port and a directory of its own. The same store
//! suites run against every engine; two instances share Redis and
//! PostgreSQL; Redis going away fails closed.
//!
//! Without `redis-server` or `postgresql` these tests say they were skipped
//! and pass; `bash .ci/run` installs both and never skips them.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use channel_connect_server::config::{Config, DEMO_API_KEY};
use channel_connect_server::os_entropy;
use channel_connect_server::postgres::PgStore;
use channel_connect_server::redis::RedisStore;
use channel_connect_server::sqlite::Store;
use channel_connect_server::stores::{
    Filter, Idempotency, IdempotencyEntries, Listing, Records, ReplayMarks,
};
use common::*;
use reqwest::StatusCode;

const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// A `redis-server` of the test's own, stopped when dropped.
struct Redis {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Redis {
    fn start(name: &str) -> Option<Redis> {
        if !Path::new(REDIS_SERVER).exists() {
            eprintln!(
                "SKIPPED: {name} needs Debian's redis-server (apt-get install redis-server); \
                 `bash .ci/run` installs it and runs these tests"
            );
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("redis-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        Some(Redis::spawn(port, dir))
    }

    fn spawn(port: u16, dir: PathBuf) -> Redis {
        let child = Command::new(REDIS_SERVER)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Redis { child, port, dir }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.stop();
        *self = Redis::spawn(self.port, self.dir.clone());
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The callback again until the store answers (a restarted server takes a moment).
async fn retry_until_not_503(s: &Server, url: &str) -> StatusCode {
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..40 {
        status = s.get(url).await.status();
        if status != StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    status
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn fresh_id() -> [u8; 16] {
    let mut id = [0u8; 16];
    os_entropy(&mut id);
    id
}

/// What every engine must do with replay marks.
async fn replay_suite(marks: &dyn ReplayMarks) {
    let (id, other, t) = (fresh_id(), fresh_id(), now());
    assert!(marks.mark_used(&id, t + 300, t).await.unwrap(), "first use");
    assert!(
        !marks.mark_used(&id, t + 300, t + 1).await.unwrap(),
        "second use refused"
    );
    assert!(
        !marks.mark_used(&id, t + 300, t + 299).await.unwrap(),
        "refused until expiry"
    );
    assert!(
        marks.mark_used(&other, t + 300, t).await.unwrap(),
        "another state is its own"
    );

    // Parked records: taken once, under their own key only.
    marks.park(&id, b"sealed", t + 300, t).await.unwrap();
    assert_eq!(marks.take_parked(&other, t).await.unwrap(), None);
    assert_eq!(
        marks.take_parked(&id, t + 1).await.unwrap().as_deref(),
        Some(&b"sealed"[..])
    );
    assert_eq!(marks.take_parked(&id, t + 1).await.unwrap(), None, "once");
    marks.park(&id, b"again", t + 300, t).await.unwrap();
    assert_eq!(
        marks.take_parked(&id, t + 2).await.unwrap().as_deref(),
        Some(&b"again"[..]),
        "a retry that fails again parks them again"
    );
}

/// What every engine must do with idempotency entries.
async fn idempotency_suite(entries: &dyn IdempotencyEntries) {
    let t = now();
    let key = format!("key-{}", fresh_id()[0]);
    assert_eq!(
        entries.begin("env", &key, b"h1", t).await.unwrap(),
        Idempotency::Fresh
    );
    assert_eq!(
        entries.begin("env", &key, b"h1", t).await.unwrap(),
        Idempotency::InFlight
    );
    assert_eq!(
        entries.begin("env", &key, b"h2", t).await.unwrap(),
        Idempotency::Mismatch
    );
    assert_eq!(
        entries.begin("env-2", &key, b"h1", t).await.unwrap(),
        Idempotency::Fresh,
        "per environment"
    );
    entries.abandon("env-2", &key).await.unwrap();
    assert_eq!(
        entries.begin("env-2", &key, b"h1", t).await.unwrap(),
        Idempotency::Fresh,
        "abandoned: free again"
    );
    entries.finish("env", &key, 201, r#"{"url":"u"}"#).await.unwrap();
    let replay = Idempotency::Replay {
        status: 201,
        body: r#"{"url":"u"}"#.into(),
    };
    assert_eq!(entries.begin("env", &key, b"h1", t).await.unwrap(), replay);
    entries.abandon("env", &key).await.unwrap();
    assert_eq!(
        entries.begin("env", &key, b"h1", t).await.unwrap(),
        replay,
        "a kept answer is not abandoned"
    );
}

#[tokio::test]
async fn the_store_suite_holds_on_sqlite_and_redis() {
    let sqlite = Store::in_memory(&[3; 32], os_entropy).unwrap();
    replay_suite(&sqlite).await;
    idempotency_suite(&sqlite).await;
    let Some(redis) = Redis::start("suite") else {
        return;
    };
    let shared = RedisStore::connect(&redis.url(), "suite").await.unwrap();
    replay_suite(&shared).await;
    idempotency_suite(&shared).await;
}

#[tokio::test]
async fn two_instances_share_replay_marks_idempotency_and_records() {
    let Some(redis) = Redis::start("two-instances") else {
        return;
    };
    let shared = RedisStore::connect(&redis.url(), "two").await.unwrap();
    let db = db_path("two-instances");
    let a = start_on(db.clone(), None, |s| s.sharing(shared.clone())).await;
    let b = start_on(db, Some(&a.base), |s| s.sharing(shared.clone())).await;

    // Issued by A, the callback lands on B (a load balancer's choice).
    let url = a.connect(SEED).await;
    let on_a = a.link(&url, "allow").await;
    let on_b = on_a.replacen(&a.base, &b.base, 1);
    assert_eq!(b.get(&on_b).await.status(), StatusCode::OK);
    // The same callback on A: refused, nothing stored twice.
    refused_state(a.get(&on_a).await).await;
    assert_eq!(a.list("/v1/channel-connections").await.len(), 1);
    assert_eq!(b.list("/v1/channel-connections").await.len(), 1);

    // An idempotency key holds across both.
    let path = "/v1/integrations/channel-connections/oauth";
    let (s1, _, first) = a.post(path, Some(DEMO_API_KEY), Some("shared-key"), SEED).await;
    let (s2, h, second) = b.post(path, Some(DEMO_API_KEY), Some("shared-key"), SEED).await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(h["idempotency-replay"], "true");
    assert_eq!(first, second);
    let (s3, _, _) = b.post(path, Some(DEMO_API_KEY), Some("shared-key"), TEAMS).await;
    assert_eq!(s3, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn redis_unreachable_fails_closed_and_the_callback_can_be_retried() {
    let Some(mut redis) = Redis::start("down") else {
        return;
    };
    let shared = RedisStore::connect(&redis.url(), "down").await.unwrap();
    let s = start_on(db_path("redis-down"), None, |st| st.sharing(shared.clone())).await;
    let url = s.connect(SEED).await;
    let callback = s.link(&url, "allow").await;

    redis.stop();
    let res = s.get(&callback).await;
    assert_eq!(
        res.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "no state accepted without its replay check"
    );
    assert!(s.list("/v1/channel-connections").await.is_empty());
    let (status, _, _) = s
        .post(
            "/v1/integrations/channel-connections/oauth",
            Some(DEMO_API_KEY),
            Some("k"),
            SEED,
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    // Redis back: the same callback goes through (it was never marked).
    redis.restart();
    assert_eq!(retry_until_not_503(&s, &callback).await, StatusCode::OK);
    assert_eq!(s.list("/v1/channel-connections").await.len(), 1);
}

/// A provider that answers too slowly (a good answer after 5 s, past the
/// 1 s timeout), or with an error page.
async fn broken_provider() -> String {
    use axum::routing::post;
    let router = axum::Router::new()
        .route(
            "/slow/api/oauth.v2.access",
            post(|| async {
                // A good answer, too late: only the timeout can refuse it.
                tokio::time::sleep(Duration::from_secs(5)).await;
                r#"{"ok":true,"access_token":"xoxb-late","token_type":"bot","scope":"chat:write","bot_user_id":"U1","team":{"id":"T0DEMO00001","name":"Demo"},"authed_user":{"id":"U2"}}"#
            }),
        )
        .route(
            "/broken/api/oauth.v2.access",
            post(|| async { (StatusCode::BAD_GATEWAY, "<html>upstream error</html>") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

#[tokio::test]
async fn a_slow_or_failing_token_endpoint_gives_a_bounded_failure_and_stores_nothing() {
    use channel_connect_server::sender::Sender;
    let provider = broken_provider().await;
    for (mode, expected) in [
        ("slow", StatusCode::BAD_GATEWAY),
        ("broken", StatusCode::BAD_GATEWAY),
    ] {
        let base_url = format!("{provider}/{mode}");
        let s = start_on(db_path(&format!("provider-{mode}")), None, |mut st| {
            // The Slack integration points at the broken provider; calls end within 1 s.
            let stand_in = format!("{}/standin/slack", st.public_url);
            st.config =
                Config::parse(&Config::demo_text(&st.public_url).replace(&stand_in, &base_url)).unwrap();
            st.sender = Sender::with_timeout(Duration::from_secs(1)).unwrap();
            st
        })
        .await;
        let url = s.connect(SEED).await;
        let state = url.split("state=").nth(1).unwrap().split('&').next().unwrap();
        let res = s
            .get(&format!(
                "/v1/integrations/chat/oauth/callback?code=c&state={state}"
            ))
            .await;
        assert_eq!(res.status(), expected, "{mode}");
        let page = res.text().await.unwrap();
        assert!(page.contains("Connection failed"), "{mode}: {page}");
        assert!(
            !page.contains("upstream error"),
            "the provider's page is not shown"
        );
        assert!(s.list("/v1/channel-connections").await.is_empty(), "{mode}");
    }
}

/// A PostgreSQL cluster of the test's own (initdb in a temporary
/// directory, trust on loopback), stopped when dropped.
struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Postgres {
    fn start(name: &str) -> Option<Postgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .find(|b| b.join("initdb").exists());
        let Some(bin) = bin else {
            eprintln!(
                "SKIPPED: {name} needs Debian's postgresql (apt-get install postgresql); \
                 `bash .ci/run` installs it and runs these tests"
            );
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // Under /tmp: the server's own user must reach it.
        let dir = std::env::temp_dir().join(format!("cc-pg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let pg = Postgres { bin, dir, port };
        if as_root() {
            assert!(
                Command::new("chown")
                    .arg("postgres")
                    .arg(&pg.dir)
                    .status()
                    .unwrap()
                    .success()
            );
        }
        let data = pg.dir.join("data");
        pg.run(
            "initdb",
            &["-D", data.to_str().unwrap(), "-A", "trust", "-U", "postgres"],
        );
        pg.start_server();
        Some(pg)
    }

    fn start_server(&self) {
        let data = self.dir.join("data");
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log");
        let (data, log) = (data.to_str().unwrap(), log.to_str().unwrap());
        self.run("pg_ctl", &["-D", data, "-l", log, "-o", &opts, "-w", "start"]);
    }

    fn stop_server(&self) {
        let data = self.dir.join("data");
        self.run(
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", "immediate", "-w", "stop"],
        );
    }

    fn run(&self, program: &str, args: &[&str]) {
        let path = self.bin.join(program);
        let mut cmd = if as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let out = cmd.args(args).output().expect("a PostgreSQL program runs");
        assert!(
            out.status.success(),
            "{program}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| self.stop_server());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// PostgreSQL refuses to run as root: the tests use its own user then.
fn as_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id runs");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// The records of one Slack install for `team`, as the core gives them.
fn slack_records(identifier: &str, team: &str, token: &str) -> channel_connect::records::StoredRecords {
    serde_json::from_value(serde_json::json!({
        "connection": {
            "identifier": identifier, "integrationIdentifier": "slack", "providerId": "slack",
            "context": { "tenant": { "id": "acme" } },
            "workspace": { "id": team, "name": "Acme" },
            "auth": { "accessToken": token, "tokenType": "bot" }
        },
        "endpoints": [{
            "type": "slack_user", "endpoint": { "userId": "U1" }, "subscriberId": "s1",
            "connectionIdentifier": identifier, "integrationIdentifier": "slack"
        }]
    }))
    .unwrap()
}

/// What every records engine must do.
async fn records_suite(records: &dyn Records) {
    let t = now();
    let all = Filter {
        limit: 10,
        ..Filter::default()
    };
    assert_eq!(
        records
            .save("env", &slack_records("c1", "T1", "xoxb-1"), t)
            .await
            .unwrap()
            .as_deref(),
        Some("c1")
    );
    // A re-install of the same workspace for the same context keeps the identifier.
    assert_eq!(
        records
            .save("env", &slack_records("c2", "T1", "xoxb-2"), t)
            .await
            .unwrap()
            .as_deref(),
        Some("c1")
    );
    assert_eq!(
        records
            .save("env", &slack_records("c3", "T2", "xoxb-3"), t + 1)
            .await
            .unwrap()
            .as_deref(),
        Some("c3")
    );
    let listed = records.list(Listing::Connections, "env", &all).await.unwrap();
    let ids: Vec<&str> = listed.iter().filter_map(|c| c["identifier"].as_str()).collect();
    assert_eq!(ids, ["c1", "c3"], "oldest first, one per workspace");
    assert!(
        !serde_json::to_string(&listed).unwrap().contains("xoxb"),
        "no token answered"
    );
    assert!(
        records
            .list(Listing::Connections, "other-env", &all)
            .await
            .unwrap()
            .is_empty()
    );
    let endpoints = records.list(Listing::Endpoints, "env", &all).await.unwrap();
    assert_eq!(endpoints.len(), 2, "one per connection");
    let only_c3 = Filter {
        connection_identifier: Some("c3".into()),
        ..all.clone()
    };
    assert_eq!(
        records
            .list(Listing::Endpoints, "env", &only_c3)
            .await
            .unwrap()
            .len(),
        1
    );
    let page = Filter {
        limit: 1,
        offset: 1,
        ..all.clone()
    };
    assert_eq!(
        records.list(Listing::Connections, "env", &page).await.unwrap()[0]["identifier"],
        "c3"
    );
    records
        .save_start("s1", "https://provider/authorize", "cookie", t + 300)
        .await
        .unwrap();
    assert_eq!(
        records.take_start("s1", t).await.unwrap(),
        Some(("https://provider/authorize".into(), "cookie".into()))
    );
    assert_eq!(records.take_start("s1", t).await.unwrap(), None, "once");
    records.save_start("s2", "u", "c", t + 300).await.unwrap();
    assert_eq!(records.take_start("s2", t + 301).await.unwrap(), None, "expired");
}

#[tokio::test]
async fn the_records_suite_holds_on_sqlite_and_postgres() {
    records_suite(&Store::in_memory(&[4; 32], os_entropy).unwrap()).await;
    let Some(pg) = Postgres::start("records") else {
        return;
    };
    let store = PgStore::connect(&pg.url(), &[4; 32], os_entropy).await.unwrap();
    records_suite(&store).await;
    // A second connection (another instance) finds the schema in place.
    PgStore::connect(&pg.url(), &[4; 32], os_entropy).await.unwrap();
}

/// Redis and PostgreSQL shared by instances of the service.
struct Engines {
    _redis: Redis,
    pg: Postgres,
    marks: RedisStore,
    records: PgStore,
}

impl Engines {
    async fn start(name: &str) -> Option<Engines> {
        let (Some(redis), Some(pg)) = (Redis::start(name), Postgres::start(name)) else {
            return None;
        };
        let marks = RedisStore::connect(&redis.url(), name).await.unwrap();
        let key = Config::demo("http://127.0.0.1:1").unwrap().token_key;
        let records = PgStore::connect(&pg.url(), &key, os_entropy).await.unwrap();
        Some(Engines {
            _redis: redis,
            pg,
            marks,
            records,
        })
    }

    /// An instance on these engines (behind `behind`'s address, if given),
    /// signing with `keys` (id, active) instead of the demo's key.
    async fn instance(&self, name: &str, behind: Option<&str>, keys: Option<&[(u8, bool)]>) -> Server {
        let (marks, records) = (self.marks.clone(), self.records.clone());
        start_on(db_path(name), behind, move |mut s| {
            if let Some(keys) = keys {
                s.config = config_with_keys(&s.public_url, keys);
            }
            s.sharing(marks).recording(records)
        })
        .await
    }
}

/// The demo configuration with these signing keys (id, active); each id's
/// secret is fixed, as every instance's configuration would have it.
fn config_with_keys(public: &str, keys: &[(u8, bool)]) -> Config {
    let mut file: serde_json::Value = serde_json::from_str(&Config::demo_text(public)).unwrap();
    file["keys"] = keys
        .iter()
        .map(|(id, active)| serde_json::json!({ "id": id, "secretHex": format!("{id:02x}").repeat(32), "active": active }))
        .collect();
    Config::parse(&file.to_string()).unwrap()
}

#[tokio::test]
async fn two_instances_on_redis_and_postgres() {
    let Some(engines) = Engines::start("two-pg").await else {
        return;
    };
    let a = engines.instance("two-pg-a", None, None).await;
    let b = engines.instance("two-pg-b", Some(&a.base), None).await;
    let url = a.connect(SEED).await;
    let on_a = a.link(&url, "allow").await;
    assert_eq!(
        b.get(&on_a.replacen(&a.base, &b.base, 1)).await.status(),
        StatusCode::OK
    );
    let again = a.get(&on_a).await;
    refused_state(again).await;
    // Stored once, in PostgreSQL: both see it, neither SQLite file has it.
    assert_eq!(a.list("/v1/channel-connections").await.len(), 1);
    assert_eq!(
        b.list("/v1/channel-connections").await[0]["identifier"],
        "slack-connection-abc123"
    );
    assert!(!contains(&a.db_bytes(), "slack-connection-abc123"));
    assert!(!contains(&b.db_bytes(), "slack-connection-abc123"));
}

#[tokio::test]
async fn postgres_down_fails_closed_and_the_service_recovers_when_it_is_back() {
    let Some(pg) = Postgres::start("down") else { return };
    let key = Config::demo("http://127.0.0.1:1").unwrap().token_key;
    let records = PgStore::connect(&pg.url(), &key, os_entropy).await.unwrap();
    let s = start_on(db_path("postgres-down"), None, |st| st.recording(records)).await;
    let first = s.connect(SEED).await;
    assert_eq!(s.allow(&first).await.status(), StatusCode::OK);

    pg.stop_server();
    let url = s.connect(SEED).await;
    let res_link = s.link(&url, "allow").await;
    let res = s.get(&res_link).await;
    assert_eq!(
        res.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "no record store, no success page"
    );
    let list = s.get_with_key("/v1/channel-connections").await;
    assert_eq!(list.status(), StatusCode::SERVICE_UNAVAILABLE);

    // Back: the failed callback, retried, stores its parked records (its
    // code was spent); the next flow goes through as well.
    pg.start_server();
    let retried = retry_until_not_503(&s, &res_link).await;
    assert_eq!(retried, StatusCode::OK);
    // Another context, so not a re-install of the first connection.
    let third = SEED
        .replace("slack-connection-abc123", "after-recovery")
        .replace("org-acme", "org-beta");
    let url = s.connect(&third).await;
    assert_eq!(s.allow(&url).await.status(), StatusCode::OK);
    let ids: Vec<String> = s
        .list("/v1/channel-connections")
        .await
        .iter()
        .filter_map(|c| c["identifier"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(ids, ["slack-connection-abc123", "after-recovery"]);
}

/// Runs one SQL batch on the test's PostgreSQL.
async fn psql(pg: &Postgres, sql: &str) {
    let (client, conn) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client.batch_execute(sql).await.unwrap();
}

#[tokio::test]
async fn postgres_failing_inside_the_transaction_writes_nothing_and_another_instance_finishes_the_retry() {
    let Some(engines) = Engines::start("pg-fails").await else {
        return;
    };
    let a = engines.instance("pg-fails-a", None, None).await;
    let b = engines.instance("pg-fails-b", Some(&a.base), None).await;

    // The endpoint insert fails after the connection row went in.
    psql(
        &engines.pg,
        "CREATE FUNCTION cc_fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$ LANGUAGE plpgsql;
         CREATE TRIGGER cc_fail AFTER INSERT ON cc_endpoints FOR EACH ROW EXECUTE FUNCTION cc_fail();",
    )
    .await;
    let url = a.connect(SEED).await;
    let on_a = a.link(&url, "allow").await;
    assert_eq!(a.get(&on_a).await.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        a.list("/v1/channel-connections").await.is_empty(),
        "the connection row was rolled back with the transaction"
    );
    assert!(b.list("/v1/channel-endpoints").await.is_empty());

    // Fixed; the user's retry lands on B, which finds the parked records in
    // Redis (the stand-in would refuse the spent code).
    psql(&engines.pg, "DROP TRIGGER cc_fail ON cc_endpoints;").await;
    let on_b = on_a.replacen(&a.base, &b.base, 1);
    assert_eq!(b.get(&on_b).await.status(), StatusCode::OK);
    assert_eq!(a.list("/v1/channel-connections").await.len(), 1);
    assert_eq!(a.list("/v1/channel-endpoints").await.len(), 1);
    // And once only, on either.
    assert_eq!(a.get(&on_a).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(b.get(&on_b).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(b.list("/v1/channel-connections").await.len(), 1);
}

/// The key rings of a rotation from key 1 to key 2 (id, active), each
/// step rolled out one instance at a time: first 2 is known to all, then
/// it signs.
const ROTATION: [&[(u8, bool)]; 3] = [&[(1, true)], &[(1, true), (2, false)], &[(2, true), (1, false)]];

#[tokio::test]
async fn a_signing_key_rotation_rolled_out_one_instance_at_a_time_refuses_no_flow_in_flight() {
    let Some(engines) = Engines::start("rotation").await else {
        return;
    };
    // The first instance also serves the public address (the stand-ins).
    let mut rings = Vec::new();
    for (n, keys) in ROTATION.iter().enumerate() {
        let behind = rings.first().map(|(s, _): &(Server, usize)| s.base.clone());
        let s = engines
            .instance(&format!("rotation-{n}"), behind.as_deref(), Some(keys))
            .await;
        rings.push((s, n));
    }
    // Two instances, each on a step of the rotation: (A, B) as the rollout
    // moves on, A first.
    let rollout = [(0, 0), (1, 0), (1, 1), (2, 1), (2, 2)];
    let public = rings[0].0.base.clone();
    let mut flows = 0;
    for pair in rollout.windows(2) {
        let (now, next) = (pair[0], pair[1]);
        // A flow begun on either instance now ends on either, now or after
        // the next instance has moved on.
        for issuer in [now.0, now.1] {
            for finisher in [now.0, now.1, next.0, next.1] {
                let (from, to) = (&rings[issuer].0, &rings[finisher].0);
                let url = from.connect(SEED).await;
                let callback = from.link(&url, "allow").await.replacen(&public, &to.base, 1);
                let res = to.get(&callback).await;
                assert_eq!(
                    res.status(),
                    StatusCode::OK,
                    "issued on step {issuer}, finished on step {finisher}"
                );
                flows += 1;
            }
        }
    }
    assert_eq!(flows, 32);

    // Skipping the step where 2 is known but not yet signing: an instance
    // still on key 1 alone refuses what a moved one signs.
    let skipped = &rings[2].0;
    let url = skipped.connect(SEED).await;
    let callback = skipped
        .link(&url, "allow")
        .await
        .replacen(&public, &rings[0].0.base, 1);
    let res = rings[0].0.get(&callback).await;
    refused_state(res).await;
}
