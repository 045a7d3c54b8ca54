//! Rate limits as token buckets: one per connection for sends and for
//! typing (the gateway owns those), and keyed tables for sign-ups, log-in
//! failures and browsers' reports per handle or per address, for room
//! actions per person, and for the people typing in each room (shared by
//! the node, bounded in size). Here the
//! arithmetic and the tables; the handlers decide what to answer.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

use super::locks::lock;
use std::time::{Duration, Instant};

use super::config::Config;
use crate::model::{RoomId, UserId};

/// Who may be announced typing in a room: at most `most` people per
/// `window`. A big room's members see "several people are typing" from a
/// few on; more would only cost every member a frame each, so the rest are
/// not relayed (they are not told: it is not their fault).
pub struct Typists {
    most: usize,
    window: Duration,
    rooms: Mutex<HashMap<RoomId, (Instant, Vec<UserId>)>>,
}

/// Rooms tracked before the ones whose window ended are forgotten.
const TYPIST_ROOMS: usize = 10_000;

impl Typists {
    pub fn new(most: usize, window: Duration) -> Self {
        Self {
            most,
            window,
            rooms: Mutex::default(),
        }
    }

    /// Whether `user` typing in `room` at `now` is relayed.
    pub fn admit(&self, room: RoomId, user: UserId, now: Instant) -> bool {
        let mut rooms = lock(&self.rooms);
        if rooms.len() >= TYPIST_ROOMS {
            let window = self.window;
            rooms.retain(|_, (since, _)| now.duration_since(*since) < window);
        }
        let (since, who) = rooms.entry(room).or_insert((now, Vec::new()));
        if now.duration_since(*since) >= self.window {
            (*since, *who) = (now, Vec::new());
        }
        if who.contains(&user) {
            return true;
        }
        if who.len() >= self.most {
            return false;
        }
        who.push(user);
        true
    }
}

/// Holds up to `burst` tokens and gains `per_sec` every second.
#[derive(Clone, Debug)]
pub struct Bucket {
    tokens: f64,
    at: Instant,
    per_sec: f64,
    burst: f64,
}

impl Bucket {
    pub fn new(per_sec: f64, burst: f64) -> Self {
        Self {
            tokens: burst,
            at: Instant::now(),
            per_sec,
            burst,
        }
    }

    fn refill(&mut self, now: Instant) {
        let gained = now.saturating_duration_since(self.at).as_secs_f64() * self.per_sec;
        self.tokens = (self.tokens + gained).min(self.burst);
        self.at = now;
    }

    /// Takes a token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How long until a token is there (zero if one is).
    pub fn wait(&mut self, now: Instant) -> Duration {
        self.refill(now);
        Duration::from_secs_f64(((1.0 - self.tokens) / self.per_sec).max(0.0))
    }

    fn full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.burst
    }
}

/// A bucket per key; keys whose bucket refilled are forgotten when the
/// table grows past `max_keys`, so it cannot be grown without bound.
pub struct Buckets<K> {
    table: Mutex<HashMap<K, Bucket>>,
    per_sec: f64,
    burst: f64,
    max_keys: usize,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    pub fn new(per_sec: f64, burst: f64, max_keys: usize) -> Self {
        Self {
            table: Mutex::new(HashMap::new()),
            per_sec,
            burst,
            max_keys,
        }
    }

    /// How long `key` must wait for a token (zero if it has one).
    pub fn wait(&self, key: &K, now: Instant) -> Duration {
        lock(&self.table)
            .get_mut(key)
            .map_or(Duration::ZERO, |b| b.wait(now))
    }

    /// Takes one of `key`'s tokens, or says how long until there is one.
    pub fn take(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let wait = self.wait(key, now);
        if !wait.is_zero() {
            return Err(wait);
        }
        self.spend(key, now);
        Ok(())
    }

    /// Spends one of `key`'s tokens (if it has any left).
    pub fn spend(&self, key: &K, now: Instant) {
        let mut table = lock(&self.table);
        if table.len() >= self.max_keys && !table.contains_key(key) {
            table.retain(|_, b| !b.full(now));
            if table.len() >= self.max_keys {
                // Still full of live buckets: make room with the oldest.
                if let Some(oldest) = table.iter().min_by_key(|(_, b)| b.at).map(|(k, _)| k.clone()) {
                    table.remove(&oldest);
                }
            }
        }
        let (per_sec, burst) = (self.per_sec, self.burst);
        table
            .entry(key.clone())
            .or_insert_with(|| Bucket::new(per_sec, burst))
            .take(now);
    }
}

