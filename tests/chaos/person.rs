//! One person of the chaos run: the shared client state machine
//! (`chat::sync::Client`) on a real WebSocket, driven by commands from the
//! run and by time, the way the browser drives it. It reconnects to a random
//! node when its socket dies or goes silent, and records what it sent, every
//! ack it got, how far it read, and what went wrong on the way. It checks
//! one thing itself, because only it sees it happen: the ticks of its own
//! messages never go backwards.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat::model::{Kind, RoomId, User, UserId};
use chat::protocol::{ClientFrame, Seq, ServerFrame};
use chat::sync::{Client, Config, Tick};
use futures::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::Rng;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, http::HeaderValue, Message as WsMessage};
use uuid::Uuid;

type Socket = tokio_tungstenite::WebSocketStream<TcpStream>;

/// A small receive buffer, so a person who stops reading fills the
/// server's queue for them quickly and sends it down the lagging path.
const RECV_BUFFER: u32 = 4096;
/// The server pings every 500 ms in a chaos run: a socket this quiet is dead.
const SILENCE: Duration = Duration::from_secs(3);
/// A socket abandoned without a close lingers, unread, this long.
const ABANDONED_FOR: Duration = Duration::from_secs(3);

pub enum Cmd {
    /// Write a new message in `room`.
    Send(RoomId),
    /// Change a message held in `room`: react, take a reaction back, or
    /// (one's own) edit or delete it.
    Change(RoomId),
    /// Look at `room`: everything held there is seen.
    Read(RoomId),
    /// Send an earlier message again with its `cid`, as a client does whose ack was lost.
    Resend,
    /// Lose the socket without a close frame.
    Drop,
    /// Stop reading the socket for a while.
    Stall(Duration),
    /// The run is over: read again and forget abandoned sockets.
    Calm,
    /// Send owed read/delivered reports now (the page is going away).
    Leave,
    Snapshot(oneshot::Sender<Snapshot>),
    Stop(oneshot::Sender<(Log, Snapshot)>),
}

/// What happened to one person, for the checks and the counts.
#[derive(Debug, Default)]
pub struct Log {
    /// Every new message: room, cid, body.
    pub sent: Vec<(RoomId, Uuid, String)>,
    /// Every change: room, cid, target.
    pub changes: Vec<(RoomId, Uuid, Seq)>,
    /// The changes refused for good (the server's reason), dropped from the outbox.
    pub refused: Vec<(RoomId, Uuid, Seq)>,
    /// Every ack received: cid, room, seq.
    pub acks: Vec<(Uuid, RoomId, Seq)>,
    pub counts: Counts,
}

/// How often things happened (summed over people for the report).
#[derive(Debug, Default)]
pub struct Counts {
    pub send_frames: u64,
    pub resends: u64,
    pub connects: u64,
    pub connect_failures: u64,
    pub drops: u64,
    pub silent: u64,
    pub resyncs: u64,
    pub syncs: u64,
    /// A live `msg` not above the last live one of its room on that connection.
    pub live_out_of_order: u64,
    /// A tick of one of my messages that fell (read → delivered → sent).
    pub ticks_backwards: u64,
    pub refused: BTreeMap<String, u64>,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.send_frames += o.send_frames;
        self.resends += o.resends;
        self.connects += o.connects;
        self.connect_failures += o.connect_failures;
        self.drops += o.drops;
        self.silent += o.silent;
        self.resyncs += o.resyncs;
        self.syncs += o.syncs;
        self.live_out_of_order += o.live_out_of_order;
        self.ticks_backwards += o.ticks_backwards;
        for (code, n) in &o.refused {
            *self.refused.entry(code.clone()).or_default() += n;
        }
    }
}

/// What a person holds right now.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub me: UserId,
    pub welcomed: bool,
    pub outbox: usize,
    /// The highest seq of each room this person looked at (sent as `read`).
    pub saw: BTreeMap<RoomId, Seq>,
    pub rooms: BTreeMap<RoomId, RoomView>,
}

#[derive(Clone, Debug, Default)]
pub struct RoomView {
    pub last: Seq,
    /// The timeline: seq, message id, cid, sender.
    pub msgs: Vec<(Seq, Uuid, Uuid, UserId)>,
    /// Each message as shown (see `check::shown`).
    pub shown: BTreeMap<Seq, String>,
    pub unread: i64,
    /// The tick of each of my messages, by seq.
    pub ticks: BTreeMap<Seq, Tick>,
    pub marks: String,
}

