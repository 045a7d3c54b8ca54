//! The cluster's shared state in Redis: which nodes hold which users'
//! connections (presence leases), which nodes are alive, and the reaping of
//! a dead node's leases. Only the cluster shape has one; embedded mode
//! needs none of it. Keys (all under the prefix, `chat` by default):
//! - `nodes`: the set of node ids;
//! - `node:{n}:alive`: present while node n refreshes it (TTL = the lease TTL);
//! - `node:{n}:users`: the users with a connection on node n;
//! - `conns:{u}`: a hash node → lease expiry (ms since the epoch).
//!
//! A lease is live while its expiry is in the future; a node refreshes its
//! users' leases every heartbeat, so a node that dies stops refreshing and
//! its users go offline within the TTL (and a surviving node reaps it).

use std::collections::HashMap;
use std::sync::Arc;

use redis::AsyncCommands;

use super::clock::now_ms;
use super::cluster::{Breaker, Commands, Keys};
use crate::model::UserId;

pub struct Registry {
    redis: Commands,
    breaker: Arc<Breaker>,
    keys: Keys,
    node: String,
    ttl_ms: u64,
}

impl Registry {
    pub fn new(redis: Commands, breaker: Arc<Breaker>, keys: Keys, node: String, ttl_ms: u64) -> Self {
        Self {
            redis,
            breaker,
            keys,
            node,
            ttl_ms,
        }
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn breaker(&self) -> &Arc<Breaker> {
        &self.breaker
    }

    /// This node holds a connection of `user` now.
    pub async fn hold(&self, user: UserId) -> redis::RedisResult<()> {
        self.refresh(&[user]).await
    }

    /// This node's last connection of `user` closed.
    pub async fn release(&self, user: UserId) -> redis::RedisResult<()> {
        let mut r = self.redis.clone();
        let mut pipe = redis::pipe();
        pipe.hdel(self.keys.conns(user), &self.node)
            .srem(self.keys.users_of(&self.node), user);
        self.breaker.call(pipe.exec_async(&mut r)).await
    }

    /// Renews this node's liveness and the leases of `users` (its local users).
    pub async fn refresh(&self, users: &[UserId]) -> redis::RedisResult<()> {
        let expiry = now_ms() + self.ttl_ms as i64;
        let mut pipe = redis::pipe();
        pipe.set_options(
            self.keys.alive(&self.node),
            1,
            redis::SetOptions::default().with_expiration(redis::SetExpiry::PX(self.ttl_ms)),
        )
        .sadd(self.keys.nodes(), &self.node);
        for &user in users {
            pipe.hset(self.keys.conns(user), &self.node, expiry)
                .pexpire(self.keys.conns(user), (self.ttl_ms * 2) as i64)
                .sadd(self.keys.users_of(&self.node), user);
        }
        let mut r = self.redis.clone();
        self.breaker.call(pipe.exec_async(&mut r)).await
    }

    /// The nodes holding a live lease of each of `users`, with those users.
    pub async fn nodes_of(&self, users: &[UserId]) -> redis::RedisResult<HashMap<String, Vec<UserId>>> {
        let leases = self.leases(users).await?;
        let mut by_node: HashMap<String, Vec<UserId>> = HashMap::new();
        for (&user, nodes) in users.iter().zip(leases) {
            for node in nodes {
                by_node.entry(node).or_default().push(user);
            }
        }
        Ok(by_node)
    }

    /// Which of `users` hold a live lease on any node.
    pub async fn online(&self, users: &[UserId]) -> redis::RedisResult<Vec<bool>> {
        Ok(self
            .leases(users)
            .await?
            .into_iter()
            .map(|n| !n.is_empty())
            .collect())
    }

    async fn leases(&self, users: &[UserId]) -> redis::RedisResult<Vec<Vec<String>>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for &user in users {
            pipe.hgetall(self.keys.conns(user));
        }
        let mut r = self.redis.clone();
        let all: Vec<HashMap<String, i64>> = self.breaker.call(pipe.query_async(&mut r)).await?;
        let now = now_ms();
        Ok(all
            .into_iter()
            .map(|h| {
                h.into_iter()
                    .filter(|(_, exp)| *exp > now)
                    .map(|(n, _)| n)
                    .collect()
            })
            .collect())
    }

    /// Reaps the nodes that stopped refreshing: their leases are removed
    /// (once, by whichever node gets there first). Returns whether a node
    /// was reaped here, and its users who hold no live lease anywhere now:
    /// they went offline.
    pub async fn reap(&self) -> redis::RedisResult<(bool, Vec<UserId>)> {
        self.breaker.call(self.reap_dead()).await
    }

    async fn reap_dead(&self) -> redis::RedisResult<(bool, Vec<UserId>)> {
        let mut r = self.redis.clone();
        let nodes: Vec<String> = r.smembers(self.keys.nodes()).await?;
        let (mut reaped, mut gone) = (false, Vec::new());
        for node in nodes.into_iter().filter(|n| *n != self.node) {
            let living: bool = r.exists(self.keys.alive(&node)).await?;
            if living {
                continue;
            }
            let claim: Option<String> = redis::cmd("SET")
                .arg(self.keys.reap(&node))
                .arg(&self.node)
                .arg("NX")
                .arg("PX")
                .arg(self.ttl_ms)
                .query_async(&mut r)
                .await?;
            if claim.is_none() {
                continue;
            }
            let users: Vec<UserId> = r.smembers(self.keys.users_of(&node)).await?;
            tracing::warn!(
                node,
                users = users.len(),
                "reaping a node that stopped refreshing"
            );
            let mut pipe = redis::pipe();
            for &user in &users {
                pipe.hdel(self.keys.conns(user), &node);
            }
            pipe.del(self.keys.users_of(&node)).srem(self.keys.nodes(), &node);
            pipe.exec_async(&mut r).await?;
            reaped = true;
            let online = self.online(&users).await?;
            gone.extend(
                users
                    .into_iter()
                    .zip(online)
                    .filter(|(_, on)| !on)
                    .map(|(u, _)| u),
            );
        }
        Ok((reaped, gone))
    }
}
