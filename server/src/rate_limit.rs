//! Per-address rate limits on the routes anyone can call without a key
//! (the callback and the start link): GCRA through `governor`'s keyed
//! limiter. Loopback addresses are exempt unless asked (a proxy on the same
//! host would otherwise be one client); behind a proxy, its address is the
//! client. The HTTP side (a 429 page with `Retry-After`) is
//! `http::rate_limit`.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Checks between two sweeps of idle addresses out of the limiter's map.
const SWEEP_EVERY: u64 = 4096;

/// A per-address limit.
pub struct RateLimit {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    loopback: bool,
    checks: AtomicU64,
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimit")
            .field("loopback", &self.loopback)
            .finish()
    }
}

impl RateLimit {
    /// `per_minute` requests a minute per address, `burst` at once; `None`
    /// when `per_minute` is 0 (off). `loopback`: limit loopback addresses too.
    pub fn new(per_minute: u32, burst: u32, loopback: bool) -> Option<RateLimit> {
        let rate = NonZeroU32::new(per_minute)?;
        let burst = NonZeroU32::new(burst).unwrap_or(rate);
        Some(RateLimit {
            limiter: RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst)),
            clock: DefaultClock::default(),
            loopback,
            checks: AtomicU64::new(0),
        })
    }

    /// `Err(seconds to wait)` when `ip` is over its quota.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        if ip.is_loopback() && !self.loopback {
            return Ok(());
        }
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            // Addresses whose quota is whole again take no memory.
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&ip)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()).as_secs().max(1))
    }
}
