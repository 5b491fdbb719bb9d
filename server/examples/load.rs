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
//! Three phases: `connect` (the seed body POSTed), the same with a fresh
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

struct Args {
    clients: usize,
    seconds: u64,
    extra: Vec<String>,
}

fn args() -> Args {
    let mut a = Args {
        clients: 64,
        seconds: 20,
        extra: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--clients" => a.clients = value.parse().expect("--clients N"),
            "--seconds" => a.seconds = value.parse().expect("--seconds N"),
            "--redis" | "--database" | "--database-pool" => a.extra.extend([flag, value]),
            other => panic!("unknown argument {other}"),
        }
    }
    a
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

async fn phase(server: &Server, name: &'static str, a: &Args) {
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
}

#[tokio::main]
async fn main() {
    channel_connect_server::install_crypto_provider();
    let a = args();
    let server = start_server(&a.extra).await;
    let engines = if a.extra.is_empty() {
        "SQLite".to_owned()
    } else {
        a.extra.join(" ")
    };
    println!(
        "engines: {engines}; {} clients, {} s per phase",
        a.clients, a.seconds
    );
    println!(
        "| operation | clients | requests/s | p50 ms | p99 ms | errors | server CPU µs/request | machine busy % |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    phase(&server, "connect", &a).await;
    phase(&server, KEYED, &a).await;
    phase(&server, "callback", &a).await;
}
