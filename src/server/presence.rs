//! Presence: a person is online while any of their devices holds a live
//! connection. Each connection takes a lease for its lifetime; the gateway's
//! heartbeat ends a connection that stops answering, so a device that dies
//! without a close frame lets go of its lease within the heartbeat timeout.
//! This book counts the leases of this node; in the cluster shape the
//! registry (Redis) holds one lease per node and user, with a TTL a little
//! over that timeout, so a person is online while any node holds one and a
//! node that dies lets go of its users within the TTL.
//!
//! Changes are announced only to the person's contacts (people sharing a
//! direct room or a small group with them) and at most once per
//! `MIN_GAP` per person: a flapping connection costs one announcement per
//! gap, carrying the state at that moment, never a frame per flap.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::locks::lock;
use std::time::{Duration, Instant};

use super::bus::{Bus, Event};
use super::clock::now_ms;
use super::hub::Hub;
use super::registry::Registry;
use super::seen::Seen;
use super::storage::DynStore;
use super::tasks::{NodeTask, Tasks};
use crate::model::{RoomId, RoomKind, UserId};
use crate::protocol::Presence;

/// The shortest time between two announcements about one person.
const MIN_GAP: Duration = Duration::from_millis(500);

#[derive(Default)]
struct Entry {
    conns: usize,
    /// What the contacts were last told.
    announced: Option<bool>,
    last_announce: Option<Instant>,
    scheduled: bool,
}

#[derive(Clone)]
pub struct Leases {
    inner: Arc<Inner>,
}

struct Inner {
    store: DynStore,
    bus: Arc<dyn Bus>,
    /// Where `last_seen` waits to be stored.
    seen: Arc<Seen>,
    /// Groups larger than this do not carry presence.
    max_members: i64,
    users: Mutex<HashMap<UserId, Entry>>,
    /// The cluster's leases (None in embedded mode).
    registry: Option<Arc<Registry>>,
    /// Where its timers run.
    tasks: Tasks,
}

/// One connection's hold on its user's presence; dropping it lets go.
pub struct Lease {
    leases: Leases,
    user: UserId,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.leases.release(self.user);
    }
}

