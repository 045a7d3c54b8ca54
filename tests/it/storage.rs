//! The storage conformance suite: the same tests against SQLite and
//! PostgreSQL (a fresh database per test; see tests/common).

use crate::common;

use chat::model::Kind;
use chat::model::{Notify, Role, RoomKind};
use chat::server::storage::{
    Access, Appended, DynStore, NewMessage, PushSubscription, StoreError, StoredMarks,
};
use uuid::Uuid;

conformance!(
    users_have_unique_handles,
    sessions_expire_and_end,
    seen_times_are_written_in_rounds_and_never_move_back,
    direct_rooms_are_one_per_pair,
    groups_have_an_owner_and_members,
    added_members_start_at_the_head,
    access_tells_unknown_rooms_from_strangers,
    rooms_list_latest_first_with_counts,
    concurrent_direct_opens_make_one_room,
    append_assigns_consecutive_seqs_and_dedups,
    a_resend_among_new_messages_leaves_no_hole,
    append_refuses_strangers_and_unknown_rooms,
    sync_pages_forward_and_history_backward,
    concurrent_appends_make_one_gap_free_order,
    marks_only_ever_rise,
    a_rooms_marks_are_summed_from_its_indexes,
    contacts_share_a_direct_or_small_room,
    push_subscriptions_belong_to_a_session,
    a_rooms_pushes_go_to_its_other_members,
    a_muted_room_pushes_to_no_one_who_muted_it,
    the_first_setting_stored_wins,
);

pub async fn users(store: &DynStore, handles: &[&str]) -> Vec<i64> {
    let mut ids = Vec::new();
    for h in handles {
        ids.push(
            store
                .create_user(h, &h.to_uppercase(), "hash", 1)
                .await
                .unwrap()
                .id,
        );
    }
    ids
}

async fn users_have_unique_handles(store: DynStore) {
    let alice = store.create_user("alice", "Alice", "h1", 10).await.unwrap();
    assert_eq!(alice.handle, "alice");
    assert_eq!(alice.display_name, "Alice");
    assert!(matches!(
        store.create_user("alice", "Other", "h2", 11).await,
        Err(StoreError::HandleTaken)
    ));
    let creds = store.credentials("alice").await.unwrap().unwrap();
    assert_eq!(creds.user, alice);
    assert_eq!(creds.password_hash, "h1");
    assert!(store.credentials("bob").await.unwrap().is_none());
    assert_eq!(store.user_by_handle("alice").await.unwrap(), Some(alice));
    store.ping().await.unwrap();
}

async fn sessions_expire_and_end(store: DynStore) {
    let [a] = users(&store, &["alice"]).await[..] else {
        unreachable!()
    };
    store.create_session(b"token-1", a, 100, 200).await.unwrap();
    assert_eq!(
        store.session_user(b"token-1", 150).await.unwrap().map(|u| u.id),
        Some(a)
    );
    assert!(
        store.session_user(b"token-1", 200).await.unwrap().is_none(),
        "expired"
    );
    assert!(
        store.session_user(b"token-2", 150).await.unwrap().is_none(),
        "unknown"
    );
    store.delete_session(b"token-1").await.unwrap();
    assert!(
        store.session_user(b"token-1", 150).await.unwrap().is_none(),
        "ended"
    );
}

async fn seen_times_are_written_in_rounds_and_never_move_back(store: DynStore) {
    let [a, b, c] = users(&store, &["alice", "bob", "carol"]).await[..] else {
        unreachable!()
    };
    for (hash, user) in [(b"phone", a), (b"table", a), (b"other", b)] {
        store.create_session(hash, user, 10, 1_000).await.unwrap();
    }
    let round = |n: i64| -> Vec<(Vec<u8>, i64)> {
        vec![
            (b"phone".to_vec(), 50 + n),
            (b"table".to_vec(), 40 + n),
            (b"gone!".to_vec(), 70),
        ]
    };
    let untouched = store.sessions_of(b, 100).await.unwrap()[0].seen_at;
    store
        .record_seen(&round(0), &[(a, 50), (b, 60), (c, 70)])
        .await
        .unwrap();
    store.record_seen(&round(-5), &[(a, 45), (b, 65)]).await.unwrap();
    let seen: Vec<(Vec<u8>, i64)> = store
        .sessions_of(a, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.token_hash, s.seen_at))
        .collect();
    assert_eq!(seen, vec![(b"phone".to_vec(), 50), (b"table".to_vec(), 40)]);
    assert_eq!(
        store.sessions_of(b, 100).await.unwrap()[0].seen_at,
        untouched,
        "not in a round"
    );
    let last = [a, b, c].map(|u| store.last_seen(u));
    let last = futures::future::try_join_all(last).await.unwrap();
    assert_eq!(last, vec![Some(50), Some(65), Some(70)]);
}

