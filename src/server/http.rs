//! The HTTP surface: the server-rendered pages and static files, the API
//! (server functions under `/api`), the health probes, the browsers'
//! reports of their panics and of what the Content-Security-Policy blocked,
//! and the Origin check that keeps other sites from calling the API with a
//! visitor's cookie.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;

use axum::{
    body::Body,
    extract::{ConnectInfo, DefaultBodyLimit, Request, State},
    http::{header, request::Parts, HeaderMap, Method, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
    Router,
};
use leptos::{nonce::Nonce, prelude::*};
use leptos_axum::{generate_route_list, LeptosRoutes};

use super::{auth, csp, figures, headers, state::AppState};
use crate::ui::{shell, App};

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos.clone();
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/statz", get(figures::statz))
        .route("/metrics", get(figures::metrics))
        .route("/ws", get(super::gateway::upgrade))
        .route(
            "/client-errors",
            post(client_error).layer(DefaultBodyLimit::max(REPORT_MAX_BYTES)),
        )
        .route(
            csp::REPORTS_PATH,
            post(csp_report).layer(DefaultBodyLimit::max(VIOLATIONS_MAX_BYTES)),
        )
        .leptos_routes_with_context(&state, routes, page_nonce, move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(
            page_nonce, shell,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), headers::cache))
        .layer(middleware::from_fn_with_state(state.clone(), headers::security))
        .layer(middleware::from_fn_with_state(state.clone(), check_origin))
        .with_state(state)
}

/// Renders the page with the nonce `headers::security` put in its policy
/// (Leptos would make one of its own, which no header would name).
fn page_nonce() {
    let nonce = use_context::<Parts>().and_then(|parts| parts.extensions.get::<Nonce>().cloned());
    if let Some(nonce) = nonce {
        provide_context(nonce);
    }
}

/// What the crash hook sends.
#[derive(serde::Deserialize)]
struct Report {
    #[serde(default)]
    message: String,
    #[serde(default)]
    page: String,
}

/// The largest report a browser may send.
const REPORT_MAX_BYTES: usize = 16 * 1024;

/// A browser's report that its app panicked (`ui/crash.rs`), written to this
/// node's log with who and where. Limited per address, so a broken page in a
/// loop, or anyone, cannot flood the log.
async fn client_error(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    state.hub.metrics.panic_reports.fetch_add(1, Relaxed);
    let addr = super::context::address_of(peer.ip(), &headers);
    if !state.reports.take(&addr, std::time::Instant::now()) {
        return StatusCode::TOO_MANY_REQUESTS;
    }
    let user = match auth::token_from_headers(&headers, state.config.secure_cookie) {
        Some(token) => state
            .store
            .session_user(&auth::token_hash(&token), super::clock::now_ms())
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
    StatusCode::NO_CONTENT
}

/// The largest batch of violation reports a browser may send.
const VIOLATIONS_MAX_BYTES: usize = 64 * 1024;

/// A browser's report that the Content-Security-Policy blocked something,
/// in either shape browsers send: `report-uri`'s `{"csp-report": {...}}`
/// (kebab-case fields) or the Reporting API's `[{"type": "csp-violation",
/// "body": {...}}]` (camelCase; the policy names only `report-uri`, which
/// every browser sends at once, but a `report-to` endpoint may be added).
/// Logged at warn with the page, the directive and what was blocked, and
/// counted in `/metrics`: after a deploy, a burst of these means the policy
/// and the app disagree. Logging is limited per address like `/client-errors`.
async fn csp_report(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    state.hub.metrics.csp_reports.fetch_add(1, Relaxed);
    let addr = super::context::address_of(peer.ip(), &headers);
    if !state.violations.take(&addr, std::time::Instant::now()) {
        return StatusCode::TOO_MANY_REQUESTS;
    }
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let reports: Vec<&serde_json::Value> = match &json {
        serde_json::Value::Array(batch) => batch.iter().filter_map(|r| r.get("body")).collect(),
        one => one.get("csp-report").into_iter().collect(),
    };
    if reports.is_empty() {
        return StatusCode::BAD_REQUEST;
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
    StatusCode::NO_CONTENT
}

/// Ready when the database and (in a cluster) Redis answer.
async fn readyz(State(state): State<AppState>) -> Response {
    if let Err(e) = state.store.ping().await {
        tracing::warn!(error = %e, "not ready: database");
        return (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response();
    }
    if let Some(redis) = &state.redis {
        let (mut conn, cmd) = (redis.clone(), redis::cmd("PING"));
        let ping = cmd.query_async::<String>(&mut conn);
        match tokio::time::timeout(std::time::Duration::from_secs(1), ping).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "not ready: Redis");
                return (StatusCode::SERVICE_UNAVAILABLE, "Redis unreachable").into_response();
            }
            Err(_) => return (StatusCode::SERVICE_UNAVAILABLE, "Redis unreachable").into_response(),
        }
    }
    (StatusCode::OK, "ready").into_response()
}

/// Refuses state-changing requests that a browser sent from another origin.
/// Requests without an `Origin` header (not from a browser) pass: the
/// session cookie is `SameSite=Lax`, so browsers never send it cross-site.
async fn check_origin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let allowed = origin
                .to_str()
                .map(|o| state.origins.iter().any(|a| a == o))
                .unwrap_or(false);
            if !allowed {
                tracing::warn!(?origin, path = %req.uri().path(), "request from a foreign origin refused");
                return Response::builder()
                    .status(StatusCode::FORBIDDEN)
                    .body(Body::from(
                        "This origin may not use this server (see CHAT_ALLOWED_ORIGINS).",
                    ))
                    .unwrap_or_default();
            }
        }
    }
    next.run(req).await
}
