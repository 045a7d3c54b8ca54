//! Blocking and reports through the real surface, on SQLite and
//! PostgreSQL: a blocked person's direct messages are acked and stored but
//! never reach the one who blocked them (live, in their unread count, in
//! the summary that hides them), they cannot start a conversation with
//! them or add them to a group, and unblocking lets later messages through
//! while those sent meanwhile stay hidden. A report keeps the message's
//! text as it was.

use chat::error::ApiError;
use chat::model::{MemberPage, RoomSummary, User};
use chat::protocol::{ClientFrame, ServerFrame};
use chat::server::Config;
use serde_json::json;
use uuid::Uuid;

use crate::common::{self, api, api_err, sign_up, ws::connect, TestServer};

async fn servers() -> Vec<(TestServer, Option<tempfile::TempDir>)> {
    let (url, dir) = common::sqlite_url();
    let mut out = vec![(TestServer::start(Config::for_database(&url)).await, Some(dir))];
    if let Some(pg) = common::postgres_url().await {
        out.push((TestServer::start(Config::for_database(&pg)).await, None));
    }
    out
}

async fn room_of(server: &TestServer, cookie: &str, room: i64) -> RoomSummary {
    let rooms: Vec<RoomSummary> = api(server, cookie, "my_rooms", json!({})).await;
    rooms.into_iter().find(|r| r.id == room).expect("listed")
}

#[tokio::test]
async fn a_blocked_persons_direct_messages_never_arrive_and_they_cannot_reach_out() {
    for (server, _dir) in servers().await {
        let (ann, a) = sign_up(&server, "ann").await;
        let (ben, b) = sign_up(&server, "ben").await;
        let (cal, c) = sign_up(&server, "cal").await;
        let direct: RoomSummary = api(&server, &b, "open_direct", json!({"handle": "ann"})).await;
        let (mut anns, _) = connect(&server, &a).await;
        let (mut bens, _) = connect(&server, &b).await;
        bens.say(direct.id, "before").await;
        anns.recv_until(|f| matches!(f, ServerFrame::Msg(m) if m.body == "before"))
            .await;

        let list: Vec<User> = api(&server, &a, "block", json!({"user": ben.id})).await;
        assert_eq!(list.iter().map(|u| u.id).collect::<Vec<_>>(), [ben.id]);
        let told = anns
            .recv_until(|f| matches!(f, ServerFrame::Blocked { .. }))
            .await;
        assert!(matches!(told, ServerFrame::Blocked { ref users } if users == &[ben.id]));
        let err = api_err(&server, &a, "block", json!({"user": ann.id})).await;
        assert!(matches!(err, ApiError::Invalid(_)), "{err:?}");

        // Ben is not told: his send is acked, and stored.
        let hidden = bens.say(direct.id, "are you there?").await;
        let seen = anns.frames_until_pong().await;
        assert!(!seen.iter().any(|f| matches!(f, ServerFrame::Msg(_))), "{seen:?}");
        let mine = room_of(&server, &a, direct.id).await;
        assert_eq!(mine.hidden, [hidden], "hidden from ann on every device");
        assert_eq!(
            mine.unread(),
            1,
            "\"before\" only: the hidden one counts for nothing"
        );
        assert!(
            room_of(&server, &b, direct.id).await.hidden.is_empty(),
            "ben sees his message"
        );
        // A new socket of ann's is told whom she blocks, and withholds too.
        let (mut other, welcome) = connect(&server, &a).await;
        assert!(matches!(welcome, ServerFrame::Welcome { ref blocked, .. } if blocked == &[ben.id]));
        bens.say(direct.id, "hello??").await;
        assert!(!other
            .frames_until_pong()
            .await
            .iter()
            .any(|f| matches!(f, ServerFrame::Msg(_))));
        // What ann writes still reaches ben.
        anns.say(direct.id, "please stop").await;
        bens.recv_until(|f| matches!(f, ServerFrame::Msg(m) if m.body == "please stop"))
            .await;

        // Cal blocks ben before they ever talked: ben cannot start a
        // conversation with cal, nor add cal (or ann) to a group.
        let _: Vec<User> = api(&server, &c, "block", json!({"user": ben.id})).await;
        let err = api_err(&server, &b, "open_direct", json!({"handle": "cal"})).await;
        assert!(matches!(err, ApiError::Forbidden(_)), "{err:?}");
        let group: RoomSummary = api(
            &server,
            &b,
            "create_group",
            json!({"name": "G", "members": ["cal", "ann"]}),
        )
        .await;
        assert_eq!(group.member_count, 1, "those who block ben are left out");
        let page: MemberPage = api(
            &server,
            &b,
            "add_members",
            json!({"room": group.id, "handles": ["cal"]}),
        )
        .await;
        assert_eq!(page.total, 1);
        // Cal may still write to ben: blocking is one way.
        let _: RoomSummary = api(&server, &c, "open_direct", json!({"handle": "ben"})).await;

        // Unblocked: what ben sends now arrives; what he sent meanwhile stays hidden.
        let list: Vec<User> = api(&server, &a, "unblock", json!({"user": ben.id})).await;
        assert!(list.is_empty());
        anns.recv_until(|f| matches!(f, ServerFrame::Blocked { users } if users.is_empty()))
            .await;
        bens.say(direct.id, "sorry").await;
        anns.recv_until(|f| matches!(f, ServerFrame::Msg(m) if m.body == "sorry"))
            .await;
        let mine = room_of(&server, &a, direct.id).await;
        assert_eq!(mine.hidden.len(), 2, "{:?}", mine.hidden);
        assert_eq!(mine.unread(), 1);
        let _ = cal;
    }
}

