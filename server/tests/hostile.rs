//! Hostile connections against the binary: a flood of half-open
//! connections under a low file-descriptor limit leaves the service
//! answering, and a connection that never finishes its request cannot hold
//! a SIGTERM back past the shutdown deadline.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::process::Process;
use common::*;
use reqwest::StatusCode;

/// `n` connections that each send half a request line and then nothing.
fn half_open(port: u16, n: usize) -> Vec<TcpStream> {
    (0..n)
        .filter_map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
            s.write_all(b"GET /healthz HT").ok()?;
            Some(s)
        })
        .collect()
}

#[tokio::test]
async fn half_open_connections_under_a_low_descriptor_limit_do_not_starve_the_service() {
    let port = free_port();
    let args = ["--demo", "--max-connections", "48", "--header-timeout", "2"];
    let p = Process::spawn_with("half-open", port, &args, Some(128), None);
    // More half-open connections than the process has descriptors.
    let held = half_open(port, 300);
    assert_eq!(
        held.len(),
        300,
        "the kernel queues what the server has not accepted"
    );

    // Bounded, so a service that never answers fails the test instead of hanging it.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(90))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let health = http.get(format!("{}/healthz", p.server.base)).send().await;
    assert_eq!(health.expect("/healthz is answered").status(), StatusCode::OK);

    // A whole Slack flow: connect, the stand-in's Allow, the callback (whose
    // token exchange is itself a connection to this process), stored.
    let server = Server {
        http,
        base: p.server.base.clone(),
        db: p.server.db.clone(),
    };
    let url = server.connect(SEED).await;
    let res = server.allow(&url).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("all set"));
    drop(held);
}

#[tokio::test]
async fn sigterm_with_unfinished_requests_exits_within_the_shutdown_deadline() {
    let port = free_port();
    // Header deadline far off: only the shutdown deadline can end these.
    let args = ["--demo", "--header-timeout", "600", "--shutdown-timeout", "2"];
    let mut p = Process::spawn("shutdown-deadline", port, &args);
    let _line = half_open(port, 1);
    // And a request whose body never arrives (its handler waits for it).
    let mut body = TcpStream::connect(("127.0.0.1", port)).unwrap();
    body.write_all(
        b"POST /v1/integrations/channel-connections/oauth HTTP/1.1\r\nHost: x\r\n\
          Authorization: ApiKey demo-secret-key\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"integ",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));

    p.terminate();
    // wait_exit gives up after 10 s: without the 2 s deadline, the unfinished
    // body would hold the process until the request timeout (30 s).
    let status = p.wait_exit();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn the_log_names_routes_never_start_ids_codes_or_states() {
    let port = free_port();
    let log = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("secrets-log.txt");
    let mut p = Process::spawn_with("secrets-log", port, &["--demo"], None, Some(&log));
    let s = &p.server;
    // A bound flow: its start link's id is a bearer secret.
    let (_, _, v) = s
        .post(
            "/v1/integrations/channel-connections/oauth",
            Some(channel_connect_server::config::DEMO_BROWSER_API_KEY),
            None,
            SEED,
        )
        .await;
    let start = v["url"].as_str().unwrap().to_owned();
    let id = start.rsplit('/').next().unwrap().to_owned();
    let res = s.get(&start).await;
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let callback = s.link(&Server::location(&res), "allow").await;
    let done = s
        .http
        .get(&callback)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    let missing = s
        .get("/v1/integrations/chat/oauth/start/another-id-that-is-secret")
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    p.terminate();
    assert!(p.wait_exit().success());

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("/v1/integrations/chat/oauth/start/{id}"), "{text}");
    let query = callback.split_once('?').unwrap().1;
    let code = query.split('&').find_map(|kv| kv.strip_prefix("code=")).unwrap();
    let state = query.split('&').find_map(|kv| kv.strip_prefix("state=")).unwrap();
    let cookie_value = cookie.split_once('=').unwrap().1;
    for secret in [
        id.as_str(),
        "another-id-that-is-secret",
        code,
        state,
        cookie_value,
        "demo-browser-secret-key",
    ] {
        assert!(!text.contains(secret), "{secret} in the log:\n{text}");
    }
}
