//! The workloads: idle connections (memory per connection) and a room's
//! fan-out (latency, loss, CPU per delivery). Senders are open-loop: each
//! message has an intended send time on a fixed schedule and its latency is
//! counted from then, so a server that falls behind cannot hide it by
//! slowing the sender down (no coordinated omission).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::peer::{body, marker, Kind, Paths, Server, Setup, Socket};

/// Client connections come from 127.0.0.1–4, so many fit the ephemeral ports.
pub(crate) fn source(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (i % 4) as u8))
}

/// Opens `n` connections, 100 at a time; connection i is for `user(i)` in
/// `room(i)` on node `node(i)`.
pub(crate) async fn connect_all(
    server: &Arc<Server>,
    n: usize,
    user: impl Fn(usize) -> usize,
    room: impl Fn(usize) -> usize,
    node: impl Fn(usize) -> usize,
) -> anyhow::Result<Vec<Socket>> {
    let mut out = Vec::with_capacity(n);
    let mut pending = futures::stream::iter((0..n).map(|i| {
        let server = server.clone();
        let (u, r, at) = (user(i), room(i), node(i));
        async move { Ok::<_, anyhow::Error>(server.connect(at, u, r, source(i)).await?.0) }
    }))
    .buffered(100);
    while let Some(ws) = pending.next().await {
        out.push(ws?);
    }
    Ok(out)
}

/// Waits (up to 30 s) until the server is nearly idle: what connecting set
/// off (the product tells each newcomer's contacts they are online) is
/// connection cost, not part of the load measured next.
pub(crate) async fn settle(server: &Server) {
    let step = Duration::from_millis(250);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut before = server.cpu();
    while Instant::now() < deadline {
        tokio::time::sleep(step).await;
        let now = server.cpu();
        // Below 5 % of a core (the clock ticks are 10 ms).
        if (now - before).as_secs_f64() < 0.05 * step.as_secs_f64() * server.pids().len() as f64 + 0.011 {
            return;
        }
        before = now;
    }
    tracing::warn!(
        peer = server.kind.name(),
        "the server did not go idle after connecting"
    );
}

#[derive(Clone, Debug, Serialize)]
pub struct Idle {
    pub connections: usize,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    pub kib_per_connection: f64,
}

/// W1: memory per idle connection.
pub async fn idle(kind: Kind, paths: &Paths, n: usize) -> anyhow::Result<Idle> {
    let users = n.min(1_000);
    let setup = Setup {
        users,
        rooms: Vec::new(),
    };
    let server = Arc::new(Server::start(kind, &setup, paths).await?);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = server.rss_kib();
    let sockets = connect_all(&server, n, |i| i % users, |_| 0, |_| 0).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = server.rss_kib();
    drop(sockets);
    let server = Arc::into_inner(server).expect("no other holder");
    server.stop();
    Ok(Idle {
        connections: n,
        rss_before_kib: before,
        rss_after_kib: after,
        kib_per_connection: after.saturating_sub(before) as f64 / n as f64,
    })
}

#[derive(Clone, Debug, Serialize)]
pub struct Fanout {
    pub rooms: usize,
    /// Receivers per room (each room also has its sender).
    pub receivers: usize,
    /// Messages sent in all.
    pub messages: u64,
    pub msgs_per_sec: u64,
    pub offered_deliveries_per_sec: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub server_cpu_us_per_delivery: f64,
    pub server_cpu_percent: f64,
    pub server_rss_kib: u64,
    pub generator_cpu_percent: f64,
    /// How late the sender was on its schedule at worst (ms): the generator's own lag.
    pub sender_late_ms: f64,
    /// With several nodes (W4): the receivers on the sender's node, and on the others.
    pub same_node: Option<Latency>,
    pub cross_node: Option<Latency>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub(crate) fn of(hist: &hdrhistogram::Histogram<u64>) -> Self {
        let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
        Self {
            p50_ms: ms(0.5),
            p99_ms: ms(0.99),
            max_ms: hist.max() as f64 / 1000.0,
        }
    }
}

pub(crate) fn histogram() -> hdrhistogram::Histogram<u64> {
    hdrhistogram::Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds")
}

/// What one receiver saw.
struct Seen {
    latencies_us: Vec<u64>,
    got: Vec<bool>,
    duplicated: u64,
    reordered: u64,
}

/// The shape of a fan-out run: `rooms` rooms of one sender and `receivers`
/// receivers each, on `nodes` nodes (receivers spread over them, senders on the first).
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub rooms: usize,
    pub receivers: usize,
    pub nodes: usize,
}

