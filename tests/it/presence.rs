//! Presence, typing and member marks over real WebSockets: who hears that a
//! contact came or went, who hears typing, and what a report that moves
//! nothing costs (nothing).

use crate::common;

use std::time::Duration;

use chat::model::RoomSummary;
use chat::protocol::{ClientFrame, ErrorCode, Presence, ServerFrame, Ticks};
use chat::server::Config;
use common::ws::{connect, Ws};
use common::{api, sign_up, TestServer};
use serde_json::json;
use uuid::Uuid;

async fn server_with(edit: impl FnOnce(&mut Config)) -> (TestServer, tempfile::TempDir) {
    let (url, dir) = common::sqlite_url();
    let mut config = Config::for_database(&url);
    edit(&mut config);
    (TestServer::start(config).await, dir)
}

async fn direct(server: &TestServer, cookie: &str, handle: &str) -> RoomSummary {
    api(server, cookie, "open_direct", json!({ "handle": handle })).await
}

fn contacts(welcome: &ServerFrame) -> Vec<Presence> {
    match welcome {
        ServerFrame::Welcome { contacts, .. } => contacts.clone(),
        other => panic!("not a welcome: {other:?}"),
    }
}

async fn presence_of(ws: &mut Ws, user: i64) -> Presence {
    match ws
        .recv_until(|f| matches!(f, ServerFrame::Presence(p) if p.user == user))
        .await
    {
        ServerFrame::Presence(p) => p,
        _ => unreachable!(),
    }
}

/// The code of the next error frame.
async fn error_code(ws: &mut Ws) -> ErrorCode {
    match ws.recv_until(|f| matches!(f, ServerFrame::Error { .. })).await {
        ServerFrame::Error { code, .. } => code,
        _ => unreachable!(),
    }
}

/// Pings and returns every frame that came before the pong.
#[tokio::test]
async fn a_contact_that_dies_without_a_close_frame_goes_offline_within_the_timeout() {
    let (server, _dir) = server_with(|c| {
        c.heartbeat_ms = 100;
        c.heartbeat_timeout_ms = 300;
    })
    .await;
    let (_, a) = sign_up(&server, "alice").await;
    let (bob, b) = sign_up(&server, "bob").await;
    direct(&server, &a, "bob").await;

    let (mut wa, welcome) = connect(&server, &a).await;
    assert_eq!(
        contacts(&welcome),
        vec![Presence {
            user: bob.id,
            online: false,
            last_seen: None
        }],
        "never seen yet"
    );
    let (wb, welcome) = connect(&server, &b).await;
    assert!(contacts(&welcome)[0].online, "bob sees alice online");
    assert!(presence_of(&mut wa, bob.id).await.online);

    // Bob's device freezes: the socket stays open but answers nothing.
    let frozen = wb;
    let went = tokio::time::timeout(Duration::from_secs(5), presence_of(&mut wa, bob.id))
        .await
        .expect("offline well within the 45 s default: the shortened timeout applies");
    assert!(!went.online);
    let last_seen = went.last_seen.expect("last seen is stamped");
    drop(frozen);

    // A device connecting later reads the stored last-seen time.
    let (_wa2, welcome) = connect(&server, &a).await;
    assert_eq!(
        contacts(&welcome),
        vec![Presence {
            user: bob.id,
            online: false,
            last_seen: Some(last_seen)
        }]
    );
}

#[tokio::test]
async fn presence_is_not_sent_to_members_of_large_rooms() {
    let (server, _dir) = server_with(|c| c.presence_max_members = 2).await;
    let (alice, a) = sign_up(&server, "alice").await;
    let (_, b) = sign_up(&server, "bob").await;
    let (_, c) = sign_up(&server, "carol").await;
    // Bob shares only a group of three (over the limit of 2) with alice;
    // carol also has a direct room with her.
    let _: RoomSummary = api(
        &server,
        &a,
        "create_group",
        json!({"name": "Trio", "members": ["bob", "carol"]}),
    )
    .await;
    direct(&server, &c, "alice").await;

    let (mut wb, welcome) = connect(&server, &b).await;
    assert!(contacts(&welcome).is_empty());
    let (mut wc, welcome) = connect(&server, &c).await;
    assert_eq!(contacts(&welcome).len(), 1);
    let (_wa, _) = connect(&server, &a).await;
    assert!(presence_of(&mut wc, alice.id).await.online);
    // Carol heard it, so it was fanned out; bob had nothing queued.
    let before_pong = wb.frames_until_pong().await;
    assert!(
        !before_pong.iter().any(|f| matches!(f, ServerFrame::Presence(_))),
        "{before_pong:?}"
    );
}

