//! Past one process: replay marks and idempotency entries in a real
//! `redis-server`, records in a real PostgreSQL (Debian's packages, started
//! by `common::engines`). The same store suites run against every engine;
//! two instances share a SQLite file and Redis; Redis or PostgreSQL going
//! away, or failing inside the callback's transaction, fails closed and the
//! same callback can be retried. (Two processes of the binary, SIGTERM and
//! a key rotation across restarts are in `processes.rs`.)
//!
//! Without `redis-server` or `postgresql` these tests say they were skipped
//! and pass; `bash .ci/run` installs both and never skips them.

mod common;

use std::sync::Arc;
use std::time::Duration;

use channel_connect_server::config::{Config, DEMO_API_KEY};
use channel_connect_server::os_entropy;
use channel_connect_server::store::ownership::Conflict;
use channel_connect_server::store::postgres::PgStore;
use channel_connect_server::store::redis::RedisStore;
use channel_connect_server::store::sqlite::Store;
use channel_connect_server::store::{
    AuthExpiry, ConnectionRow, Connections, Endpoints, Filter, Idempotency, IdempotencyEntries, Listed,
    Order, ParkedRecords, Refreshes, ReplayMarks, Saved, StartLink, StartLinks,
};
use common::engines::*;
use common::*;
use reqwest::StatusCode;
use tokio::sync::Notify;

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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn fresh_id() -> [u8; 16] {
    let mut id = [0u8; 16];
    os_entropy(&mut id);
    id
}

