//! The client folds edits, deletes and reactions into the same state as
//! the server whatever order they come in: live rows, sync pages and
//! history pages (messages in their state at some later moment), repeated
//! and shuffled, and count unread messages and mentions as the server
//! does. A property test over random streams and deliveries.

use proptest::prelude::*;
use uuid::Uuid;

use super::{Client, Config};
use crate::events;
use crate::model::{Kind, RoomKind, RoomSummary, User};
use crate::protocol::{Message, Seq, ServerFrame};

const ME: i64 = 1;
const ROOM: i64 = 1;

/// A small deterministic generator (the property supplies the seed).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// A room's stream as the server would store it: the rows in seq order,
/// each message's state folded as the server folds it.
fn stream(rng: &mut Rng, len: usize) -> Vec<Message> {
    let mut rows: Vec<Message> = Vec::new();
    let mut n = 0;
    for seq in 1..=len as Seq {
        let messages: Vec<Seq> = rows
            .iter()
            .filter(|m| m.kind.is_message())
            .map(|m| m.seq)
            .collect();
        let sender = 1 + rng.below(3) as i64;
        let kind = match (messages.is_empty(), rng.below(10)) {
            (true, _) | (_, 0..=3) => Kind::Message,
            (_, 4) => Kind::Edit,
            (_, 5) => Kind::Delete,
            (_, 6) => Kind::Unreact,
            _ => Kind::React,
        };
        n += i64::from(kind.is_message());
        let target = (!kind.is_message()).then(|| messages[rng.below(messages.len() as u64) as usize]);
        // A third of the messages answer an earlier one, quoting it as it is now.
        let reply_to = (kind.is_message() && !messages.is_empty() && rng.below(3) == 0)
            .then(|| messages[rng.below(messages.len() as u64) as usize]);
        let quoted = reply_to.map(|t| events::quote(&state_at(&rows, t, rows.len())));
        // A quarter of the messages and edits mention me or someone else.
        let mentions = match (kind, rng.below(8)) {
            (Kind::Message | Kind::Edit, 0) => vec![ME],
            (Kind::Message | Kind::Edit, 1) => vec![2, ME],
            _ => Vec::new(),
        };
        let body = match kind {
            Kind::React | Kind::Unreact => ["👍", "❤️", "🎉"][rng.below(3) as usize].to_string(),
            Kind::Delete => String::new(),
            _ => format!("body {seq}"),
        };
        rows.push(Message {
            room: ROOM,
            seq,
            id: Uuid::from_u128(seq as u128),
            cid: Uuid::from_u128(1_000 + seq as u128),
            sender,
            from: format!("user {sender}"),
            body,
            ts: seq * 1_000,
            kind,
            target,
            n,
            version: seq,
            reply_to,
            quoted,
            mentions,
            ..Message::default()
        });
    }
    rows
}

/// Message `t` once the first `at` rows were stored.
fn state_at(rows: &[Message], t: Seq, at: usize) -> Message {
    let mut state = rows[t as usize - 1].clone();
    for ev in &rows[..at] {
        events::apply(&mut state, ev);
    }
    state
}

/// The rows as a page served after the first `at` rows were stored: each
/// message in its state at that moment.
fn as_of(rows: &[Message], range: std::ops::Range<usize>, at: usize) -> Vec<Message> {
    rows[range]
        .iter()
        .map(|row| {
            let mut state = match row.kind.is_message() {
                true => state_at(rows, row.seq, at),
                false => row.clone(),
            };
            state.quoted = row.reply_to.map(|t| events::quote(&state_at(rows, t, at)));
            state
        })
        .collect()
}

fn welcomed() -> Client {
    let mut c = Client::new(Config::default());
    c.connected();
    c.handle(
        ServerFrame::Welcome {
            edit_window_secs: 86_400,
            user: User {
                id: ME,
                handle: "me".into(),
                display_name: "Me".into(),
            },
            rooms: vec![RoomSummary {
                role: Default::default(),
                id: ROOM,
                kind: RoomKind::Group,
                name: "room".into(),
                peer: None,
                peer_handle: None,
                peer_status: String::new(),
                head_seq: 0,
                read_seq: 0,
                member_count: 3,
                last_activity: 0,
                preview: None,
                description: String::new(),
                changed: 0,
                left: false,
                avatar: None,
                notify: Default::default(),
                head_n: 0,
                read_n: 0,
                gone: Vec::new(),
                mentioned: Vec::new(),
                hidden: Vec::new(),
            }],
            contacts: Vec::new(),
            max_body_chars: 4_000,
            blocked: vec![],
        },
        0,
    );
    c
}

