//! Receipts on the client: a room's members (names), how far the others
//! got with my messages (the server's `ticks`, as counts: never every
//! member's marks), what that makes of each message's tick, and the
//! delivered/read reports this device owes the server, coalesced. Marks
//! only rise here too: a late or repeated frame never lowers one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{RoomId, UserId};
use crate::protocol::{ClientFrame, MemberMarks, Seq, Ticks};

/// The least time between two rounds of reports (ms): a few per second.
pub const REPORT_GAP_MS: i64 = 300;

/// How one of my messages stands: in the outbox (`Outgoing::tick`), or
/// stored and how far the others in its room got (`Marks::tick`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Tick {
    /// Written, not yet acknowledged (🕓).
    #[default]
    Pending,
    /// Refused for good, with the server's reason.
    Failed(String),
    /// Stored (✓).
    Sent,
    /// On a device of every other member (✓✓ grey).
    Delivered,
    /// Seen by every other member (✓✓ blue).
    Read,
}

/// The members of one room (as far as known: a big room's first ones and
/// those found by name), and how far the others got with my messages.
/// A device keeps them with the room's rows (`saved`), all but what it asked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marks {
    members: BTreeMap<UserId, MemberMarks>,
    /// The room has more members than listed: the @ list asks by name.
    pub more: bool,
    /// The prefixes asked for already (a few: they are cheap to ask again).
    #[serde(skip)]
    asked: Vec<String>,
    /// Every other member holds my messages up to here.
    delivered: Seq,
    /// Every other member has read my messages up to here.
    read: Seq,
    /// How many others there are.
    of: u32,
    /// How many others read each of my newest messages past `read`.
    counts: BTreeMap<Seq, u32>,
}

impl Marks {
    /// Takes a fresh member list and the ticks that came with it. A list
    /// that is not all of them keeps the members found by name before.
    pub fn set(&mut self, list: Vec<MemberMarks>, ticks: Ticks, more: bool) {
        if !more {
            self.members.clear();
        }
        self.members.extend(list.into_iter().map(|m| (m.user, m)));
        self.more = more;
        self.moved(ticks);
    }

    /// Members found by name; true if any was new.
    pub fn found(&mut self, named: Vec<crate::protocol::Named>) -> bool {
        let mut new = false;
        for n in named {
            if let std::collections::btree_map::Entry::Vacant(e) = self.members.entry(n.user) {
                new = true;
                e.insert(MemberMarks {
                    user: n.user,
                    name: n.name,
                    delivered: 0,
                    read: 0,
                });
            }
        }
        new
    }

    /// Whether to ask the server for the members whose name starts with
    /// `prefix` (the list is not whole, and it was not asked lately).
    pub fn ask_prefix(&mut self, prefix: &str) -> bool {
        let prefix = prefix.to_lowercase();
        if !self.more || prefix.is_empty() || self.asked.contains(&prefix) {
            return false;
        }
        if self.asked.len() >= 32 {
            self.asked.remove(0);
        }
        self.asked.push(prefix);
        true
    }

    /// The others moved on: ticks only rise (a late frame lowers nothing).
    /// True if that changed anything.
    pub fn moved(&mut self, ticks: Ticks) -> bool {
        let before = (self.delivered, self.read, self.of, self.counts.clone());
        self.delivered = self.delivered.max(ticks.delivered);
        self.read = self.read.max(ticks.read);
        self.of = ticks.of;
        for c in ticks.counts {
            let n = self.counts.entry(c.seq).or_default();
            *n = (*n).max(c.read);
        }
        let read = self.read;
        self.counts.retain(|&seq, _| seq > read);
        before != (self.delivered, self.read, self.of, self.counts.clone())
    }

    /// The only other member (a direct room) wrote row `seq`: they hold
    /// and have read my messages before it. True if that changed anything.
    pub fn answered(&mut self, seq: Seq) -> bool {
        if self.of != 1 || seq <= self.read {
            return false;
        }
        self.moved(Ticks {
            delivered: seq,
            read: seq,
            of: 1,
            counts: Vec::new(),
        })
    }

    /// The ticks as held.
    pub fn ticks(&self) -> Ticks {
        Ticks {
            delivered: self.delivered,
            read: self.read,
            of: self.of,
            counts: self
                .counts
                .iter()
                .map(|(&seq, &read)| crate::protocol::ReadCount { seq, read })
                .collect(),
        }
    }

    /// A member took a new display name.
    pub fn rename(&mut self, user: UserId, name: &str) {
        if let Some(m) = self.members.get_mut(&user) {
            m.name = name.to_string();
        }
    }

