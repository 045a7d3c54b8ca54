//! One room as a client holds it: its summary, its stream by seq (messages
//! in their current state and the events that changed them), how far it is
//! whole (`last`), the members' marks once asked, and the room's requests
//! in flight. Pure bookkeeping; the frames it asks for are pushed onto the
//! caller's `Output`.
//!
//! Events fold onto their message with `events::apply` whatever order they
//! come in: live frames, sync pages and history pages (which bring messages
//! in their current state, `version` saying which events that includes).
//! An event older than one already applied makes the message fold again
//! from the server's state (`bases`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::request::Request;
use super::{Marks, Output};
use crate::events::{self, target_of};
use crate::format::{preview, DELETED};
use crate::groups::Change;
use crate::model::{RoomId, RoomSummary, UserId};
use crate::protocol::{ClientFrame, Message, Seq};

#[derive(Clone, Debug, Default)]
pub struct Room {
    /// Name, kind, unread marks and the head (`head_seq`), once its `room`
    /// or `welcome` frame came; a message may come first.
    pub summary: Option<RoomSummary>,
    /// Every row held, by seq: messages as they are now, and events.
    pub msgs: BTreeMap<Seq, Message>,
    /// A changed message's state as the server last sent it (kept once an
    /// event was applied here, to fold again from).
    bases: HashMap<Seq, Message>,
    /// The events held for each message, by the message's seq.
    changes: BTreeMap<Seq, BTreeSet<Seq>>,
    /// The replies held to each message, by the message's seq (their
    /// quotes follow its events).
    replies: BTreeMap<Seq, BTreeSet<Seq>>,
    /// Each reply's quote as the server last served it, to fold again from.
    quotes: HashMap<Seq, Message>,
    /// Everything with seq <= last is held (or was before this device's window).
    pub last: Seq,
    /// No message older than the oldest held exists (history reached seq 1).
    pub history_done: bool,
    /// The members and their marks, once asked for (the room was opened).
    pub marks: Option<Marks>,
    /// Ticks that came before the first member list: applied to it when
    /// it comes (that answer may have been read before them).
    pub(super) early_ticks: Option<Marks>,
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

    /// The messages held (not the events), oldest first.
    pub fn messages(&self) -> impl DoubleEndedIterator<Item = &Message> {
        self.msgs.values().filter(|m| m.kind.is_message())
    }

    /// The holes between the rows held, below `last`, as (first, last)
    /// seqs missing: where a page around an earlier message left the
    /// timeline apart from the rest (each is filled by asking for it).
    pub fn holes(&self) -> Vec<(Seq, Seq)> {
        let keys = self.msgs.keys().take_while(|&&k| k <= self.last);
        let mut holes = Vec::new();
        let mut prev: Option<Seq> = None;
        for &k in keys {
            if let Some(p) = prev.filter(|&p| k > p + 1) {
                holes.push((p + 1, k - 1));
            }
            prev = Some(k);
        }
        holes
    }

    pub fn oldest(&self) -> Option<Seq> {
        self.msgs.keys().next().copied()
    }

    pub(super) fn gap(&self) -> bool {
        self.head() > self.last
    }

    /// Takes a fresh summary: the head and a read mark raised on this
    /// device (not yet reported) never go back; deletes seen here count.
    pub(super) fn set_summary(&mut self, summary: RoomSummary) {
        let head = self.head();
        let old = self.summary.take().unwrap_or_else(|| summary.clone());
        let read_seq = summary.read_seq.max(old.read_seq);
        let unread = |a: &[Seq], b: &[Seq]| {
            let mut seqs = union(a, b);
            seqs.retain(|&g| g > read_seq);
            seqs
        };
        let gone = unread(&old.gone, &summary.gone);
        let mentioned = unread(&old.mentioned, &summary.mentioned);
        // Hidden stays hidden: a summary read before a hide may come after it.
        let hidden = union(&old.hidden, &summary.hidden);
        // A summary read before a change this device holds keeps what the change made.
        let summary = if summary.changed < old.changed {
            RoomSummary {
                name: old.name.clone(),
                description: old.description.clone(),
                avatar: old.avatar.clone(),
                peer_status: old.peer_status.clone(),
                role: old.role,
                left: old.left,
                member_count: old.member_count,
                changed: old.changed,
                ..summary
            }
        } else {
            summary
        };
        self.summary = Some(RoomSummary {
            head_seq: summary.head_seq.max(head),
            head_n: summary.head_n.max(old.head_n),
            read_seq,
            read_n: summary.read_n.max(old.read_n),
            gone,
            mentioned,
            hidden,
            ..summary
        });
    }

    /// My read mark rose to `seq` (on this device, or on another, which
    /// says the `n` there).
    pub(super) fn read_to(&mut self, seq: Seq, read_n: Option<i64>) -> bool {
        let held = self.msgs.range(..=seq).next_back().map(|(_, m)| m.n);
        let n = read_n.max(held);
        let Some(s) = self.summary.as_mut().filter(|s| seq > s.read_seq) else {
            return false;
        };
        s.read_seq = seq;
        s.read_n = s.read_n.max(n.unwrap_or(0));
        s.gone.retain(|&g| g > seq);
        s.mentioned.retain(|&g| g > seq);
        true
    }

