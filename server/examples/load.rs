//! A bounded load on loopback: the demo server as its own process, driven
//! by concurrent clients for a fixed time. Reports requests per second,
//! p50 and p99 latency, errors, and the server's CPU time per request
//! (from `/proc/<pid>/stat`, so the clients' own CPU is not counted).
//!
//! ```text
//! cargo build --release -p channel-connect-server --example load
//! target/release/examples/load [--clients 64] [--seconds 20] [--redis URL] [--database URL]
//! ```
//!
//! First the floor: a bare axum server (this program again, as its own
//! process, same runtime) answering the same POST with as many bytes of
//! JSON as the real connect answers, so `connect / bare` is what the
//! service costs over axum itself. Then three phases: `connect` (the seed
//! body POSTed), the same with a fresh
//! `idempotency-key` per request, and `callback` (a connect,
//! the stand-in's page, then the timed callback: verify, replay mark,
//! token exchange with the stand-in, records stored).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEY: &str = "ApiKey demo-secret-key";
/// The connect phase with an `idempotency-key` (the idempotency store's path).
const KEYED: &str = "connect + idempotency-key";

/// A bounded load on loopback (see the module documentation).
#[derive(clap::Parser)]
#[command(about)]
struct Args {
    /// Concurrent clients.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Seconds per phase.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Replay marks, parked records and idempotency entries in this Redis.
    #[arg(long)]
    redis: Option<String>,
    /// Connections and endpoints in this PostgreSQL.
    #[arg(long)]
    database: Option<String>,
    /// The PostgreSQL pool's size.
    #[arg(long)]
    database_pool: Option<String>,
    /// (Internal) serve the bare axum baseline on this port, answering
    /// `bare_bytes` of JSON.
    #[arg(long, hide = true)]
    serve_bare: Option<u16>,
    /// (Internal) the bare baseline's answer size.
    #[arg(long, hide = true, default_value_t = 0)]
    bare_bytes: usize,
}

impl Args {
    /// The server's flags for the engines asked for.
    fn extra(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (flag, value) in [
            ("--redis", &self.redis),
            ("--database", &self.database),
            ("--database-pool", &self.database_pool),
        ] {
            if let Some(v) = value {
                out.extend([flag.to_owned(), v.clone()]);
            }
        }
        out
    }
}

/// The server's CPU time so far (user + system), from `/proc`.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    // Fields after the command name (which may hold spaces) start after ')'.
    let rest = &stat[stat.rfind(')').expect("a stat line") + 2..];
    let fields: Vec<u64> = rest
        .split(' ')
        .skip(11)
        .take(2)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.iter().sum::<u64>();
    // Linux reports clock ticks of 1/100 s (USER_HZ) on every mainstream architecture.
    Duration::from_millis(ticks * 10)
}

