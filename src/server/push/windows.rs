//! The collapse windows of push notices: messages in a room within the
//! window make at most two notices, the first at once and the latest of the
//! rest when the window ends. Pure bookkeeping over `Instant`s passed in;
//! sending is `sender`'s.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::model::RoomId;
use crate::protocol::Message;

/// The collapse windows of the rooms that had a message lately.
pub(super) struct Windows {
    length: Duration,
    /// Per room: when its window ends, and the latest message held back.
    open: HashMap<RoomId, (Instant, Option<Message>)>,
}

impl Windows {
    pub(super) fn new(length: Duration) -> Self {
        Self {
            length,
            open: HashMap::new(),
        }
    }

    /// A message committed at `now`: Some if it is to be pushed now (it
    /// opens a window), None if held back until the room's window ends.
    pub(super) fn offer(&mut self, msg: Message, now: Instant) -> Option<Message> {
        match self.open.get_mut(&msg.room) {
            Some((until, held)) if *until > now => {
                if held.as_ref().is_none_or(|h| h.seq < msg.seq) {
                    *held = Some(msg);
                }
                None
            }
            _ => {
                self.open.insert(msg.room, (now + self.length, None));
                Some(msg)
            }
        }
    }

    /// When the next window ends.
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.open.values().map(|(until, _)| *until).min()
    }

    /// Every held-back message, at once (shutting down).
    pub(super) fn take_all(&mut self) -> Vec<Message> {
        self.open.drain().filter_map(|(_, (_, held))| held).collect()
    }

    /// The held-back messages whose window has ended; each of them opens a
    /// new window, rooms that held nothing close theirs.
    pub(super) fn due(&mut self, now: Instant) -> Vec<Message> {
        let mut ready = Vec::new();
        self.open.retain(|_, (until, held)| {
            if *until > now {
                return true;
            }
            match held.take() {
                Some(msg) => {
                    ready.push(msg);
                    *until = now + self.length;
                    true
                }
                None => false,
            }
        });
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Seq;

    fn msg(room: RoomId, seq: Seq) -> Message {
        Message {
            fmt: None,
            room,
            seq,
            id: uuid::Uuid::nil(),
            cid: uuid::Uuid::nil(),
            sender: 1,
            from: "Alice".into(),
            body: format!("m{seq}"),
            ts: 0,
            n: seq,
            version: seq,
            ..Message::default()
        }
    }

    #[test]
    fn a_burst_makes_two_notices_the_first_and_the_latest() {
        let mut w = Windows::new(Duration::from_secs(4));
        let t0 = Instant::now();
        assert_eq!(
            w.offer(msg(1, 1), t0).map(|m| m.seq),
            Some(1),
            "the first goes at once"
        );
        for seq in 2..=5 {
            assert!(w.offer(msg(1, seq), t0 + Duration::from_secs(1)).is_none());
        }
        assert_eq!(
            w.offer(msg(2, 1), t0).map(|m| m.seq),
            Some(1),
            "another room has its own window"
        );
        assert_eq!(w.next_due(), Some(t0 + Duration::from_secs(4)));
        assert!(w.due(t0 + Duration::from_secs(3)).is_empty());
        let late = w.due(t0 + Duration::from_secs(4));
        assert_eq!(
            late.iter().map(|m| (m.room, m.seq)).collect::<Vec<_>>(),
            vec![(1, 5)]
        );
        // Room 2 held nothing: its window closed. Room 1 opened a new one.
        assert_eq!(w.open.len(), 1);
        assert!(w.offer(msg(1, 6), t0 + Duration::from_secs(5)).is_none());
        assert!(w.due(t0 + Duration::from_secs(7)).is_empty());
        assert_eq!(w.due(t0 + Duration::from_secs(8)).len(), 1);
        assert!(w.due(t0 + Duration::from_secs(12)).is_empty());
        assert!(w.open.is_empty(), "quiet rooms close their window");
        assert_eq!(
            w.offer(msg(1, 7), t0 + Duration::from_secs(13)).map(|m| m.seq),
            Some(7)
        );
    }
}
