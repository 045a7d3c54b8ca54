//! The recent-message cache: the last messages of each room, so that a
//! client resuming from a recent seq is served without the database. Only
//! the delivery module writes it, in seq order, after the commit. A read is
//! answered only when the cache holds the whole range asked for; otherwise
//! the caller goes to the database. `LocalCache` lives in the process
//! (embedded mode); `redis::RedisCache` is shared by the nodes of a cluster.

pub mod redis;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::server::locks::lock;

use async_trait::async_trait;

use crate::model::RoomId;
use crate::protocol::{Message, Seq};

#[async_trait]
pub trait Cache: Send + Sync + 'static {
    /// Records the messages of a commit (in seq order per room).
    async fn push(&self, msgs: &[Message]);

    /// Drops what the cache holds of `room` (a delete erased text in it).
    async fn forget(&self, room: RoomId);

    /// Up to `limit` messages after `after`, if the cache covers them.
    async fn after(&self, room: RoomId, after: Seq, limit: u32) -> Option<Vec<Message>>;

    /// (hits, misses) so far.
    fn stats(&self) -> (u64, u64);

    /// Whether a hit always ends at the room's last message published: the
    /// cache is written before the publish and no write can fail, so what
    /// a reader's page lacks reaches it live. Then a short page needs no
    /// check against the head in the database.
    fn current(&self) -> bool {
        false
    }
}

/// The in-process cache of the last `per_room` messages of each room.
pub struct LocalCache {
    rooms: Mutex<HashMap<RoomId, VecDeque<Message>>>,
    per_room: usize,
    counters: Counters,
}

impl LocalCache {
    pub fn new(per_room: usize) -> Self {
        Self {
            rooms: Mutex::default(),
            per_room,
            counters: Counters::default(),
        }
    }
}

#[async_trait]
impl Cache for LocalCache {
    async fn push(&self, msgs: &[Message]) {
        let mut rooms = lock(&self.rooms);
        for m in msgs {
            let q = rooms.entry(m.room).or_default();
            // A seq that does not follow the cached run restarts it: the cache
            // must hold a contiguous run ending at the head.
            if q.back().is_some_and(|b| b.seq + 1 != m.seq) {
                q.clear();
            }
            q.push_back(m.clone());
            while q.len() > self.per_room {
                q.pop_front();
            }
        }
    }

    async fn forget(&self, room: RoomId) {
        lock(&self.rooms).remove(&room);
    }

    async fn after(&self, room: RoomId, after: Seq, limit: u32) -> Option<Vec<Message>> {
        let rooms = lock(&self.rooms);
        let hit = rooms.get(&room).and_then(|q| {
            let first = q.front()?.seq;
            (first <= after + 1).then(|| {
                q.iter()
                    .filter(|m| m.seq > after)
                    .take(limit as usize)
                    .cloned()
                    .collect::<Vec<_>>()
            })
        });
        drop(rooms);
        self.counters.count(hit.is_some());
        hit
    }

    fn stats(&self) -> (u64, u64) {
        self.counters.stats()
    }

    /// In the process, written by the one writer before it publishes.
    fn current(&self) -> bool {
        true
    }
}

/// Hits and misses of a cache (its hit ratio is a metric).
#[derive(Default)]
pub struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Counters {
    pub fn count(&self, hit: bool) {
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(seq: Seq) -> Message {
        Message {
            room: 1,
            seq,
            ..Message::default()
        }
    }

    #[tokio::test]
    async fn serves_only_ranges_it_covers() {
        let cache = LocalCache::new(3);
        for s in 5..=9 {
            cache.push(&[m(s)]).await;
        }
        let seqs = |v: Option<Vec<Message>>| v.map(|v| v.iter().map(|m| m.seq).collect::<Vec<_>>());
        assert_eq!(seqs(cache.after(1, 6, 10).await), Some(vec![7, 8, 9]));
        assert_eq!(seqs(cache.after(1, 9, 10).await), Some(vec![]));
        assert_eq!(seqs(cache.after(1, 7, 1).await), Some(vec![8]));
        assert_eq!(cache.after(1, 5, 10).await, None, "seq 6 was evicted");
        assert_eq!(cache.after(2, 0, 10).await, None, "unknown room");
        cache.push(&[m(20)]).await;
        assert_eq!(cache.after(1, 9, 10).await, None, "a jump restarts the run");
        assert_eq!(seqs(cache.after(1, 19, 10).await), Some(vec![20]));
        assert_eq!(cache.stats(), (4, 3));
    }
}
