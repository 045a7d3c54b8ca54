//! What each server frame does to the client: one method per frame kind.
//! The entry point is `Client::handle`; the person's own actions and the
//! clock are in `sync` itself.

use uuid::Uuid;

use super::outbox::Ack;
use super::{Client, Marks, Output, Room};
use crate::model::{RoomId, RoomSummary, User, UserId};
use crate::protocol::{ErrorCode, MemberMarks, Message, Named, Presence, Seq, ServerFrame, Ticks};

impl Client {
    /// Applies a frame from the server.
    pub fn handle(&mut self, frame: ServerFrame, now: i64) -> Output {
        let mut out = Output::default();
        match frame {
            ServerFrame::Welcome {
                user,
                rooms,
                contacts,
                edit_window_secs,
                blocked,
                ..
            } => {
                self.edit_window_ms =
                    i64::try_from(edit_window_secs.saturating_mul(1_000)).unwrap_or(i64::MAX);
                self.on_blocked(blocked, &mut out);
                self.on_welcome(user, rooms, contacts, now, &mut out)
            }
            ServerFrame::Blocked { users } => self.on_blocked(users, &mut out),
            ServerFrame::Room(summary) => self.on_room(summary, &mut out),
            ServerFrame::Members {
                room,
                members,
                ticks,
                more,
            } => self.on_members(room, members, (ticks, more), &mut out),
            ServerFrame::Found { room, members, .. } => self.on_found(room, members, &mut out),
            ServerFrame::Ticks { room, ticks } => self.on_ticks(room, ticks, &mut out),
            ServerFrame::ReadBy {
                room,
                seq,
                users,
                more,
            } => self.on_read_by(room, seq, users, more, &mut out),
            ServerFrame::Presence(p) => {
                self.presence.insert(p.user, p);
                out.presence_changed = true;
            }
            ServerFrame::Typing { room, user, name } => self.on_typing(room, user, name, now, &mut out),
            ServerFrame::Msg(m) => self.on_msg(m, &mut out),
            ServerFrame::Ack {
                cid,
                room,
                seq,
                id,
                ts,
                fmt,
                n,
                files,
            } => self.on_ack(
                cid,
                room,
                Ack {
                    seq,
                    id,
                    ts,
                    fmt,
                    n,
                    files,
                },
                &mut out,
            ),
            ServerFrame::Batch {
                room,
                msgs,
                more,
                history,
                hidden,
            } => {
                if let Some(r) = self.rooms.get_mut(&room).filter(|_| !hidden.is_empty()) {
                    r.hide(&hidden);
                }
                self.on_batch(room, msgs, more, history, &mut out)
            }
            ServerFrame::Resync { room: None } => self.on_resync_all(&mut out),
            ServerFrame::Resync { room: Some(id) } => self.on_resync(id, &mut out),
            ServerFrame::Error { code, message, cid } => self.on_error(code, message, cid, now, &mut out),
            ServerFrame::Receipt {
                room,
                user,
                delivered,
                read,
                read_n,
            } => self.on_receipt(room, user, (delivered, read, read_n), &mut out),
            ServerFrame::Pong => {}
        }
        self.report(now, &mut out);
        out
    }

    /// Whom I block: every timeline is drawn again (their messages fold).
    fn on_blocked(&mut self, users: Vec<UserId>, out: &mut Output) {
        let users: std::collections::BTreeSet<UserId> = users.into_iter().collect();
        if users != self.blocked {
            self.blocked = users;
            out.blocked_changed = true;
            out.changed.extend(self.rooms.keys().copied());
        }
    }

    fn on_welcome(
        &mut self,
        user: User,
        rooms: Vec<RoomSummary>,
        contacts: Vec<Presence>,
        now: i64,
        out: &mut Output,
    ) {
        self.me = Some(user);
        // A refresh on a live connection: its sends are in flight already.
        let refresh = std::mem::replace(&mut self.welcomed, true);
        if self.refresh.answered() {
            self.ask_refresh(out);
        }
        for summary in rooms {
            self.upsert_room(summary, out);
        }
        self.presence = contacts.into_iter().map(|p| (p.user, p)).collect();
        out.presence_changed = true;
        // Marks may have moved while this device was away.
        for id in &self.watched {
            if let Some(r) = self.rooms.get_mut(id) {
                r.ask_members(*id, out);
            }
        }
        if !refresh && self.sending {
            for o in self.outbox.iter_mut().filter(|o| o.failed.is_none()) {
                out.frames.push(o.attempt(now, &self.config));
            }
        }
        out.rooms_changed = true;
    }

