//! The client state machine: what a client holds and what it must send,
//! as pure Rust with no I/O and no clock (callers pass `now` in ms). The
//! browser, the Rust tests and the chaos checker all drive this one
//! implementation.
//!
//! Per room it keeps the timeline by seq and `last`, the highest seq up to
//! which it holds everything (design §2 rule 5): `seq == last + 1` extends
//! it, `seq <= last` is a duplicate, `seq > last + 1` is a gap that asks for
//! `sync(after = last)`. Sends wait in an outbox until acked and are sent
//! again, with the same `cid`, on every (re)connect and after a backing-off
//! delay. Receipts (`marks`) and typing (`typing`) live in their own
//! modules, and what a device keeps between visits in `saved`; this one
//! ties them to the frames.

#[cfg(test)]
mod fold_tests;
mod frames;
mod marks;
mod outbox;
mod request;
mod room;
mod saved;
mod typing;

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

pub use marks::{Marks, Tick};
pub use outbox::Outgoing;
pub use room::Room;
pub use saved::SavedRoom;
pub use typing::label as typing_label;

use crate::model::Kind;
use crate::model::{Attachment, RoomId, User, UserId};
use crate::protocol::{ClientFrame, Presence, Seq};
use marks::Reports;
use request::Request;
use typing::Typing;

#[derive(Clone, Debug)]
pub struct Config {
    /// First retransmit of an unacked send after this long (ms).
    pub retry_first_ms: i64,
    /// Retransmits back off by doubling up to this (ms).
    pub retry_max_ms: i64,
    /// For a room this client has never held: start this many messages
    /// before the head (None: from the first message).
    pub initial_window: Option<i64>,
    /// Messages per `history` page.
    pub history_page: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            retry_first_ms: 5_000,
            retry_max_ms: 60_000,
            initial_window: None,
            history_page: 50,
        }
    }
}

/// What the person wrote: the body, the message it answers, and whom it
/// mentions (picked from the room's members; the body shows them as `@name`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Draft {
    pub body: String,
    pub reply_to: Option<Seq>,
    pub mentions: Vec<UserId>,
    /// Uploaded files the message carries (as the upload described them;
    /// the `ack` brings them as stored).
    pub files: Vec<Attachment>,
}

/// What a step of the machine asks the caller to do.
#[derive(Debug, Default, PartialEq)]
pub struct Output {
    /// Frames to send, in order.
    pub frames: Vec<ClientFrame>,
    /// Rooms whose timeline changed.
    pub changed: BTreeSet<RoomId>,
    /// The room list (summaries, heads) changed.
    pub rooms_changed: bool,
    /// The outbox changed (persist it).
    pub outbox_changed: bool,
    /// Rooms whose "is typing" list changed.
    pub typing: BTreeSet<RoomId>,
    /// Someone's presence changed.
    pub presence_changed: bool,
    /// Whom I block changed.
    pub blocked_changed: bool,
    /// Members' names came (an open @ list may offer more now).
    pub names: bool,
}

#[derive(Debug, Default)]
pub struct Client {
    config: Config,
    me: Option<User>,
    /// How long after sending one may edit or delete one's message (ms).
    edit_window_ms: i64,
    welcomed: bool,
    rooms: BTreeMap<RoomId, Room>,
    outbox: Vec<Outgoing>,
    /// This client sends the outbox. Of several tabs of one person, one
    /// does; the others show what it holds (`outbox_elsewhere`).
    sending: bool,
    /// After a refused sync, wait until then before syncing again.
    sync_retry_at: i64,
    /// The `hello` of this connection, or one asked again (after
    /// `resync`), awaiting its `welcome`; a `resync` meanwhile, or a
    /// refusal, asks once more.
    refresh: Request,
    reports: Reports,
    typing: Typing,
    presence: BTreeMap<UserId, Presence>,
    /// The people I block (from `welcome` and `blocked`).
    blocked: BTreeSet<UserId>,
    /// Rooms open (or once open) on this device: their members' marks are kept current.
    watched: BTreeSet<RoomId>,
    /// Who read one of my messages, as far as asked (`read_by`).
    read_by: Option<ReadBy>,
}

/// The names of those who read my message `seq` of `room`, page by page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadBy {
    pub room: RoomId,
    pub seq: Seq,
    pub users: Vec<crate::protocol::Named>,
    /// A next page exists.
    pub more: bool,
}

impl Client {
    pub fn new(config: Config) -> Self {
        Self {
            config,
            edit_window_ms: crate::model::EDIT_WINDOW_SECS as i64 * 1_000,
            sending: true,
            ..Self::default()
        }
    }

    /// Restores an outbox saved before a reload: those messages are sent
    /// again (same `cid`) once connected.
    pub fn restore_outbox(&mut self, saved: Vec<Outgoing>) {
        for o in saved {
            if !self.outbox.iter().any(|p| p.cid == o.cid) {
                self.outbox.push(o);
            }
        }
    }

