//! Managing groups through the real surface, on SQLite and PostgreSQL:
//! who may rename, add, remove, set roles, hand over and leave (each
//! refusal a clear error that changes nothing), each change a row of the
//! room's stream in order, and a removed member cut off at once — no
//! later message, send, reaction or history — keeping what they had,
//! read-only; across two nodes too.

use chat::error::ApiError;
use chat::groups::Change;
use chat::model::{Kind, Role, RoomSummary};
use chat::protocol::{ClientFrame, ErrorCode, Message, ServerFrame};
use chat::server::Config;
use serde_json::json;
use uuid::Uuid;

use crate::common::{self, api, api_err, sign_up, ws::connect, ws::Ws, Node, TestServer};

async fn servers() -> Vec<(TestServer, Option<tempfile::TempDir>)> {
    let (url, dir) = common::sqlite_url();
    let mut out = vec![(TestServer::start(Config::for_database(&url)).await, Some(dir))];
    if let Some(pg) = common::postgres_url().await {
        out.push((TestServer::start(Config::for_database(&pg)).await, None));
    }
    out
}

/// The room as `cookie`'s holder lists it.
async fn listed(server: &impl Node, cookie: &str, room: i64) -> Option<RoomSummary> {
    let rooms: Vec<RoomSummary> = api(server, cookie, "my_rooms", json!({})).await;
    rooms.into_iter().find(|r| r.id == room)
}

/// The next room row the socket gets.
async fn next_change(ws: &mut Ws) -> (Message, Change) {
    match ws
        .recv_until(|f| matches!(f, ServerFrame::Msg(m) if m.kind == Kind::Room))
        .await
    {
        ServerFrame::Msg(m) => {
            let c = m.change.clone().expect("a room row carries its change");
            (m, c)
        }
        _ => unreachable!(),
    }
}

fn send(room: i64, body: &str) -> ClientFrame {
    ClientFrame::Send {
        room,
        cid: Uuid::new_v4(),
        body: body.into(),
        reply_to: None,
        mentions: vec![],
        files: vec![],
    }
}

/// Refused with a 403 that says `says`, and the room's stream did not move.
async fn refused(server: &impl Node, cookie: &str, call: &str, body: serde_json::Value, owner: &str) {
    let room = body["room"].as_i64().unwrap();
    let before = listed(server, owner, room).await.unwrap();
    let err = api_err(server, cookie, call, body.clone()).await;
    assert!(matches!(err, ApiError::Forbidden(_)), "{call} {body}: {err:?}");
    let after = listed(server, owner, room).await.unwrap();
    assert_eq!(
        (after.head_seq, &after.name, after.member_count),
        (before.head_seq, &before.name, before.member_count),
        "{call} changed nothing"
    );
}

