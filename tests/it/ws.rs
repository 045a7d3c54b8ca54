//! Server tests over real WebSockets: `server::run` on port 0, clients
//! built on tokio-tungstenite, resuming with the shared client state machine.

use crate::common;

use chat::format::{Block, Inline};
use chat::model::RoomSummary;
use chat::protocol::{ClientFrame, ErrorCode, Message, ServerFrame};
use chat::server::Config;
use chat::sync::{Client, Config as SyncConfig};
use common::ws::{connect, open, Ws};
use common::{api, sign_up, TestServer};
use serde_json::json;
use uuid::Uuid;

/// A server on SQLite. Sends are not rate-limited: these tests push hundreds
/// of messages through one connection (the limit has its own test).
pub async fn embedded() -> (TestServer, tempfile::TempDir) {
    let (url, dir) = common::sqlite_url();
    let mut config = Config::for_database(&url);
    (config.send_rate, config.send_burst) = (100_000, 100_000);
    (TestServer::start(config).await, dir)
}

/// Three people and a group of all three; returns their cookies and the room.
pub async fn trio(server: &TestServer) -> ([String; 3], RoomSummary) {
    let (_, a) = sign_up(server, "alice").await;
    let (_, b) = sign_up(server, "bob").await;
    let (_, c) = sign_up(server, "carol").await;
    let room: RoomSummary = api(
        server,
        &a,
        "create_group",
        json!({"name": "Trio", "members": ["bob", "carol"]}),
    )
    .await;
    ([a, b, c], room)
}

pub fn send(room: i64, cid: Uuid, body: &str) -> ClientFrame {
    ClientFrame::Send {
        reply_to: None,
        room,
        cid,
        body: body.into(),
        mentions: vec![],
        files: vec![],
    }
}

pub async fn ack(ws: &mut Ws, cid: Uuid) -> ServerFrame {
    ws.recv_until(|f| match f {
        ServerFrame::Ack { cid: c, .. } | ServerFrame::Error { cid: Some(c), .. } => *c == cid,
        _ => false,
    })
    .await
}

/// A connection driven by the shared client state machine, welcomed.
pub async fn client(server: &TestServer, cookie: &str) -> (Client, Ws) {
    let mut c = Client::new(SyncConfig::default());
    let (ws, welcome) = connect(server, cookie).await;
    c.connected();
    c.handle(welcome, 0);
    (c, ws)
}

/// Waits for `n` acks on a socket.
pub async fn acks(ws: &mut Ws, n: usize) {
    let mut acked = 0;
    while acked < n {
        if let Some(ServerFrame::Ack { .. }) = ws.next().await {
            acked += 1;
        }
    }
}

/// Feeds frames to a client state machine until `done` holds.
pub async fn drive(
    client: &mut Client,
    ws: &mut Ws,
    first: Vec<ClientFrame>,
    done: impl Fn(&Client) -> bool,
) {
    for f in first {
        ws.send(&f).await;
    }
    while !done(client) {
        let frame = ws.next().await.expect("the server kept talking");
        for f in client.handle(frame, 0).frames {
            ws.send(&f).await;
        }
    }
}

#[tokio::test]
async fn an_ack_carries_the_seq_and_a_resend_gets_the_same_one() {
    let (server, _dir) = embedded().await;
    let ([a, _, _], room) = trio(&server).await;
    let (mut ws, welcome) = connect(&server, &a).await;
    let ServerFrame::Welcome { rooms, .. } = welcome else {
        unreachable!()
    };
    assert_eq!(
        rooms.iter().map(|r| (r.id, r.head_seq)).collect::<Vec<_>>(),
        vec![(room.id, 0)]
    );

    let cid = Uuid::new_v4();
    ws.send(&send(room.id, cid, "hello")).await;
    let first = ack(&mut ws, cid).await;
    let ServerFrame::Ack { seq, room: r, .. } = first.clone() else {
        panic!("{first:?}")
    };
    assert_eq!((seq, r), (1, room.id));

    // The resend, on another connection even, gets the original answer and stores nothing.
    let (mut other, _) = connect(&server, &a).await;
    other.send(&send(room.id, cid, "hello (resent)")).await;
    assert_eq!(ack(&mut other, cid).await, first);
    assert_eq!(server.state.store.head(room.id).await.unwrap(), Some(1));
    let stored = server.state.store.messages_after(room.id, 0, 10).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].body, "hello");
}

