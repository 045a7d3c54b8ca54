//! The storage conformance suite: the same tests against SQLite and
//! PostgreSQL (a fresh database per test; see tests/common).

mod common;

use chat::model::{Role, RoomKind};
use chat::server::storage::{Access, DynStore, StoreError};

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let (url, _dir) = crate::common::sqlite_url();
                    super::$name(crate::common::open(&url).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(url) = crate::common::postgres_url().await {
                        super::$name(crate::common::open(&url).await).await;
                    }
                }
            )*
        }
    };
}

conformance!(
    users_have_unique_handles,
    sessions_expire_and_end,
    direct_rooms_are_one_per_pair,
    groups_have_an_owner_and_members,
    added_members_start_at_the_head,
    access_tells_unknown_rooms_from_strangers,
    rooms_list_latest_first_with_counts,
    concurrent_direct_opens_make_one_room,
);

async fn users(store: &DynStore, handles: &[&str]) -> Vec<i64> {
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