#[tokio::test]
async fn roles_decide_who_may_change_a_group_and_every_change_is_a_row() {
    for (server, _dir) in servers().await {
        let (_ann, a) = sign_up(&server, "ann").await;
        let (ben, b) = sign_up(&server, "ben").await;
        let (cat, c) = sign_up(&server, "cat").await;
        let (dan, _d) = sign_up(&server, "dan").await;
        let (eve, _e) = sign_up(&server, "eve").await;
        let (_, stranger) = sign_up(&server, "fay").await;
        let (mut watching, _) = connect(&server, &c).await;
        let group: RoomSummary = api(
            &server,
            &a,
            "create_group",
            json!({"name": "Team", "members": ["ben", "cat", "dan"]}),
        )
        .await;
        let room = group.id;
        assert_eq!(group.role, Role::Owner);
        let joined = watching
            .recv_until(|f| matches!(f, ServerFrame::Room(r) if r.id == room))
            .await;
        assert!(
            matches!(joined, ServerFrame::Room(ref r) if r.role == Role::Member),
            "the others are members: {joined:?}"
        );

        // A member changes nothing but may leave.
        refused(
            &server,
            &b,
            "rename_room",
            json!({"room": room, "name": "Mine"}),
            &a,
        )
        .await;
        refused(
            &server,
            &b,
            "describe_room",
            json!({"room": room, "text": "x"}),
            &a,
        )
        .await;
        refused(
            &server,
            &b,
            "add_members",
            json!({"room": room, "handles": ["eve"]}),
            &a,
        )
        .await;
        refused(
            &server,
            &b,
            "remove_member",
            json!({"room": room, "user": cat.id}),
            &a,
        )
        .await;
        refused(
            &server,
            &b,
            "set_role",
            json!({"room": room, "user": cat.id, "role": "admin"}),
            &a,
        )
        .await;
        refused(
            &server,
            &b,
            "hand_over",
            json!({"room": room, "user": cat.id}),
            &a,
        )
        .await;
        // Strangers and unknown rooms.
        refused(
            &server,
            &stranger,
            "rename_room",
            json!({"room": room, "name": "Mine"}),
            &a,
        )
        .await;
        let none = api_err(&server, &a, "rename_room", json!({"room": 999_999, "name": "x"})).await;
        assert!(matches!(none, ApiError::NotFound(_)), "{none:?}");

        // The owner makes ben an admin: a row everyone in the room sees.
        let s: RoomSummary = api(
            &server,
            &a,
            "set_role",
            json!({"room": room, "user": ben.id, "role": "admin"}),
        )
        .await;
        assert_eq!(s.changed, s.head_seq);
        let (row, change) = next_change(&mut watching).await;
        assert_eq!(row.seq, s.head_seq);
        assert!(
            matches!(change, Change::Role { ref user, role: Role::Admin } if user.id == ben.id),
            "{change:?}"
        );
        assert_eq!(
            row.n, 0,
            "a room row is not a message: it counts for nothing unread"
        );
        assert_eq!(listed(&server, &c, room).await.unwrap().unread(), 0);

        // An admin renames, describes, adds and removes members …
        let _: RoomSummary = api(
            &server,
            &b,
            "rename_room",
            json!({"room": room, "name": "  Team   two "}),
        )
        .await;
        let (_, change) = next_change(&mut watching).await;
        assert_eq!(
            change,
            Change::Renamed {
                name: "Team two".into()
            }
        );
        let _: RoomSummary = api(
            &server,
            &b,
            "describe_room",
            json!({"room": room, "text": "Plans\nand more"}),
        )
        .await;
        let (_, change) = next_change(&mut watching).await;
        assert_eq!(
            change,
            Change::Described {
                text: "Plans\nand more".into()
            }
        );
        let s = listed(&server, &c, room).await.unwrap();
        assert_eq!(
            (s.name.as_str(), s.description.as_str()),
            ("Team two", "Plans\nand more")
        );
        let page: chat::model::MemberPage = api(
            &server,
            &b,
            "add_members",
            json!({"room": room, "handles": ["eve"]}),
        )
        .await;
        assert_eq!(page.total, 5);
        let (_, change) = next_change(&mut watching).await;
        assert!(
            matches!(change, Change::Added { ref users, count: 1 } if users[0].id == eve.id),
            "{change:?}"
        );
        let head = listed(&server, &c, room).await.unwrap().head_seq;
        let again: chat::model::MemberPage = api(
            &server,
            &b,
            "add_members",
            json!({"room": room, "handles": ["eve"]}),
        )
        .await;
        assert_eq!(again.total, 5, "adding again is harmless");
        assert_eq!(
            listed(&server, &c, room).await.unwrap().head_seq,
            head,
            "and says nothing"
        );

        // … but not the owner, not another admin, and sets no roles.
        let _: RoomSummary = api(
            &server,
            &a,
            "set_role",
            json!({"room": room, "user": dan.id, "role": "admin"}),
        )
        .await;
        refused(
            &server,
            &b,
            "remove_member",
            json!({"room": room, "user": _ann.id}),
            &a,
        )
        .await;
        refused(
            &server,
            &b,
            "remove_member",
            json!({"room": room, "user": dan.id}),
            &a,
        )
        .await;
        refused(
            &server,
            &b,
            "set_role",
            json!({"room": room, "user": cat.id, "role": "admin"}),
            &a,
        )
        .await;
        // Nobody makes a second owner by setting a role.
        refused(
            &server,
            &a,
            "set_role",
            json!({"room": room, "user": cat.id, "role": "owner"}),
            &a,
        )
        .await;
        let _: RoomSummary = api(
            &server,
            &b,
            "remove_member",
            json!({"room": room, "user": eve.id}),
        )
        .await;

        // Bad input: a clear 400, nothing changed.
        for name in ["", "Team\u{202e}owt", "x\u{7}", &"n".repeat(81)] {
            let err = api_err(&server, &a, "rename_room", json!({"room": room, "name": name})).await;
            assert!(matches!(err, ApiError::Invalid(_)), "{name:?}: {err:?}");
        }
        let long = api_err(
            &server,
            &a,
            "describe_room",
            json!({"room": room, "text": "d".repeat(501)}),
        )
        .await;
        assert!(matches!(long, ApiError::Invalid(_)), "{long:?}");
        let gone = api_err(
            &server,
            &a,
            "remove_member",
            json!({"room": room, "user": eve.id}),
        )
        .await;
        assert!(
            matches!(gone, ApiError::NotFound(_)),
            "not in it any more: {gone:?}"
        );
        let me = api_err(
            &server,
            &a,
            "remove_member",
            json!({"room": room, "user": _ann.id}),
        )
        .await;
        assert!(matches!(me, ApiError::Invalid(_)), "oneself: {me:?}");
        let direct: RoomSummary = api(&server, &a, "open_direct", json!({"handle": "ben"})).await;
        let err = api_err(
            &server,
            &a,
            "rename_room",
            json!({"room": direct.id, "name": "x"}),
        )
        .await;
        assert!(
            matches!(err, ApiError::Invalid(_)),
            "a direct room has no settings: {err:?}"
        );
        let err = api_err(&server, &a, "leave_room", json!({"room": direct.id})).await;
        assert!(matches!(err, ApiError::Invalid(_)), "{err:?}");

        // The stream holds every change in order, for anyone who syncs.
        watching
            .send(&ClientFrame::Sync {
                room,
                after: 0,
                limit: None,
            })
            .await;
        let batch = watching
            .recv_until(|f| matches!(f, ServerFrame::Batch { .. }))
            .await;
        let ServerFrame::Batch { msgs, .. } = batch else {
            unreachable!()
        };
        let ops: Vec<&'static str> = msgs
            .iter()
            .filter_map(|m| m.change.as_ref())
            .map(|c| match c {
                Change::Role { .. } => "role",
                Change::Renamed { .. } => "renamed",
                Change::Described { .. } => "described",
                Change::Avatar { .. } => "avatar",
                Change::Added { .. } => "added",
                Change::Removed { .. } => "removed",
                Change::Left { .. } => "left",
                Change::HandedOver { .. } => "handed_over",
                Change::Profile { .. } => "profile",
            })
            .collect();
        assert_eq!(ops, ["role", "renamed", "described", "added", "role", "removed"]);
        assert!(msgs.windows(2).all(|w| w[1].seq == w[0].seq + 1), "no holes");
        let _ = cat;
    }
}