    /// A member's display name.
    pub fn name(&self, user: UserId) -> Option<&str> {
        self.members.get(&user).map(|m| m.name.as_str())
    }

    /// Every member's id and display name, by id.
    pub fn names(&self) -> impl Iterator<Item = (UserId, &str)> {
        self.members.values().map(|m| (m.user, m.name.as_str()))
    }

    /// The tick of my message `seq`.
    pub fn tick(&self, seq: Seq) -> Tick {
        match self.of {
            0 => Tick::Sent,
            _ if seq <= self.read => Tick::Read,
            _ if seq <= self.delivered => Tick::Delivered,
            _ => Tick::Sent,
        }
    }

    /// How many of the others have read my message `seq`, and how many
    /// others there are.
    pub fn read_count(&self, seq: Seq) -> (u32, u32) {
        let read = match seq <= self.read {
            true => self.of,
            false => self.counts.get(&seq).copied().unwrap_or(0),
        };
        (read, self.of)
    }
}

/// One mark this device reports: what the server confirmed, what is in
/// flight, and what it should be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Mark {
    confirmed: Seq,
    sent: Seq,
    want: Seq,
}

impl Mark {
    fn owed(&self) -> Option<Seq> {
        (self.want > self.confirmed.max(self.sent)).then_some(self.want)
    }
}

/// The reports a device owes, per room.
#[derive(Clone, Debug, Default)]
pub struct Reports {
    rooms: BTreeMap<RoomId, (Mark, Mark)>,
    last_flush: Option<i64>,
}

impl Reports {
    /// The server holds these marks of mine (from `welcome` or a receipt).
    pub fn confirmed(&mut self, room: RoomId, delivered: Seq, read: Seq) {
        let (d, r) = self.rooms.entry(room).or_default();
        d.confirmed = d.confirmed.max(delivered).max(read);
        r.confirmed = r.confirmed.max(read);
    }

    /// This device holds everything up to `seq`.
    pub fn delivered(&mut self, room: RoomId, seq: Seq) {
        let d = &mut self.rooms.entry(room).or_default().0;
        d.want = d.want.max(seq);
    }

    /// The person has seen everything up to `seq`.
    pub fn read(&mut self, room: RoomId, seq: Seq) {
        let r = &mut self.rooms.entry(room).or_default().1;
        r.want = r.want.max(seq);
    }

    /// Nothing more is owed for `room` (I left it).
    pub fn forget(&mut self, room: RoomId) {
        self.rooms.remove(&room);
    }

    /// Whatever was in flight may be lost (the connection dropped, or
    /// storage refused a round): it is owed again.
    pub fn in_flight_lost(&mut self) {
        for (d, r) in self.rooms.values_mut() {
            d.sent = 0;
            r.sent = 0;
        }
    }

    /// The frames owed, unless the last round was under `REPORT_GAP_MS` ago.
    pub fn flush(&mut self, now: i64) -> Vec<ClientFrame> {
        if self.last_flush.is_some_and(|t| now - t < REPORT_GAP_MS) {
            return Vec::new();
        }
        self.flush_now(now)
    }

