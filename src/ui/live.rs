//! The live state of the page: a projection of the shared client state
//! machine (`crate::sync`) into signals that components read. Frames come
//! in through `handle`, and whatever the machine asks to send goes out
//! through the socket module. Components never touch the WebSocket.

mod keep;

use std::collections::HashMap;

use leptos::prelude::*;

use super::rows::{self, Quote, Row};
use super::socket;
use crate::model::{Attachment, Kind, RoomId, RoomSummary, User, UserId};
use crate::protocol::{Presence, Seq, ServerFrame};
use crate::sync::{Client, Config, Draft, Output};
use keep::{Restoring, Unsaved};

/// Messages a room starts with on a device that never held it.
const INITIAL_WINDOW: i64 = 50;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Connecting,
    Online,
    Reconnecting,
    BackOnline,
}

#[derive(Clone, Copy)]
pub struct Live {
    user: UserId,
    client: StoredValue<Client>,
    pub status: RwSignal<Status>,
    /// True once the first `welcome` arrived: from then on `rooms` is live.
    pub welcomed: RwSignal<bool>,
    /// What this device kept was restored: shown until `welcome` (offline, for good).
    pub saved: RwSignal<bool>,
    /// The device refused to keep more: its offline copy is behind.
    pub storage_full: RwSignal<bool>,
    pub rooms: RwSignal<Vec<RoomSummary>>,
    /// Contacts' presence, by user.
    pub presence: RwSignal<HashMap<UserId, Presence>>,
    /// The people I block.
    pub blocked: RwSignal<Vec<UserId>>,
    /// "Alice is typing…", per room.
    pub typing: RwSignal<HashMap<RoomId, String>>,
    /// The time, to the half minute: "last seen 5 min ago" follows it.
    pub clock: RwSignal<i64>,
    /// The most characters a message may have (the server's, from `welcome`).
    pub max_body: RwSignal<usize>,
    /// The message being edited in place, if any.
    pub editing: RwSignal<Option<(RoomId, Seq)>>,
    /// The message the composer's next message answers, if any.
    pub replying: RwSignal<Option<(RoomId, Quote)>>,
    /// A message to bring on screen (a reply's quote was clicked): older
    /// pages load until it is there.
    pub jump: RwSignal<Option<(RoomId, Seq)>>,
    /// The message of mine whose readers are shown ("Read by …"), if any.
    pub seen_by: RwSignal<Option<(RoomId, Seq)>>,
    /// Moves when members' names come (an open @ list looks again).
    pub names: RwSignal<u32>,
    /// The image open in the lightbox, and its room.
    pub viewing: RwSignal<Option<(RoomId, Attachment)>>,
    /// Per room, the rows of its timeline. Reference-counted, not owned by
    /// the component that first showed the room: a room shown again after
    /// another one gets the same rows, not a signal disposed with the pane.
    timelines: StoredValue<HashMap<RoomId, ArcRwSignal<Vec<Row>>>>,
    /// Per open room: the first unread seq and how many were unread when it
    /// opened (None until the room list arrives, on a page opened on a room).
    unread_from: StoredValue<HashMap<RoomId, Option<(Seq, i64)>>>,
    /// Rooms by when they were last opened here, newest first: the first
    /// few (`saved::Keep`) keep their rows on this device.
    recent: StoredValue<Vec<RoomId>>,
    /// What changed since this device last saved (`keep`).
    unsaved: StoredValue<Unsaved>,
    /// What the device kept is being read (`keep`).
    restoring: StoredValue<Restoring>,
}

impl Live {
    pub fn new(user: &User) -> Self {
        let config = Config {
            initial_window: Some(INITIAL_WINDOW),
            ..Config::default()
        };
        Self {
            user: user.id,
            client: StoredValue::new(Client::new(config)),
            status: RwSignal::new(Status::Connecting),
            welcomed: RwSignal::new(false),
            saved: RwSignal::new(false),
            storage_full: RwSignal::new(false),
            blocked: RwSignal::new(Vec::new()),
            rooms: RwSignal::new(Vec::new()),
            presence: RwSignal::new(HashMap::new()),
            typing: RwSignal::new(HashMap::new()),
            clock: RwSignal::new(socket::now_ms()),
            max_body: RwSignal::new(crate::model::BODY_MAX_DEFAULT),
            editing: RwSignal::new(None),
            replying: RwSignal::new(None),
            jump: RwSignal::new(None),
            seen_by: RwSignal::new(None),
            names: RwSignal::new(0),
            viewing: RwSignal::new(None),
            timelines: StoredValue::new(HashMap::new()),
            unread_from: StoredValue::new(HashMap::new()),
            recent: StoredValue::new(Vec::new()),
            unsaved: StoredValue::new(Unsaved::default()),
            restoring: StoredValue::new(Restoring::default()),
        }
    }

