//! The Redis plumbing of a cluster node: the connections (to one Redis or
//! to a Redis Cluster: what the subscription connection is made from, a
//! command connection with short timeouts), the names of every key and
//! channel with their hash tags, and the breaker that fails calls fast
//! while Redis is down. What runs over them lives
//! elsewhere: the bus (`bus::redis`), the recent-message cache
//! (`cache::redis`), the registry of nodes and presence leases
//! (`registry`). Embedded mode has none of it.

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

use super::clock::now_ms;
use crate::model::{RoomId, UserId};

/// Short timeouts: during a Redis outage a publish must fail fast (local
/// delivery and sends go on), not hold up the delivery writer.
const TIMEOUT: Duration = Duration::from_millis(500);

/// The connections to Redis of a cluster node: one Redis, or a Redis
/// Cluster (several URLs, or `CHAT_REDIS_CLUSTER`).
pub struct Redis {
    pub source: Source,
    pub commands: Commands,
}

/// What the subscription task connects with.
#[derive(Clone)]
pub enum Source {
    Single(redis::Client),
    /// The seed nodes' URLs: the subscriber builds a client of its own
    /// (it carries the push sender of that connection).
    Cluster(Vec<String>),
}

/// The command connection: a reconnecting connection to one Redis, or a
/// cluster connection that routes each command to the shard of its key.
#[derive(Clone)]
pub enum Commands {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Redis {
    /// Opens the command connection (checked with a PING) and keeps what the
    /// subscription connection needs. `url` may list several nodes (a
    /// cluster's seeds), comma-separated.
    pub async fn connect(url: &str, cluster: bool) -> Result<Self, String> {
        let urls: Vec<String> = url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(String::from)
            .collect();
        let connecting = async {
            if cluster || urls.len() > 1 {
                let client = cluster_client(&urls).build().map_err(|e| e.to_string())?;
                let commands = client.get_async_connection().await;
                let commands = commands.map_err(|e| format!("cannot connect: {e}"))?;
                Ok(Self {
                    source: Source::Cluster(urls),
                    commands: Commands::Cluster(commands),
                })
            } else {
                let client = redis::Client::open(url).map_err(|e| e.to_string())?;
                let settings = redis::aio::ConnectionManagerConfig::new()
                    .set_number_of_retries(1)
                    .set_max_delay(TIMEOUT)
                    .set_connection_timeout(Some(TIMEOUT))
                    .set_response_timeout(Some(TIMEOUT));
                let commands = ConnectionManager::new_with_config(client.clone(), settings).await;
                let commands = commands.map_err(|e| format!("cannot connect: {e}"))?;
                Ok(Self {
                    source: Source::Single(client),
                    commands: Commands::Single(commands),
                })
            }
        };
        tokio::time::timeout(Duration::from_secs(5), connecting)
            .await
            .map_err(|_| "no answer within 5 s".to_string())?
    }
}

/// A Redis Cluster client with the node's short timeouts (the subscriber
/// adds RESP3 and its push sender).
pub fn cluster_client(urls: &[String]) -> redis::cluster::ClusterClientBuilder {
    redis::cluster::ClusterClientBuilder::new(urls.to_vec())
        .retries(2)
        .min_retry_wait(50)
        .max_retry_wait(250)
        .connection_timeout(TIMEOUT)
        .response_timeout(TIMEOUT)
}

impl Commands {
    /// Adds the publication of `payload` on `channel`: PUBLISH on one Redis,
    /// SPUBLISH on a cluster (the channel's shard only carries it).
    pub fn publish(&self, pipe: &mut Pipeline, channel: &str, payload: &str) {
        match self {
            Commands::Single(_) => pipe.publish(channel, payload),
            Commands::Cluster(_) => pipe.spublish(channel, payload),
        };
    }

    /// Runs pipelines whose commands each stay in one hash slot: as one
    /// pipeline on a single Redis, each to its shard (at once) on a cluster.
    pub async fn exec_each(&self, pipes: Vec<Pipeline>) -> RedisResult<()> {
        match self {
            Commands::Single(c) => {
                let mut all = redis::pipe();
                for cmd in pipes.iter().flat_map(|p| p.cmd_iter()) {
                    all.add_command(cmd.clone());
                }
                all.exec_async(&mut c.clone()).await
            }
            Commands::Cluster(c) => {
                let runs = pipes.iter().map(|p| {
                    let mut c = c.clone();
                    async move { p.exec_async(&mut c).await }
                });
                futures::future::try_join_all(runs).await.map(drop)
            }
        }
    }
}

impl ConnectionLike for Commands {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Commands::Single(c) => c.req_packed_command(cmd),
            Commands::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Commands::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Commands::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Commands::Single(c) => c.get_db(),
            Commands::Cluster(c) => c.get_db(),
        }
    }
}

/// The names of every Redis key and channel of one cluster: several
/// clusters (or test runs) can share a Redis under different prefixes.
///
/// On a Redis Cluster a key's shard is chosen by its hash tag (the part in
/// braces): a room's cache and channel are tagged by the room, so rooms
/// spread over the shards; the registry's keys and the node channels share
/// the prefix's tag (one slot: its pipelines touch several of them at once).
#[derive(Clone, Debug)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        // Braces in the prefix would change the hash tags.
        Self {
            prefix: prefix.replace(['{', '}'], "_"),
        }
    }
    pub fn conns(&self, user: UserId) -> String {
        format!("{{{}}}:conns:{user}", self.prefix)
    }
    pub fn users_of(&self, node: &str) -> String {
        format!("{{{}}}:node:{node}:users", self.prefix)
    }
    pub fn alive(&self, node: &str) -> String {
        format!("{{{}}}:node:{node}:alive", self.prefix)
    }
    pub fn nodes(&self) -> String {
        format!("{{{}}}:nodes", self.prefix)
    }
    pub fn reap(&self, node: &str) -> String {
        format!("{{{}}}:reap:{node}", self.prefix)
    }
    /// The channel of events addressed to users on `node`.
    pub fn node_channel(&self, node: &str) -> String {
        format!("{{{}}}:node:{node}", self.prefix)
    }
    /// The channel on which a node that failed to publish some events,
    /// once Redis answers again, asks every other node to resync its clients.
    pub fn resync_channel(&self) -> String {
        format!("{{{}}}:resync", self.prefix)
    }
    /// The channel of a room's events.
    pub fn room_channel(&self, room: RoomId) -> String {
        format!("{}:room:{{{room}}}", self.prefix)
    }
    /// The sorted set of a room's recent messages.
    pub fn recent(&self, room: RoomId) -> String {
        format!("{}:recent:{{{room}}}", self.prefix)
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
    pub async fn call<T>(&self, f: impl Future<Output = RedisResult<T>>) -> RedisResult<T> {
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
