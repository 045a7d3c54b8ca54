//! One's profile through the real surface, on SQLite and PostgreSQL: a new
//! display name and status line reach every room of the person as a row
//! of its stream (live, and resumed by sync), the other person of a direct
//! room sees the new name and status in its summary; bad names and
//! statuses are refused with nothing changed; the notification default
//! applies to rooms joined afterwards.

use chat::error::ApiError;
use chat::groups::Change;
use chat::model::{Kind, Notify, Profile, RoomSummary};
use chat::protocol::{ClientFrame, ServerFrame};
use chat::server::Config;
use serde_json::json;

use crate::common::{self, api, api_err, sign_up, ws::connect, TestServer};

async fn servers() -> Vec<(TestServer, Option<tempfile::TempDir>)> {
    let (url, dir) = common::sqlite_url();
    let mut out = vec![(TestServer::start(Config::for_database(&url)).await, Some(dir))];
    if let Some(pg) = common::postgres_url().await {
        out.push((TestServer::start(Config::for_database(&pg)).await, None));
    }
    out
}

#[tokio::test]
async fn a_new_name_and_status_reach_every_room_as_a_row() {
    for (server, _dir) in servers().await {
        let (ann, a) = sign_up(&server, "ann").await;
        let (_, b) = sign_up(&server, "ben").await;
        let (_, c) = sign_up(&server, "cat").await;
        let direct: RoomSummary = api(&server, &b, "open_direct", json!({"handle": "ann"})).await;
        let group: RoomSummary = api(
            &server,
            &a,
            "create_group",
            json!({"name": "G", "members": ["cat"]}),
        )
        .await;
        let (mut bens, _) = connect(&server, &b).await;
        let (mut cats, _) = connect(&server, &c).await;

        let p: Profile = api(
            &server,
            &a,
            "update_profile",
            json!({"display_name": "  Annie  B ", "status": "On holiday"}),
        )
        .await;
        assert_eq!(
            (p.user.display_name.as_str(), p.status.as_str()),
            ("Annie B", "On holiday")
        );
        for (ws, room) in [(&mut bens, direct.id), (&mut cats, group.id)] {
            let row = ws
                .recv_until(|f| matches!(f, ServerFrame::Msg(m) if m.kind == Kind::Room))
                .await;
            let ServerFrame::Msg(row) = row else {
                unreachable!()
            };
            assert_eq!((row.room, row.sender, row.n), (room, ann.id, 0));
            assert_eq!(
                row.change,
                Some(Change::Profile {
                    user: chat::model::User {
                        display_name: "Annie B".into(),
                        ..ann.clone()
                    },
                    was: "ann".into(),
                    status: "On holiday".into(),
                })
            );
        }
        // The direct room's summary names her anew, with her status.
        let rooms: Vec<RoomSummary> = api(&server, &b, "my_rooms", json!({})).await;
        let d = rooms.iter().find(|r| r.id == direct.id).unwrap();
        assert_eq!(
            (d.name.as_str(), d.peer_status.as_str(), d.changed),
            ("Annie B", "On holiday", d.head_seq)
        );
        assert_eq!(d.unread(), 0, "a profile row is not a message");
        // Sync brings the row to a device that was away.
        bens.send(&ClientFrame::Sync {
            room: direct.id,
            after: 0,
            limit: None,
        })
        .await;
        let ServerFrame::Batch { msgs, .. } =
            bens.recv_until(|f| matches!(f, ServerFrame::Batch { .. })).await
        else {
            unreachable!()
        };
        assert!(msgs
            .iter()
            .any(|m| matches!(m.change, Some(Change::Profile { .. }))));

        // The same profile again writes nothing.
        let head = d.head_seq;
        let _: Profile = api(
            &server,
            &a,
            "update_profile",
            json!({"display_name": "Annie B", "status": "On holiday"}),
        )
        .await;
        let rooms: Vec<RoomSummary> = api(&server, &b, "my_rooms", json!({})).await;
        assert_eq!(rooms.iter().find(|r| r.id == direct.id).unwrap().head_seq, head);

        // Bad input: refused, nothing changed.
        for (name, status) in [
            ("", "x"),
            ("Ann\u{202e}", ""),
            ("A\u{200b}nn", ""),
            (&*"n".repeat(65), ""),
            ("Ann", &*"s".repeat(141)),
            ("Ann", "a\u{7}b"),
        ] {
            let err = api_err(
                &server,
                &a,
                "update_profile",
                json!({"display_name": name, "status": status}),
            )
            .await;
            assert!(
                matches!(err, ApiError::Invalid(_)),
                "{name:?} {status:?}: {err:?}"
            );
        }
        let now: Profile = api(&server, &a, "my_profile", json!({})).await;
        assert_eq!(now.user.display_name, "Annie B");
    }
}

#[tokio::test]
async fn the_notification_default_applies_to_rooms_joined_after_it() {
    for (server, _dir) in servers().await {
        let (_, a) = sign_up(&server, "ann").await;
        let (_, b) = sign_up(&server, "ben").await;
        let before: RoomSummary = api(
            &server,
            &a,
            "create_group",
            json!({"name": "Before", "members": ["ben"]}),
        )
        .await;
        let p: Profile = api(&server, &b, "set_notify_default", json!({"notify": "mentions"})).await;
        assert_eq!(p.notify_default, Notify::Mentions);
        let after: RoomSummary = api(
            &server,
            &a,
            "create_group",
            json!({"name": "After", "members": ["ben"]}),
        )
        .await;
        let direct: RoomSummary = api(&server, &a, "open_direct", json!({"handle": "ben"})).await;
        let rooms: Vec<RoomSummary> = api(&server, &b, "my_rooms", json!({})).await;
        let notify = |id| rooms.iter().find(|r| r.id == id).unwrap().notify;
        assert_eq!(notify(before.id), Notify::All, "rooms joined before keep theirs");
        assert_eq!(notify(after.id), Notify::Mentions);
        assert_eq!(notify(direct.id), Notify::Mentions);
        let mine: Vec<RoomSummary> = api(&server, &a, "my_rooms", json!({})).await;
        assert!(
            mine.iter().all(|r| r.notify == Notify::All),
            "ann's own default is untouched"
        );
    }
}