    /// A row that calls me by name after my read mark counts as a mention
    /// (`events::calls`; whatever order rows come in, the set only grows
    /// until it is read).
    fn note_calls(&mut self, m: &Message, me: Option<UserId>) {
        let Some((on, users)) = events::calls(m) else {
            return;
        };
        let Some(s) = self.summary.as_mut() else { return };
        if me.is_some_and(|me| users.contains(&me)) && on > s.read_seq && !s.mentioned.contains(&on) {
            s.mentioned.push(on);
            s.mentioned.sort_unstable();
        }
    }

    /// A change to the room newer than the summary: its name, description,
    /// my role, the member count, whether I am still in it.
    fn note_change(&mut self, m: &Message, me: Option<UserId>) {
        let (Some(change), Some(s)) = (m.change.as_ref(), self.summary.as_mut()) else {
            return;
        };
        if m.seq <= s.changed {
            return;
        }
        s.changed = m.seq;
        match change {
            Change::Renamed { name } => s.name.clone_from(name),
            Change::Described { text } => s.description.clone_from(text),
            Change::Avatar { avatar } => s.avatar.clone_from(avatar),
            // The other person of a direct room changed their profile.
            Change::Profile {
                user, status, avatar, ..
            } if s.peer == Some(user.id) => {
                s.name.clone_from(&user.display_name);
                s.peer_handle = Some(user.handle.clone());
                s.peer_status.clone_from(status);
                s.avatar.clone_from(avatar);
            }
            _ => {}
        }
        if let (Change::Profile { user, .. }, Some(marks)) = (change, self.marks.as_mut()) {
            marks.rename(user.id, &user.display_name);
        }
        s.member_count = (s.member_count + change.members_delta()).max(0);
        if let Some(me) = me {
            if let Some(role) = change.role_of(m.sender, me) {
                s.role = role;
            }
            if change.gone(m.sender) == Some(me) {
                s.left = true;
            }
        }
    }

    /// Rows hidden from me (a page said so): never shown, never unread.
    pub(super) fn hide(&mut self, seqs: &[Seq]) {
        if let Some(s) = self.summary.as_mut() {
            s.hidden = union(&s.hidden, seqs);
        }
    }

    /// Whether I left the room (or was removed): it is read-only.
    pub fn left(&self) -> bool {
        self.summary.as_ref().is_some_and(|s| s.left)
    }

    /// Puts a row in the stream (once), advancing `last`, and folds an
    /// event onto its message; true if anything shown changed.
    pub(super) fn apply(&mut self, m: Message, me: Option<UserId>) -> bool {
        let mut changed = false;
        if let Some(s) = self.summary.as_mut() {
            if m.kind.is_message() && m.seq >= s.head_seq {
                s.preview = Some(shown_preview(&m));
                s.last_activity = s.last_activity.max(m.ts);
            }
            s.head_seq = s.head_seq.max(m.seq);
            s.head_n = s.head_n.max(m.n);
            if me == Some(m.sender) && m.seq > s.read_seq {
                s.read_seq = m.seq;
                s.read_n = s.read_n.max(m.n);
            }
        }
        // The server raised the sender's marks with the row: in a direct
        // room, the other one has read all mine before it (in a group, the
        // server's next ticks say what that changed).
        if me.is_some_and(|me| me != m.sender) && self.marks.as_mut().is_some_and(|k| k.answered(m.seq)) {
            changed = true;
        }
        let (seq, target) = (m.seq, target_of(&m));
        if let Some(held) = self.msgs.get(&seq) {
            // Held already: the UI never shows a row twice, but a message
            // may come again in a newer state.
            if !(m.kind.is_message() && m.version > held.version) {
                return changed;
            }
            self.keep_quote(&m);
            self.note_calls(&m, me);
            self.bases.insert(seq, m.clone());
            self.msgs.insert(seq, m);
            self.fold(seq, me);
            return true;
        }
        self.note_calls(&m, me);
        self.note_change(&m, me);
        if let Some(Change::Profile {
            user, erased: true, ..
        }) = &m.change
        {
            self.erase_sender(user.id, seq, me);
        }
        let message = m.kind.is_message();
        if let Some(t) = m.reply_to {
            self.replies.entry(t).or_default().insert(seq);
        }
        self.keep_quote(&m);
        self.msgs.insert(seq, m);
        self.fold_quote(seq);
        while self.msgs.contains_key(&(self.last + 1)) {
            self.last += 1;
        }
        if let Some(t) = target {
            self.changes.entry(t).or_default().insert(seq);
            for r in self.replies.get(&t).cloned().unwrap_or_default() {
                self.fold_quote(r);
            }
            self.fold_event(t, seq, me);
        } else if message && self.changes.contains_key(&seq) {
            self.bases.insert(seq, self.msgs[&seq].clone());
            self.fold(seq, me);
        } else if message {
            // A page may bring it deleted already.
            self.after_change(seq, me);
        }
        true
    }

