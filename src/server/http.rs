//! The HTTP surface: the server-rendered pages and static files, the API
//! (server functions under `/api`), the health probes, and the Origin check
//! that keeps other sites from calling the API with a visitor's cookie.

use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, Method, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use leptos_axum::{generate_route_list, LeptosRoutes};

use super::state::AppState;
use crate::ui::{shell, App};

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos.clone();
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/statz", get(statz))
        .route("/metrics", get(metrics))
        .route("/ws", get(super::gateway::upgrade))
        .leptos_routes_with_context(&state, routes, || (), move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn_with_state(state.clone(), check_origin))
        .with_state(state)
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

/// This node's figures, as JSON: which node answered, its open
/// connections, the message cache's hits and misses, how many
/// connections ever fell behind, and what push services answered. Counts only: nothing about anyone.
async fn statz(State(state): State<AppState>) -> Response {
    use std::sync::atomic::Ordering::Relaxed;
    let (hits, misses) = state.cache.stats();
    let push = state.pusher.stats();
    axum::Json(serde_json::json!({
        "node": state.node,
        "connections": state.hub.connections(),
        "cache_hits": hits,
        "cache_misses": misses,
        "lagged": state.hub.metrics.lagged.load(Relaxed),
        "push_sent": push.sent.load(Relaxed),
        "push_failed": push.failed.load(Relaxed),
        "push_gone": push.gone.load(Relaxed),
        "push_dropped": push.dropped.load(Relaxed),
    }))
    .into_response()
}

/// The node's figures in the Prometheus text format.
async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        super::metrics::render(&state),
    )
        .into_response()
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
