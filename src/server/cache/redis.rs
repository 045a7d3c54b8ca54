//! The cluster's recent-message cache: a Redis sorted set per room
//! (`prefix:recent:{room}`, the room its hash tag; scored by seq, the last
//! `per_room` messages), written by the node that committed each message. Nodes commit
//! concurrently, so a read is a hit only when the run it returns is
//! contiguous from the seq asked after: a hole (a write not yet made, or
//! lost with a Redis outage) sends the reader to the database.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::{Cache, Counters};
use crate::model::RoomId;
use crate::protocol::{Message, Seq};
use crate::server::cluster::{Breaker, Commands, Keys};

pub struct RedisCache {
    redis: Commands,
    breaker: Arc<Breaker>,
    keys: Keys,
    per_room: usize,
    counters: Counters,
}

impl RedisCache {
    pub fn new(redis: Commands, breaker: Arc<Breaker>, keys: Keys, per_room: usize) -> Self {
        Self {
            redis,
            breaker,
            keys,
            per_room,
            counters: Counters::default(),
        }
    }

    async fn read(&self, room: RoomId, after: Seq, limit: u32) -> Option<Vec<Message>> {
        let mut r = self.redis.clone();
        // From `after` itself (the predecessor proves the run starts right after it).
        let mut range = redis::cmd("ZRANGEBYSCORE");
        range
            .arg(self.keys.recent(room))
            .arg(after.max(1))
            .arg("+inf")
            .arg("LIMIT")
            .arg(0)
            .arg(limit + 1);
        let raw: Vec<String> = self
            .breaker
            .call(range.query_async(&mut r))
            .await
            .map_err(|e| tracing::debug!(error = %e, "cache read failed"))
            .ok()?;
        let msgs: Vec<Message> = raw.iter().filter_map(|t| serde_json::from_str(t).ok()).collect();
        if msgs.len() != raw.len() {
            return None;
        }
        let start = if after == 0 { 1 } else { after };
        if msgs.iter().zip(start..).any(|(m, expected)| m.seq != expected) {
            return None;
        }
        match msgs.first() {
            Some(first) if first.seq == after => {
                Some(msgs.into_iter().skip(1).take(limit as usize).collect())
            }
            Some(_) if after == 0 => Some(msgs.into_iter().take(limit as usize).collect()),
            _ => None,
        }
    }
}

#[async_trait]
impl Cache for RedisCache {
    /// One pipeline for the whole commit (on a cluster, one per room: each
    /// goes to the room's shard).
    async fn push(&self, msgs: &[Message]) {
        let mut rooms: BTreeMap<RoomId, redis::Pipeline> = BTreeMap::new();
        for m in msgs {
            let Ok(json) = serde_json::to_string(m) else {
                continue;
            };
            let key = self.keys.recent(m.room);
            rooms
                .entry(m.room)
                .or_insert_with(redis::pipe)
                .zadd(&key, json, m.seq)
                .zremrangebyrank(&key, 0, -(self.per_room as isize) - 1);
        }
        let pipes = rooms.into_values().collect();
        if let Err(e) = self.breaker.call(self.redis.exec_each(pipes)).await {
            // Readers check runs for holes: a missing entry only costs a miss.
            tracing::debug!(error = %e, msgs = msgs.len(), "messages not cached");
        }
    }

    async fn forget(&self, room: RoomId) {
        let mut r = self.redis.clone();
        let mut del = redis::cmd("DEL");
        del.arg(self.keys.recent(room));
        if let Err(e) = self.breaker.call(del.exec_async(&mut r)).await {
            tracing::warn!(error = %e, room, "a room's cached messages were not dropped after a delete");
        }
    }

    async fn after(&self, room: RoomId, after: Seq, limit: u32) -> Option<Vec<Message>> {
        let hit = self.read(room, after, limit).await;
        self.counters.count(hit.is_some());
        hit
    }

    fn stats(&self) -> (u64, u64) {
        self.counters.stats()
    }
}