async fn direct_rooms_are_one_per_pair(store: DynStore) {
    let [a, b, c] = users(&store, &["alice", "bob", "carol"]).await[..] else {
        unreachable!()
    };
    let ab = store.open_direct(a, b, 5).await.unwrap();
    assert_eq!(
        store.open_direct(b, a, 6).await.unwrap(),
        ab,
        "same pair, same room"
    );
    let ac = store.open_direct(a, c, 7).await.unwrap();
    assert_ne!(ab, ac);
    let seen_by_a = store.room_of(ab, a).await.unwrap().unwrap();
    assert_eq!(seen_by_a.kind, RoomKind::Direct);
    assert_eq!(seen_by_a.name, "BOB");
    assert_eq!(seen_by_a.peer_handle.as_deref(), Some("bob"));
    assert_eq!(seen_by_a.member_count, 2);
    assert_eq!(seen_by_a.peer, Some(b));
    let seen_by_b = store.room_of(ab, b).await.unwrap().unwrap();
    assert_eq!(seen_by_b.name, "ALICE");
    assert!(store.room_of(ab, c).await.unwrap().is_none());
}

async fn groups_have_an_owner_and_members(store: DynStore) {
    let [a, b, c] = users(&store, &["alice", "bob", "carol"]).await[..] else {
        unreachable!()
    };
    let g = store.create_group(a, "Team", &[b, a, c, b], 9).await.unwrap();
    let members = store.members(g).await.unwrap();
    assert_eq!(members.len(), 3);
    let role_of = |id| members.iter().find(|m| m.user.id == id).map(|m| m.role);
    assert_eq!(role_of(a), Some(Role::Owner));
    assert_eq!(role_of(b), Some(Role::Member));
    assert_eq!(role_of(c), Some(Role::Member));
    assert_eq!(store.member_count(g).await.unwrap(), 3);
    let summary = store.room_of(g, c).await.unwrap().unwrap();
    assert_eq!(
        (summary.kind, summary.name.as_str(), summary.peer_handle),
        (RoomKind::Group, "Team", None)
    );
    assert_eq!(store.room_count(b).await.unwrap(), 1);
}

async fn added_members_start_at_the_head(store: DynStore) {
    let [a, b] = users(&store, &["alice", "bob"]).await[..] else {
        unreachable!()
    };
    let g = store.create_group(a, "Team", &[], 1).await.unwrap();
    assert!(store.add_member(g, b, 2).await.unwrap());
    assert!(!store.add_member(g, b, 3).await.unwrap(), "already in");
    assert!(!store.add_member(g + 1000, b, 3).await.unwrap(), "no such room");
    let seen = store.room_of(g, b).await.unwrap().unwrap();
    assert_eq!((seen.head_seq, seen.read_seq, seen.unread()), (0, 0, 0));
    assert_eq!(store.member_count(g).await.unwrap(), 2);
}

async fn access_tells_unknown_rooms_from_strangers(store: DynStore) {
    let [a, b, c] = users(&store, &["alice", "bob", "carol"]).await[..] else {
        unreachable!()
    };
    let g = store.create_group(a, "Team", &[b], 1).await.unwrap();
    assert_eq!(store.access(g, a).await.unwrap(), Access::Member(Role::Owner));
    assert_eq!(store.access(g, b).await.unwrap(), Access::Member(Role::Member));
    assert_eq!(store.access(g, c).await.unwrap(), Access::NotMember);
    assert_eq!(store.access(g + 1000, a).await.unwrap(), Access::NoSuchRoom);
}

async fn rooms_list_latest_first_with_counts(store: DynStore) {
    let [a, b, c] = users(&store, &["alice", "bob", "carol"]).await[..] else {
        unreachable!()
    };
    let first = store.create_group(a, "First", &[b], 100).await.unwrap();
    let dm = store.open_direct(a, c, 300).await.unwrap();
    let second = store.create_group(a, "Second", &[b, c], 200).await.unwrap();
    let list = store.rooms_of(a).await.unwrap();
    let ids: Vec<_> = list.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![dm, second, first]);
    assert_eq!(list[1].member_count, 3);
    assert_eq!(store.rooms_of(b).await.unwrap().len(), 2);
    assert_eq!(store.room_count(c).await.unwrap(), 2);
}