proptest! {
    #[test]
    fn every_order_of_live_rows_and_pages_folds_to_the_servers_state(seed in 1u64.., len in 1usize..60) {
        let mut rng = Rng(seed);
        let rows = stream(&mut rng, len);
        let fin = as_of(&rows, 0..len, len);
        // Deliveries: every row live once, plus pages of random ranges
        // served at random later moments, all shuffled.
        let mut frames: Vec<ServerFrame> = rows.iter().cloned().map(ServerFrame::Msg).collect();
        for _ in 0..rng.below(6) {
            let lo = rng.below(len as u64) as usize;
            let hi = lo + 1 + rng.below((len - lo) as u64) as usize;
            let at = hi + rng.below((len - hi + 1) as u64) as usize;
            frames.push(ServerFrame::Batch {
                room: ROOM,
                msgs: as_of(&rows, lo..hi, at),
                more: false,
                history: rng.below(2) == 0,
                hidden: vec![],
            });
        }
        for i in (1..frames.len()).rev() {
            frames.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let mut c = welcomed();
        for f in frames {
            c.handle(f, 0);
        }
        let room = c.room(ROOM).unwrap();
        let shown: Vec<_> = room.messages().map(|m| (m.seq, &m.body, m.deleted, &m.reactions, m.edited, m.version, &m.mentions)).collect();
        let want: Vec<_> = fin.iter().filter(|m| m.kind.is_message()).map(|m| (m.seq, &m.body, m.deleted, &m.reactions, m.edited, m.version, &m.mentions)).collect();
        prop_assert_eq!(shown, want);
        // Every reply's quote follows what it quotes.
        for m in room.messages().filter(|m| m.reply_to.is_some() && !m.deleted) {
            let q = m.quoted.as_deref().unwrap();
            let t = &room.msgs[&m.reply_to.unwrap()];
            prop_assert_eq!((&q.body, q.deleted), (&t.body, t.deleted), "the quote in {}", m.seq);
        }
        // Unread: the others' messages still there after my last row (my
        // own rows raise my read mark).
        let read = rows.iter().filter(|m| m.sender == ME).map(|m| m.seq).max().unwrap_or(0);
        let unread: Vec<&Message> = fin.iter().filter(|m| m.kind.is_message() && m.seq > read && !m.deleted).collect();
        // Mentions: those of them that call me by name (a mention, ever, or
        // an answer to a message of mine).
        let called = unread.iter().filter(|m| events::calls(m).is_some_and(|(_, u)| u.contains(&ME))).count();
        let summary = room.summary.as_ref().unwrap();
        prop_assert_eq!((summary.unread(), summary.mentions()), (unread.len() as i64, called));
    }
}

proptest! {
    /// What a device keeps of a room and restores after a reload shows
    /// the same messages, in the same state, as the client that kept it.
    #[test]
    fn a_kept_tail_restores_to_the_same_state(seed in 1u64.., len in 1usize..60, keep in 1usize..80) {
        let mut rng = Rng(seed);
        let rows = stream(&mut rng, len);
        let mut c = welcomed();
        for m in rows.iter().cloned() {
            c.handle(ServerFrame::Msg(m), 0);
        }
        let saved = c.saved_room(ROOM, keep).unwrap();
        prop_assert_eq!(saved.rows.len(), keep.min(len));
        let mut back = Client::new(Config::default());
        back.restore(c.me().cloned(), vec![saved]);
        let (was, now) = (c.room(ROOM).unwrap(), back.room(ROOM).unwrap());
        let first = (len - keep.min(len)) as Seq + 1;
        let state = |m: &Message| (m.seq, m.body.clone(), m.deleted, m.reactions.clone(), m.edited, m.version, m.quoted.as_ref().map(|q| q.body.clone()));
        let want: Vec<_> = was.messages().filter(|m| m.seq >= first).map(state).collect();
        let got: Vec<_> = now.messages().map(state).collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(now.last, was.last);
        prop_assert_eq!(now.summary.as_ref().map(|s| (s.unread(), s.mentions())), was.summary.as_ref().map(|s| (s.unread(), s.mentions())));
    }
}
