//! The room stream's events on both databases: edits, deletes and
//! reactions take seqs like messages, follow their rules, change the
//! message's stored state in their transaction, and leave unread counts
//! counting messages only; mentions are checked against membership and
//! counted per member. The last test runs random event sequences against
//! a model of the rules.

use std::collections::BTreeMap;

use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::storage::{new_message, users};
use chat::events;
use chat::model::{Kind, Reaction, RoomSummary, REACTIONS_MAX};
use chat::protocol::{Message, Seq};
use chat::server::storage::{Appended, DynStore, NewMessage, Refusal};

conformance!(
    an_edit_takes_a_seq_and_changes_the_message_in_place,
    changes_follow_their_rules_and_refusals_store_nothing,
    a_delete_erases_the_body_its_edits_and_its_reactions,
    reactions_are_sets_with_a_bounded_number_of_emoji,
    unread_counts_messages_and_forgets_the_deleted,
    a_message_deleted_for_me_is_hidden_from_me_alone,
    random_event_sequences_match_the_model,
);

/// A change of `kind` by `sender` to message `target`.
fn change(room: i64, sender: i64, cid: u128, kind: Kind, target: Seq, body: &str) -> NewMessage {
    NewMessage {
        kind,
        target: Some(target),
        ..new_message(room, sender, cid, body)
    }
}

async fn one(store: &DynStore, m: NewMessage) -> Appended {
    store.append(&[m]).await.unwrap().remove(0)
}

async fn history(store: &DynStore, room: i64) -> BTreeMap<Seq, Message> {
    let rows = store.messages_before(room, i64::MAX, 200).await.unwrap();
    rows.into_iter().map(|m| (m.seq, m)).collect()
}

async fn summary(store: &DynStore, room: i64, user: i64) -> RoomSummary {
    store.room_of(room, user).await.unwrap().unwrap()
}

async fn an_edit_takes_a_seq_and_changes_the_message_in_place(store: DynStore) {
    let [a, b] = users(&store, &["alice", "bob"]).await[..] else {
        unreachable!()
    };
    let g = store.create_group(a, "Team", &[b], 1).await.unwrap();
    one(&store, new_message(g, a, 1, "helo")).await;
    let edit = change(g, a, 2, Kind::Edit, 1, "hello *all*");
    let Appended::Stored(e) = one(&store, edit.clone()).await else {
        panic!("the edit is stored")
    };
    assert_eq!((e.seq, e.kind, e.target, e.n), (2, Kind::Edit, Some(1), 1));
    assert!(
        matches!(one(&store, edit).await, Appended::Duplicate(d) if (d.seq, d.id) == (e.seq, e.id)),
        "a resend answers the original"
    );
    let h = history(&store, g).await;
    assert_eq!(h.len(), 2, "the stream holds the message and the edit");
    let m = &h[&1];
    assert_eq!(
        (m.body.as_str(), m.edited, m.version),
        ("hello *all*", Some(e.ts), 2)
    );
    assert!(m.fmt.is_some(), "the new body's formatting");
    assert_eq!(h[&2].body, "hello *all*");
    // Sync pages bring the same rows.
    let after = store.messages_after(g, 0, 10).await.unwrap();
    assert_eq!(after, h.into_values().collect::<Vec<_>>());
    let s = summary(&store, g, b).await;
    assert_eq!(
        (s.head_seq, s.head_n, s.unread()),
        (2, 1, 1),
        "the edit is no new message"
    );
    assert_eq!(s.preview.as_deref(), Some("hello all"));
}

