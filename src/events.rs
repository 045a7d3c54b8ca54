//! Changes to a message on the room's one ordered stream (the kinds and
//! their input rules are in `model`): `apply`, the fold of one event onto
//! a message's state. The server folds the events
//! of a transaction with it before writing the row; every client folds the
//! events it holds with it, so both reach the same state by construction.
//! No I/O and no `cfg` here.

use crate::model::{Kind, Reaction, UserId};
use crate::protocol::{Message, Seq};

/// Folds event `ev` onto `state`, the current state of the message it
/// targets, if `ev` is newer than what `state` already includes (its
/// `version`); true if it was applied. Applying the target's events in seq
/// order gives the same state everywhere.
pub fn apply(state: &mut Message, ev: &Message) -> bool {
    if ev.seq <= state.version || ev.target != Some(state.seq) {
        return false;
    }
    state.version = ev.seq;
    match ev.kind {
        Kind::Message | Kind::Room => return false,
        Kind::Edit if !state.deleted => {
            state.body.clone_from(&ev.body);
            state.fmt.clone_from(&ev.fmt);
            state.edited = Some(ev.ts);
            for &u in &ev.mentions {
                if !state.mentions.contains(&u) {
                    state.mentions.push(u);
                }
            }
        }
        Kind::Delete => erase(state),
        Kind::React if !state.deleted => react(&mut state.reactions, &ev.body, ev.sender),
        Kind::Unreact => unreact(&mut state.reactions, &ev.body, ev.sender),
        Kind::Edit | Kind::React => {}
    }
    true
}

/// What a reply carries of the message it answers: that message without
/// its reactions (and without a quote of its own).
pub fn quote(m: &Message) -> Box<Message> {
    Box::new(Message {
        reactions: Vec::new(),
        quoted: None,
        ..m.clone()
    })
}

/// What a deleted message keeps: its place, sender and time (and which
/// message it answered, without quoting it).
pub fn erase(state: &mut Message) {
    state.deleted = true;
    state.body.clear();
    state.fmt = None;
    state.edited = None;
    state.reactions.clear();
    state.mentions.clear();
    state.files.clear();
    state.quoted = None;
}

fn react(reactions: &mut Vec<Reaction>, emoji: &str, user: UserId) {
    match reactions.iter_mut().find(|r| r.emoji == emoji) {
        Some(r) if r.users.contains(&user) => {}
        Some(r) => r.users.push(user),
        None => reactions.push(Reaction {
            emoji: emoji.to_string(),
            users: vec![user],
        }),
    }
}

fn unreact(reactions: &mut Vec<Reaction>, emoji: &str, user: UserId) {
    if let Some(r) = reactions.iter_mut().find(|r| r.emoji == emoji) {
        r.users.retain(|u| *u != user);
    }
    reactions.retain(|r| !r.users.is_empty());
}

/// The seq an event row changes, if it is one.
pub fn target_of(row: &Message) -> Option<Seq> {
    (!row.kind.is_message()).then_some(row.target).flatten()
}

/// Who a row calls by name, and on which message: a message its mentions
/// and the sender of the message it answers, an edit the mentions it added
/// (to its target); never the row's own sender, nothing once deleted.
pub fn calls(row: &Message) -> Option<(Seq, Vec<UserId>)> {
    let on = match row.kind {
        Kind::Message if !row.deleted => row.seq,
        Kind::Edit => row.target?,
        _ => return None,
    };
    let answered = row
        .quoted
        .as_ref()
        .filter(|_| row.kind.is_message())
        .map(|q| q.sender);
    let mut users: Vec<UserId> = row.mentions.iter().copied().chain(answered).collect();
    users.sort_unstable();
    users.dedup();
    users.retain(|&u| u != row.sender);
    (!users.is_empty()).then_some((on, users))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(seq: Seq) -> Message {
        Message {
            seq,
            version: seq,
            body: "hi".into(),
            sender: 1,
            ..Message::default()
        }
    }

    fn ev(seq: Seq, kind: Kind, target: Seq, sender: UserId, body: &str) -> Message {
        Message {
            seq,
            version: seq,
            kind,
            target: Some(target),
            sender,
            body: body.into(),
            ts: seq * 10,
            ..Message::default()
        }
    }

    #[test]
    fn events_apply_once_and_only_when_newer() {
        let mut m = msg(1);
        assert!(apply(&mut m, &ev(3, Kind::Edit, 1, 1, "hello")));
        assert_eq!((m.body.as_str(), m.edited, m.version), ("hello", Some(30), 3));
        assert!(
            !apply(&mut m, &ev(2, Kind::Edit, 1, 1, "older")),
            "older than the state"
        );
        assert!(
            !apply(&mut m, &ev(3, Kind::Edit, 1, 1, "again")),
            "the same event twice"
        );
        assert!(
            !apply(&mut m, &ev(4, Kind::Edit, 9, 1, "other")),
            "another message's event"
        );
        assert_eq!(m.body, "hello");
    }

    #[test]
    fn reactions_keep_order_and_set_semantics() {
        let mut m = msg(1);
        apply(&mut m, &ev(2, Kind::React, 1, 7, "👍"));
        apply(&mut m, &ev(3, Kind::React, 1, 8, "❤️"));
        apply(&mut m, &ev(4, Kind::React, 1, 8, "👍"));
        apply(&mut m, &ev(5, Kind::React, 1, 8, "👍"));
        assert_eq!(
            m.reactions,
            [
                Reaction {
                    emoji: "👍".into(),
                    users: vec![7, 8]
                },
                Reaction {
                    emoji: "❤️".into(),
                    users: vec![8]
                }
            ]
        );
        apply(&mut m, &ev(6, Kind::Unreact, 1, 8, "❤️"));
        apply(&mut m, &ev(7, Kind::Unreact, 1, 9, "👍"));
        assert_eq!(
            m.reactions,
            [Reaction {
                emoji: "👍".into(),
                users: vec![7, 8]
            }]
        );
    }

    #[test]
    fn a_delete_erases_and_is_final() {
        let mut m = msg(1);
        apply(&mut m, &ev(2, Kind::React, 1, 7, "👍"));
        apply(&mut m, &ev(3, Kind::Delete, 1, 1, ""));
        assert!(m.deleted && m.body.is_empty() && m.reactions.is_empty() && m.files.is_empty());
        apply(&mut m, &ev(4, Kind::Edit, 1, 1, "back"));
        apply(&mut m, &ev(5, Kind::React, 1, 7, "👍"));
        assert!(
            m.body.is_empty() && m.reactions.is_empty(),
            "nothing undoes a delete"
        );
    }
}