    /// Whether this client sends the outbox (the one tab that does, of
    /// several); becoming it sends what waits.
    pub fn set_sending(&mut self, sending: bool, now: i64) -> Output {
        self.sending = sending;
        let mut out = Output::default();
        if self.sends() {
            for o in self.outbox.iter_mut().filter(|o| o.failed.is_none()) {
                out.frames.push(o.attempt(now, &self.config));
            }
        }
        out
    }

    /// Another tab of this person changed its outbox entry `cid`: wrote it
    /// (`Some`: it is shown here too, and sent if this client sends),
    /// retried or gave it up, or it was stored or discarded (`None`: gone
    /// here too, but for an entry this client sent, which waits for its ack).
    pub fn outbox_elsewhere(&mut self, cid: Uuid, entry: Option<Outgoing>, now: i64) -> Output {
        let mut out = Output::default();
        let held = self.outbox.iter().position(|o| o.cid == cid);
        match (entry, held) {
            // Sent from here: its own ack settles it (the message may have
            // reached another tab first, which then dropped it).
            (None, Some(i)) if self.sending && self.outbox[i].failed.is_none() => {}
            (None, Some(i)) => {
                out.changed.insert(self.outbox.remove(i).room);
            }
            (None, None) => {}
            (Some(mut o), None) => {
                if self.sends() && o.failed.is_none() {
                    out.frames.push(o.attempt(now, &self.config));
                }
                out.changed.insert(o.room);
                self.outbox.push(o);
            }
            (Some(o), Some(i)) => {
                let (sends, config) = (self.sends(), &self.config);
                let mine = &mut self.outbox[i];
                if mine.failed != o.failed {
                    match o.failed {
                        Some(why) => mine.failed = Some(why),
                        None => mine.revive(),
                    }
                    if sends && mine.failed.is_none() {
                        out.frames.push(mine.attempt(now, config));
                    }
                    out.changed.insert(mine.room);
                }
            }
        }
        out.outbox_changed = !out.changed.is_empty();
        out
    }

    /// Sends go out now: connected, and this client is the one that sends.
    fn sends(&self) -> bool {
        self.welcomed && self.sending
    }

    /// How long after sending one may edit or delete one's message (ms).
    pub fn edit_window_ms(&self) -> i64 {
        self.edit_window_ms
    }

    pub fn me(&self) -> Option<&User> {
        self.me.as_ref()
    }

    pub fn is_welcomed(&self) -> bool {
        self.welcomed
    }

    pub fn rooms(&self) -> &BTreeMap<RoomId, Room> {
        &self.rooms
    }

    pub fn room(&self, id: RoomId) -> Option<&Room> {
        self.rooms.get(&id)
    }

    pub fn outbox(&self) -> &[Outgoing] {
        &self.outbox
    }

    /// Whether I block `user` (their messages in groups are folded).
    pub fn blocks(&self, user: UserId) -> bool {
        self.blocked.contains(&user)
    }

