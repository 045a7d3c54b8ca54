//! The cluster shape in one process: several nodes (`server::run` on port 0)
//! sharing one PostgreSQL database and one Redis (or a Redis Cluster), with
//! clients on different nodes. Skipped without TEST_POSTGRES_URL and TEST_REDIS_URL (`make test`
//! sets both and requires them).

use crate::common;

use chat::model::RoomSummary;
use chat::protocol::{ClientFrame, Message, ServerFrame};
use chat::server::Config;
use common::ws::{connect, Ws};
use common::{api, sign_up, TestServer};
use serde_json::json;
use uuid::Uuid;

/// `n` nodes on one fresh database and the test Redis under a prefix of their own.
pub(crate) async fn cluster(n: usize) -> Option<Vec<TestServer>> {
    let (redis, prefix) = common::redis_url()?;
    cluster_on(n, &redis, &prefix).await
}

async fn cluster_on(n: usize, redis: &str, prefix: &str) -> Option<Vec<TestServer>> {
    let database = common::postgres_url().await?;
    let (redis, prefix) = (redis.to_string(), prefix.to_string());
    let mut nodes = Vec::new();
    for _ in 0..n {
        let mut config = Config::for_database(&database);
        config.redis_url = Some(redis.clone());
        config.redis_prefix = prefix.clone();
        nodes.push(TestServer::start(config).await);
    }
    Some(nodes)
}

fn send(room: i64, cid: Uuid, body: &str) -> ClientFrame {
    ClientFrame::Send {
        reply_to: None,
        room,
        cid,
        body: body.into(),
        mentions: vec![],
        files: vec![],
    }
}

async fn ack_of(ws: &mut Ws, cid: Uuid) -> (i64, Uuid) {
    match ws
        .recv_until(|f| matches!(f, ServerFrame::Ack { cid: c, .. } if *c == cid))
        .await
    {
        ServerFrame::Ack { seq, id, .. } => (seq, id),
        _ => unreachable!(),
    }
}

