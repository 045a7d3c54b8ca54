//! The HTTP surface: the server-rendered pages and static files, the app
//! shell and service worker (`worker`), the API
//! (server functions under `/api`), the health probes, the browsers'
//! reports (`reports`), and the Origin check that keeps other sites from calling the API with a
//! visitor's cookie.

use axum::{
    body::Body,
    extract::{DefaultBodyLimit, Request, State},
    http::{header, Method, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
    Router,
};
use leptos_axum::{generate_route_list, LeptosRoutes};

use super::{avatars, csp, figures, headers, reports, state::AppState, uploads, worker};
use crate::ui::{shell, App, Keep};

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos.clone();
    let keep = Keep {
        rooms: state.config.offline_rooms,
        rows: state.config.offline_rows,
    };
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/statz", get(figures::statz))
        .route("/metrics", get(figures::metrics))
        .route("/ws", get(super::gateway::upgrade))
        .route(
            "/client-errors",
            post(reports::panic).layer(DefaultBodyLimit::max(reports::PANIC_MAX_BYTES)),
        )
        .route(
            csp::REPORTS_PATH,
            post(reports::violation).layer(DefaultBodyLimit::max(reports::VIOLATIONS_MAX_BYTES)),
        )
        .merge(uploads::routes())
        .merge(avatars::routes())
        .merge(worker::routes(&state))
        .leptos_routes_with_context(&state, routes, headers::page_nonce, move || {
            shell(options.clone(), keep)
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(
            headers::page_nonce,
            move |options| shell(options, keep),
        ))
        .layer(middleware::from_fn_with_state(state.clone(), headers::cache))
        .layer(middleware::from_fn_with_state(state.clone(), headers::security))
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