async fn concurrent_direct_opens_make_one_room(store: DynStore) {
    let [a, b] = users(&store, &["alice", "bob"]).await[..] else {
        unreachable!()
    };
    let opens = (0..8).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            let (x, y) = if i % 2 == 0 { (a, b) } else { (b, a) };
            store.open_direct(x, y, i).await.unwrap()
        })
    });
    let mut rooms = Vec::new();
    for h in opens {
        rooms.push(h.await.unwrap());
    }
    rooms.dedup();
    assert_eq!(rooms.len(), 1, "{rooms:?}");
    assert_eq!(store.member_count(rooms[0]).await.unwrap(), 2);
}

pub fn new_message(room: i64, sender: i64, cid: u128, body: &str) -> NewMessage {
    NewMessage {
        fmt: None,
        room,
        sender,
        from: String::new(),
        cid: Uuid::from_u128(cid),
        body: body.to_string(),
        id: Uuid::new_v4(),
        ts: 1_000 + cid as i64,
        kind: Kind::Message,
        target: None,
        reply_to: None,
        mentions: Vec::new(),
        files: Vec::new(),
        since: 0,
    }
}

/// PostgreSQL cannot store U+0000 (delivery refuses such a body before it
/// gets here; this calls the writer's batch step directly). A batch with one
/// message the database refuses fails that message alone: the others are
/// stored in batch order with no hole, and the refused one fails again alone
/// (a refusal, not an outage: the client is told not to send it again).
#[tokio::test]
async fn postgres_a_message_the_database_refuses_fails_alone() {
    use chat::server::delivery::append_apart;
    let Some(url) = common::postgres_url().await else {
        return;
    };
    let store = common::open(&url).await;
    let [a, b] = users(&store, &["alice", "bob"]).await[..] else {
        unreachable!()
    };
    let g = store.create_group(a, "Team", &[b], 1).await.unwrap();
    let d = store.open_direct(a, b, 1).await.unwrap();
    let batch = [
        new_message(g, a, 1, "one"),
        new_message(d, b, 2, "two"),
        new_message(g, a, 3, "bad \u{0} body"),
        new_message(g, b, 4, "four"),
        new_message(d, a, 5, "five"),
    ];
    let out = append_apart(store.as_ref(), &batch).await;
    let seqs: Vec<Option<(i64, i64)>> = out
        .iter()
        .map(|r| r.as_ref().ok().map(|a| (stored(a).room, stored(a).seq)))
        .collect();
    assert_eq!(
        seqs,
        [Some((g, 1)), Some((d, 1)), None, Some((g, 2)), Some((d, 2))]
    );
    assert!(matches!(out[2], Err(StoreError::Internal(_))), "{:?}", out[2]);
    let again = append_apart(store.as_ref(), &batch[2..3]).await;
    assert!(matches!(again[0], Err(StoreError::Internal(_))), "{:?}", again[0]);
    assert_eq!(store.head(g).await.unwrap(), Some(2));
}

fn stored(a: &Appended) -> &chat::protocol::Message {
    match a {
        Appended::Stored(m) => m,
        other => panic!("not stored: {other:?}"),
    }
}

/// A batch is stored without looking its cids up first; a resend in it is
/// found by the insert, and the batch is stored again, looking: the resend
/// answers the original and the new messages take the next seqs, no hole.
async fn a_resend_among_new_messages_leaves_no_hole(store: DynStore) {
    let [a, b] = users(&store, &["alice", "bob"]).await[..] else {
        unreachable!()
    };
    let g = store.create_group(a, "Team", &[b], 1).await.unwrap();
    let first = store.append(&[new_message(g, a, 1, "one")]).await.unwrap();
    let out = store
        .append(&[
            new_message(g, b, 7, "two"),
            new_message(g, a, 1, "one, resent"),
            new_message(g, a, 2, "three"),
        ])
        .await
        .unwrap();
    assert_eq!(stored(&out[0]).seq, 2);
    assert!(
        matches!(&out[1], Appended::Duplicate(m) if m.seq == 1 && m.id == stored(&first[0]).id),
        "the resend answers the original: {:?}",
        out[1]
    );
    assert_eq!(stored(&out[2]).seq, 3);
    assert_eq!(store.head(g).await.unwrap(), Some(3));
    let seqs: Vec<i64> = store
        .messages_after(g, 0, 10)
        .await
        .unwrap()
        .iter()
        .map(|m| m.seq)
        .collect();
    assert_eq!(seqs, vec![1, 2, 3]);
}

