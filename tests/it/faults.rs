//! Faults in the cluster shape, with real processes: a node killed with
//! SIGKILL in mid-traffic, and Redis restarted in mid-traffic. Clients are
//! the shared state machine (`chat::sync::Client`), reconnecting to another
//! node the way the browser does, so what is checked is what people get:
//! every acked message at every member, once, in order.

use crate::common;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chat::model::RoomSummary;
use chat::protocol::{ClientFrame, ServerFrame};
use chat::server::Config;
use chat::sync::{Client, Config as SyncConfig};
use common::ws::{connect, Ws};
use common::{api, sign_up, Node, NodeProcess, OwnService, TestServer};
use serde_json::json;
use uuid::Uuid;

/// A person: the state machine, its socket, and every ack it ever got.
struct Person {
    client: Client,
    ws: Option<Ws>,
    acks: BTreeMap<Uuid, i64>,
}

impl Person {
    async fn on(node: &impl Node, cookie: &str) -> Self {
        let mut p = Self {
            client: Client::new(SyncConfig::default()),
            ws: None,
            acks: BTreeMap::new(),
        };
        p.reconnect(node, cookie).await;
        p
    }

    /// Connects (again) as the browser would: hello, welcome, resends, syncs.
    async fn reconnect(&mut self, node: &impl Node, cookie: &str) {
        self.client.disconnected();
        self.client.connected();
        let (ws, welcome) = connect(node, cookie).await;
        self.ws = Some(ws);
        self.feed(welcome).await;
    }

    async fn feed(&mut self, frame: ServerFrame) {
        if let ServerFrame::Ack { cid, seq, .. } = &frame {
            let first = *self.acks.entry(*cid).or_insert(*seq);
            assert_eq!(first, *seq, "a resend of {cid} got another seq");
        }
        let out = self.client.handle(frame, 0);
        self.send_all(out.frames).await;
    }

    /// Sends what the machine asks; a dead connection is dropped (the
    /// machine sends it all again after the next welcome).
    async fn send_all(&mut self, frames: Vec<ClientFrame>) {
        for f in frames {
            let Some(ws) = self.ws.as_mut() else { return };
            if !ws.try_send(&f).await {
                self.ws = None;
            }
        }
    }

    /// Handles frames until `done`; false if the socket closed first.
    async fn run_until(&mut self, done: impl Fn(&Self) -> bool) -> bool {
        while !done(self) {
            let Some(ws) = self.ws.as_mut() else { return false };
            match ws.next().await {
                Some(frame) => self.feed(frame).await,
                None => {
                    self.ws = None;
                    return false;
                }
            }
        }
        true
    }

    fn held(&self, room: i64) -> Vec<(i64, String)> {
        self.client
            .room(room)
            .map(|r| r.msgs.values().map(|m| (m.seq, m.body.clone())).collect())
            .unwrap_or_default()
    }
}

