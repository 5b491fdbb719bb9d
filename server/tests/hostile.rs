//! Hostile connections against the binary: a flood of half-open
//! connections under a low file-descriptor limit leaves the service
//! answering, and a connection that never finishes its request cannot hold
//! a SIGTERM back past the shutdown deadline.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::process::{Process, spawn_with_slack};
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
    // (The stand-in Slack is this same process: the token exchange is a
    // connection to itself, so it needs a descriptor and a slot.)
    let port = free_port();
    // The default cap (1024) is lowered to fit the 128 descriptors, so the
    // callback's own provider call still finds one.
    let args = ["--demo", "--header-timeout", "2"];
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

/// Sends a request on `stream` and reads the status line, or `None` when
/// the server closed the connection instead.
fn status_of(stream: &mut TcpStream, request: &[u8]) -> Option<String> {
    use std::io::Read;
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    stream.write_all(request).ok()?;
    let mut buf = [0u8; 512];
    let n = stream.read(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    text.lines().next().filter(|l| !l.is_empty()).map(str::to_owned)
}

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

#[tokio::test]
async fn one_client_address_holds_at_most_its_share_of_connections() {
    let port = free_port();
    let args = ["--demo", "--max-connections-per-client", "2"];
    let _p = Process::spawn("per-client", port, &args);
    // Two held and answered. The start-up probe's connection may still
    // count for a moment (the server sees its close a little later): try
    // again until both of ours are in.
    let mut kept: Vec<TcpStream> = Vec::new();
    for _ in 0..50 {
        kept = (0..2)
            .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
            .collect();
        if kept
            .iter_mut()
            .all(|s| status_of(s, HEALTH).as_deref() == Some("HTTP/1.1 200 OK"))
        {
            break;
        }
        kept.clear();
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(kept.len(), 2, "two connections of one client are answered");
    let mut third = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert_eq!(
        status_of(&mut third, HEALTH),
        None,
        "a third is closed unanswered"
    );
    drop(kept.pop());
    // The freed share is counted back (the server sees the close soon after).
    let mut answered = false;
    for _ in 0..100 {
        let mut again = TcpStream::connect(("127.0.0.1", port)).unwrap();
        if status_of(&mut again, HEALTH).is_some() {
            answered = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(answered, "a connection freed makes room for another");
}

#[tokio::test]
async fn a_request_head_over_64_kib_is_refused() {
    let port = free_port();
    let _p = Process::spawn("big-head", port, &["--demo"]);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 100 * 1024));
    big.extend_from_slice(b"\r\n\r\n");
    let status = status_of(&mut s, &big);
    assert!(
        status.as_deref().is_none_or(|l| l.contains(" 431 ")),
        "a 100 KiB head is not served: {status:?}"
    );
    let mut small = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert_eq!(status_of(&mut small, HEALTH).as_deref(), Some("HTTP/1.1 200 OK"));
}

// Two threads: the stand-in provider runs in this process while the test blocks on sockets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_never_take_the_descriptors_a_provider_call_needs() {
    use std::sync::Arc;
    use tokio::sync::Notify;
    let release = Arc::new(Notify::new());
    release.notify_one(); // the provider answers at once
    let provider = held_provider(Arc::new(Notify::new()), release).await;
    // The default cap (1024) under 128 descriptors, no per-client share,
    // half-open connections held for a minute.
    let args = ["--header-timeout", "60", "--max-connections-per-client", "0"];
    let log = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("descriptors-log.txt");
    let p = spawn_with_slack("descriptors", &provider, &args, Some(128), Some(&log));
    let port = p.port();
    let url = p.server.connect(SEED).await;
    let state = url.split("state=").nth(1).unwrap().split('&').next().unwrap();
    // The browser's connection, open before the flood.
    let mut browser = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let held = half_open(port, 200);
    std::thread::sleep(Duration::from_millis(300));

    let request =
        format!("GET /v1/integrations/chat/oauth/callback?code=c&state={state} HTTP/1.1\r\nHost: x\r\n\r\n");
    let status = status_of(&mut browser, request.as_bytes());
    assert_eq!(
        status.as_deref(),
        Some("HTTP/1.1 200 OK"),
        "the token exchange found a descriptor"
    );
    drop(held);
}

/// The routes anyone may call are limited per address: past the burst,
/// 429 with `Retry-After`; the API (keyed) and the health routes are not.
#[tokio::test]
async fn the_callback_is_rate_limited_per_address() {
    let args = [
        "--demo",
        "--rate-limit-per-minute",
        "6",
        "--rate-limit-burst",
        "3",
        "--rate-limit-loopback",
    ];
    let p = Process::spawn("rate-limit", free_port(), &args);
    let s = &p.server;
    let callback = "/v1/integrations/chat/oauth/callback?state=forged&code=x";
    for _ in 0..3 {
        assert_eq!(s.get(callback).await.status(), reqwest::StatusCode::BAD_REQUEST);
    }
    let limited = s.get(callback).await;
    assert_eq!(limited.status(), reqwest::StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&wait), "{wait}");
    assert!(limited.text().await.unwrap().contains("Try again in"));
    assert_eq!(
        s.get("/v1/integrations/chat/oauth/start/anything").await.status(),
        reqwest::StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(s.get("/healthz").await.status(), reqwest::StatusCode::OK);
    let (status, _, _) = s
        .post(
            "/v1/integrations/channel-connections/oauth",
            Some("demo-secret-key"),
            None,
            SEED,
        )
        .await;
    assert_eq!(
        status,
        reqwest::StatusCode::CREATED,
        "the API is not limited by address"
    );
}
