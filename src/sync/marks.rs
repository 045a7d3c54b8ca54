//! Receipts on the client: how far the other members of a room got (their
//! delivered/read marks), what that makes of my messages' ticks, and the
//! delivered/read reports this device owes the server, coalesced. Marks
//! only rise here too: a late or repeated frame never lowers one.

use std::collections::BTreeMap;

use crate::model::{RoomId, UserId};
use crate::protocol::{ClientFrame, MemberMarks, Seq};

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

/// The members of one room and their marks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Marks {
    members: BTreeMap<UserId, MemberMarks>,
}

impl Marks {
    /// Takes a fresh member list; marks already known higher are kept.
    pub fn set(&mut self, list: Vec<MemberMarks>) {
        let mut members = BTreeMap::new();
        for mut m in list {
            if let Some(old) = self.members.get(&m.user) {
                m.delivered = m.delivered.max(old.delivered);
                m.read = m.read.max(old.read);
            }
            members.insert(m.user, m);
        }
        self.members = members;
    }

    /// Raises a member's marks; true if that changed anything.
    pub fn raise(&mut self, user: UserId, delivered: Seq, read: Seq) -> bool {
        let Some(m) = self.members.get_mut(&user) else {
            return false;
        };
        let (d, r) = (m.delivered.max(delivered).max(read), m.read.max(read));
        let changed = (d, r) != (m.delivered, m.read);
        (m.delivered, m.read) = (d, r);
        changed
    }

    /// A member's display name.
    pub fn name(&self, user: UserId) -> Option<&str> {
        self.members.get(&user).map(|m| m.name.as_str())
    }

    /// Every member's id and display name, by id.
    pub fn names(&self) -> impl Iterator<Item = (UserId, &str)> {
        self.members.values().map(|m| (m.user, m.name.as_str()))
    }

    fn others(&self, me: UserId) -> impl Iterator<Item = &MemberMarks> {
        self.members.values().filter(move |m| m.user != me)
    }

    /// The tick of my message `seq`: the least any other member reached.
    pub fn tick(&self, me: UserId, seq: Seq) -> Tick {
        let mut others = self.others(me).peekable();
        if others.peek().is_none() {
            return Tick::Sent;
        }
        let (mut delivered, mut read) = (true, true);
        for m in others {
            delivered &= m.delivered >= seq;
            read &= m.read >= seq;
        }
        match (delivered, read) {
            (_, true) => Tick::Read,
            (true, false) => Tick::Delivered,
            _ => Tick::Sent,
        }
    }

    /// Who of the others has read `seq`, and how many others there are.
    pub fn read_by(&self, me: UserId, seq: Seq) -> (Vec<String>, usize) {
        let names = self
            .others(me)
            .filter(|m| m.read >= seq)
            .map(|m| m.name.clone())
            .collect();
        (names, self.others(me).count())
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

    #[test]
    fn a_tick_is_the_least_any_other_member_reached() {
        let mut marks = Marks::default();
        marks.set(vec![m(1, 0, 0), m(2, 5, 3), m(3, 9, 4)]);
        // I am 1: my own marks do not count.
        assert_eq!(marks.tick(1, 3), Tick::Read);
        assert_eq!(marks.tick(1, 4), Tick::Delivered, "2 has it, not read");
        assert_eq!(marks.tick(1, 6), Tick::Sent, "2 does not have 6 yet");
        assert_eq!(marks.read_by(1, 4), (vec!["u3".to_string()], 2));
        assert_eq!(marks.read_by(1, 3).0.len(), 2);
    }

    #[test]
    fn marks_only_rise_and_read_implies_delivered() {
        let mut marks = Marks::default();
        marks.set(vec![m(1, 0, 0), m(2, 5, 3)]);
        assert!(!marks.raise(2, 4, 2), "lower: nothing moves");
        assert_eq!(marks.tick(1, 5), Tick::Delivered);
        assert!(marks.raise(2, 0, 7));
        assert_eq!(marks.tick(1, 7), Tick::Read);
        // A stale member list does not lower what receipts raised.
        marks.set(vec![m(1, 0, 0), m(2, 5, 3), m(3, 0, 0)]);
        assert_eq!(marks.read_by(1, 7), (vec!["u2".to_string()], 2));
        assert!(!marks.raise(9, 9, 9), "not a member");
    }

    #[test]
    fn alone_in_a_room_a_message_is_just_sent() {
        let mut marks = Marks::default();
        marks.set(vec![m(1, 9, 9)]);
        assert_eq!(marks.tick(1, 1), Tick::Sent);
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
