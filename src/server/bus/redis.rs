//! The cluster bus: Redis Pub/Sub between nodes. An event is delivered to
//! this node's connections at once (so a Redis outage never stops local
//! delivery) and published for the others: room events on `room:{id}`
//! (marks and ticks too, though they are for some members only: every node
//! where those are connected follows the room), events for users on
//! `node:{n}` of each node that holds them (from the registry). A node
//! subscribes to `room:{id}` only while it has a local connection in that
//! room, and to its own `node:{n}`.
//!
//! On a Redis Cluster the same channels are sharded (`SPUBLISH`,
//! `SSUBSCRIBE`): a room's channel lives on the shard of its hash tag, so
//! the rooms' traffic spreads over the shards (`shards.rs` owns that
//! subscription connection, `follow.rs` what both subscribers share;
//! everything else here serves both shapes).
//!
//! One connection publishes (`cluster::Commands`); one task owns the
//! subscription connection. When that connection drops, the task
//! reconnects with backoff, subscribes again and tells every local client
//! to resync: events published meanwhile were missed, and storage has them.
//! So it does after a welcome that went ahead without a confirmed
//! subscription (Redis down or slow): that client may have missed some too.
//! And events this node failed to publish (Redis down, or skipped by the
//! breaker after the other nodes' subscriptions were back) were missed by
//! clients elsewhere with nothing to tell them: once Redis answers, this
//! node asks every other one, on the resync channel, to resync its clients.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use redis::aio::PubSubSink;
use tokio::sync::{mpsc, oneshot, Notify};

use super::follow::{Envelope, Subscriber};
use super::{deliver, Bus, Event};
use crate::server::cluster::{Commands, Source};
use crate::server::hub::Hub;
use crate::server::metrics::Metrics;
use crate::server::registry::Registry;
use crate::server::tasks::NodeTask;

/// How long `subscribed` waits for the subscription task before going on.
const SUBSCRIBE_WAIT: Duration = Duration::from_secs(2);
/// How often the call for a resync is tried while Redis does not answer.
const RESYNC_RETRY: Duration = Duration::from_millis(250);

pub struct RedisBus {
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    redis: Commands,
    registry: Arc<Registry>,
    /// Asks the subscription task to catch up with the hub, and to say when it did.
    catch_up: mpsc::Sender<oneshot::Sender<()>>,
    /// A welcome went ahead without a confirmed subscription: resync once subscribed.
    unsure: Arc<AtomicBool>,
    /// Some events were not published: the other nodes' clients must resync.
    missed: Arc<Notify>,
}

impl RedisBus {
    /// The bus, which publishes through `redis`, and its two tasks for
    /// `server::run` to start: the subscriber and the resync caller.
    pub fn new(
        source: Source,
        redis: Commands,
        registry: Arc<Registry>,
        hub: Arc<Hub>,
        metrics: Arc<Metrics>,
    ) -> (Self, [NodeTask; 2]) {
        let (catch_up, requests) = mpsc::channel(64);
        let unsure = Arc::new(AtomicBool::new(false));
        let own = Subscriber {
            hub: hub.clone(),
            metrics: metrics.clone(),
            keys: registry.keys().clone(),
            node: registry.node().to_string(),
            resync: registry.keys().resync_channel(),
            requests,
            unsure: unsure.clone(),
        };
        let subscribe = match source {
            Source::Single(client) => NodeTask::new("Redis subscriber", subscriber(client, own)),
            Source::Cluster(urls) => NodeTask::new("Redis subscriber", super::shards::subscriber(urls, own)),
        };
        let missed = Arc::new(Notify::new());
        let resync = NodeTask::new(
            "resync caller",
            call_for_resync(redis.clone(), registry.clone(), missed.clone()),
        );
        let bus = Self {
            hub,
            metrics,
            redis,
            registry,
            catch_up,
            unsure,
            missed,
        };
        (bus, [subscribe, resync])
    }

    async fn send(&self, channel: String, event: Event) {
        self.send_all(vec![(channel, event)]).await;
    }

    /// Publishes on each channel its events, in one pipeline (on a
    /// cluster, one per channel: each goes to the channel's shard).
    async fn send_all(&self, events: Vec<(String, Event)>) {
        let from = self.registry.node().to_string();
        let mut channels: HashMap<String, redis::Pipeline> = HashMap::new();
        for (channel, event) in events {
            let envelope = Envelope {
                from: from.clone(),
                event,
            };
            if let Ok(payload) = serde_json::to_string(&envelope) {
                let pipe = channels.entry(channel.clone()).or_insert_with(redis::pipe);
                self.redis.publish(pipe, &channel, &payload);
            }
        }
        let pipes = channels.into_values().collect();
        if let Err(e) = self.registry.breaker().call(self.redis.exec_each(pipes)).await {
            // Local delivery happened; the other nodes' clients resync once Redis answers.
            tracing::debug!(error = %e, "not published to Redis");
            self.unpublished();
        }
    }

    /// Events were not published: counted, and the call for a resync goes out.
    fn unpublished(&self) {
        let failures = &self.metrics.bus_publish_failures;
        failures.fetch_add(1, Ordering::Relaxed);
        self.missed.notify_one();
    }

    /// The room channel of an event about a room (None: it is for people).
    fn room_channel(&self, event: &Event) -> Option<String> {
        let room = match event {
            Event::Message { msg } => msg.room,
            Event::Marks { room, .. } | Event::Ticks { room, .. } | Event::Typing { room, .. } => *room,
            Event::Joined { .. }
            | Event::Left { .. }
            | Event::Presence { .. }
            | Event::SessionsEnded { .. }
            | Event::Blocks { .. } => return None,
        };
        Some(self.registry.keys().room_channel(room))
    }

