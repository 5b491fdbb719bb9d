//! Ours against `oauth2` + `jsonwebtoken`, same facts, same run.
//! Prints medians and speed-ups at the end and writes them to
//! `target/criterion/peers.md` (under benches/peers/).

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use channel_connect::ConnectRequestBody;
use channel_connect::state::{self, OpenParams};
use channel_connect_peers::*;
use criterion::Criterion;
use time::OffsetDateTime;

const GROUP: &str = "peers";

fn bench(c: &mut Criterion) {
    let body = ConnectRequestBody::from_json(SEED_PHP.as_bytes()).unwrap();
    let peer = Peer::new();
    let core = ours();
    let unix = unix_now();
    let now = OffsetDateTime::from_unix_timestamp(unix as i64).unwrap();
    let later = now + time::Duration::seconds(20);
    let nonce = "KioqKioqKioqKioqKioqKg";

    let peer_url = peer.issue(&body, unix, nonce);
    let jwt = state_of(&peer_url).to_owned();
    let claims = peer.verify(&jwt).expect("the JWT state verifies");
    assert_eq!(claims.subscriber_id.as_deref(), Some("subscriber-123"));

    let our_url = ours_issue(&core, &body, now).url;
    let our_state = state_of(&our_url).to_owned();
    let query = format!("code={CODE}&state={our_state}");
    assert!(ours_verify(&core, &query, later).is_some());
    let open = OpenParams {
        now: unix as i64 + 20,
        skew: 30,
        binding: None,
    };
    assert!(state::open(&our_state, core.keys(), &open).is_ok());

    let mut g = c.benchmark_group(GROUP);
    g.bench_function("peer_issue", |b| {
        b.iter(|| peer.issue(black_box(&body), unix, nonce))
    });
    g.bench_function("ours_issue", |b| {
        b.iter(|| ours_issue(&core, black_box(&body), now))
    });
    g.bench_function("peer_verify", |b| b.iter(|| peer.verify(black_box(&jwt))));
    g.bench_function("ours_verify", |b| {
        b.iter(|| ours_verify(&core, black_box(&query), later))
    });
    g.bench_function("ours_open", |b| {
        b.iter(|| state::open(black_box(&our_state), core.keys(), &open))
    });
    g.finish();
    eprintln!(
        "state: ours {} characters, JWT {}; URL: ours {} characters, oauth2 {}",
        our_state.len(),
        jwt.len(),
        our_url.len(),
        peer_url.len()
    );
}

fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("criterion")
}

fn median_ns(dir: &Path, id: &str, since: SystemTime) -> Option<f64> {
    let path = dir.join(GROUP).join(id).join("new/estimates.json");
    let fresh = std::fs::metadata(&path).ok()?.modified().ok()? >= since;
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    fresh.then(|| v["median"]["point_estimate"].as_f64())?
}

fn summary(since: SystemTime) {
    let dir = criterion_dir();
    let m = |id| median_ns(&dir, id, since);
    let (Some(pi), Some(oi), Some(pv), Some(ov), Some(oo)) = (
        m("peer_issue"),
        m("ours_issue"),
        m("peer_verify"),
        m("ours_verify"),
        m("ours_open"),
    ) else {
        return; // test mode or filtered: no table
    };
    let mut t = String::from("| operation | oauth2 + jsonwebtoken | channel-connect | ours faster by |\n");
    t.push_str("|---|---:|---:|---:|\n");
    let _ = writeln!(
        t,
        "| issue (state + authorize URL) | {pi:.0} ns | {oi:.0} ns | {:.1}x |",
        pi / oi
    );
    let _ = writeln!(
        t,
        "| verify (JWT decode+validate / parse + verify_callback) | {pv:.0} ns | {ov:.0} ns | {:.1}x |",
        pv / ov
    );
    let _ = writeln!(
        t,
        "| verify, state only (JWT decode+validate / `state::open`) | {pv:.0} ns | {oo:.0} ns | {:.1}x |",
        pv / oo
    );
    println!("\n{t}");
    let _ = std::fs::write(dir.join("peers.md"), &t);
}

fn main() {
    let since = SystemTime::now();
    // Long samples: this runs on shared VMs whose speed drifts over seconds.
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10))
        .configure_from_args();
    bench(&mut c);
    c.final_summary();
    summary(since);
}