    fn on_room(&mut self, summary: RoomSummary, out: &mut Output) {
        let (id, count) = (summary.id, summary.member_count);
        let grew = self
            .rooms
            .get(&id)
            .and_then(|r| r.summary.as_ref())
            .is_some_and(|s| s.member_count != count);
        self.upsert_room(summary, out);
        let watched = self.welcomed && self.watched.contains(&id);
        if let Some(r) = self
            .rooms
            .get_mut(&id)
            .filter(|r| watched && (grew || r.marks.is_none()))
        {
            r.ask_members(id, out);
        }
        out.rooms_changed = true;
    }

    fn on_members(
        &mut self,
        room: RoomId,
        members: Vec<MemberMarks>,
        (ticks, more): (Ticks, bool),
        out: &mut Output,
    ) {
        if let Some(r) = self.rooms.get_mut(&room) {
            let marks = r.marks.get_or_insert_with(Marks::default);
            marks.set(members, ticks, more);
            if let Some(early) = r.early_ticks.take() {
                marks.moved(early.ticks());
            }
            out.names = true;
            out.changed.insert(room);
            if r.members.answered() {
                r.ask_members(room, out);
            }
        }
    }

    /// Members found by name (a big room's @ list asked): known from now on.
    fn on_found(&mut self, room: RoomId, members: Vec<Named>, out: &mut Output) {
        let marks = self.rooms.get_mut(&room).and_then(|r| r.marks.as_mut());
        if marks.is_some_and(|m| m.found(members)) {
            out.changed.insert(room);
            out.names = true;
        }
    }

    fn on_ticks(&mut self, room: RoomId, ticks: Ticks, out: &mut Output) {
        let Some(r) = self.rooms.get_mut(&room) else {
            return;
        };
        let Some(marks) = r.marks.as_mut() else {
            // Before the first member list: kept for it (ticks only rise).
            r.early_ticks.get_or_insert_with(Marks::default).moved(ticks);
            return;
        };
        if !marks.moved(ticks) {
            return;
        }
        out.changed.insert(room);
        // The readers shown may have grown: they are asked again.
        if let Some(seq) = self.read_by.take().filter(|r| r.room == room).map(|r| r.seq) {
            out.frames.extend(self.ask_read_by(room, seq).frames);
        }
    }

    /// A page of who read my message: added to the pages before it, if it
    /// is still the message asked about.
    fn on_read_by(&mut self, room: RoomId, seq: Seq, users: Vec<Named>, more: bool, out: &mut Output) {
        if let Some(r) = self.read_by.as_mut().filter(|r| (r.room, r.seq) == (room, seq)) {
            let last = r.users.last().map_or(0, |u| u.user);
            r.users.extend(users.into_iter().filter(|u| u.user > last));
            r.more = more;
            out.changed.insert(room);
        }
    }

    fn on_typing(&mut self, room: RoomId, user: UserId, name: String, now: i64, out: &mut Output) {
        if self.me.as_ref().is_some_and(|me| me.id != user) {
            self.typing.heard(room, user, name, now);
            out.typing.insert(room);
        }
    }

    fn on_msg(&mut self, m: Message, out: &mut Output) {
        let room = m.room;
        if let std::collections::btree_map::Entry::Vacant(e) = self.rooms.entry(room) {
            // A room we were just added to, before its `room` frame.
            e.insert(Room::default());
            out.rooms_changed = true;
        }
        if self.typing.stopped(room, m.sender) {
            out.typing.insert(room);
        }
        self.take_outgoing(m.cid, out);
        self.apply(m, out);
        self.sync_if_gap(room, out);
    }

    fn on_ack(&mut self, cid: Uuid, room: RoomId, ack: Ack, out: &mut Output) {
        let Some(o) = self.take_outgoing(cid, out) else {
            return;
        };
        let (sender, from) = self
            .me
            .as_ref()
            .map_or((0, String::new()), |me| (me.id, me.display_name.clone()));
        self.apply(o.stored(sender, from, ack), out);
        self.sync_if_gap(room, out);
    }

