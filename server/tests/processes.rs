//! The service as its users run it: the `channel-connect-server` binary,
//! two processes sharing a real Redis and PostgreSQL, a signing-key
//! rotation rolled out by restarting them one at a time, and a SIGTERM
//! while a callback is in flight.

mod common;

use common::process::{Process, spawn_with_slack};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use channel_connect_server::config::Config;
use channel_connect_server::os_entropy;
use channel_connect_server::store::Filter;
use channel_connect_server::store::sqlite::Store;
use common::engines::*;
use common::*;
use reqwest::StatusCode;
use tokio::sync::Notify;

#[tokio::test]
async fn two_processes_share_redis_and_postgres() {
    let Some(engines) = Engines::start("processes").await else {
        return;
    };
    let (redis, database) = (engines.redis.url(), engines.pg.url());
    let shared = ["--redis", &redis, "--database", &database, "--demo"];
    let (pa, pb) = (free_port(), free_port());
    let a = Process::spawn("process-a", pa, &shared);
    // B behind A's address: the same redirect URI and stand-ins.
    let public = a.server.base.clone();
    let b = Process::spawn(
        "process-b",
        pb,
        &[&shared[..], &["--public-url", &public]].concat(),
    );
    let (a, b) = (&a.server, &b.server);

    two_instances_agree(a, b).await;
    // Stored in PostgreSQL: neither process's SQLite file has it.
    assert!(!contains(&a.db_bytes(), "slack-connection-abc123"));
    assert!(!contains(&b.db_bytes(), "slack-connection-abc123"));
}

#[tokio::test]
async fn sigterm_stops_accepting_and_finishes_the_callback_in_flight() {
    let (arrived, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let provider = held_provider(arrived.clone(), release.clone()).await;
    let mut p = spawn_with_slack("sigterm", &provider, &[], None, None);
    let (base, port) = (p.server.base.clone(), p.port());

    let url = p.server.connect(SEED).await;
    let state = url.split("state=").nth(1).unwrap().split('&').next().unwrap();
    let callback = format!("{base}/v1/integrations/chat/oauth/callback?code=c&state={state}");
    let http = p.server.http.clone();
    let in_flight = tokio::spawn(async move { http.get(callback).send().await });

    // The callback waits on the provider; now the process is told to stop.
    arrived.notified().await;
    p.terminate();
    let mut refused = false;
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(refused, "no new connection is accepted once stopping");

    // The provider answers: the request in flight completes and is stored,
    // then the process exits cleanly.
    release.notify_one();
    let res = in_flight
        .await
        .unwrap()
        .expect("the request in flight is answered");
    let status = res.status();
    let page = res.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("all set"));
    assert!(p.wait_exit().success());

    let token_key = Config::demo(&base).unwrap().token_keys;
    let store = Store::open(&p.server.db, &token_key, os_entropy).unwrap();
    let all = Filter {
        limit: 10,
        ..Filter::default()
    };
    let stored = store.list_connections(DEMO_ENV, &all).unwrap().rows;
    assert_eq!(
        stored.len(),
        1,
        "the connection finished during shutdown is stored"
    );
}

/// The key rings of a rotation from key 1 to key 2 (id, active): first 2
/// is known everywhere, then it signs everywhere.
const ROTATION: [&[(u8, bool)]; 3] = [&[(1, true)], &[(1, true), (2, false)], &[(2, true), (1, false)]];