/// What every engine must do with replay marks.
async fn replay_suite<M: ReplayMarks + ParkedRecords>(marks: &M) {
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

    // A claim never answered (a failed finish, a dropped request) frees
    // itself after a minute; an answer is kept a day. SQLite reads the
    // clock it is given; Redis counts the time itself.
    let t = now();
    let in_flight = [
        (t, &b"h"[..], Idempotency::Fresh),
        (t + 59, b"h", Idempotency::InFlight),
        (t + 61, b"h2", Idempotency::Fresh),
    ];
    for (at, hash, expected) in in_flight {
        assert_eq!(sqlite.begin("env", "stale", hash, at).await.unwrap(), expected);
    }
    assert_eq!(
        shared.begin("env", "stale", b"h", t).await.unwrap(),
        Idempotency::Fresh
    );
    let key = format!("suite:idempotency:env:{}", hex(b"stale"));
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let ttl: i64 = redis::cmd("TTL").arg(&key).query_async(&mut conn).await.unwrap();
    assert!((1..=60).contains(&ttl), "a claim lasts a minute: {ttl}");
    shared.finish("env", "stale", 201, "{}").await.unwrap();
    let ttl: i64 = redis::cmd("TTL").arg(&key).query_async(&mut conn).await.unwrap();
    assert!(ttl > 86_000, "an answer lasts a day: {ttl}");

    // A replay mark outlives its state by minutes on Redis's clock, which
    // may run ahead of an instance's.
    let id = fresh_id();
    assert!(shared.mark_used(&id, t + 300, t).await.unwrap());
    let mark = format!("suite:replay:{}", hex(&id));
    let ttl: i64 = redis::cmd("TTL").arg(&mark).query_async(&mut conn).await.unwrap();
    assert!(ttl > 300 + 240, "kept past expiry: {ttl}");
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

    two_instances_agree(&a, &b).await;
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
                r#"{"ok":true,"app_id":"A1","access_token":"xoxb-late","token_type":"bot","scope":"chat:write","bot_user_id":"U1","team":{"id":"T0DEMO00001","name":"Demo"},"authed_user":{"id":"U2"}}"#
            }),
        )
        .route(
            "/broken/api/oauth.v2.access",
            post(|| async { (StatusCode::BAD_GATEWAY, "<html>upstream error</html>") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(channel_connect_server::serve::serve(
        listener,
        router,
        Default::default(),
        std::future::pending(),
        async {},
    ));
    base
}

#[tokio::test]
async fn a_slow_or_failing_token_endpoint_gives_a_bounded_failure_and_stores_nothing() {
    use channel_connect_server::sender::Sender;
    let provider = broken_provider().await;
    for (mode, expected, message) in [
        ("slow", StatusCode::BAD_GATEWAY, "could not be reached"),
        ("broken", StatusCode::BAD_GATEWAY, "answered HTTP 502"),
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
        assert!(page.contains(message), "{mode}: {page}");
        assert!(
            !page.contains("upstream error"),
            "the provider's page is not shown"
        );
        assert!(s.list("/v1/channel-connections").await.is_empty(), "{mode}");
    }
}

#[tokio::test]
async fn a_browser_that_goes_away_mid_exchange_still_gets_its_connection_stored() {
    let (arrived, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let provider = held_provider(arrived.clone(), release.clone()).await;
    let s = start_on(db_path("browser-gone"), None, |mut st| {
        let stand_in = format!("{}/standin/slack", st.public_url);
        let text = Config::demo_text(&st.public_url).replace(&stand_in, &provider);
        st.config = Config::parse(&text).unwrap();
        st
    })
    .await;
    let url = s.connect(SEED).await;
    let state = url.split("state=").nth(1).unwrap().split('&').next().unwrap();
    let callback = format!(
        "{}/v1/integrations/chat/oauth/callback?code=c&state={state}",
        s.base
    );

    // The state is marked used and the code on its way to the provider
    // when the browser closes the tab.
    let http = s.http.clone();
    let browser = tokio::spawn(async move { http.get(callback).send().await });
    arrived.notified().await;
    browser.abort();
    let _ = browser.await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    release.notify_one();

    // The redeemed code's connection is stored all the same.
    let mut stored = Vec::new();
    for _ in 0..100 {
        stored = s.list("/v1/channel-connections").await;
        if !stored.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stored.len(), 1, "the flow the browser left was finished");
}

/// The records of one Slack install for `team`, as the core gives them.
fn slack_records(identifier: &str, team: &str, token: &str) -> channel_connect::records::StoredRecords {
    owned_records(identifier, team, token, "acme")
}

/// [`slack_records`] for the context `tenant: owner`.
fn owned_records(
    identifier: &str,
    team: &str,
    token: &str,
    owner: &str,
) -> channel_connect::records::StoredRecords {
    serde_json::from_value(serde_json::json!({
        "connection": {
            "identifier": identifier, "integrationIdentifier": "slack", "providerId": "slack",
            "context": { "tenant": { "id": owner } },
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

/// A rotating install's records: its refresh token `refresh`, expiring at `expires` (Unix seconds).
fn rotating_records(
    identifier: &str,
    refresh: &str,
    expires: i64,
) -> channel_connect::records::StoredRecords {
    let mut records = owned_records(identifier, "T0ROT", "xoxe.xoxb-old", identifier);
    let expires = time::OffsetDateTime::from_unix_timestamp(expires).unwrap();
    let auth = records.connection.as_mut().unwrap().auth.as_mut().unwrap();
    auth.refresh_token = Some(channel_connect::secret::RefreshToken::new(refresh));
    auth.expires_at = Some(expires);
    records
}

/// The refresh lease and its renewal, as every records engine keeps them:
/// one holder at a time (sixteen at once: one wins), a lease that runs
/// out frees itself, new tokens land only on the row that still holds the
/// spent refresh token (whoever holds the lease), a refused one marks the
/// row, and the sweep sees only rows due and not leased.
async fn refresh_suite<R: Connections + Refreshes + 'static>(records: Arc<R>) {
    use channel_connect::secret::RefreshToken;
    use channel_connect_server::store::{Lease, Renewal};
    let t = now();
    let spent = RefreshToken::new("xoxe-1-first");
    records
        .save("e", &rotating_records("rot", "xoxe-1-first", t + 100), None, t)
        .await
        .unwrap();
    records
        .save("e", &rotating_records("later", "xoxe-1-later", t + 5000), None, t)
        .await
        .unwrap();
    assert_eq!(
        records.expiring(t + 600, t, 10).await.unwrap(),
        [("e".to_owned(), "rot".to_owned())]
    );
    let saved = records.list_connections("e", &Filter::one("rot")).await.unwrap();
    assert_eq!(
        saved.rows[0].auth_expiry,
        AuthExpiry {
            expires_at: Some(t + 100),
            refresh_token_expires_at: None
        }
    );

    let attempts = (0..16).map(|i| {
        let records = records.clone();
        tokio::spawn(async move {
            let holder = format!("h{i}");
            matches!(
                records.lease("e", "rot", &holder, t, t + 60).await.unwrap(),
                Some(Lease::Taken(_))
            )
        })
    });
    let taken = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .filter(|r| *r.as_ref().unwrap())
        .count();
    assert_eq!(taken, 1, "one holder at a time");
    assert!(
        records.expiring(t + 600, t, 10).await.unwrap().is_empty(),
        "leased: not swept"
    );
    assert!(matches!(
        records.lease("e", "rot", "late", t, t + 60).await.unwrap(),
        Some(Lease::Held(_))
    ));
    // The lease ran out: another may take it.
    assert!(matches!(
        records.lease("e", "rot", "next", t + 61, t + 121).await.unwrap(),
        Some(Lease::Taken(_))
    ));
    assert!(
        records
            .lease("e", "nope", "x", t, t + 60)
            .await
            .unwrap()
            .is_none()
    );

    // Another holder's `Unchanged` leaves this lease; `RetryAfter` keeps it until then.
    assert!(
        !records
            .release("e", "rot", "someone", Renewal::Unchanged, t + 62)
            .await
            .unwrap()
    );
    assert!(matches!(
        records.lease("e", "rot", "x", t + 62, t + 70).await.unwrap(),
        Some(Lease::Held(_))
    ));
    records
        .release("e", "rot", "next", Renewal::RetryAfter(t + 200), t + 62)
        .await
        .unwrap();
    assert!(matches!(
        records.lease("e", "rot", "x", t + 150, t + 160).await.unwrap(),
        Some(Lease::Held(_))
    ));

    // New tokens for a refresh token the row does not hold: not written.
    let mut auth = records
        .connection_record("e", "rot")
        .await
        .unwrap()
        .unwrap()
        .auth
        .unwrap();
    auth.access_token = channel_connect::secret::AccessToken::new("xoxe.xoxb-new");
    auth.refresh_token = Some(RefreshToken::new("xoxe-1-second"));
    auth.expires_at = Some(time::OffsetDateTime::from_unix_timestamp(t + 43_200).unwrap());
    auth.refresh_token_expires_at = Some(time::OffsetDateTime::from_unix_timestamp(t + 7_776_000).unwrap());
    let stale = Renewal::Refreshed {
        spent: RefreshToken::new("xoxe-1-other"),
        auth: auth.clone(),
    };
    assert!(!records.release("e", "rot", "next", stale, t + 63).await.unwrap());
    // The spent one: written, whoever holds the lease now, and the lease ends.
    let renewed = Renewal::Refreshed {
        spent: spent.clone(),
        auth: auth.clone(),
    };
    assert!(
        records
            .release("e", "rot", "not-the-holder", renewed, t + 63)
            .await
            .unwrap()
    );
    let now_stored = records.tokens("e", "rot").await.unwrap().unwrap();
    assert_eq!(
        now_stored.record.auth.as_ref().unwrap().access_token.expose(),
        "xoxe.xoxb-new"
    );
    assert_eq!((now_stored.reconnect, now_stored.leased_until), (None, None));
    // The row's public JSON follows: when the new tokens expire, no token.
    let listed = records.list_connections("e", &Filter::one("rot")).await.unwrap();
    assert_eq!(
        listed.rows[0].auth_expiry,
        AuthExpiry {
            expires_at: Some(t + 43_200),
            refresh_token_expires_at: Some(t + 7_776_000)
        }
    );
    assert!(listed.rows[0].connection.auth.is_none());
    assert!(
        records.expiring(t + 600, t + 63, 10).await.unwrap().is_empty(),
        "fresh for 12 hours"
    );
    // The old refresh token refused now changes nothing; the current one marks the row.
    let dead = |spent: &str| Renewal::Reconnect {
        spent: RefreshToken::new(spent),
        reason: "invalid_refresh_token".into(),
    };
    assert!(
        !records
            .release("e", "rot", "x", dead("xoxe-1-first"), t + 64)
            .await
            .unwrap()
    );
    assert!(
        records
            .release("e", "rot", "x", dead("xoxe-1-second"), t + 64)
            .await
            .unwrap()
    );
    let marked = records.tokens("e", "rot").await.unwrap().unwrap();
    assert_eq!(marked.reconnect.as_deref(), Some("invalid_refresh_token"));
    let listed = records.list_connections("e", &Filter::one("rot")).await.unwrap();
    assert_eq!(listed.rows[0].reconnect.as_deref(), Some("invalid_refresh_token"));
    // A re-install clears the mark.
    records
        .save(
            "e",
            &rotating_records("rot", "xoxe-1-third", t + 100),
            None,
            t + 65,
        )
        .await
        .unwrap();
    assert_eq!(records.tokens("e", "rot").await.unwrap().unwrap().reconnect, None);
    assert!(
        records
            .mark_reconnect("e", "rot", "tokens_revoked", t + 66)
            .await
            .unwrap()
    );
    assert!(
        !records
            .mark_reconnect("e", "nope", "tokens_revoked", t + 66)
            .await
            .unwrap()
    );
    assert_eq!(
        records
            .workspace_connections("e", "slack", "T0ROT")
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        records
            .workspace_connections("e", "slack", "T0OTHER")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refresh_lease_holds_on_sqlite_and_postgres() {
    refresh_suite(Arc::new(Store::in_memory(&[4; 32], os_entropy).unwrap())).await;
    let Some(pg) = Postgres::start("refresh-lease") else {
        return;
    };
    refresh_suite(Arc::new(
        PgStore::connect(&pg.url(), &[4; 32], os_entropy).await.unwrap(),
    ))
    .await;
}

/// What every records engine must do.
async fn records_suite<R: Connections + Endpoints + StartLinks>(records: &R) {
    let t = now();
    let all = Filter {
        limit: 10,
        ..Filter::default()
    };
    let save = |id: &'static str, team: &'static str, at: i64| async move {
        let stored = records
            .save("env", &slack_records(id, team, "xoxb-s"), None, at)
            .await;
        stored.unwrap()
    };
    let stored = |id: &str| Saved::Stored(Some(id.to_owned()));
    assert_eq!(save("c1", "T1", t).await, stored("c1"));
    // A re-install of the same workspace for the same context keeps the identifier.
    assert_eq!(save("c2", "T1", t).await, stored("c1"));
    assert_eq!(save("c3", "T2", t + 1).await, stored("c3"));
    // Naming c1 from another owner, or from c1's owner in another
    // workspace, stores nothing: not the connection, not its endpoint.
    let before = records.list_connections("env", &all).await.unwrap();
    let takeover = owned_records("c1", "T1", "xoxb-evil", "evil");
    let refused = records.save("env", &takeover, None, t + 2).await.unwrap();
    assert_eq!(refused, Saved::Refused(Conflict::Owner));
    assert_eq!(
        save("c1", "T66", t + 2).await,
        Saved::Refused(Conflict::Workspace)
    );
    assert_eq!(records.list_connections("env", &all).await.unwrap(), before);
    let ids = |l: &Listed<ConnectionRow>| -> Vec<String> {
        l.rows.iter().map(|c| c.connection.identifier.clone()).collect()
    };
    let listed = records.list_connections("env", &all).await.unwrap();
    assert_eq!(ids(&listed), ["c3", "c1"], "newest first, one per workspace");
    assert_eq!(
        (listed.total, listed.capped, &listed.next, &listed.previous),
        (2, false, &None, &None)
    );
    assert!(
        listed.rows.iter().all(|c| c.connection.auth.is_none()),
        "no token answered"
    );
    assert!(
        listed
            .rows
            .iter()
            .all(|c| c.updated_at >= c.created_at && c.created_at >= t)
    );
    let asc = Filter {
        order: Order::Asc,
        ..all.clone()
    };
    assert_eq!(
        ids(&records.list_connections("env", &asc).await.unwrap()),
        ["c1", "c3"]
    );
    assert!(
        records
            .list_connections("other-env", &all)
            .await
            .unwrap()
            .rows
            .is_empty()
    );
    // Cursor pages, one row each: forward, back, and with the cursor's own row.
    let first = records.list_connections("env", &Filter::page(1)).await.unwrap();
    assert_eq!(
        (
            ids(&first),
            first.next.as_deref(),
            first.previous.as_deref(),
            first.total
        ),
        (vec!["c3".to_owned()], Some("c3"), None, 2)
    );
    let after = Filter {
        after: first.next.clone(),
        ..Filter::page(1)
    };
    let second = records.list_connections("env", &after).await.unwrap();
    assert_eq!(
        (ids(&second), second.next.as_deref(), second.previous.as_deref()),
        (vec!["c1".to_owned()], None, Some("c1"))
    );
    let before = Filter {
        before: second.previous.clone(),
        ..Filter::page(1)
    };
    let back = records.list_connections("env", &before).await.unwrap();
    assert_eq!(
        (ids(&back), back.next.as_deref(), back.previous.as_deref()),
        (vec!["c3".to_owned()], Some("c3"), None)
    );
    let with_cursor = Filter {
        after: Some("c3".into()),
        include_cursor: true,
        ..Filter::page(5)
    };
    assert_eq!(
        ids(&records.list_connections("env", &with_cursor).await.unwrap()),
        ["c3", "c1"]
    );
    let unknown = Filter {
        after: Some("nope".into()),
        ..Filter::page(5)
    };
    assert!(
        records
            .list_connections("env", &unknown)
            .await
            .unwrap()
            .rows
            .is_empty()
    );
    // Filters: connection mode, exact context keys, integrations.
    let count = |f: Filter| async move { records.list_connections("env", &f).await.unwrap().rows.len() };
    assert_eq!(
        count(Filter {
            shared: Some(true),
            ..all.clone()
        })
        .await,
        2
    );
    assert_eq!(
        count(Filter {
            shared: Some(false),
            ..all.clone()
        })
        .await,
        0
    );
    assert_eq!(
        count(Filter {
            context_keys: Some("tenant:acme".into()),
            ..all.clone()
        })
        .await,
        2
    );
    assert_eq!(
        count(Filter {
            context_keys: Some("tenant:other".into()),
            ..all.clone()
        })
        .await,
        0
    );
    assert_eq!(
        count(Filter {
            context_keys: Some(String::new()),
            ..all.clone()
        })
        .await,
        0
    );
    assert_eq!(
        count(Filter {
            integration_identifiers: Some(vec!["slack".into()]),
            ..all.clone()
        })
        .await,
        2
    );
    assert_eq!(
        count(Filter {
            integration_identifiers: Some(Vec::new()),
            ..all.clone()
        })
        .await,
        0
    );
    // A point read (its count is its row): found, twice (prepared once), and absent.
    for (id, want) in [("c3", 1), ("c3", 1), ("nope", 0)] {
        let point = Filter {
            identifier: Some(id.into()),
            ..Filter::page(20)
        };
        let listed = records.list_connections("env", &point).await.unwrap();
        assert_eq!((listed.rows.len(), listed.total), (want, want as i64), "{id}");
    }
    // A long list is prepared each time, not kept (PostgreSQL): same answer.
    let many: Vec<String> = (0..12)
        .map(|i| format!("other-{i}"))
        .chain(["slack".into()])
        .collect();
    for _ in 0..2 {
        assert_eq!(
            count(Filter {
                integration_identifiers: Some(many.clone()),
                ..all.clone()
            })
            .await,
            2
        );
    }
    let endpoints = records.list_endpoints("env", &all).await.unwrap();
    assert_eq!(
        (endpoints.rows.len(), endpoints.total),
        (2, 2),
        "one per connection"
    );
    assert!(endpoints.rows.iter().all(|e| e.identifier.starts_with("chendp_")));
    let only_c3 = Filter {
        connection_identifier: Some("c3".into()),
        ..all.clone()
    };
    assert_eq!(
        records.list_endpoints("env", &only_c3).await.unwrap().rows.len(),
        1
    );
    // An identifier cannot move a connection onto another's workspace; a
    // new identifier for a stored workspace and owner finds the stored row.
    let reused = [
        ("A", "T7", stored("A")),
        ("B", "T8", stored("B")),
        ("B", "T7", Saved::Refused(Conflict::Workspace)),
        ("C", "T7", stored("A")),
    ];
    for (id, team, expected) in reused {
        let saved = records
            .save("reuse", &slack_records(id, team, "xoxb-r"), None, t)
            .await;
        assert_eq!(saved.unwrap(), expected, "{id} on {team}");
    }
    let link = StartLink {
        url: "https://provider/authorize".into(),
        cookie: "cookie".into(),
    };
    records.save_start("s1", &link, t + 300).await.unwrap();
    assert_eq!(records.take_start("s1", t).await.unwrap(), Some(link.clone()));
    assert_eq!(records.take_start("s1", t).await.unwrap(), None, "once");
    records.save_start("s2", &link, t + 300).await.unwrap();
    assert_eq!(records.take_start("s2", t + 301).await.unwrap(), None, "expired");
}

/// Many callbacks for one workspace and context at once (a pool, or many
/// instances): one connection, one endpoint, one identifier for all.
async fn concurrent_installs_suite<R: Connections + Endpoints + 'static>(records: Arc<R>) {
    let t = now();
    let saves: Vec<_> = (0..16)
        .map(|i| {
            let records = records.clone();
            tokio::spawn(async move {
                let mine = slack_records(&format!("race-{i}"), "T9", "xoxb-race");
                records.save("race", &mine, None, t).await.unwrap()
            })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    for save in saves {
        match save.await.unwrap() {
            Saved::Stored(id) => ids.insert(id),
            refused => panic!("{refused:?}"),
        };
    }
    assert_eq!(ids.len(), 1, "one identifier answered to all: {ids:?}");
    let all = Filter {
        limit: 100,
        ..Filter::default()
    };
    assert_eq!(
        records.list_connections("race", &all).await.unwrap().rows.len(),
        1
    );
    assert_eq!(records.list_endpoints("race", &all).await.unwrap().rows.len(), 1);
    // One identifier named from 16 workspaces at once: the first save
    // stores it, every other is refused, whichever instance runs it.
    let saves: Vec<_> = (0..16)
        .map(|i| {
            let records = records.clone();
            tokio::spawn(async move {
                let mine = slack_records("contested", &format!("T{i}"), "xoxb-race");
                records.save("contest", &mine, None, t).await.unwrap()
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for save in saves {
        outcomes.push(save.await.unwrap());
    }
    let stored = outcomes.iter().filter(|o| matches!(o, Saved::Stored(_))).count();
    let refused = outcomes
        .iter()
        .filter(|o| **o == Saved::Refused(Conflict::Workspace))
        .count();
    assert_eq!((stored, refused), (1, 15), "{outcomes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sender_reads_credentials_on_postgres() {
    let Some(pg) = Postgres::start("credentials") else {
        return;
    };
    let key = Config::demo("http://127.0.0.1:1").unwrap().token_keys;
    let records = PgStore::connect(&pg.url(), &key, os_entropy).await.unwrap();
    credentials_rules(&start_on(db_path("credentials-pg"), None, |st| st.recording(records)).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_writes_keep_what_the_callback_relies_on_postgres() {
    let Some(pg) = Postgres::start("write-rules") else {
        return;
    };
    let key = Config::demo("http://127.0.0.1:1").unwrap().token_keys;
    let records = PgStore::connect(&pg.url(), &key, os_entropy).await.unwrap();
    api_write_rules(&start_on(db_path("write-rules-pg"), None, |st| st.recording(records)).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_cannot_take_over_another_connection_on_postgres() {
    let Some(pg) = Postgres::start("reinstall") else {
        return;
    };
    let key = Config::demo("http://127.0.0.1:1").unwrap().token_keys;
    let records = PgStore::connect(&pg.url(), &key, os_entropy).await.unwrap();
    reinstall_rules(&start_on(db_path("reinstall-pg"), None, |st| st.recording(records)).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_records_suite_holds_on_sqlite_and_postgres() {
    let sqlite = Store::in_memory(&[4; 32], os_entropy).unwrap();
    records_suite(&sqlite).await;
    concurrent_installs_suite(Arc::new(sqlite)).await;
    let Some(pg) = Postgres::start("records") else {
        return;
    };
    let store = PgStore::connect(&pg.url(), &[4; 32], os_entropy).await.unwrap();
    records_suite(&store).await;
    concurrent_installs_suite(Arc::new(store)).await;
    // A second connection (another instance) finds the schema in place.
    PgStore::connect(&pg.url(), &[4; 32], os_entropy).await.unwrap();
}

/// Every filter, order and cursor a caller can pick is a text of its own
/// (some 1,500): a pooled connection keeps only the most recent prepared,
/// and lists still answer after it starts over.
#[tokio::test]
async fn a_callers_filters_keep_few_statements_prepared_on_postgres() {
    use channel_connect_server::store::OrderBy;
    use channel_connect_server::store::postgres::{CACHED_STATEMENTS, PgOptions};
    let Some(pg) = Postgres::start("statements") else {
        return;
    };
    let one = PgOptions {
        pool_size: 1,
        ..PgOptions::default()
    };
    let store = PgStore::connect_with(&pg.url(), &[4; 32], os_entropy, &one)
        .await
        .unwrap();
    let saved = store
        .save("env", &slack_records("c1", "T1", "xoxb-s"), None, now())
        .await;
    assert_eq!(saved.unwrap(), Saved::Stored(Some("c1".into())));
    // 540 texts: 54 filters of each table, each counted and paged in four orders.
    for integrations in [None, Some(0), Some(1), Some(2), Some(3), Some(8)] {
        for shared in [None, Some(true), Some(false)] {
            for (subscriber, keys) in [(None, None), (Some("s"), None), (None, Some("tenant:a"))] {
                for order_by in [OrderBy::CreatedAt, OrderBy::UpdatedAt] {
                    for order in [Order::Asc, Order::Desc] {
                        let f = Filter {
                            subscriber_id: subscriber.map(str::to_owned),
                            integration_identifiers: integrations
                                .map(|n| (0..n).map(|i| format!("slack-{i}")).collect()),
                            shared,
                            context_keys: keys.map(str::to_owned),
                            order_by,
                            order,
                            ..Filter::page(10)
                        };
                        store.list_connections("env", &f).await.unwrap();
                        store.list_endpoints("env", &f).await.unwrap();
                    }
                }
            }
        }
    }
    let kept = store.cached_statements().await.unwrap();
    assert!(kept <= CACHED_STATEMENTS, "{kept} statements kept prepared");
    let listed = store.list_connections("env", &Filter::page(10)).await.unwrap();
    assert_eq!((listed.rows.len(), listed.total), (1, 1));
    let point = store.list_connections("env", &Filter::one("c1")).await.unwrap();
    assert_eq!(point.rows[0].connection.identifier, "c1");
}

#[tokio::test]
async fn postgres_down_fails_closed_and_the_service_recovers_when_it_is_back() {
    let Some(pg) = Postgres::start("down") else { return };
    let key = Config::demo("http://127.0.0.1:1").unwrap().token_keys;
    let records = PgStore::connect(&pg.url(), &key, os_entropy).await.unwrap();
    let s = start_on(db_path("postgres-down"), None, |st| st.recording(records)).await;
    let first = s.connect(SEED).await;
    assert_eq!(s.allow(&first).await.status(), StatusCode::OK);

    // A flow begun before PostgreSQL went away (a reconnect naming a stored
    // connection needs the store at issue, and fails closed without it).
    let url = s.connect(SEED).await;
    pg.stop_server();
    let (status, _, _) = s
        .post(
            "/v1/integrations/channel-connections/oauth",
            Some(DEMO_API_KEY),
            None,
            SEED,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "no ownership check, no URL"
    );
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
    assert_eq!(ids, ["after-recovery", "slack-connection-abc123"], "newest first");
}

#[tokio::test]
async fn postgres_failing_inside_the_transaction_writes_nothing_and_another_instance_finishes_the_retry() {
    let Some(engines) = Engines::start("pg-fails").await else {
        return;
    };
    let a = engines.instance("pg-fails-a", None).await;
    let b = engines.instance("pg-fails-b", Some(&a.base)).await;

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

#[tokio::test]
async fn postgres_over_tls_trusts_the_given_ca_only() {
    use channel_connect_server::store::postgres::PgOptions;
    let Some(pg) = Postgres::start_tls("tls") else {
        return;
    };
    let require = format!("{}?sslmode=require", pg.url());
    // The server takes no plain connection: what succeeds below went over TLS.
    let plain = format!("{}?sslmode=disable", pg.url());
    assert!(
        tokio_postgres::connect(&plain, tokio_postgres::NoTls)
            .await
            .is_err()
    );

    let trusting = |ca: &str| PgOptions {
        ca_file: Some(pg.ca(ca)),
        ..PgOptions::default()
    };
    let store = PgStore::connect_with(&require, &[5; 32], os_entropy, &trusting("ca"))
        .await
        .unwrap();
    records_suite(&store).await;
    // A certificate the store cannot verify is no connection: another CA,
    // or the system's roots, which do not hold the test's CA.
    let other = PgStore::connect_with(&require, &[5; 32], os_entropy, &trusting("other-ca")).await;
    assert!(other.is_err());
    assert!(PgStore::connect(&require, &[5; 32], os_entropy).await.is_err());
}

#[tokio::test]
async fn redis_over_tls_trusts_the_given_ca_only() {
    let Some(redis) = Redis::start_tls("tls") else {
        return;
    };
    let url = redis.url();
    assert!(url.starts_with("rediss://"), "{url}");
    let shared = RedisStore::connect_with(&url, "tls", Some(&redis.ca("ca")))
        .await
        .unwrap();
    replay_suite(&shared).await;
    idempotency_suite(&shared).await;
    // A certificate the store cannot verify is no connection.
    let other = RedisStore::connect_with(&url, "tls", Some(&redis.ca("other-ca"))).await;
    assert!(other.is_err());
    assert!(
        RedisStore::connect(&url, "tls").await.is_err(),
        "the system's roots"
    );
    // The server speaks TLS only: plain Redis gets nowhere.
    let plain = url.replace("rediss://", "redis://");
    assert!(RedisStore::connect(&plain, "tls").await.is_err());
}

/// Every statement that purges expired rows or finds one row (each runs
/// per request, some on unauthenticated ones) uses an index, on both
/// engines: a table scan per request is a denial of service in waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_purge_and_lookup_uses_an_index() {
    let db = db_path("indexed");
    drop(Store::open(&db, &[4; 32], os_entropy).unwrap());
    let sqlite = rusqlite::Connection::open(&db).unwrap();
    // Each statement and the column its index must search by.
    let sqlite_statements = [
        ("DELETE FROM replay_marks WHERE expires_at < 1", "expires_at<"),
        ("DELETE FROM starts WHERE expires_at < 1", "expires_at<"),
        ("DELETE FROM parked WHERE expires_at < 1", "expires_at<"),
        ("DELETE FROM idempotency WHERE created_at < 1", "created_at<"),
        ("SELECT url FROM starts WHERE id = 'i'", "id="),
        ("DELETE FROM parked WHERE key = x'00' AND expires_at >= 1", "key="),
        (
            "SELECT status FROM idempotency WHERE environment_id = 'e' AND key = 'k'",
            "key=",
        ),
        (
            "SELECT public_json FROM connections WHERE environment_id = 'e' AND identifier = 'i'",
            "identifier=",
        ),
        (
            "SELECT identifier FROM connections WHERE environment_id = 'e' AND natural_key = x'00'",
            "natural_key=",
        ),
        (
            "SELECT identifier FROM endpoints WHERE environment_id = 'e' AND natural_key = x'00'",
            "natural_key=",
        ),
        (
            "SELECT public_json FROM endpoints WHERE environment_id = 'e' AND connection_identifier = 'c'",
            "connection_identifier=",
        ),
    ];
    for (sql, searched) in sqlite_statements {
        let plan: Vec<String> = sqlite
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(
            plan.iter()
                .any(|step| step.starts_with("SEARCH") && step.contains(searched)),
            "SQLite does not search by {searched} for {sql}: {plan:?}"
        );
    }

    let Some(pg) = Postgres::start("indexed") else {
        return;
    };
    drop(PgStore::connect(&pg.url(), &[4; 32], os_entropy).await.unwrap());
    let (client, conn) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    // Rows enough, spread over environments, that the planner's choice says
    // what a loaded table gets.
    client
        .batch_execute(
            "INSERT INTO cc_starts SELECT 's' || n, 'u', 'c', n FROM generate_series(1, 5000) n;
             INSERT INTO cc_connections (environment_id, identifier, integration_identifier, natural_key,
                 public_json, sealed, created_at, updated_at)
             SELECT 'e' || (n % 3), 'i' || n, 'slack', sha256(n::text::bytea), '{}', '', n, n
             FROM generate_series(1, 5000) n;
             INSERT INTO cc_endpoints (environment_id, identifier, integration_identifier, subscriber_id,
                 connection_identifier, natural_key, public_json, sealed, created_at, updated_at)
             SELECT 'e' || (n % 3), 'p' || n, 'slack', 's', 'i' || (n / 2), sha256(n::text::bytea), '{}', '', n, n
             FROM generate_series(1, 5000) n;
             ANALYZE",
        )
        .await
        .unwrap();
    let pg_statements = [
        ("DELETE FROM cc_starts WHERE expires_at < 1", "expires_at <"),
        ("DELETE FROM cc_starts WHERE id = 'i'", "id ="),
        (
            "SELECT public_json FROM cc_connections WHERE environment_id = 'e1' AND identifier = 'i7'",
            "identifier =",
        ),
        (
            "SELECT identifier FROM cc_connections WHERE environment_id = 'e1' AND natural_key = '\\x00'",
            "natural_key =",
        ),
        (
            "SELECT identifier FROM cc_endpoints WHERE environment_id = 'e1' AND natural_key = '\\x00'",
            "natural_key =",
        ),
        (
            "SELECT public_json FROM cc_endpoints WHERE environment_id = 'e1' AND connection_identifier = 'i7'",
            "connection_identifier =",
        ),
    ];
    for (sql, searched) in pg_statements {
        let plan: Vec<String> = client
            .query(&format!("EXPLAIN {sql}"), &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(
            plan.iter()
                .any(|step| step.contains("Index Cond") && step.contains(searched)),
            "PostgreSQL does not search by {searched} for {sql}: {plan:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_tokens_on_postgres() {
    let Some(pg) = Postgres::start("rotation") else {
        return;
    };
    let key = Config::demo("http://127.0.0.1:1").unwrap().token_keys;
    let records = PgStore::connect(&pg.url(), &key, os_entropy).await.unwrap();
    let s = start_on(db_path("rotation-pg"), None, |st| st.recording(records.clone())).await;
    rotation_rules(&s, &records).await;
}

/// Two instances on Redis and PostgreSQL read a token due for refresh at
/// once, four readers each: Slack sees one refresh and no refused one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_refresh_a_token_once() {
    let Some(engines) = Engines::start("two-refresh").await else {
        return;
    };
    let a = engines.instance("two-refresh-a", None).await;
    let b = engines.instance("two-refresh-b", Some(&a.base)).await;
    assert_eq!(
        a.allow(&a.connect(&rotating_body("rotating-two")).await)
            .await
            .status(),
        StatusCode::OK
    );
    let reads = (0..8).map(|i| read_credentials(if i % 2 == 0 { &a } else { &b }, "rotating-two"));
    let reads = futures_util::future::join_all(reads).await;
    let stored = engines
        .records
        .connection_record(DEMO_ENV, "rotating-two")
        .await
        .unwrap()
        .unwrap();
    let new = stored.auth.unwrap().access_token.expose().to_owned();
    let tokens: Vec<&str> = reads
        .iter()
        .map(|(status, v)| {
            assert_eq!(*status, StatusCode::OK, "{v}");
            v["data"]["auth"]["accessToken"].as_str().unwrap()
        })
        .collect();
    // The new token, or the old one while it is valid (one old token only).
    assert!(tokens.contains(&new.as_str()), "{tokens:?}");
    let old: std::collections::HashSet<&&str> = tokens.iter().filter(|t| **t != new).collect();
    assert!(old.len() <= 1, "{tokens:?}");
    let activity = slack_activity(&a).await;
    assert_eq!(
        (
            activity["refreshes"].as_u64(),
            activity["refused_refreshes"].as_u64()
        ),
        (Some(1), Some(0)),
        "{activity}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_connection_revokes_its_token_on_postgres() {
    let Some(pg) = Postgres::start("revoke") else {
        return;
    };
    let key = Config::demo("http://127.0.0.1:1").unwrap().token_keys;
    let records = PgStore::connect(&pg.url(), &key, os_entropy).await.unwrap();
    revoke_rules(&start_on(db_path("revoke-pg"), None, |st| st.recording(records)).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_teams_app_installs_are_kept_on_postgres() {
    let Some(pg) = Postgres::start("teams-app") else {
        return;
    };
    let key = Config::demo("http://127.0.0.1:1").unwrap().token_keys;
    let records = PgStore::connect(&pg.url(), key, os_entropy).await.unwrap();
    teams_app_rules(&start_on(db_path("teams-app-pg"), None, |st| st.recording(records)).await).await;
}

/// `/readyz` names Redis while it is down (503), and answers 200 once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_names_a_store_that_is_down() {
    let Some(mut engines) = Engines::start("readyz").await else {
        return;
    };
    let s = engines.instance("readyz", None).await;
    let ready = || async { s.get("/readyz").await };
    assert_eq!(ready().await.status(), StatusCode::OK);
    engines.redis.stop();
    let res = ready().await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let v: serde_json::Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(v["down"], serde_json::json!(["redis"]), "{v}");
    assert_eq!(
        (&v["stores"]["postgres"], &v["stores"]["sqlite"]),
        (&serde_json::json!("up"), &serde_json::json!("up"))
    );
    assert!(v["message"].as_str().unwrap().contains("redis"), "{v}");
    engines.redis.restart();
    let mut status = ready().await.status();
    for _ in 0..50 {
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = ready().await.status();
    }
    assert_eq!(status, StatusCode::OK, "back");
}
