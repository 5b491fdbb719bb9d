//! Cost of each operation as a ratio to its floor: one pre-keyed
//! HMAC-SHA256 (clone, update, finalize) over as many bytes as the seed
//! state's MAC input. Issuing and verifying must stay within 2x of it.
//!
//! `cargo bench --bench ratios` prints the medians and ratios at the end and
//! writes them to `target/criterion/ratios.md`. The configuration, seed body,
//! time and entropy are the fuzz harness's (`tests/support/harness.rs`).

#[path = "../tests/support/harness.rs"]
mod harness;
#[path = "support/paired.rs"]
mod paired;

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use channel_connect::state::{STATE_MAC_LABEL, TAG_LEN};
use channel_connect::{
    CallbackParams, ChannelConnect, ClientId, ConnectRequestBody, Integration, IssueParams, KeyId, KeyRing,
    MsTeams, Platform, RedirectUri, Secret, SigningKey, Slack, VerifyParams,
};
use criterion::Criterion;
use harness::{ENTROPY, ISSUED_AT, KEY, SEED_PHP, VERIFY_AT, at, demo, state_in_url};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const GROUP: &str = "ratios";

/// (bench id, what it measures, its floor); in the order of the table.
const ROWS: &[(&str, &str)] = &[
    (
        "floor_hmac",
        "floor: pre-keyed HMAC-SHA256 over the seed state's MAC input",
    ),
    (
        "issue_slack",
        "issue Slack URL (validate + seal + URL), seed body",
    ),
    (
        "issue_teams",
        "issue Teams URL (validate + seal + URL), seed body on msteams",
    ),
    ("open_state", "open state (`Platform::open_state`)"),
    ("parse_callback", "parse callback query (`CallbackParams::parse`)"),
    (
        "verify_slack",
        "verify Slack callback (parse + `verify_callback`)",
    ),
    (
        "build_config",
        "build one environment's configuration (Slack + Teams integrations)",
    ),
    (
        "verify_many_envs",
        "verify on a platform (parse + `open_callback` + build config + `finish_callback`)",
    ),
];

/// One environment's configuration built from its stored settings, as a
/// platform serving many environments does per request.
fn build_environment(platform: &Platform) -> ChannelConnect {
    let redirect = || RedirectUri::new(harness::REDIRECT_URI).unwrap();
    let slack = Slack::new(
        ClientId::new(harness::SLACK_CLIENT_ID).unwrap(),
        Secret::new("demo-slack-client-secret"),
        redirect(),
    );
    let teams = MsTeams::new(
        ClientId::new(harness::TEAMS_CLIENT_ID).unwrap(),
        Secret::new("demo-teams-client-secret"),
        redirect(),
    );
    ChannelConnect::builder_on(platform, harness::ENVIRONMENT_ID, harness::ORGANIZATION_ID)
        .integration(Integration::new("slack", slack))
        .integration(Integration::new("msteams", teams))
        .build()
        .unwrap()
}