/// Checks what a member holds: seqs 1..=n without a hole, each body once.
fn assert_complete(held: &[(i64, String)], bodies: &[String]) {
    let seqs: Vec<i64> = held.iter().map(|h| h.0).collect();
    assert_eq!(seqs, (1..=bodies.len() as i64).collect::<Vec<_>>(), "no gap");
    let mut got: Vec<&String> = held.iter().map(|h| &h.1).collect();
    got.sort();
    let mut want: Vec<&String> = bodies.iter().collect();
    want.sort();
    assert_eq!(got, want, "every message once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_traffic_loses_no_acked_message() {
    let Some((redis, prefix)) = common::redis_url() else {
        return;
    };
    node_killed_mid_traffic(&redis, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_on_a_redis_cluster_loses_no_acked_message() {
    if common::redis_url().is_none() {
        return;
    }
    let redis = OwnService::redis_cluster();
    node_killed_mid_traffic(&redis.url, "killed").await;
}

/// Two nodes on `redis`; the one the sender is on is killed with SIGKILL
/// while its sends are in flight.
async fn node_killed_mid_traffic(redis: &str, prefix: &str) {
    let Some(database) = common::postgres_url().await else {
        return;
    };
    let env = [
        ("DATABASE_URL", database.as_str()),
        ("REDIS_URL", redis),
        ("CHAT_REDIS_PREFIX", prefix),
        ("CHAT_HEARTBEAT_MS", "200"),
        ("CHAT_HEARTBEAT_TIMEOUT_MS", "600"),
        // Hundreds of sends through one connection: no send rate limit here.
        ("CHAT_SEND_RATE", "100000"),
        ("CHAT_SEND_BURST", "100000"),
    ];
    let survivor = NodeProcess::start(&env).await;
    let mut doomed = NodeProcess::start(&env).await;
    let (_, ann) = sign_up(&survivor, "ann").await;
    let (_, ben) = sign_up(&survivor, "ben").await;
    let (cat, cat_cookie) = sign_up(&survivor, "cat").await;
    let room: RoomSummary = api(
        &survivor,
        &ann,
        "create_group",
        json!({"name": "Faults", "members": ["ben", "cat"]}),
    )
    .await;

    // Ann sends from the node that dies; Ben reads on the one that lives;
    // Cat is on the doomed node and does not come back.
    let mut sender = Person::on(&doomed, &ann).await;
    let mut reader = Person::on(&survivor, &ben).await;
    let (_cat_ws, _) = connect(&doomed, &cat_cookie).await;

    const TOTAL: usize = 200;
    let bodies: Vec<String> = (0..TOTAL).map(|i| format!("m{i}")).collect();
    for body in &bodies {
        let out = sender.client.send(room.id, Uuid::new_v4(), body.clone(), 0);
        sender.send_all(out.frames).await;
    }
    // Kill the sender's node once some, not all, are acked.
    sender.run_until(|p| p.acks.len() >= TOTAL / 4).await;
    doomed.kill();
    let killed = Instant::now();
    let acked_before = sender.acks.len();
    sender.run_until(|_| false).await; // reads what was in flight until the socket dies

    // The sender comes back through another node; its outbox goes out again.
    sender.reconnect(&survivor, &ann).await;
    assert!(
        // Its own messages can come back (and empty the outbox) before their acks.
        sender
            .run_until(|p| p.client.outbox().is_empty() && p.acks.len() >= TOTAL)
            .await,
        "all sends acked after the failover"
    );
    assert_eq!(sender.acks.len(), TOTAL);

    // Cat's node died with her: her contacts see her offline within the lease TTL.
    let offline = loop {
        let (_ws, welcome) = connect(&survivor, &ben).await;
        let ServerFrame::Welcome { contacts, .. } = welcome else {
            unreachable!()
        };
        if contacts.iter().any(|p| p.user == cat.id && !p.online) {
            break killed.elapsed();
        }
        assert!(killed.elapsed() < Duration::from_secs(10), "cat still online");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // The reader holds every message, once, in order. (Not read meanwhile,
    // its socket missed heartbeats and was closed: it reconnects, as a
    // browser does, and resumes.)
    let all = |p: &Person| p.client.room(room.id).is_some_and(|r| r.last >= TOTAL as i64);
    while !reader.run_until(all).await {
        reader.reconnect(&survivor, &ben).await;
    }
    assert_complete(&reader.held(room.id), &bodies);
    eprintln!(
        "node kill: {TOTAL} sent, {acked_before} acked before the kill, {} acked in all, \
         reader got {} in order; cat offline after {offline:?}",
        sender.acks.len(),
        reader.held(room.id).len()
    );
}

/// `/readyz`: its status and body.
async fn ready(node: &impl Node) -> (u16, String) {
    let res = reqwest::get(node.url("/readyz")).await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// Ann on one node writing to Ben on another, in a direct room: two
/// in-process nodes on a fresh database and a Redis of the test's own (to
/// stop or disturb), without send limits.
struct AcrossNodes {
    redis: OwnService,
    nodes: Vec<TestServer>,
    room: i64,
    ben: String,
    sender: Person,
    reader: Person,
}

async fn ann_and_ben_across_nodes(redis: impl FnOnce() -> OwnService) -> Option<AcrossNodes> {
    let database = common::postgres_url().await?;
    let redis = redis();
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let mut config = Config::for_database(&database);
        config.redis_url = Some(redis.url.clone());
        (config.send_rate, config.send_burst) = (100_000, 100_000);
        nodes.push(TestServer::start(config).await);
    }
    let (_, ann) = sign_up(&nodes[0], "ann").await;
    let (_, ben) = sign_up(&nodes[1], "ben").await;
    let room: RoomSummary = api(&nodes[0], &ann, "open_direct", json!({"handle": "ben"})).await;
    let sender = Person::on(&nodes[0], &ann).await;
    let reader = Person::on(&nodes[1], &ben).await;
    Some(AcrossNodes {
        redis,
        nodes,
        room: room.id,
        ben,
        sender,
        reader,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_mid_traffic_loses_nothing_and_the_cache_refills() {
    let Some(AcrossNodes {
        redis,
        nodes,
        room,
        ben,
        mut sender,
        mut reader,
    }) = ann_and_ben_across_nodes(OwnService::redis).await
    else {
        return;
    };

    const TOTAL: usize = 150;
    let bodies: Vec<String> = (0..TOTAL).map(|i| format!("r{i}")).collect();
    for (i, body) in bodies.iter().enumerate() {
        if i == TOTAL / 3 {
            redis.restart();
        }
        let out = sender.client.send(room, Uuid::new_v4(), body.clone(), 0);
        sender.send_all(out.frames).await;
    }
    // Sends do not depend on Redis: all are acked.
    assert!(sender.run_until(|p| p.client.outbox().is_empty()).await);
    // The reader's node resubscribes and makes its clients resync: nothing lost.
    assert!(
        reader
            .run_until(|p| p.client.room(room).is_some_and(|r| r.last >= TOTAL as i64))
            .await
    );
    assert_complete(&reader.held(room), &bodies);

    // A longer outage: sends go on (storage is the truth, the breaker skips
    // Redis), local delivery goes on; cross-node delivery resumes with a
    // resync when Redis is back.
    redis.stop();
    let mut bodies = bodies;
    for i in 0..30 {
        let body = format!("down {i}");
        let out = sender.client.send(room, Uuid::new_v4(), body.clone(), 0);
        sender.send_all(out.frames).await;
        bodies.push(body);
    }
    let sent = bodies.len();
    assert!(
        sender.run_until(|p| p.acks.len() >= sent).await,
        "every send acked while Redis was down"
    );
    assert_eq!(ready(&nodes[0]).await, (503, "Redis unreachable".to_string()));
    redis.restart();
    let all = bodies.len() as i64;
    assert!(
        reader
            .run_until(|p| p.client.room(room).is_some_and(|r| r.last >= all))
            .await
    );
    assert_complete(&reader.held(room), &bodies);

    // Messages committed while Redis was down are not in the cache (syncs
    // went to the database); the ones after it is back are: a resume from
    // just before a new message is served from the cache.
    let (mut ws, _) = connect(&nodes[1], &ben).await;
    let mut refilled = None;
    for n in 1..=60 {
        let cid = Uuid::new_v4();
        let out = sender.client.send(room, cid, format!("after {n}"), 0);
        sender.send_all(out.frames).await;
        assert!(sender.run_until(|p| p.acks.contains_key(&cid)).await);
        let seq = sender.acks[&cid];
        let (hits_before, _) = nodes[1].state.cache.stats();
        ws.send(&ClientFrame::Sync {
            room,
            after: seq - 1,
            limit: None,
        })
        .await;
        let batch = ws.recv_until(|f| matches!(f, ServerFrame::Batch { .. })).await;
        assert!(matches!(batch, ServerFrame::Batch { msgs, .. } if msgs.len() == 1));
        if nodes[1].state.cache.stats().0 > hits_before {
            refilled = Some(n);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refilled = refilled.expect("the cache serves again after Redis is back");
    assert_eq!(ready(&nodes[0]).await.0, 200, "ready again");
    eprintln!(
        "redis restart: {TOTAL} sent across a restart and 30 during an outage, all {} acked, \
         reader got all {} in order; cache hit again at message {refilled} after",
        bodies.len(),
        reader.held(room).len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_cluster_master_killed_mid_traffic_fails_over_and_loses_nothing() {
    if common::redis_url().is_none() {
        return;
    }
    let Some(AcrossNodes {
        redis,
        nodes: _nodes,
        room,
        ben: _,
        mut sender,
        mut reader,
    }) = ann_and_ben_across_nodes(OwnService::redis_cluster).await
    else {
        return;
    };
    let holds = |n: usize| move |p: &Person| p.client.room(room).is_some_and(|r| r.last >= n as i64);
    let out = sender.client.send(room, Uuid::new_v4(), "m0".into(), 0);
    sender.send_all(out.frames).await;
    assert!(reader.run_until(holds(1)).await, "delivered live across nodes");

    // The master of the room's shard (its channel and cache are tagged by
    // the room) dies in mid-traffic; its replica takes over.
    let seeds: Vec<&str> = redis.url.split(',').collect();
    let mut admin = redis::Client::open(seeds[0])
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let master = |admin: redis::aio::MultiplexedConnection| async move {
        let mut admin = admin;
        let slot: i64 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(format!("{{{room}}}"))
            .query_async(&mut admin)
            .await
            .unwrap();
        // Each: [first slot, last slot, [host, port, id, …] of the master, replicas…].
        let slots: Vec<Vec<redis::Value>> = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query_async(&mut admin)
            .await
            .unwrap();
        use redis::Value::{Array, Int};
        slots
            .iter()
            .find_map(|range| match range.as_slice() {
                [Int(from), Int(to), Array(master), ..] if (*from..=*to).contains(&slot) => {
                    match master.as_slice() {
                        [_, Int(port), ..] => Some(*port),
                        _ => None,
                    }
                }
                _ => None,
            })
            .expect("the slot is served")
    };
    let doomed = master(admin.clone()).await;
    const TOTAL: usize = 150;
    let mut bodies: Vec<String> = vec!["m0".into()];
    for i in 1..TOTAL {
        if i == TOTAL / 3 {
            let mut victim = redis::Client::open(format!("redis://127.0.0.1:{doomed}"))
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .unwrap();
            let _ = redis::cmd("SHUTDOWN")
                .arg("NOSAVE")
                .query_async::<()>(&mut victim)
                .await;
        }
        let body = format!("m{i}");
        let out = sender.client.send(room, Uuid::new_v4(), body.clone(), 0);
        sender.send_all(out.frames).await;
        bodies.push(body);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Sends do not depend on Redis: all are acked.
    assert!(sender.run_until(|p| p.client.outbox().is_empty()).await);
    if seeds[0].ends_with(&format!(":{doomed}")) {
        admin = redis::Client::open(seeds[1])
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    let now = loop {
        let now = master(admin.clone()).await;
        if now != doomed || Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_ne!(now, doomed, "a replica took the shard over");
    // The reader's node subscribes again on the new master and its clients
    // resync: nothing lost, nothing twice.
    let got_all = tokio::time::timeout(Duration::from_secs(20), reader.run_until(holds(TOTAL))).await;
    assert_eq!(got_all, Ok(true), "every message reached the reader");
    assert_complete(&reader.held(room), &bodies);

    // And live delivery goes on through the new master.
    let out = sender.client.send(room, Uuid::new_v4(), "after".into(), 0);
    sender.send_all(out.frames).await;
    bodies.push("after".into());
    let live = tokio::time::timeout(Duration::from_secs(5), reader.run_until(holds(TOTAL + 1))).await;
    assert_eq!(live, Ok(true), "delivered live after the failover");
    assert_complete(&reader.held(room), &bodies);
    eprintln!("redis master {doomed} killed: {TOTAL} sent across the failover to {now}, all delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_lost_while_the_other_node_stays_subscribed_makes_its_clients_resync() {
    let Some(AcrossNodes {
        redis,
        nodes,
        room,
        ben: _,
        mut sender,
        mut reader,
    }) = ann_and_ben_across_nodes(OwnService::redis).await
    else {
        return;
    };
    let holds = |n: i64| move |p: &Person| p.client.room(room).is_some_and(|r| r.last >= n);
    let out = sender.client.send(room, Uuid::new_v4(), "live".into(), 0);
    sender.send_all(out.frames).await;
    assert!(reader.run_until(holds(1)).await, "delivered live across nodes");

    // Redis drops the publishing connections (not the subscriptions): the
    // next publish fails and nothing else tells the other node.
    let client = redis::Client::open(redis.url.as_str()).unwrap();
    let mut admin = client.get_multiplexed_async_connection().await.unwrap();
    let killed: i64 = redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "normal", "SKIPME", "yes"])
        .query_async(&mut admin)
        .await
        .unwrap();
    assert!(killed > 0, "the nodes' connections were dropped");
    let out = sender.client.send(room, Uuid::new_v4(), "unpublished".into(), 0);
    sender.send_all(out.frames).await;
    assert!(sender.run_until(|p| p.client.outbox().is_empty()).await, "acked");
    let failures = || {
        nodes[0]
            .state
            .metrics
            .bus_publish_failures
            .load(Ordering::Relaxed)
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while failures() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(failures() > 0, "the publish failed");
    // Once Redis answers the sender's node again, the reader's node is asked to resync.
    let caught_up = tokio::time::timeout(Duration::from_secs(10), reader.run_until(holds(2))).await;
    assert_eq!(caught_up, Ok(true), "the lost message reached the reader");
    assert_complete(&reader.held(room), &["live".into(), "unpublished".into()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_started_while_redis_is_down_waits_for_it() {
    let Some(database) = common::postgres_url().await else {
        return;
    };
    let redis = OwnService::redis();
    let url = redis.url.clone();
    redis.stop();
    let back = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        tokio::task::spawn_blocking(move || {
            redis.restart();
            redis
        })
        .await
    });
    let started = Instant::now();
    let node = NodeProcess::start(&[("DATABASE_URL", database.as_str()), ("REDIS_URL", url.as_str())]).await;
    assert!(
        started.elapsed() >= Duration::from_millis(1_000),
        "it waited for Redis"
    );
    assert_eq!(ready(&node).await, (200, "ready".to_string()));
    let _redis = back.await.expect("joined").expect("Redis restarted");
}
