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

use channel_connect_server::config::DEMO_API_KEY;
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
    let again = a.get(&on_a).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let page = again.text().await.unwrap();
    assert!(
        page.contains("Invalid OAuth state parameter"),
        "refused as a replay, before any exchange: {page}"
    );
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
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..40 {
        status = s.get(&callback).await.status();
        if status != StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, StatusCode::OK);
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
    use channel_connect_server::config::Config;
    use channel_connect_server::sender::Sender;
    let provider = broken_provider().await;
    for (mode, expected) in [
        ("slow", StatusCode::BAD_GATEWAY),
        ("broken", StatusCode::BAD_GATEWAY),
    ] {
        let base_url = format!("{provider}/{mode}");
        let s = start_on(db_path(&format!("provider-{mode}")), None, |mut st| {
            // The Slack integration points at the broken provider; calls end within 1 s.
            st.config = Config::demo_with_slack(&st.public_url, &base_url).unwrap();
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

#[tokio::test]
async fn two_instances_on_redis_and_postgres() {
    let (Some(redis), Some(pg)) = (Redis::start("two-pg"), Postgres::start("two-pg")) else {
        return;
    };
    let shared = RedisStore::connect(&redis.url(), "two-pg").await.unwrap();
    let key = channel_connect_server::config::Config::demo("http://127.0.0.1:1")
        .unwrap()
        .token_key;
    let records = PgStore::connect(&pg.url(), &key, os_entropy).await.unwrap();
    let (r1, r2) = (records.clone(), records);
    let a = start_on(db_path("two-pg-a"), None, |s| {
        s.sharing(shared.clone()).recording(r1)
    })
    .await;
    let b = start_on(db_path("two-pg-b"), Some(&a.base), |s| {
        s.sharing(shared.clone()).recording(r2)
    })
    .await;
    let url = a.connect(SEED).await;
    let on_a = a.link(&url, "allow").await;
    assert_eq!(
        b.get(&on_a.replacen(&a.base, &b.base, 1)).await.status(),
        StatusCode::OK
    );
    let again = a.get(&on_a).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("Invalid OAuth state parameter")
    );
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
    let key = channel_connect_server::config::Config::demo("http://127.0.0.1:1")
        .unwrap()
        .token_key;
    let records = PgStore::connect(&pg.url(), &key, os_entropy).await.unwrap();
    let s = start_on(db_path("postgres-down"), None, |st| st.recording(records)).await;
    let first = s.connect(SEED).await;
    assert_eq!(s.allow(&first).await.status(), StatusCode::OK);

    pg.stop_server();
    let url = s.connect(SEED).await;
    let res = s.allow(&url).await;
    assert_eq!(
        res.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "no record store, no success page"
    );
    let list = s.get_with_key("/v1/channel-connections").await;
    assert_eq!(list.status(), StatusCode::SERVICE_UNAVAILABLE);

    // Back: the next flow goes through on a new connection, and nothing of
    // the failed one was half-written.
    pg.start_server();
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
