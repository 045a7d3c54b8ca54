//! Receipts: members' delivered/read marks, checked against the room's
//! head, stored monotonically and fanned out to the room. In a direct room
//! a receipt goes out at once (the ticks of a conversation of two); in a
//! group the receipts of a room are coalesced to about one update per
//! member per second, so a busy group does not cost a frame per message
//! per member. Membership is checked by the caller.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::locks::lock;
use std::time::Duration;

use super::bus::{Bus, Event};
use super::storage::{DynStore, StoreError};
use super::tasks::Tasks;
use crate::model::{RoomId, RoomKind, UserId};
use crate::protocol::Seq;

/// How long a group's receipts wait to be sent together.
const GROUP_DELAY: Duration = Duration::from_secs(1);

/// Delivered, read, and the `n` of the row at read.
type Marks = (Seq, Seq, i64);

/// Why a report was not stored.
#[derive(Debug)]
pub enum ReportError {
    /// It names a seq the room does not have.
    Beyond {
        room: RoomId,
        seq: Seq,
        head: Seq,
    },
    /// The reporter is not (or no longer) in the room.
    NotMember(RoomId),
    Store(StoreError),
}

impl From<StoreError> for ReportError {
    fn from(e: StoreError) -> Self {
        ReportError::Store(e)
    }
}

#[derive(Clone)]
pub struct Receipts {
    store: DynStore,
    bus: Arc<dyn Bus>,
    tasks: Tasks,
    /// Per group room, the newest marks of each member not yet published.
    pending: Arc<Mutex<HashMap<RoomId, HashMap<UserId, Marks>>>>,
}

impl Receipts {
    pub fn new(store: DynStore, bus: Arc<dyn Bus>, tasks: Tasks) -> Self {
        Self {
            store,
            bus,
            tasks,
            pending: Arc::default(),
        }
    }

    /// Stores `user`'s report that they hold (`delivered`) and have seen
    /// (`read`) the room up to those seqs, and publishes the receipt if a
    /// mark rose. Gives the marks as stored: a lower report moves nothing.
    pub async fn report(
        &self,
        room: RoomId,
        user: UserId,
        delivered: Seq,
        read: Seq,
    ) -> Result<Marks, ReportError> {
        let (head, kind) = self
            .store
            .head_and_kind(room)
            .await?
            .unwrap_or((0, RoomKind::Group));
        let seq = delivered.max(read);
        if seq < 0 || seq > head {
            return Err(ReportError::Beyond { room, seq, head });
        }
        let stored = self
            .store
            .raise_marks(room, user, delivered, read)
            .await?
            .ok_or(ReportError::NotMember(room))?;
        let marks = (stored.delivered, stored.read, stored.read_n);
        if stored.rose {
            self.publish(room, kind, user, marks).await;
        }
        Ok(marks)
    }

    /// Publishes stored marks: now for a direct room, within a second for a group.
    async fn publish(&self, room: RoomId, kind: RoomKind, user: UserId, marks: Marks) {
        if kind == RoomKind::Direct {
            self.bus
                .publish(Event::Receipt {
                    room,
                    user,
                    delivered: marks.0,
                    read: marks.1,
                    read_n: marks.2,
                })
                .await;
            return;
        }
        let first = {
            let mut pending = lock(&self.pending);
            let entry = pending.entry(room).or_default();
            let first = entry.is_empty();
            let slot = entry.entry(user).or_insert(marks);
            if marks.1 > slot.1 {
                (slot.1, slot.2) = (marks.1, marks.2);
            }
            slot.0 = slot.0.max(marks.0);
            first
        };
        if first {
            let this = self.clone();
            self.tasks.spawn(async move {
                tokio::time::sleep(GROUP_DELAY).await;
                this.flush(room).await;
            });
        }
    }

    async fn flush(&self, room: RoomId) {
        let batch = lock(&self.pending).remove(&room).unwrap_or_default();
        for (user, (delivered, read, read_n)) in batch {
            self.bus
                .publish(Event::Receipt {
                    room,
                    user,
                    delivered,
                    read,
                    read_n,
                })
                .await;
        }
    }
}
