//! The chaos checker: many people (the shared client state machine on real
//! sockets) in many rooms send, read and resend at random while the run
//! breaks things — sockets dropped without a close or left open and
//! unread, people who stop reading, nodes killed with SIGKILL, Redis and
//! PostgreSQL restarted — and then checks, against the database, that no
//! acked message was lost, duplicated or reordered anywhere, that marks,
//! ticks and unread counts are right, and prints the counts.
//!
//! Two shapes: `embedded` (one node on SQLite, killed and restarted) and
//! `cluster` (three nodes on PostgreSQL and Redis of the run's own). Every
//! choice comes from one seed, printed at the start: `CHAOS_SEED` replays
//! the same schedule of actions and faults (timing still varies), and
//! `CHAOS_SECONDS` sets how long the traffic runs. `make test` runs both
//! shapes briefly; `make chaos SEED=… SECONDS=…` is the long run.

#[path = "../common/mod.rs"]
mod common;

mod check;
mod person;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat::model::{RoomId, RoomSummary, User};
use chat::server::storage;
use common::{api, sign_up, NodeProcess, OwnService};
use person::{Cmd, Handle, Person, Snapshot};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tokio::task::JoinHandle;

const PEOPLE: usize = 12;
/// Time between two actions of the traffic (each a send, a read or a resend).
const STEP: Duration = Duration::from_millis(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: the chaos stage of `make test` and `make chaos` run it"]
async fn embedded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = format!("sqlite://{}/chat.db", dir.path().display());
    let shape = Shape::start("embedded", dir, database_url, 1, None, None).await;
    run(shape).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: the chaos stage of `make test` and `make chaos` run it"]
async fn cluster() {
    let postgres = Arc::new(OwnService::postgres());
    let redis = Arc::new(OwnService::redis());
    let dir = tempfile::tempdir().expect("temp dir");
    let url = postgres.url.clone();
    let shape = Shape::start("cluster", dir, url, 3, Some(postgres), Some(redis)).await;
    run(shape).await;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    /// A socket lost without a close frame (closed, or left open and unread).
    Drop,
    /// A person stops reading for up to 3.5 s while a burst comes their way
    /// (the lagging path, or a heartbeat timeout).
    Stall,
    /// A node killed with SIGKILL and started again on its address.
    Kill,
    RedisRestart,
    PostgresRestart,
}

/// A node's place: its address and its process while it runs.
struct Slot {
    addr: SocketAddr,
    node: Option<NodeProcess>,
    back_at: Option<Instant>,
    starting: Option<JoinHandle<NodeProcess>>,
}

/// The parts a run breaks, and how to break and heal them.
struct Shape {
    name: &'static str,
    dir: tempfile::TempDir,
    database_url: String,
    env: Vec<(String, String)>,
    nodes: Vec<Slot>,
    postgres: Option<Arc<OwnService>>,
    redis: Option<Arc<OwnService>>,
    restarting: Vec<JoinHandle<()>>,
    faults: BTreeMap<Fault, u64>,
}

impl Shape {
    async fn start(
        name: &'static str,
        dir: tempfile::TempDir,
        database_url: String,
        nodes: usize,
        postgres: Option<Arc<OwnService>>,
        redis: Option<Arc<OwnService>>,
    ) -> Self {
        let mut env = vec![
            ("DATABASE_URL".to_string(), database_url.clone()),
            // Heartbeats fast enough for a run of seconds.
            ("CHAT_HEARTBEAT_MS".into(), "500".into()),
            ("CHAT_HEARTBEAT_TIMEOUT_MS".into(), "3000".into()),
            // A short queue per connection, so a stalled reader lags soon.
            ("CHAT_SEND_QUEUE".into(), "16".into()),
            ("CHAT_SEND_RATE".into(), "100000".into()),
            ("CHAT_SEND_BURST".into(), "100000".into()),
        ];
        if let Some(redis) = &redis {
            env.push(("REDIS_URL".into(), redis.url.clone()));
        }
        let mut shape = Self {
            name,
            dir,
            database_url,
            env,
            nodes: Vec::new(),
            postgres,
            redis,
            restarting: Vec::new(),
            faults: BTreeMap::new(),
        };
        for i in 0..nodes {
            let addr = common::free_addr();
            let node = shape.launch(i, addr).await;
            shape.nodes.push(Slot {
                addr,
                node: Some(node),
                back_at: None,
                starting: None,
            });
        }
        shape
    }

    fn launch(&self, i: usize, addr: SocketAddr) -> impl std::future::Future<Output = NodeProcess> + 'static {
        let env = self.env.clone();
        let log = self.dir.path().join(format!("node-{i}.log"));
        async move {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            NodeProcess::start_at(addr, &env, Some(&log)).await
        }
    }

    fn menu(&self) -> Vec<(Fault, u32)> {
        let mut menu = vec![(Fault::Drop, 40), (Fault::Stall, 30), (Fault::Kill, 15)];
        if self.redis.is_some() {
            menu.push((Fault::RedisRestart, 8));
        }
        if self.postgres.is_some() {
            menu.push((Fault::PostgresRestart, 7));
        }
        menu
    }

    /// Breaks something (chosen by `rng`) that is not already broken.
    async fn inject(&mut self, rng: &mut StdRng, people: &[Handle], rooms: &[(RoomId, Vec<usize>)]) {
        let menu = self.menu();
        let total: u32 = menu.iter().map(|m| m.1).sum();
        let mut pick = rng.gen_range(0..total);
        let fault = menu
            .iter()
            .find(|(_, w)| {
                let hit = pick < *w;
                pick = pick.saturating_sub(*w);
                hit
            })
            .map(|m| m.0)
            .unwrap_or(Fault::Drop);
        let done = match fault {
            Fault::Drop => {
                for _ in 0..rng.gen_range(1..=3) {
                    people[rng.gen_range(0..people.len())].cmd(Cmd::Drop).await;
                }
                true
            }
            Fault::Stall => {
                let stall = Duration::from_millis(rng.gen_range(300..3_500));
                storm(people, rooms, rng, stall, 100).await;
                true
            }
            Fault::Kill => {
                // In a cluster, one node down at a time: the others carry the traffic.
                let up: Vec<usize> = (0..self.nodes.len())
                    .filter(|&i| self.nodes[i].node.is_some())
                    .collect();
                let may = if self.nodes.len() == 1 {
                    up.len() == 1
                } else {
                    up.len() == self.nodes.len()
                };
                if may {
                    let i = up[rng.gen_range(0..up.len())];
                    let back = Duration::from_millis(rng.gen_range(300..1_500));
                    let slot = &mut self.nodes[i];
                    slot.node.take().expect("up").kill();
                    slot.back_at = Some(Instant::now() + back);
                }
                may
            }
            Fault::RedisRestart | Fault::PostgresRestart => {
                self.restarting.retain(|h| !h.is_finished());
                let service = if fault == Fault::RedisRestart {
                    &self.redis
                } else {
                    &self.postgres
                };
                let service = service.clone().expect("in the menu");
                let may = self.restarting.is_empty();
                if may {
                    self.restarting
                        .push(tokio::task::spawn_blocking(move || service.restart()));
                }
                may
            }
        };
        if done {
            *self.faults.entry(fault).or_default() += 1;
        }
    }

    /// Starts the killed nodes whose time has come; collects the started ones.
    async fn revive(&mut self, now: Instant) {
        for i in 0..self.nodes.len() {
            if self.nodes[i].back_at.is_some_and(|t| now >= t) {
                self.nodes[i].back_at = None;
                let start = self.launch(i, self.nodes[i].addr);
                self.nodes[i].starting = Some(tokio::spawn(start));
            }
            let slot = &mut self.nodes[i];
            if slot.starting.as_ref().is_some_and(|h| h.is_finished()) {
                let node = slot.starting.take().unwrap().await.expect("node started");
                slot.node = Some(node);
            }
        }
    }

    /// Everything up again.
    async fn heal(&mut self) {
        for h in self.restarting.drain(..) {
            h.await.expect("service restarted");
        }
        for i in 0..self.nodes.len() {
            if self.nodes[i].node.is_none() && self.nodes[i].starting.is_none() {
                self.nodes[i].back_at = Some(Instant::now());
            }
        }
        self.revive(Instant::now()).await;
        for slot in &mut self.nodes {
            if let Some(h) = slot.starting.take() {
                slot.node = Some(h.await.expect("node started"));
            }
        }
    }

    fn faults_line(&self) -> String {
        let names = [
            (Fault::Drop, "socket drops"),
            (Fault::Stall, "stalled readers"),
            (Fault::Kill, "node kills (SIGKILL)"),
            (Fault::RedisRestart, "Redis restarts"),
            (Fault::PostgresRestart, "PostgreSQL restarts"),
        ];
        names
            .iter()
            .filter(|(f, _)| self.menu().iter().any(|m| m.0 == *f))
            .map(|(f, name)| format!("{} {name}", self.faults.get(f).copied().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn logs_tail(&self) -> String {
        let mut out = String::new();
        for i in 0..self.nodes.len() {
            let log =
                std::fs::read_to_string(self.dir.path().join(format!("node-{i}.log"))).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            out += &format!(
                "--- node {i} (last lines) ---\n{}\n",
                lines[lines.len().saturating_sub(15)..].join("\n")
            );
        }
        out
    }
}

/// The run's settings from the environment, the seed made up when not given.
fn settings() -> (u64, u64) {
    let seed = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| common::rand_u128() as u64 % 1_000_000_000);
    let seconds = std::env::var("CHAOS_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    (seed, seconds)
}

async fn run(mut shape: Shape) {
    let (seed, seconds) = settings();
    eprintln!(
        "chaos [{}]: seed {seed}, {seconds} s of traffic (replay: make chaos SEED={seed} SECONDS={seconds})",
        shape.name
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let (people, rooms) = populate(&shape, &mut rng).await;
    let addrs = Arc::new(shape.nodes.iter().map(|s| s.addr).collect::<Vec<_>>());
    let people: Vec<Handle> = people
        .into_iter()
        .enumerate()
        .map(|(i, (user, cookie))| {
            let rng = StdRng::seed_from_u64(seed.wrapping_mul(31).wrapping_add(i as u64 + 1));
            Person::spawn(user, cookie, addrs.clone(), rng)
        })
        .collect();
    let mine: Vec<Vec<RoomId>> = (0..people.len())
        .map(|p| rooms.iter().filter(|r| r.1.contains(&p)).map(|r| r.0).collect())
        .collect();
    assert!(
        wait(&people, Duration::from_secs(30), |s| s.iter().all(|p| p.welcomed)).await,
        "everyone connected"
    );

    // Traffic and faults.
    let started = Instant::now();
    let end = started + Duration::from_secs(seconds);
    let mut next_fault = started + Duration::from_millis(rng.gen_range(300..1_000));
    let mut step = tokio::time::interval(STEP);
    while Instant::now() < end {
        step.tick().await;
        let now = Instant::now();
        shape.revive(now).await;
        let p = rng.gen_range(0..people.len());
        let room = mine[p][rng.gen_range(0..mine[p].len())];
        let cmd = match rng.gen_range(0..100) {
            0..56 => Cmd::Send(room),
            56..80 => Cmd::Change(room),
            80..97 => Cmd::Read(room),
            _ => Cmd::Resend,
        };
        people[p].cmd(cmd).await;
        if now >= next_fault {
            shape.inject(&mut rng, &people, &rooms).await;
            next_fault = now + Duration::from_millis(rng.gen_range(500..1_500));
        }
    }

    // The last burst goes to a stalled reader with nothing after it: a
    // dropped tail has no later message to reveal the gap.
    storm(&people, &rooms, &mut rng, Duration::from_millis(2_000), 400).await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;

    // Heal everything, let every person finish, then compare with the database.
    shape.heal().await;
    for p in &people {
        p.cmd(Cmd::Calm).await;
    }
    let calm = Instant::now();
    let sent = wait(&people, Duration::from_secs(60), |s| {
        s.iter().all(|p| p.welcomed && p.outbox == 0)
    })
    .await;
    let store = storage::open(&shape.database_url, 2)
        .await
        .expect("open the database");
    let ids: Vec<RoomId> = rooms.iter().map(|r| r.0).collect();
    let deadline = Instant::now() + Duration::from_secs(45);
    let settled = loop {
        for p in &people {
            p.cmd(Cmd::Leave).await;
        }
        let db = check::stored(&store, &ids).await.expect("read the database");
        let snaps = snapshots(&people).await;
        if check::settled(&db, &snaps) {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let settle_time = calm.elapsed();
    let mut finals = Vec::new();
    for p in people {
        finals.push(p.stop().await);
    }
    let db = check::stored(&store, &ids).await.expect("read the database");
    let report = check::check(&db, &finals);
    eprintln!(
        "chaos [{}] seed {seed}: {seconds} s of traffic, settled in {:.1} s{}{}\n  faults: {}\n{report}",
        shape.name,
        settle_time.as_secs_f64(),
        if sent { "" } else { " (NOT every send acked)" },
        if settled { "" } else { " (did NOT settle)" },
        shape.faults_line(),
    );
    let failures = report.failures();
    if !failures.is_empty() {
        eprintln!("{}", shape.logs_tail());
    }
    // The examples again, last: CI keeps the tail of what a failing run printed.
    assert!(
        failures.is_empty(),
        "chaos [{}] seed {seed} failed: {} (replay: make chaos SEED={seed} SECONDS={seconds})\n  faults: {}\n    {}",
        shape.name,
        failures.join(", "),
        shape.faults_line(),
        report.examples.join("\n    ")
    );
}

/// Signs the people up and makes the rooms: one group of everyone, a few
/// smaller groups and a few direct rooms, members chosen by `rng`.
async fn populate(shape: &Shape, rng: &mut StdRng) -> (Vec<(User, String)>, Vec<(RoomId, Vec<usize>)>) {
    let node = shape.nodes[0].node.as_ref().expect("up");
    let handle = |i: usize| format!("person{i}");
    let mut people = Vec::new();
    for i in 0..PEOPLE {
        people.push(sign_up(node, &handle(i)).await);
    }

    let mut rooms = Vec::new();
    let everyone: Vec<String> = (1..PEOPLE).map(handle).collect();
    let all: RoomSummary = api(
        node,
        &people[0].1,
        "create_group",
        json!({"name": "All", "members": everyone}),
    )
    .await;
    rooms.push((all.id, (0..PEOPLE).collect()));
    for g in 0..3 {
        let size = rng.gen_range(3..=5);
        let mut members: Vec<usize> = Vec::new();
        while members.len() < size {
            let i = rng.gen_range(0..PEOPLE);
            if !members.contains(&i) {
                members.push(i);
            }
        }
        let others: Vec<String> = members[1..].iter().map(|&i| handle(i)).collect();
        let room: RoomSummary = api(
            node,
            &people[members[0]].1,
            "create_group",
            json!({"name": format!("Group {g}"), "members": others}),
        )
        .await;
        rooms.push((room.id, members));
    }
    let mut pairs = Vec::new();
    while pairs.len() < 4 {
        let (a, b) = (rng.gen_range(0..PEOPLE), rng.gen_range(0..PEOPLE));
        if a != b && !pairs.contains(&(a, b)) && !pairs.contains(&(b, a)) {
            pairs.push((a, b));
        }
    }
    for (a, b) in pairs {
        let room: RoomSummary = api(node, &people[a].1, "open_direct", json!({"handle": handle(b)})).await;
        rooms.push((room.id, vec![a, b]));
    }
    (people, rooms)
}

/// A person stops reading while the others of one of their rooms send a
/// burst into it: the server's queue for them overflows (the lagging path).
async fn storm(
    people: &[Handle],
    rooms: &[(RoomId, Vec<usize>)],
    rng: &mut StdRng,
    stall: Duration,
    least: usize,
) {
    let p = rng.gen_range(0..people.len());
    let theirs: Vec<&(RoomId, Vec<usize>)> = rooms.iter().filter(|r| r.1.contains(&p)).collect();
    let (room, members) = theirs[rng.gen_range(0..theirs.len())];
    let others: Vec<usize> = members.iter().copied().filter(|&m| m != p).collect();
    people[p].cmd(Cmd::Stall(stall)).await;
    for _ in 0..rng.gen_range(least..least + 200) {
        people[others[rng.gen_range(0..others.len())]]
            .cmd(Cmd::Send(*room))
            .await;
    }
}

async fn snapshots(people: &[Handle]) -> Vec<Snapshot> {
    let mut out = Vec::new();
    for p in people {
        out.push(p.snapshot().await);
    }
    out
}

/// Polls the people until `done` holds of them; false after `within`.
async fn wait(people: &[Handle], within: Duration, done: impl Fn(&[Snapshot]) -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if done(&snapshots(people).await) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