    /// Publishes events for users to the nodes that hold them.
    async fn to_users(
        &self,
        users: &[crate::model::UserId],
        event: impl Fn(Vec<crate::model::UserId>) -> Event,
    ) {
        let nodes = match self.registry.nodes_of(users).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the registry: event stays on this node");
                self.unpublished();
                return;
            }
        };
        for (node, users) in nodes.into_iter().filter(|(n, _)| n != self.registry.node()) {
            self.send(self.registry.keys().node_channel(&node), event(users))
                .await;
        }
    }
}

#[async_trait]
impl Bus for RedisBus {
    async fn publish(&self, event: Event) {
        deliver(&self.hub, event.clone());
        if let Some(channel) = self.room_channel(&event) {
            return self.send(channel, event).await;
        }
        match event {
            Event::Message { .. } | Event::Marks { .. } | Event::Ticks { .. } | Event::Typing { .. } => {}
            Event::Joined { user, room } => {
                self.to_users(&[user], |_| Event::Joined {
                    user,
                    room: room.clone(),
                })
                .await
            }
            Event::Left { user, room } => {
                self.to_users(&[user], |_| Event::Left {
                    user,
                    room: room.clone(),
                })
                .await
            }
            Event::Blocks {
                user,
                blocked,
                withheld,
            } => {
                self.to_users(&[user], |_| Event::Blocks {
                    user,
                    blocked: blocked.clone(),
                    withheld: withheld.clone(),
                })
                .await
            }
            Event::Presence { presence, to } => {
                self.to_users(&to, |to| Event::Presence {
                    presence: presence.clone(),
                    to,
                })
                .await
            }
            Event::SessionsEnded { user, sessions } => {
                self.to_users(&[user], |_| Event::SessionsEnded {
                    user,
                    sessions: sessions.clone(),
                })
                .await
            }
        }
    }

    /// Room events of a commit go out in one pipeline.
    async fn publish_all(&self, events: Vec<Event>) {
        let mut rooms = Vec::with_capacity(events.len());
        for event in events {
            match self.room_channel(&event) {
                Some(channel) => {
                    deliver(&self.hub, event.clone());
                    rooms.push((channel, event));
                }
                None => self.publish(event).await,
            }
        }
        if !rooms.is_empty() {
            self.send_all(rooms).await;
        }
    }

    async fn node_lost(&self) {
        tracing::info!("a node died: every client resyncs");
        self.hub.resync_all();
        self.missed.notify_one();
    }

    async fn subscribed(&self) {
        let (tx, rx) = oneshot::channel();
        let confirmed = self.catch_up.send(tx).await.is_ok()
            && matches!(tokio::time::timeout(SUBSCRIBE_WAIT, rx).await, Ok(Ok(())));
        if !confirmed {
            self.unsure.store(true, Ordering::Release);
        }
    }
}

/// Each time events were not published, asks the other nodes (once Redis
/// answers again) to resync their clients: storage holds what they missed.
async fn call_for_resync(redis: Commands, registry: Arc<Registry>, missed: Arc<Notify>) {
    let channel = registry.keys().resync_channel();
    let mut pipe = redis::pipe();
    redis.publish(&mut pipe, &channel, registry.node());
    loop {
        missed.notified().await;
        loop {
            tokio::time::sleep(RESYNC_RETRY).await;
            let mut r = redis.clone();
            if registry.breaker().call(pipe.exec_async(&mut r)).await.is_ok() {
                tracing::info!("Redis answers again: the other nodes' clients resync");
                break;
            }
        }
    }
}

/// Owns the subscription connection to one Redis for the node's lifetime.
async fn subscriber(client: redis::Client, mut own: Subscriber) {
    let mut attempt = 0u32;
    let mut connected_before = false;
    loop {
        let pubsub = match client.get_async_pubsub().await {
            Ok(p) => p,
            Err(e) => {
                attempt += 1;
                own.wait_to_retry(attempt, &e).await;
                continue;
            }
        };
        attempt = 0;
        let (mut sink, mut stream) = pubsub.split();
        let mut subscribed = HashSet::new();
        if catch_up(&mut sink, &mut subscribed, &own).await.is_err() {
            continue;
        }
        own.in_place(connected_before);
        connected_before = true;
        loop {
            own.check_unsure();
            tokio::select! {
                msg = stream.next() => {
                    let Some(msg) = msg else { break };
                    own.received(msg.get_channel_name().as_bytes(), msg.get_payload_bytes());
                }
                _ = own.hub.changed.notified() => {
                    if catch_up(&mut sink, &mut subscribed, &own).await.is_err() {
                        break;
                    }
                }
                request = own.requests.recv() => {
                    let Some(reply) = request else { return };
                    if catch_up(&mut sink, &mut subscribed, &own).await.is_err() {
                        break;
                    }
                    let _ = reply.send(());
                }
            }
        }
        own.lost();
    }
}

/// Subscribes to the rooms that gained a local connection and leaves those
/// that lost their last one.
async fn catch_up(
    sink: &mut PubSubSink,
    subscribed: &mut HashSet<String>,
    own: &Subscriber,
) -> redis::RedisResult<()> {
    let wanted = own.wanted();
    let join: Vec<&String> = wanted.difference(subscribed).collect();
    if !join.is_empty() {
        sink.subscribe(&join).await?;
    }
    let leave: Vec<&String> = subscribed.difference(&wanted).collect();
    if !leave.is_empty() {
        sink.unsubscribe(&leave).await?;
    }
    *subscribed = wanted;
    Ok(())
}
