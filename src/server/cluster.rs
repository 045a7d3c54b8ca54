//! The Redis plumbing of a cluster node: the connections (a client for
//! the subscription connection, a reconnecting command connection with
//! short timeouts), the names of every key and channel, and the breaker
//! that fails calls fast while Redis is down. What runs over them lives
//! elsewhere: the bus (`bus::redis`), the recent-message cache
//! (`cache::redis`), the registry of nodes and presence leases
//! (`registry`). Embedded mode has none of it.

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};

use super::clock::now_ms;
use crate::model::{RoomId, UserId};

/// The connections to Redis of a cluster node.
pub struct Redis {
    pub client: redis::Client,
    pub commands: redis::aio::ConnectionManager,
}

impl Redis {
    /// Opens the command connection (checked with a PING) and keeps the client
    /// for the subscription connection.
    pub async fn connect(url: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| e.to_string())?;
        // Short timeouts: during a Redis outage a publish must fail fast (local
        // delivery and sends go on), not hold up the delivery writer.
        let settings = redis::aio::ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_max_delay(std::time::Duration::from_millis(500))
            .set_connection_timeout(Some(std::time::Duration::from_millis(500)))
            .set_response_timeout(Some(std::time::Duration::from_millis(500)));
        let commands = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            redis::aio::ConnectionManager::new_with_config(client.clone(), settings),
        )
        .await
        .map_err(|_| "no answer within 5 s".to_string())?
        .map_err(|e| format!("cannot connect: {e}"))?;
        Ok(Self { client, commands })
    }
}

/// The names of every Redis key and channel of one cluster: several
/// clusters (or test runs) can share a Redis under different prefixes.
#[derive(Clone, Debug)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_string(),
        }
    }
    pub fn conns(&self, user: UserId) -> String {
        format!("{}:conns:{user}", self.prefix)
    }
    pub fn users_of(&self, node: &str) -> String {
        format!("{}:node:{node}:users", self.prefix)
    }
    pub fn alive(&self, node: &str) -> String {
        format!("{}:node:{node}:alive", self.prefix)
    }
    pub fn nodes(&self) -> String {
        format!("{}:nodes", self.prefix)
    }
    pub fn reap(&self, node: &str) -> String {
        format!("{}:reap:{node}", self.prefix)
    }
    /// The channel of events addressed to users on `node`.
    pub fn node_channel(&self, node: &str) -> String {
        format!("{}:node:{node}", self.prefix)
    }
    /// The channel on which a node that failed to publish some events,
    /// once Redis answers again, asks every other node to resync its clients.
    pub fn resync_channel(&self) -> String {
        format!("{}:resync", self.prefix)
    }
    /// The channel of a room's events.
    pub fn room_channel(&self, room: RoomId) -> String {
        format!("{}:room:{room}", self.prefix)
    }
    /// The sorted set of a room's recent messages.
    pub fn recent(&self, room: RoomId) -> String {
        format!("{}:recent:{room}", self.prefix)
    }
}

/// Fails fast while Redis is down: after an error, calls are refused at
/// once for `OPEN_MS` (callers fall back: local delivery, the database),
/// then tried again. Without it, every send would wait for a timeout.
#[derive(Default)]
pub struct Breaker {
    open_until: AtomicI64,
}

const OPEN_MS: i64 = 1_000;

impl Breaker {
    pub async fn call<T>(&self, f: impl Future<Output = redis::RedisResult<T>>) -> redis::RedisResult<T> {
        if now_ms() < self.open_until.load(Ordering::Relaxed) {
            return Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "Redis is unreachable (retrying shortly)",
            )));
        }
        let result = f.await;
        if result.is_err() && self.open_until.swap(now_ms() + OPEN_MS, Ordering::Relaxed) < now_ms() {
            tracing::warn!("Redis call failed: Redis is skipped for a second at a time until it answers");
        }
        result
    }
}
