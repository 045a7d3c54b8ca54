//! Rate limits as token buckets: one per connection for sends and for
//! typing (the gateway owns those), and keyed tables for sign-ups, log-in
//! failures and browsers' reports, per handle or per address (shared by the
//! node, bounded in size).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
        let Ok(mut table) = self.table.lock() else {
            return Duration::ZERO;
        };
        table.get_mut(key).map_or(Duration::ZERO, |b| b.wait(now))
    }

    /// Takes one of `key`'s tokens if it has one.
    pub fn take(&self, key: &K, now: Instant) -> bool {
        if !self.wait(key, now).is_zero() {
            return false;
        }
        self.spend(key, now);
        true
    }

    /// Spends one of `key`'s tokens (if it has any left).
    pub fn spend(&self, key: &K, now: Instant) {
        let Ok(mut table) = self.table.lock() else { return };
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

#[cfg(test)]
mod tests {
    use super::*;

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
