//! The servers under test and how to talk to each: start one (one node or
//! several sharing PostgreSQL and Redis, pinned to the server cores with
//! `taskset`), open a client connection to a room, frame a send, and find the
//! bench's marker in what arrives. The product gets its users, sessions and
//! rooms written straight into its database before it starts (signing up
//! thousands of people through argon2 would measure argon2); the peers only
//! need a room name in the URL.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chat::server::{auth, storage};

use crate::procstat;
use futures::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

pub type Socket = tokio_tungstenite::WebSocketStream<TcpStream>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// This product, embedded (SQLite, in-process bus), persistence on; with
    /// several nodes, the cluster shape (PostgreSQL and Redis).
    Chat,
    /// This product on PostgreSQL (one node, in-process bus).
    ChatPg,
    /// The bare tokio-tungstenite broadcast server (no persistence).
    Bare,
    /// A Node `ws` broadcast server.
    Ws,
    /// A Socket.IO 4 server with rooms.
    Sio,
}

impl Kind {
    /// The name of `nodes` of this server side by side.
    pub fn cluster_name(self) -> &'static str {
        match self {
            Kind::Chat | Kind::ChatPg => "chat (2 nodes, PostgreSQL, Redis)",
            Kind::Sio => "Socket.IO (2 nodes, Redis adapter)",
            Kind::Bare | Kind::Ws => self.name(),
        }
    }

    pub fn is_chat(self) -> bool {
        matches!(self, Kind::Chat | Kind::ChatPg)
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Chat => "chat (SQLite)",
            Kind::ChatPg => "chat (PostgreSQL)",
            Kind::Bare => "bare Rust broadcast",
            Kind::Ws => "Node ws",
            Kind::Sio => "Socket.IO",
        }
    }
}

/// Who exists before the server starts: `users` people and rooms of them (by index).
pub struct Setup {
    pub users: usize,
    pub rooms: Vec<Vec<usize>>,
}

pub struct Server {
    pub kind: Kind,
    nodes: Vec<(SocketAddr, Child)>,
    _dir: tempfile::TempDir,
    /// Per user, the session cookie (the product only).
    cookies: Vec<String>,
    /// Per room of the setup, its id on the server.
    pub room_ids: Vec<i64>,
}

/// Where the product's binary and the Node peers are, and the services the
/// product's PostgreSQL and cluster runs use (a database is created per run).
pub struct Paths {
    pub chat_bin: PathBuf,
    pub node_dir: PathBuf,
    pub server_cores: String,
    pub postgres: Option<String>,
    pub redis: Option<String>,
}

impl Server {
    /// Starts a server on a free port (again on another, should the port be taken meanwhile).
    pub async fn start(kind: Kind, setup: &Setup, paths: &Paths) -> anyhow::Result<Self> {
        Self::start_nodes(kind, setup, paths, 1).await
    }