async fn changes_follow_their_rules_and_refusals_store_nothing(store: DynStore) {
    let [a, b, c] = users(&store, &["alice", "bob", "cat"]).await[..] else {
        unreachable!()
    };
    let g = store.create_group(a, "Team", &[b], 1).await.unwrap();
    let other = store.create_group(c, "Other", &[b], 1).await.unwrap();
    for (i, sender) in [a, b, a].into_iter().enumerate() {
        one(&store, new_message(g, sender, 10 + i as u128, "x")).await;
    }
    for i in 0..5 {
        one(&store, new_message(other, c, 20 + i, "y")).await;
    }
    // seq 1 and 3 are Alice's (the owner), 2 Bob's; `other` has seqs 1..=5.
    let refused = [
        (change(g, b, 30, Kind::Edit, 1, "mine now"), Refusal::NotYours(1)),
        (change(g, b, 31, Kind::Delete, 1, ""), Refusal::NotYours(1)),
        (change(g, a, 32, Kind::Edit, 2, "fixed"), Refusal::NotYours(2)),
        (change(g, a, 33, Kind::Edit, 9, "none"), Refusal::NoSuchMessage(9)),
        (change(g, a, 34, Kind::React, 5, "👍"), Refusal::NoSuchMessage(5)),
        (
            NewMessage {
                since: 1_000_000,
                ..change(g, a, 35, Kind::Edit, 1, "late")
            },
            Refusal::TooOld(1),
        ),
        (
            NewMessage {
                since: 1_000_000,
                ..change(g, b, 36, Kind::Delete, 2, "")
            },
            Refusal::TooOld(2),
        ),
        (
            NewMessage {
                reply_to: Some(4),
                ..new_message(g, b, 37, "a reply to the other room's 4")
            },
            Refusal::NoSuchMessage(4),
        ),
    ];
    for (m, why) in refused {
        assert_eq!(one(&store, m).await, Appended::Refused(why));
    }
    assert_eq!(
        summary(&store, g, a).await.head_seq,
        3,
        "nothing refused took a seq"
    );
    // An owner deletes anyone's message, past the window too.
    let owner = NewMessage {
        since: 1_000_000,
        ..change(g, a, 40, Kind::Delete, 2, "")
    };
    assert!(matches!(one(&store, owner).await, Appended::Stored(m) if m.seq == 4));
    // A change names a message, never an event, nor a deleted message.
    assert_eq!(
        one(&store, change(g, a, 41, Kind::React, 4, "👍")).await,
        Appended::Refused(Refusal::NoSuchMessage(4))
    );
    for (cid, kind) in [(42, Kind::Edit), (43, Kind::React), (44, Kind::Delete)] {
        assert_eq!(
            one(&store, change(g, b, cid, kind, 2, "👍")).await,
            Appended::Refused(Refusal::Deleted(2))
        );
    }
    let reply = NewMessage {
        reply_to: Some(1),
        ..new_message(g, b, 45, "answering 1")
    };
    let Appended::Stored(r) = one(&store, reply).await else {
        panic!("a reply in the room is stored")
    };
    assert_eq!(history(&store, g).await[&r.seq].reply_to, Some(1));
}

async fn a_delete_erases_the_body_its_edits_and_its_reactions(store: DynStore) {
    let [a, b] = users(&store, &["alice", "bob"]).await[..] else {
        unreachable!()
    };
    let d = store.open_direct(a, b, 1).await.unwrap();
    one(&store, new_message(d, a, 1, "secret")).await;
    one(&store, change(d, a, 2, Kind::Edit, 1, "secret, edited")).await;
    one(&store, change(d, b, 3, Kind::React, 1, "😮")).await;
    // In a direct room nobody is a moderator: Bob may not delete it.
    assert_eq!(
        one(&store, change(d, b, 4, Kind::Delete, 1, "")).await,
        Appended::Refused(Refusal::NotYours(1))
    );
    one(&store, change(d, a, 5, Kind::Delete, 1, "")).await;
    let h = history(&store, d).await;
    let m = &h[&1];
    assert!(
        m.deleted && m.body.is_empty() && m.reactions.is_empty() && m.edited.is_none(),
        "{m:?}"
    );
    assert_eq!(m.version, 4);
    assert!(
        h.values().all(|r| !r.body.contains("secret")),
        "no trace of the text: {h:?}"
    );
    let s = summary(&store, d, b).await;
    assert_eq!(s.preview.as_deref(), Some(chat::format::DELETED));
    // An edit and a delete in one batch: the edit's row keeps no body either.
    let batch = [
        new_message(d, a, 6, "oops"),
        change(d, a, 7, Kind::Edit, 5, "oops, more"),
        change(d, a, 8, Kind::Delete, 5, ""),
    ];
    store.append(&batch).await.unwrap();
    let h = history(&store, d).await;
    assert!(h[&5].deleted && h[&6].body.is_empty(), "{h:?}");
}

