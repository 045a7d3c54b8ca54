//! Test fixtures: fresh databases on both backends and a real server on port 0.
#![allow(dead_code)]

use std::net::SocketAddr;

use chat::server::{self, storage, Config};
use sqlx::{Connection, Executor};
use tokio::net::TcpListener;

/// A loopback address with a port nobody listens on (for a process to bind).
pub fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("local address")
}

/// The first of `n` consecutive loopback ports nobody listens on (nor on
/// their cluster bus ports, 10,000 above), from a random start.
pub fn free_ports(n: u16) -> u16 {
    'start: loop {
        let first = 20_000 + (rand_u128() % 20_000) as u16;
        for port in (first..first + n).chain(first + 10_000..first + 10_000 + n) {
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                continue 'start;
            }
        }
        return first;
    }
}

/// A temporary SQLite file (removed with the returned guard).
pub fn sqlite_url() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    (format!("sqlite://{}/chat.db", dir.path().display()), dir)
}

/// A fresh PostgreSQL database on the server named by TEST_POSTGRES_URL, or
/// None when it is unset (then the test is skipped, unless
/// CHAT_REQUIRE_POSTGRES is set, as `make test` does: then it fails).
pub async fn postgres_url() -> Option<String> {
    let Ok(admin) = std::env::var("TEST_POSTGRES_URL") else {
        if std::env::var("CHAT_REQUIRE_POSTGRES").is_ok() {
            panic!("CHAT_REQUIRE_POSTGRES is set but TEST_POSTGRES_URL is not");
        }
        eprintln!("skipped: TEST_POSTGRES_URL is not set");
        return None;
    };
    let name = format!("t_{:032x}", rand_u128());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to TEST_POSTGRES_URL");
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create database");
    let (base, _) = admin.rsplit_once('/').expect("URL with a database");
    Some(format!("{base}/{name}"))
}

/// The Redis named by TEST_REDIS_URL and a key prefix no other test uses,
/// or None when it is unset (skipped, or failed under CHAT_REQUIRE_POSTGRES,
/// which `make test` sets for all its services).
pub fn redis_url() -> Option<(String, String)> {
    let Ok(url) = std::env::var("TEST_REDIS_URL") else {
        if std::env::var("CHAT_REQUIRE_POSTGRES").is_ok() {
            panic!("CHAT_REQUIRE_POSTGRES is set but TEST_REDIS_URL is not");
        }
        eprintln!("skipped: TEST_REDIS_URL is not set");
        return None;
    };
    Some((url, format!("t{:016x}", rand_u128() as u64)))
}

/// The S3-speaking server named by TEST_S3_URL (its bucket `chat`, under a
/// prefix no other test uses), as the `files` and `s3_endpoint` settings; None when it is unset (skipped,
/// or failed under CHAT_REQUIRE_POSTGRES). Sets the key pair it takes.
pub fn s3_files() -> Option<(String, String)> {
    let Ok(endpoint) = std::env::var("TEST_S3_URL") else {
        if std::env::var("CHAT_REQUIRE_POSTGRES").is_ok() {
            panic!("CHAT_REQUIRE_POSTGRES is set but TEST_S3_URL is not");
        }
        eprintln!("skipped: TEST_S3_URL is not set");
        return None;
    };
    s3_keys();
    Some((format!("s3://chat/t{:016x}", rand_u128() as u64), endpoint))
}

/// The key pair and region the tests' S3 server takes (any will do), set
/// once for the process: with them, nothing asks a cloud's metadata service.
pub fn s3_keys() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for (k, v) in [
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
        ] {
            if std::env::var_os(k).is_none() {
                std::env::set_var(k, v);
            }
        }
    });
}

pub fn rand_u128() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    let a = h.finish() as u128;
    let mut h2 = std::collections::hash_map::RandomState::new().build_hasher();
    h2.write_u64(a as u64);
    (a << 64) | h2.finish() as u128
}

pub async fn open(url: &str) -> storage::DynStore {
    storage::open(url, 4).await.expect("open store")
}

/// A server on 127.0.0.1:0 serving `config`; stops when the guard drops.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: server::AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    stopped: Option<tokio::sync::oneshot::Receiver<()>>,
    /// Its files' directory, unless the test named where files go.
    _files: Option<tempfile::TempDir>,
}

impl TestServer {
    pub async fn start(mut config: Config) -> Self {
        let files = config
            .files
            .is_none()
            .then(|| tempfile::tempdir().expect("temp dir"));
        if let Some(dir) = &files {
            config.files = Some(dir.path().display().to_string());
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let node = server::prepare(config, addr).await.expect("prepare");
        let state = node.state.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (done, stopped) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            server::run(listener, node, async {
                let _ = rx.await;
            })
            .await
            .expect("serve");
            let _ = done.send(());
        });
        Self {
            addr,
            state,
            stop: Some(tx),
            stopped: Some(stopped),
            _files: files,
        }
    }

    /// Shuts it down as SIGTERM would and waits until `run` has returned.
    pub async fn shut_down(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(stopped) = self.stopped.take() {
            let _ = stopped.await;
        }
    }
}

