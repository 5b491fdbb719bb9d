//! One process, two builds of channel-connect (A: a baseline commit, B: the
//! work tree; see Cargo.toml), each
//! operation timed in alternating batches against the floor (one keyed
//! HMAC-SHA256 over the seed state's 170-byte MAC input).
use hmac::{Hmac, KeyInit, Mac};
use std::hint::black_box;
use std::time::Instant;
mod a {
    use cc_a as cc;
    include!("setup.rs");
}
mod b {
    use cc_b as cc;
    include!("setup.rs");
}

fn time(f: &mut dyn FnMut() -> bool, n: u32) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        black_box(f());
    }
    t.elapsed().as_secs_f64()
}

fn main() {
    let (sa, sb) = (a::setup(), b::setup());
    assert_eq!(sa.query, sb.query, "both builds seal the same state");
    let keyed = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(b"demo-signing-key-not-for-product").unwrap();
    let input = [7u8; 170];
    let mut floor = || {
        let mut m = keyed.clone();
        m.update(black_box(&input));
        black_box(m.finalize().into_bytes());
        true
    };
    let rounds = 201;
    let batch = 2000;
    let ops: [(
        &str,
        Box<dyn Fn(&a::Setup) -> bool>,
        Box<dyn Fn(&b::Setup) -> bool>,
    ); 4] = [
        (
            "issue Slack",
            Box::new(|s| s.issue_slack()),
            Box::new(|s| s.issue_slack()),
        ),
        (
            "issue Teams",
            Box::new(|s| s.issue_teams()),
            Box::new(|s| s.issue_teams()),
        ),
        ("open state", Box::new(|s| s.open()), Box::new(|s| s.open())),
        (
            "verify Slack",
            Box::new(|s| s.verify_slack()),
            Box::new(|s| s.verify_slack()),
        ),
    ];
    println!("| operation | A / floor | B / floor | B / A |\n|---|---:|---:|---:|");
    for (name, fa, fb) in &ops {
        let (mut ra, mut rb, mut rab) = (vec![], vec![], vec![]);
        for r in 0..rounds {
            let mut ga = || fa(&sa);
            let mut gb = || fb(&sb);
            let (f, ta, tb) = if r % 2 == 0 {
                (
                    time(&mut floor, batch),
                    time(&mut ga, batch),
                    time(&mut gb, batch),
                )
            } else {
                let tb = time(&mut gb, batch);
                let ta = time(&mut ga, batch);
                (time(&mut floor, batch), ta, tb)
            };
            ra.push(ta / f);
            rb.push(tb / f);
            rab.push(tb / ta);
        }
        let med = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!(
            "| {name} | {:.2}x | {:.2}x | {:.2} |",
            med(&mut ra),
            med(&mut rb),
            med(&mut rab)
        );
    }
}
