//! The state every request handler shares: the store, the settings and the
//! Leptos options. Cloning it clones one `Arc` (each request and each
//! connection holds one).

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use super::auth::Hashing;
use super::bus::{redis::RedisBus, Bus, LocalBus};
use super::cache::{redis::RedisCache, Cache, LocalCache};
use super::cluster::{Breaker, Commands, Keys, Redis};
use super::config::Config;
use super::csp::Policy;
use super::delivery::{AfterCommit, Delivery, Limits};
use super::files::{blobs::Blobs, FileLimits, Files};
use super::hub::Hub;
use super::limits::{AccountLimits, Buckets, RoomLimits, Typists};
use super::metrics::Metrics;
use super::presence::Leases;
use super::push::{Pusher, Vapid};
use super::receipts::Receipts;
use super::registry::Registry;
use super::seen::Seen;
use super::storage::DynStore;
use super::tasks::{NodeTask, Tasks};
use crate::model::UserId;

/// Messages per room the recent-message cache keeps.
const CACHED_PER_ROOM: usize = 100;

/// One node's state, shared by every handler through `AppState`.
#[derive(Clone)]
pub struct AppState(Arc<NodeState>);

impl std::ops::Deref for AppState {
    type Target = NodeState;

    fn deref(&self) -> &NodeState {
        &self.0
    }
}

/// People announced typing in one room per 3 s: past that, "several".
const TYPISTS: usize = 4;

pub struct NodeState {
    pub store: DynStore,
    pub config: Arc<Config>,
    /// Origins allowed to call the API and open the socket.
    pub origins: Arc<[String]>,
    pub leptos: LeptosOptions,
    pub hub: Arc<Hub>,
    /// The node's counters and the ack-latency histogram (`/metrics`).
    pub metrics: Arc<Metrics>,
    pub bus: Arc<dyn Bus>,
    pub cache: Arc<dyn Cache>,
    pub delivery: Delivery,
    /// Uploads and the files messages carry.
    pub files: Files,
    pub receipts: Receipts,
    /// Who is online (presence leases).
    pub leases: Leases,
    /// When sessions were last used and people last online, until written.
    pub seen: Arc<Seen>,
    /// This node's id in the cluster ("local" in embedded mode).
    pub node: String,
    /// The deployment's Web Push key pair.
    pub vapid: Arc<Vapid>,
    /// Notifies offline members of what this node commits.
    pub pusher: Pusher,
    /// The Redis command connection of a cluster node (for `/readyz`).
    pub redis: Option<Commands>,
    /// Sign-ups per address, failed log-ins per handle and address (this node's count).
    pub accounts: Arc<AccountLimits>,
    /// Password hashing: a bounded number at once, a short queue, then 503.
    pub hashing: Arc<Hashing>,
    /// Groups, direct rooms and added members per person per hour.
    pub room_limits: Arc<RoomLimits>,
    /// Searches per person: a burst, then a few a second.
    pub searches: Arc<Buckets<UserId>>,
    /// Searches of the people directory, per person (20 a minute, 20 at once).
    pub people_finds: Arc<Buckets<UserId>>,
    /// New pictures (of oneself or of a group) per person: 10 a minute.
    pub picture_sets: Arc<Buckets<UserId>>,
    /// Who may be announced typing in each room (a few at a time).
    pub typists: Arc<Typists>,
    /// Browsers' reports (panics) per address: a few, then one a minute.
    pub reports: Arc<Buckets<std::net::IpAddr>>,
    /// Browsers' reports of what the Content-Security-Policy blocked, per
    /// address: a few, then one a minute.
    pub violations: Arc<Buckets<std::net::IpAddr>>,
    /// The Content-Security-Policy (all but the nonce).
    pub policy: Arc<Policy>,
    /// The node's tasks and connections (started and stopped by `server::run`).
    pub tasks: Tasks,
    /// Set when the node is shutting down: connections finish their sends
    /// and close with 1001 so clients resume elsewhere.
    pub draining: Arc<tokio::sync::watch::Sender<bool>>,
}