async fn append_assigns_consecutive_seqs_and_dedups(store: DynStore) {
    let [a, b] = users(&store, &["alice", "bob"]).await[..] else {
        unreachable!()
    };
    let g = store.create_group(a, "Team", &[b], 1).await.unwrap();
    let batch = [
        new_message(g, a, 1, "one"),
        new_message(g, b, 2, "two"),
        new_message(g, a, 1, "one again"),
    ];
    let out = store.append(&batch).await.unwrap();
    // What the store read back carries the sender's display name.
    let original = chat::protocol::Message {
        from: "ALICE".into(),
        ..stored(&out[0]).clone()
    };
    assert_eq!(stored(&out[0]).seq, 1);
    assert_eq!(stored(&out[1]).seq, 2);
    assert_eq!(
        out[2],
        Appended::Duplicate(stored(&out[0]).clone()),
        "same cid in one batch: the first, as stored"
    );
    let again = store
        .append(&[new_message(g, a, 1, "resent later")])
        .await
        .unwrap();
    assert_eq!(
        again,
        vec![Appended::Duplicate(original.clone())],
        "the original, not the resend"
    );
    // The same cid from another sender is another message.
    let other = store.append(&[new_message(g, b, 1, "bob's own")]).await.unwrap();
    assert_eq!(stored(&other[0]).seq, 3);
    assert_eq!(store.head(g).await.unwrap(), Some(3));
    let seen_by_a = store.room_of(g, a).await.unwrap().unwrap();
    assert_eq!(
        (seen_by_a.head_seq, seen_by_a.read_seq),
        (3, 1),
        "sending moves the sender's read mark"
    );
    assert_eq!(store.room_of(g, b).await.unwrap().unwrap().read_seq, 3);
    assert_eq!(
        seen_by_a.preview.as_deref(),
        Some("bob's own"),
        "the last message is the preview"
    );
    let all = store.messages_after(g, 0, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        vec!["one", "two", "bob's own"]
    );
    assert_eq!(all[0], original);
}

async fn append_refuses_strangers_and_unknown_rooms(store: DynStore) {
    let [a, b, c] = users(&store, &["alice", "bob", "carol"]).await[..] else {
        unreachable!()
    };
    let g = store.create_group(a, "Team", &[b], 1).await.unwrap();
    let out = store
        .append(&[
            new_message(g, c, 1, "let me in"),
            new_message(g + 99, a, 2, "nowhere"),
            new_message(g, a, 3, "ok"),
        ])
        .await
        .unwrap();
    assert_eq!(out[0], Appended::NotMember);
    assert_eq!(out[1], Appended::NoSuchRoom);
    assert_eq!(stored(&out[2]).seq, 1, "refused messages take no seq");
    assert_eq!(store.head(g).await.unwrap(), Some(1));
    assert_eq!(store.head(g + 99).await.unwrap(), None);
}

async fn sync_pages_forward_and_history_backward(store: DynStore) {
    let [a] = users(&store, &["alice"]).await[..] else {
        unreachable!()
    };
    let g = store.create_group(a, "Notes", &[], 1).await.unwrap();
    let batch: Vec<_> = (1..=25).map(|i| new_message(g, a, i, &format!("n{i}"))).collect();
    store.append(&batch).await.unwrap();
    let seqs = |v: Vec<chat::protocol::Message>| v.into_iter().map(|m| m.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs(store.messages_after(g, 0, 10).await.unwrap()),
        (1..=10).collect::<Vec<_>>()
    );
    assert_eq!(
        seqs(store.messages_after(g, 20, 10).await.unwrap()),
        (21..=25).collect::<Vec<_>>()
    );
    assert!(store.messages_after(g, 25, 10).await.unwrap().is_empty());
    assert_eq!(
        seqs(store.messages_before(g, 26, 10).await.unwrap()),
        (16..=25).collect::<Vec<_>>()
    );
    assert_eq!(
        seqs(store.messages_before(g, 4, 10).await.unwrap()),
        vec![1, 2, 3]
    );
    assert!(store.messages_before(g, 1, 10).await.unwrap().is_empty());
}