    pub fn user(&self) -> UserId {
        self.user
    }

    /// The rows of a room's timeline (a signal per room, so one room's
    /// messages do not re-render another's). The caller's handle is owned by
    /// the caller; the rows live as long as the page.
    pub fn timeline(&self, room: RoomId) -> RwSignal<Vec<Row>> {
        if let Some(s) = self.timelines.with_value(|t| t.get(&room).cloned()) {
            return s.into();
        }
        let signal = ArcRwSignal::new(self.rows(room));
        self.timelines.update_value(|t| {
            t.insert(room, signal.clone());
        });
        signal.into()
    }

    /// Renders a room's rows again, if it was ever shown.
    fn refresh(&self, room: RoomId) {
        if let Some(signal) = self.timelines.with_value(|t| t.get(&room).cloned()) {
            signal.set(self.rows(room));
        }
    }

    /// Takes back the messages an earlier page of this person left unsent
    /// (browser only; nothing while rendering on the server).
    pub fn restore_outbox(&self) {
        let saved = socket::load_outbox(self.user);
        self.client.update_value(|c| c.restore_outbox(saved));
    }

    /// Whether this tab sends the outbox (`tabs`: one of the person's tabs does).
    pub fn set_sending(&self, sending: bool) {
        let out = self.step(|c, now| c.set_sending(sending, now));
        self.apply(out);
    }

    /// Another tab changed the outbox entry `cid` (`None`: removed it).
    pub fn outbox_elsewhere(&self, cid: uuid::Uuid, entry: Option<crate::sync::Outgoing>) {
        socket::heard(cid, entry.is_some());
        let out = self.step(|c, now| c.outbox_elsewhere(cid, entry, now));
        self.apply(out);
    }

    pub fn opened(&self) {
        let out = self.step(|c, _| c.connected());
        self.apply(out);
    }

    pub fn closed(&self) {
        self.client.update_value(|c| c.disconnected());
        let restoring = self.closed_while_restoring();
        // Offline from the start is worth saying when saved messages show.
        if self.status.get_untracked() != Status::Connecting || (self.saved.get_untracked() && !restoring) {
            self.status.set(Status::Reconnecting);
        }
    }

    pub fn handle(&self, frame: ServerFrame) {
        let Some(frame) = self.unless_restoring(frame) else {
            return;
        };
        let welcome = matches!(frame, ServerFrame::Welcome { .. });
        if let ServerFrame::Welcome { max_body_chars, .. } = &frame {
            if self.max_body.get_untracked() != *max_body_chars {
                self.max_body.set(*max_body_chars);
            }
        }
        let out = self.step(|c, now| c.handle(frame, now));
        if welcome && !self.welcomed.get_untracked() {
            // Dividers placed from what this device kept are placed again
            // from the server's marks (`apply`).
            self.unread_from
                .update_value(|u| u.values_mut().for_each(|d| *d = None));
        }
        if welcome {
            self.welcomed.set(true);
            if self.status.get_untracked() == Status::Reconnecting {
                self.status.set(Status::BackOnline);
                let live = *self;
                socket::later(3_000, move || {
                    if live.status.get_untracked() == Status::BackOnline {
                        live.status.set(Status::Online);
                    }
                });
            } else {
                self.status.set(Status::Online);
            }
        }
        self.apply(out);
    }

    pub fn tick(&self) {
        let out = self.step(|c, now| c.tick(now));
        self.apply(out);
        let now = socket::now_ms();
        if now / 30_000 != self.clock.get_untracked() / 30_000 {
            self.clock.set(now);
        }
    }

    /// The page is being hidden or left: send the owed read marks now.
    pub fn leaving(&self) {
        let out = self.step(|c, now| c.leaving(now));
        self.apply(out);
    }

