//! Edits, deletes and reactions over real WebSockets: acked and fanned out
//! like messages, resumed after a disconnect, converging on every device to
//! what the database holds; bad changes answered with their `cid`.

use std::collections::BTreeMap;

use chat::model::{Kind, RoomSummary};
use chat::protocol::{ClientFrame, ErrorCode, Seq, ServerFrame};
use chat::sync::Client;
use common::ws::connect;
use common::{api, sign_up, TestServer};
use serde_json::json;
use uuid::Uuid;

use crate::common;
use crate::ws::{ack, client, drive, embedded, trio};

/// What a person sees of each message: body, deleted, edited, reactions
/// (emoji → who, sorted).
type View = BTreeMap<Seq, (String, bool, bool, Vec<(String, Vec<i64>)>)>;

fn view_of(messages: impl Iterator<Item = chat::protocol::Message>) -> View {
    messages
        .map(|m| {
            let mut reactions: Vec<_> = m
                .reactions
                .into_iter()
                .map(|r| {
                    let mut users = r.users;
                    users.sort_unstable();
                    (r.emoji, users)
                })
                .collect();
            reactions.sort();
            (m.seq, (m.body, m.deleted, m.edited.is_some(), reactions))
        })
        .collect()
}

fn client_view(c: &Client, room: i64) -> View {
    view_of(c.room(room).unwrap().messages().cloned())
}

async fn db_view(server: &TestServer, room: i64) -> View {
    let rows = server
        .state
        .store
        .messages_before(room, i64::MAX, 200)
        .await
        .unwrap();
    view_of(rows.into_iter().filter(|m| m.kind.is_message()))
}

/// Sends a change through a client state machine and waits for its ack.
async fn change(c: &mut Client, ws: &mut common::ws::Ws, room: i64, kind: Kind, target: Seq, body: &str) {
    let cid = Uuid::new_v4();
    let out = c.change(room, cid, (kind, target), body.into(), 0);
    drive(c, ws, out.frames, |c| c.outbox().iter().all(|o| o.cid != cid)).await;
}

#[tokio::test]
async fn every_device_converges_live_and_after_coming_back() {
    let (server, _dir) = embedded().await;
    let ([a, b, c], room) = trio(&server).await;
    let id = room.id;
    let (mut ann, mut wa) = client(&server, &a).await;
    let (mut bob, mut wb) = client(&server, &b).await;
    let (mut cat, mut wc) = client(&server, &c).await;
    for body in ["first", "second", "third"] {
        let out = ann.send(id, Uuid::new_v4(), body.into(), 0);
        drive(&mut ann, &mut wa, out.frames, |c| c.outbox().is_empty()).await;
    }
    // Live: Bob sees an edit and a reaction as they happen.
    change(&mut ann, &mut wa, id, Kind::Edit, 1, "first, edited").await;
    change(&mut cat, &mut wc, id, Kind::React, 1, "👍").await;
    drive(&mut bob, &mut wb, vec![], |c| c.room(id).unwrap().last == 5).await;
    let m = &bob.room(id).unwrap().msgs[&1];
    assert_eq!(
        (m.body.as_str(), m.edited.is_some(), m.reactions.len()),
        ("first, edited", true, 1)
    );
    assert_eq!(
        bob.room(id).unwrap().summary.as_ref().unwrap().unread(),
        3,
        "changes are not unread"
    );

    // Bob goes away; Ann deletes and reacts, Cat takes her reaction back.
    drop(wb);
    bob.disconnected();
    change(&mut ann, &mut wa, id, Kind::Delete, 2, "").await;
    change(&mut ann, &mut wa, id, Kind::React, 3, "🎉").await;
    change(&mut cat, &mut wc, id, Kind::Unreact, 1, "👍").await;
    change(&mut ann, &mut wa, id, Kind::Edit, 3, "third, edited").await;

    let mut wb = common::ws::open(&server, Some(&b), None).await.unwrap();
    let first = bob.connected().frames;
    drive(&mut bob, &mut wb, first, |c| c.room(id).unwrap().last == 9).await;
    let want = db_view(&server, id).await;
    assert!(want[&2].1 && want[&2].0.is_empty(), "stored as deleted: {want:?}");
    assert_eq!(client_view(&bob, id), want, "Bob after coming back");
    assert_eq!(
        bob.room(id).unwrap().summary.as_ref().unwrap().unread(),
        2,
        "the deleted one no longer counts"
    );
    drive(&mut ann, &mut wa, vec![], |c| c.room(id).unwrap().last == 9).await;
    assert_eq!(client_view(&ann, id), want, "Ann");
    drive(&mut cat, &mut wc, vec![], |c| c.room(id).unwrap().last == 9).await;
    assert_eq!(client_view(&cat, id), want, "Cat");

    // A device that starts now with the last two rows pages the history
    // back: messages in their current state, the same view.
    let mut fresh = Client::new(chat::sync::Config {
        initial_window: Some(2),
        ..chat::sync::Config::default()
    });
    let (mut wf, welcome) = connect(&server, &b).await;
    fresh.connected();
    let first = fresh.handle(welcome, 0).frames;
    drive(&mut fresh, &mut wf, first, |c| c.room(id).unwrap().last == 9).await;
    assert_eq!(fresh.room(id).unwrap().oldest(), Some(8));
    while fresh.room(id).unwrap().oldest() != Some(1) {
        let first = fresh.load_older(id).frames;
        let before = fresh.room(id).unwrap().oldest();
        drive(&mut fresh, &mut wf, first, |c| {
            c.room(id).unwrap().oldest() != before
        })
        .await;
    }
    assert_eq!(client_view(&fresh, id), want, "a new device");
    // The deleted text is nowhere: not in the pages, not in the cache.
    let rows = server.state.store.messages_after(id, 0, 100).await.unwrap();
    assert!(rows.iter().all(|m| !m.body.contains("second")), "{rows:?}");
    assert!(
        server.state.cache.after(id, 0, 100).await.is_none(),
        "the room's cached run was dropped"
    );
}

