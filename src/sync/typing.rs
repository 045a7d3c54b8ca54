//! Typing indicators on the client: who is typing where (each entry expires
//! a few seconds after its last `typing` frame, or when that person's
//! message arrives), and when this device may say it is typing again.

use std::collections::BTreeMap;

use crate::model::{RoomId, UserId};

/// The least time between two `typing` frames for one room (ms).
pub const SEND_EVERY_MS: i64 = 3_000;
/// How long "X is typing…" shows after X's last `typing` frame (ms).
pub const SHOW_FOR_MS: i64 = 5_000;

#[derive(Clone, Debug, Default)]
pub struct Typing {
    /// Per room: who is typing, their name, and until when it shows.
    rooms: BTreeMap<RoomId, BTreeMap<UserId, (String, i64)>>,
    /// When this device last said it was typing, per room.
    sent: BTreeMap<RoomId, i64>,
}

impl Typing {
    pub fn heard(&mut self, room: RoomId, user: UserId, name: String, now: i64) {
        self.rooms
            .entry(room)
            .or_default()
            .insert(user, (name, now + SHOW_FOR_MS));
    }

    /// `user` sent a message in `room`: they stopped typing. True if they were.
    pub fn stopped(&mut self, room: RoomId, user: UserId) -> bool {
        self.rooms
            .get_mut(&room)
            .is_some_and(|r| r.remove(&user).is_some())
    }

    /// Drops what expired; returns the rooms whose list changed.
    pub fn expire(&mut self, now: i64) -> Vec<RoomId> {
        let mut changed = Vec::new();
        for (&room, who) in self.rooms.iter_mut() {
            let before = who.len();
            who.retain(|_, (_, until)| *until > now);
            if who.len() != before {
                changed.push(room);
            }
        }
        self.rooms.retain(|_, who| !who.is_empty());
        changed
    }

    /// The names of those typing in `room`, in a stable order.
    pub fn names(&self, room: RoomId) -> Vec<String> {
        self.rooms
            .get(&room)
            .map(|who| who.values().map(|(name, _)| name.clone()).collect())
            .unwrap_or_default()
    }

    /// Whether this device should say it is typing now (and notes that it did).
    pub fn should_send(&mut self, room: RoomId, now: i64) -> bool {
        if self.sent.get(&room).is_some_and(|&t| now - t < SEND_EVERY_MS) {
            return false;
        }
        self.sent.insert(room, now);
        true
    }

    /// This device sent a message in `room`: the next keystroke says typing again.
    pub fn sent_message(&mut self, room: RoomId) {
        self.sent.remove(&room);
    }
}

/// "Alice is typing…", "Alice and Bob are typing…", "Several people are typing…".
pub fn label(names: &[String]) -> Option<String> {
    match names {
        [] => None,
        [one] => Some(format!("{one} is typing…")),
        [a, b] => Some(format!("{a} and {b} are typing…")),
        _ => Some("Several people are typing…".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_one_or_two_and_count_more() {
        let n = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(label(&n(&[])), None);
        assert_eq!(label(&n(&["Alice"])).unwrap(), "Alice is typing…");
        assert_eq!(label(&n(&["Alice", "Bob"])).unwrap(), "Alice and Bob are typing…");
        assert_eq!(label(&n(&["A", "B", "C"])).unwrap(), "Several people are typing…");
    }

    #[test]
    fn typing_shows_until_it_expires_or_the_message_arrives() {
        let mut t = Typing::default();
        t.heard(1, 2, "Bob".into(), 0);
        t.heard(1, 3, "Cy".into(), 1_000);
        assert_eq!(t.names(1), ["Bob", "Cy"]);
        assert!(t.expire(SHOW_FOR_MS - 1).is_empty());
        assert_eq!(t.expire(SHOW_FOR_MS), vec![1], "Bob's expired");
        assert_eq!(t.names(1), ["Cy"]);
        assert!(t.stopped(1, 3), "Cy's message arrived");
        assert!(!t.stopped(1, 3));
        assert!(t.names(1).is_empty());
    }

    #[test]
    fn this_device_says_typing_at_most_every_three_seconds() {
        let mut t = Typing::default();
        assert!(t.should_send(1, 0));
        assert!(!t.should_send(1, SEND_EVERY_MS - 1));
        assert!(t.should_send(2, 10), "another room");
        assert!(t.should_send(1, SEND_EVERY_MS));
        t.sent_message(1);
        assert!(t.should_send(1, SEND_EVERY_MS + 1), "after a send, at once");
    }
}
