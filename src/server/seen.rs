//! When sessions were last used and people were last online. These times
//! only inform (the list of one's sessions, "last seen" beside a name), so
//! they are kept here and written a round at a time, in one transaction a
//! second, instead of one write per socket opened and per presence change
//! (a reconnect storm was two commits per client). Readers of "last seen"
//! see the pending time through `latest`. A node that dies loses at most
//! the last second of them; one that stops writes them out (`flush`).
//! What else a session records (its device and address at log-in) is
//! written at once by `accounts`.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::locks::lock;
use super::storage::DynStore;
use super::tasks::NodeTask;
use crate::model::UserId;

/// How often the pending times are written.
const EVERY: Duration = Duration::from_secs(1);

/// The times waiting to be written.
#[derive(Default)]
struct Book {
    sessions: HashMap<Vec<u8>, i64>,
    users: HashMap<UserId, i64>,
}

pub struct Seen {
    book: Mutex<Book>,
    store: DynStore,
}

impl Seen {
    /// The book, and its writer task for `server::run` to start.
    pub fn new(store: DynStore) -> (Arc<Self>, NodeTask) {
        let seen = Arc::new(Self {
            book: Mutex::default(),
            store,
        });
        let writer = seen.clone();
        let task = NodeTask::new("seen writer", async move {
            let mut tick = tokio::time::interval(EVERY);
            loop {
                tick.tick().await;
                writer.flush().await;
            }
        });
        (seen, task)
    }

    /// The session with this token hash was used at `at`.
    pub fn session(&self, token_hash: &[u8], at: i64) {
        later(&mut lock(&self.book).sessions, token_hash.to_vec(), at);
    }

    /// `user` was online at `at`.
    pub fn user(&self, user: UserId, at: i64) {
        later(&mut lock(&self.book).users, user, at);
    }

    /// When `user` was last online: the later of what is stored and what
    /// waits to be.
    pub fn latest(&self, user: UserId, stored: Option<i64>) -> Option<i64> {
        let pending = lock(&self.book).users.get(&user).copied();
        stored.max(pending)
    }

    /// Writes what is pending. If the store refuses, the times wait for the
    /// next round (later ones replace them).
    pub async fn flush(&self) {
        let Book { sessions, users } = std::mem::take(&mut *lock(&self.book));
        if sessions.is_empty() && users.is_empty() {
            return;
        }
        let sessions: Vec<(Vec<u8>, i64)> = sessions.into_iter().collect();
        let users: Vec<(UserId, i64)> = users.into_iter().collect();
        if let Err(e) = self.store.record_seen(&sessions, &users).await {
            tracing::warn!(error = %e, "cannot store when sessions and people were last seen; trying again");
            let mut book = lock(&self.book);
            sessions
                .into_iter()
                .for_each(|(hash, at)| later(&mut book.sessions, hash, at));
            users
                .into_iter()
                .for_each(|(user, at)| later(&mut book.users, user, at));
        }
    }
}

/// Keeps the later of the time held for `key` and `at`.
fn later<K: Eq + Hash>(times: &mut HashMap<K, i64>, key: K, at: i64) {
    let t = times.entry(key).or_insert(at);
    *t = (*t).max(at);
}