#[tokio::test]
async fn bad_changes_are_refused_with_their_cid_and_store_nothing() {
    let (server, _dir) = embedded().await;
    let ([a, b, _], room) = trio(&server).await;
    let (dave, d) = sign_up(&server, "dave").await;
    let dm: RoomSummary = api(&server, &d, "open_direct", json!({"handle": "bob"})).await;
    let (mut wa, _) = connect(&server, &a).await;
    let (mut wb, _) = connect(&server, &b).await;
    let cid = Uuid::new_v4();
    wb.send(&crate::ws::send(room.id, cid, "Bob's")).await;
    ack(&mut wb, cid).await;
    let id = room.id;
    let edit = |target, body: &str| ClientFrame::Edit {
        room: id,
        cid: Uuid::new_v4(),
        target,
        body: body.into(),
        mentions: vec![],
    };
    let react = |room, target, emoji: &str| ClientFrame::React {
        room,
        cid: Uuid::new_v4(),
        target,
        emoji: emoji.into(),
    };
    let mention = |mentions: Vec<i64>| ClientFrame::Send {
        room: id,
        cid: Uuid::new_v4(),
        body: "hey you".into(),
        reply_to: None,
        mentions,
        files: vec![],
    };
    let cases = [
        (mention(vec![dave.id]), ErrorCode::Forbidden),
        (mention((1..=51).collect()), ErrorCode::BadFrame),
        (edit(1, "Ann's now"), ErrorCode::Forbidden),
        (edit(7, "nothing there"), ErrorCode::UnknownMessage),
        (edit(0, "no seq"), ErrorCode::BadFrame),
        (edit(1, &"é".repeat(4_001)), ErrorCode::TooLarge),
        (edit(1, "  "), ErrorCode::BadFrame),
        (react(id, 1, "not an emoji"), ErrorCode::BadFrame),
        (react(id, 1, ""), ErrorCode::BadFrame),
        (react(dm.id, 1, "👍"), ErrorCode::NotMember),
        (react(id + 999, 1, "👍"), ErrorCode::UnknownRoom),
        (
            ClientFrame::Send {
                room: id,
                cid: Uuid::new_v4(),
                body: "a reply to nothing".into(),
                reply_to: Some(5),
                mentions: vec![],
                files: vec![],
            },
            ErrorCode::UnknownMessage,
        ),
    ];
    for (frame, code) in cases {
        let cid = match &frame {
            ClientFrame::Edit { cid, .. }
            | ClientFrame::React { cid, .. }
            | ClientFrame::Send { cid, .. } => *cid,
            _ => unreachable!(),
        };
        wa.send(&frame).await;
        match ack(&mut wa, cid).await {
            ServerFrame::Error {
                code: got, message, ..
            } => assert_eq!(got, code, "{frame:?}: {message}"),
            other => panic!("{frame:?} was taken: {other:?}"),
        }
    }
    assert_eq!(
        server.state.store.head(id).await.unwrap(),
        Some(1),
        "nothing stored"
    );
    // The connection goes on: a good change is acked.
    let cid = Uuid::new_v4();
    wa.send(&ClientFrame::React {
        room: id,
        cid,
        target: 1,
        emoji: "👍".into(),
    })
    .await;
    assert!(matches!(
        ack(&mut wa, cid).await,
        ServerFrame::Ack { seq: 2, n: 1, .. }
    ));
}

