//! Work the service does on its own, every so often (token refreshes, Teams
//! app installations): one pass per tick until the stop token is
//! cancelled. A pass under way is not cut short (it may hold a provider's
//! answer that exists nowhere else); a pass checks the token between items.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Runs `pass` now and every `every` (a late pass delays the next one)
/// until `stop` is cancelled.
pub async fn every<F, Fut>(every: Duration, stop: CancellationToken, mut pass: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        pass().await;
    }
}