/// The run's side of a person.
pub struct Handle {
    tx: mpsc::Sender<Cmd>,
}

impl Handle {
    pub async fn cmd(&self, cmd: Cmd) {
        self.tx.send(cmd).await.expect("the person is running");
    }

    pub async fn snapshot(&self) -> Snapshot {
        let (tx, rx) = oneshot::channel();
        self.cmd(Cmd::Snapshot(tx)).await;
        rx.await.expect("a snapshot")
    }

    pub async fn stop(self) -> (Log, Snapshot) {
        let (tx, rx) = oneshot::channel();
        self.cmd(Cmd::Stop(tx)).await;
        rx.await.expect("the log")
    }
}

pub struct Person {
    user: User,
    cookie: String,
    nodes: Arc<Vec<SocketAddr>>,
    rng: StdRng,
    client: Client,
    ws: Option<Socket>,
    abandoned: Vec<(Socket, Instant)>,
    epoch: Instant,
    retry_at: Instant,
    last_frame: Instant,
    stalled_until: Option<Instant>,
    watching: bool,
    /// The last live seq per room on this connection.
    live: HashMap<RoomId, Seq>,
    /// The best tick each of my messages has shown.
    ticks: HashMap<(RoomId, Seq), Tick>,
    saw: BTreeMap<RoomId, Seq>,
    log: Log,
}