#[tokio::test]
async fn ownership_is_handed_over_or_passes_to_the_next_in_line_when_the_owner_leaves() {
    for (server, _dir) in servers().await {
        let (ann, a) = sign_up(&server, "ann").await;
        let (ben, b) = sign_up(&server, "ben").await;
        let (cat, c) = sign_up(&server, "cat").await;
        let (dan, d) = sign_up(&server, "dan").await;
        let group: RoomSummary = api(
            &server,
            &a,
            "create_group",
            json!({"name": "Club", "members": ["ben", "cat", "dan"]}),
        )
        .await;
        let room = group.id;

        // Handing over: ben owns it, ann is an admin and sets no roles now.
        let mine: RoomSummary = api(&server, &a, "hand_over", json!({"room": room, "user": ben.id})).await;
        assert_eq!(mine.role, Role::Admin);
        assert_eq!(listed(&server, &b, room).await.unwrap().role, Role::Owner);
        refused(
            &server,
            &a,
            "set_role",
            json!({"room": room, "user": cat.id, "role": "admin"}),
            &b,
        )
        .await;

        // ben makes dan an admin, then leaves: the admin takes over, not
        // cat, who has been in as long.
        let _: RoomSummary = api(
            &server,
            &b,
            "set_role",
            json!({"room": room, "user": dan.id, "role": "admin"}),
        )
        .await;
        let kept: RoomSummary = api(&server, &b, "leave_room", json!({"room": room})).await;
        assert!(kept.left, "ben keeps it, read-only");
        let ann_now = listed(&server, &a, room).await.unwrap();
        // ann (an admin since before dan) is first in line.
        assert_eq!(ann_now.role, Role::Owner, "the longest-standing admin owns it");
        assert_eq!(listed(&server, &d, room).await.unwrap().role, Role::Admin);
        assert_eq!(ann_now.member_count, 3);

        // Everyone leaves; the last one leaves an empty group behind.
        for cookie in [&c, &d, &a] {
            let s: RoomSummary = api(&server, cookie, "leave_room", json!({"room": room})).await;
            assert!(s.left);
        }
        let err = api_err(&server, &a, "leave_room", json!({"room": room})).await;
        assert!(matches!(err, ApiError::Forbidden(_)), "left already: {err:?}");
        let _ = (ann, cat);
    }
}