#[tokio::test]
async fn typing_reaches_the_rooms_online_members_and_floods_are_dropped() {
    let (server, _dir) = server_with(|_| {}).await;
    let (alice, a) = sign_up(&server, "alice").await;
    let (_, b) = sign_up(&server, "bob").await;
    let (_, s) = sign_up(&server, "stranger").await;
    let room = direct(&server, &a, "bob").await;
    let (mut wa, _) = connect(&server, &a).await;
    let (mut wb, _) = connect(&server, &b).await;
    let (mut ws, _) = connect(&server, &s).await;

    wa.send(&ClientFrame::Typing { room: room.id }).await;
    let heard = wb.recv_until(|f| matches!(f, ServerFrame::Typing { .. })).await;
    assert_eq!(
        heard,
        ServerFrame::Typing {
            room: room.id,
            user: alice.id,
            name: alice.display_name.clone()
        }
    );
    // A flood: the first extra frame is answered once, the rest are dropped.
    for _ in 0..20 {
        wa.send(&ClientFrame::Typing { room: room.id }).await;
    }
    let to_alice = wa.frames_until_pong().await;
    let limited = to_alice
        .iter()
        .filter(|f| {
            matches!(
                f,
                ServerFrame::Error {
                    code: ErrorCode::RateLimited,
                    ..
                }
            )
        })
        .count();
    assert_eq!(limited, 1, "{to_alice:?}");
    let to_bob = wb.frames_until_pong().await;
    assert!(
        !to_bob.iter().any(|f| matches!(f, ServerFrame::Typing { .. })),
        "no relayed flood: {to_bob:?}"
    );

    ws.send(&ClientFrame::Typing { room: room.id }).await;
    assert_eq!(error_code(&mut ws).await, ErrorCode::NotMember);
}

#[tokio::test]
async fn members_carry_marks_and_a_report_that_moves_nothing_is_not_fanned_out() {
    let (server, _dir) = server_with(|_| {}).await;
    let (alice, a) = sign_up(&server, "alice").await;
    let (bob, b) = sign_up(&server, "bob").await;
    let (_, s) = sign_up(&server, "stranger").await;
    let room = direct(&server, &a, "bob").await;
    let (mut wa, _) = connect(&server, &a).await;
    for body in ["one", "two"] {
        let cid = Uuid::new_v4();
        wa.send(&ClientFrame::Send {
            reply_to: None,
            room: room.id,
            cid,
            body: body.into(),
            mentions: vec![],
            files: vec![],
        })
        .await;
        wa.recv_until(|f| matches!(f, ServerFrame::Ack { .. })).await;
    }
    let (mut wb, _) = connect(&server, &b).await;
    wb.send(&ClientFrame::Read {
        room: room.id,
        seq: 2,
    })
    .await;
    let ticks = wa.recv_until(|f| matches!(f, ServerFrame::Ticks { .. })).await;
    assert_eq!(
        ticks,
        ServerFrame::Ticks {
            room: room.id,
            ticks: Ticks {
                delivered: 2,
                read: 2,
                of: 1,
                counts: vec![]
            }
        },
        "in a direct room at once: both of alice's messages are read"
    );

    // A lower report: bob is told where his marks stand; alice hears nothing.
    wb.send(&ClientFrame::Read {
        room: room.id,
        seq: 1,
    })
    .await;
    let answer = wb.recv_until(|f| matches!(f, ServerFrame::Receipt { .. })).await;
    assert!(matches!(answer, ServerFrame::Receipt { read: 2, .. }));
    let to_alice = wa.frames_until_pong().await;
    assert!(
        !to_alice
            .iter()
            .any(|f| matches!(f, ServerFrame::Receipt { .. } | ServerFrame::Ticks { .. })),
        "{to_alice:?}"
    );

    wa.send(&ClientFrame::Members { room: room.id }).await;
    let ServerFrame::Members { members, ticks, .. } =
        wa.recv_until(|f| matches!(f, ServerFrame::Members { .. })).await
    else {
        unreachable!()
    };
    let marks: Vec<(i64, i64, i64)> = members.iter().map(|m| (m.user, m.delivered, m.read)).collect();
    assert_eq!(marks, vec![(alice.id, 2, 2), (bob.id, 2, 2)]);
    assert_eq!(
        (ticks.delivered, ticks.read, ticks.of),
        (2, 2, 1),
        "with alice's ticks"
    );

    let (mut ws, _) = connect(&server, &s).await;
    ws.send(&ClientFrame::Members { room: room.id }).await;
    assert_eq!(error_code(&mut ws).await, ErrorCode::NotMember);
    wb.send(&ClientFrame::Delivered {
        room: room.id,
        seq: 3,
    })
    .await;
    assert_eq!(error_code(&mut wb).await, ErrorCode::BadFrame);
}

#[tokio::test]
async fn new_contacts_learn_each_others_presence_when_the_room_is_made() {
    let (server, _dir) = server_with(|_| {}).await;
    let (alice, a) = sign_up(&server, "alice").await;
    let (bob, b) = sign_up(&server, "bob").await;
    let (carol, _) = sign_up(&server, "carol").await;
    let (mut wa, welcome) = connect(&server, &a).await;
    assert!(contacts(&welcome).is_empty(), "no rooms, no contacts");
    let (mut wb, _) = connect(&server, &b).await;

    direct(&server, &a, "bob").await;
    assert!(presence_of(&mut wa, bob.id).await.online);
    assert!(presence_of(&mut wb, alice.id).await.online);

    // Carol, never online, joins a group with alice: alice hears she is offline.
    let _: RoomSummary = api(
        &server,
        &a,
        "create_group",
        json!({"name": "Duo", "members": ["carol"]}),
    )
    .await;
    let p = presence_of(&mut wa, carol.id).await;
    assert_eq!((p.online, p.last_seen), (false, None));
}
