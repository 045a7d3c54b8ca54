//! Who owns the node's tasks: every task the node starts — the delivery
//! writer, the push sender and its sends, the lease keeper, the Redis
//! subscriber and resync caller, the short timers of receipts and presence
//! — is spawned here, on one tracker with one cancellation token, and the
//! WebSocket connections are tracked apart. `server::run` starts the
//! long-lived ones and, at shutdown, ends them in order (`Tasks::stop`);
//! nothing the node started runs after it. Nothing here decides what a
//! task does.

use std::future::Future;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A long-lived task, built with the state and started by `server::run`.
pub struct NodeTask {
    pub name: &'static str,
    pub run: BoxFuture<'static, ()>,
}

impl NodeTask {
    pub fn new(name: &'static str, run: impl Future<Output = ()> + Send + 'static) -> Self {
        Self {
            name,
            run: Box::pin(run),
        }
    }
}

/// The node's background tasks and its connections. Cloning shares them.
#[derive(Clone, Default)]
pub struct Tasks {
    background: TaskTracker,
    connections: TaskTracker,
    stop: CancellationToken,
}

impl Tasks {
    /// Runs `task` until it ends or the node stops.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let stop = self.stop.clone();
        self.background.spawn(async move {
            tokio::select! {
                biased;
                () = stop.cancelled() => {}
                () = task => {}
            }
        });
    }

    /// Starts a long-lived task.
    pub fn start(&self, task: NodeTask) {
        tracing::debug!(task = task.name, "started");
        self.spawn(task.run);
    }

    /// A connection's future, counted until it ends (it ends itself at
    /// shutdown: `AppState::draining`).
    pub fn connection<F: Future<Output = ()>>(&self, serve: F) -> impl Future<Output = ()> {
        self.connections.track_future(serve)
    }

    /// Open connections.
    pub fn connections(&self) -> usize {
        self.connections.len()
    }

    /// Waits, until `deadline`, for the connections to end; false if some
    /// are still open then.
    pub async fn connections_closed(&self, deadline: tokio::time::Instant) -> bool {
        self.connections.close();
        tokio::time::timeout_at(deadline, self.connections.wait())
            .await
            .is_ok()
    }

    /// Cancels every background task and waits (at most `within`) until
    /// they have all ended; false if some had not.
    pub async fn stop(&self, within: Duration) -> bool {
        self.stop.cancel();
        self.background.close();
        tokio::time::timeout(within, self.background.wait()).await.is_ok()
    }

    /// Background tasks still running.
    pub fn running(&self) -> usize {
        self.background.len()
    }
}