async fn reactions_are_sets_with_a_bounded_number_of_emoji(store: DynStore) {
    let [a, b] = users(&store, &["alice", "bob"]).await[..] else {
        unreachable!()
    };
    let g = store.create_group(a, "Team", &[b], 1).await.unwrap();
    one(&store, new_message(g, a, 1, "vote")).await;
    let reacts = [
        (a, 2, Kind::React, "👍"),
        (b, 3, Kind::React, "👍"),
        (a, 4, Kind::React, "👍"), // again: stored, changes nothing
        (b, 5, Kind::React, "❤️"),
        (b, 6, Kind::Unreact, "👍"),
        (b, 7, Kind::Unreact, "🎉"), // never made: changes nothing
    ];
    for (user, cid, kind, emoji) in reacts {
        assert!(matches!(
            one(&store, change(g, user, cid, kind, 1, emoji)).await,
            Appended::Stored(_)
        ));
    }
    let reaction = |emoji: &str, users: Vec<i64>| Reaction {
        emoji: emoji.into(),
        users,
    };
    let m = history(&store, g).await[&1].clone();
    assert_eq!(m.reactions, [reaction("👍", vec![a]), reaction("❤️", vec![b])]);
    assert_eq!(m.version, 7);
    // Up to REACTIONS_MAX distinct emoji; then only those already there.
    let emoji: Vec<String> = (0..REACTIONS_MAX as u32 - 2)
        .map(|i| char::from_u32(0x1F600 + i).unwrap().to_string())
        .collect();
    let batch: Vec<_> = emoji
        .iter()
        .zip(100..)
        .map(|(e, cid)| change(g, a, cid, Kind::React, 1, e))
        .collect();
    store.append(&batch).await.unwrap();
    assert_eq!(
        one(&store, change(g, b, 200, Kind::React, 1, "🦀")).await,
        Appended::Refused(Refusal::TooManyReactions(1))
    );
    assert!(matches!(
        one(&store, change(g, b, 201, Kind::React, 1, "👍")).await,
        Appended::Stored(_)
    ));
    assert_eq!(history(&store, g).await[&1].reactions.len(), REACTIONS_MAX);
}

async fn unread_counts_messages_and_forgets_the_deleted(store: DynStore) {
    let [a, b] = users(&store, &["alice", "bob"]).await[..] else {
        unreachable!()
    };
    let g = store.create_group(a, "Team", &[b], 1).await.unwrap();
    for i in 1..=4 {
        one(&store, new_message(g, a, i, "m")).await;
    }
    let unread = |s: RoomSummary| s.unread();
    assert_eq!(unread(summary(&store, g, b).await), 4);
    one(&store, change(g, a, 10, Kind::Edit, 2, "edited")).await; // seq 5
    one(&store, change(g, b, 11, Kind::React, 2, "👍")).await; // seq 6: Bob's marks rise to 6
    assert_eq!(unread(summary(&store, g, b).await), 0, "reacting is reading");
    one(&store, new_message(g, a, 12, "more")).await; // seq 7
    one(&store, new_message(g, a, 13, "more")).await; // seq 8
    one(&store, change(g, a, 14, Kind::React, 7, "👍")).await; // seq 9
    assert_eq!(
        unread(summary(&store, g, b).await),
        2,
        "reactions are no messages"
    );
    one(&store, change(g, a, 15, Kind::Delete, 8, "")).await; // seq 10
    let s = summary(&store, g, b).await;
    assert_eq!(
        (s.unread(), s.gone.clone()),
        (1, vec![8]),
        "a deleted unread message no longer counts"
    );
    assert_eq!(store.unread_total(b).await.unwrap(), 1);
    // Reading past it: the deleted one is behind the mark.
    store.raise_marks(g, b, 9, 9).await.unwrap();
    let s = summary(&store, g, b).await;
    assert_eq!((s.unread(), s.read_n, s.gone.len()), (0, 6, 0));
    assert_eq!(store.unread_total(b).await.unwrap(), 0);
    // Deleting a message already read changes nothing.
    one(&store, change(g, a, 16, Kind::Delete, 7, "")).await;
    assert_eq!(unread(summary(&store, g, b).await), 0);
    assert_eq!(
        store.unread_total(a).await.unwrap(),
        0,
        "own messages are never unread"
    );
}