#[tokio::test]
async fn a_signing_key_rotation_rolled_out_one_process_at_a_time_refuses_no_flow_in_flight() {
    let Some(engines) = Engines::start("rotation").await else {
        return;
    };
    // The provider: a demo process whose stand-ins play Slack throughout
    // (its codes outlive the restarts); its address is the one browsers
    // and Slack know, and each callback is moved from it to A or B.
    let provider = Process::spawn("rotation-provider", free_port(), &["--demo"]);
    let public = provider.server.base.clone();
    let (redis, database) = (engines.redis.url(), engines.pg.url());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let ports = [free_port(), free_port()];
    let start = |which: usize, step: usize| {
        let config = dir.join(format!("rotation-{step}.json"));
        std::fs::write(&config, config_text_with_keys(&public, ROTATION[step])).unwrap();
        let config = config.to_str().unwrap();
        let args = [
            "--config",
            config,
            "--public-url",
            &public,
            "--redis",
            &redis,
            "--database",
            &database,
        ];
        Process::spawn(&format!("rotation-{which}"), ports[which], &args)
    };
    let mut processes = [start(0, 0), start(1, 0)];

    // A moves on, then B, step by step; before each move, a flow begun on
    // each process is left in flight, to end on each after the move.
    for (which, step) in [(0, 1), (1, 1), (0, 2), (1, 2)] {
        let mut in_flight = Vec::new();
        for (issuer, p) in processes.iter().enumerate() {
            for finisher in 0..2 {
                let s = &p.server;
                let url = s.connect(SEED).await;
                in_flight.push((issuer, finisher, s.link(&url, "allow").await));
            }
        }
        processes[which].terminate();
        assert!(processes[which].wait_exit().success());
        processes[which] = start(which, step);
        for (issuer, finisher, link) in in_flight {
            let to = &processes[finisher].server;
            let res = to.get(&link.replacen(&public, &to.base, 1)).await;
            let page = res.text().await.unwrap();
            assert!(
                page.contains("all set"),
                "begun on process {issuer}, ended on {finisher} after process {which} moved to step {step}: {page}"
            );
        }
    }

    // Skipping the step where key 2 is known but not yet signing: a process
    // still on key 1 alone refuses what a moved one signs.
    processes[1].terminate();
    processes[1].wait_exit();
    let behind = start(1, 0);
    let moved = &processes[0].server;
    let url = moved.connect(SEED).await;
    let link = moved.link(&url, "allow").await;
    refused_state(
        behind
            .server
            .get(&link.replacen(&public, &behind.server.base, 1))
            .await,
    )
    .await;
}

#[tokio::test]
async fn the_binary_reaches_redis_and_postgres_over_tls() {
    let (Some(redis), Some(pg)) = (
        Redis::start_tls("process-tls"),
        Postgres::start_tls("process-tls"),
    ) else {
        return;
    };
    let database = format!("{}?sslmode=require", pg.url());
    let (redis_ca, pg_ca) = (redis.ca("ca"), pg.ca("ca"));
    let args = [
        "--demo",
        "--redis",
        &redis.url(),
        "--redis-ca",
        redis_ca.to_str().unwrap(),
        "--database",
        &database,
        "--database-ca",
        pg_ca.to_str().unwrap(),
    ];
    let p = Process::spawn("process-tls", free_port(), &args);
    let s = &p.server;
    let url = s.connect(SEED).await;
    assert_eq!(s.allow(&url).await.status(), StatusCode::OK);
    assert_eq!(s.list("/v1/channel-connections").await.len(), 1);
}

#[test]
fn without_a_configuration_or_demo_the_binary_says_what_to_pass() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_channel-connect-server"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--config FILE") && err.contains("--demo"), "{err}");
    assert!(out.stdout.is_empty());
}

