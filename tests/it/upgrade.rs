//! A database made by an earlier version keeps its data through the
//! migrations that came after (SQLite rebuilds tables to widen a check):
//! the schema as it was before groups were managed is made with the
//! migrations of that time, filled, then opened by this version.

use chat::model::Role;
use chat::server::storage::{Ask, NewChange, StoreError};
use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;

use crate::common;

/// The migrations of `dir` up to and including `last`, in a directory of their own.
fn migrations_until(dir: &str, last: &str) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.as_str() <= last {
            std::fs::copy(&path, out.path().join(&name)).unwrap();
        }
    }
    out
}

/// The rows an older version wrote (`{ids}`: where PostgreSQL is told to
/// take the ids given).
const FILL: &str = "
    INSERT INTO users (id, handle, display_name, password_hash, created_at) {ids} VALUES
        (1, 'ann', 'Ann', 'x', 1), (2, 'ben', 'Ben', 'x', 1), (3, 'bill', 'Bill', 'x', 1), (4, 'bi11', 'Bi', 'x', 1);
    INSERT INTO rooms (id, kind, name, head_seq, head_n, created_by, created_at, last_activity) {ids}
        VALUES (1, 'group', 'Old', 2, 1, 1, 1, 1);
    INSERT INTO members (room_id, user_id, role, delivered_seq, read_seq, read_n, joined_at, notify)
        VALUES (1, 1, 'owner', 2, 2, 1, 1, 'all'), (1, 2, 'member', 1, 1, 1, 1, 'none');
    INSERT INTO messages (room_id, seq, id, sender_id, client_msg_id, body, created_at, kind, target, n, version, edited_at)
        VALUES (1, 1, X'00000000000000000000000000000001', 1, X'00000000000000000000000000000011', 'hello again', 5, 'message', NULL, 1, 2, 6),
               (1, 2, X'00000000000000000000000000000002', 1, X'00000000000000000000000000000012', 'hello again', 6, 'edit', 1, 1, 2, NULL);";

async fn upgraded(url: &str, dir: &str, last: &str, fill: &str) {
    let old = migrations_until(dir, last);
    let migrator = sqlx::migrate::Migrator::new(old.path()).await.unwrap();
    if url.starts_with("sqlite:") {
        let options = SqliteConnectOptions::from_str(url)
            .unwrap()
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        migrator.run(&pool).await.unwrap();
        sqlx::raw_sql(&fill.replace("{ids}", ""))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        migrator.run(&pool).await.unwrap();
        // PostgreSQL's identity columns take given ids only when told.
        // … and read bytes written as hex text.
        let fill = fill
            .replace("{ids}", "OVERRIDING SYSTEM VALUE")
            .replace("X'", "'\\x");
        sqlx::raw_sql(&fill).execute(&pool).await.unwrap();
        pool.close().await;
    }

    let store = common::open(url).await;
    // The people stored before the directory are indexed at start-up.
    assert_eq!(store.people_backlog(500).await.unwrap(), 4);
    assert_eq!(store.people_backlog(500).await.unwrap(), 0);
    let found = store.find_people("be", 1, 0, 10).await.unwrap();
    assert_eq!(found.iter().map(|p| p.user.id).collect::<Vec<_>>(), [2]);
    // Handles that looked alike before the check stay; the oldest of them
    // is the one a new look-alike is refused for.
    assert!(store.credentials("bi11").await.unwrap().is_some());
    match store.create_user("bil1", "Bil", "x", 2).await {
        Err(StoreError::HandleLookAlike(near)) => assert_eq!(near, "bill"),
        other => panic!("{other:?}"),
    }
    let msgs = store.messages_after(1, 0, 10).await.unwrap();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert_eq!(
        (msgs[0].body.as_str(), msgs[0].edited, msgs[0].version),
        ("hello again", Some(6), 2)
    );
    let rooms = store.rooms_of(2).await.unwrap();
    assert_eq!(rooms.len(), 1);
    assert_eq!(
        (rooms[0].name.as_str(), rooms[0].role, rooms[0].read_seq),
        ("Old", Role::Member, 1)
    );
    assert_eq!(rooms[0].notify, chat::model::Notify::None, "settings kept");
    // The wider checks hold: a room row and an admin.
    let made = store
        .change_room(&NewChange {
            room: 1,
            sender: 1,
            ask: Ask::SetRole(2, Role::Admin),
            id: uuid::Uuid::now_v7(),
            ts: 10,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(made.row.seq, 3);
    assert_eq!(store.rooms_of(2).await.unwrap()[0].role, Role::Admin);
    store.close().await;
}

#[tokio::test]
async fn an_older_database_keeps_its_data_on_both_backends() {
    let (url, _dir) = common::sqlite_url();
    upgraded(&url, "migrations/sqlite", "0010_sessions.sql", FILL).await;
    if let Some(pg) = common::postgres_url().await {
        upgraded(&pg, "migrations/postgres", "0011_sessions.sql", FILL).await;
    }
}