impl Person {
    pub fn spawn(user: User, cookie: String, nodes: Arc<Vec<SocketAddr>>, rng: StdRng) -> Handle {
        let (tx, rx) = mpsc::channel(64);
        let now = Instant::now();
        let person = Self {
            user,
            cookie,
            nodes,
            rng,
            client: Client::new(Config {
                retry_first_ms: 500,
                retry_max_ms: 3_000,
                ..Config::default()
            }),
            ws: None,
            abandoned: Vec::new(),
            epoch: now,
            retry_at: now,
            last_frame: now,
            stalled_until: None,
            watching: false,
            live: HashMap::new(),
            ticks: HashMap::new(),
            saw: BTreeMap::new(),
            log: Log::default(),
        };
        tokio::spawn(person.run(rx));
        Handle { tx }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Cmd>) {
        let mut clock = tokio::time::interval(Duration::from_millis(50));
        clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let stalled = self.stalled_until.is_some_and(|t| Instant::now() < t);
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(Cmd::Stop(tx)) => {
                        let snapshot = self.snapshot();
                        let _ = tx.send((self.log, snapshot));
                        return;
                    }
                    Some(cmd) => self.command(cmd).await,
                    None => return,
                },
                msg = next(&mut self.ws, stalled) => self.received(msg).await,
                _ = clock.tick() => self.tick().await,
            }
        }
    }

    fn now(&self) -> i64 {
        self.epoch.elapsed().as_millis() as i64
    }

    async fn command(&mut self, cmd: Cmd) {
        let now = self.now();
        match cmd {
            Cmd::Send(room) => {
                let cid = uuid::Builder::from_random_bytes(self.rng.gen()).into_uuid();
                // Of all lengths, so a burst fills a stalled reader's buffers fast.
                let pad = "x".repeat(self.rng.gen_range(0..400));
                let body = format!("{} #{} {pad}", self.user.handle, self.log.sent.len() + 1);
                self.log.sent.push((room, cid, body.clone()));
                let out = self.client.send(room, cid, body, now);
                self.send(out.frames).await;
            }
            Cmd::Change(room) => {
                let me = self.user.id;
                let Some(r) = self.client.room(room) else { return };
                let alive: Vec<(Seq, UserId)> = r
                    .messages()
                    .filter(|m| !m.deleted)
                    .map(|m| (m.seq, m.sender))
                    .collect();
                if alive.is_empty() {
                    return;
                }
                let (target, sender) = alive[self.rng.gen_range(0..alive.len())];
                let emoji = ["👍", "❤️", "😂", "🎉"][self.rng.gen_range(0..4)].to_string();
                let (kind, body) = match (sender == me, self.rng.gen_range(0..10)) {
                    (true, 0) => (Kind::Delete, String::new()),
                    (true, 1..=3) => (
                        Kind::Edit,
                        format!("{} edited #{}", self.user.handle, self.log.changes.len() + 1),
                    ),
                    (_, 4..=5) => (Kind::Unreact, emoji),
                    _ => (Kind::React, emoji),
                };
                let cid = uuid::Builder::from_random_bytes(self.rng.gen()).into_uuid();
                self.log.changes.push((room, cid, target));
                let out = self.client.change(room, cid, (kind, target), body, now);
                self.send(out.frames).await;
            }
            Cmd::Read(room) => {
                let Some(last) = self.client.room(room).map(|r| r.last).filter(|&l| l > 0) else {
                    return;
                };
                let saw = self.saw.entry(room).or_default();
                *saw = (*saw).max(last);
                let out = self.client.saw(room, last, now);
                self.send(out.frames).await;
            }
            Cmd::Resend => {
                if self.log.sent.is_empty() || !self.client.is_welcomed() {
                    return;
                }
                let (room, cid, body) = self.log.sent[self.rng.gen_range(0..self.log.sent.len())].clone();
                self.log.counts.resends += 1;
                self.send(vec![ClientFrame::Send {
                    room,
                    cid,
                    body,
                    reply_to: None,
                    mentions: vec![],
                    files: vec![],
                }])
                .await;
            }
            Cmd::Drop => {
                if let Some(ws) = self.ws.take() {
                    self.log.counts.drops += 1;
                    // Either the TCP connection ends (FIN, no close frame) or
                    // it stays open and unread, as after a network change.
                    if self.rng.gen_bool(0.5) {
                        self.abandoned.push((ws, Instant::now() + ABANDONED_FOR));
                    }
                    self.lost();
                }
            }
            Cmd::Stall(d) => self.stalled_until = Some(Instant::now() + d),
            Cmd::Calm => {
                self.stalled_until = None;
                self.abandoned.clear();
            }
            Cmd::Leave => {
                let out = self.client.leaving(now);
                self.send(out.frames).await;
            }
            Cmd::Snapshot(tx) => {
                let _ = tx.send(self.snapshot());
            }
            Cmd::Stop(_) => unreachable!("handled by run"),
        }
    }

    async fn received(&mut self, msg: Option<Result<WsMessage, tokio_tungstenite::tungstenite::Error>>) {
        self.last_frame = Instant::now();
        match msg {
            Some(Ok(WsMessage::Text(text))) => match serde_json::from_str(&text) {
                Ok(frame) => self.feed(frame).await,
                Err(e) => panic!("the server sent a frame that is not the protocol: {e}: {text}"),
            },
            Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => {
                self.ws = None;
                self.lost();
            }
            Some(Ok(_)) => {} // pings are answered by tungstenite
        }
    }

    async fn feed(&mut self, frame: ServerFrame) {
        let welcome = matches!(frame, ServerFrame::Welcome { .. });
        match &frame {
            ServerFrame::Ack { cid, room, seq, .. } => self.log.acks.push((*cid, *room, *seq)),
            ServerFrame::Msg(m) => {
                let last = self.live.entry(m.room).or_default();
                if m.seq <= *last {
                    self.log.counts.live_out_of_order += 1;
                }
                *last = (*last).max(m.seq);
            }
            ServerFrame::Resync { .. } => self.log.counts.resyncs += 1,
            ServerFrame::Error { code, .. } => {
                *self.log.counts.refused.entry(format!("{code:?}")).or_default() += 1;
            }
            _ => {}
        }
        let out = self.client.handle(frame, self.now());
        self.send(out.frames).await;
        // A change refused for good (its message was deleted meanwhile) is
        // given up, as a person would; the check asks why.
        let failed: Vec<(RoomId, Uuid, Seq)> = self
            .client
            .outbox()
            .iter()
            .filter(|o| o.failed.is_some() && !o.kind.is_message())
            .map(|o| (o.room, o.cid, o.target.unwrap_or(0)))
            .collect();
        for (room, cid, target) in failed {
            self.client.discard(cid);
            self.log.refused.push((room, cid, target));
        }
        if welcome && !self.watching {
            // Keep every room's member marks current, as an open room does.
            self.watching = true;
            let rooms: Vec<RoomId> = self.client.rooms().keys().copied().collect();
            for room in rooms {
                let out = self.client.watch(room);
                self.send(out.frames).await;
            }
        }
    }

    async fn tick(&mut self) {
        let now = Instant::now();
        if self.stalled_until.is_some_and(|t| now < t) {
            self.last_frame = now;
        }
        self.abandoned.retain(|(_, until)| now < *until);
        if self.ws.is_some() && now - self.last_frame > SILENCE {
            self.log.counts.silent += 1;
            self.ws = None;
            self.lost();
        }
        if self.ws.is_none() && now >= self.retry_at {
            self.connect().await;
        }
        let out = self.client.tick(self.now());
        self.send(out.frames).await;
        self.check_ticks();
    }

    async fn connect(&mut self) {
        let addr = self.nodes[self.rng.gen_range(0..self.nodes.len())];
        match tokio::time::timeout(Duration::from_secs(2), open(addr, &self.cookie)).await {
            Ok(Ok(ws)) => {
                self.log.counts.connects += 1;
                self.ws = Some(ws);
                self.last_frame = Instant::now();
                self.live.clear();
                let out = self.client.connected();
                self.send(out.frames).await;
            }
            _ => {
                self.log.counts.connect_failures += 1;
                self.retry_at = Instant::now() + Duration::from_millis(self.rng.gen_range(100..300));
            }
        }
    }

    /// The connection is gone: the machine asks again after the next welcome.
    fn lost(&mut self) {
        self.client.disconnected();
        self.retry_at = Instant::now();
    }

    async fn send(&mut self, frames: Vec<ClientFrame>) {
        for frame in frames {
            let Some(ws) = self.ws.as_mut() else { return };
            match &frame {
                ClientFrame::Send { .. } => self.log.counts.send_frames += 1,
                ClientFrame::Sync { .. } => self.log.counts.syncs += 1,
                _ => {}
            }
            let text = serde_json::to_string(&frame).expect("encode");
            let sent =
                tokio::time::timeout(Duration::from_secs(2), ws.send(WsMessage::Text(text.into()))).await;
            if !matches!(sent, Ok(Ok(()))) {
                self.ws = None;
                self.lost();
                return;
            }
        }
    }

    fn check_ticks(&mut self) {
        let me = self.user.id;
        for (&room, r) in self.client.rooms() {
            for m in r.msgs.values().filter(|m| m.sender == me) {
                let tick = self.client.tick_of(room, m.seq);
                let best = self.ticks.entry((room, m.seq)).or_insert(tick.clone());
                if rank(&tick) < rank(best) {
                    self.log.counts.ticks_backwards += 1;
                } else {
                    *best = tick;
                }
            }
        }
    }

    fn snapshot(&self) -> Snapshot {
        let me = self.user.id;
        let rooms = self
            .client
            .rooms()
            .iter()
            .map(|(&id, r)| {
                let view = RoomView {
                    last: r.last,
                    msgs: r.msgs.values().map(|m| (m.seq, m.id, m.cid, m.sender)).collect(),
                    shown: r.messages().map(|m| (m.seq, crate::check::shown(m))).collect(),
                    unread: r.summary.as_ref().map_or(-1, |s| s.unread()),
                    ticks: r
                        .msgs
                        .values()
                        .filter(|m| m.sender == me)
                        .map(|m| (m.seq, self.client.tick_of(id, m.seq)))
                        .collect(),
                    marks: format!("{:?}", r.marks),
                };
                (id, view)
            })
            .collect();
        Snapshot {
            me,
            welcomed: self.ws.is_some() && self.client.is_welcomed(),
            outbox: self.client.outbox().len(),
            saw: self.saw.clone(),
            rooms,
        }
    }
}

