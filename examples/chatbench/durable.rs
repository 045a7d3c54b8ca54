//! W6, durable persistence: how many events a second the product stores and
//! acknowledges with fsync on (SQLite `synchronous=FULL`, PostgreSQL's
//! default `synchronous_commit`). Closed loop: `senders` connections, each in
//! a room of its own, keep `window` frames in flight, so the figure is the
//! ceiling of the write path (group commit), and the ack times are those
//! under that load. The events are a mix: of every ten, seven messages, two
//! reactions and one edit, each change to one of the sender's messages
//! already acked (a room's first frames are messages). Only the product
//! persists, so only it runs here.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat::protocol::ServerFrame;
use futures::{SinkExt, StreamExt};
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message;

use crate::load::{connect_all, histogram, settle, Latency};
use crate::peer::{body, Kind, Paths, Server, Setup, Socket};

#[derive(Clone, Debug, Serialize)]
pub struct Durable {
    pub senders: usize,
    pub window: usize,
    pub secs: u64,
    /// Acks received within the run's seconds (every kind of event).
    pub acked: u64,
    /// Of those, reactions and edits.
    pub reactions: u64,
    pub edits: u64,
    pub acked_per_sec: f64,
    pub ack: Latency,
    /// Sends refused (any `error`), and sends never answered.
    pub errors: u64,
    pub unanswered: u64,
    /// Holes or repeats in a room's acked seqs (each room has one sender, so
    /// its acks must name 1, 2, 3, … in some order).
    pub seq_holes: u64,
    pub server_cpu_us_per_message: f64,
    pub server_cpu_percent: f64,
    pub generator_cpu_percent: f64,
}

/// What one sender saw.
#[derive(Default)]
struct Log {
    acked: u64,
    reactions: u64,
    edits: u64,
    latencies_us: Vec<u64>,
    errors: u64,
    unanswered: u64,
    seqs: Vec<i64>,
}

pub async fn durable(
    kind: Kind,
    paths: &Paths,
    senders: usize,
    window: usize,
    secs: u64,
) -> anyhow::Result<Durable> {
    let setup = Setup {
        users: senders,
        rooms: (0..senders).map(|i| vec![i]).collect(),
    };
    let server = Arc::new(Server::start(kind, &setup, paths).await?);
    let sockets = connect_all(&server, senders, |i| i, |i| i, |_| 0).await?;
    settle(&server).await;
    let measuring = server.window();
    let until = measuring.at + Duration::from_secs(secs);
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(i, ws)| tokio::spawn(send_loop(server.clone(), i, ws, window, until)))
        .collect();
    let mut logs = Vec::new();
    for t in tasks {
        logs.push(t.await??);
    }
    // CPU while sending (the last window's acks are in, not counted as throughput).
    let spent = measuring.end(&server);
    let server = Arc::into_inner(server).expect("no other holder");
    server.stop();

    let mut hist = histogram();
    let (mut acked, mut errors, mut unanswered, mut stored, mut seq_holes) = (0, 0, 0, 0, 0);
    let (mut reactions, mut edits) = (0, 0);
    for mut log in logs {
        for &l in &log.latencies_us {
            hist.saturating_record(l.max(1));
        }
        stored += log.latencies_us.len() as u64;
        acked += log.acked;
        reactions += log.reactions;
        edits += log.edits;
        errors += log.errors;
        unanswered += log.unanswered;
        seq_holes += holes(&mut log.seqs);
    }
    Ok(Durable {
        senders,
        window,
        secs,
        acked,
        reactions,
        edits,
        acked_per_sec: acked as f64 / secs as f64,
        ack: Latency::of(&hist),
        errors,
        unanswered,
        seq_holes,
        server_cpu_us_per_message: spent.server_cpu * 1e6 / stored.max(1) as f64,
        server_cpu_percent: spent.server_percent(),
        generator_cpu_percent: spent.own_percent(),
    })
}

/// Seqs missing from 1..=max, plus repeats: 0 when `seqs` is exactly 1, 2, 3, … in some order.
fn holes(seqs: &mut [i64]) -> u64 {
    seqs.sort_unstable();
    let repeats = seqs.windows(2).filter(|w| w[0] == w[1]).count() as u64;
    let distinct = seqs.len() as u64 - repeats;
    let max = seqs.last().copied().unwrap_or(0).max(0) as u64;
    max.saturating_sub(distinct) + repeats
}

/// Keeps `window` sends in flight until `until`, then waits for the answers.
async fn send_loop(
    server: Arc<Server>,
    room: usize,
    ws: Socket,
    window: usize,
    until: Instant,
) -> anyhow::Result<Log> {
    let (mut sink, mut stream) = ws.split();
    let mut log = Log::default();
    // In flight: when sent, and what (0 message, 1 reaction, 2 edit).
    let mut in_flight: HashMap<uuid::Uuid, (Instant, u8)> = HashMap::new();
    // The room's messages acked so far (what reactions and edits change).
    let mut messages: Vec<i64> = Vec::new();
    let mut n = 0u64;
    loop {
        while in_flight.len() < window && Instant::now() < until {
            let number = ((room as u64) << 32) | n;
            n += 1;
            let target = messages
                .get((number as usize).wrapping_mul(7919) % messages.len().max(1))
                .copied();
            let (frame, what) = match (n % 10, target) {
                (7 | 8, Some(t)) => {
                    let emoji = ["👍", "❤️", "😂", "🎉"][(n / 10 % 4) as usize];
                    (server.change_frame(room, "react", t, emoji, number), 1)
                }
                (9, Some(t)) => (
                    server.change_frame(room, "edit", t, &body(0, number, 100), number),
                    2,
                ),
                _ => (server.send_frame(room, &body(0, number, 100), number), 0),
            };
            in_flight.insert(uuid::Uuid::from_u64_pair(0xbe9c, number), (Instant::now(), what));
            sink.send(Message::text(frame)).await?;
        }
        if in_flight.is_empty() {
            break;
        }
        let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(Duration::from_secs(20), stream.next()).await
        else {
            log.unanswered += in_flight.len() as u64;
            break;
        };
        // Only acks and errors matter; the sender's own `msg` echoes are skipped unparsed.
        if !(text.starts_with(r#"{"t":"ack""#) || text.starts_with(r#"{"t":"error""#)) {
            continue;
        }
        match serde_json::from_str::<ServerFrame>(&text)? {
            ServerFrame::Ack { cid, seq, .. } => {
                let Some((sent, what)) = in_flight.remove(&cid) else {
                    continue;
                };
                let now = Instant::now();
                if now <= until {
                    log.acked += 1;
                    log.reactions += u64::from(what == 1);
                    log.edits += u64::from(what == 2);
                }
                if what == 0 {
                    messages.push(seq);
                }
                log.latencies_us.push(now.duration_since(sent).as_micros() as u64);
                log.seqs.push(seq);
            }
            ServerFrame::Error { cid, .. } => {
                log.errors += 1;
                if let Some(cid) = cid {
                    in_flight.remove(&cid);
                }
            }
            _ => {}
        }
    }
    Ok(log)
}