impl Leases {
    pub fn new(
        store: DynStore,
        bus: Arc<dyn Bus>,
        seen: Arc<Seen>,
        max_members: u32,
        registry: Option<Arc<Registry>>,
        tasks: Tasks,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                bus,
                seen,
                max_members: i64::from(max_members),
                users: Mutex::default(),
                registry,
                tasks,
            }),
        }
    }

    /// Cluster only: the task that, every `every`, renews this node's
    /// leases and reaps the nodes that stopped renewing theirs (their users
    /// go offline).
    pub fn keeper(&self, hub: Arc<Hub>, every: Duration) -> Option<NodeTask> {
        let registry = self.inner.registry.clone()?;
        let this = self.clone();
        Some(NodeTask::new("lease keeper", async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let users = hub.users();
                if let Err(e) = registry.refresh(&users).await {
                    tracing::warn!(error = %e, "cannot renew presence leases");
                    continue;
                }
                // Someone who left while the renewal was on its way lets go again.
                for user in users.into_iter().filter(|u| !hub.is_online(*u)) {
                    let _ = registry.release(user).await;
                }
                match registry.reap().await {
                    Ok((reaped, gone)) => {
                        if reaped {
                            // What it held for its clients' rooms (coalesced
                            // marks and ticks) died with it.
                            this.inner.bus.node_lost().await;
                        }
                        gone.into_iter().for_each(|u| this.changed(u));
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot reap dead nodes"),
                }
            }
        }))
    }

    /// A connection of `user` opened. In a cluster the lease is in Redis
    /// before this returns, so events for the user find this node at once.
    pub async fn take(&self, user: UserId) -> Lease {
        let first = self.update(user, |e| {
            e.conns += 1;
            e.conns == 1
        });
        if first {
            if let Some(registry) = &self.inner.registry {
                if let Err(e) = registry.hold(user).await {
                    tracing::warn!(error = %e, user, "cannot take a presence lease");
                }
            }
            self.changed(user);
        }
        Lease {
            leases: self.clone(),
            user,
        }
    }

    fn release(&self, user: UserId) {
        let last = self.update(user, |e| {
            e.conns = e.conns.saturating_sub(1);
            e.conns == 0
        });
        if last {
            self.changed(user);
        }
    }

    fn is_here(&self, user: UserId) -> bool {
        lock(&self.inner.users).get(&user).is_some_and(|e| e.conns > 0)
    }

    /// Whether each of `users` is online on this node or (cluster) any other.
    pub async fn online(&self, users: &[UserId]) -> Vec<bool> {
        let here: Vec<bool> = users.iter().map(|u| self.is_here(*u)).collect();
        let Some(registry) = &self.inner.registry else {
            return here;
        };
        match registry.online(users).await {
            Ok(anywhere) => here.iter().zip(anywhere).map(|(h, a)| *h || a).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read presence leases: this node's view only");
                here
            }
        }
    }

    /// The presence of everyone who sees `user`'s (they see each other's).
    pub async fn contacts_of(&self, user: UserId) -> anyhow::Result<Vec<Presence>> {
        let contacts = self.inner.store.contacts(user, self.inner.max_members).await?;
        let ids: Vec<UserId> = contacts.iter().map(|c| c.0).collect();
        let online = self.online(&ids).await;
        Ok(contacts
            .into_iter()
            .zip(online)
            .map(|((id, last_seen), online)| Presence {
                user: id,
                online,
                last_seen: if online {
                    None
                } else {
                    self.inner.seen.latest(id, last_seen)
                },
            })
            .collect())
    }

    /// `newcomers` just joined `room`: they learn the presence of everyone
    /// in it, and the others learn theirs (a direct room or a small group
    /// makes contacts; a large group does not).
    pub async fn introduce(&self, room: RoomId, newcomers: &[UserId]) -> anyhow::Result<()> {
        let store = &self.inner.store;
        let Some((_, kind)) = store.head_and_kind(room).await? else {
            return Ok(());
        };
        // A large group makes no contacts: its members are not even read.
        if kind == RoomKind::Group && store.member_count(room).await? > self.inner.max_members {
            return Ok(());
        }
        let members: Vec<UserId> = store
            .members(room)
            .await?
            .into_iter()
            .map(|m| m.user.id)
            .collect();
        let online = self.online(&members).await;
        let mut all = Vec::with_capacity(members.len());
        for (&user, online) in members.iter().zip(online) {
            let last_seen = if online {
                None
            } else {
                self.inner.seen.latest(user, store.last_seen(user).await?)
            };
            all.push(Presence {
                user,
                online,
                last_seen,
            });
        }
        for p in all {
            let to: Vec<UserId> = if newcomers.contains(&p.user) {
                members.iter().copied().filter(|&u| u != p.user).collect()
            } else {
                newcomers.to_vec()
            };
            self.inner.bus.publish(Event::Presence { presence: p, to }).await;
        }
        Ok(())
    }

    fn update<T>(&self, user: UserId, f: impl FnOnce(&mut Entry) -> T) -> T {
        let mut users = lock(&self.inner.users);
        f(users.entry(user).or_default())
    }

    /// Schedules an announcement of `user`'s state, unless one is pending.
    fn changed(&self, user: UserId) {
        let delay = self.update(user, |e| {
            if e.scheduled {
                return None;
            }
            e.scheduled = true;
            Some(
                e.last_announce
                    .map_or(Duration::ZERO, |t| MIN_GAP.saturating_sub(t.elapsed())),
            )
        });
        let Some(delay) = delay else { return };
        let this = self.clone();
        self.inner.tasks.spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            this.announce(user).await;
        });
    }

    /// Tells the contacts the state `user` is in now, if it is news to them.
    async fn announce(&self, user: UserId) {
        let here = self.update(user, |e| {
            e.scheduled = false;
            e.conns > 0
        });
        let mut online = here;
        if let Some(registry) = &self.inner.registry {
            // `take` made the lease and the keeper renews it; the last
            // socket gone, it goes here (in order with the announcement).
            if !here {
                if let Err(e) = registry.release(user).await {
                    tracing::warn!(error = %e, user, "cannot drop the presence lease");
                }
            }
            online = self.online(&[user]).await.first().copied().unwrap_or(here);
        }
        let online = self.update(user, |e| {
            if e.announced == Some(online) {
                return None;
            }
            e.announced = Some(online);
            e.last_announce = Some(Instant::now());
            Some(online)
        });
        let Some(online) = online else {
            self.forget_later(user);
            return;
        };
        let now = now_ms();
        self.inner.seen.user(user, now);
        let to = match self.inner.store.contacts(user, self.inner.max_members).await {
            Ok(c) => c.into_iter().map(|(id, _)| id).collect(),
            Err(e) => {
                // Contacts learn it on their next welcome.
                tracing::warn!(error = %e, user, "cannot read contacts: presence not announced");
                return;
            }
        };
        let presence = Presence {
            user,
            online,
            last_seen: (!online).then_some(now),
        };
        self.inner.bus.publish(Event::Presence { presence, to }).await;
        if !online {
            self.forget_later(user);
        }
    }

    /// Drops the entry of someone offline once the gap has passed, so the
    /// book holds only people who are (or just were) online.
    fn forget_later(&self, user: UserId) {
        let this = self.clone();
        self.inner.tasks.spawn(async move {
            tokio::time::sleep(MIN_GAP).await;
            let mut users = lock(&this.inner.users);
            if users.get(&user).is_some_and(|e| e.conns == 0 && !e.scheduled) {
                users.remove(&user);
            }
        });
    }
}
