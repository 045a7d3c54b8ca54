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
//! modules; this one ties them to the frames.

mod marks;
mod request;
mod typing;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use marks::{Marks, Tick};
pub use typing::label as typing_label;

use crate::model::{RoomId, RoomSummary, User, UserId};
use crate::protocol::{ClientFrame, ErrorCode, Message, Presence, Seq, ServerFrame};
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

/// A message this client sent and the server has not acknowledged yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    pub cid: Uuid,
    pub room: RoomId,
    pub body: String,
    /// When it was written (ms).
    pub created: i64,
    /// Set when the server refused it for good (not a member, too large…).
    #[serde(default)]
    pub failed: Option<String>,
    #[serde(skip)]
    attempts: u32,
    #[serde(skip)]
    next_try: i64,
}

/// One room as this client holds it.
#[derive(Clone, Debug, Default)]
pub struct Room {
    pub summary: Option<RoomSummary>,
    pub msgs: BTreeMap<Seq, Message>,
    /// Everything with seq <= last is held (or was before this device's window).
    pub last: Seq,
    /// The highest seq known to exist.
    pub head: Seq,
    /// No message older than the oldest held exists (history reached seq 1).
    pub history_done: bool,
    /// The members and their marks, once asked for (the room was opened).
    pub marks: Option<Marks>,
    /// The member list: a `resync` while it is asked means the answer may
    /// miss a receipt, so it is asked again.
    members: Request,
    /// One sync at a time: a `resync` while one is in flight means it may
    /// have been served before the missed messages existed, so another
    /// follows it.
    sync: Request,
    /// The page of older messages (not retried: scrolling asks again).
    history: Request,
}

impl Room {
    fn gap(&self) -> bool {
        self.head > self.last || self.msgs.range(self.last + 1..).next().is_some()
    }

    /// Extends `last` over the messages that now follow it.
    fn advance(&mut self) {
        while self.msgs.contains_key(&(self.last + 1)) {
            self.last += 1;
        }
    }

    pub fn oldest(&self) -> Option<Seq> {
        self.msgs.keys().next().copied()
    }

    fn ask_members(&mut self, id: RoomId, out: &mut Output) {
        if self.members.ask() {
            out.frames.push(ClientFrame::Members { room: id });
        }
    }

    /// Asks for the `sync` that resumes this room (sent now unless one is
    /// in flight; then it follows that one).
    fn ask_sync(&mut self, id: RoomId, out: &mut Output) {
        if self.sync.ask() {
            out.frames.push(ClientFrame::Sync {
                room: id,
                after: self.last,
                limit: None,
            });
        }
    }
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
}

#[derive(Debug, Default)]
pub struct Client {
    config: Config,
    me: Option<User>,
    welcomed: bool,
    rooms: BTreeMap<RoomId, Room>,
    outbox: Vec<Outgoing>,
    /// After a refused sync, wait until then before syncing again.
    sync_retry_at: i64,
    /// The `hello` of this connection, or one asked again (after
    /// `resync`), awaiting its `welcome`; a `resync` meanwhile, or a
    /// refusal, asks once more.
    refresh: Request,
    reports: Reports,
    typing: Typing,
    presence: BTreeMap<UserId, Presence>,
    /// Rooms open (or once open) on this device: their members' marks are kept current.
    watched: BTreeSet<RoomId>,
}

