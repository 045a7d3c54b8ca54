//! The hub: which local connections are open, for which user, in which
//! rooms. Fan-out serialises a frame once and hands the same bytes to every
//! connection's bounded queue. A connection whose queue is full is marked
//! lagging rather than fed by dropping frames silently: its writer clears
//! the queue and tells the client to resync (design §2 rule 8).
//!
//! Nothing here touches storage or sockets; the lock is never held across
//! an await.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::Notify;

use super::locks::{lock, read, write};
use super::metrics::Metrics;

use crate::model::{RoomId, UserId};
use crate::protocol::ServerFrame;

pub type ConnId = u64;

/// A queue that grew past this many frames is given back once emptied.
const KEEP_QUEUE: usize = 64;

/// One open connection as the hub sees it.
pub struct Conn {
    pub id: ConnId,
    pub user: UserId,
    /// The log-in session it came with (`auth::session_id`).
    pub session: u64,
    /// The session was ended (logged out elsewhere, password changed): the
    /// writer closes the connection.
    ended: AtomicBool,
    /// Live frames waiting for the connection's writer, at most `cap`. A
    /// plain queue rather than a channel: it holds no memory while empty,
    /// and most connections are idle most of the time.
    queue: Mutex<VecDeque<Utf8Bytes>>,
    cap: usize,
    ready: Notify,
    lagging: AtomicBool,
    rooms: Mutex<HashSet<RoomId>>,
    /// Direct rooms whose other person this user blocked: what that person
    /// sends there does not reach this connection. `withholds` says whether
    /// there are any (most connections have none: no lock on fan-out).
    withheld: Mutex<HashSet<RoomId>>,
    withholds: AtomicBool,
}

impl Conn {
    /// Queues a frame, or marks the connection lagging when its queue is full.
    fn push(&self, frame: &Utf8Bytes) {
        if self.lagging.load(Ordering::Acquire) {
            return;
        }
        let mut queue = lock(&self.queue);
        if queue.len() < self.cap {
            queue.push_back(frame.clone());
            drop(queue);
            self.ready.notify_one();
            return;
        }
        drop(queue);
        self.lagging.store(true, Ordering::Release);
        tracing::debug!(
            conn = self.id,
            user = self.user,
            "connection lagging: it will resync"
        );
    }

    /// True once after the connection fell behind.
    pub fn take_lagging(&self) -> bool {
        self.lagging.swap(false, Ordering::AcqRel)
    }

    pub fn is_in(&self, room: RoomId) -> bool {
        lock(&self.rooms).contains(&room)
    }

    /// Whether a frame from `sender` in `room` is withheld from this
    /// connection (its user blocked them there).
    fn withholds_from(&self, room: RoomId, sender: UserId) -> bool {
        sender != self.user && self.withholds.load(Ordering::Acquire) && lock(&self.withheld).contains(&room)
    }

    /// The direct rooms whose other person this connection's user blocked.
    pub fn withhold(&self, rooms: &[RoomId]) {
        *lock(&self.withheld) = rooms.iter().copied().collect();
        self.withholds.store(!rooms.is_empty(), Ordering::Release);
    }
}

#[derive(Default)]
struct Index {
    rooms: HashMap<RoomId, HashMap<ConnId, Arc<Conn>>>,
    users: HashMap<UserId, HashMap<ConnId, Arc<Conn>>>,
}

pub struct Hub {
    index: RwLock<Index>,
    next_id: AtomicU64,
    queue: usize,
    /// The node's counters (it counts deliveries, resyncs and lagging).
    metrics: Arc<Metrics>,
    /// Woken when the set of rooms or users with a local connection changes
    /// (the cluster bus follows it with its subscriptions).
    pub changed: Notify,
}

/// A connection's place in the hub, held by its writer; dropping it
/// removes the connection.
pub struct Registration {
    hub: Arc<Hub>,
    pub conn: Arc<Conn>,
}

impl Registration {
    /// The next live frame, in publish order; None once the connection's
    /// session has ended.
    pub async fn recv(&self) -> Option<Utf8Bytes> {
        loop {
            if self.conn.ended.load(Ordering::Acquire) {
                return None;
            }
            if let Some(frame) = self.try_recv() {
                return Some(frame);
            }
            // A frame queued since the check left a permit: no wake-up is lost.
            self.conn.ready.notified().await;
        }
    }

    /// The next live frame if one is queued.
    pub fn try_recv(&self) -> Option<Utf8Bytes> {
        let mut queue = lock(&self.conn.queue);
        let frame = queue.pop_front();
        if queue.is_empty() && queue.capacity() > KEEP_QUEUE {
            *queue = VecDeque::new();
        }
        frame
    }