/// Where a node listens: an in-process `TestServer` or a node process.
pub trait Node {
    fn addr(&self) -> SocketAddr;

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr(), path)
    }
}

impl Node for TestServer {
    fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A PostgreSQL or Redis of the test's own (started by its script in a
/// temporary directory on a free port), for tests that stop and restart
/// it; stopped when dropped.
pub struct OwnService {
    pub url: String,
    dir: tempfile::TempDir,
    port: u16,
    script: &'static str,
    /// The script's commands to start and stop it.
    verbs: [&'static str; 2],
}

impl OwnService {
    pub fn postgres() -> Self {
        Self::start("pg.sh")
    }

    pub fn redis() -> Self {
        Self::start("redis.sh")
    }

    /// A Redis Cluster of three masters with a replica each, on six ports
    /// from a free one; `url` lists them all.
    pub fn redis_cluster() -> Self {
        Self::start_with("redis.sh", ["cluster-start", "cluster-stop"], free_ports(6))
    }

    fn start(name: &'static str) -> Self {
        Self::start_with(name, ["start", "stop"], free_addr().port())
    }

    fn start_with(name: &'static str, verbs: [&'static str; 2], port: u16) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = script(
            name,
            &[verbs[0], &dir.path().display().to_string(), &port.to_string()],
        );
        Self {
            url,
            dir,
            port,
            script: name,
            verbs,
        }
    }

    pub fn stop(&self) {
        script(
            self.script,
            &[self.verbs[1], &self.dir.path().display().to_string()],
        );
    }

    /// Stops it (if running) and starts it again: same port, same data.
    pub fn restart(&self) {
        self.stop();
        script(
            self.script,
            &[
                self.verbs[0],
                &self.dir.path().display().to_string(),
                &self.port.to_string(),
            ],
        );
    }
}

