//! Past one process: replay marks and idempotency entries in a real
//! `redis-server` (Debian's), started on a loopback port of its own. The
//! same store suite runs against SQLite and Redis; two instances share
//! Redis and one database; Redis going away fails closed.
//!
//! Without `redis-server` these tests say they were skipped and pass;
//! `bash .ci/run` installs it and never skips them.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use channel_connect_server::config::DEMO_API_KEY;
use channel_connect_server::os_entropy;
use channel_connect_server::redis::RedisStore;
use channel_connect_server::sqlite::Store;
use channel_connect_server::stores::{Idempotency, IdempotencyEntries, ReplayMarks};
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