#[tokio::test]
async fn the_demo_off_loopback_says_loudly_that_it_is_a_demo() {
    let port = free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_channel-connect-server"))
        .args(["--demo", "--listen", &format!("0.0.0.0:{port}")])
        .args(["--public-url", &format!("http://127.0.0.1:{port}"), "--db"])
        .arg(db_path("demo-everywhere"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Every line up to the one the demo always prints.
    let mut said = String::new();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    while !said.contains("channel-connect demo on") {
        let read = std::io::BufRead::read_line(&mut out, &mut said).unwrap();
        assert!(read > 0, "the demo exited: {said}");
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(said.contains("THIS IS THE DEMO"), "{said}");

    // On loopback it only says where it is; a SIGTERM as soon as it
    // listens finds the handler (it was installed before the port opened).
    for _ in 0..5 {
        let mut p = Process::spawn("demo-loopback", free_port(), &["--demo"]);
        p.terminate();
        assert!(p.wait_exit().success());
    }
}

// Two threads: the held provider answers while the test waits for the exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_waits_for_a_callback_whose_browser_went_away() {
    let (arrived, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let provider = held_provider(arrived.clone(), release.clone()).await;
    let mut p = spawn_with_slack("sigterm-gone", &provider, &[], None, None);
    let base = p.server.base.clone();

    let url = p.server.connect(SEED).await;
    let state = url.split("state=").nth(1).unwrap().split('&').next().unwrap();
    let callback = format!("{base}/v1/integrations/chat/oauth/callback?code=c&state={state}");
    let http = p.server.http.clone();
    let in_flight = tokio::spawn(async move { http.get(callback).send().await });
    arrived.notified().await;
    // The browser goes away mid-exchange, then the process is told to stop:
    // no connection is left, but the exchange (its code spent) still runs.
    in_flight.abort();
    tokio::time::sleep(Duration::from_millis(100)).await;
    p.terminate();
    tokio::time::sleep(Duration::from_millis(200)).await;
    release.notify_one();
    assert!(p.wait_exit().success());

    let token_key = Config::demo(&base).unwrap().token_keys;
    let store = Store::open(&p.server.db, &token_key, os_entropy).unwrap();
    let all = Filter {
        limit: 10,
        ..Filter::default()
    };
    let stored = store.list_connections(DEMO_ENV, &all).unwrap().rows;
    assert_eq!(stored.len(), 1, "stored before the process exited");
}

/// The binary's sweep refreshes a rotating token due soon without anyone
/// reading it, once, and stops with the process.
#[tokio::test]
async fn the_sweep_refreshes_a_token_nobody_reads() {
    let p = Process::spawn("sweep", free_port(), &["--demo", "--refresh-interval", "1"]);
    let s = &p.server;
    assert_eq!(
        s.allow(&s.connect(&rotating_body("swept")).await).await.status(),
        StatusCode::OK
    );
    let mut refreshes = 0;
    for _ in 0..100 {
        refreshes = slack_activity(s).await["refreshes"].as_u64().unwrap();
        if refreshes > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(refreshes, 1, "the sweep refreshed the token due");
    // Fresh for twelve hours now: later sweeps leave it.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(slack_activity(s).await["refreshes"].as_u64(), Some(1));
    assert_eq!(read_credentials(s, "swept").await.0, StatusCode::OK);
    assert_eq!(slack_activity(s).await["refreshes"].as_u64(), Some(1));
}

/// A Slack that cannot be reached does not keep a deleted connection alive:
/// it is deleted, and the answer says the token was not revoked.
#[tokio::test]
async fn a_slack_out_of_reach_does_not_keep_a_deleted_connection() {
    let (slack, task) = vanishing_slack().await;
    let p = spawn_with_slack("revoke-unreachable", &slack, &[], None, None);
    let s = &p.server;
    let url = s.connect(SEED).await;
    let state = url.split("state=").nth(1).unwrap().split('&').next().unwrap();
    let callback = format!("/v1/integrations/chat/oauth/callback?code=c&state={state}");
    assert_eq!(s.get(&callback).await.status(), StatusCode::OK);
    task.abort();
    let _ = task.await;
    let res = s.delete_connection("slack-connection-abc123").await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(res.headers()["x-not-revoked"], "bot_token");
    assert!(res.headers().get("x-revoked").is_none());
    assert_eq!(
        read_credentials(s, "slack-connection-abc123").await.0,
        StatusCode::NOT_FOUND
    );
}

/// A Teams user link stored while Graph is down keeps its installation
/// `pending`, and the binary's pass installs the app once Graph is back.
#[tokio::test]
async fn a_teams_app_install_that_failed_is_tried_again() {
    let p = Process::spawn(
        "app-install",
        free_port(),
        &["--demo", "--app-install-interval", "1"],
    );
    let s = &p.server;
    let outage = |down: bool| {
        s.http
            .post(format!("{}/standin/graph/outage?down={down}", s.base))
            .send()
    };
    assert_eq!(outage(true).await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(
        teams_flow(s).await.status(),
        StatusCode::OK,
        "the link is stored all the same"
    );
    let status = || async { s.list("/v1/channel-endpoints").await[0]["appInstallation"].clone() };
    assert_eq!(status().await, "pending");
    assert_eq!(graph_activity(s).await["installs"], 0);
    outage(false).await.unwrap();
    let mut seen = status().await;
    for _ in 0..100 {
        if seen == "installed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        seen = status().await;
    }
    assert_eq!(seen, "installed");
    assert_eq!(graph_activity(s).await["installs"], 1);
}

/// Listening on every address without `--public-url`: the start links
/// would name `0.0.0.0`, which no browser reaches; the log says so first.
#[tokio::test]
async fn an_unroutable_public_address_is_warned_about() {
    let port = free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_channel-connect-server"))
        .args(["--demo", "--listen", &format!("0.0.0.0:{port}"), "--db"])
        .arg(db_path("unroutable"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // It warns, then stops: the demo's redirect URI would be plain http off loopback.
    let mut said = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut said).unwrap();
    assert!(!child.wait().unwrap().success());
    assert!(
        said.contains("browsers cannot reach this address") && said.contains("http://0.0.0.0:"),
        "{said}"
    );
    assert!(said.contains("redirect URI must use https"), "{said}");
}
