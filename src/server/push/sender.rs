//! Sending Web Push. After a commit, the node that committed a message tells
//! the room's members who are offline (no presence lease anywhere) on every
//! device they subscribed: RFC 8291 `aes128gcm` payload, RFC 8292 VAPID,
//! `TTL`, `Urgency` and a `Topic` per room so a newer notice replaces an
//! older one still waiting at the push service.
//!
//! It runs off the send path: the delivery writer hands committed messages
//! to a bounded queue and never waits; a full queue drops the notice (the
//! message itself is stored and syncs when the person returns). Messages in
//! a room within the collapse window make at most two notices: the first at
//! once, the latest of the rest when the window ends. A room's notification
//! level (`Notify`) picks who hears what: `all`, the room's messages so
//! collapsed; `mentions`, each message that calls them by name (a mention,
//! a reply to theirs), never collapsed; an edit that adds a mention tells
//! whoever it adds at either level. 429 and 5xx answers
//! are retried with backoff; 404 and 410 delete the subscription. At
//! shutdown the notices held back go at once, and the node waits (within
//! its grace period) until every notice is with its push service.
//!
//! Nothing here decides presence (that is `Leases`) or writes messages.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::Instant;
use web_push_native::{p256::PublicKey, Auth, WebPushBuilder};

use super::windows::Windows;
use super::Vapid;
use crate::events;
use crate::format::{preview, DELETED};
use crate::model::{Kind, Notify, RoomId, RoomKind, RoomSummary};
use crate::protocol::{Message, Seq};
use crate::server::presence::Leases;
use crate::server::storage::{DynStore, PushSubscription};
use crate::server::tasks::{NodeTask, Tasks};

/// Committed messages waiting to be looked at.
const QUEUE: usize = 1_024;
/// Messages being pushed at once (each to all its recipients' devices).
const CONCURRENT: usize = 32;
/// Devices one message is pushed to at once (a big room's offline members
/// are many: their notices go out this many at a time).
const DEVICES_AT_ONCE: usize = 64;
/// How long a push service keeps an undelivered notice (also the VAPID
/// token's lifetime, which must stay under 24 h).
const TTL: Duration = Duration::from_secs(12 * 60 * 60);
/// Tries per push when the service answers 429/5xx or cannot be reached.
const ATTEMPTS: u32 = 4;
/// The first retry's wait; each next one doubles it.
const BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait a `Retry-After` may ask for.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// Characters of the message shown in the notice.
const PREVIEW_CHARS: usize = 120;

/// Counts of what the push services answered.
#[derive(Default)]
pub struct PushStats {
    /// Notices a push service accepted.
    pub sent: AtomicU64,
    /// Notices given up on (other 4xx, or 429/5xx/unreachable after every try).
    pub failed: AtomicU64,
    /// Subscriptions deleted because their service said 404/410.
    pub gone: AtomicU64,
    /// Messages not looked at because the queue was full.
    pub dropped: AtomicU64,
}

/// Who a queued row is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Audience {
    /// The members who hear every message of the room (a delete: anyone
    /// whose notification may show the deleted text).
    Room,
    /// The people the row calls by name (`events::calls`).
    Called,
}

/// The handle the delivery writer calls; cheap to clone.
#[derive(Clone)]
pub struct Pusher {
    queue: mpsc::Sender<(Message, Audience)>,
    /// Asks the task to push everything now and say when it is done.
    finish: mpsc::Sender<oneshot::Sender<()>>,
    stats: Arc<PushStats>,
}

/// What a push task needs.
struct Sender {
    store: DynStore,
    leases: Leases,
    vapid: Arc<Vapid>,
    contact: String,
    http: reqwest::Client,
    stats: Arc<PushStats>,
    tasks: Tasks,
}

