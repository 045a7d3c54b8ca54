//! Browsers' reports, logged for operators: the app panicked
//! (`POST /client-errors`, from `ui/crash.rs`) or the Content-Security-Policy
//! blocked something (`POST /csp-reports`). Every report is counted in
//! `/metrics`; logging is limited per address, so a page failing in a
//! loop, or anyone, cannot flood the log.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use axum::{
    extract::{ConnectInfo, State},
    http::{HeaderMap, StatusCode},
};

use super::limits::Buckets;
use super::{auth, clock::now_ms, context::address_of, state::AppState};

/// Counts a report, then lets it be logged if its address has a token left.
fn admit(
    counter: &AtomicU64,
    limit: &Buckets<IpAddr>,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<IpAddr, StatusCode> {
    counter.fetch_add(1, Relaxed);
    let addr = address_of(peer.ip(), headers);
    limit
        .take(&addr, std::time::Instant::now())
        .map(|()| addr)
        .map_err(|_| StatusCode::TOO_MANY_REQUESTS)
}

/// What the crash hook sends.
#[derive(serde::Deserialize)]
struct Report {
    #[serde(default)]
    message: String,
    #[serde(default)]
    page: String,
}

/// The largest panic report a browser may send.
pub const PANIC_MAX_BYTES: usize = 16 * 1024;

/// A browser's report that its app panicked (`ui/crash.rs`), written to this
/// node's log with who and where. Limited per address, so a broken page in a
/// loop, or anyone, cannot flood the log.
pub async fn panic(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: String,
) -> Result<StatusCode, StatusCode> {
    let addr = admit(&state.metrics.panic_reports, &state.reports, peer, &headers)?;
    let user = match auth::token_from_headers(&headers, state.config.secure_cookie) {
        Some(token) => state
            .store
            .session_user(&auth::token_hash(&token), now_ms())
            .await
            .ok()
            .flatten()
            .map(|u| u.id),
        None => None,
    };
    // `{message, page}` from the crash hook; anything else is logged as it came.
    let report = serde_json::from_str::<Report>(&body).unwrap_or(Report {
        message: body,
        page: String::new(),
    });
    let short = |s: &str| s.chars().take(4_000).collect::<String>();
    tracing::error!(
        target: "chat::browser",
        ?user,
        %addr,
        page = %short(&report.page),
        message = %short(&report.message),
        "the app panicked in a browser"
    );
    Ok(StatusCode::NO_CONTENT)
}

/// The largest batch of violation reports a browser may send.
pub const VIOLATIONS_MAX_BYTES: usize = 64 * 1024;

/// A browser's report that the Content-Security-Policy blocked something,
/// in either shape browsers send: `report-uri`'s `{"csp-report": {...}}`
/// (kebab-case fields) or the Reporting API's `[{"type": "csp-violation",
/// "body": {...}}]` (camelCase; the policy names only `report-uri`, which
/// every browser sends at once, but a `report-to` endpoint may be added).
/// Logged at warn with the page, the directive and what was blocked, and
/// counted in `/metrics`: after a deploy, a burst of these means the policy
/// and the app disagree. Logging is limited per address like `/client-errors`.
pub async fn violation(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: String,
) -> Result<StatusCode, StatusCode> {
    let addr = admit(&state.metrics.csp_reports, &state.violations, peer, &headers)?;
    let json = serde_json::from_str::<serde_json::Value>(&body).map_err(|_| StatusCode::BAD_REQUEST)?;
    let reports: Vec<&serde_json::Value> = match &json {
        serde_json::Value::Array(batch) => batch.iter().filter_map(|r| r.get("body")).collect(),
        one => one.get("csp-report").into_iter().collect(),
    };
    if reports.is_empty() {
        return Err(StatusCode::BAD_REQUEST);
    }
    for report in reports.into_iter().take(10) {
        let field = |names: &[&str]| {
            let value = names
                .iter()
                .find_map(|n| report.get(*n))
                .map_or(String::new(), |v| {
                    v.as_str().map_or_else(|| v.to_string(), str::to_string)
                });
            value.chars().take(1_000).collect::<String>()
        };
        tracing::warn!(
            target: "chat::csp",
            %addr,
            page = %field(&["document-uri", "documentURL"]),
            directive = %field(&["effective-directive", "effectiveDirective", "violated-directive"]),
            blocked = %field(&["blocked-uri", "blockedURL"]),
            source = %field(&["source-file", "sourceFile"]),
            line = %field(&["line-number", "lineNumber"]),
            sample = %field(&["script-sample", "sample"]),
            "the Content-Security-Policy blocked something in a browser"
        );
    }
    Ok(StatusCode::NO_CONTENT)
}