impl Drop for OwnService {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs one of the project's scripts; its output, trimmed.
fn script(name: &str, args: &[&str]) -> String {
    let path = format!("{}/scripts/{name}", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("bash")
        .arg(path)
        .args(args)
        .output()
        .expect("run a script");
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Signs a person up over HTTP and returns their session cookie ("name=value").
pub async fn sign_up(server: &impl Node, handle: &str) -> (chat::model::User, String) {
    let res = reqwest::Client::new()
        .post(server.url("/api/sign_up"))
        .json(&serde_json::json!({"handle": handle, "display_name": "", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "sign up {handle}: {}", res.status());
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    (res.json().await.unwrap(), cookie)
}

/// Calls an API server function as the holder of `cookie`.
pub async fn api<T: serde::de::DeserializeOwned>(
    server: &impl Node,
    cookie: &str,
    name: &str,
    body: serde_json::Value,
) -> T {
    let res = post_api(server, cookie, name, body).await;
    let status = res.status();
    let text = res.text().await.unwrap();
    assert!(status.is_success(), "{name}: {status} {text}");
    serde_json::from_str(&text).unwrap()
}

/// Calls an API server function that is to refuse: the status it answers.
pub async fn api_status(server: &impl Node, cookie: &str, name: &str, body: serde_json::Value) -> u16 {
    post_api(server, cookie, name, body).await.status().as_u16()
}

/// Calls an API server function that is to refuse: the error it answers.
pub async fn api_err(
    server: &impl Node,
    cookie: &str,
    name: &str,
    body: serde_json::Value,
) -> chat::error::ApiError {
    let res = post_api(server, cookie, name, body).await;
    let status = res.status();
    let text = res.text().await.unwrap();
    assert!(!status.is_success(), "{name} succeeded: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}: {text}"))
}

async fn post_api(
    server: &impl Node,
    cookie: &str,
    name: &str,
    body: serde_json::Value,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.url(&format!("/api/{name}")))
        .header("cookie", cookie)
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub mod ws {
    //! A real WebSocket client speaking the protocol.
    use std::time::Duration;

    use chat::protocol::{ClientFrame, ServerFrame};
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{client::IntoClientRequest, http::HeaderValue, Message};

    pub type Socket =
        tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

    pub struct Ws {
        pub socket: Socket,
    }

    /// The HTTP status of a refused upgrade, or the open socket.
    pub async fn open(
        server: &impl super::Node,
        cookie: Option<&str>,
        origin: Option<&str>,
    ) -> Result<Ws, u16> {
        let mut req = format!("ws://{}/ws", server.addr())
            .into_client_request()
            .unwrap();
        let own = format!("http://127.0.0.1:{}", server.addr().port());
        if let Some(origin) = origin.or(Some(own.as_str())).filter(|o| !o.is_empty()) {
            req.headers_mut()
                .insert("origin", HeaderValue::from_str(origin).unwrap());
        }
        if let Some(cookie) = cookie {
            req.headers_mut()
                .insert("cookie", HeaderValue::from_str(cookie).unwrap());
        }
        match tokio_tungstenite::connect_async(req).await {
            Ok((socket, _)) => Ok(Ws { socket }),
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err(res.status().as_u16()),
            Err(e) => panic!("connect: {e}"),
        }
    }

    /// Opens a socket and completes hello/welcome.
    pub async fn connect(server: &impl super::Node, cookie: &str) -> (Ws, ServerFrame) {
        let mut ws = open(server, Some(cookie), None).await.expect("upgrade");
        ws.send(&ClientFrame::Hello).await;
        let welcome = ws.recv_until(|f| matches!(f, ServerFrame::Welcome { .. })).await;
        (ws, welcome)
    }

    impl Ws {
        /// Sends `body` to `room` and waits for its ack: its seq.
        pub async fn say(&mut self, room: i64, body: &str) -> i64 {
            let cid = uuid::Uuid::new_v4();
            self.send(&ClientFrame::Send {
                room,
                cid,
                body: body.into(),
                reply_to: None,
                mentions: vec![],
                files: vec![],
            })
            .await;
            match self
                .recv_until(|f| matches!(f, ServerFrame::Ack { cid: c, .. } if *c == cid))
                .await
            {
                ServerFrame::Ack { seq, .. } => seq,
                _ => unreachable!(),
            }
        }

        /// Every frame that comes before the answer to a ping sent now.
        pub async fn frames_until_pong(&mut self) -> Vec<ServerFrame> {
            self.send(&ClientFrame::Ping).await;
            let mut seen = Vec::new();
            loop {
                match self.next().await.expect("a frame") {
                    ServerFrame::Pong => return seen,
                    f => seen.push(f),
                }
            }
        }

        pub async fn send(&mut self, frame: &ClientFrame) {
            self.send_text(serde_json::to_string(frame).unwrap()).await;
        }

        pub async fn send_text(&mut self, text: String) {
            self.socket.send(Message::Text(text.into())).await.expect("send");
        }

        /// Sends, or says the connection is gone (for tests that kill nodes).
        pub async fn try_send(&mut self, frame: &ClientFrame) -> bool {
            let text = serde_json::to_string(frame).unwrap();
            self.socket.send(Message::Text(text.into())).await.is_ok()
        }

        /// The next protocol frame (skipping pings), or None when closed or silent for 10 s.
        pub async fn next(&mut self) -> Option<ServerFrame> {
            loop {
                let msg = tokio::time::timeout(Duration::from_secs(10), self.socket.next())
                    .await
                    .ok()??;
                match msg.ok()? {
                    Message::Text(t) => return Some(serde_json::from_str(&t).expect("a protocol frame")),
                    Message::Close(_) => return None,
                    _ => continue,
                }
            }
        }

        pub async fn recv_until(&mut self, pred: impl Fn(&ServerFrame) -> bool) -> ServerFrame {
            loop {
                let f = self.next().await.expect("a frame before the socket closed");
                if pred(&f) {
                    return f;
                }
            }
        }
    }
}

/// A node as its own process (the test binary's `chat`), for tests that
/// kill one with SIGKILL. Stops (killed) when dropped.
pub struct NodeProcess {
    child: std::process::Child,
    addr: SocketAddr,
}

impl NodeProcess {
    pub async fn start(env: &[(&str, &str)]) -> Self {
        Self::start_at(free_addr(), env, None).await
    }

    /// A node on `addr` (again, after a kill), its log appended to `log`
    /// (else to this test's stderr).
    pub async fn start_at(addr: SocketAddr, env: &[(&str, &str)], log: Option<&std::path::Path>) -> Self {
        let stderr = match log {
            Some(path) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("open the node log")
                .into(),
            None => std::process::Stdio::inherit(),
        };
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_chat"))
            // Every test person signs up from loopback.
            .env("CHAT_SIGNUP_BURST", "1000")
            // Files in the temporary directory, not in the checkout.
            .env("CHAT_FILES", std::env::temp_dir().join("chat-test-files"))
            .envs(env.iter().copied())
            .env("CHAT_BIND", addr.to_string())
            .env("CHAT_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start a node");
        let mut node = Self { child, addr };
        for _ in 0..400 {
            if let Ok(Some(status)) = node.child.try_wait() {
                // The end of its log, so a failing run says why.
                let tail = log
                    .and_then(|p| std::fs::read_to_string(p).ok())
                    .map(|l| {
                        l.lines()
                            .rev()
                            .take(12)
                            .collect::<Vec<_>>()
                            .into_iter()
                            .rev()
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
                    .unwrap_or_default();
                panic!("the node on {addr} exited at start ({status}); the end of its log:\n{tail}");
            }
            if reqwest::get(node.url("/healthz"))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return node;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the node on {addr} did not come up");
    }

    /// SIGKILL: no close frames, no goodbye to Redis.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, as an orchestrator stops a node; does not wait.
    pub fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM");
    }

    /// The exit status, if the process ends within `within`.
    pub async fn exited(&mut self, within: std::time::Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        None
    }
}

impl Node for NodeProcess {
    fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