/// The notice a service worker receives (JSON, then encrypted).
#[derive(Serialize)]
struct Notice {
    room: RoomId,
    seq: Seq,
    /// Sender, and room for a group: "Alice" or "Alice in Team".
    title: String,
    /// The start of the message.
    body: String,
    from: String,
    room_name: String,
    /// Unread in this room, and over all the person's rooms (the app badge).
    unread: i64,
    total: i64,
    /// Where a click on it goes.
    url: String,
    /// A message was deleted: this replaces the room's notification if one
    /// is showing (so the deleted text leaves the lock screen), quietly,
    /// and shows nothing otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    replace: bool,
}

impl Pusher {
    /// The pusher, and its task (which pushes what `committed` hands over)
    /// for `server::run` to start; each push runs on `tasks`.
    pub fn new(
        store: DynStore,
        leases: Leases,
        vapid: Arc<Vapid>,
        contact: String,
        collapse: Duration,
        tasks: Tasks,
    ) -> (Self, NodeTask) {
        let (queue, rx) = mpsc::channel(QUEUE);
        let stats = Arc::new(PushStats::default());
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        let sender = Arc::new(Sender {
            store,
            leases,
            vapid,
            contact,
            http,
            stats: stats.clone(),
            tasks,
        });
        let (finish, finishing) = mpsc::channel(1);
        let task = NodeTask::new("push sender", run((rx, finishing), sender, collapse));
        (Self { queue, finish, stats }, task)
    }

    /// Shutting down: the notices held back for their collapse window go
    /// now; returns once every notice is with its push service, or after `within`.
    pub async fn finish(&self, within: Duration) {
        let (done, finished) = oneshot::channel();
        if self.finish.send(done).await.is_ok() {
            let _ = tokio::time::timeout(within, finished).await;
        }
    }

    /// Rows just committed on this node (in seq order). Never waits. New
    /// messages notify; a delete replaces what a notification shows; rows
    /// that call people by name notify them; other edits and reactions
    /// notify no one.
    pub fn committed(&self, msgs: &[Message]) {
        // The latest of each room is enough for the room's audience: a
        // notice counts from the database.
        let mut latest: HashMap<RoomId, &Message> = HashMap::new();
        for m in msgs
            .iter()
            .filter(|m| matches!(m.kind, Kind::Message | Kind::Delete))
        {
            latest.insert(m.room, m);
        }
        let called = msgs.iter().filter(|m| events::calls(m).is_some());
        let queued = latest
            .into_values()
            .map(|m| (m, Audience::Room))
            .chain(called.map(|m| (m, Audience::Called)));
        for (m, audience) in queued {
            if self.queue.try_send((m.clone(), audience)).is_err() {
                self.stats.dropped.fetch_add(1, Relaxed);
                tracing::warn!(room = m.room, "push queue full: no notice for this message");
            }
        }
    }

    pub fn stats(&self) -> &PushStats {
        &self.stats
    }
}

type Finishing = mpsc::Receiver<oneshot::Sender<()>>;

async fn run(
    (mut rx, mut finishing): (mpsc::Receiver<(Message, Audience)>, Finishing),
    sender: Arc<Sender>,
    collapse: Duration,
) {
    let mut windows = Windows::new(collapse);
    let limit = Arc::new(Semaphore::new(CONCURRENT));
    loop {
        let due = windows.next_due();
        tokio::select! {
            msg = rx.recv() => match msg {
                Some((msg, Audience::Room)) => push(room(windows.offer(msg, Instant::now())), &limit, &sender).await,
                Some(called) => push([called], &limit, &sender).await,
                None => return,
            },
            _ = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                push(room(windows.due(Instant::now())), &limit, &sender).await;
            }
            done = finishing.recv() => {
                let Some(done) = done else { return };
                // Those still queued go through the windows too: at most two per room.
                let now = Instant::now();
                let queued: Vec<(Message, Audience)> = std::iter::from_fn(|| rx.try_recv().ok())
                    .filter_map(|(msg, audience)| match audience {
                        Audience::Room => windows.offer(msg, now).map(|m| (m, audience)),
                        Audience::Called => Some((msg, audience)),
                    })
                    .collect();
                push(queued.into_iter().chain(room(windows.take_all())), &limit, &sender).await;
                // Every push task holds a permit until it is done.
                drop(limit.acquire_many(CONCURRENT as u32).await);
                let _ = done.send(());
            }
        }
    }
}