    /// The images of the messages of `room` held here, oldest first (the
    /// lightbox goes through them).
    pub fn images(&self, room: RoomId) -> Vec<Attachment> {
        self.client.with_value(|c| {
            c.room(room)
                .map(|r| {
                    r.messages()
                        .flat_map(|m| m.files.iter().filter(|f| f.is_image()).cloned())
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    /// The members of `room` (once its member list came), by name.
    pub fn members(&self, room: RoomId) -> Vec<(UserId, String)> {
        let mut members: Vec<(UserId, String)> = self.client.with_value(|c| {
            c.room(room)
                .and_then(|r| r.marks.as_ref())
                .map(|m| m.names().map(|(u, n)| (u, n.to_string())).collect())
                .unwrap_or_default()
        });
        members.sort_by_key(|m| m.1.to_lowercase());
        members
    }

    /// Sends a message mentioning `mentions` and carrying `files` (uploaded
    /// already), as an answer if a reply was being written.
    pub fn send_message(&self, room: RoomId, body: String, mentions: Vec<UserId>, files: Vec<Attachment>) {
        let cid = socket::new_cid();
        let to = self
            .replying
            .get_untracked()
            .filter(|(r, _)| *r == room)
            .map(|(_, q)| q.seq);
        if to.is_some() {
            self.replying.set(None);
        }
        let draft = Draft {
            body,
            reply_to: to,
            mentions,
            files,
        };
        let out = self.step(|c, now| c.post(room, cid, draft, now));
        self.apply(out);
        super::saved::persist();
    }

    /// My message `target` gets a new body (and mentions).
    pub fn edit(&self, room: RoomId, target: Seq, body: String, mentions: Vec<UserId>) {
        let cid = socket::new_cid();
        let draft = Draft {
            body,
            mentions,
            reply_to: None,
            files: Vec::new(),
        };
        let out = self.step(|c, now| c.edit(room, cid, target, draft, now));
        self.apply(out);
    }

    /// An edit, a delete or a reaction to message `target`.
    pub fn change(&self, room: RoomId, kind: Kind, target: Seq, body: String) {
        let cid = socket::new_cid();
        let out = self.step(|c, now| c.change(room, cid, (kind, target), body, now));
        self.apply(out);
    }

    /// Leaves the message being edited as it is, the focus back in the composer.
    pub fn stop_editing(&self) {
        self.editing.set(None);
        self.focus_composer();
    }

    /// My newest message of `room` that I may still edit (the Up arrow).
    pub fn last_editable(&self, room: RoomId) -> Option<Seq> {
        self.rows(room).into_iter().rev().find_map(|r| match r {
            Row::Msg(m) if m.mine && m.can_edit => m.seq,
            _ => None,
        })
    }

    /// Brings message `seq` of `room` on screen (see `jump`).
    pub fn jump_to(&self, room: RoomId, seq: Seq) {
        self.jump.set(Some((room, seq)));
    }

    /// Puts the focus in the room's message box (browser only).
    pub fn focus_composer(&self) {
        request_animation_frame(|| {
            if let Some(el) = document()
                .query_selector(".composer textarea")
                .ok()
                .flatten()
                .and_then(|e| leptos::wasm_bindgen::JsCast::dyn_into::<leptos::web_sys::HtmlElement>(e).ok())
            {
                let _ = el.focus();
            }
        });
    }

    /// The room is on screen: keep its members' marks current (ticks) and
    /// remember where its unread part begins (the divider stays there while
    /// the room is open, even as the messages below it are read).
    pub fn open(&self, room: RoomId) {
        let unread = self.unread_now(room);
        self.unread_from.update_value(|u| {
            u.insert(room, unread);
        });
        let mut out = self.step(|c, _| c.watch(room));
        out.changed.insert(room);
        self.apply(out);
        self.opened_here(room);
    }

    /// Where the unread part of `room` begins now, and its length, if the room is known.
    fn unread_now(&self, room: RoomId) -> Option<(Seq, i64)> {
        self.client.with_value(|c| {
            c.room(room)
                .and_then(|r| r.summary.as_ref())
                .map(|s| (s.read_seq + 1, s.unread()))
        })
    }

    /// The room left the screen: its divider goes.
    pub fn close(&self, room: RoomId) {
        self.unread_from.update_value(|u| {
            u.remove(&room);
        });
    }

    /// The person saw `room` up to `seq`.
    pub fn saw(&self, room: RoomId, seq: Seq) {
        let out = self.step(|c, now| c.saw(room, seq, now));
        self.apply(out);
    }

    /// The person is typing in `room`.
    pub fn typing(&self, room: RoomId) {
        let out = self.step(|c, now| c.typing(room, now));
        self.apply(out);
    }

    /// Asks for the page before the oldest message held; false if the
    /// room's history is all here.
    pub fn load_older(&self, room: RoomId) -> bool {
        let done = self
            .client
            .with_value(|c| c.room(room).is_none_or(|r| r.history_done));
        let out = self.step(|c, _| c.load_older(room));
        self.apply(out);
        !done
    }

    /// Asks for the page around message `seq` (see `jump`); false if it is
    /// held already (nothing more will come of it).
    pub fn load_around(&self, room: RoomId, seq: Seq) -> bool {
        let held = self
            .client
            .with_value(|c| c.room(room).is_some_and(|r| r.msgs.contains_key(&seq)));
        let out = self.step(|c, _| c.load_around(room, seq));
        self.apply(out);
        !held
    }

    /// The @ list looks for `prefix` in `room`: in a big room, the server
    /// is asked for the members it does not know yet (`names` moves then).
    pub fn find_members(&self, room: RoomId, prefix: &str) {
        let out = self.step(|c, _| c.find_members(room, prefix));
        self.apply(out);
    }

    /// Shows who read my message `seq` (asking the server, a page at a
    /// time: called again, it asks the next page), or hides it.
    pub fn show_read_by(&self, room: RoomId, seq: Seq, show: bool) {
        self.seen_by.set(show.then_some((room, seq)));
        let out = match show {
            true => self.step(|c, _| c.ask_read_by(room, seq)),
            false => self.step(|c, _| {
                c.hide_read_by();
                Output {
                    changed: [room].into(),
                    ..Output::default()
                }
            }),
        };
        self.apply(out);
    }

    /// Asks for the messages of the hole that begins at `from`.
    pub fn fill_hole(&self, room: RoomId, from: Seq) {
        let out = self.step(|c, _| c.fill_hole(room, from));
        self.apply(out);
    }

    pub fn discard(&self, cid: uuid::Uuid) {
        let out = self.step(|c, _| c.discard(cid));
        self.apply(out);
    }

    pub fn retry(&self, cid: uuid::Uuid) {
        let out = self.step(|c, now| c.retry(cid, now));
        self.apply(out);
    }

    /// This session was ended elsewhere (logged out in another tab, from
    /// another device, a new password): what this device kept of the
    /// person goes, as on logging out, and the log-in page comes.
    pub fn session_ended(&self) {
        let user = self.user;
        leptos::task::spawn_local(async move {
            super::forget_person(user).await;
            super::go_to("/login");
        });
    }

    fn step(&self, f: impl FnOnce(&mut Client, i64) -> Output) -> Output {
        let now = socket::now_ms();
        self.client.try_update_value(|c| f(c, now)).unwrap_or_default()
    }

    fn apply(&self, out: Output) {
        if !out.frames.is_empty() {
            socket::send(&out.frames);
        }
        self.note_unsaved(&out);
        for room in &out.changed {
            self.refresh(*room);
        }
        if out.rooms_changed {
            // A room opened before the room list arrived gets its divider now.
            let waiting: Vec<RoomId> = self
                .unread_from
                .with_value(|u| u.iter().filter(|(_, d)| d.is_none()).map(|(r, _)| *r).collect());
            for room in waiting {
                if let Some(unread) = self.unread_now(room) {
                    self.unread_from.update_value(|u| {
                        u.insert(room, Some(unread));
                    });
                    self.refresh(room);
                }
            }
        }
        if out.rooms_changed || !out.changed.is_empty() {
            let mut rooms: Vec<RoomSummary> = self
                .client
                .with_value(|c| c.rooms().values().filter_map(|r| r.summary.clone()).collect());
            rooms.sort_by(|a, b| b.last_activity.cmp(&a.last_activity).then(b.id.cmp(&a.id)));
            self.rooms.set(rooms);
        }
        if out.names {
            self.names.update(|n| *n = n.wrapping_add(1));
        }
        if !out.typing.is_empty() {
            self.typing.update(|t| {
                self.client.with_value(|c| {
                    for room in &out.typing {
                        match crate::sync::typing_label(&c.typing_names(*room)) {
                            Some(label) => t.insert(*room, label),
                            None => t.remove(room),
                        };
                    }
                })
            });
        }
        if out.blocked_changed {
            self.blocked
                .set(self.client.with_value(|c| c.blocked().collect()));
        }
        if out.presence_changed {
            let presence = self
                .client
                .with_value(|c| c.contacts().map(|p| (p.user, p.clone())).collect());
            self.presence.set(presence);
        }
        if out.outbox_changed {
            self.client
                .with_value(|c| socket::save_outbox(self.user, c.outbox()));
        }
    }

    /// The timeline of a room as rows (see `rows::rows`).
    fn rows(&self, room: RoomId) -> Vec<Row> {
        let unread_from = self
            .unread_from
            .with_value(|u| u.get(&room).copied().flatten())
            .filter(|(_, n)| *n > 0);
        let at = (socket::now_ms(), socket::tz_offset_min());
        self.client
            .with_value(|c| rows::rows(c, room, self.user, unread_from, at))
    }
}
