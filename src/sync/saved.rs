//! What a device keeps of its rooms between visits (the browser keeps it
//! in IndexedDB, `ui/saved.rs`): each room's summary and, for the rooms
//! opened most recently, its newest rows without a hole and the members'
//! marks. Restored into a client that has heard nothing yet, it shows the
//! room list and those timelines at once, offline too; the next `welcome`
//! then resumes each room from the `last` it restored, exactly as after a
//! reconnect, so nothing is skipped however long the device was away.

use serde::{Deserialize, Serialize};

use super::room::Room;
use super::{Client, Marks, Output};
use crate::model::{RoomId, RoomSummary, User};
use crate::protocol::Message;

/// One room as a device keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedRoom {
    pub summary: RoomSummary,
    /// The newest rows held without a hole, oldest first, ending at the
    /// room's `last` (none for a room only listed).
    pub rows: Vec<Message>,
    /// No message is older than the first row.
    pub history_done: bool,
    pub marks: Option<Marks>,
}

impl Client {
    /// Room `id` as a device keeps it, with at most `rows` of its newest
    /// rows (0: the summary only); None before its summary came.
    pub fn saved_room(&self, id: RoomId, rows: usize) -> Option<SavedRoom> {
        let r = self.rooms.get(&id)?;
        let summary = r.summary.clone()?;
        let mut kept: Vec<Message> = Vec::new();
        let mut seq = r.last;
        while kept.len() < rows && seq >= 1 {
            let Some(m) = r.msgs.get(&seq) else { break };
            kept.push(m.clone());
            seq -= 1;
        }
        kept.reverse();
        let history_done = r.history_done && kept.first().map(|m| m.seq) == r.oldest();
        Some(SavedRoom {
            summary,
            marks: r.marks.clone().filter(|_| !kept.is_empty()),
            rows: kept,
            history_done,
        })
    }

    /// Takes back what a device kept, as if those rows had come from the
    /// server: only into a client that holds no room yet (before its first
    /// `welcome`); anything else is newer than what was kept.
    pub fn restore(&mut self, me: Option<User>, saved: Vec<SavedRoom>) -> Output {
        let mut out = Output::default();
        if self.welcomed || !self.rooms.is_empty() {
            return out;
        }
        if self.me.is_none() {
            self.me = me;
        }
        let me = self.me.as_ref().map(|u| u.id);
        let window = self.config.initial_window;
        for s in saved {
            let id = s.summary.id;
            let mut room = match s.rows.first() {
                Some(first) => Room::starting_at(first.seq - 1),
                None => Room::starting_at(window.map_or(0, |w| (s.summary.head_seq - w).max(0))),
            };
            self.reports.confirmed(id, s.summary.read_seq, s.summary.read_seq);
            room.set_summary(s.summary);
            room.history_done = room.history_done || s.history_done;
            room.marks = s.marks;
            for m in s.rows {
                room.apply(m, me);
            }
            self.rooms.insert(id, room);
            out.changed.insert(id);
        }
        out.rooms_changed = !self.rooms.is_empty();
        out
    }
}
