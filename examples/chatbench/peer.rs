//! The servers under test and how to talk to each: start one (pinned to a
//! core with `taskset`), open a client connection to a room, frame a send,
//! and find the bench's marker in what arrives. The product gets its users,
//! sessions and rooms written straight into its SQLite database before it
//! starts (signing up thousands of people through argon2 would measure
//! argon2); the peers only need a room name in the URL.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use chat::server::{auth, storage};
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
    /// This product, embedded (SQLite, in-process bus), persistence on.
    Chat,
    /// The bare tokio-tungstenite broadcast server (no persistence).
    Bare,
    /// A Node `ws` broadcast server.
    Ws,
    /// A Socket.IO 4 server with rooms.
    Sio,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Chat => "chat (SQLite)",
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
    pub addr: SocketAddr,
    pub pid: u32,
    child: Child,
    _dir: tempfile::TempDir,
    /// Per user, the session cookie (the product only).
    cookies: Vec<String>,
    /// Per room of the setup, its id on the server.
    pub room_ids: Vec<i64>,
}

/// Where the product's binary and the Node peers are.
pub struct Paths {
    pub chat_bin: PathBuf,
    pub node_dir: PathBuf,
    pub server_cores: String,
}

impl Server {
    /// Starts a server on a free port (again on another, should the port be taken meanwhile).
    pub async fn start(kind: Kind, setup: &Setup, paths: &Paths) -> anyhow::Result<Self> {
        let mut tries = 0;
        loop {
            match Self::start_once(kind, setup, paths).await {
                Err(e) if tries < 2 => {
                    tries += 1;
                    tracing::warn!(peer = kind.name(), error = %e, "start failed; trying another port");
                }
                result => return result,
            }
        }
    }

    async fn start_once(kind: Kind, setup: &Setup, paths: &Paths) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let mut cookies = Vec::new();
        let mut room_ids: Vec<i64> = (0..setup.rooms.len() as i64).collect();
        let mut cmd = Command::new("taskset");
        cmd.args(["-c", &paths.server_cores]);
        match kind {
            Kind::Chat => {
                let url = format!("sqlite://{}/chat.db", dir.path().display());
                (cookies, room_ids) = seed(&url, setup).await?;
                cmd.arg(&paths.chat_bin)
                    .env("DATABASE_URL", &url)
                    .env("CHAT_BIND", addr.to_string())
                    .env("CHAT_LOG", "warn")
                    .env("CHAT_SEND_RATE", "1000000")
                    .env("CHAT_SEND_BURST", "1000000")
                    .env("CHAT_MAX_ROOM_MEMBERS", "100000")
                    .env("LEPTOS_SITE_ROOT", dir.path());
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
        let pid = child.id();
        let mut server = Self {
            kind,
            addr,
            pid,
            child,
            _dir: dir,
            cookies,
            room_ids,
        };
        for _ in 0..300 {
            if let Some(status) = server.child.try_wait()? {
                bail!("{} exited at start: {status}", kind.name());
            }
            if TcpStream::connect(addr).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(300)).await;
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("{} did not come up on {addr}", kind.name())
    }

    /// Opens a connection for `user` to `room` (an index of the setup) from `src`,
    /// ready for traffic (the product's welcome, Socket.IO's handshake done).
    pub async fn connect(&self, user: usize, room: usize, src: IpAddr) -> anyhow::Result<Socket> {
        let path = match self.kind {
            Kind::Chat => "/ws".to_string(),
            Kind::Bare | Kind::Ws => format!("/?room={room}"),
            Kind::Sio => format!("/socket.io/?EIO=4&transport=websocket&room={room}"),
        };
        let mut req = format!("ws://{}{path}", self.addr).into_client_request()?;
        if self.kind == Kind::Chat {
            let origin = format!("http://127.0.0.1:{}", self.addr.port());
            req.headers_mut()
                .insert("origin", HeaderValue::from_str(&origin)?);
            req.headers_mut()
                .insert("cookie", HeaderValue::from_str(&self.cookies[user])?);
        }
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(src, 0))?;
        let stream = socket.connect(self.addr).await?;
        stream.set_nodelay(true)?;
        let config = WebSocketConfig::default().read_buffer_size(4096);
        let (mut ws, _) = tokio_tungstenite::client_async_with_config(req, stream, Some(config)).await?;
        match self.kind {
            Kind::Chat => {
                ws.send(Message::text(r#"{"t":"hello"}"#)).await?;
                wait_for(&mut ws, |t| t.contains(r#""t":"welcome""#)).await?;
            }
            Kind::Sio => {
                wait_for(&mut ws, |t| t.starts_with('0')).await?;
                ws.send(Message::text("40")).await?;
                wait_for(&mut ws, |t| t.starts_with("40")).await?;
            }
            Kind::Bare | Kind::Ws => {}
        }
        Ok(ws)
    }

    /// The frame that sends `body` to `room` (an index of the setup); `n` makes the product's cid.
    pub fn send_frame(&self, room: usize, body: &str, n: u64) -> String {
        match self.kind {
            Kind::Chat => format!(
                r#"{{"t":"send","room":{},"cid":"{}","body":"{body}"}}"#,
                self.room_ids[room],
                uuid::Uuid::from_u64_pair(0xbe9c, n)
            ),
            Kind::Bare | Kind::Ws => format!(r#"{{"t":"msg","room":{room},"body":"{body}"}}"#),
            Kind::Sio => format!(r#"42["msg","{body}"]"#),
        }
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

async fn wait_for(ws: &mut Socket, done: impl Fn(&str) -> bool) -> anyhow::Result<()> {
    loop {
        match tokio::time::timeout(Duration::from_secs(20), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) if done(&t) => return Ok(()),
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

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
