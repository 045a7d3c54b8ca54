//! Test fixtures: fresh databases on both backends and a real server on port 0.
#![allow(dead_code)]

use std::net::SocketAddr;

use chat::server::{self, storage, Config};
use sqlx::{Connection, Executor};
use tokio::net::TcpListener;

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

fn rand_u128() -> u128 {
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
}

impl TestServer {
    pub async fn start(config: Config) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let state = server::prepare(config, addr).await.expect("prepare");
        let (tx, rx) = tokio::sync::oneshot::channel();
        let s = state.clone();
        tokio::spawn(async move {
            server::run(listener, s, async {
                let _ = rx.await;
            })
            .await
            .expect("serve");
        });
        Self {
            addr,
            state,
            stop: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A PostgreSQL cluster of the test's own (scripts/pg.sh), for tests that
/// stop and start the database; removed when dropped.
pub struct OwnPostgres {
    pub url: String,
    dir: tempfile::TempDir,
    port: u16,
}

impl OwnPostgres {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = pg_script(&["start", &dir.path().display().to_string(), &port.to_string()]);
        Self { url, dir, port }
    }

    pub fn stop(&self) {
        pg_script(&["stop", &self.dir.path().display().to_string()]);
    }

    pub fn restart(&self) {
        pg_script(&[
            "start",
            &self.dir.path().display().to_string(),
            &self.port.to_string(),
        ]);
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

fn pg_script(args: &[&str]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pg.sh");
    let out = std::process::Command::new("bash")
        .arg(script)
        .args(args)
        .output()
        .expect("run pg.sh");
    assert!(
        out.status.success(),
        "pg.sh {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
