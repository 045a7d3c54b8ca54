//! The server (feature `ssr`): start-up, the HTTP surface and everything
//! behind it. `run` serves a listener until `shutdown` completes; tests call
//! it on port 0. Nothing in here is compiled for the browser.

pub mod accounts;
pub mod auth;
pub mod bus;
pub mod cache;
pub mod config;
mod context;
pub mod delivery;
pub mod gateway;
mod http;
pub mod hub;
pub mod presence;
pub mod receipts;
pub mod rooms;
pub mod state;
pub mod storage;

use std::{future::Future, process::ExitCode};

use clap::Parser;
use tokio::net::TcpListener;

pub use config::Config;
pub use http::router;
pub use state::AppState;

/// The binary's entry: parse the settings, open the store, serve until
/// SIGINT or SIGTERM. A bad setting ends it with one line naming it.
pub async fn main() -> ExitCode {
    let config = Config::parse();
    init_tracing(config.log_json);
    match start(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn start(config: Config) -> Result<(), String> {
    config.validate()?;
    let addr = config.bind_addr()?;
    let state = prepare(config, addr).await?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("CHAT_BIND ({addr}): cannot listen: {e}"))?;
    tracing::info!(backend = state.store.backend(), "listening on http://{addr}");
    run(listener, state, shutdown_signal())
        .await
        .map_err(|e| format!("server failed: {e}"))?;
    tracing::info!("stopped");
    Ok(())
}

/// Opens the store named by the settings; the error names the setting.
pub async fn prepare(config: Config, addr: std::net::SocketAddr) -> Result<AppState, String> {
    let store = storage::open(&config.database_url, config.db_pool)
        .await
        .map_err(|e| format!("DATABASE_URL ({}): {e:#}", storage::redact(&config.database_url)))?;
    if config.redis_url.is_some() {
        tracing::warn!("REDIS_URL is set, but this build serves one node: it is not used yet");
    }
    Ok(AppState::new(config, store, addr))
}

/// Serves HTTP on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

fn init_tracing(json: bool) {
    use tracing_subscriber::{fmt, EnvFilter};
    let filter = EnvFilter::try_from_env("CHAT_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