/// W2 (one room), W3 (many rooms) and W4 (two nodes): messages go round the
/// rooms at `rate` messages/s in all, for `secs`.
pub async fn fanout(kind: Kind, paths: &Paths, shape: Shape, rate: u64, secs: u64) -> anyhow::Result<Fanout> {
    let Shape {
        rooms,
        receivers,
        nodes,
    } = shape;
    let size = receivers + 1;
    let setup = Setup {
        users: rooms * size,
        rooms: (0..rooms).map(|r| (r * size..(r + 1) * size).collect()).collect(),
    };
    let server = Arc::new(Server::start_nodes(kind, &setup, paths, nodes).await?);
    // Every room gets the same number of messages.
    let per_room = (rate * secs).div_ceil(rooms as u64);
    let total = per_room * rooms as u64;
    // Connection i is receiver i % receivers of room i / receivers; user 0 of each room sends.
    let receiver = |i: usize| (i / receivers) * size + 1 + i % receivers;
    let sockets = connect_all(
        &server,
        rooms * receivers,
        receiver,
        |i| i / receivers,
        |i| i % nodes,
    )
    .await?;
    let senders = connect_all(&server, rooms, |r| r * size, |r| r, |_| 0).await?;
    let (stop_tx, stop) = watch::channel(false);
    let epoch = Instant::now();
    let tasks: Vec<_> = sockets
        .into_iter()
        .map(|ws| tokio::spawn(receive(ws, (rooms as u64, per_room), epoch, stop.clone())))
        .collect();
    let mut sinks = Vec::with_capacity(rooms);
    let mut drains = Vec::with_capacity(rooms);
    for ws in senders {
        let (sink, mut echoes) = ws.split();
        sinks.push(sink);
        // A sender's own socket is drained (acks, its own messages) so it never blocks.
        drains.push(tokio::spawn(async move {
            while let Some(Ok(_)) = echoes.next().await {}
        }));
    }
    settle(&server).await;
    tracing::info!(messages = total, pids = ?server.pids(), "connected; sending");

    let window = server.window();
    let start = Instant::now() + Duration::from_millis(10);
    let interval = Duration::from_nanos(1_000_000_000 / rate.max(1));
    let mut late = Duration::ZERO;
    for n in 0..total {
        let due = start + interval * n as u32;
        tokio::time::sleep_until(due.into()).await;
        late = late.max(Instant::now().saturating_duration_since(due));
        let sent_us = due.duration_since(epoch).as_micros() as u64;
        let room = (n % rooms as u64) as usize;
        let frame = server.send_frame(room, &body(sent_us, n, 100), n);
        sinks[room].send(Message::text(frame)).await?;
    }
    // Give the last messages time to arrive, then stop the receivers.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let spent = window.end(&server);
    let rss = server.rss_kib();
    let _ = stop_tx.send(true);
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await?);
    }
    for d in drains {
        d.abort();
    }
    let server = Arc::into_inner(server).expect("no other holder");
    server.stop();

    // Receiver i is on node i % nodes; the senders are on node 0.
    let (mut hist, mut same, mut cross) = (histogram(), histogram(), histogram());
    let (mut delivered, mut lost, mut duplicated, mut reordered) = (0, 0, 0, 0);
    for (i, s) in seen.iter().enumerate() {
        let side = if i % nodes == 0 { &mut same } else { &mut cross };
        for &l in &s.latencies_us {
            hist.saturating_record(l.max(1));
            side.saturating_record(l.max(1));
        }
        let got = s.got.iter().filter(|g| **g).count() as u64;
        delivered += got;
        lost += per_room - got;
        duplicated += s.duplicated;
        reordered += s.reordered;
    }
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    Ok(Fanout {
        rooms,
        receivers,
        msgs_per_sec: rate,
        offered_deliveries_per_sec: rate * receivers as u64,
        messages: total,
        delivered,
        lost,
        duplicated,
        reordered,
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        p999_ms: ms(0.999),
        max_ms: hist.max() as f64 / 1000.0,
        server_cpu_us_per_delivery: spent.server_cpu * 1e6 / delivered.max(1) as f64,
        server_cpu_percent: spent.server_percent(),
        server_rss_kib: rss,
        generator_cpu_percent: spent.own_percent(),
        sender_late_ms: late.as_secs_f64() * 1000.0,
        same_node: (nodes > 1).then(|| Latency::of(&same)),
        cross_node: (nodes > 1).then(|| Latency::of(&cross)),
    })
}

/// Reads one receiver's socket until `stop`; message n is its room's number n / rooms.
async fn receive(
    mut ws: Socket,
    (rooms, per_room): (u64, u64),
    epoch: Instant,
    mut stop: watch::Receiver<bool>,
) -> Seen {
    let mut seen = Seen {
        latencies_us: Vec::with_capacity(per_room as usize),
        got: vec![false; per_room as usize],
        duplicated: 0,
        reordered: 0,
    };
    let mut highest = None;
    loop {
        let msg = tokio::select! {
            msg = ws.next() => msg,
            _ = stop.changed() => break,
        };
        let Some(Ok(Message::Text(text))) = msg else {
            if msg.is_none() {
                break;
            }
            continue;
        };
        if &*text == "2" {
            // Socket.IO's ping.
            let _ = ws.send(Message::text("3")).await;
            continue;
        }
        let Some((sent_us, n)) = marker(&text) else {
            continue;
        };
        let n = n / rooms;
        let now_us = epoch.elapsed().as_micros() as u64;
        let Some(slot) = seen.got.get_mut(n as usize) else {
            continue;
        };
        if *slot {
            seen.duplicated += 1;
            continue;
        }
        *slot = true;
        if highest.is_some_and(|h| n < h) {
            seen.reordered += 1;
        }
        highest = highest.max(Some(n));
        seen.latencies_us.push(now_us.saturating_sub(sent_us));
    }
    seen
}