async fn concurrent_appends_make_one_gap_free_order(store: DynStore) {
    let ids = users(&store, &["alice", "bob", "carol", "dave"]).await;
    let g = store.create_group(ids[0], "Busy", &ids, 1).await.unwrap();
    let tasks: Vec<_> = ids
        .iter()
        .map(|&sender| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..20u128 {
                    // Every message is sent twice, as a retransmit would.
                    for _ in 0..2 {
                        let out = store.append(&[new_message(g, sender, i, "x")]).await.unwrap();
                        match &out[0] {
                            Appended::Stored(m) | Appended::Duplicate(m) => seqs.push(m.seq),
                            other => panic!("{other:?}"),
                        }
                    }
                }
                seqs
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        let seqs = t.await.unwrap();
        for pair in seqs.chunks(2) {
            assert_eq!(pair[0], pair[1], "a resend returns the original seq");
        }
        all.extend(seqs.into_iter().step_by(2));
    }
    all.sort_unstable();
    assert_eq!(all, (1..=80).collect::<Vec<_>>(), "one seq each, no holes");
    assert_eq!(store.head(g).await.unwrap(), Some(80));
}

async fn a_rooms_marks_are_summed_from_its_indexes(store: DynStore) {
    let people = users(&store, &["ann", "ben", "cat", "dan", "eve"]).await;
    let [a, b, c, d, e] = people[..] else {
        unreachable!()
    };
    let g = store.create_group(a, "Five", &[b, c, d, e], 1).await.unwrap();
    let batch: Vec<_> = (1..=10).map(|i| new_message(g, a, i, "x")).collect();
    store.append(&batch).await.unwrap();
    // a sent all ten (its marks rose with them); b read 4, c read 7, d holds 9, e nothing.
    let reports = [(g, b, 4, 4), (g, c, 7, 7), (g, d, 9, 0)];
    let stored = store.raise_marks_all(&reports).await.unwrap();
    assert!(
        stored.iter().all(|m| m.is_some_and(|m| m.rose)),
        "one round, every report stored"
    );
    assert_eq!(
        store
            .raise_marks_all(&[(g, b, 1, 1), (g, 99, 1, 1)])
            .await
            .unwrap(),
        vec![
            Some(StoredMarks {
                delivered: 4,
                read: 4,
                read_n: 4,
                rose: false
            }),
            None
        ],
        "lower moves nothing; a stranger has no marks"
    );

    let s = store.mark_summary(g, 5, &[a, c]).await.unwrap();
    assert_eq!(s.members, 5);
    assert_eq!(s.lowest_delivered, vec![(e, 0), (b, 4)]);
    assert_eq!(s.lowest_read[0].1, 0);
    assert_eq!(s.lowest_read.len(), 2, "d and e read nothing");
    // Read marks at or after 5 (and past the lowest, 0): c at 7, a at 10.
    assert_eq!(s.reads, vec![(7, 1), (10, 1)]);
    let mut own = s.own.clone();
    own.sort_unstable();
    assert_eq!(own, vec![(a, 10, 10), (c, 7, 7)]);
    let none = store.mark_summary(g, 0, &[]).await.unwrap();
    assert!(none.own.is_empty());
    assert_eq!(none.reads.len(), 3, "from the lowest read on: 4, 7, 10");
}

async fn marks_only_ever_rise(store: DynStore) {
    let [a, b, c] = users(&store, &["alice", "bob", "carol"]).await[..] else {
        unreachable!()
    };
    let g = store.create_group(a, "Team", &[b], 1).await.unwrap();
    let batch: Vec<_> = (1..=10).map(|i| new_message(g, a, i, "x")).collect();
    store.append(&batch).await.unwrap();
    // Every row is a message here: the n at a seq is the seq.
    let marks = |delivered, read, rose| {
        Some(StoredMarks {
            delivered,
            read,
            read_n: read,
            rose,
        })
    };
    assert_eq!(store.raise_marks(g, b, 5, 3).await.unwrap(), marks(5, 3, true));
    assert_eq!(
        store.raise_marks(g, b, 2, 1).await.unwrap(),
        marks(5, 3, false),
        "never back, and says nothing rose"
    );
    assert_eq!(
        store.raise_marks(g, b, 0, 8).await.unwrap(),
        marks(8, 8, true),
        "read implies delivered"
    );
    let listed = store.member_marks(g, 100).await.unwrap();
    let of_b = listed.iter().find(|m| m.user == b).unwrap();
    assert_eq!((of_b.delivered, of_b.read), (8, 8));
    assert_eq!(store.head_and_kind(g).await.unwrap(), Some((10, RoomKind::Group)));
    assert_eq!(store.head_and_kind(g + 9).await.unwrap(), None);
    assert_eq!(store.room_of(g, b).await.unwrap().unwrap().unread(), 2);
    assert_eq!(store.raise_marks(g, c, 5, 5).await.unwrap(), None, "not a member");
    assert_eq!(
        store.raise_marks(g + 9, b, 5, 5).await.unwrap(),
        None,
        "no such room"
    );
}