async fn next_msg(ws: &mut Ws) -> Message {
    match ws.recv_until(|f| matches!(f, ServerFrame::Msg(_))).await {
        ServerFrame::Msg(m) => m,
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn clients_on_different_nodes_talk_live() {
    let Some(nodes) = cluster(2).await else { return };
    let (alice, a) = sign_up(&nodes[0], "alice").await;
    let (bob, b) = sign_up(&nodes[1], "bob").await;
    let (mut wa, _) = connect(&nodes[0], &a).await;
    let (mut wb, _) = connect(&nodes[1], &b).await;

    // The new room reaches bob's node through the registry and the node channel.
    let room: RoomSummary = api(&nodes[0], &a, "open_direct", json!({"handle": "bob"})).await;
    let joined = wb.recv_until(|f| matches!(f, ServerFrame::Room(_))).await;
    assert!(matches!(joined, ServerFrame::Room(r) if r.id == room.id));
    let p = wa
        .recv_until(|f| matches!(f, ServerFrame::Presence(p) if p.user == bob.id))
        .await;
    assert!(
        matches!(p, ServerFrame::Presence(p) if p.online),
        "presence crosses nodes"
    );

    // Then messages, both ways, through the room channel.
    let cid = Uuid::new_v4();
    wa.send(&send(room.id, cid, "hi from node 0")).await;
    ack_of(&mut wa, cid).await;
    let m = next_msg(&mut wb).await;
    assert_eq!((m.body.as_str(), m.sender), ("hi from node 0", alice.id));
    // Ticks cross too.
    wb.send(&ClientFrame::Read {
        room: room.id,
        seq: 1,
    })
    .await;
    let r = wa.recv_until(|f| matches!(f, ServerFrame::Ticks { .. })).await;
    assert!(matches!(r, ServerFrame::Ticks { ticks, .. } if ticks.read == 1));
    let cid = Uuid::new_v4();
    wb.send(&send(room.id, cid, "hi from node 1")).await;
    ack_of(&mut wb, cid).await;
    let m = loop {
        let m = next_msg(&mut wa).await;
        if m.sender == bob.id {
            break m;
        }
    };
    assert_eq!(m.seq, 2);

    // Bob leaves: alice's node hears it.
    drop(wb);
    let p = wa
        .recv_until(|f| matches!(f, ServerFrame::Presence(p) if p.user == bob.id))
        .await;
    assert!(matches!(p, ServerFrame::Presence(p) if !p.online));
}

#[tokio::test]
async fn a_resend_to_another_node_gets_the_original_ack() {
    let Some(nodes) = cluster(2).await else { return };
    let (_, a) = sign_up(&nodes[0], "alice").await;
    sign_up(&nodes[1], "bob").await;
    let room: RoomSummary = api(&nodes[0], &a, "open_direct", json!({"handle": "bob"})).await;
    let (mut w0, _) = connect(&nodes[0], &a).await;
    let cid = Uuid::new_v4();
    w0.send(&send(room.id, cid, "once")).await;
    let first = ack_of(&mut w0, cid).await;
    // The connection to node 0 "dropped" before the ack arrived; the client retries on node 1.
    let (mut w1, _) = connect(&nodes[1], &a).await;
    w1.send(&send(room.id, cid, "once")).await;
    assert_eq!(ack_of(&mut w1, cid).await, first);
    w1.send(&ClientFrame::Sync {
        room: room.id,
        after: 0,
        limit: None,
    })
    .await;
    let batch = w1.recv_until(|f| matches!(f, ServerFrame::Batch { .. })).await;
    assert!(matches!(batch, ServerFrame::Batch { msgs, .. } if msgs.len() == 1));
}

#[tokio::test]
async fn senders_on_three_nodes_make_one_order_everywhere() {
    let Some(nodes) = cluster(3).await else { return };
    one_order_everywhere(nodes).await;
}

/// The same on a Redis Cluster (three masters, sharded Pub/Sub).
#[tokio::test]
async fn senders_on_three_nodes_over_a_redis_cluster_make_one_order_everywhere() {
    if common::redis_url().is_none() {
        return;
    }
    let redis = common::OwnService::redis_cluster();
    let Some(nodes) = cluster_on(3, &redis.url, "three").await else {
        return;
    };
    one_order_everywhere(nodes).await;
}

/// Three people on three nodes send at once: every one gets every message,
/// and the order by seq is the same everywhere, live and stored.
async fn one_order_everywhere(nodes: Vec<TestServer>) {
    let mut cookies = Vec::new();
    for (i, name) in ["ann", "ben", "cat"].iter().enumerate() {
        cookies.push(sign_up(&nodes[i], name).await.1);
    }
    let room: RoomSummary = api(
        &nodes[0],
        &cookies[0],
        "create_group",
        json!({"name": "Three nodes", "members": ["ben", "cat"]}),
    )
    .await;
    let mut sockets = Vec::new();
    for (i, cookie) in cookies.iter().enumerate() {
        sockets.push(connect(&nodes[i], cookie).await.0);
    }
    const EACH: usize = 20;
    for n in 0..EACH {
        for (i, ws) in sockets.iter_mut().enumerate() {
            ws.send(&send(room.id, Uuid::new_v4(), &format!("{i}:{n}"))).await;
        }
    }
    let total = EACH * sockets.len();
    // Every receiver sees every message (its own arrive as acks, the others' as msgs,
    // or in a sync if a live frame was late); the order by seq is the same everywhere.
    let mut orders = Vec::new();
    for ws in sockets.iter_mut() {
        let mut seen = std::collections::BTreeMap::new();
        while seen.len() < total {
            match ws.next().await.expect("frames until all are seen") {
                ServerFrame::Msg(m) => {
                    seen.insert(m.seq, m.body);
                }
                ServerFrame::Ack { seq, .. } => {
                    seen.entry(seq).or_insert_with(String::new);
                }
                _ => {}
            }
        }
        ws.send(&ClientFrame::Sync {
            room: room.id,
            after: 0,
            limit: Some(200),
        })
        .await;
        let ServerFrame::Batch { msgs, .. } = ws.recv_until(|f| matches!(f, ServerFrame::Batch { .. })).await
        else {
            unreachable!()
        };
        let order: Vec<(i64, String)> = msgs.into_iter().map(|m| (m.seq, m.body)).collect();
        assert_eq!(order.len(), total);
        assert_eq!(
            order.iter().map(|o| o.0).collect::<Vec<_>>(),
            (1..=total as i64).collect::<Vec<_>>()
        );
        for (seq, body) in seen.iter().filter(|(_, b)| !b.is_empty()) {
            assert_eq!(&order[(*seq - 1) as usize].1, body, "live and stored agree");
        }
        orders.push(order);
    }
    assert!(orders.windows(2).all(|w| w[0] == w[1]), "one order at every node");
}

#[test]
fn sqlite_with_redis_is_refused_at_start() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chat"))
        .env("DATABASE_URL", "sqlite:///tmp/never-opened-by-this-test.db")
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .env("CHAT_BIND", "127.0.0.1:0")
        .output()
        .expect("run the binary");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("REDIS_URL is set but DATABASE_URL is SQLite"),
        "{err}"
    );
}

/// Shutdown leaves nothing behind: after three nodes that carried traffic
/// (messages across nodes, receipts, typing, presence) shut down, none of
/// their tasks or connections is left, nor any task of the process's
/// runtime (HTTP connections, database pools and Redis connections
/// included).
#[tokio::test]
async fn nodes_leave_nothing_running_after_shutdown() {
    let Some(nodes) = cluster(3).await else { return };
    let (_, a) = sign_up(&nodes[0], "alice").await;
    let (_, b) = sign_up(&nodes[1], "bob").await;
    sign_up(&nodes[2], "cat").await;
    let group: RoomSummary = api(
        &nodes[2],
        &b,
        "create_group",
        json!({"name": "g", "members": ["alice", "cat"]}),
    )
    .await;
    let (mut wa, _) = connect(&nodes[0], &a).await;
    let (mut wb, _) = connect(&nodes[1], &b).await;
    for i in 0..5 {
        let cid = Uuid::new_v4();
        wa.send(&send(group.id, cid, &format!("m{i}"))).await;
        let (seq, _) = ack_of(&mut wa, cid).await;
        assert_eq!(next_msg(&mut wb).await.seq, seq);
        wb.send(&ClientFrame::Read { room: group.id, seq }).await;
    }
    wb.send(&ClientFrame::Typing { room: group.id }).await;
    wa.recv_until(|f| matches!(f, ServerFrame::Typing { .. })).await;
    drop((wa, wb));
    for node in nodes {
        let tasks = node.state.tasks.clone();
        node.shut_down().await;
        assert_eq!((tasks.running(), tasks.connections()), (0, 0), "the node's own");
    }
    let runtime = tokio::runtime::Handle::current().metrics();
    for _ in 0..100 {
        if runtime.num_alive_tasks() == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{} tasks still alive in the process", runtime.num_alive_tasks());
}