async fn a_message_deleted_for_me_is_hidden_from_me_alone(store: DynStore) {
    let [a, b] = users(&store, &["alice", "bob"]).await[..] else {
        unreachable!()
    };
    let g = store.create_group(a, "Team", &[b], 1).await.unwrap();
    for i in 1..=3 {
        one(&store, new_message(g, a, i, "m")).await;
    }
    one(&store, change(g, a, 4, Kind::React, 1, "👍")).await; // seq 4
    assert!(store.hide(g, b, 2).await.unwrap());
    assert!(store.hide(g, b, 2).await.unwrap(), "again: the same");
    assert!(!store.hide(g, b, 4).await.unwrap(), "a reaction is no message");
    assert!(!store.hide(g, b, 9).await.unwrap(), "nothing there");
    assert!(!store.hide(g + 1, b, 1).await.unwrap(), "no such room");
    let s = summary(&store, g, b).await;
    assert_eq!(
        (s.hidden.clone(), s.unread()),
        (vec![2], 2),
        "hidden and unread no more"
    );
    let s = summary(&store, g, a).await;
    assert!(s.hidden.is_empty(), "Alice still has it");
    assert_eq!(history(&store, g).await[&2].body, "m", "the message itself stays");
    // Read past it, it stays hidden; deleted for everyone too, it counts once.
    store.raise_marks(g, b, 4, 4).await.unwrap();
    assert!(store.hide(g, b, 3).await.unwrap());
    one(&store, new_message(g, a, 5, "m")).await; // seq 5
    assert!(store.hide(g, b, 5).await.unwrap());
    one(&store, change(g, a, 6, Kind::Delete, 5, "")).await;
    let s = summary(&store, g, b).await;
    assert_eq!((s.hidden.clone(), s.unread()), (vec![2, 3, 5], 0));
    assert_eq!(store.rooms_of(b).await.unwrap()[0].hidden, [2, 3, 5]);
}

/// What the model expects of a change, by the rules (`stranger` is no member).
fn expected(model: &BTreeMap<Seq, Message>, m: &NewMessage, owner: i64, stranger: i64) -> Option<Refusal> {
    let Some(named) = m.target.or(m.reply_to) else {
        return m
            .mentions
            .contains(&stranger)
            .then_some(Refusal::Stranger(stranger));
    };
    let Some(t) = model.get(&named) else {
        return Some(Refusal::NoSuchMessage(named));
    };
    if t.deleted {
        return Some(Refusal::Deleted(named));
    }
    let own = t.sender == m.sender;
    match m.kind {
        Kind::Edit if !own => Some(Refusal::NotYours(named)),
        Kind::Delete if !own && m.sender != owner => Some(Refusal::NotYours(named)),
        Kind::React
            if t.reactions.len() >= REACTIONS_MAX && !t.reactions.iter().any(|r| r.emoji == m.body) =>
        {
            Some(Refusal::TooManyReactions(named))
        }
        _ => m
            .mentions
            .contains(&stranger)
            .then_some(Refusal::Stranger(stranger)),
    }
}

