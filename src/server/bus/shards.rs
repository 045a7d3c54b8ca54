//! The subscription connection to a Redis Cluster: sharded Pub/Sub. Each
//! channel is followed with `SSUBSCRIBE` on the shard that owns its hash
//! slot (the cluster connection routes it there); what arrives comes as
//! RESP3 pushes through a bounded queue.
//!
//! The connection is not trusted to repair itself: when any of its links
//! drops (a shard's master died, a failover), when the server takes a
//! channel away (its slot moved), or when pushes overflowed the queue, the
//! task drops the whole connection, builds a new one from the seeds (which
//! learns the new topology), subscribes to everything again, confirmed,
//! and tells every local client to resync — as the single-Redis subscriber
//! does after a reconnection. What the bus does with an event lives in
//! `redis.rs`; nothing here publishes.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use redis::cluster_async::ClusterConnection;
use redis::{ProtocolVersion, PushInfo, PushKind, RedisResult, Value};
use tokio::sync::mpsc;

use super::follow::Subscriber;
use crate::server::cluster::cluster_client;

/// Pushes waiting for the task; past this, events are dropped and every
/// local client resyncs.
const PUSHES: usize = 4_096;
/// Subscription commands in flight at once (each goes to its own shard).
const AT_ONCE: usize = 32;

/// Owns the sharded subscription connection for the node's lifetime.
pub(super) async fn subscriber(urls: Vec<String>, mut own: Subscriber) {
    let mut attempt = 0u32;
    let mut connected_before = false;
    loop {
        let (pushes, mut received) = mpsc::channel::<PushInfo>(PUSHES);
        let overflowed = Arc::new(AtomicBool::new(false));
        let full = overflowed.clone();
        let sender = move |push: PushInfo| -> Result<(), ()> {
            if pushes.try_send(push).is_err() {
                full.store(true, Ordering::Release);
            }
            Ok(())
        };
        let connected = async {
            let client = cluster_client(&urls)
                .use_protocol(ProtocolVersion::RESP3)
                .push_sender(sender)
                .build()?;
            let conn = client.get_async_connection().await?;
            let mut subscribed = HashSet::new();
            catch_up(&conn, &mut subscribed, &own).await?;
            Ok::<_, redis::RedisError>((conn, subscribed))
        };
        let (conn, mut subscribed) = match connected.await {
            Ok(c) => c,
            Err(e) => {
                attempt += 1;
                own.wait_to_retry(attempt, &e).await;
                continue;
            }
        };
        attempt = 0;
        own.in_place(connected_before);
        connected_before = true;
        loop {
            own.check_unsure();
            if overflowed.swap(false, Ordering::AcqRel) {
                tracing::warn!("Redis pushes overflowed: every client resyncs");
                own.hub.resync_all();
            }
            tokio::select! {
                push = received.recv() => {
                    let Some(push) = push else { break };
                    if !handle(push, &own, &subscribed) {
                        break;
                    }
                }
                _ = own.hub.changed.notified() => {
                    if catch_up(&conn, &mut subscribed, &own).await.is_err() {
                        break;
                    }
                }
                request = own.requests.recv() => {
                    let Some(reply) = request else { return };
                    if catch_up(&conn, &mut subscribed, &own).await.is_err() {
                        break;
                    }
                    let _ = reply.send(());
                }
            }
        }
        own.lost();
    }
}

/// Handles one push; false when the connection must be built again.
fn handle(push: PushInfo, own: &Subscriber, subscribed: &HashSet<String>) -> bool {
    match (push.kind, push.data.as_slice()) {
        (PushKind::SMessage, [Value::BulkString(channel), Value::BulkString(payload), ..]) => {
            own.received(channel, payload);
            true
        }
        (PushKind::Disconnection, _) => false,
        // Taken away by the server (its slot moved): not one we left.
        (PushKind::SUnsubscribe, [Value::BulkString(channel), ..]) => {
            let channel = String::from_utf8_lossy(channel);
            if subscribed.contains(channel.as_ref()) {
                tracing::info!(%channel, "a shard dropped a subscription");
                return false;
            }
            true
        }
        _ => true,
    }
}

/// Subscribes to the channels wanted now and leaves the others, each on
/// its shard; `subscribed` holds what is confirmed.
async fn catch_up(
    conn: &ClusterConnection,
    subscribed: &mut HashSet<String>,
    own: &Subscriber,
) -> RedisResult<()> {
    let wanted = own.wanted();
    let leave: Vec<String> = subscribed.difference(&wanted).cloned().collect();
    // Forgotten first: the server's confirmation of a leave is expected.
    for channel in &leave {
        subscribed.remove(channel);
    }
    let join: Vec<String> = wanted.difference(subscribed).cloned().collect();
    futures::stream::iter(join.clone().into_iter().map(|channel| {
        let mut conn = conn.clone();
        async move { conn.ssubscribe(channel).await }
    }))
    .buffer_unordered(AT_ONCE)
    .try_collect::<()>()
    .await?;
    subscribed.extend(join);
    futures::stream::iter(leave.into_iter().map(|channel| {
        let mut conn = conn.clone();
        async move { conn.sunsubscribe(channel).await }
    }))
    .buffer_unordered(AT_ONCE)
    .try_collect::<()>()
    .await
}