#[tokio::test]
async fn a_removed_member_gets_nothing_more_and_keeps_what_they_had() {
    for (server, _dir) in servers().await {
        let (_, a) = sign_up(&server, "ann").await;
        let (ben, b) = sign_up(&server, "ben").await;
        let group: RoomSummary = api(
            &server,
            &a,
            "create_group",
            json!({"name": "G", "members": ["ben"]}),
        )
        .await;
        let room = group.id;
        let (mut anns, _) = connect(&server, &a).await;
        let (mut bens, _) = connect(&server, &b).await;
        anns.send(&send(room, "before")).await;
        let before = match bens.recv_until(|f| matches!(f, ServerFrame::Msg(_))).await {
            ServerFrame::Msg(m) => m,
            _ => unreachable!(),
        };

        let _: RoomSummary = api(
            &server,
            &a,
            "remove_member",
            json!({"room": room, "user": ben.id}),
        )
        .await;
        let (row, change) = next_change(&mut bens).await;
        assert!(matches!(change, Change::Removed { ref user } if user.id == ben.id));
        let summary = bens
            .recv_until(|f| matches!(f, ServerFrame::Room(r) if r.id == room))
            .await;
        let ServerFrame::Room(summary) = summary else {
            unreachable!()
        };
        assert!(summary.left && summary.head_seq == row.seq, "{summary:?}");

        // Nothing later reaches ben, and ben can do nothing there.
        anns.send(&send(room, "after")).await;
        anns.recv_until(|f| matches!(f, ServerFrame::Ack { .. })).await;
        let seen = bens.frames_until_pong().await;
        assert!(
            !seen
                .iter()
                .any(|f| matches!(f, ServerFrame::Msg(_) | ServerFrame::Typing { .. })),
            "{seen:?}"
        );
        bens.send(&send(room, "let me back")).await;
        let err = bens.recv_until(|f| matches!(f, ServerFrame::Error { .. })).await;
        assert!(
            matches!(
                err,
                ServerFrame::Error {
                    code: ErrorCode::NotMember,
                    ..
                }
            ),
            "{err:?}"
        );
        bens.send(&ClientFrame::React {
            room,
            cid: Uuid::new_v4(),
            target: before.seq,
            emoji: "👍".into(),
        })
        .await;
        let err = bens.recv_until(|f| matches!(f, ServerFrame::Error { .. })).await;
        assert!(
            matches!(
                err,
                ServerFrame::Error {
                    code: ErrorCode::NotMember,
                    ..
                }
            ),
            "{err:?}"
        );
        bens.send(&ClientFrame::Typing { room }).await;
        assert!(!anns
            .frames_until_pong()
            .await
            .iter()
            .any(|f| matches!(f, ServerFrame::Typing { .. })));
        let page: chat::model::MemberPage = api(&server, &b, "room_members", json!({"room": room})).await;
        assert_eq!(page.total, 0, "who is in is not for those who left");
        let files = api_err(&server, &b, "room_files", json!({"room": room, "before": null})).await;
        assert!(matches!(files, ApiError::Forbidden(_)), "{files:?}");

        // What ben had stays readable, up to the row that removed him.
        for frame in [
            ClientFrame::Sync {
                room,
                after: 0,
                limit: None,
            },
            ClientFrame::History {
                room,
                before: 1_000,
                limit: None,
            },
            ClientFrame::Around {
                room,
                seq: before.seq,
                limit: None,
            },
        ] {
            bens.send(&frame).await;
            let ServerFrame::Batch { msgs, more, .. } =
                bens.recv_until(|f| matches!(f, ServerFrame::Batch { .. })).await
            else {
                unreachable!()
            };
            assert_eq!(msgs.last().map(|m| m.seq), Some(row.seq), "{frame:?}");
            assert!(msgs.iter().any(|m| m.body == "before") && !msgs.iter().any(|m| m.body == "after"));
            assert!(!more);
        }
        bens.send(&ClientFrame::Sync {
            room,
            after: row.seq + 1,
            limit: None,
        })
        .await;
        let err = bens.recv_until(|f| matches!(f, ServerFrame::Error { .. })).await;
        assert!(
            matches!(
                err,
                ServerFrame::Error {
                    code: ErrorCode::BadFrame,
                    ..
                }
            ),
            "{err:?}"
        );
        // A new socket lists the group, read-only.
        let (_, welcome) = connect(&server, &b).await;
        let ServerFrame::Welcome { rooms, .. } = welcome else {
            unreachable!()
        };
        let kept = rooms.iter().find(|r| r.id == room).expect("still listed");
        assert!(
            kept.left && kept.head_seq == row.seq && kept.unread() == 0,
            "{kept:?}"
        );

        // Added again, ben is a member like any other.
        let _: chat::model::MemberPage = api(
            &server,
            &a,
            "add_members",
            json!({"room": room, "handles": ["ben"]}),
        )
        .await;
        let back = listed(&server, &b, room).await.unwrap();
        assert!(!back.left && back.role == Role::Member, "{back:?}");
        let (mut fresh, _) = connect(&server, &b).await;
        anns.send(&send(room, "welcome back")).await;
        let got = fresh
            .recv_until(|f| matches!(f, ServerFrame::Msg(m) if m.kind == Kind::Message))
            .await;
        assert!(matches!(got, ServerFrame::Msg(m) if m.body == "welcome back"));
    }
}