/// Rows for the room's audience.
fn room(msgs: impl IntoIterator<Item = Message>) -> impl Iterator<Item = (Message, Audience)> {
    msgs.into_iter().map(|m| (m, Audience::Room))
}

/// Pushes each row in a task of its own, at most `CONCURRENT` at once.
async fn push(
    msgs: impl IntoIterator<Item = (Message, Audience)>,
    limit: &Arc<Semaphore>,
    sender: &Arc<Sender>,
) {
    for (msg, audience) in msgs {
        let Ok(permit) = limit.clone().acquire_owned().await else {
            return;
        };
        let this = sender.clone();
        sender.tasks.spawn(async move {
            if let Err(e) = this.notify(&msg, audience).await {
                tracing::warn!(room = msg.room, seq = msg.seq, error = %e, "push notices not sent");
            }
            drop(permit);
        });
    }
}

impl Sender {
    /// Pushes `msg` to every device of each member of `audience` who is
    /// offline and has not read it.
    async fn notify(&self, msg: &Message, audience: Audience) -> anyhow::Result<()> {
        let subs = self.store.room_push_subscriptions(msg.room, msg.sender).await?;
        let called = events::calls(msg).map(|(_, users)| users).unwrap_or_default();
        let mut users: Vec<_> = subs.iter().map(|s| s.user).collect();
        users.dedup();
        if audience == Audience::Called {
            users.retain(|u| called.contains(u));
        }
        if users.is_empty() {
            return Ok(());
        }
        let online = self.leases.online(&users).await;
        let mut pushes = Vec::new();
        for (user, online) in users.into_iter().zip(online) {
            if online {
                continue;
            }
            let Some(room) = self.store.room_of(msg.room, user).await? else {
                continue;
            };
            let hears = match (audience, room.notify, msg.kind) {
                (_, Notify::None, _) => false,
                // A mention-level person's notification may show a text now deleted.
                (Audience::Room, Notify::Mentions, kind) => kind == Kind::Delete,
                (Audience::Room, Notify::All, _) => true,
                // The room's audience hears its messages already.
                (Audience::Called, Notify::All, kind) => kind == Kind::Edit,
                (Audience::Called, Notify::Mentions, _) => true,
            };
            if !hears {
                continue;
            }
            // Read on another device since: nothing to tell (but a deleted
            // text may still be on show).
            if room.unread() == 0 && msg.kind == Kind::Message {
                continue;
            }
            let total = self.store.unread_total(user).await?;
            let body = serde_json::to_vec(&Notice::new(msg, &room, total))?;
            for sub in subs.iter().filter(|s| s.user == user) {
                pushes.push(self.push(sub, body.clone(), msg.room));
            }
        }
        use futures::StreamExt;
        futures::stream::iter(pushes)
            .buffer_unordered(DEVICES_AT_ONCE)
            .collect::<Vec<()>>()
            .await;
        Ok(())
    }