    /// The frames owed, at once (the page is going away).
    pub fn flush_now(&mut self, now: i64) -> Vec<ClientFrame> {
        let mut frames = Vec::new();
        for (&room, (d, r)) in self.rooms.iter_mut() {
            if let Some(seq) = r.owed() {
                // Read implies delivered: the server raises both.
                r.sent = seq;
                d.sent = d.sent.max(seq);
                frames.push(ClientFrame::Read { room, seq });
            }
            if let Some(seq) = d.owed() {
                d.sent = seq;
                frames.push(ClientFrame::Delivered { room, seq });
            }
        }
        if !frames.is_empty() {
            self.last_flush = Some(now);
        }
        frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(user: UserId, delivered: Seq, read: Seq) -> MemberMarks {
        MemberMarks {
            user,
            name: format!("u{user}"),
            delivered,
            read,
        }
    }

    fn ticks(delivered: Seq, read: Seq, of: u32, counts: &[(Seq, u32)]) -> Ticks {
        Ticks {
            delivered,
            read,
            of,
            counts: counts
                .iter()
                .map(|&(seq, read)| crate::protocol::ReadCount { seq, read })
                .collect(),
        }
    }

    #[test]
    fn a_tick_is_what_every_other_member_reached() {
        let mut marks = Marks::default();
        marks.set(
            vec![m(1, 0, 0), m(2, 5, 3), m(3, 9, 4)],
            ticks(5, 3, 2, &[(4, 1), (6, 0)]),
            false,
        );
        assert_eq!(marks.tick(3), Tick::Read);
        assert_eq!(marks.tick(4), Tick::Delivered, "all hold it, not all read it");
        assert_eq!(marks.tick(6), Tick::Sent, "not all hold 6 yet");
        assert_eq!(marks.read_count(4), (1, 2));
        assert_eq!(marks.read_count(3), (2, 2));
        assert_eq!(marks.read_count(7), (0, 2), "no count known: none yet");
        assert_eq!(marks.name(2), Some("u2"));
    }

    #[test]
    fn ticks_only_rise() {
        let mut marks = Marks::default();
        marks.set(vec![m(1, 0, 0), m(2, 5, 3)], ticks(5, 3, 1, &[]), false);
        assert!(!marks.moved(ticks(4, 2, 1, &[])), "lower: nothing moves");
        assert_eq!(marks.tick(5), Tick::Delivered);
        assert!(marks.moved(ticks(7, 7, 1, &[])));
        assert_eq!(marks.tick(7), Tick::Read);
        // A stale member list does not lower what ticks raised.
        marks.set(vec![m(1, 0, 0), m(2, 5, 3)], ticks(5, 3, 1, &[]), false);
        assert_eq!(marks.tick(7), Tick::Read);
        assert!(marks.moved(ticks(7, 7, 3, &[(9, 2)])), "the room grew");
        assert!(!marks.moved(ticks(7, 7, 3, &[(9, 1)])), "a count never falls");
        assert_eq!(marks.read_count(9), (2, 3));
    }

    #[test]
    fn a_big_rooms_names_grow_with_what_is_found() {
        let mut marks = Marks::default();
        marks.set(vec![m(1, 0, 0)], ticks(0, 0, 3, &[]), true);
        assert!(marks.ask_prefix("Jo"));
        assert!(!marks.ask_prefix("jo"), "asked already");
        let named = |user, name: &str| crate::protocol::Named {
            user,
            name: name.into(),
        };
        assert!(marks.found(vec![named(7, "Joan")]));
        assert!(!marks.found(vec![named(7, "Joan")]), "known");
        // A fresh first page keeps what was found; a whole list replaces all.
        marks.set(vec![m(1, 0, 0)], ticks(0, 0, 3, &[]), true);
        assert_eq!(marks.name(7), Some("Joan"));
        marks.set(vec![m(1, 0, 0), m(2, 0, 0)], ticks(0, 0, 1, &[]), false);
        assert_eq!(marks.name(7), None);
        assert!(!marks.ask_prefix("x"), "whole: nothing to ask");
    }

    #[test]
    fn alone_in_a_room_a_message_is_just_sent() {
        let mut marks = Marks::default();
        marks.set(vec![m(1, 9, 9)], ticks(0, 0, 0, &[]), false);
        assert_eq!(marks.tick(1), Tick::Sent);
    }

    #[test]
    fn reports_are_coalesced_and_only_what_rose_is_sent() {
        let mut r = Reports::default();
        r.confirmed(7, 3, 2);
        r.delivered(7, 3);
        assert!(r.flush(0).is_empty(), "the server has these already");
        r.delivered(7, 4);
        r.read(7, 3);
        r.read(7, 4);
        assert_eq!(
            r.flush(1_000),
            vec![ClientFrame::Read { room: 7, seq: 4 }],
            "the newest read only, and it covers delivered"
        );
        r.read(7, 5);
        assert!(r.flush(1_100).is_empty(), "too soon after the last round");
        assert_eq!(r.flush(1_300), vec![ClientFrame::Read { room: 7, seq: 5 }]);
        r.delivered(7, 8);
        r.delivered(8, 1);
        assert_eq!(
            r.flush(2_000),
            vec![
                ClientFrame::Delivered { room: 7, seq: 8 },
                ClientFrame::Delivered { room: 8, seq: 1 }
            ]
        );
        assert!(r.flush(3_000).is_empty(), "nothing new");
    }

    #[test]
    fn what_was_in_flight_when_the_connection_dropped_is_sent_again() {
        let mut r = Reports::default();
        r.read(1, 4);
        assert_eq!(r.flush(0).len(), 1);
        r.in_flight_lost();
        assert_eq!(r.flush(1_000), vec![ClientFrame::Read { room: 1, seq: 4 }]);
        r.confirmed(1, 4, 4);
        r.in_flight_lost();
        assert!(r.flush(2_000).is_empty(), "confirmed: nothing owed");
    }
}