async fn contacts_share_a_direct_or_small_room(store: DynStore) {
    let [a, b, c, d, e] = users(&store, &["alice", "bob", "carol", "dave", "erin"]).await[..] else {
        unreachable!()
    };
    store.open_direct(a, b, 1).await.unwrap();
    store.create_group(a, "Small", &[c], 1).await.unwrap();
    store.create_group(a, "Big", &[c, d, e], 1).await.unwrap();
    let ids = |v: Vec<(i64, Option<i64>)>| v.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.contacts(a, 3).await.unwrap()),
        vec![b, c],
        "Big has 4 > 3 members"
    );
    assert_eq!(ids(store.contacts(a, 4).await.unwrap()), vec![b, c, d, e]);
    assert_eq!(ids(store.contacts(d, 3).await.unwrap()), Vec::<i64>::new());
    store.record_seen(&[], &[(b, 50)]).await.unwrap();
    store.record_seen(&[], &[(b, 40)]).await.unwrap();
    assert_eq!(
        store.contacts(a, 3).await.unwrap()[0],
        (b, Some(50)),
        "never moves back"
    );
    assert_eq!(store.contacts(a, 3).await.unwrap()[1], (c, None), "never seen");
}

async fn push_subscriptions_belong_to_a_session(store: DynStore) {
    let [a, b] = users(&store, &["alice", "bob"]).await[..] else {
        unreachable!()
    };
    store.create_session(b"phone", a, 1, 1_000).await.unwrap();
    store.create_session(b"laptop", a, 1, 1_000).await.unwrap();
    store.create_session(b"bobs", b, 1, 1_000).await.unwrap();
    let sub = |user, endpoint: &str| PushSubscription {
        user,
        endpoint: endpoint.into(),
        p256dh: "key".into(),
        auth: "auth".into(),
    };
    store
        .save_push_subscription(&sub(a, "https://push/1"), b"phone", 2)
        .await
        .unwrap();
    store
        .save_push_subscription(&sub(a, "https://push/2"), b"laptop", 2)
        .await
        .unwrap();
    assert_eq!(store.push_subscriptions(a).await.unwrap().len(), 2);
    // The same endpoint again (the device re-subscribed, or someone else logged in on it) replaces it.
    store
        .save_push_subscription(&sub(b, "https://push/2"), b"bobs", 3)
        .await
        .unwrap();
    assert_eq!(
        store.push_subscriptions(a).await.unwrap(),
        vec![sub(a, "https://push/1")]
    );
    assert_eq!(
        store.push_subscriptions(b).await.unwrap(),
        vec![sub(b, "https://push/2")]
    );
    // Only its owner removes one; logging out removes the session's.
    assert!(!store.delete_push_subscription(b, "https://push/1").await.unwrap());
    store.delete_session(b"bobs").await.unwrap();
    assert!(
        store.push_subscriptions(b).await.unwrap().is_empty(),
        "gone with the session"
    );
    store.forget_push_endpoint("https://push/1").await.unwrap();
    assert!(
        store.push_subscriptions(a).await.unwrap().is_empty(),
        "gone when the service says so"
    );
}

/// A session and a push subscription (`https://push/<id>`) for each user.
async fn subscribe_each(store: &DynStore, users: &[i64]) {
    for &user in users {
        let session = format!("session-{user}");
        store
            .create_session(session.as_bytes(), user, 1, 1_000)
            .await
            .unwrap();
        let sub = PushSubscription {
            user,
            endpoint: format!("https://push/{user}"),
            p256dh: "key".into(),
            auth: "auth".into(),
        };
        store
            .save_push_subscription(&sub, session.as_bytes(), 2)
            .await
            .unwrap();
    }
}