/// Two nodes over one PostgreSQL and Redis: ben's socket on node 1 stops
/// getting the room the moment ann removes him through node 0.
#[tokio::test]
async fn a_removed_member_is_cut_off_on_another_node() {
    let Some(nodes) = crate::cluster::cluster(2).await else {
        return;
    };
    let (_, a) = sign_up(&nodes[0], "ann").await;
    let (ben, b) = sign_up(&nodes[1], "ben").await;
    let group: RoomSummary = api(
        &nodes[0],
        &a,
        "create_group",
        json!({"name": "G", "members": ["ben"]}),
    )
    .await;
    let room = group.id;
    let (mut anns, _) = connect(&nodes[0], &a).await;
    let (mut bens, _) = connect(&nodes[1], &b).await;
    anns.send(&send(room, "hello")).await;
    bens.recv_until(|f| matches!(f, ServerFrame::Msg(m) if m.body == "hello"))
        .await;

    let _: RoomSummary = api(
        &nodes[0],
        &a,
        "remove_member",
        json!({"room": room, "user": ben.id}),
    )
    .await;
    let (_, change) = next_change(&mut bens).await;
    assert!(matches!(change, Change::Removed { ref user } if user.id == ben.id));
    anns.send(&send(room, "not for ben")).await;
    anns.recv_until(|f| matches!(f, ServerFrame::Ack { .. })).await;
    // Node 1 had the message as soon as node 0 published it; a second
    // round trip through node 0's bus makes sure it would have arrived.
    anns.send(&send(room, "nor this")).await;
    anns.recv_until(|f| matches!(f, ServerFrame::Ack { .. })).await;
    let seen = bens.frames_until_pong().await;
    assert!(!seen.iter().any(|f| matches!(f, ServerFrame::Msg(_))), "{seen:?}");
    bens.send(&send(room, "hi?")).await;
    let err = bens.recv_until(|f| matches!(f, ServerFrame::Error { .. })).await;
    assert!(
        matches!(
            err,
            ServerFrame::Error {
                code: ErrorCode::NotMember,
                ..
            }
        ),
        "{err:?}"
    );
}