    /// Drops every queued frame (the client is told to resync instead).
    pub fn clear(&self) {
        *lock(&self.conn.queue) = VecDeque::new();
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.unregister(&self.conn);
    }
}

impl Hub {
    /// `queue`: how many live frames a connection may have waiting.
    pub fn new(queue: usize, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            index: RwLock::default(),
            next_id: AtomicU64::new(1),
            queue,
            metrics,
            changed: Notify::new(),
        })
    }

    /// Adds a connection of `user`, in no room yet.
    pub fn register(self: &Arc<Self>, user: UserId, session: u64) -> Registration {
        let conn = Arc::new(Conn {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            user,
            session,
            ended: AtomicBool::new(false),
            queue: Mutex::default(),
            cap: self.queue.max(1),
            ready: Notify::new(),
            lagging: AtomicBool::new(false),
            rooms: Mutex::default(),
            withheld: Mutex::default(),
            withholds: AtomicBool::new(false),
        });
        write(&self.index)
            .users
            .entry(user)
            .or_default()
            .insert(conn.id, conn.clone());
        self.changed.notify_one();
        Registration {
            hub: self.clone(),
            conn,
        }
    }

    /// Subscribes one connection to rooms.
    pub fn subscribe(&self, conn: &Arc<Conn>, rooms: impl IntoIterator<Item = RoomId>) {
        {
            let mut index = write(&self.index);
            let mut mine = lock(&conn.rooms);
            for room in rooms {
                mine.insert(room);
                index.rooms.entry(room).or_default().insert(conn.id, conn.clone());
            }
        }
        self.changed.notify_one();
    }

    /// Subscribes every connection of `user` to `room` (they joined it).
    pub fn join(&self, user: UserId, room: RoomId) {
        let conns: Vec<Arc<Conn>> = read(&self.index)
            .users
            .get(&user)
            .map(|c| c.values().cloned().collect())
            .unwrap_or_default();
        for conn in conns {
            self.subscribe(&conn, [room]);
        }
    }

    /// Unsubscribes every connection of `user` from `room` (they left it
    /// or were removed): nothing of it reaches them any more.
    pub fn leave(&self, user: UserId, room: RoomId) {
        {
            let mut index = write(&self.index);
            let conns: Vec<Arc<Conn>> = index
                .users
                .get(&user)
                .map(|c| c.values().cloned().collect())
                .unwrap_or_default();
            for conn in conns {
                lock(&conn.rooms).remove(&room);
                if let Some(in_room) = index.rooms.get_mut(&room) {
                    in_room.remove(&conn.id);
                    if in_room.is_empty() {
                        index.rooms.remove(&room);
                    }
                }
            }
        }
        self.changed.notify_one();
    }

    fn unregister(&self, conn: &Conn) {
        self.remove(conn);
        self.changed.notify_one();
    }

    fn remove(&self, conn: &Conn) {
        let mut index = write(&self.index);
        for room in lock(&conn.rooms).iter() {
            if let Some(conns) = index.rooms.get_mut(room) {
                conns.remove(&conn.id);
                if conns.is_empty() {
                    index.rooms.remove(room);
                }
            }
        }
        if let Some(conns) = index.users.get_mut(&conn.user) {
            conns.remove(&conn.id);
            if conns.is_empty() {
                index.users.remove(&conn.user);
            }
        }
    }

    /// Sends a frame to every local connection in `room`.
    pub fn to_room(&self, room: RoomId, frame: &ServerFrame) {
        self.to_room_from(room, None, frame);
    }

    /// Sends a frame that `sender` caused (their message, their typing) to
    /// every local connection in `room` but those that withhold them.
    pub fn to_room_from(&self, room: RoomId, sender: Option<UserId>, frame: &ServerFrame) {
        let Some(bytes) = encode(frame) else { return };
        let index = read(&self.index);
        if let Some(conns) = index.rooms.get(&room) {
            self.delivered(conns.len());
            for conn in conns.values() {
                if sender.is_some_and(|s| conn.withholds_from(room, s)) {
                    continue;
                }
                self.push(conn, &bytes);
            }
        }
    }

    /// `user` blocked or unblocked someone: their connections withhold the
    /// direct rooms `withheld`, and are told whom they block now.
    pub fn blocks(&self, user: UserId, blocked: Vec<UserId>, withheld: &[RoomId]) {
        let index = read(&self.index);
        for conn in index.users.get(&user).into_iter().flat_map(|c| c.values()) {
            conn.withhold(withheld);
        }
        drop(index);
        self.to_user(user, &ServerFrame::Blocked { users: blocked });
    }

    /// Sends a frame to every local connection of `user`.
    /// Ends `user`'s connections that came with one of `sessions`.
    pub fn end_sessions(&self, user: UserId, sessions: &[u64]) {
        let index = read(&self.index);
        for conn in index.users.get(&user).into_iter().flat_map(|c| c.values()) {
            if sessions.contains(&conn.session) {
                conn.ended.store(true, Ordering::Release);
                conn.ready.notify_one();
            }
        }
    }

    pub fn to_user(&self, user: UserId, frame: &ServerFrame) {
        self.to_users(&[user], frame);
    }

    /// Sends a frame to every local connection of each of `users`.
    pub fn to_users(&self, users: &[UserId], frame: &ServerFrame) {
        let Some(bytes) = encode(frame) else { return };
        let index = read(&self.index);
        for conns in users.iter().filter_map(|u| index.users.get(u)) {
            self.delivered(conns.len());
            for conn in conns.values() {
                self.push(conn, &bytes);
            }
        }
    }

    /// Counts `n` frames queued (once per fan-out, not per connection).
    fn delivered(&self, n: usize) {
        self.metrics.deliveries.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn push(&self, conn: &Conn, bytes: &Utf8Bytes) {
        let was = conn.lagging.load(Ordering::Acquire);
        conn.push(bytes);
        if !was && conn.lagging.load(Ordering::Acquire) {
            self.metrics.lagged.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Tells every local connection to sync every room: live frames may
    /// have been missed (the cluster bus lost its subscriptions for a while).
    /// The frame goes through each queue, so an idle writer wakes for it.
    pub fn resync_all(&self) {
        let Some(bytes) = encode(&ServerFrame::Resync { room: None }) else {
            return;
        };
        let index = read(&self.index);
        for conns in index.users.values() {
            self.delivered(conns.len());
            self.metrics
                .resyncs
                .fetch_add(conns.len() as u64, Ordering::Relaxed);
            for conn in conns.values() {
                self.push(conn, &bytes);
            }
        }
    }

    /// The rooms with at least one local connection.
    pub fn rooms(&self) -> Vec<RoomId> {
        read(&self.index).rooms.keys().copied().collect()
    }

    /// The users with at least one local connection.
    pub fn users(&self) -> Vec<UserId> {
        read(&self.index).users.keys().copied().collect()
    }

    pub fn is_online(&self, user: UserId) -> bool {
        read(&self.index).users.contains_key(&user)
    }

    pub fn connections(&self) -> usize {
        read(&self.index).users.values().map(|c| c.len()).sum()
    }
}

/// Serialises a frame once for every receiver.
pub fn encode(frame: &ServerFrame) -> Option<Utf8Bytes> {
    match serde_json::to_string(frame) {
        Ok(s) => Some(Utf8Bytes::from(s)),
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise a frame");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_reach_the_room_members_connections_only() {
        let hub = Hub::new(8, Arc::default());
        let a = hub.register(1, 0);
        let b = hub.register(2, 0);
        hub.subscribe(&a.conn, [10]);
        hub.subscribe(&b.conn, [11]);
        hub.to_room(10, &ServerFrame::Pong);
        assert_eq!(a.try_recv().unwrap().as_str(), r#"{"t":"pong"}"#);
        assert!(b.try_recv().is_none());
        hub.join(2, 10);
        hub.to_room(10, &ServerFrame::Pong);
        assert!(a.try_recv().is_some() && b.try_recv().is_some());
        assert!(hub.is_online(2));
        drop(b);
        assert!(!hub.is_online(2));
        assert_eq!(hub.connections(), 1);
    }

    #[test]
    fn a_full_queue_marks_the_connection_lagging_instead_of_dropping_silently() {
        let hub = Hub::new(2, Arc::default());
        let a = hub.register(1, 0);
        hub.subscribe(&a.conn, [10]);
        for _ in 0..5 {
            hub.to_room(10, &ServerFrame::Pong);
        }
        assert!(a.conn.take_lagging());
        assert!(!a.conn.take_lagging(), "reported once");
        assert_eq!(hub.metrics.lagged.load(Ordering::Relaxed), 1);
        assert!(a.try_recv().is_some() && a.try_recv().is_some() && a.try_recv().is_none());
    }

    #[test]
    fn resync_all_reaches_every_connection_through_its_queue() {
        let hub = Hub::new(4, Arc::default());
        let a = hub.register(1, 0);
        let b = hub.register(2, 0);
        hub.subscribe(&a.conn, [10]);
        assert_eq!(hub.rooms(), vec![10]);
        hub.resync_all();
        assert_eq!(a.try_recv().unwrap().as_str(), r#"{"t":"resync"}"#);
        assert_eq!(b.try_recv().unwrap().as_str(), r#"{"t":"resync"}"#);
        drop(a);
        assert!(hub.rooms().is_empty());
        assert_eq!(hub.users(), vec![2]);
    }
}
