//! The node's counters and the ack-latency histogram, kept by the parts
//! that do the work (`figures` shows them at `GET /metrics` and `/statz`).
//! Counts only: nothing about anyone.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

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
    /// Appends it to a Prometheus text exposition as `name`.
    pub fn write(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bucket, bound) in self.buckets.iter().zip(ACK_BOUNDS) {
            cumulative += bucket.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_micros.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {count}");
    }

    pub fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        if let Some(bucket) = ACK_BOUNDS.iter().position(|b| secs <= *b) {
            self.buckets[bucket].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_micros.fetch_add(took.as_micros() as u64, Relaxed);
    }
}
