//! What `/metrics` answers, in the Prometheus text format: requests by
//! route and status, flows issued, callbacks by outcome, the provider
//! exchange's and the store's latency, records parked for a retry,
//! idempotent replays, token refreshes. One registry per [`AppState`]
//! (no global recorder: two services in one process keep their own).
//!
//! [`AppState`]: crate::state::AppState

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// A request's labels: its route template (never the path), method, status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route template (`/v1/channel-connections/{identifier}`).
    pub route: String,
    /// The method.
    pub method: String,
    /// The answer's status.
    pub status: u16,
}

/// One label naming what happened.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Kind {
    /// `connect`, `link_user`; `stored`, `refused`, ...
    pub kind: &'static str,
}

/// A callback's end: how, and with which status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallbackLabels {
    /// `stored`, `next` (the Teams proof), `refused` (4xx), `provider_error`
    /// (502, 504), `store_error` (503), `internal` (500).
    pub outcome: &'static str,
    /// The status the browser got.
    pub status: u16,
}

/// The service's counters and histograms.
pub struct Metrics {
    registry: Registry,
    /// Requests answered.
    pub requests: Family<RequestLabels, Counter<u64, AtomicU64>>,
    /// Authorize URLs issued, by flow (`connect`, `link_user`).
    pub flows: Family<Kind, Counter<u64, AtomicU64>>,
    /// Callbacks, by outcome.
    pub callbacks: Family<CallbackLabels, Counter<u64, AtomicU64>>,
    /// Seconds a provider's token exchange took (answered or not).
    pub exchange_seconds: Histogram,
    /// Seconds a callback's records took to store.
    pub store_seconds: Histogram,
    /// Records parked for a retry (the records store failed after an exchange).
    pub parked: Counter<u64, AtomicU64>,
    /// Idempotent requests answered from the kept answer.
    pub idempotency_replays: Counter<u64, AtomicU64>,
    /// Token refreshes, by outcome (`refreshed`, `reconnect`, `unanswered`).
    pub refreshes: Family<Kind, Counter<u64, AtomicU64>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics { .. }")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Every metric, registered under `channel_connect_`.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("channel_connect");
        let requests = Family::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route, method and status",
            requests.clone(),
        );
        let flows = Family::default();
        registry.register("flows_issued", "Authorize URLs issued, by flow", flows.clone());
        let callbacks = Family::default();
        registry.register(
            "callbacks",
            "OAuth callbacks, by outcome and status",
            callbacks.clone(),
        );
        // 5 ms to about 20 s.
        let exchange_seconds = Histogram::new(exponential_buckets(0.005, 2.0, 13));
        registry.register(
            "provider_exchange_seconds",
            "Seconds a provider token exchange took",
            exchange_seconds.clone(),
        );
        // 0.1 ms to about 3 s.
        let store_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 15));
        registry.register(
            "store_seconds",
            "Seconds a callback's records took to store",
            store_seconds.clone(),
        );
        let parked = Counter::default();
        registry.register(
            "records_parked",
            "Records parked for a retry after the store failed",
            parked.clone(),
        );
        let idempotency_replays = Counter::default();
        registry.register(
            "idempotency_replays",
            "Requests answered from an idempotency key's kept answer",
            idempotency_replays.clone(),
        );
        let refreshes = Family::default();
        registry.register(
            "token_refreshes",
            "Token refreshes, by outcome",
            refreshes.clone(),
        );
        Metrics {
            registry,
            requests,
            flows,
            callbacks,
            exchange_seconds,
            store_seconds,
            parked,
            idempotency_replays,
            refreshes,
        }
    }

    /// Counts one callback that ended with `status` (`next` for the Teams
    /// proof redirect).
    pub fn callback(&self, stored: bool, next: bool, status: u16) {
        let outcome = match (stored, next, status) {
            (true, _, _) => "stored",
            (_, true, _) => "next",
            (_, _, 400..=499) => "refused",
            (_, _, 502 | 504) => "provider_error",
            (_, _, 503) => "store_error",
            _ => "internal",
        };
        self.callbacks
            .get_or_create(&CallbackLabels { outcome, status })
            .inc();
    }

    /// The text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
