//! The bus carries what happened to every node's hub: committed messages,
//! room joins, marks and ticks, presence and typing. Embedded mode has one node, so
//! the local bus hands events straight to the hub; the cluster shape puts
//! Redis Pub/Sub behind the same trait (`redis.rs`). Publishing is a hint: a
//! lost event is repaired by sync, because storage is the truth (design §2
//! rule 4).

mod follow;
pub mod redis;
mod shards;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::hub::Hub;
use crate::model::{RoomId, RoomSummary, UserId};
use crate::protocol::{Message, Presence, Seq, ServerFrame, Ticks};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "e", rename_all = "snake_case")]
pub enum Event {
    /// A message was committed.
    Message { msg: Message },
    /// `user` is now a member of `room` (the summary as they see it).
    Joined { user: UserId, room: RoomSummary },
    /// `user` left `room` or was removed (the read-only summary they keep).
    Left { user: UserId, room: RoomSummary },
    /// Members' delivered/read marks rose: each goes to that member's own
    /// devices (no one else's).
    Marks { room: RoomId, marks: Vec<MarksOf> },
    /// Senders' ticks moved: each goes to that sender's devices.
    Ticks {
        room: RoomId,
        ticks: Vec<(UserId, Ticks)>,
    },
    /// A person came online or went offline; `to` are their contacts.
    Presence { presence: Presence, to: Vec<UserId> },
    /// Log-in sessions of `user` ended: their connections close.
    SessionsEnded { user: UserId, sessions: Vec<u64> },
    /// `user` blocked or unblocked someone: whom they block now, and the
    /// direct rooms with those people (what they send there is withheld).
    Blocks {
        user: UserId,
        blocked: Vec<UserId>,
        withheld: Vec<RoomId>,
    },
    /// Someone is typing in a room (never stored).
    Typing {
        room: RoomId,
        user: UserId,
        name: String,
    },
}

/// One member's marks in a room, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarksOf {
    pub user: UserId,
    pub delivered: Seq,
    pub read: Seq,
    /// The `n` of row `read`.
    pub read_n: i64,
}

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Publishes an event to every node (this one included).
    async fn publish(&self, event: Event);

    /// Publishes several events, in order (a cluster bus sends them in one round trip).
    async fn publish_all(&self, events: Vec<Event>) {
        for event in events {
            self.publish(event).await;
        }
    }

    /// Returns once this node receives the events of every room that has a
    /// local connection now (a cluster bus subscribes asynchronously).
    async fn subscribed(&self) {}

    /// Another node died: what it held back for a moment (a room's
    /// coalesced marks and ticks) is lost, so every client everywhere
    /// resyncs (its `welcome` and `members` bring them from storage).
    async fn node_lost(&self) {}
}

/// The single-node bus.
pub struct LocalBus {
    hub: Arc<Hub>,
}

impl LocalBus {
    pub fn new(hub: Arc<Hub>) -> Self {
        Self { hub }
    }
}

#[async_trait]
impl Bus for LocalBus {
    async fn publish(&self, event: Event) {
        deliver(&self.hub, event);
    }
}

/// Applies an event to this node's connections.
pub fn deliver(hub: &Hub, event: Event) {
    match event {
        Event::Message { msg } => {
            // Whoever a change removed hears of it, then of nothing more.
            let gone = msg.change.as_ref().and_then(|c| c.gone(msg.sender));
            let (room, sender) = (msg.room, msg.sender);
            hub.to_room_from(room, Some(sender), &ServerFrame::Msg(msg));
            if let Some(user) = gone {
                hub.leave(user, room);
            }
        }
        Event::Joined { user, room } => {
            hub.join(user, room.id);
            hub.to_user(user, &ServerFrame::Room(room));
        }
        Event::Left { user, room } => {
            hub.leave(user, room.id);
            hub.to_user(user, &ServerFrame::Room(room));
        }
        Event::Marks { room, marks } => {
            for m in marks {
                let receipt = ServerFrame::Receipt {
                    room,
                    user: m.user,
                    delivered: m.delivered,
                    read: m.read,
                    read_n: m.read_n,
                };
                hub.to_user(m.user, &receipt);
            }
        }
        Event::Ticks { room, ticks } => {
            for (user, ticks) in ticks {
                hub.to_user(user, &ServerFrame::Ticks { room, ticks });
            }
        }
        Event::Presence { presence, to } => hub.to_users(&to, &ServerFrame::Presence(presence)),
        Event::Typing { room, user, name } => {
            hub.to_room_from(room, Some(user), &ServerFrame::Typing { room, user, name })
        }
        Event::Blocks {
            user,
            blocked,
            withheld,
        } => hub.blocks(user, blocked, &withheld),
        Event::SessionsEnded { user, sessions } => hub.end_sessions(user, &sessions),
    }
}