impl AppState {
    /// The state of a node (embedded when `redis` is None, a cluster node
    /// else) and its long-lived tasks, not started: building the state
    /// starts nothing (`server::run` does).
    pub fn new(
        config: Config,
        store: DynStore,
        addr: std::net::SocketAddr,
        redis: Option<Redis>,
        vapid: Vapid,
        blobs: Blobs,
    ) -> (Self, Vec<NodeTask>) {
        let tasks = Tasks::default();
        let leptos = LeptosOptions::builder()
            .output_name("chat")
            .site_root(config.site_root.as_str())
            .site_pkg_dir(config.site_pkg_dir.as_str())
            .site_addr(addr)
            .reload_port(config.reload_port)
            .hash_files(hash_file(&config.hash_file).is_some())
            .hash_file(std::sync::Arc::from(config.hash_file.as_str()))
            .build();
        let origins: Arc<[String]> = config.origins(addr.port()).into();
        // cargo-leptos sets LEPTOS_WATCH for `cargo leptos watch`: the page
        // then also talks to its live-reload socket.
        let watching = std::env::var_os("LEPTOS_WATCH").is_some();
        let policy = Policy::new(&origins, watching.then_some(config.reload_port));
        let metrics = Arc::new(Metrics::default());
        let hub = Hub::new(config.send_queue, metrics.clone());
        let redis_commands = redis.as_ref().map(|r| r.commands.clone());
        let Shared {
            bus,
            cache,
            registry,
            tasks: mut to_start,
        } = Shared::new(&config, (&hub, &metrics), redis);
        let (receipts, marking) = Receipts::new(store.clone(), bus.clone(), tasks.clone());
        let node = registry
            .as_ref()
            .map_or("local".to_string(), |r| r.node().to_string());
        let (seen, seeing) = Seen::new(store.clone());
        let leases = Leases::new(
            store.clone(),
            bus.clone(),
            seen.clone(),
            config.presence_max_members,
            registry,
            tasks.clone(),
        );
        to_start.extend(leases.keeper(hub.clone(), std::time::Duration::from_millis(config.heartbeat_ms)));
        let vapid = Arc::new(vapid);
        let (pusher, pushing) = Pusher::new(
            store.clone(),
            leases.clone(),
            vapid.clone(),
            config.push_contact.clone(),
            std::time::Duration::from_millis(config.push_collapse_ms),
            tasks.clone(),
        );
        let after = AfterCommit {
            cache: cache.clone(),
            pusher: pusher.clone(),
            receipts: receipts.clone(),
            bus: bus.clone(),
        };
        let (delivery, writing) = Delivery::new(
            store.clone(),
            after,
            Limits {
                max_chars: config.max_body_chars,
                edit_window_ms: i64::try_from(config.edit_window_secs.saturating_mul(1000))
                    .unwrap_or(i64::MAX),
            },
        );
        let (files, sweeping) = Files::new(store.clone(), blobs, file_limits(&config));
        to_start.extend([
            writing,
            marking,
            seeing,
            pushing,
            sweeping,
            super::search::backlog(store.clone()),
            super::people::backlog(store.clone()),
        ]);
        let state = Self(Arc::new(NodeState {
            tasks,
            receipts,
            leases,
            seen,
            node,
            vapid,
            pusher,
            draining: Arc::new(tokio::sync::watch::Sender::new(false)),
            accounts: Arc::new(AccountLimits::new(config.login_failures, config.signup_burst)),
            hashing: Arc::new(Hashing::for_this_machine(config.hash_queue)),
            room_limits: Arc::new(RoomLimits::new(&config)),
            searches: Arc::new(Buckets::new(
                f64::from(config.search_rate),
                f64::from(config.search_burst),
                100_000,
            )),
            people_finds: Arc::new(Buckets::new(20.0 / 60.0, 20.0, 100_000)),
            picture_sets: Arc::new(Buckets::new(10.0 / 60.0, 10.0, 100_000)),
            typists: Arc::new(Typists::new(TYPISTS, std::time::Duration::from_secs(3))),
            reports: Arc::new(Buckets::new(1.0 / 60.0, 5.0, 10_000)),
            violations: Arc::new(Buckets::new(1.0 / 60.0, 5.0, 10_000)),
            policy: Arc::new(policy),
            redis: redis_commands,
            store,
            config: Arc::new(config),
            origins,
            leptos,
            hub,
            metrics,
            bus,
            cache,
            delivery,
            files,
        }));
        (state, to_start)
    }

    /// The file naming this build's bundle hashes (read again on each use:
    /// a deployment may replace it), if the bundle's names are hashed.
    pub fn bundle_hashes(&self) -> Option<std::path::PathBuf> {
        hash_file(&self.config.hash_file).filter(|_| self.leptos.hash_files)
    }
}

fn file_limits(config: &Config) -> FileLimits {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    FileLimits {
        max_bytes: config.file_max_bytes,
        bytes_per_day: config.upload_bytes_per_day,
        open: config.uploads_open,
        max_pixels: config.image_max_pixels,
        ttl_ms: i64::try_from(config.upload_ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
        workers: if config.image_workers == 0 {
            cores
        } else {
            config.image_workers
        },
        sweep_every: std::time::Duration::from_secs(config.file_sweep_secs),
    }
}

/// The hash file, if there is one: a build with content-hashed bundle names
/// (`cargo leptos build --release`, `hash-files` in Cargo.toml) writes them
/// to `hash.txt` next to the binary, which the page's script and stylesheet
/// tags then name (ship that file with the binary). `name` is taken next to
/// the binary, as Leptos does; an absolute one anywhere.
fn hash_file(name: &str) -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.join(name)).filter(|p| p.is_file())
}

/// What the nodes share: the bus, the message cache and (cluster only) the
/// registry, with the bus's tasks.
struct Shared {
    bus: Arc<dyn Bus>,
    cache: Arc<dyn Cache>,
    registry: Option<Arc<Registry>>,
    tasks: Vec<NodeTask>,
}

impl Shared {
    fn new(config: &Config, (hub, metrics): (&Arc<Hub>, &Arc<Metrics>), redis: Option<Redis>) -> Self {
        let Some(redis) = redis else {
            return Self {
                bus: Arc::new(LocalBus::new(hub.clone())),
                cache: Arc::new(LocalCache::new(CACHED_PER_ROOM)),
                registry: None,
                tasks: Vec::new(),
            };
        };
        // A lease outlives a missed heartbeat or two, not a dead node.
        let ttl = config.heartbeat_timeout_ms + config.heartbeat_ms;
        let node = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        tracing::info!(node, "cluster node: Redis bus, cache and presence leases");
        let keys = Keys::new(&config.redis_prefix);
        let breaker = Arc::new(Breaker::default());
        let registry = Arc::new(Registry::new(
            redis.commands.clone(),
            breaker.clone(),
            keys.clone(),
            node,
            ttl,
        ));
        let (bus, tasks) = RedisBus::new(
            redis.source,
            redis.commands.clone(),
            registry.clone(),
            hub.clone(),
            metrics.clone(),
        );
        Self {
            bus: Arc::new(bus),
            cache: Arc::new(RedisCache::new(redis.commands, breaker, keys, CACHED_PER_ROOM)),
            registry: Some(registry),
            tasks: tasks.into(),
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