    /// The people I block.
    pub fn blocked(&self) -> impl Iterator<Item = UserId> + '_ {
        self.blocked.iter().copied()
    }

    pub fn presence(&self, user: UserId) -> Option<&Presence> {
        self.presence.get(&user)
    }

    /// The presence of everyone whose presence this client hears.
    pub fn contacts(&self) -> impl Iterator<Item = &Presence> {
        self.presence.values()
    }

    /// The names of those typing in `room`.
    pub fn typing_names(&self, room: RoomId) -> Vec<String> {
        self.typing.names(room)
    }

    /// The tick of my stored message `seq` in `room`.
    pub fn tick_of(&self, room: RoomId, seq: Seq) -> Tick {
        self.rooms
            .get(&room)
            .and_then(|r| r.marks.as_ref())
            .map_or(Tick::Sent, |m| m.tick(seq))
    }

    /// How many others have read my message `seq` in `room`, out of how many.
    pub fn read_count(&self, room: RoomId, seq: Seq) -> (u32, u32) {
        self.rooms
            .get(&room)
            .and_then(|r| r.marks.as_ref())
            .map_or((0, 0), |m| m.read_count(seq))
    }

    /// Who read my message `seq` of `room`, as far as the answers came.
    pub fn read_by(&self, room: RoomId, seq: Seq) -> Option<&ReadBy> {
        self.read_by.as_ref().filter(|r| (r.room, r.seq) == (room, seq))
    }

    /// The @ list is looking for members whose name starts with `prefix`:
    /// asks the server when the room's list is not whole.
    pub fn find_members(&mut self, room: RoomId, prefix: &str) -> Output {
        let ask = self
            .rooms
            .get_mut(&room)
            .and_then(|r| r.marks.as_mut())
            .is_some_and(|m| m.ask_prefix(prefix));
        Output {
            frames: ask
                .then(|| ClientFrame::FindMembers {
                    room,
                    prefix: prefix.to_string(),
                })
                .into_iter()
                .collect(),
            ..Output::default()
        }
    }

    /// Who read a message is no longer shown: forgotten.
    pub fn hide_read_by(&mut self) {
        self.read_by = None;
    }

    /// Asks who read my message `seq` of `room`: the first page, or the
    /// next one if some came already.
    pub fn ask_read_by(&mut self, room: RoomId, seq: Seq) -> Output {
        let after = match self.read_by(room, seq) {
            Some(r) if !r.more => return Output::default(),
            Some(r) => r.users.last().map(|u| u.user),
            None => {
                self.read_by = Some(ReadBy {
                    room,
                    seq,
                    ..ReadBy::default()
                });
                None
            }
        };
        Output {
            frames: vec![ClientFrame::ReadBy { room, seq, after }],
            ..Output::default()
        }
    }

    /// The room is open on screen: fetch its members' marks (for ticks) and
    /// keep them current from now on.
    pub fn watch(&mut self, room: RoomId) -> Output {
        let mut out = Output::default();
        self.watched.insert(room);
        let welcomed = self.welcomed;
        // A room just made may not be here yet: its `room` frame asks then.
        if let Some(r) = self
            .rooms
            .get_mut(&room)
            .filter(|r| welcomed && r.marks.is_none())
        {
            r.ask_members(room, &mut out);
        }
        out
    }

    /// The person has seen `room` up to `seq`: the unread count drops now,
    /// and a `read` report goes out (coalesced).
    pub fn saw(&mut self, room: RoomId, seq: Seq, now: i64) -> Output {
        let mut out = Output::default();
        let Some(r) = self.rooms.get_mut(&room) else {
            return out;
        };
        let seq = seq.min(r.head());
        if r.read_to(seq, None) {
            out.rooms_changed = true;
            if !r.left() {
                self.reports.read(room, seq);
            }
        }
        self.report(now, &mut out);
        out
    }

    /// The person is typing in `room`: tell the others, at most every 3 s.
    pub fn typing(&mut self, room: RoomId, now: i64) -> Output {
        let mut out = Output::default();
        let open = self.rooms.get(&room).is_some_and(|r| !r.left());
        if self.welcomed && open && self.typing.should_send(room, now) {
            out.frames.push(ClientFrame::Typing { room });
        }
        out
    }

    /// The socket opened: say hello.
    pub fn connected(&mut self) -> Output {
        self.welcomed = false;
        // The connection's `hello` is tracked like a refresh: refused (the
        // server's storage was down), it is asked again after a while.
        self.refresh.reset();
        let mut out = Output::default();
        self.ask_refresh(&mut out);
        out
    }

    /// The socket closed: whatever was in flight is asked again after the
    /// next welcome.
    pub fn disconnected(&mut self) {
        self.welcomed = false;
        self.refresh.reset();
        self.reports.in_flight_lost();
        self.rooms.values_mut().for_each(Room::connection_lost);
    }

    /// Asks for a fresh `welcome` on the live connection (`hello` again).
    fn ask_refresh(&mut self, out: &mut Output) {
        if self.refresh.ask() {
            out.frames.push(ClientFrame::Hello);
        }
    }

    /// Queues a new message; it is sent now if connected, else on connect.
    pub fn send(&mut self, room: RoomId, cid: Uuid, body: String, now: i64) -> Output {
        self.queue(Outgoing::new(room, cid, body, now), now)
    }

    /// Queues a new message that may answer a message of the room and
    /// mention members.
    pub fn post(&mut self, room: RoomId, cid: Uuid, draft: Draft, now: i64) -> Output {
        let mut o = Outgoing::new(room, cid, draft.body, now);
        (o.reply_to, o.mentions, o.files) = (draft.reply_to, draft.mentions, draft.files);
        self.queue(o, now)
    }

    /// Queues an edit of my message `target`: its new body and mentions.
    pub fn edit(&mut self, room: RoomId, cid: Uuid, target: Seq, draft: Draft, now: i64) -> Output {
        let mut o = Outgoing::new(room, cid, draft.body, now);
        (o.kind, o.target, o.mentions) = (Kind::Edit, Some(target), draft.mentions);
        self.queue(o, now)
    }

    /// Queues a change to message `target`: an edit (the new body), a
    /// delete (no body), a reaction or taking one back (the emoji).
    pub fn change(
        &mut self,
        room: RoomId,
        cid: Uuid,
        (kind, target): (Kind, Seq),
        body: String,
        now: i64,
    ) -> Output {
        let mut o = Outgoing::new(room, cid, body, now);
        (o.kind, o.target) = (kind, Some(target));
        self.queue(o, now)
    }

    fn queue(&mut self, mut o: Outgoing, now: i64) -> Output {
        let room = o.room;
        let mut out = Output {
            outbox_changed: true,
            ..Output::default()
        };
        if self.sends() {
            out.frames.push(o.attempt(now, &self.config));
        }
        if o.kind.is_message() {
            self.typing.sent_message(room);
        }
        self.outbox.push(o);
        out.changed.insert(room);
        out
    }

    /// Drops a failed message from the outbox (the person gave up on it).
    pub fn discard(&mut self, cid: Uuid) -> Output {
        let mut out = Output::default();
        if let Some(i) = self.outbox.iter().position(|o| o.cid == cid) {
            let o = self.outbox.remove(i);
            out.changed.insert(o.room);
            out.outbox_changed = true;
        }
        out
    }

    /// Sends a failed message again.
    pub fn retry(&mut self, cid: Uuid, now: i64) -> Output {
        let mut out = Output::default();
        let sends = self.sends();
        if let Some(o) = self.outbox.iter_mut().find(|o| o.cid == cid) {
            o.revive();
            if sends {
                out.frames.push(o.attempt(now, &self.config));
            }
            out.changed.insert(o.room);
            out.outbox_changed = true;
        }
        out
    }

    /// Asks for the page of messages before the oldest one held.
    pub fn load_older(&mut self, room: RoomId) -> Output {
        let limit = Some(self.config.history_page);
        self.ask_page(room, |r| {
            let before = r.oldest().unwrap_or(r.last + 1);
            (!r.history_done && before > 1).then_some(ClientFrame::History { room, before, limit })
        })
    }

    /// Asks for the page around message `seq` (a quote or a search result
    /// far back, or the rows after an island of them); nothing if `seq` is
    /// held already or another page is on its way.
    pub fn load_around(&mut self, room: RoomId, seq: Seq) -> Output {
        let limit = Some(self.config.history_page);
        self.ask_page(room, |r| {
            (seq >= 1 && !r.msgs.contains_key(&seq)).then_some(ClientFrame::Around { room, seq, limit })
        })
    }

    /// One page of older rows at a time per room, once welcomed: `frame`
    /// says which, if any.
    fn ask_page(&mut self, room: RoomId, frame: impl FnOnce(&Room) -> Option<ClientFrame>) -> Output {
        let mut out = Output::default();
        let welcomed = self.welcomed;
        if let Some(r) = self
            .rooms
            .get_mut(&room)
            .filter(|r| welcomed && !r.history.in_flight())
        {
            if let Some(f) = frame(r) {
                r.history.ask();
                out.frames.push(f);
            }
        }
        out
    }

    /// Asks for the page that begins at `from`, the first seq of a hole.
    pub fn fill_hole(&mut self, room: RoomId, from: Seq) -> Output {
        let half = self.config.history_page.div_ceil(2);
        self.load_around(room, from + Seq::from(half) - 1)
    }

    /// The page is being hidden or left: what is owed goes now, not after
    /// the coalescing gap (a read mark left for later would be lost).
    pub fn leaving(&mut self, now: i64) -> Output {
        let mut out = Output::default();
        if self.welcomed {
            out.frames = self.reports.flush_now(now);
        }
        out
    }

    /// Time passes: retransmit due sends, retry refused syncs and member lists.
    pub fn tick(&mut self, now: i64) -> Output {
        let mut out = Output::default();
        out.typing.extend(self.typing.expire(now));
        if now >= self.sync_retry_at && self.refresh.is_due() {
            self.ask_refresh(&mut out);
        }
        if !self.welcomed {
            return out;
        }
        self.report(now, &mut out);
        let sending = self.sending;
        for o in self.outbox.iter_mut().filter(|o| sending && o.is_due(now)) {
            out.frames.push(o.attempt(now, &self.config));
        }
        if now >= self.sync_retry_at {
            for (&id, room) in self.rooms.iter_mut() {
                if (room.gap() || room.sync.is_due()) && !room.sync.in_flight() {
                    room.ask_sync(id, &mut out);
                }
                if room.members.is_due() {
                    room.ask_members(id, &mut out);
                }
            }
        }
        out
    }

    /// Notes the rooms whose held messages grew and sends what reports are due.
    fn report(&mut self, now: i64, out: &mut Output) {
        if !self.welcomed {
            return;
        }
        for id in &out.changed {
            if let Some(r) = self
                .rooms
                .get(id)
                .filter(|r| !r.left() && r.msgs.contains_key(&r.last))
            {
                self.reports.delivered(*id, r.last);
            }
        }
        out.frames.extend(self.reports.flush(now));
    }
}

#[cfg(test)]
mod tests;