/// Pending or failed < sent < delivered < read.
pub fn rank(tick: &Tick) -> u8 {
    match tick {
        Tick::Pending | Tick::Failed(_) => 0,
        Tick::Sent => 1,
        Tick::Delivered => 2,
        Tick::Read => 3,
    }
}

/// The next message of the socket; never, while there is none or it is not read.
async fn next(
    ws: &mut Option<Socket>,
    stalled: bool,
) -> Option<Result<WsMessage, tokio_tungstenite::tungstenite::Error>> {
    match ws {
        Some(ws) if !stalled => ws.next().await,
        _ => std::future::pending().await,
    }
}

/// Opens `/ws` on `addr` as the holder of `cookie`, from a socket with a small receive buffer.
async fn open(addr: SocketAddr, cookie: &str) -> anyhow::Result<Socket> {
    let socket = TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(RECV_BUFFER)?;
    let stream = socket.connect(addr).await?;
    let mut req = format!("ws://{addr}/ws").into_client_request()?;
    let headers = req.headers_mut();
    headers.insert(
        "origin",
        HeaderValue::from_str(&format!("http://127.0.0.1:{}", addr.port()))?,
    );
    headers.insert("cookie", HeaderValue::from_str(cookie)?);
    let (ws, _) = tokio_tungstenite::client_async(req, stream).await?;
    Ok(ws)
}
