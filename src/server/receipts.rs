//! Receipts: members' delivered/read marks, stored monotonically and fanned
//! out to the room. In a direct room a receipt goes out at once (the ticks
//! of a conversation of two); in a group the receipts of a room are
//! coalesced to about one update per member per second, so a busy group
//! does not cost a frame per message per member.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::bus::{Bus, Event};
use crate::model::{RoomId, RoomKind, UserId};
use crate::protocol::Seq;

/// How long a group's receipts wait to be sent together.
const GROUP_DELAY: Duration = Duration::from_secs(1);

type Marks = (Seq, Seq);

#[derive(Clone)]
pub struct Receipts {
    bus: Arc<dyn Bus>,
    /// Per group room, the newest marks of each member not yet published.
    pending: Arc<Mutex<HashMap<RoomId, HashMap<UserId, Marks>>>>,
}

impl Receipts {
    pub fn new(bus: Arc<dyn Bus>) -> Self {
        Self {
            bus,
            pending: Arc::default(),
        }
    }

    /// Publishes stored marks: now for a direct room, within a second for a group.
    pub async fn publish(&self, room: RoomId, kind: RoomKind, user: UserId, marks: Marks) {
        if kind == RoomKind::Direct {
            self.bus
                .publish(Event::Receipt {
                    room,
                    user,
                    delivered: marks.0,
                    read: marks.1,
                })
                .await;
            return;
        }
        let first = {
            let Ok(mut pending) = self.pending.lock() else {
                return;
            };
            let entry = pending.entry(room).or_default();
            let first = entry.is_empty();
            let slot = entry.entry(user).or_insert(marks);
            *slot = (slot.0.max(marks.0), slot.1.max(marks.1));
            first
        };
        if first {
            let this = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(GROUP_DELAY).await;
                this.flush(room).await;
            });
        }
    }

    async fn flush(&self, room: RoomId) {
        let batch = match self.pending.lock() {
            Ok(mut pending) => pending.remove(&room).unwrap_or_default(),
            Err(_) => return,
        };
        for (user, (delivered, read)) in batch {
            self.bus
                .publish(Event::Receipt {
                    room,
                    user,
                    delivered,
                    read,
                })
                .await;
        }
    }
}