/// Criterion medians for the table, then paired ratios (see `support/paired.rs`).
fn bench(c: &mut Criterion) -> Vec<(&'static str, paired::PairedRatio)> {
    let core = demo();
    let slack_body = ConnectRequestBody::from_json(SEED_PHP.as_bytes()).unwrap();
    let mut teams_body = slack_body.clone();
    teams_body.integration_identifier = Some("msteams".into());
    let now = at(ISSUED_AT);

    let issued = core
        .connect_url(&slack_body, &IssueParams::new(now, &ENTROPY))
        .unwrap();
    let token = state_in_url(&issued.url).unwrap().to_owned();
    let query = format!("code=4724369.8123.abc123def&state={token}");
    let decoded = URL_SAFE_NO_PAD.decode(&token).unwrap();

    // The floor's input: label || 0x00 || body, as long as the seed state's.
    let mut mac_input = STATE_MAC_LABEL.to_vec();
    mac_input.push(0);
    mac_input.extend_from_slice(&decoded[..decoded.len() - TAG_LEN]);
    let keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(&KEY).unwrap();

    let verify = VerifyParams::at(at(VERIFY_AT));
    // Sanity: every measured call succeeds.
    assert!(
        core.connect_url(&teams_body, &IssueParams::new(now, &ENTROPY))
            .is_ok()
    );
    assert!(core.platform().open_state(&token, &verify).is_ok());
    let params = CallbackParams::parse(&query).unwrap();
    assert!(core.verify_callback(&params, &verify).is_ok());
    let platform = Platform::new(KeyRing::new(
        SigningKey::new(KeyId(harness::KEY_ID), &KEY).unwrap(),
    ));
    let many = || {
        let params = CallbackParams::parse(black_box(&query)).unwrap();
        let opened = platform.open_callback(&params, &verify).unwrap();
        let env = build_environment(&platform);
        env.finish_callback(opened, &verify).is_ok()
    };
    assert!(many());

    let mut g = c.benchmark_group(GROUP);
    g.bench_function("floor_hmac", |b| {
        b.iter(|| {
            let mut m = keyed.clone();
            m.update(black_box(&mac_input));
            black_box(m.finalize().into_bytes())
        })
    });
    g.bench_function("issue_slack", |b| {
        b.iter(|| core.connect_url(black_box(&slack_body), &IssueParams::new(now, &ENTROPY)))
    });
    g.bench_function("issue_teams", |b| {
        b.iter(|| core.connect_url(black_box(&teams_body), &IssueParams::new(now, &ENTROPY)))
    });
    g.bench_function("open_state", |b| {
        b.iter(|| core.platform().open_state(black_box(&token), &verify))
    });
    g.bench_function("parse_callback", |b| {
        b.iter(|| CallbackParams::parse(black_box(&query)))
    });
    g.bench_function("verify_slack", |b| {
        b.iter(|| {
            let params = CallbackParams::parse(black_box(&query)).unwrap();
            core.verify_callback(&params, &verify).is_ok()
        })
    });
    g.bench_function("build_config", |b| {
        b.iter(|| build_environment(black_box(&platform)))
    });
    g.bench_function("verify_many_envs", |b| b.iter(many));
    g.finish();

    let mut paired_rows = Vec::new();
    if paired::paired_wanted() {
        let floor = || {
            let mut m = keyed.clone();
            m.update(black_box(&mac_input));
            m.finalize().into_bytes()
        };
        use paired::paired_ratio as pr;
        paired_rows.push((
            "issue_slack",
            pr(floor, || {
                core.connect_url(black_box(&slack_body), &IssueParams::new(now, &ENTROPY))
            }),
        ));
        paired_rows.push((
            "issue_teams",
            pr(floor, || {
                core.connect_url(black_box(&teams_body), &IssueParams::new(now, &ENTROPY))
            }),
        ));
        paired_rows.push((
            "open_state",
            pr(floor, || core.platform().open_state(black_box(&token), &verify)),
        ));
        paired_rows.push((
            "parse_callback",
            pr(floor, || CallbackParams::parse(black_box(&query))),
        ));
        paired_rows.push((
            "verify_slack",
            pr(floor, || {
                let params = CallbackParams::parse(black_box(&query)).unwrap();
                core.verify_callback(&params, &verify).is_ok()
            }),
        ));
        paired_rows.push((
            "build_config",
            pr(floor, || build_environment(black_box(&platform))),
        ));
        paired_rows.push(("verify_many_envs", pr(floor, many)));
    }
    eprintln!(
        "seed state: {} characters, {} bytes decoded, MAC input {} bytes",
        token.len(),
        decoded.len(),
        mac_input.len()
    );
    paired_rows
}

/// Where criterion writes its estimates (as criterion finds it).
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let out = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .args(["metadata", "--format-version", "1", "--no-deps"])
                .output()
                .ok()?;
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
            v["target_directory"].as_str().map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from("target"));
    target.join("criterion")
}

fn summary(since: SystemTime, paired_rows: &[(&str, paired::PairedRatio)]) {
    let dir = criterion_dir();
    let Some(floor) = paired::median_ns(&dir, GROUP, "floor_hmac", since) else {
        return; // test mode, or filtered out: no table
    };
    let mut t = String::from("| operation | median | ratio to floor |\n|---|---:|---:|\n");
    for (id, what) in ROWS {
        if let Some(m) = paired::median_ns(&dir, GROUP, id, since) {
            let _ = writeln!(t, "| {what} | {m:.0} ns | {:.2}x |", m / floor);
        }
    }
    if !paired_rows.is_empty() {
        t.push_str(
            "\nPaired (each round times a batch of the floor and a batch of the operation back to back):\n\n",
        );
        t.push_str(
            "| operation | ratio to floor, median of 101 rounds | 10th–90th percentile |\n|---|---:|---:|\n",
        );
        for (id, r) in paired_rows {
            let what = ROWS.iter().find(|(i, _)| i == id).map_or(*id, |(_, w)| *w);
            let _ = writeln!(t, "| {what} | {:.2}x | {:.2}x–{:.2}x |", r.median, r.p10, r.p90);
        }
    }
    println!("\n{t}");
    let _ = std::fs::write(dir.join("ratios.md"), &t);
}

fn main() {
    let since = SystemTime::now();
    let mut c = paired::long_samples();
    let paired_rows = bench(&mut c);
    c.final_summary();
    summary(since, &paired_rows);
}
