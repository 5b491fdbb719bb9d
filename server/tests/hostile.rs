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
