//! Receipts at every scale (design §10): a member's marks go to their own
//! devices, the ticks they make go to the senders whose messages they
//! change, as counts, coalesced in a group; who read a message is asked
//! for, paged, by its sender only. Real sockets, a real SQLite.

use crate::common;
use crate::ws::{acks, embedded, send, trio};

use chat::model::RoomSummary;
use chat::protocol::{ClientFrame, ErrorCode, ServerFrame};
use chat::server::auth;
use common::ws::{connect, Ws};
use common::{api, sign_up};
use serde_json::json;
use uuid::Uuid;

/// The next ticks of `room` (delivered, read, of), skipping other frames.
async fn ticks_of(ws: &mut Ws, room: i64) -> (i64, i64, u32) {
    match ws
        .recv_until(|f| matches!(f, ServerFrame::Ticks { room: r, .. } if *r == room))
        .await
    {
        ServerFrame::Ticks { ticks, .. } => (ticks.delivered, ticks.read, ticks.of),
        _ => unreachable!(),
    }
}

/// The receipt about `user` in `room`, skipping other frames.
async fn receipt_of(ws: &mut Ws, room: i64, user: i64) -> (i64, i64) {
    match ws
        .recv_until(
            |f| matches!(f, ServerFrame::Receipt { room: r, user: u, .. } if *r == room && *u == user),
        )
        .await
    {
        ServerFrame::Receipt { delivered, read, .. } => (delivered, read),
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn read_marks_rise_only_and_reach_the_other_side() {
    let (server, _dir) = embedded().await;
    let (alice, a) = sign_up(&server, "alice").await;
    let (bob, b) = sign_up(&server, "bob").await;
    let dm: RoomSummary = api(&server, &a, "open_direct", json!({"handle": "bob"})).await;
    let (mut wa, _) = connect(&server, &a).await;
    for n in 0..3 {
        wa.send(&send(dm.id, Uuid::new_v4(), &format!("m{n}"))).await;
    }
    acks(&mut wa, 3).await;
    let (mut wb, _) = connect(&server, &b).await;
    let (mut wb2, _) = connect(&server, &b).await;

    wb.send(&ClientFrame::Delivered { room: dm.id, seq: 3 }).await;
    assert_eq!(
        ticks_of(&mut wa, dm.id).await,
        (3, 0, 1),
        "in a DM the ticks come at once"
    );
    wb.send(&ClientFrame::Read { room: dm.id, seq: 2 }).await;
    assert_eq!(ticks_of(&mut wa, dm.id).await, (3, 2, 1));
    let first = receipt_of(&mut wb2, dm.id, bob.id).await;
    assert_eq!(first, (3, 0), "bob's other device learns it too");
    assert_eq!(receipt_of(&mut wb2, dm.id, bob.id).await, (3, 2));
    // Drain what is on its way to bob's socket, then report lower.
    wb.send(&ClientFrame::Ping).await;
    wb.recv_until(|f| matches!(f, ServerFrame::Pong)).await;
    wb.send(&ClientFrame::Read { room: dm.id, seq: 1 }).await;
    assert_eq!(
        receipt_of(&mut wb, dm.id, bob.id).await,
        (3, 2),
        "a lower report moves nothing"
    );
    wb.send(&ClientFrame::Ping).await;
    wb.recv_until(|f| matches!(f, ServerFrame::Pong)).await;

    wb.send(&ClientFrame::Read { room: dm.id, seq: 9 }).await;
    assert!(matches!(
        wb.next().await,
        Some(ServerFrame::Error {
            code: ErrorCode::BadFrame,
            ..
        })
    ));
    let seen = server.state.store.room_of(dm.id, bob.id).await.unwrap().unwrap();
    assert_eq!(
        (seen.read_seq, seen.unread()),
        (2, 1),
        "stored as reported, never beyond the head"
    );

    let (_, c) = sign_up(&server, "carol").await;
    let (mut wc, _) = connect(&server, &c).await;
    wc.send(&ClientFrame::Read { room: dm.id, seq: 1 }).await;
    assert!(matches!(
        wc.next().await,
        Some(ServerFrame::Error {
            code: ErrorCode::NotMember,
            ..
        })
    ));
    let to_alice = wa.frames_until_pong().await;
    assert!(
        !to_alice.iter().any(|f| matches!(f, ServerFrame::Receipt { .. })),
        "bob's marks are his: alice sees ticks, {to_alice:?}"
    );
    let _ = alice;
}

#[tokio::test]
async fn group_receipts_are_coalesced() {
    let (server, _dir) = embedded().await;
    let ([a, b, _], room) = trio(&server).await;
    let (mut wa, welcome) = connect(&server, &a).await;
    let ServerFrame::Welcome { .. } = welcome else {
        unreachable!()
    };
    for n in 0..5 {
        wa.send(&send(room.id, Uuid::new_v4(), &format!("m{n}"))).await;
    }
    acks(&mut wa, 5).await;
    let (mut wb, welcome) = connect(&server, &b).await;
    let ServerFrame::Welcome { user: bob, .. } = welcome else {
        unreachable!()
    };
    for seq in 1..=5 {
        wb.send(&ClientFrame::Read { room: room.id, seq }).await;
    }
    // Alice gets her ticks once, as counts: all five read by one of two.
    let ServerFrame::Ticks { ticks, .. } = wa.recv_until(|f| matches!(f, ServerFrame::Ticks { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(
        (ticks.delivered, ticks.read, ticks.of),
        (0, 0, 2),
        "carol has none"
    );
    let counts: Vec<(i64, u32)> = ticks.counts.iter().map(|c| (c.seq, c.read)).collect();
    assert_eq!(counts, (1..=5).map(|s| (s, 1)).collect::<Vec<_>>());
    let rest = wa.frames_until_pong().await;
    assert!(
        !rest
            .iter()
            .any(|f| matches!(f, ServerFrame::Ticks { .. } | ServerFrame::Receipt { .. })),
        "no second frame, and never bob's marks: {rest:?}"
    );
    // Bob's marks reach bob's devices (the answers, and one coalesced receipt).
    let to_bob = wb.frames_until_pong().await;
    assert!(to_bob
        .iter()
        .all(|f| !matches!(f, ServerFrame::Receipt { user, .. } if *user != bob.id)));
}
#[tokio::test]
async fn a_reply_moves_the_ticks_of_what_it_answers_and_a_lone_talker_costs_none() {
    let (server, _dir) = embedded().await;
    let ([a, b, _], room) = trio(&server).await;
    let (mut wa, _) = connect(&server, &a).await;
    let (mut wb, _) = connect(&server, &b).await;
    // Alice talks alone: her own rows pass only her own mark, no ticks move.
    for n in 0..3 {
        wa.send(&send(room.id, Uuid::new_v4(), &format!("m{n}"))).await;
    }
    acks(&mut wa, 3).await;
    tokio::time::sleep(std::time::Duration::from_millis(1_300)).await;
    let quiet = wa.frames_until_pong().await;
    assert!(
        !quiet.iter().any(|f| matches!(f, ServerFrame::Ticks { .. })),
        "no ticks for a lone talker: {quiet:?}"
    );
    // Bob answers without reporting anything: sending raised his mark past
    // her three, so her ticks say so.
    wb.send(&send(room.id, Uuid::new_v4(), "answer")).await;
    let ServerFrame::Ticks { ticks, .. } = wa.recv_until(|f| matches!(f, ServerFrame::Ticks { .. })).await
    else {
        unreachable!()
    };
    assert_eq!((ticks.read, ticks.of), (0, 2), "carol has read nothing");
    let counts: Vec<(i64, u32)> = ticks.counts.iter().map(|c| (c.seq, c.read)).collect();
    assert_eq!(counts, vec![(1, 1), (2, 1), (3, 1)], "bob read all three");
}

/// How many members the fan-out test puts in one group, all online.
const MEMBERS: usize = 200;

#[tokio::test]
async fn a_groups_receipts_go_to_their_owners_and_the_sender_not_to_everyone() {
    let (server, _dir) = embedded().await;
    let (users, cookies, room) = crowd(&server, MEMBERS).await;
    let mut socks = Vec::with_capacity(MEMBERS);
    for cookie in &cookies {
        socks.push(connect(&server, cookie).await.0);
    }

    // The first member writes five messages; everyone holds them, and
    // a tenth of the others read them too, each reporting like the browser.
    for n in 0..5 {
        socks[0].send(&send(room, Uuid::new_v4(), &format!("m{n}"))).await;
    }
    acks(&mut socks[0], 5).await;
    let readers: Vec<usize> = (1..MEMBERS).filter(|i| i % 10 == 0).collect();
    for (i, ws) in socks.iter_mut().enumerate().skip(1) {
        ws.recv_until(|f| matches!(f, ServerFrame::Msg(m) if m.seq == 5))
            .await;
        // Read covers delivered: a reader sends that alone.
        match readers.contains(&i) {
            true => ws.send(&ClientFrame::Read { room, seq: 5 }).await,
            false => ws.send(&ClientFrame::Delivered { room, seq: 5 }).await,
        }
    }

    // The sender's ticks: all delivered, each read by the readers.
    let ticks = loop {
        let ServerFrame::Ticks { ticks, .. } = socks[0]
            .recv_until(|f| matches!(f, ServerFrame::Ticks { .. }))
            .await
        else {
            unreachable!()
        };
        if ticks.delivered == 5 && ticks.counts.iter().all(|c| c.read as usize == readers.len()) {
            break ticks;
        }
    };
    assert_eq!((ticks.read, ticks.of as usize), (0, MEMBERS - 1));
    assert_eq!(ticks.counts.len(), 5);

    // Everyone else got their own marks only: the answer to each report
    // and one coalesced receipt, never anyone else's, and no ticks.
    let mut most = 0;
    for (i, ws) in socks.iter_mut().enumerate().skip(1) {
        let frames = ws.frames_until_pong().await;
        let receipts: Vec<&ServerFrame> = frames
            .iter()
            .filter(|f| matches!(f, ServerFrame::Receipt { .. } | ServerFrame::Ticks { .. }))
            .collect();
        assert!(
            receipts
                .iter()
                .all(|f| matches!(f, ServerFrame::Receipt { user, .. } if *user == users[i])),
            "member {i} got {receipts:?}"
        );
        most = most.max(receipts.len());
    }
    assert!(
        (1..=2).contains(&most),
        "a member gets the answer to its report and one receipt, not one per member: {most}"
    );

    // Who read them: the sender asks, a page at a time.
    socks[0]
        .send(&ClientFrame::ReadBy {
            room,
            seq: 3,
            after: None,
        })
        .await;
    let ServerFrame::ReadBy {
        users: read, more, ..
    } = socks[0]
        .recv_until(|f| matches!(f, ServerFrame::ReadBy { .. }))
        .await
    else {
        unreachable!()
    };
    let expected: Vec<i64> = readers.iter().map(|&i| users[i]).collect();
    assert_eq!(read.iter().map(|u| u.user).collect::<Vec<_>>(), expected);
    assert!(!more, "{} readers fit one page", readers.len());
    assert_eq!(read[0].name, format!("Member {}", readers[0]));
    // Nobody else may ask, and only about a message.
    socks[1]
        .send(&ClientFrame::ReadBy {
            room,
            seq: 3,
            after: None,
        })
        .await;
    assert!(matches!(
        socks[1]
            .recv_until(|f| matches!(f, ServerFrame::Error { .. }))
            .await,
        ServerFrame::Error {
            code: ErrorCode::Forbidden,
            ..
        }
    ));
    socks[0]
        .send(&ClientFrame::ReadBy {
            room,
            seq: 99,
            after: None,
        })
        .await;
    assert!(matches!(
        socks[0]
            .recv_until(|f| matches!(f, ServerFrame::Error { .. }))
            .await,
        ServerFrame::Error {
            code: ErrorCode::UnknownMessage,
            ..
        }
    ));
}

#[tokio::test]
async fn read_by_pages_through_many_readers() {
    let (server, _dir) = embedded().await;
    let store = &server.state.store;
    let now = chrono_now();
    let mut users = Vec::new();
    for i in 0..120 {
        users.push(
            store
                .create_user(&format!("r{i}"), "", "-", now)
                .await
                .unwrap()
                .id,
        );
    }
    let room = store
        .create_group(users[0], "Readers", &users[1..], now)
        .await
        .unwrap();
    let (token, hash) = auth::new_token();
    store
        .create_session(&hash, users[0], now, now + 3_600_000)
        .await
        .unwrap();
    let (mut ws, _) = connect(&server, &format!("{}={token}", auth::COOKIE)).await;
    ws.send(&send(room, Uuid::new_v4(), "hello all")).await;
    acks(&mut ws, 1).await;
    for &u in &users[1..] {
        store.raise_marks(room, u, 1, 1).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        ws.send(&ClientFrame::ReadBy { room, seq: 1, after }).await;
        let ServerFrame::ReadBy {
            users: page, more, ..
        } = ws.recv_until(|f| matches!(f, ServerFrame::ReadBy { .. })).await
        else {
            unreachable!()
        };
        assert!(page.len() <= 50);
        after = page.last().map(|u| u.user);
        seen.extend(page.into_iter().map(|u| u.user));
        if !more {
            break;
        }
    }
    assert_eq!(
        seen,
        users[1..].to_vec(),
        "every reader once, in order, the sender left out"
    );
}

/// `n` people with a session each and a group of all of them that the
/// first made, written straight into storage (signing up 200 people over
/// HTTP would test the password hash, not this): ids, cookies, the room.
pub async fn crowd(server: &common::TestServer, n: usize) -> (Vec<i64>, Vec<String>, i64) {
    let store = &server.state.store;
    let now = chrono_now();
    let mut users = Vec::with_capacity(n);
    let mut cookies = Vec::with_capacity(n);
    for i in 0..n {
        let user = store
            .create_user(&format!("m{i}"), &format!("Member {i}"), "-", now)
            .await
            .unwrap();
        let (token, hash) = auth::new_token();
        store
            .create_session(&hash, user.id, now, now + 3_600_000)
            .await
            .unwrap();
        cookies.push(format!("{}={token}", auth::COOKIE));
        users.push(user.id);
    }
    let room = store
        .create_group(users[0], "Everyone", &users[1..], now)
        .await
        .unwrap();
    (users, cookies, room)
}

#[tokio::test]
async fn a_big_rooms_typing_announces_a_few_people_at_a_time() {
    let (server, _dir) = embedded().await;
    let (_, cookies, room) = crowd(&server, 8).await;
    let mut socks = Vec::new();
    for cookie in &cookies {
        socks.push(connect(&server, cookie).await.0);
    }
    // Seven people start typing at once; the first one watches.
    for ws in socks.iter_mut().skip(1) {
        ws.send(&ClientFrame::Typing { room }).await;
    }
    // Each typist's own frame comes back to it after the room's limit
    // decided: once all have, the watcher has all it will get.
    for ws in socks.iter_mut().skip(1) {
        ws.frames_until_pong().await;
    }
    let seen = socks[0].frames_until_pong().await;
    let typing = seen
        .iter()
        .filter(|f| matches!(f, ServerFrame::Typing { .. }))
        .count();
    assert_eq!(typing, 4, "a few names, then \"several\": {seen:?}");
}

#[tokio::test]
async fn a_big_rooms_members_come_a_page_first_then_by_name() {
    let (server, _dir) = embedded().await;
    let (users, cookies, room) = crowd(&server, 230).await;
    let (mut ws, _) = connect(&server, &cookies[0]).await;
    ws.send(&ClientFrame::Members { room }).await;
    let ServerFrame::Members { members, more, .. } =
        ws.recv_until(|f| matches!(f, ServerFrame::Members { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(
        (members.len(), more),
        (200, true),
        "never the whole room in one frame"
    );
    // "Member 22" and "Member 229" are found by a prefix of a word of their names.
    let find = |prefix: &str| ClientFrame::FindMembers {
        room,
        prefix: prefix.into(),
    };
    ws.send(&find("member 22")).await;
    let ServerFrame::Found { members: found, .. } =
        ws.recv_until(|f| matches!(f, ServerFrame::Found { .. })).await
    else {
        unreachable!()
    };
    let ids: Vec<i64> = found.iter().map(|m| m.user).collect();
    assert!(ids.contains(&users[229]) && ids.contains(&users[22]), "{found:?}");
    assert!(found.len() <= 20);
    ws.send(&find("229")).await;
    let ServerFrame::Found { members: found, .. } =
        ws.recv_until(|f| matches!(f, ServerFrame::Found { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(
        found.iter().map(|m| m.user).collect::<Vec<_>>(),
        vec![users[229]],
        "a word of the name"
    );
    // LIKE's characters typed by a person are only characters.
    ws.send(&find("%")).await;
    let ServerFrame::Found { members: found, .. } =
        ws.recv_until(|f| matches!(f, ServerFrame::Found { .. })).await
    else {
        unreachable!()
    };
    assert!(found.is_empty(), "{found:?}");
    ws.send(&find("  ")).await;
    assert!(matches!(
        ws.recv_until(|f| matches!(f, ServerFrame::Error { .. })).await,
        ServerFrame::Error {
            code: ErrorCode::BadFrame,
            ..
        }
    ));
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
