//! The node's figures for operators over HTTP: `GET /statz` (a few, as
//! JSON, for people) and `GET /metrics` (all, in the Prometheus text
//! format), read from the counters the parts keep (`metrics`, the cache's,
//! the pusher's). Counts only: nothing about anyone.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};

use super::state::AppState;

/// This node's figures, as JSON: which node answered, its open
/// connections, the message cache's hits and misses, how many
/// connections ever fell behind, and what push services answered. Counts only: nothing about anyone.
pub async fn statz(State(state): State<AppState>) -> Response {
    let (hits, misses) = state.cache.stats();
    let push = state.pusher.stats();
    axum::Json(serde_json::json!({
        "node": state.node,
        "connections": state.hub.connections(),
        "cache_hits": hits,
        "cache_misses": misses,
        "lagged": state.metrics.lagged.load(Relaxed),
        "push_sent": push.sent.load(Relaxed),
        "push_failed": push.failed.load(Relaxed),
        "push_gone": push.gone.load(Relaxed),
        "push_dropped": push.dropped.load(Relaxed),
    }))
    .into_response()
}

/// The node's figures in the Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        render(&state),
    )
        .into_response()
}

/// The whole exposition: this node's counters and gauges.
pub fn render(state: &AppState) -> String {
    let m = &state.metrics;
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
    m.ack_latency.write(
        &mut out,
        "chat_ack_seconds",
        "Time from reading a send to its answer.",
    );
    out
}
