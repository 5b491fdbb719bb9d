//! Paired ratios. On a shared VM the machine's speed drifts over seconds, so
//! two medians taken a minute apart can differ by 30%. Here each round times
//! a batch of the reference and a batch of the subject back to back (in
//! alternating order); the median of the per-round ratios stays steady.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

/// Median and 10th–90th percentile of `subject time / reference time`.
pub struct PairedRatio {
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
}

const ROUNDS: usize = 101;

fn time<T>(f: &mut impl FnMut() -> T, n: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        black_box(f());
    }
    start.elapsed().as_secs_f64()
}

/// Rounds of `batch` calls each, the batch sized so the reference takes about 2 ms.
pub fn paired_ratio<A, B>(mut reference: impl FnMut() -> A, mut subject: impl FnMut() -> B) -> PairedRatio {
    let mut batch = 1u32;
    while time(&mut reference, batch) < Duration::from_millis(2).as_secs_f64() && batch < 1 << 24 {
        batch *= 2;
    }
    let mut ratios: Vec<f64> = (0..ROUNDS)
        .map(|round| {
            let (r, s) = if round % 2 == 0 {
                let r = time(&mut reference, batch);
                (r, time(&mut subject, batch))
            } else {
                let s = time(&mut subject, batch);
                (time(&mut reference, batch), s)
            };
            s / r
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    PairedRatio {
        median: ratios[ROUNDS / 2],
        p10: ratios[ROUNDS / 10],
        p90: ratios[ROUNDS * 9 / 10],
    }
}

/// Paired rounds run in a real benchmark run only: not under `--test`,
/// `--list`, or a name filter.
pub fn paired_wanted() -> bool {
    std::env::args()
        .skip(1)
        .all(|a| a.starts_with("--") && a != "--test" && a != "--list")
}

/// The Criterion median (ns) of `group/id` under `dir`, if this run measured it.
pub fn median_ns(dir: &Path, group: &str, id: &str, since: SystemTime) -> Option<f64> {
    let path = dir.join(group).join(id).join("new/estimates.json");
    let fresh = std::fs::metadata(&path).ok()?.modified().ok()? >= since;
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    fresh.then(|| v["median"]["point_estimate"].as_f64())?
}

/// Criterion with long samples: this runs on shared VMs whose speed drifts over seconds.
pub fn long_samples() -> criterion::Criterion {
    criterion::Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10))
        .configure_from_args()
}
