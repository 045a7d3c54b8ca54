//! What a subscription task works with, in either shape of Redis (one
//! server: `redis.rs`; a cluster's shards: `shards.rs`): the envelope an
//! event travels in, what is done with what arrives, the channels to
//! follow, and the backoff between attempts. Nothing here talks to Redis.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::{deliver, Event};
use crate::server::cluster::Keys;
use crate::server::hub::Hub;
use crate::server::metrics::Metrics;

/// What goes over Redis: the event and the node that published it (which
/// delivered it locally already and skips it when it comes back).
#[derive(Serialize, Deserialize)]
pub(super) struct Envelope {
    pub from: String,
    pub event: Event,
}

/// What a subscription task works with, in either shape.
pub(super) struct Subscriber {
    pub hub: Arc<Hub>,
    pub metrics: Arc<Metrics>,
    pub keys: Keys,
    pub node: String,
    /// `keys.resync_channel()`, made once: every arriving event is checked against it.
    pub resync: String,
    /// Requests to catch up with the hub and say when it did.
    pub requests: mpsc::Receiver<oneshot::Sender<()>>,
    /// A welcome went ahead without a confirmed subscription.
    pub unsure: Arc<AtomicBool>,
}

impl Subscriber {
    /// Hands over what came on `channel`: another node's event, or its call
    /// to resync.
    pub fn received(&self, channel: &[u8], payload: &[u8]) {
        if channel == self.resync.as_bytes() {
            if payload != self.node.as_bytes() {
                tracing::info!("another node could not publish: every client resyncs");
                self.hub.resync_all();
            }
            return;
        }
        match serde_json::from_slice::<Envelope>(payload) {
            Ok(envelope) if envelope.from != self.node => deliver(&self.hub, envelope.event),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "unreadable event on the bus"),
        }
    }

    /// The subscriptions are (back) in place: every client resyncs, since
    /// events were missed while they were not (or, the first time, while
    /// the node's welcomes went ahead without them).
    pub fn in_place(&self, again: bool) {
        if again {
            tracing::info!("Redis subscriptions back: every client resyncs");
        }
        self.unsure.store(false, Ordering::Release);
        self.hub.resync_all();
    }

    /// A welcome went ahead unsubscribed since the last look: every client resyncs.
    pub fn check_unsure(&self) {
        if self.unsure.swap(false, Ordering::AcqRel) {
            tracing::info!("a welcome went ahead unsubscribed: every client resyncs");
            self.hub.resync_all();
        }
    }

    /// The channels this node follows: its own and the resync channel
    /// (always), and the rooms it holds connections in.
    pub fn wanted(&self) -> HashSet<String> {
        let mut wanted: HashSet<String> = self
            .hub
            .rooms()
            .into_iter()
            .map(|r| self.keys.room_channel(r))
            .collect();
        wanted.insert(self.keys.node_channel(&self.node));
        wanted.insert(self.resync.clone());
        wanted
    }

    /// Connecting (and subscribing) failed for the `attempt`th time: said,
    /// then waits before the next try. Nobody waits for a dead connection
    /// meanwhile (unanswered, their welcomes count as unsure).
    pub async fn wait_to_retry(&mut self, attempt: u32, error: &redis::RedisError) {
        let wait = backoff(attempt);
        tracing::warn!(%error, ?wait, "Redis subscriptions failed; retrying");
        while self.requests.try_recv().is_ok() {}
        tokio::time::sleep(wait).await;
    }

    /// The subscription connection was lost: counted and said.
    pub fn lost(&self) {
        tracing::warn!("Redis subscription connection lost; reconnecting");
        self.metrics.bus_reconnects.fetch_add(1, Ordering::Relaxed);
    }
}

/// How long to wait before the `attempt`th try to connect again.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((100u64 << attempt.min(6)).min(5_000))
}