async fn a_rooms_pushes_go_to_its_other_members(store: DynStore) {
    let [a, b, c, d] = users(&store, &["alice", "bob", "carol", "dan"]).await[..] else {
        unreachable!()
    };
    subscribe_each(&store, &[a, b, c, d]).await;
    let g = store.create_group(a, "Team", &[b, c], 1).await.unwrap();
    let dm = store.open_direct(b, d, 1).await.unwrap();
    let mut users: Vec<i64> = store
        .room_push_subscriptions(g, a)
        .await
        .unwrap()
        .iter()
        .map(|s| s.user)
        .collect();
    users.sort();
    assert_eq!(users, vec![b, c], "members but the sender; not Dan");
    let batch: Vec<_> = (1..=4).map(|i| new_message(g, a, i, "x")).collect();
    store.append(&batch).await.unwrap();
    store.append(&[new_message(dm, d, 9, "hi")]).await.unwrap();
    assert_eq!(
        store.unread_total(b).await.unwrap(),
        5,
        "4 in the group + 1 direct"
    );
    store.raise_marks(g, b, 4, 3).await.unwrap();
    assert_eq!(store.unread_total(b).await.unwrap(), 2);
    assert_eq!(store.unread_total(a).await.unwrap(), 0, "nothing for the sender");
}

async fn a_muted_room_pushes_to_no_one_who_muted_it(store: DynStore) {
    let [a, b, c] = users(&store, &["alice", "bob", "carol"]).await[..] else {
        unreachable!()
    };
    subscribe_each(&store, &[b, c]).await;
    let g = store.create_group(a, "Team", &[b, c], 1).await.unwrap();
    assert_eq!(
        store.room_of(g, b).await.unwrap().unwrap().notify,
        Notify::All,
        "all by default"
    );
    assert!(store.set_notify(g, b, Notify::None).await.unwrap());
    assert!(
        !store.set_notify(g + 99, b, Notify::None).await.unwrap(),
        "not a member"
    );
    assert_eq!(store.room_of(g, b).await.unwrap().unwrap().notify, Notify::None);
    assert_eq!(store.rooms_of(b).await.unwrap()[0].notify, Notify::None);
    assert_eq!(
        store.room_of(g, c).await.unwrap().unwrap().notify,
        Notify::All,
        "per member"
    );
    let to: Vec<i64> = store
        .room_push_subscriptions(g, a)
        .await
        .unwrap()
        .iter()
        .map(|s| s.user)
        .collect();
    assert_eq!(to, vec![c]);
    store.set_notify(g, b, Notify::All).await.unwrap();
    assert_eq!(store.room_push_subscriptions(g, a).await.unwrap().len(), 2);
}

async fn the_first_setting_stored_wins(store: DynStore) {
    assert_eq!(store.setting_or_insert("vapid", "first").await.unwrap(), "first");
    assert_eq!(store.setting_or_insert("vapid", "second").await.unwrap(), "first");
}

/// SQLite alone: a reopened store plans with table statistics (row counts)
/// but without histogram samples, with which a statement is compiled again
/// whenever a bound value changes. (Without the fix, ANALYZE leaves samples
/// of the same indexes it counts.)
#[tokio::test]
async fn sqlite_keeps_row_counts_without_samples() {
    let (url, _dir) = crate::common::sqlite_url();
    let store = crate::common::open(&url).await;
    let handles: Vec<String> = (0..300).map(|i| format!("user{i}")).collect();
    let handles: Vec<&str> = handles.iter().map(String::as_str).collect();
    let ids = users(&store, &handles).await;
    for pair in ids.chunks(2) {
        store.open_direct(pair[0], pair[1], 1).await.unwrap();
    }
    store.close().await;
    drop(store);
    let store = crate::common::open(&url).await;
    let db = sqlx::SqlitePool::connect(&url).await.unwrap();
    let count = |sql: &'static str| {
        let db = db.clone();
        async move { sqlx::query_as::<_, (i64,)>(sql).fetch_one(&db).await.unwrap().0 }
    };
    assert!(
        count("SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'members'").await > 0,
        "the members' indexes are counted"
    );
    // Reloading the statistics makes the table again, empty.
    assert_eq!(count("SELECT COUNT(*) FROM sqlite_stat4").await, 0, "no samples");
    store.close().await;
}