#[tokio::test]
async fn formatted_bodies_carry_their_tree_in_ack_msg_and_pages_and_plain_ones_none() {
    let (server, _dir) = embedded().await;
    let ([a, b, _], room) = trio(&server).await;
    let (mut wa, _) = connect(&server, &a).await;
    let (mut wb, _) = connect(&server, &b).await;
    let bold = vec![Block::Para(vec![
        Inline::Strong(vec![Inline::Text("hi".into())]),
        Inline::Text(" <b>x</b>".into()),
    ])];
    let cid = Uuid::new_v4();
    wa.send(&send(room.id, cid, "**hi** <b>x</b>")).await;
    let ServerFrame::Ack { fmt, .. } = ack(&mut wa, cid).await else {
        panic!("no ack")
    };
    assert_eq!(fmt.as_ref(), Some(&bold), "the ack brings the tree");
    let live = wb.recv_until(|f| matches!(f, ServerFrame::Msg(_))).await;
    let ServerFrame::Msg(m) = live else { unreachable!() };
    assert_eq!(
        (m.body.as_str(), m.fmt.as_ref()),
        ("**hi** <b>x</b>", Some(&bold))
    );

    let plain = Uuid::new_v4();
    wa.send(&send(room.id, plain, "see https://x.org, ok")).await;
    let ServerFrame::Ack { fmt, .. } = ack(&mut wa, plain).await else {
        panic!("no ack")
    };
    assert_eq!(fmt, None, "a plain body has no tree");

    // Read back from storage (a page), the same, and the typed text is kept as typed.
    wb.send(&ClientFrame::Sync {
        room: room.id,
        after: 0,
        limit: None,
    })
    .await;
    let page = wb.recv_until(|f| matches!(f, ServerFrame::Batch { .. })).await;
    let ServerFrame::Batch { msgs, .. } = page else {
        unreachable!()
    };
    let got: Vec<_> = msgs.iter().map(|m| (m.body.as_str(), m.fmt.clone())).collect();
    assert_eq!(
        got,
        vec![("**hi** <b>x</b>", Some(bold)), ("see https://x.org, ok", None)]
    );
    // The room list shows the last message as one line of text.
    let cid = Uuid::new_v4();
    wa.send(&send(room.id, cid, "**done**:\n- [notes](https://x.org)"))
        .await;
    ack(&mut wa, cid).await;
    let rooms: Vec<RoomSummary> = api(&server, &b, "my_rooms", json!({})).await;
    assert_eq!(rooms[0].preview.as_deref(), Some("done: notes"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connections_sends_are_stored_in_the_order_sent() {
    // Sends pipeline (up to 64 in flight) but must not overtake one another.
    let (server, _dir) = embedded().await;
    let ([a, _, _], room) = trio(&server).await;
    let (mut ws, _) = connect(&server, &a).await;
    const N: usize = 300;
    for i in 0..N {
        ws.send(&send(room.id, Uuid::new_v4(), &format!("{i}"))).await;
    }
    acks(&mut ws, N).await;
    let mut stored = Vec::new();
    while stored.len() < N {
        let after = stored.len() as i64;
        stored.extend(
            server
                .state
                .store
                .messages_after(room.id, after, 200)
                .await
                .unwrap(),
        );
    }
    let bodies: Vec<String> = stored.into_iter().map(|m| m.body).collect();
    assert_eq!(bodies, (0..N).map(|i| i.to_string()).collect::<Vec<_>>());
}

#[tokio::test]
async fn members_receive_live_messages_and_strangers_do_not() {
    let (server, _dir) = embedded().await;
    let ([a, b, _], room) = trio(&server).await;
    let (_, d) = sign_up(&server, "dave").await;
    let (mut wa, _) = connect(&server, &a).await;
    let (mut wb, _) = connect(&server, &b).await;
    let (mut wd, _) = connect(&server, &d).await;
    let cid = Uuid::new_v4();
    wa.send(&send(room.id, cid, "<img src=x onerror=alert(1)>")).await;
    let ServerFrame::Msg(m) = wb.recv_until(|f| matches!(f, ServerFrame::Msg(_))).await else {
        unreachable!()
    };
    assert_eq!(
        (m.seq, m.cid, m.body.as_str(), m.from.as_str()),
        (1, cid, "<img src=x onerror=alert(1)>", "alice")
    );
    wd.send(&ClientFrame::Ping).await;
    assert_eq!(
        wd.next().await,
        Some(ServerFrame::Pong),
        "dave got nothing before his pong"
    );
}

#[tokio::test]
async fn concurrent_senders_produce_one_order_at_every_receiver() {
    let (server, _dir) = embedded().await;
    let ([a, b, c], room) = trio(&server).await;
    let mut sockets = Vec::new();
    for cookie in [&a, &b, &c] {
        sockets.push(connect(&server, cookie).await.0);
    }
    let mut receivers = Vec::new();
    for mut ws in sockets {
        receivers.push(tokio::spawn(async move {
            let mut seen: Vec<Message> = Vec::new();
            while seen.len() < 100 {
                if let Some(ServerFrame::Msg(m)) = ws.next().await {
                    seen.push(m);
                }
            }
            (ws, seen)
        }));
    }
    let mut sender_sockets = Vec::new();
    for cookie in [&a, &b] {
        sender_sockets.push(connect(&server, cookie).await.0);
    }
    let tasks: Vec<_> = sender_sockets
        .into_iter()
        .enumerate()
        .map(|(i, mut ws)| {
            tokio::spawn(async move {
                for n in 0..50 {
                    ws.send(&send(room.id, Uuid::new_v4(), &format!("{i}:{n}"))).await;
                }
                acks(&mut ws, 50).await;
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let stored = server.state.store.messages_after(room.id, 0, 200).await.unwrap();
    assert_eq!(
        stored.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (1..=100).collect::<Vec<_>>()
    );
    for r in receivers {
        let (_, seen) = r.await.unwrap();
        assert_eq!(seen, stored, "every receiver sees the stored order");
    }
}

#[tokio::test]
async fn a_receiver_that_was_away_gets_exactly_what_it_missed() {
    let (server, _dir) = embedded().await;
    let ([a, b, _], room) = trio(&server).await;
    let (mut wa, _) = connect(&server, &a).await;
    let (mut bob, mut wb) = client(&server, &b).await;
    // A few messages while Bob is here.
    for n in 0..3 {
        wa.send(&send(room.id, Uuid::new_v4(), &format!("early {n}")))
            .await;
    }
    drive(&mut bob, &mut wb, vec![], |c| c.room(room.id).unwrap().last == 3).await;
    drop(wb);
    bob.disconnected();

    // 500 while he is away: more than the cache holds, so part comes from the database.
    for n in 0..500 {
        wa.send(&send(room.id, Uuid::new_v4(), &format!("away {n}")))
            .await;
    }
    acks(&mut wa, 500).await;
    let (_, misses_before) = server.state.cache.stats();

    let mut wb = common::ws::open(&server, Some(&b), None).await.unwrap();
    let first = bob.connected().frames;
    drive(&mut bob, &mut wb, first, |c| c.room(room.id).unwrap().last == 503).await;
    let held: Vec<_> = bob
        .room(room.id)
        .unwrap()
        .msgs
        .values()
        .map(|m| (m.seq, m.body.clone()))
        .collect();
    let expected: Vec<_> = (1..=503)
        .map(|s| {
            (
                s,
                if s <= 3 {
                    format!("early {}", s - 1)
                } else {
                    format!("away {}", s - 4)
                },
            )
        })
        .collect();
    assert_eq!(held, expected, "every message, in order, once");
    let (_, misses_after) = server.state.cache.stats();
    assert!(
        misses_after > misses_before,
        "the old part came from the database"
    );
}

#[tokio::test]
async fn acked_messages_survive_a_restart() {
    let (url, _dir) = common::sqlite_url();
    let server = TestServer::start(Config::for_database(&url)).await;
    let ([a, _, _], room) = trio(&server).await;
    let (mut ws, _) = connect(&server, &a).await;
    let mut acked = Vec::new();
    for n in 0..20 {
        let cid = Uuid::new_v4();
        ws.send(&send(room.id, cid, &format!("m{n}"))).await;
        if let ServerFrame::Ack { seq, .. } = ack(&mut ws, cid).await {
            acked.push(seq);
        }
    }
    drop(ws);
    drop(server);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let again = TestServer::start(Config::for_database(&url)).await;
    let (mut ws, _) = connect(&again, &a).await;
    ws.send(&ClientFrame::Sync {
        room: room.id,
        after: 0,
        limit: None,
    })
    .await;
    let ServerFrame::Batch { msgs, more, .. } =
        ws.recv_until(|f| matches!(f, ServerFrame::Batch { .. })).await
    else {
        unreachable!()
    };
    assert!(!more);
    assert_eq!(msgs.iter().map(|m| m.seq).collect::<Vec<_>>(), acked);
}

#[tokio::test]
async fn a_sender_over_its_rate_is_told_and_recovers() {
    let (url, _dir) = common::sqlite_url();
    let mut config = Config::for_database(&url);
    (config.send_rate, config.send_burst) = (5, 3);
    let server = TestServer::start(config).await;
    let ([a, _, _], room) = trio(&server).await;
    let (mut ws, _) = connect(&server, &a).await;
    let cids: Vec<Uuid> = (0..10).map(|_| Uuid::new_v4()).collect();
    for (i, cid) in cids.iter().enumerate() {
        ws.send(&send(room.id, *cid, &format!("m{i}"))).await;
    }
    // Refusals come at once, acks after their commit: collect all ten answers.
    let (mut acked, mut limited) = (Vec::new(), Vec::new());
    while acked.len() + limited.len() < cids.len() {
        match ws.next().await.expect("an answer") {
            ServerFrame::Ack { seq, .. } => acked.push(seq),
            ServerFrame::Error {
                code, cid: Some(c), ..
            } => {
                assert_eq!(code, ErrorCode::RateLimited);
                assert!(cids.contains(&c));
                limited.push(c);
            }
            _ => {}
        }
    }
    assert!(
        (3..=5).contains(&acked.len()),
        "the burst, and what the rate added: {acked:?}"
    );
    assert_eq!(acked.len() + limited.len(), 10);
    // A refused send stored nothing; sent again after a pause, it goes through.
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    for cid in &limited[..3] {
        ws.send(&send(room.id, *cid, "again")).await;
        assert!(
            matches!(ack(&mut ws, *cid).await, ServerFrame::Ack { .. }),
            "recovered"
        );
    }
    let stored = server.state.store.messages_after(room.id, 0, 100).await.unwrap();
    assert_eq!(stored.len(), acked.len() + 3);
}

#[tokio::test]
async fn bad_input_gets_an_error_frame_and_the_connection_goes_on() {
    let (server, _dir) = embedded().await;
    let ([a, _, _], room) = trio(&server).await;
    let (_, d) = sign_up(&server, "dave").await;
    let dave_dm: RoomSummary = api(&server, &d, "open_direct", json!({"handle": "bob"})).await;
    let (mut ws, _) = connect(&server, &a).await;
    let cid = Uuid::new_v4();
    let cases: Vec<(String, ErrorCode)> = vec![
        ("{not json".into(), ErrorCode::BadFrame),
        (r#"{"t":"shout","room":1}"#.into(), ErrorCode::BadFrame),
        (r#"{"t":"send","room":1}"#.into(), ErrorCode::BadFrame),
        ("x".repeat(70_000), ErrorCode::TooLarge),
        (
            serde_json::to_string(&send(room.id, cid, "   ")).unwrap(),
            ErrorCode::BadFrame,
        ),
        (
            serde_json::to_string(&send(room.id, Uuid::new_v4(), &"é".repeat(4_001))).unwrap(),
            ErrorCode::TooLarge,
        ),
        (
            serde_json::to_string(&send(room.id + 999, Uuid::new_v4(), "hi")).unwrap(),
            ErrorCode::UnknownRoom,
        ),
        (
            serde_json::to_string(&send(dave_dm.id, Uuid::new_v4(), "hi")).unwrap(),
            ErrorCode::NotMember,
        ),
        (
            serde_json::to_string(&ClientFrame::Sync {
                room: room.id,
                after: 5,
                limit: None,
            })
            .unwrap(),
            ErrorCode::BadFrame,
        ),
        (
            serde_json::to_string(&ClientFrame::Sync {
                room: dave_dm.id,
                after: 0,
                limit: None,
            })
            .unwrap(),
            ErrorCode::NotMember,
        ),
        (
            serde_json::to_string(&ClientFrame::History {
                room: room.id + 999,
                before: 5,
                limit: None,
            })
            .unwrap(),
            ErrorCode::UnknownRoom,
        ),
    ];
    for (text, code) in cases {
        let shown: String = text.chars().take(80).collect();
        ws.send_text(text).await;
        match ws.next().await {
            Some(ServerFrame::Error {
                code: got, message, ..
            }) => {
                assert_eq!(got, code, "{shown}: {message}");
                assert!(!message.is_empty());
            }
            other => panic!("{shown}: {other:?}"),
        }
    }
    // Still usable, and nothing was stored.
    ws.send(&ClientFrame::Ping).await;
    assert_eq!(ws.next().await, Some(ServerFrame::Pong));
    let ok = Uuid::new_v4();
    ws.send(&send(room.id, ok, "fine")).await;
    assert!(matches!(ack(&mut ws, ok).await, ServerFrame::Ack { seq: 1, .. }));
}

/// A body holds text: no C0 control but tab and newline. The rest is refused
/// with `bad_frame` on both backends alike — before, U+0000 was stored by
/// SQLite and failed every PostgreSQL transaction it was in, forever — and
/// a refused send stays refused when sent again, stores nothing and leaves
/// no hole.
async fn bodies_follow_one_rule(url: &str) {
    let mut config = Config::for_database(url);
    (config.send_rate, config.send_burst) = (100_000, 100_000);
    let server = TestServer::start(config).await;
    let ([a, b, _], room) = trio(&server).await;
    let (mut ann, _) = connect(&server, &a).await;
    let (mut bob, _) = connect(&server, &b).await;
    for bad in ["a\u{0}b", "\u{0}", "bell\u{7}", "x\r\ny", "\u{1b}[31mred"] {
        let cid = Uuid::new_v4();
        // Bob sends at the same moment: his message must not share the fate.
        let fine = Uuid::new_v4();
        ann.send(&send(room.id, cid, bad)).await;
        bob.send(&send(room.id, fine, "meanwhile")).await;
        for _ in 0..2 {
            match ack(&mut ann, cid).await {
                ServerFrame::Error { code, message, .. } => {
                    assert_eq!(code, ErrorCode::BadFrame, "{bad:?}: {message}");
                    assert!(message.contains("control characters"), "{message}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
            ann.send(&send(room.id, cid, bad)).await;
        }
        assert!(matches!(ack(&mut bob, fine).await, ServerFrame::Ack { .. }));
    }
    let ok = Uuid::new_v4();
    ann.send(&send(room.id, ok, "tab\there,\nnew line, 회의는 내일"))
        .await;
    let ServerFrame::Ack { seq, .. } = ack(&mut ann, ok).await else {
        panic!("a body with tab, newline and Hangul is text")
    };
    assert_eq!(seq, 6, "five of Bob's, then this: nothing else was stored");
    let stored = server.state.store.messages_after(room.id, 0, 100).await.unwrap();
    assert_eq!(
        stored.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (1..=6).collect::<Vec<_>>()
    );
    assert_eq!(stored[5].body, "tab\there,\nnew line, 회의는 내일");
}

#[tokio::test]
async fn bodies_follow_one_rule_on_sqlite() {
    let (url, _dir) = common::sqlite_url();
    bodies_follow_one_rule(&url).await;
}

#[tokio::test]
async fn bodies_follow_one_rule_on_postgres() {
    if let Some(url) = common::postgres_url().await {
        bodies_follow_one_rule(&url).await;
    }
}

/// The close frame that ends a connection, skipping anything before it.
async fn close_code(ws: &mut Ws) -> Option<(u16, String)> {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    while let Ok(Some(msg)) = tokio::time::timeout(std::time::Duration::from_secs(10), ws.socket.next()).await
    {
        match msg {
            Ok(Message::Close(frame)) => return frame.map(|f| (u16::from(f.code), f.reason.to_string())),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
    None
}

#[tokio::test]
async fn frames_the_transport_refuses_are_closed_with_a_reason() {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::protocol::frame::{coding::OpCode, Frame};
    use tokio_tungstenite::tungstenite::Message;
    let (server, _dir) = embedded().await;
    let (_, a) = sign_up(&server, "alice").await;
    // A text frame that is not UTF-8: 1007.
    let (mut ws, _) = connect(&server, &a).await;
    let frame = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(coding_text()), true);
    ws.socket.send(Message::Frame(frame)).await.unwrap();
    let (code, reason) = close_code(&mut ws)
        .await
        .expect("a close frame, not a dropped connection");
    assert_eq!(code, 1007, "{reason}");
    assert!(reason.contains("UTF-8"), "{reason}");
    // A frame over the hard limit (16 × CHAT_MAX_FRAME_BYTES, at least 1 MiB): 1009.
    let (mut ws, _) = connect(&server, &a).await;
    let _ = ws.socket.send(Message::Text("x".repeat(1_100_000).into())).await;
    let (code, reason) = close_code(&mut ws)
        .await
        .expect("a close frame, not a dropped connection");
    assert_eq!(code, 1009, "{reason}");
    assert!(reason.contains("1048576 bytes"), "{reason}");
    // The server goes on.
    let (mut ws, _) = connect(&server, &a).await;
    ws.send(&ClientFrame::Ping).await;
    assert_eq!(ws.next().await, Some(ServerFrame::Pong));
}

fn coding_text() -> tokio_tungstenite::tungstenite::protocol::frame::coding::Data {
    tokio_tungstenite::tungstenite::protocol::frame::coding::Data::Text
}

#[tokio::test]
async fn the_upgrade_checks_cookie_and_origin() {
    let (server, _dir) = embedded().await;
    let (_, a) = sign_up(&server, "alice").await;
    assert_eq!(open(&server, None, None).await.err(), Some(401));
    assert_eq!(
        open(
            &server,
            Some("chat_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            None
        )
        .await
        .err(),
        Some(401)
    );
    assert_eq!(
        open(&server, Some(&a), Some("https://evil.example")).await.err(),
        Some(403)
    );
    assert_eq!(
        open(&server, Some(&a), Some("")).await.err(),
        Some(403),
        "no Origin at all"
    );
    assert!(open(&server, Some(&a), None).await.is_ok());
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_heartbeat_timeout() {
    let (url, _dir) = common::sqlite_url();
    let mut config = Config::for_database(&url);
    config.heartbeat_ms = 100;
    config.heartbeat_timeout_ms = 300;
    let server = TestServer::start(config).await;
    let (_, a) = sign_up(&server, "alice").await;
    let (mut ws, _) = connect(&server, &a).await;
    // Not reading means not answering pings.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(ws.next().await, None, "closed by the server");
    assert_eq!(server.state.hub.connections(), 0);
}

#[tokio::test]
async fn new_rooms_reach_online_members_live() {
    let (server, _dir) = embedded().await;
    let (_, a) = sign_up(&server, "alice").await;
    let (_, b) = sign_up(&server, "bob").await;
    let (mut wb, _) = connect(&server, &b).await;
    let room: RoomSummary = api(
        &server,
        &a,
        "create_group",
        json!({"name": "Live", "members": ["bob"]}),
    )
    .await;
    let ServerFrame::Room(seen) = wb.recv_until(|f| matches!(f, ServerFrame::Room(_))).await else {
        unreachable!()
    };
    assert_eq!((seen.id, seen.name.as_str()), (room.id, "Live"));
    // And bob's connection now gets that room's messages.
    let (mut wa, _) = connect(&server, &a).await;
    wa.send(&send(room.id, Uuid::new_v4(), "welcome")).await;
    let ServerFrame::Msg(m) = wb.recv_until(|f| matches!(f, ServerFrame::Msg(_))).await else {
        unreachable!()
    };
    assert_eq!(m.body, "welcome");
}

#[tokio::test]
async fn a_connection_that_falls_behind_is_told_to_resync_and_loses_nothing() {
    let (url, _dir) = common::sqlite_url();
    let mut config = Config::for_database(&url);
    config.send_queue = 4;
    (config.send_rate, config.send_burst) = (100_000, 100_000);
    let server = TestServer::start(config).await;
    let ([a, b, _], room) = trio(&server).await;
    let (mut wa, _) = connect(&server, &a).await;
    let (mut bob, mut wb) = client(&server, &b).await;

    // Bob stops reading while megabytes of messages go out: the socket
    // buffers fill, his queue fills, and he is marked lagging.
    let body = "x".repeat(3_900);
    let total = 2_500;
    let sender = tokio::spawn(async move {
        for _ in 0..total {
            wa.send(&send(room.id, Uuid::new_v4(), &body)).await;
        }
        acks(&mut wa, total).await;
    });
    sender.await.unwrap();
    assert!(
        server
            .state
            .metrics
            .lagged
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1,
        "bob fell behind"
    );

    // Now he reads: a resync comes, and the state machine fetches the rest.
    let mut resyncs = 0;
    while bob.room(room.id).unwrap().last < total as i64 {
        let Some(frame) = wb.next().await else {
            let r = bob.room(room.id).unwrap();
            panic!("silence: last {} head {} held {}", r.last, r.head(), r.msgs.len());
        };
        if matches!(frame, ServerFrame::Resync { .. }) {
            resyncs += 1;
        }
        for f in bob.handle(frame, 0).frames {
            wb.send(&f).await;
        }
    }
    assert!(resyncs >= 1);
    let seqs: Vec<_> = bob.room(room.id).unwrap().msgs.keys().copied().collect();
    assert_eq!(seqs, (1..=total as i64).collect::<Vec<_>>());
}
