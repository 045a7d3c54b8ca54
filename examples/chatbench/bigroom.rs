//! W8 and W9, big rooms (design §10; the product only: the peers have no
//! receipts and no membership). One group of `members`, `online` of them
//! connected, one sender at `rate` messages/s; every online member behaves
//! like the browser: it reports `delivered` for what it holds at most every
//! 300 ms, and one in ten reports `read` instead. Measured: the receipt
//! frames (`receipt`, `ticks`) each member receives per message, resyncs,
//! message latency, bytes sent to the members and server CPU per message.
//! W8 compares a room of 10,000 members (50 online) with one of 100; W9 is
//! 1,000 members all online.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chat::protocol::ServerFrame;
use futures::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::load::{connect_all, histogram, settle, Latency};
use crate::peer::{body, marker, Kind, Paths, Server, Setup, Socket};

/// How often a member may report, as the browser does (`sync::marks`).
const REPORT_GAP: Duration = Duration::from_millis(300);

#[derive(Clone, Debug, Serialize)]
pub struct BigRoom {
    pub members: usize,
    pub online: usize,
    pub msgs_per_sec: u64,
    pub messages: u64,
    /// Receipt frames (`receipt` and `ticks`) a receiving member got per
    /// message: the mean over members, and the most any one got.
    pub receipt_frames_per_member_msg: f64,
    pub receipt_frames_per_member_msg_max: f64,
    /// `ticks` frames the sender got per second.
    pub sender_ticks_per_sec: f64,
    pub resyncs: u64,
    pub lost: u64,
    pub latency: Latency,
    /// Bytes of every frame the online members received, per message.
    pub bytes_per_msg: f64,
    pub server_cpu_us_per_msg: f64,
    pub server_cpu_percent: f64,
}

/// What one member saw.
#[derive(Default)]
struct Seen {
    latencies_us: Vec<u64>,
    got: u64,
    receipts: u64,
    resyncs: u64,
    bytes: u64,
}

pub async fn big_room(
    paths: &Paths,
    members: usize,
    online: usize,
    rate: u64,
    secs: u64,
) -> anyhow::Result<BigRoom> {
    let online = online.clamp(2, members);
    let setup = Setup {
        users: members,
        rooms: vec![(0..members).collect()],
    };
    let server = Arc::new(Server::start(Kind::Chat, &setup, paths).await?);
    let room = server.room_id(0);
    // Online are the first `online` people; person 0 sends.
    let mut sockets = connect_all(&server, online, |i| i, |_| 0, |_| 0).await?;
    let sender = sockets.remove(0);
    let total = rate * secs;
    let (stop_tx, stop) = watch::channel(false);
    let epoch = Instant::now();
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(i, ws)| tokio::spawn(member(ws, room, (i + 1) % 10 == 0, epoch, stop.clone())))
        .collect();
    let (mut sink, mut echoes) = sender.split();
    let ticks = tokio::spawn(async move {
        let mut n = 0u64;
        while let Some(Ok(m)) = echoes.next().await {
            if m.to_text().is_ok_and(|t| t.starts_with(r#"{"t":"ticks""#)) {
                n += 1;
            }
        }
        n
    });
    settle(&server).await;
    tracing::info!(members, online, messages = total, "connected; sending");
    let window = server.window();
    let start = Instant::now() + Duration::from_millis(10);
    let interval = Duration::from_nanos(1_000_000_000 / rate.max(1));
    for n in 0..total {
        let due = start + interval * n as u32;
        tokio::time::sleep_until(due.into()).await;
        let sent_us = due.duration_since(epoch).as_micros() as u64;
        sink.send(Message::text(server.send_frame(0, &body(sent_us, n, 100), n)))
            .await?;
    }
    // The last receipts are coalesced for a second: wait for them.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let spent = window.end(&server);
    let _ = stop_tx.send(true);
    let mut seen = Vec::with_capacity(tasks.len());
    for t in tasks {
        seen.push(t.await?);
    }
    let _ = sink.close().await;
    let sender_ticks = tokio::time::timeout(Duration::from_secs(5), ticks)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or(0);
    let server = Arc::into_inner(server).expect("no other holder");
    server.stop();

    let mut hist = histogram();
    let (mut lost, mut resyncs, mut bytes, mut receipts, mut most) = (0, 0, 0, 0, 0);
    for s in &seen {
        for &l in &s.latencies_us {
            hist.saturating_record(l.max(1));
        }
        lost += total.saturating_sub(s.got);
        resyncs += s.resyncs;
        bytes += s.bytes;
        receipts += s.receipts;
        most = most.max(s.receipts);
    }
    let receivers = seen.len().max(1) as f64;
    let messages = total.max(1) as f64;
    Ok(BigRoom {
        members,
        online,
        msgs_per_sec: rate,
        messages: total,
        receipt_frames_per_member_msg: receipts as f64 / receivers / messages,
        receipt_frames_per_member_msg_max: most as f64 / messages,
        sender_ticks_per_sec: sender_ticks as f64 / spent.secs.max(0.001),
        resyncs,
        lost,
        latency: Latency::of(&hist),
        bytes_per_msg: bytes as f64 / messages,
        server_cpu_us_per_msg: spent.server_cpu * 1e6 / messages,
        server_cpu_percent: spent.server_percent(),
    })
}

/// One online member: takes messages, reports what it holds (or read) at
/// most every `REPORT_GAP`, and counts what comes.
async fn member(
    mut ws: Socket,
    room: i64,
    reader: bool,
    epoch: Instant,
    mut stop: watch::Receiver<bool>,
) -> Seen {
    let mut seen = Seen::default();
    let (mut held, mut reported) = (0i64, 0i64);
    let mut tick = tokio::time::interval(REPORT_GAP);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let msg = tokio::select! {
            msg = ws.next() => msg,
            _ = tick.tick() => {
                if held > reported {
                    reported = held;
                    let t = if reader { "read" } else { "delivered" };
                    let frame = format!(r#"{{"t":"{t}","room":{room},"seq":{held}}}"#);
                    if ws.send(Message::text(frame)).await.is_err() {
                        break;
                    }
                }
                continue;
            }
            _ = stop.changed() => break,
        };
        let Some(Ok(Message::Text(text))) = msg else {
            if msg.is_none() {
                break;
            }
            continue;
        };
        seen.bytes += text.len() as u64;
        match serde_json::from_str::<ServerFrame>(&text) {
            Ok(ServerFrame::Msg(m)) => {
                if let Some((sent_us, _)) = marker(&m.body) {
                    seen.latencies_us
                        .push((epoch.elapsed().as_micros() as u64).saturating_sub(sent_us));
                    seen.got += 1;
                }
                held = held.max(m.seq);
            }
            Ok(ServerFrame::Receipt { .. } | ServerFrame::Ticks { .. }) => seen.receipts += 1,
            Ok(ServerFrame::Resync { .. }) => seen.resyncs += 1,
            _ => {}
        }
    }
    seen
}
