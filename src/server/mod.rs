//! The server (feature `ssr`): start-up, the HTTP surface and everything
//! behind it. `run` serves a listener until `shutdown` completes; tests call
//! it on port 0. Nothing in here is compiled for the browser.

pub(crate) mod accounts;
pub mod auth;
mod avatars;
pub(crate) mod blocks;
mod bus;
mod cache;
mod clock;
mod cluster;
pub mod config;
mod context;
mod csp;
pub mod delivery;
mod figures;
mod files;
mod format;
mod gateway;
pub(crate) mod groups;
mod headers;
mod http;
mod hub;
mod limits;
mod locks;
mod metrics;
pub mod people;
mod presence;
mod push;
mod receipts;
mod registry;
mod reports;
pub mod rooms;
pub mod search;
mod seen;
pub(crate) mod sessions;
pub mod state;
pub mod storage;
pub(crate) mod subscriptions;
mod tasks;
pub mod text;
mod ticks;
mod uploads;
mod worker;

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
    let node = prepare(config, addr).await?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("CHAT_BIND ({addr}): cannot listen: {e}"))?;
    tracing::info!(backend = node.state.store.backend(), "listening on http://{addr}");
    run(listener, node, shutdown_signal())
        .await
        .map_err(|e| format!("server failed: {e}"))?;
    tracing::info!("stopped");
    Ok(())
}

/// A node ready to serve: its state, and its long-lived tasks, which `run`
/// starts.
pub struct Node {
    pub state: AppState,
    tasks: Vec<tasks::NodeTask>,
}

/// Opens the store named by the settings; the error names the setting.
pub async fn prepare(config: Config, addr: std::net::SocketAddr) -> Result<Node, String> {
    // SQLite is a file: nothing to wait for.
    let wait = if config.database_url.starts_with("sqlite:") {
        0
    } else {
        config.start_wait_ms
    };
    let store = patiently(wait, || async {
        storage::open(&config.database_url, config.db_pool)
            .await
            .map_err(|e| format!("DATABASE_URL ({}): {e:#}", config::redact(&config.database_url)))
    })
    .await?;
    let redis = match &config.redis_url {
        None => None,
        Some(_) if store.backend() == "sqlite" => {
            return Err(
                "REDIS_URL is set but DATABASE_URL is SQLite: the nodes of a cluster share \
                 PostgreSQL (DATABASE_URL=postgres://…); for one node leave REDIS_URL unset"
                    .into(),
            )
        }
        Some(url) => Some(
            patiently(config.start_wait_ms, || async {
                cluster::Redis::connect(url, config.redis_cluster)
                    .await
                    .map_err(|e| format!("REDIS_URL ({}): {e}", config::redact(url)))
            })
            .await?,
        ),
    };
    let vapid = push::Vapid::load(&store)
        .await
        .map_err(|e| format!("DATABASE_URL: cannot keep the Web Push key: {e:#}"))?;
    let location = config.files_location();
    let blobs = files::blobs::open(&location, config.s3_endpoint.as_deref())?;
    // A bucket that cannot be reached is said at start, not at the first upload.
    patiently(config.start_wait_ms, || async {
        blobs
            .list_with_delimiter(None)
            .await
            .map(drop)
            .map_err(|e| format!("CHAT_FILES ({location}): {e}"))
    })
    .await?;
    if store.backend() == "postgres" && !location.starts_with("s3://") {
        tracing::warn!(
            files = location,
            "files are on this node's disk: other nodes cannot serve them (set CHAT_FILES=s3://…)"
        );
    }
    let (state, tasks) = AppState::new(config, store, addr, redis, vapid, blobs);
    Ok(Node { state, tasks })
}

/// Tries `connect` again (backing off up to 2 s) until it succeeds or
/// `wait_ms` have passed; then its last error stands.
async fn patiently<T, F: Future<Output = Result<T, String>>>(
    wait_ms: u64,
    mut connect: impl FnMut() -> F,
) -> Result<T, String> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(wait_ms);
    let mut pause = std::time::Duration::from_millis(200);
    loop {
        match connect().await {
            Err(e) if tokio::time::Instant::now() + pause < deadline => {
                tracing::warn!(error = %e, ?pause, "not reachable yet; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(2));
            }
            result => return result,
        }
    }
}

/// Starts the node's tasks and serves HTTP on `listener` until `shutdown`
/// completes. Then, in this order: it takes no new connections; each open
/// WebSocket finishes the sends it has read (committed and acknowledged)
/// and closes with 1001 "going away"; the Web Push notices still held back
/// or queued are sent; the node's tasks are cancelled and awaited; the
/// pending "seen" times are written; the database pools are closed. It
/// returns when all of that is done or `CHAT_SHUTDOWN_GRACE_MS` has passed:
/// nothing the node started runs after it.
pub async fn run(
    listener: TcpListener,
    node: Node,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let Node { state, tasks } = node;
    for task in tasks {
        state.tasks.start(task);
    }
    let (draining, hub) = (state.draining.clone(), state.hub.clone());
    let stop = async move {
        shutdown.await;
        tracing::info!(
            connections = hub.connections(),
            "shutting down: closing connections"
        );
        draining.send_replace(true);
    };
    let app = router(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    // Frames are small and written in batches already: Nagle's algorithm
    // would only hold them back (up to a delayed-ACK timeout, 40 ms).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, app).with_graceful_shutdown(stop).await?;
    // Upgraded connections are not HTTP requests any more: wait for them.
    let deadline =
        tokio::time::Instant::now() + std::time::Duration::from_millis(state.config.shutdown_grace_ms);
    if !state.tasks.connections_closed(deadline).await {
        tracing::warn!(
            connections = state.tasks.connections(),
            "connections still open at the end of the grace period"
        );
    }
    // Every send read is committed by now: its notices go before the process does.
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    state
        .pusher
        .finish(left.max(std::time::Duration::from_secs(1)))
        .await;
    if !state.tasks.stop(std::time::Duration::from_secs(1)).await {
        tracing::warn!(
            running = state.tasks.running(),
            "tasks still running after shutdown"
        );
    }
    // The last second of "seen" times, which the cancelled writer had not written.
    state.seen.flush().await;
    state.store.close().await;
    Ok(())
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
