//! The node's figures for operators: counters and the ack-latency
//! histogram, kept by the parts that do the work and shown at `GET /metrics`
//! in the Prometheus text format. Counts only: nothing about anyone.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use super::state::AppState;

/// Upper bounds (seconds) of the ack-latency buckets.
const ACK_BOUNDS: [f64; 12] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
pub struct Metrics {
    /// Sends answered with an ack (a resend's ack too).
    pub sends_acked: AtomicU64,
    /// Sends answered with an error (not a member, too long, storage down…).
    pub sends_refused: AtomicU64,
    /// Live frames queued to connections (messages, receipts, presence…).
    pub deliveries: AtomicU64,
    /// `resync` frames queued (a connection fell behind, or the bus was lost).
    pub resyncs: AtomicU64,
    /// Connections that fell behind, ever.
    pub lagged: AtomicU64,
    /// Times the cluster bus lost its Redis subscription and reconnected.
    pub bus_reconnects: AtomicU64,
    /// Publishes to Redis that failed (the other nodes' clients resync once it answers).
    pub bus_publish_failures: AtomicU64,
    /// Frames refused for coming too fast.
    pub rate_limited: AtomicU64,
    /// Browsers' reports that the app panicked, logged or not (over the limit).
    pub panic_reports: AtomicU64,
    /// Browsers' reports of what the Content-Security-Policy blocked, logged or not.
    pub csp_reports: AtomicU64,
    /// From reading a `send` to having its answer: commit included.
    pub ack_latency: Histogram,
}

/// Per bucket, the samples that fell in it alone (one increment per
/// sample on the send path); the exposition sums them into the cumulative
/// buckets Prometheus expects.
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; ACK_BOUNDS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        if let Some(bucket) = ACK_BOUNDS.iter().position(|b| secs <= *b) {
            self.buckets[bucket].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_micros.fetch_add(took.as_micros() as u64, Relaxed);
    }
}

/// The whole exposition: this node's counters and gauges.
pub fn render(state: &AppState) -> String {
    let m = &state.hub.metrics;
    let (hits, misses) = state.cache.stats();
    let push = state.pusher.stats();
    let mut out = String::new();
    let mut one = |name: &str, kind: &str, help: &str, samples: &[(&str, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    one(
        "chat_connections",
        "gauge",
        "Open WebSocket connections on this node.",
        &[("", state.hub.connections() as u64)],
    );
    one(
        "chat_sends_total",
        "counter",
        "Sends answered, by result.",
        &[
            ("{result=\"acked\"}", m.sends_acked.load(Relaxed)),
            ("{result=\"refused\"}", m.sends_refused.load(Relaxed)),
        ],
    );
    one(
        "chat_deliveries_total",
        "counter",
        "Live frames queued to connections.",
        &[("", m.deliveries.load(Relaxed))],
    );
    one(
        "chat_resyncs_total",
        "counter",
        "Resync frames queued to connections.",
        &[("", m.resyncs.load(Relaxed))],
    );
    one(
        "chat_lagging_connections_total",
        "counter",
        "Connections that fell behind and were told to resync.",
        &[("", m.lagged.load(Relaxed))],
    );
    one(
        "chat_rate_limited_total",
        "counter",
        "Frames refused for coming too fast.",
        &[("", m.rate_limited.load(Relaxed))],
    );
    one(
        "chat_cache_reads_total",
        "counter",
        "Sync reads of the recent-message cache, by result (hit ratio = hit / all).",
        &[("{result=\"hit\"}", hits), ("{result=\"miss\"}", misses)],
    );
    one(
        "chat_bus_reconnects_total",
        "counter",
        "Times the cluster bus lost its Redis subscription and reconnected.",
        &[("", m.bus_reconnects.load(Relaxed))],
    );
    one(
        "chat_bus_publish_failures_total",
        "counter",
        "Publishes to Redis that failed; the other nodes' clients resync once it answers.",
        &[("", m.bus_publish_failures.load(Relaxed))],
    );
    one(
        "chat_push_total",
        "counter",
        "Web Push notices, by outcome.",
        &[
            ("{result=\"sent\"}", push.sent.load(Relaxed)),
            ("{result=\"failed\"}", push.failed.load(Relaxed)),
            ("{result=\"gone\"}", push.gone.load(Relaxed)),
            ("{result=\"dropped\"}", push.dropped.load(Relaxed)),
        ],
    );
    one(
        "chat_browser_reports_total",
        "counter",
        "Reports from browsers, by kind: the app panicked, or the Content-Security-Policy blocked something (after a deploy: the policy and the app disagree).",
        &[
            ("{kind=\"panic\"}", m.panic_reports.load(Relaxed)),
            ("{kind=\"csp\"}", m.csp_reports.load(Relaxed)),
        ],
    );
    let h = &m.ack_latency;
    let _ = writeln!(
        out,
        "# HELP chat_ack_seconds Time from reading a send to its answer.\n# TYPE chat_ack_seconds histogram"
    );
    let mut cumulative = 0;
    for (bucket, bound) in h.buckets.iter().zip(ACK_BOUNDS) {
        cumulative += bucket.load(Relaxed);
        let _ = writeln!(out, "chat_ack_seconds_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    let count = h.count.load(Relaxed);
    let _ = writeln!(out, "chat_ack_seconds_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(
        out,
        "chat_ack_seconds_sum {}",
        h.sum_micros.load(Relaxed) as f64 / 1e6
    );
    let _ = writeln!(out, "chat_ack_seconds_count {count}");
    out
}