    /// One notice to one device, tried again while the service asks for it.
    async fn push(&self, sub: &PushSubscription, body: Vec<u8>, room: RoomId) {
        let host = sub.endpoint.split('/').nth(2).unwrap_or("?").to_string();
        let builder = match self.builder(sub) {
            Ok(b) => b,
            Err(e) => {
                self.stats.failed.fetch_add(1, Relaxed);
                tracing::warn!(user = sub.user, host, error = %e, "unusable push subscription");
                return;
            }
        };
        let vapid = match self.vapid.authorization(&sub.endpoint, &self.contact, TTL) {
            Ok(v) => v,
            Err(e) => {
                self.stats.failed.fetch_add(1, Relaxed);
                tracing::warn!(host, error = %e, "push not signed");
                return;
            }
        };
        let mut wait = BACKOFF;
        for attempt in 1..=ATTEMPTS {
            let request = builder
                .build(body.clone())
                .context("encrypting the notice")
                .and_then(|mut r| {
                    let headers = r.headers_mut();
                    headers.insert("Authorization", vapid.parse()?);
                    headers.insert("Urgency", "high".parse()?);
                    headers.insert("Topic", format!("room-{room}").parse()?);
                    Ok(reqwest::Request::try_from(r)?)
                });
            let request = match request {
                Ok(r) => r,
                Err(e) => {
                    self.stats.failed.fetch_add(1, Relaxed);
                    tracing::warn!(user = sub.user, host, error = %e, "push not built");
                    return;
                }
            };
            let answer = self.http.execute(request).await;
            let retry_after = match answer {
                Ok(r) if r.status().is_success() => {
                    self.stats.sent.fetch_add(1, Relaxed);
                    return;
                }
                Ok(r) if matches!(r.status().as_u16(), 404 | 410) => {
                    self.stats.gone.fetch_add(1, Relaxed);
                    tracing::info!(user = sub.user, host, "push subscription gone; deleted");
                    if let Err(e) = self.store.forget_push_endpoint(&sub.endpoint).await {
                        tracing::warn!(error = %e, "a gone push subscription was not deleted");
                    }
                    return;
                }
                Ok(r) if r.status().as_u16() == 429 || r.status().is_server_error() => {
                    tracing::debug!(status = %r.status(), host, attempt, "push service busy");
                    retry_after(&r)
                }
                Ok(r) => {
                    self.stats.failed.fetch_add(1, Relaxed);
                    let status = r.status();
                    let why = r.text().await.unwrap_or_default();
                    tracing::warn!(%status, host, why = %why.chars().take(200).collect::<String>(), "push refused");
                    return;
                }
                Err(e) => {
                    tracing::debug!(error = %e, host, attempt, "push service unreachable");
                    None
                }
            };
            if attempt < ATTEMPTS {
                tokio::time::sleep(retry_after.unwrap_or(wait).min(MAX_WAIT)).await;
                wait *= 2;
            }
        }
        self.stats.failed.fetch_add(1, Relaxed);
        tracing::warn!(user = sub.user, host, "push given up after {ATTEMPTS} tries");
    }

    fn builder(&self, sub: &PushSubscription) -> anyhow::Result<WebPushBuilder> {
        let key = URL_SAFE_NO_PAD.decode(sub.p256dh.trim_end_matches('='))?;
        let auth = URL_SAFE_NO_PAD.decode(sub.auth.trim_end_matches('='))?;
        anyhow::ensure!(auth.len() == 16, "auth secret of {} bytes", auth.len());
        Ok(WebPushBuilder::new(
            sub.endpoint.parse()?,
            PublicKey::from_sec1_bytes(&key)?,
            Auth::clone_from_slice(&auth),
        )
        .with_valid_duration(TTL))
    }
}

/// The wait a 429/503 asks for, in seconds.
fn retry_after(r: &reqwest::Response) -> Option<Duration> {
    let secs = r
        .headers()
        .get("Retry-After")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs))
}

impl Notice {
    fn new(msg: &Message, room: &RoomSummary, total: i64) -> Self {
        let replace = msg.kind == Kind::Delete;
        let title = match (room.kind, replace) {
            (RoomKind::Direct, false) => msg.from.clone(),
            (RoomKind::Group, false) => format!("{} in {}", msg.from, room.name),
            // What the room shows now, under its own name.
            (_, true) => room.name.clone(),
        };
        let text = match replace {
            true => room.preview.clone().unwrap_or_else(|| DELETED.to_string()),
            // A message of files alone says what it carries.
            false => match msg.body.trim().is_empty() {
                true => crate::model::files_line(&msg.files).unwrap_or_default(),
                false => preview(&msg.body, msg.fmt.as_deref()),
            },
        };
        let mut body: String = text.chars().take(PREVIEW_CHARS).collect();
        if text.chars().nth(PREVIEW_CHARS).is_some() {
            body.push('…');
        }
        Self {
            room: msg.room,
            seq: msg.seq,
            title,
            body,
            from: msg.from.clone(),
            room_name: room.name.clone(),
            unread: room.unread(),
            total,
            url: format!("/r/{}", msg.room),
            replace,
        }
    }
}