#[tokio::test]
async fn a_report_keeps_the_message_as_it_was() {
    for (server, _dir) in servers().await {
        let (_, a) = sign_up(&server, "ann").await;
        let (_, b) = sign_up(&server, "ben").await;
        let (_, stranger) = sign_up(&server, "cal").await;
        let direct: RoomSummary = api(&server, &b, "open_direct", json!({"handle": "ann"})).await;
        let (mut bens, _) = connect(&server, &b).await;
        let seq = bens.say(direct.id, "something nasty").await;

        let () = api(
            &server,
            &a,
            "report_message",
            json!({"room": direct.id, "seq": seq, "reason": "abuse"}),
        )
        .await;
        let () = api(
            &server,
            &a,
            "report_message",
            json!({"room": direct.id, "seq": seq, "reason": "abuse, again"}),
        )
        .await;
        let missing = api_err(
            &server,
            &a,
            "report_message",
            json!({"room": direct.id, "seq": 999, "reason": ""}),
        )
        .await;
        assert!(matches!(missing, ApiError::NotFound(_)), "{missing:?}");
        let foreign = api_err(
            &server,
            &stranger,
            "report_message",
            json!({"room": direct.id, "seq": seq, "reason": ""}),
        )
        .await;
        assert!(matches!(foreign, ApiError::Forbidden(_)), "{foreign:?}");
        let long = api_err(
            &server,
            &a,
            "report_message",
            json!({"room": direct.id, "seq": seq, "reason": "x".repeat(501)}),
        )
        .await;
        assert!(matches!(long, ApiError::Invalid(_)), "{long:?}");

        // Edited afterwards, the report still holds what was reported.
        bens.send(&ClientFrame::Edit {
            room: direct.id,
            cid: Uuid::new_v4(),
            target: seq,
            body: "something nice".into(),
            mentions: vec![],
        })
        .await;
        bens.recv_until(|f| matches!(f, ServerFrame::Ack { .. })).await;
        let url = server.state.config.database_url.clone();
        let rows: Vec<(String, String)> = if url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            sqlx::query_as("SELECT body, reason FROM reports")
                .fetch_all(&pool)
                .await
                .unwrap()
        } else {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            sqlx::query_as("SELECT body, reason FROM reports")
                .fetch_all(&pool)
                .await
                .unwrap()
        };
        assert_eq!(
            rows,
            [("something nasty".to_string(), "abuse, again".to_string())]
        );
    }
}
