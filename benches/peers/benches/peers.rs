//! Ours against `oauth2` + `jsonwebtoken`, same facts, same run.
//! Prints medians and speed-ups at the end and writes them to
//! `target/criterion/peers.md` (under benches/peers/).

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

#[path = "../../support/paired.rs"]
mod paired;

use channel_connect::ConnectRequestBody;

use channel_connect_peers::*;
use criterion::Criterion;
use time::OffsetDateTime;

const GROUP: &str = "peers";

/// Criterion medians, then paired speed-ups (see `benches/support/paired.rs`).
fn bench(c: &mut Criterion) -> Vec<(&'static str, paired::PairedRatio)> {
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
    let open = channel_connect::VerifyParams::at(
        time::OffsetDateTime::from_unix_timestamp(unix as i64 + 20).expect("in range"),
    );
    assert!(core.platform().open_state(&our_state, &open).is_ok());

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
        b.iter(|| core.platform().open_state(black_box(&our_state), &open))
    });
    g.finish();

    let mut paired_rows = Vec::new();
    if paired::paired_wanted() {
        // Reference: ours; subject: the peer. The ratio is the speed-up.
        paired_rows.push((
            "issue (state + authorize URL)",
            paired::paired_ratio(
                || ours_issue(&core, black_box(&body), now),
                || peer.issue(black_box(&body), unix, nonce),
            ),
        ));
        paired_rows.push((
            "verify (JWT decode+validate / parse + verify_callback)",
            paired::paired_ratio(
                || ours_verify(&core, black_box(&query), later),
                || peer.verify(black_box(&jwt)),
            ),
        ));
        paired_rows.push((
            "verify, state only (JWT decode+validate / `Platform::open_state`)",
            paired::paired_ratio(
                || core.platform().open_state(black_box(&our_state), &open),
                || peer.verify(black_box(&jwt)),
            ),
        ));
    }
    eprintln!(
        "state: ours {} characters, JWT {}; URL: ours {} characters, oauth2 {}",
        our_state.len(),
        jwt.len(),
        our_url.len(),
        peer_url.len()
    );
    paired_rows
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

fn summary(since: SystemTime, paired_rows: &[(&str, paired::PairedRatio)]) {
    let dir = criterion_dir();
    let m = |id| paired::median_ns(&dir, GROUP, id, since);
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
        "| verify, state only (JWT decode+validate / `Platform::open_state`) | {pv:.0} ns | {oo:.0} ns | {:.1}x |",
        pv / oo
    );
    if !paired_rows.is_empty() {
        t.push_str("\nPaired (each round times a batch of ours and a batch of the peer back to back):\n\n");
        t.push_str(
            "| operation | ours faster by, median of 101 rounds | 10th–90th percentile |\n|---|---:|---:|\n",
        );
        for (what, r) in paired_rows {
            let _ = writeln!(t, "| {what} | {:.1}x | {:.1}x–{:.1}x |", r.median, r.p10, r.p90);
        }
    }
    println!("\n{t}");
    let _ = std::fs::write(dir.join("peers.md"), &t);
}

fn main() {
    let since = SystemTime::now();
    let mut c = paired::long_samples();
    let paired_rows = bench(&mut c);
    c.final_summary();
    summary(since, &paired_rows);
}
