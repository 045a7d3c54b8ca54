//! W5, a reconnect storm: `clients` people who were away (an outage, a node
//! restart) while `missed` messages went into each of their rooms of ten all
//! connect at once, as the browser does: `hello`, then `sync` from the last
//! seq they hold until the head the `welcome` named. Measured: the time until
//! every one holds every message (from the moment they all start), the
//! per-client times, and gaps (a seq a client never got). Only the product
//! resyncs, so only it runs here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chat::protocol::{ClientFrame, ServerFrame};
use futures::{SinkExt, StreamExt};
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message;

use crate::load::{connect_all, histogram, source, Latency};
use crate::peer::{body, Kind, Paths, Server, Setup, Socket};

/// People per room.
const ROOM_SIZE: usize = 10;
/// How long a client keeps trying to connect and sync.
const GIVE_UP: Duration = Duration::from_secs(60);

#[derive(Clone, Debug, Serialize)]
pub struct Reconnect {
    pub clients: usize,
    pub rooms: usize,
    pub missed_per_room: u64,
    /// From the moment all start until the last one holds everything.
    pub all_resynced_ms: f64,
    /// Per client.
    pub resynced: Latency,
    /// Seqs some client never got (in its batches, or missing at the end).
    pub gaps: u64,
    /// Clients that gave up (counted in `gaps` too).
    pub unfinished: u64,
    /// Connection attempts that failed and were tried again.
    pub retries: u64,
    pub server_cpu_s: f64,
    pub server_rss_kib: u64,
    pub generator_cpu_percent: f64,
}

/// One client's outcome: time to hold everything, gaps, retries.
struct Outcome {
    ms: Option<u64>,
    gaps: u64,
    retries: u64,
}

pub async fn reconnect(paths: &Paths, clients: usize, missed: u64) -> anyhow::Result<Reconnect> {
    let rooms = clients.div_ceil(ROOM_SIZE);
    let setup = Setup {
        users: clients,
        rooms: (0..rooms)
            .map(|r| (r * ROOM_SIZE..((r + 1) * ROOM_SIZE).min(clients)).collect())
            .collect(),
    };
    let server = Arc::new(Server::start(Kind::Chat, &setup, paths).await?);

    // While they are away, each room's first member writes `missed` messages from another device.
    let writers = connect_all(&server, rooms, |r| r * ROOM_SIZE, |r| r, |_| 0).await?;
    let writing: Vec<_> = writers
        .into_iter()
        .enumerate()
        .map(|(r, ws)| tokio::spawn(write(server.clone(), r, ws, missed)))
        .collect();
    for w in writing {
        w.await??;
    }

    // Then everyone comes back at once.
    let window = server.window();
    let tasks: Vec<_> = (0..clients)
        .map(|i| tokio::spawn(resync(server.clone(), i, i / ROOM_SIZE, window.at)))
        .collect();
    let mut outcomes = Vec::with_capacity(clients);
    for t in tasks {
        outcomes.push(t.await?);
    }
    let spent = window.end(&server);
    let rss = server.rss_kib();
    let server = Arc::into_inner(server).expect("no other holder");
    server.stop();

    let mut hist = histogram();
    let (mut all, mut gaps, mut unfinished, mut retries) = (0, 0, 0, 0);
    for o in &outcomes {
        match o.ms {
            Some(ms) => {
                hist.saturating_record(ms.max(1) * 1000);
                all = all.max(ms);
            }
            None => unfinished += 1,
        }
        gaps += o.gaps;
        retries += o.retries;
    }
    Ok(Reconnect {
        clients,
        rooms,
        missed_per_room: missed,
        all_resynced_ms: all as f64,
        resynced: Latency::of(&hist),
        gaps,
        unfinished,
        retries,
        server_cpu_s: spent.server_cpu,
        server_rss_kib: rss,
        generator_cpu_percent: spent.own_percent(),
    })
}

/// Sends `missed` messages into room `room` and waits for their acks.
async fn write(server: Arc<Server>, room: usize, mut ws: Socket, missed: u64) -> anyhow::Result<()> {
    for k in 0..missed {
        let n = ((room as u64) << 32) | k;
        ws.send(Message::text(server.send_frame(room, &body(0, n, 100), n)))
            .await?;
    }
    let mut acked = 0;
    while acked < missed {
        match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) if t.starts_with(r#"{"t":"ack""#) => acked += 1,
            Ok(Some(Ok(Message::Text(t)))) if t.starts_with(r#"{"t":"error""#) => {
                bail!("a send was refused: {t}")
            }
            Ok(Some(Ok(_))) => {}
            _ => bail!("room {room}: {acked} of {missed} acked"),
        }
    }
    Ok(())
}

/// One client: connect (again, on failure), then sync its room from seq 0 up to the head.
async fn resync(server: Arc<Server>, i: usize, room: usize, t0: Instant) -> Outcome {
    let mut out = Outcome {
        ms: None,
        gaps: 0,
        retries: 0,
    };
    let room_id = server.room_id(room);
    let (mut ws, welcome) = loop {
        match server.connect(0, i, room, source(i)).await {
            Ok(c) => break c,
            Err(e) if t0.elapsed() < GIVE_UP => {
                tracing::debug!(client = i, error = %e, "connect failed; again");
                out.retries += 1;
                tokio::time::sleep(Duration::from_millis(100 + (i % 400) as u64)).await;
            }
            Err(e) => {
                tracing::warn!(client = i, error = %e, "gave up connecting");
                return out;
            }
        }
    };
    let head = match head_of(&welcome, room_id) {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(client = i, error = %e, "no head");
            return out;
        }
    };
    let mut last = 0;
    while last < head {
        match page(&mut ws, room_id, last).await {
            Ok((seqs, more)) => {
                for seq in seqs {
                    if seq > last + 1 {
                        out.gaps += (seq - last - 1) as u64;
                    }
                    last = last.max(seq);
                }
                if !more {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(client = i, error = %e, "sync failed");
                break;
            }
        }
    }
    if last >= head {
        out.ms = Some(t0.elapsed().as_millis() as u64);
    } else {
        out.gaps += (head - last) as u64;
    }
    out
}

/// The head of `room` in a `welcome`.
fn head_of(welcome: &str, room: i64) -> anyhow::Result<i64> {
    match serde_json::from_str::<ServerFrame>(welcome)? {
        ServerFrame::Welcome { rooms, .. } => rooms
            .iter()
            .find(|r| r.id == room)
            .map(|r| r.head_seq)
            .context("the welcome lacks the room"),
        _ => bail!("not a welcome"),
    }
}

/// One `sync` page: the seqs it held and whether there are more.
async fn page(ws: &mut Socket, room: i64, after: i64) -> anyhow::Result<(Vec<i64>, bool)> {
    let sync = ClientFrame::Sync {
        room,
        after,
        limit: None,
    };
    ws.send(Message::text(serde_json::to_string(&sync)?)).await?;
    loop {
        let frame = tokio::time::timeout(GIVE_UP, ws.next())
            .await
            .context("no batch")?
            .context("closed")??;
        let Message::Text(text) = frame else { continue };
        if !text.starts_with(r#"{"t":"batch""#) {
            continue;
        }
        if let ServerFrame::Batch {
            room: r,
            msgs,
            more,
            history: false,
            ..
        } = serde_json::from_str(&text)?
        {
            if r == room {
                return Ok((msgs.iter().map(|m| m.seq).collect(), more));
            }
        }
    }
}
