//! One room as a client holds it: its summary, its timeline by seq, how far
//! it is whole (`last`), the members' marks once asked, and the room's
//! requests in flight. Pure bookkeeping; the frames it asks for are pushed
//! onto the caller's `Output`.

use std::collections::BTreeMap;

use super::request::Request;
use super::{Marks, Output};
use crate::format::preview;
use crate::model::{RoomId, RoomSummary, UserId};
use crate::protocol::{ClientFrame, Message, Seq};

#[derive(Clone, Debug, Default)]
pub struct Room {
    /// Name, kind, unread marks and the head (`head_seq`), once its `room`
    /// or `welcome` frame came; a message may come first.
    pub summary: Option<RoomSummary>,
    pub msgs: BTreeMap<Seq, Message>,
    /// Everything with seq <= last is held (or was before this device's window).
    pub last: Seq,
    /// No message older than the oldest held exists (history reached seq 1).
    pub history_done: bool,
    /// The members and their marks, once asked for (the room was opened).
    pub marks: Option<Marks>,
    /// The member list: a `resync` while it is asked means the answer may
    /// miss a receipt, so it is asked again.
    pub(super) members: Request,
    /// One sync at a time: a `resync` while one is in flight means it may
    /// have been served before the missed messages existed, so another
    /// follows it.
    pub(super) sync: Request,
    /// The page of older messages (not retried: scrolling asks again).
    pub(super) history: Request,
}

impl Room {
    /// A room first heard of: held from `last` on.
    pub(super) fn starting_at(last: Seq) -> Self {
        Self {
            last,
            history_done: last == 0,
            ..Self::default()
        }
    }

    /// The highest seq known to exist: the summary's head, or before the
    /// summary came, the newest message held.
    pub fn head(&self) -> Seq {
        let newest = self.msgs.keys().next_back().copied().unwrap_or(0);
        self.summary.as_ref().map_or(0, |s| s.head_seq).max(newest)
    }

    pub fn oldest(&self) -> Option<Seq> {
        self.msgs.keys().next().copied()
    }

    pub(super) fn gap(&self) -> bool {
        self.head() > self.last
    }

    /// Takes a fresh summary: the head and a read mark raised on this
    /// device (not yet reported) never go back.
    pub(super) fn set_summary(&mut self, summary: RoomSummary) {
        let (head, read) = (self.head(), self.summary.as_ref().map_or(0, |s| s.read_seq));
        self.summary = Some(RoomSummary {
            head_seq: summary.head_seq.max(head),
            read_seq: summary.read_seq.max(read),
            ..summary
        });
    }

    /// Puts a message in the timeline (once), advancing `last`; true if
    /// anything shown changed.
    pub(super) fn apply(&mut self, m: Message, me: Option<UserId>) -> bool {
        let mut changed = false;
        if let Some(s) = self.summary.as_mut() {
            if m.seq >= s.head_seq {
                s.preview = Some(preview(&m.body, m.fmt.as_deref()));
            }
            s.head_seq = s.head_seq.max(m.seq);
            s.last_activity = s.last_activity.max(m.ts);
            if me == Some(m.sender) {
                s.read_seq = s.read_seq.max(m.seq);
            }
        }
        // The server raised the sender's marks with the message, and says so
        // with nothing else.
        if self
            .marks
            .as_mut()
            .is_some_and(|k| k.raise(m.sender, m.seq, m.seq))
        {
            changed = true;
        }
        if self.msgs.contains_key(&m.seq) {
            return changed; // a duplicate: the UI never shows a message twice
        }
        self.msgs.insert(m.seq, m);
        while self.msgs.contains_key(&(self.last + 1)) {
            self.last += 1;
        }
        true
    }

    /// The connection closed: nothing is in flight any more (the next
    /// welcome asks again what is needed).
    pub(super) fn connection_lost(&mut self) {
        self.sync.reset();
        self.history.reset();
        self.members.reset();
    }

    /// The server refused requests for now: the sync and the member list
    /// are asked again at the next retry (a sync even with no gap known: it
    /// may answer a resync); the history page waits for the next scroll.
    pub(super) fn refused(&mut self) {
        self.sync.refused();
        self.members.refused();
        self.history.reset();
    }

    pub(super) fn ask_members(&mut self, id: RoomId, out: &mut Output) {
        if self.members.ask() {
            out.frames.push(ClientFrame::Members { room: id });
        }
    }

    /// Asks for the `sync` that resumes this room (sent now unless one is
    /// in flight; then it follows that one).
    pub(super) fn ask_sync(&mut self, id: RoomId, out: &mut Output) {
        if self.sync.ask() {
            out.frames.push(ClientFrame::Sync {
                room: id,
                after: self.last,
                limit: None,
            });
        }
    }

    /// Asks for a sync if the timeline has a hole and none is in flight.
    pub(super) fn sync_if_gap(&mut self, id: RoomId, out: &mut Output) {
        if self.gap() && !self.sync.in_flight() {
            self.ask_sync(id, out);
        }
    }
}