impl Client {
    pub fn new(config: Config) -> Self {
        Self {
            config,
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
        let me = self.me.as_ref().map_or(0, |u| u.id);
        self.rooms
            .get(&room)
            .and_then(|r| r.marks.as_ref())
            .map_or(Tick::Sent, |m| m.tick(me, seq))
    }

    /// Who else has read `seq` in `room`, out of how many.
    pub fn read_by(&self, room: RoomId, seq: Seq) -> (Vec<String>, usize) {
        let me = self.me.as_ref().map_or(0, |u| u.id);
        self.rooms
            .get(&room)
            .and_then(|r| r.marks.as_ref())
            .map_or((Vec::new(), 0), |m| m.read_by(me, seq))
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
        let seq = seq.min(r.head);
        if let Some(s) = r.summary.as_mut().filter(|s| seq > s.read_seq) {
            s.read_seq = seq;
            out.rooms_changed = true;
            self.reports.read(room, seq);
        }
        self.report(now, &mut out);
        out
    }

    /// The person is typing in `room`: tell the others, at most every 3 s.
    pub fn typing(&mut self, room: RoomId, now: i64) -> Output {
        let mut out = Output::default();
        if self.welcomed && self.rooms.contains_key(&room) && self.typing.should_send(room, now) {
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
        for room in self.rooms.values_mut() {
            room.sync.reset();
            room.history.reset();
            room.members.reset();
        }
    }

    /// Asks for a fresh `welcome` on the live connection (`hello` again).
    fn ask_refresh(&mut self, out: &mut Output) {
        if self.refresh.ask() {
            out.frames.push(ClientFrame::Hello);
        }
    }

    /// Queues a new message; it is sent now if connected, else on connect.
    pub fn send(&mut self, room: RoomId, cid: Uuid, body: String, now: i64) -> Output {
        let mut out = Output {
            outbox_changed: true,
            ..Output::default()
        };
        let mut o = Outgoing {
            cid,
            room,
            body,
            created: now,
            failed: None,
            attempts: 0,
            next_try: 0,
        };
        if self.welcomed {
            out.frames.push(self.attempt(&mut o, now));
        }
        self.typing.sent_message(room);
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
        let welcomed = self.welcomed;
        let (first, max) = (self.config.retry_first_ms, self.config.retry_max_ms);
        if let Some(o) = self.outbox.iter_mut().find(|o| o.cid == cid) {
            o.failed = None;
            o.attempts = 0;
            if welcomed {
                out.frames.push(attempt(o, now, first, max));
            }
            out.changed.insert(o.room);
            out.outbox_changed = true;
        }
        out
    }

    /// Asks for the page of messages before the oldest one held.
    pub fn load_older(&mut self, room: RoomId) -> Output {
        let mut out = Output::default();
        let page = self.config.history_page;
        if let Some(r) = self.rooms.get_mut(&room) {
            let before = r.oldest().unwrap_or(r.last + 1);
            if self.welcomed && !r.history.in_flight() && !r.history_done && before > 1 {
                r.history.ask();
                out.frames.push(ClientFrame::History {
                    room,
                    before,
                    limit: Some(page),
                });
            }
        }
        out
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
        let (first, max) = (self.config.retry_first_ms, self.config.retry_max_ms);
        for o in self
            .outbox
            .iter_mut()
            .filter(|o| o.failed.is_none() && o.next_try <= now)
        {
            out.frames.push(attempt(o, now, first, max));
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

    /// Applies a frame from the server.
    pub fn handle(&mut self, frame: ServerFrame, now: i64) -> Output {
        let mut out = self.apply_frame(frame, now);
        self.report(now, &mut out);
        out
    }

    fn apply_frame(&mut self, frame: ServerFrame, now: i64) -> Output {
        let mut out = Output::default();
        match frame {
            ServerFrame::Welcome {
                user,
                rooms,
                contacts,
                ..
            } => {
                self.me = Some(user);
                // A refresh on a live connection: its sends are in flight already.
                let refresh = std::mem::replace(&mut self.welcomed, true);
                if self.refresh.answered() {
                    self.ask_refresh(&mut out);
                }
                for summary in rooms {
                    self.upsert_room(summary, &mut out);
                }
                self.presence = contacts.into_iter().map(|p| (p.user, p)).collect();
                out.presence_changed = true;
                // Marks may have moved while this device was away.
                for id in &self.watched {
                    if let Some(r) = self.rooms.get_mut(id) {
                        r.ask_members(*id, &mut out);
                    }
                }
                let (first, max) = (self.config.retry_first_ms, self.config.retry_max_ms);
                for o in self.outbox.iter_mut().filter(|o| !refresh && o.failed.is_none()) {
                    out.frames.push(attempt(o, now, first, max));
                }
                out.rooms_changed = true;
            }
            ServerFrame::Room(summary) => {
                let (id, count) = (summary.id, summary.member_count);
                let grew = self
                    .rooms
                    .get(&id)
                    .and_then(|r| r.summary.as_ref())
                    .is_some_and(|s| s.member_count != count);
                self.upsert_room(summary, &mut out);
                let watched = self.welcomed && self.watched.contains(&id);
                if let Some(r) = self
                    .rooms
                    .get_mut(&id)
                    .filter(|r| watched && (grew || r.marks.is_none()))
                {
                    r.ask_members(id, &mut out);
                }
                out.rooms_changed = true;
            }
            ServerFrame::Members { room, members } => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    r.marks.get_or_insert_with(Marks::default).set(members);
                    out.changed.insert(room);
                    if r.members.answered() {
                        r.ask_members(room, &mut out);
                    }
                }
            }
            ServerFrame::Presence(p) => {
                self.presence.insert(p.user, p);
                out.presence_changed = true;
            }
            ServerFrame::Typing { room, user, name } => {
                if self.me.as_ref().is_some_and(|me| me.id != user) {
                    self.typing.heard(room, user, name, now);
                    out.typing.insert(room);
                }
            }
            ServerFrame::Msg(m) => {
                let room = m.room;
                if let std::collections::btree_map::Entry::Vacant(e) = self.rooms.entry(room) {
                    // A room we were just added to, before its `room` frame.
                    e.insert(Room::default());
                    out.rooms_changed = true;
                }
                if self.typing.stopped(room, m.sender) {
                    out.typing.insert(room);
                }
                self.take_outgoing(m.cid, &mut out);
                self.apply(m, &mut out);
                self.sync_if_gap(room, &mut out);
            }
            ServerFrame::Ack {
                cid,
                room,
                seq,
                id,
                ts,
            } => {
                if let Some(o) = self.take_outgoing(cid, &mut out) {
                    let me = self.me.clone().unwrap_or(User {
                        id: 0,
                        handle: String::new(),
                        display_name: String::new(),
                    });
                    let m = Message {
                        room,
                        seq,
                        id,
                        sender: me.id,
                        from: me.display_name,
                        body: o.body,
                        ts,
                        cid,
                    };
                    self.apply(m, &mut out);
                    self.sync_if_gap(room, &mut out);
                }
            }
            ServerFrame::Batch {
                room,
                msgs,
                more,
                history,
            } => {
                let Some(r) = self.rooms.get_mut(&room) else {
                    return out;
                };
                let again = if history {
                    r.history.answered();
                    if !more || msgs.first().is_some_and(|m| m.seq <= 1) {
                        r.history_done = true;
                    }
                    false
                } else {
                    r.sync.answered()
                };
                for m in msgs {
                    self.take_outgoing(m.cid, &mut out);
                    self.apply(m, &mut out);
                }
                if !history {
                    if more || again {
                        // The page was full (there is more after it, whatever
                        // head this client knows of), or a resync came meanwhile.
                        if let Some(r) = self.rooms.get_mut(&room) {
                            r.ask_sync(room, &mut out);
                        }
                    } else {
                        self.sync_if_gap(room, &mut out);
                    }
                }
            }
            ServerFrame::Resync { room: None } => {
                // Anything may have been dropped: messages, receipts,
                // presence, new rooms. A fresh `welcome` has it all, and
                // the rooms it shows behind are synced.
                if self.welcomed || self.refresh.in_flight() {
                    self.ask_refresh(&mut out);
                }
            }
            ServerFrame::Resync { room: Some(id) } => {
                let watched = self.watched.contains(&id);
                if let Some(r) = self.rooms.get_mut(&id) {
                    // One sync per room at a time; one in flight is followed by another.
                    r.ask_sync(id, &mut out);
                    // Receipts were dropped with the rest: the marks are asked again.
                    if watched {
                        r.ask_members(id, &mut out);
                    }
                }
            }
            ServerFrame::Error { code, message, cid } => match cid {
                Some(cid) => {
                    let (first, max) = (self.config.retry_first_ms, self.config.retry_max_ms);
                    if let Some(o) = self.outbox.iter_mut().find(|o| o.cid == cid) {
                        if code.is_retryable() {
                            o.next_try = now + backoff(o.attempts.saturating_sub(1), first, max);
                        } else {
                            o.failed = Some(message);
                            out.outbox_changed = true;
                        }
                        out.changed.insert(o.room);
                    }
                }
                None if code == ErrorCode::Unavailable || code == ErrorCode::RateLimited => {
                    // A sync, history request or report was refused: ask again later.
                    self.reports.in_flight_lost();
                    self.refresh.refused();
                    for r in self.rooms.values_mut() {
                        // A refused sync is asked again even with no gap known (it may answer a resync).
                        r.sync.refused();
                        r.members.refused();
                        r.history.reset();
                    }
                    self.sync_retry_at = now + self.config.retry_first_ms.min(2_000);
                }
                None => {}
            },
            ServerFrame::Receipt {
                room,
                user,
                delivered,
                read,
            } => {
                let mine = self.me.as_ref().is_some_and(|me| me.id == user);
                let Some(r) = self.rooms.get_mut(&room) else {
                    return out;
                };
                if r.marks.as_mut().is_some_and(|m| m.raise(user, delivered, read)) {
                    out.changed.insert(room);
                }
                if mine {
                    // My marks, moved on any of my devices: the unread count follows.
                    self.reports.confirmed(room, delivered, read);
                    if let Some(s) = r.summary.as_mut().filter(|s| read > s.read_seq) {
                        s.read_seq = read;
                        out.rooms_changed = true;
                    }
                }
            }
            ServerFrame::Pong => {}
        }
        out
    }

    fn upsert_room(&mut self, summary: RoomSummary, out: &mut Output) {
        let id = summary.id;
        let window = self.config.initial_window;
        let room = self.rooms.entry(id).or_insert_with(|| {
            let last = window.map(|w| (summary.head_seq - w).max(0)).unwrap_or(0);
            Room {
                last,
                history_done: last == 0,
                ..Room::default()
            }
        });
        room.head = room.head.max(summary.head_seq);
        self.reports.confirmed(id, summary.read_seq, summary.read_seq);
        // A read mark raised on this device and not yet reported stays.
        let read = room.summary.as_ref().map_or(0, |s| s.read_seq);
        room.summary = Some(RoomSummary {
            read_seq: summary.read_seq.max(read),
            ..summary
        });
        self.sync_if_gap(id, out);
    }

    /// Notes the rooms whose held messages grew and sends what reports are due.
    fn report(&mut self, now: i64, out: &mut Output) {
        if !self.welcomed {
            return;
        }
        for id in &out.changed {
            if let Some(r) = self.rooms.get(id).filter(|r| r.msgs.contains_key(&r.last)) {
                self.reports.delivered(*id, r.last);
            }
        }
        out.frames.extend(self.reports.flush(now));
    }

    /// Puts a message in its room's timeline (once), advancing `last`.
    fn apply(&mut self, m: Message, out: &mut Output) {
        let Some(room) = self.rooms.get_mut(&m.room) else {
            return;
        };
        room.head = room.head.max(m.seq);
        if let Some(s) = room.summary.as_mut() {
            if m.seq >= s.head_seq {
                s.preview = Some(m.body.clone());
            }
            s.head_seq = s.head_seq.max(m.seq);
            s.last_activity = s.last_activity.max(m.ts);
            if self.me.as_ref().is_some_and(|me| me.id == m.sender) {
                s.read_seq = s.read_seq.max(m.seq);
            }
        }
        // The server raised the sender's marks with the message, and says so
        // with nothing else.
        if room
            .marks
            .as_mut()
            .is_some_and(|k| k.raise(m.sender, m.seq, m.seq))
        {
            out.changed.insert(m.room);
        }
        if room.msgs.contains_key(&m.seq) {
            return; // a duplicate: the UI never shows a message twice
        }
        out.changed.insert(m.room);
        room.msgs.insert(m.seq, m);
        room.advance();
    }

    fn sync_if_gap(&mut self, id: RoomId, out: &mut Output) {
        if let Some(room) = self.rooms.get_mut(&id) {
            if self.welcomed && room.gap() && !room.sync.in_flight() {
                room.ask_sync(id, out);
            }
        }
    }

    /// Settles an outgoing message: by its ack, or because it came back as
    /// a `msg` or in a `batch` (its ack was lost with a connection).
    fn take_outgoing(&mut self, cid: Uuid, out: &mut Output) -> Option<Outgoing> {
        let i = self.outbox.iter().position(|o| o.cid == cid)?;
        out.outbox_changed = true;
        Some(self.outbox.remove(i))
    }

    fn attempt(&self, o: &mut Outgoing, now: i64) -> ClientFrame {
        attempt(o, now, self.config.retry_first_ms, self.config.retry_max_ms)
    }
}

fn attempt(o: &mut Outgoing, now: i64, first: i64, max: i64) -> ClientFrame {
    o.attempts += 1;
    o.next_try = now + backoff(o.attempts - 1, first, max);
    ClientFrame::Send {
        room: o.room,
        cid: o.cid,
        body: o.body.clone(),
    }
}

/// Delay before retransmit number `n + 1`: first, 2×first, 4×first … ≤ max.
fn backoff(n: u32, first: i64, max: i64) -> i64 {
    first.saturating_mul(1i64 << n.min(20)).min(max)
}

#[cfg(test)]
mod tests;