/// Throttles on the account endpoints. Sign-ups: a few per address, then
/// one a minute (so a loop of sign-ups cannot fill the database or keep
/// the hashing pool busy). Failed log-ins: a few per handle and per address
/// are free, then they come slowly (password guessing gets nowhere; a
/// person who mistyped waits a minute at most).
pub struct AccountLimits {
    handles: Buckets<String>,
    addresses: Buckets<IpAddr>,
    signups: Buckets<IpAddr>,
}

impl AccountLimits {
    pub fn new(login_failures: u32, signup_burst: u32) -> Self {
        let failures = f64::from(login_failures);
        Self {
            handles: Buckets::new(1.0 / 60.0, failures, 100_000),
            addresses: Buckets::new(1.0 / 15.0, failures * 4.0, 100_000),
            signups: Buckets::new(1.0 / 60.0, f64::from(signup_burst), 100_000),
        }
    }

    /// How long before this handle (from this address) may try again.
    pub fn login_wait(&self, handle: &String, addr: Option<IpAddr>) -> Duration {
        let now = Instant::now();
        let by_addr = addr.map_or(Duration::ZERO, |a| self.addresses.wait(&a, now));
        self.handles.wait(handle, now).max(by_addr)
    }

    pub fn login_failed(&self, handle: &String, addr: Option<IpAddr>) {
        let now = Instant::now();
        self.handles.spend(handle, now);
        if let Some(a) = addr {
            self.addresses.spend(&a, now);
        }
    }

    /// How long before this address may make another account.
    pub fn signup_wait(&self, addr: Option<IpAddr>) -> Duration {
        addr.map_or(Duration::ZERO, |a| self.signups.wait(&a, Instant::now()))
    }

    pub fn signed_up(&self, addr: Option<IpAddr>) {
        if let Some(a) = addr {
            self.signups.spend(&a, Instant::now());
        }
    }
}

/// Per-person allowances for the actions that make rooms and memberships,
/// so that no one can fill the database with rooms or drag thousands of
/// people into groups in a loop (`rooms` spends them; every attempt
/// counts, so a loop of unknown handles gets nowhere either).
pub struct RoomLimits {
    pub groups: Hourly<UserId>,
    pub directs: Hourly<UserId>,
    pub adds: Hourly<UserId>,
}

impl RoomLimits {
    pub fn new(config: &Config) -> Self {
        Self {
            groups: Hourly::new(config.groups_per_hour),
            directs: Hourly::new(config.directs_per_hour),
            adds: Hourly::new(config.adds_per_hour),
        }
    }
}

/// `n` an hour per key: all at once if wanted, refilled evenly over the hour.
pub struct Hourly<K>(Buckets<K>);

impl<K: Hash + Eq + Clone> Hourly<K> {
    pub fn new(n: u32) -> Self {
        let n = f64::from(n);
        Self(Buckets::new(n / 3600.0, n, 100_000))
    }

    /// Spends one of `key`'s, or says how long until there is one.
    pub fn take(&self, key: &K, now: Instant) -> Result<(), Duration> {
        self.0.take(key, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_announces_a_few_typists_per_window() {
        let t = Typists::new(2, Duration::from_secs(3));
        let at = Instant::now();
        assert!(t.admit(1, 10, at) && t.admit(1, 11, at));
        assert!(!t.admit(1, 12, at), "a third in the window is not relayed");
        assert!(
            t.admit(1, 10, at + Duration::from_secs(1)),
            "one already shown goes on"
        );
        assert!(t.admit(2, 12, at), "rooms apart");
        assert!(t.admit(1, 12, at + Duration::from_secs(3)), "a new window");
    }

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(2.0, 3.0);
        assert!((0..3).all(|_| b.take(t0)));
        assert!(!b.take(t0), "burst spent");
        assert_eq!(b.wait(t0), Duration::from_millis(500));
        assert!(b.take(t0 + Duration::from_millis(500)), "one more after 1/rate");
        assert!(!b.take(t0 + Duration::from_millis(600)));
        assert!(
            (0..3).all(|_| b.take(t0 + Duration::from_secs(10))),
            "refills to the burst, no more"
        );
        assert!(!b.take(t0 + Duration::from_secs(10)));
    }

    #[test]
    fn keyed_buckets_are_separate_and_bounded() {
        let t0 = Instant::now();
        let table = Buckets::new(1.0, 2.0, 3);
        table.spend(&"a", t0);
        table.spend(&"a", t0);
        assert!(table.wait(&"a", t0) > Duration::ZERO);
        assert_eq!(table.wait(&"b", t0), Duration::ZERO, "another key is untouched");
        for k in ["b", "c", "d", "e"] {
            table.spend(&k, t0);
        }
        assert!(table.table.lock().unwrap().len() <= 3, "bounded");
        let later = t0 + Duration::from_secs(5);
        assert_eq!(table.wait(&"a", later), Duration::ZERO);
    }
}