async fn random_event_sequences_match_the_model(store: DynStore) {
    let everyone = users(&store, &["ann", "ben", "cat", "dan"]).await;
    let (people, stranger) = (&everyone[..3], everyone[3]);
    // What the sequences covered: mentions counted, strangers refused.
    let (mut counted, mut refused) = (0, 0);
    let emoji = ["👍", "❤️", "😂", "🎉"];
    for seed in 0..4u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let g = store
            .create_group(people[0], &format!("r{seed}"), &people[1..], 1)
            .await
            .unwrap();
        // The messages as the rules and `events::apply` make them, and each
        // person's read mark.
        let mut model: BTreeMap<Seq, Message> = BTreeMap::new();
        let mut read: BTreeMap<i64, Seq> = people.iter().map(|p| (*p, 0)).collect();
        let mut cid = u128::from(seed) * 10_000;
        for _ in 0..25 {
            let batch: Vec<NewMessage> = (0..rng.gen_range(1..6))
                .map(|_| {
                    cid += 1;
                    let sender = people[rng.gen_range(0..people.len())];
                    let target = rng.gen_range(1..=model.len() as i64 + 2);
                    // Anyone (the sender too, now and then a stranger) may be mentioned.
                    let mut mentions: Vec<i64> = everyone
                        .iter()
                        .copied()
                        .filter(|&p| rng.gen_bool(if p == stranger { 0.03 } else { 0.25 }))
                        .collect();
                    mentions.sort_unstable();
                    match rng.gen_range(0..11) {
                        0..=2 => NewMessage {
                            mentions,
                            ..new_message(g, sender, cid, &format!("m{cid}"))
                        },
                        3 => NewMessage {
                            reply_to: Some(target),
                            mentions,
                            ..new_message(g, sender, cid, &format!("r{cid}"))
                        },
                        4 => NewMessage {
                            mentions,
                            ..change(g, sender, cid, Kind::Edit, target, &format!("e{cid}"))
                        },
                        10 => new_message(g, sender, cid, &format!("m{cid}")),
                        5 => change(g, sender, cid, Kind::Delete, target, ""),
                        6 => change(g, sender, cid, Kind::Unreact, target, emoji[rng.gen_range(0..4)]),
                        _ => change(g, sender, cid, Kind::React, target, emoji[rng.gen_range(0..4)]),
                    }
                })
                .collect();
            let out = store.append(&batch).await.unwrap();
            for (m, got) in batch.iter().zip(out) {
                match (expected(&model, m, people[0], stranger), got) {
                    (None, Appended::Stored(row)) => {
                        if let Some(t) = row.target {
                            let state = model.get_mut(&t).unwrap();
                            assert!(events::apply(state, &row));
                        } else {
                            model.insert(row.seq, row.clone());
                        }
                        read.insert(m.sender, row.seq);
                    }
                    (Some(why), Appended::Refused(got)) => {
                        refused += usize::from(why == Refusal::Stranger(stranger));
                        assert_eq!(why, got)
                    }
                    (want, got) => panic!("seed {seed}: {m:?} expected {want:?}, got {got:?}"),
                }
            }
            if rng.gen_bool(0.3) {
                let p = people[rng.gen_range(0..people.len())];
                let head = summary(&store, g, p).await.head_seq;
                let to = rng.gen_range(0..=head);
                store.raise_marks(g, p, to, to).await.unwrap();
                let r = read.get_mut(&p).unwrap();
                *r = (*r).max(to);
            }
        }
        // Every message as stored equals the model; every row is there once.
        let rows = store.messages_after(g, 0, 200).await.unwrap();
        assert_eq!(
            rows.iter().map(|m| m.seq).collect::<Vec<_>>(),
            (1..=rows.len() as i64).collect::<Vec<_>>()
        );
        let stored: BTreeMap<Seq, Message> = rows
            .into_iter()
            .filter(|m| m.kind.is_message())
            .map(|m| (m.seq, m))
            .collect();
        assert_eq!(stored.len(), model.len(), "seed {seed}");
        for (seq, want) in &model {
            let got = &stored[seq];
            assert_eq!(
                (
                    &got.body,
                    got.deleted,
                    &got.reactions,
                    got.version,
                    got.edited,
                    &got.mentions
                ),
                (
                    &want.body,
                    want.deleted,
                    &want.reactions,
                    want.version,
                    want.edited,
                    &want.mentions
                ),
                "seed {seed}, message {seq}"
            );
        }
        // Unread: the others' messages after each mark that are still
        // there; mentions: those of them that call the person by name.
        for p in people {
            let unread: Vec<&Message> = model
                .values()
                .filter(|m| m.seq > read[p] && m.sender != *p && !m.deleted)
                .collect();
            let called = unread
                .iter()
                .filter(|m| events::calls(m).is_some_and(|(_, users)| users.contains(p)))
                .count();
            let s = summary(&store, g, *p).await;
            counted += called;
            assert_eq!(
                (s.unread(), s.mentions()),
                (unread.len() as i64, called),
                "seed {seed}, person {p}"
            );
        }
    }
    assert!(
        counted > 0 && refused > 0,
        "mentions counted {counted}, strangers refused {refused}"
    );
}