/// Delete for me: hidden on every device of mine (they hear of it with the
/// room's summary), nobody else's; a message that is not there, or a room
/// that is not mine, is refused.
#[tokio::test]
async fn a_message_deleted_for_me_is_hidden_on_my_devices_only() {
    let (server, _dir) = embedded().await;
    let ([a, b, c], room) = trio(&server).await;
    let (mut wa, _) = connect(&server, &a).await;
    let cid = Uuid::new_v4();
    wa.send(&crate::ws::send(room.id, cid, "for the bin")).await;
    ack(&mut wa, cid).await;
    let (mut phone, _) = connect(&server, &b).await;
    let (mut wc, _) = connect(&server, &c).await;
    let hide = |seq| json!({"room": room.id, "seq": seq});
    let summary: RoomSummary = api(&server, &b, "hide_message", hide(1)).await;
    assert_eq!((summary.hidden.clone(), summary.unread()), (vec![1], 0));
    let frame = phone.recv_until(|f| matches!(f, ServerFrame::Room(_))).await;
    assert!(
        matches!(frame, ServerFrame::Room(r) if r.hidden == [1]),
        "Bob's other device"
    );
    wc.send(&ClientFrame::Ping).await;
    let got = wc
        .recv_until(|f| matches!(f, ServerFrame::Pong | ServerFrame::Room(_)))
        .await;
    assert_eq!(got, ServerFrame::Pong, "Carol hears nothing of it");
    let carols: Vec<RoomSummary> = api(&server, &c, "my_rooms", json!({})).await;
    assert!(carols[0].hidden.is_empty());
    assert_eq!(
        common::api_status(&server, &b, "hide_message", hide(7)).await,
        404
    );
    let (_, d) = sign_up(&server, "dave").await;
    assert_eq!(
        common::api_status(&server, &d, "hide_message", hide(1)).await,
        403
    );
}

/// `around`: the page about a message far back, as `history` serves it;
/// a client holding the newest messages and that page sees the hole
/// between them, and filling it page by page leaves every message once.
#[tokio::test]
async fn a_page_around_a_message_far_back_and_the_hole_it_leaves_fills() {
    let (server, _dir) = embedded().await;
    let ([a, b, _], room) = trio(&server).await;
    let id = room.id;
    let (mut wa, _) = connect(&server, &a).await;
    for i in 1..=40 {
        let cid = Uuid::new_v4();
        wa.send(&crate::ws::send(id, cid, &format!("m{i}"))).await;
        ack(&mut wa, cid).await;
    }
    let around = |seq, limit| ClientFrame::Around {
        room: id,
        seq,
        limit: Some(limit),
    };
    let page = |f: ServerFrame| match f {
        ServerFrame::Batch {
            msgs, more, history, ..
        } => (msgs.iter().map(|m| m.seq).collect::<Vec<_>>(), more, history),
        other => panic!("{other:?}"),
    };
    let mut ask = async |frame: ClientFrame| {
        wa.send(&frame).await;
        wa.recv_until(|f| matches!(f, ServerFrame::Batch { .. } | ServerFrame::Error { .. }))
            .await
    };
    assert_eq!(
        page(ask(around(10, 6)).await),
        (vec![8, 9, 10, 11, 12, 13], true, true)
    );
    assert_eq!(page(ask(around(1, 4)).await), (vec![1, 2, 3], false, true));
    assert_eq!(page(ask(around(40, 4)).await), (vec![39, 40], true, true));
    for bad in [around(41, 4), around(0, 4)] {
        assert!(matches!(
            ask(bad).await,
            ServerFrame::Error {
                code: ErrorCode::BadFrame,
                ..
            }
        ));
    }
    let (_, d) = sign_up(&server, "dave").await;
    let (mut wd, _) = connect(&server, &d).await;
    wd.send(&around(3, 4)).await;
    let refused = wd.recv_until(|f| matches!(f, ServerFrame::Error { .. })).await;
    assert!(matches!(
        refused,
        ServerFrame::Error {
            code: ErrorCode::NotMember,
            ..
        }
    ));

    // Bob's device holds the newest five, then the page around message 3.
    let mut c = Client::new(chat::sync::Config {
        initial_window: Some(5),
        history_page: 10,
        ..Default::default()
    });
    let (mut wb, welcome) = connect(&server, &b).await;
    c.connected();
    let first = c.handle(welcome, 0).frames;
    drive(&mut c, &mut wb, first, |c| {
        c.room(id).is_some_and(|r| r.last == 40)
    })
    .await;
    let held = |c: &Client| c.room(id).unwrap().messages().map(|m| m.seq).collect::<Vec<_>>();
    assert_eq!(held(&c), [36, 37, 38, 39, 40]);
    let ask = c.load_around(id, 3).frames;
    drive(&mut c, &mut wb, ask, |c| {
        c.room(id).unwrap().msgs.contains_key(&3)
    })
    .await;
    assert_eq!(c.room(id).unwrap().holes(), [(9, 35)]);
    // Filled from its first seq on, a page at a time.
    while let Some(&(from, _)) = c.room(id).unwrap().holes().first() {
        let ask = c.fill_hole(id, from).frames;
        assert_eq!(ask.len(), 1, "one page at a time");
        drive(&mut c, &mut wb, ask, |c| {
            c.room(id).unwrap().msgs.contains_key(&from)
        })
        .await;
    }
    assert_eq!(held(&c), (1..=40).collect::<Vec<_>>());
}