    /// Applies event `ev` to message `t` if held: at once if it is newer
    /// than all it holds, else by folding again.
    fn fold_event(&mut self, t: Seq, ev: Seq, me: Option<UserId>) {
        let Some(state) = self.msgs.get(&t) else { return };
        if !state.kind.is_message() {
            return;
        }
        let base_version = self.bases.entry(t).or_insert_with(|| state.clone()).version;
        if ev > state.version {
            let event = self.msgs[&ev].clone();
            if let Some(state) = self.msgs.get_mut(&t) {
                events::apply(state, &event);
            }
            self.after_change(t, me);
        } else if ev > base_version {
            self.fold(t, me);
        }
    }

    /// A deleted account's messages were erased with it (its `Profile`
    /// row said so): every message of `user` held from before row `upto`
    /// shows as deleted (folding again keeps it so), and so do replies'
    /// quotes of them.
    fn erase_sender(&mut self, user: UserId, upto: Seq, me: Option<UserId>) {
        let theirs: Vec<Seq> = self
            .msgs
            .range(..upto)
            .filter(|(_, m)| m.sender == user && m.kind.is_message() && !m.deleted)
            .map(|(&seq, _)| seq)
            .collect();
        for t in theirs {
            for held in [self.msgs.get_mut(&t), self.bases.get_mut(&t)]
                .into_iter()
                .flatten()
            {
                events::erase(held);
            }
            for r in self.replies.get(&t).cloned().unwrap_or_default() {
                if let Some(q) = self.quotes.get_mut(&r) {
                    events::erase(q);
                }
                self.fold_quote(r);
            }
            self.after_change(t, me);
        }
    }

    /// Keeps the quote a reply row was served with, if it is the newest.
    fn keep_quote(&mut self, m: &Message) {
        let Some(q) = m.quoted.as_deref() else { return };
        if self.quotes.get(&m.seq).is_none_or(|old| q.version > old.version) {
            self.quotes.insert(m.seq, q.clone());
        }
    }

    /// A reply's quote: as served, with the held events of its message
    /// after that, in seq order.
    fn fold_quote(&mut self, reply: Seq) {
        let Some(mut q) = self.quotes.get(&reply).cloned() else {
            return;
        };
        let Some(t) = self.msgs.get(&reply).and_then(|m| m.reply_to) else {
            return;
        };
        for e in self.changes.get(&t).into_iter().flatten() {
            if let Some(ev) = self.msgs.get(e) {
                events::apply(&mut q, ev);
            }
        }
        if let Some(m) = self.msgs.get_mut(&reply).filter(|m| !m.deleted) {
            m.quoted = Some(Box::new(q));
        }
    }

    /// Message `t` as its server state with every held event after it.
    fn fold(&mut self, t: Seq, me: Option<UserId>) {
        let Some(mut state) = self.bases.get(&t).cloned() else {
            return;
        };
        let from = state.version;
        let later = self.changes.get(&t).into_iter().flatten();
        for ev in later.filter(|&&e| e > from) {
            if let Some(event) = self.msgs.get(ev) {
                events::apply(&mut state, event);
            }
        }
        self.msgs.insert(t, state);
        self.fold_quote(t);
        self.after_change(t, me);
    }

    /// What a change to message `t` does to the room's line: a deleted
    /// message no longer counts as unread, and the preview follows the
    /// newest message.
    fn after_change(&mut self, t: Seq, me: Option<UserId>) {
        // A deleted message's earlier texts go too.
        if self.msgs.get(&t).is_some_and(|m| m.deleted) {
            for e in self.changes.get(&t).into_iter().flatten() {
                if let Some(edit) = self
                    .msgs
                    .get_mut(e)
                    .filter(|r| r.kind == crate::model::Kind::Edit)
                {
                    edit.body.clear();
                    edit.fmt = None;
                }
            }
        }
        let Some(m) = self.msgs.get(&t) else { return };
        let newest = self
            .msgs
            .values()
            .rev()
            .find(|r| r.kind.is_message())
            .map(|r| r.seq);
        let Some(s) = self.summary.as_mut() else { return };
        if m.deleted && Some(m.sender) != me && t > s.read_seq && !s.gone.contains(&t) {
            s.gone.push(t);
        }
        if newest == Some(t) {
            s.preview = Some(shown_preview(m));
        }
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
        if !self.left() && self.members.ask() {
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

/// The seqs of both lists, sorted, once each.
fn union(a: &[Seq], b: &[Seq]) -> Vec<Seq> {
    let mut seqs: Vec<Seq> = a.iter().chain(b).copied().collect();
    seqs.sort_unstable();
    seqs.dedup();
    seqs
}

/// What the room list shows of a message.
fn shown_preview(m: &Message) -> String {
    match crate::model::files_line(&m.files) {
        _ if m.deleted => DELETED.to_string(),
        Some(line) if m.body.trim().is_empty() => line,
        _ => preview(&m.body, m.fmt.as_deref()),
    }
}