    fn on_batch(&mut self, room: RoomId, msgs: Vec<Message>, more: bool, history: bool, out: &mut Output) {
        let Some(r) = self.rooms.get_mut(&room) else {
            return;
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
            self.take_outgoing(m.cid, out);
            self.apply(m, out);
        }
        if history {
            return;
        }
        if more || again {
            // The page was full (there is more after it, whatever head this
            // client knows of), or a resync came meanwhile.
            if let Some(r) = self.rooms.get_mut(&room) {
                r.ask_sync(room, out);
            }
        } else {
            self.sync_if_gap(room, out);
        }
    }

    /// Anything may have been dropped: messages, receipts, presence, new
    /// rooms. A fresh `welcome` has it all, and the rooms it shows behind
    /// are synced.
    fn on_resync_all(&mut self, out: &mut Output) {
        if self.welcomed || self.refresh.in_flight() {
            self.ask_refresh(out);
        }
    }

    fn on_resync(&mut self, id: RoomId, out: &mut Output) {
        let watched = self.watched.contains(&id);
        if let Some(r) = self.rooms.get_mut(&id) {
            // One sync per room at a time; one in flight is followed by another.
            r.ask_sync(id, out);
            // Receipts were dropped with the rest: the marks are asked again.
            if watched {
                r.ask_members(id, out);
            }
        }
    }

    fn on_error(&mut self, code: ErrorCode, message: String, cid: Option<Uuid>, now: i64, out: &mut Output) {
        match cid {
            Some(cid) => {
                if let Some(o) = self.outbox.iter_mut().find(|o| o.cid == cid) {
                    if code.is_retryable() {
                        o.postpone(now, &self.config);
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
                self.rooms.values_mut().for_each(Room::refused);
                self.sync_retry_at = now + self.config.retry_first_ms.min(2_000);
            }
            None => {}
        }
    }

    fn on_receipt(
        &mut self,
        room: RoomId,
        user: UserId,
        (delivered, read, read_n): (Seq, Seq, i64),
        out: &mut Output,
    ) {
        // Only my own marks come (moved on any of my devices): the unread
        // count follows. Others' reach me as ticks.
        if self.me.as_ref().is_none_or(|me| me.id != user) {
            return;
        }
        let Some(r) = self.rooms.get_mut(&room) else {
            return;
        };
        self.reports.confirmed(room, delivered, read);
        if r.read_to(read, Some(read_n)) {
            out.rooms_changed = true;
        }
    }

    fn upsert_room(&mut self, summary: RoomSummary, out: &mut Output) {
        let id = summary.id;
        let window = self.config.initial_window;
        let room = self
            .rooms
            .entry(id)
            .or_insert_with(|| Room::starting_at(window.map_or(0, |w| (summary.head_seq - w).max(0))));
        // A room that holds no row (only listed: a device kept its summary)
        // starts a window back from the head known now, as a new one would.
        if let Some(w) = window.filter(|_| room.msgs.is_empty()) {
            room.last = room.last.max(summary.head_seq - w);
            room.history_done = room.last == 0;
        }
        self.reports.confirmed(id, summary.read_seq, summary.read_seq);
        let hidden = |r: &Room| r.summary.as_ref().map_or(0, |s| s.hidden.len());
        let before = hidden(room);
        room.set_summary(summary);
        // A message deleted for me on another device leaves the timeline.
        if hidden(room) != before {
            out.changed.insert(id);
        }
        self.sync_if_gap(id, out);
    }

    /// Puts a message in its room's timeline (once).
    fn apply(&mut self, m: Message, out: &mut Output) {
        let (id, me) = (m.room, self.me.as_ref().map(|u| u.id));
        // Who is in the room changed: an open room's member list is asked again.
        let members = m.change.as_ref().is_some_and(|c| c.members_delta() != 0);
        let Some(r) = self.rooms.get_mut(&id) else { return };
        if r.apply(m, me) {
            out.changed.insert(id);
            if r.left() {
                self.reports.forget(id);
            } else if members && r.marks.is_some() {
                r.ask_members(id, out);
            }
        }
    }

    fn sync_if_gap(&mut self, id: RoomId, out: &mut Output) {
        if let Some(room) = self.rooms.get_mut(&id).filter(|_| self.welcomed) {
            room.sync_if_gap(id, out);
        }
    }

    /// Settles an outgoing message: by its ack, or because it came back as
    /// a `msg` or in a `batch` (its ack was lost with a connection).
    fn take_outgoing(&mut self, cid: Uuid, out: &mut Output) -> Option<super::Outgoing> {
        let i = self.outbox.iter().position(|o| o.cid == cid)?;
        out.outbox_changed = true;
        Some(self.outbox.remove(i))
    }
}