    /// One node of the product with some settings of the run's own.
    pub async fn start_with(
        kind: Kind,
        setup: &Setup,
        paths: &Paths,
        env: &[(&'static str, &str)],
    ) -> anyhow::Result<Self> {
        let extra: Vec<(&'static str, String)> = env.iter().map(|(k, v)| (*k, v.to_string())).collect();
        Self::start_once(kind, setup, paths, 1, &extra).await
    }

    /// Starts `nodes` nodes of a server sharing their state (the product on
    /// PostgreSQL and Redis, Socket.IO with its Redis adapter).
    pub async fn start_nodes(kind: Kind, setup: &Setup, paths: &Paths, nodes: usize) -> anyhow::Result<Self> {
        let mut tries = 0;
        loop {
            match Self::start_once(kind, setup, paths, nodes, &[]).await {
                Err(e) if tries < 2 => {
                    tries += 1;
                    tracing::warn!(peer = kind.name(), error = %e, "start failed; trying another port");
                }
                result => return result,
            }
        }
    }

    async fn start_once(
        kind: Kind,
        setup: &Setup,
        paths: &Paths,
        nodes: usize,
        extra: &[(&'static str, String)],
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut cookies = Vec::new();
        let mut room_ids: Vec<i64> = (0..setup.rooms.len() as i64).collect();
        // What every node of this server gets in its environment.
        let mut env: Vec<(&str, String)> = Vec::new();
        if nodes > 1 || kind == Kind::ChatPg {
            anyhow::ensure!(
                kind != Kind::Bare && kind != Kind::Ws,
                "{} has no cluster mode",
                kind.name()
            );
        }
        if nodes > 1 {
            let redis = paths.redis.clone().context("a cluster run needs --redis-url")?;
            env.push(("REDIS_URL", redis));
            env.push(("CHAT_REDIS_PREFIX", format!("b{:x}", rand::random::<u64>())));
        }
        if kind.is_chat() {
            let url = if kind == Kind::ChatPg || nodes > 1 {
                let admin = paths
                    .postgres
                    .as_deref()
                    .context("this run needs --postgres-url")?;
                fresh_database(admin).await?
            } else {
                format!("sqlite://{}/chat.db", dir.path().display())
            };
            (cookies, room_ids) = seed(&url, setup).await?;
            env.extend([
                ("DATABASE_URL", url),
                ("CHAT_LOG", "warn".into()),
                ("CHAT_SEND_RATE", "1000000".into()),
                ("CHAT_SEND_BURST", "1000000".into()),
                ("CHAT_MAX_ROOM_MEMBERS", "100000".into()),
                ("LEPTOS_SITE_ROOT", dir.path().display().to_string()),
                ("CHAT_FILES", dir.path().join("files").display().to_string()),
            ]);
            env.extend(extra.iter().cloned());
        }
        let mut server = Self {
            kind,
            nodes: Vec::new(),
            _dir: dir,
            cookies,
            room_ids,
        };
        for _ in 0..nodes {
            let port = free_port()?;
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
            let mut cmd = Command::new("taskset");
            cmd.args(["-c", &paths.server_cores]);
            cmd.envs(env.iter().map(|(k, v)| (k, v)));
            match kind {
                Kind::Chat | Kind::ChatPg => {
                    cmd.arg(&paths.chat_bin).env("CHAT_BIND", addr.to_string());
                }
                Kind::Bare => {
                    cmd.arg(std::env::current_exe()?)
                        .args(["bare", "--port", &port.to_string()]);
                }
                Kind::Ws | Kind::Sio => {
                    let script = if kind == Kind::Ws {
                        "ws-server.js"
                    } else {
                        "sio-server.js"
                    };
                    cmd.arg("node")
                        .arg(paths.node_dir.join(script))
                        .env("PORT", port.to_string());
                }
            }
            let child = cmd
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .with_context(|| format!("start {}", kind.name()))?;
            server.nodes.push((addr, child));
            server.wait_up(addr).await?;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok(server)
    }

    /// Waits until the last node started answers on `addr`.
    async fn wait_up(&mut self, addr: SocketAddr) -> anyhow::Result<()> {
        for _ in 0..300 {
            if let Some((_, child)) = self.nodes.last_mut() {
                if let Some(status) = child.try_wait()? {
                    bail!("{} exited at start: {status}", self.kind.name());
                }
            }
            if TcpStream::connect(addr).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("{} did not come up on {addr}", self.kind.name())
    }

    /// Where node `node` listens.
    pub fn addr(&self, node: usize) -> SocketAddr {
        self.nodes[node % self.nodes.len()].0
    }

    /// The session cookie of `user` (the product only).
    pub fn cookie(&self, user: usize) -> &str {
        &self.cookies[user]
    }

    /// The nodes' process ids.
    pub fn pids(&self) -> Vec<u32> {
        self.nodes.iter().map(|(_, c)| c.id()).collect()
    }

    /// CPU time of all the nodes so far.
    pub fn cpu(&self) -> Duration {
        self.pids().into_iter().map(procstat::cpu).sum()
    }

    /// Starts measuring what the nodes and the generator itself spend.
    pub fn window(&self) -> Window {
        Window {
            at: Instant::now(),
            server: self.cpu(),
            own: procstat::cpu(std::process::id()),
        }
    }

    /// Resident memory of all the nodes, KiB.
    pub fn rss_kib(&self) -> u64 {
        self.pids().into_iter().map(procstat::rss_kib).sum()
    }

    /// Opens a connection for `user` to `room` (an index of the setup) from
    /// `src` to node `node`, ready for traffic (the product's welcome,
    /// Socket.IO's handshake done), with the last handshake frame.
    pub async fn connect(
        &self,
        node: usize,
        user: usize,
        room: usize,
        src: IpAddr,
    ) -> anyhow::Result<(Socket, String)> {
        let addr = self.nodes[node % self.nodes.len()].0;
        let path = match self.kind {
            Kind::Chat | Kind::ChatPg => "/ws".to_string(),
            Kind::Bare | Kind::Ws => format!("/?room={room}"),
            Kind::Sio => format!("/socket.io/?EIO=4&transport=websocket&room={room}"),
        };
        let mut req = format!("ws://{addr}{path}").into_client_request()?;
        if self.kind.is_chat() {
            let origin = format!("http://127.0.0.1:{}", addr.port());
            req.headers_mut()
                .insert("origin", HeaderValue::from_str(&origin)?);
            req.headers_mut()
                .insert("cookie", HeaderValue::from_str(&self.cookies[user])?);
        }
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(src, 0))?;
        let stream = socket.connect(addr).await?;
        stream.set_nodelay(true)?;
        let config = WebSocketConfig::default().read_buffer_size(4096);
        let (mut ws, _) = tokio_tungstenite::client_async_with_config(req, stream, Some(config)).await?;
        let last = match self.kind {
            Kind::Chat | Kind::ChatPg => {
                ws.send(Message::text(r#"{"t":"hello"}"#)).await?;
                wait_for(&mut ws, |t| t.contains(r#""t":"welcome""#)).await?
            }
            Kind::Sio => {
                wait_for(&mut ws, |t| t.starts_with('0')).await?;
                ws.send(Message::text("40")).await?;
                wait_for(&mut ws, |t| t.starts_with("40")).await?
            }
            Kind::Bare | Kind::Ws => String::new(),
        };
        Ok((ws, last))
    }

    /// The product's id of room `room` (an index of the setup).
    pub fn room_id(&self, room: usize) -> i64 {
        self.room_ids[room]
    }

    /// The frame that sends `body` to `room` (an index of the setup); `n` makes the product's cid.
    pub fn send_frame(&self, room: usize, body: &str, n: u64) -> String {
        match self.kind {
            Kind::Chat | Kind::ChatPg => format!(
                r#"{{"t":"send","room":{},"cid":"{}","body":"{body}"}}"#,
                self.room_ids[room],
                uuid::Uuid::from_u64_pair(0xbe9c, n)
            ),
            Kind::Bare | Kind::Ws => format!(r#"{{"t":"msg","room":{room},"body":"{body}"}}"#),
            Kind::Sio => format!(r#"42["msg","{body}"]"#),
        }
    }

    /// The product's frame changing message `target` of `room`: `react`
    /// (the emoji in `payload`) or `edit` (the new body).
    pub fn change_frame(&self, room: usize, change: &str, target: i64, payload: &str, n: u64) -> String {
        let field = if change == "edit" { "body" } else { "emoji" };
        format!(
            r#"{{"t":"{change}","room":{},"cid":"{}","target":{target},"{field}":"{payload}"}}"#,
            self.room_ids[room],
            uuid::Uuid::from_u64_pair(0xbe9c, n)
        )
    }

    pub fn stop(mut self) {
        for (_, child) in &mut self.nodes {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A measuring window: when it started, and the CPU time spent by then.
pub struct Window {
    pub at: Instant,
    server: Duration,
    own: Duration,
}

/// What a window cost: its length, the server's CPU and the generator's (seconds).
pub struct Spent {
    pub secs: f64,
    pub server_cpu: f64,
    pub own_cpu: f64,
}

impl Spent {
    pub fn server_percent(&self) -> f64 {
        100.0 * self.server_cpu / self.secs
    }

    pub fn own_percent(&self) -> f64 {
        100.0 * self.own_cpu / self.secs
    }
}

impl Window {
    pub fn end(&self, server: &Server) -> Spent {
        Spent {
            secs: self.at.elapsed().as_secs_f64(),
            server_cpu: (server.cpu() - self.server).as_secs_f64(),
            own_cpu: (procstat::cpu(std::process::id()) - self.own).as_secs_f64(),
        }
    }
}

/// The bench's marker in a frame: `@<intended send time, µs>;<message number>#`.
pub fn marker(text: &str) -> Option<(u64, u64)> {
    let at = text.find('@')?;
    let rest = &text[at + 1..];
    let (sent, rest) = rest.split_once(';')?;
    let (n, _) = rest.split_once('#')?;
    Some((sent.parse().ok()?, n.parse().ok()?))
}

/// A body of `len` bytes carrying the marker.
pub fn body(sent_us: u64, n: u64, len: usize) -> String {
    let mut b = format!("@{sent_us};{n}#");
    while b.len() < len {
        b.push('x');
    }
    b
}

/// Reads until a text frame `done` accepts, and returns it.
async fn wait_for(ws: &mut Socket, done: impl Fn(&str) -> bool) -> anyhow::Result<String> {
    loop {
        match tokio::time::timeout(Duration::from_secs(20), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) if done(&t) => return Ok(t.to_string()),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => return Err(e.into()),
            Ok(None) => bail!("closed during the handshake"),
            Err(_) => bail!("no handshake answer in 20 s"),
        }
    }
}

/// Writes the product's people (one shared password hash: nobody logs in),
/// a session each, and the rooms, straight into a new database.
async fn seed(url: &str, setup: &Setup) -> anyhow::Result<(Vec<String>, Vec<i64>)> {
    let store = storage::open(url, 2).await?;
    let now = now_ms();
    let mut users = Vec::with_capacity(setup.users);
    let mut cookies = Vec::with_capacity(setup.users);
    for i in 0..setup.users {
        let user = store.create_user(&format!("bench{i}"), "", "-", now).await?;
        let (token, hash) = auth::new_token();
        store
            .create_session(&hash, user.id, now, now + 86_400_000)
            .await?;
        cookies.push(format!("{}={token}", auth::COOKIE));
        users.push(user.id);
    }
    let mut ids = Vec::new();
    for (i, members) in setup.rooms.iter().enumerate() {
        let ids_of: Vec<i64> = members.iter().map(|&m| users[m]).collect();
        ids.push(
            store
                .create_group(ids_of[0], &format!("room {i}"), &ids_of[1..], now)
                .await?,
        );
    }
    Ok((cookies, ids))
}

/// A new database on the PostgreSQL server of `admin` (a URL whose role may create databases).
pub(crate) async fn fresh_database(admin: &str) -> anyhow::Result<String> {
    use sqlx::{Connection, Executor};
    let name = format!("bench_{:016x}", rand::random::<u64>());
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .context("connect to --postgres-url")?;
    conn.execute(format!("CREATE DATABASE {name}").as_str()).await?;
    let (base, _) = admin
        .rsplit_once('/')
        .context("a PostgreSQL URL names a database")?;
    Ok(format!("{base}/{name}"))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