/// The whole machine's (busy, total) CPU ticks so far, from `/proc/stat`:
/// whether the load generator, the server and the stores saturate it.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let total: u64 = ticks.iter().sum();
    // idle and iowait are the 4th and 5th fields.
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_server(extra: &[String]) -> Server {
    let exe = std::env::current_exe().expect("this program's path");
    let bin = exe
        .parent()
        .and_then(|p| p.parent())
        .expect("target/<profile>/examples")
        .join("channel-connect-server");
    assert!(
        bin.exists(),
        "build it first: cargo build --release -p channel-connect-server"
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let db = std::env::temp_dir().join(format!("cc-load-{port}.db"));
    let child = Command::new(bin)
        .args(["--demo", "--listen", &format!("127.0.0.1:{port}"), "--db"])
        .arg(&db)
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server starts");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Server { child, base }
}

/// One client's timed operations until the deadline: latencies (µs) and errors.
async fn client(base: Arc<String>, phase: &'static str, n: usize, deadline: Instant) -> (Vec<u32>, u64) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (mut latencies, mut errors, mut i) = (Vec::new(), 0u64, 0u64);
    while Instant::now() < deadline {
        i += 1;
        let body = format!(
            r#"{{"subscriberId":"load-{n}","integrationIdentifier":"slack","connectionIdentifier":"load-{n}-{i}","context":{{"key":"load"}},"connectionMode":"shared"}}"#
        );
        let started = Instant::now();
        let mut post = http
            .post(format!("{base}/v1/integrations/channel-connections/oauth"))
            .header("authorization", KEY)
            .header("content-type", "application/json");
        if phase == KEYED {
            // A fresh key each time: a claim and an answer kept per request.
            post = post.header("idempotency-key", format!("load-{n}-{i}"));
        }
        let post = post.body(body).send().await;
        let Ok(post) = post
            .map_err(|_| ())
            .and_then(|r| if r.status() == 201 { Ok(r) } else { Err(()) })
        else {
            errors += 1;
            continue;
        };
        if phase != "callback" {
            latencies.push(started.elapsed().as_micros() as u32);
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_slice(&post.bytes().await.unwrap_or_default()).unwrap_or_default();
        let page = match http.get(v["url"].as_str().unwrap_or_default()).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let Some(link) = page
            .split("id=\"allow\" href=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
        else {
            errors += 1;
            continue;
        };
        let started = Instant::now();
        match http.get(link.replace("&amp;", "&")).send().await {
            Ok(r) if r.status() == 200 => latencies.push(started.elapsed().as_micros() as u32),
            _ => errors += 1,
        }
    }
    (latencies, errors)
}

async fn phase(server: &Server, name: &'static str, a: &Args) -> f64 {
    let pid = server.child.id();
    let base = Arc::new(server.base.clone());
    let cpu_before = cpu_time(pid);
    let machine_before = machine_ticks();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(a.seconds);
    let tasks: Vec<_> = (0..a.clients)
        .map(|n| tokio::spawn(client(base.clone(), name, n, deadline)))
        .collect();
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await.expect("a client task");
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_time(pid) - cpu_before;
    let machine = machine_ticks();
    let busy = (machine.0 - machine_before.0) as f64 / (machine.1 - machine_before.1).max(1) as f64;
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let count = all.len() as f64;
    println!(
        "| {name} | {} | {:.0} | {:.2} | {:.2} | {errors} | {:.0} | {:.0} |",
        a.clients,
        count / elapsed,
        f64::from(pct(0.50)) / 1000.0,
        f64::from(pct(0.99)) / 1000.0,
        cpu.as_secs_f64() * 1e6 / count.max(1.0),
        busy * 100.0,
    );
    count / elapsed
}

#[tokio::main]
async fn main() {
    let a = <Args as clap::Parser>::parse();
    if let Some(port) = a.serve_bare {
        return serve_bare(port, a.bare_bytes).await;
    }
    channel_connect_server::install_crypto_provider();
    let extra = a.extra();
    let server = start_server(&extra).await;
    let engines = if extra.is_empty() {
        "SQLite".to_owned()
    } else {
        extra.join(" ")
    };
    println!(
        "engines: {engines}; {} clients, {} s per phase",
        a.clients, a.seconds
    );
    println!(
        "| operation | clients | requests/s | p50 ms | p99 ms | errors | server CPU µs/request | machine busy % |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let bare = start_bare(answer_bytes(&server).await).await;
    let floor = phase(&bare, BARE, &a).await;
    drop(bare);
    let connect = phase(&server, "connect", &a).await;
    phase(&server, KEYED, &a).await;
    phase(&server, "callback", &a).await;
    println!(
        "\nconnect / bare axum: {:.2}x the requests per second",
        connect / floor.max(1.0)
    );
}

/// The bare baseline's phase name.
const BARE: &str = "bare axum, same JSON size";

/// How many bytes the service's connect answer has (the baseline answers as many).
async fn answer_bytes(server: &Server) -> usize {
    let body = r#"{"subscriberId":"load-0","integrationIdentifier":"slack","connectionIdentifier":"load-0-0","context":{"key":"load"},"connectionMode":"shared"}"#;
    let res = reqwest::Client::new()
        .post(format!(
            "{}/v1/integrations/channel-connections/oauth",
            server.base
        ))
        .header("authorization", KEY)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the service answers");
    res.bytes().await.map_or(0, |b| b.len())
}

/// The baseline: this program again, serving [`serve_bare`].
async fn start_bare(bytes: usize) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(std::env::current_exe().expect("this program's path"))
        .args([
            "--serve-bare",
            &port.to_string(),
            "--bare-bytes",
            &bytes.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the baseline starts");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Server { child, base }
}

/// axum with nothing else: the POST's body read, `bytes` of JSON answered (201).
async fn serve_bare(port: u16, bytes: usize) {
    use axum::routing::{get, post};
    let url = "x".repeat(bytes.saturating_sub(r#"{"url":""}"#.len()));
    let answer: &'static str = Box::leak(format!(r#"{{"url":"{url}"}}"#).into_boxed_str());
    let app = axum::Router::new()
        .route(
            "/v1/integrations/channel-connections/oauth",
            post(move |_body: axum::body::Bytes| async move {
                (
                    axum::http::StatusCode::CREATED,
                    [("content-type", "application/json")],
                    answer,
                )
            }),
        )
        .route("/healthz", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the baseline's port");
    axum::serve(listener, app).await.expect("the baseline serves");
}
