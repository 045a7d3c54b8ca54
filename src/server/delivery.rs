//! Delivery: the only writer of the room stream (messages, and the edits,
//! deletes and reactions that change them). validate → (in one
//! transaction) authorise, dedup on (sender, cid), take the room's next
//! seq, apply the change, commit → ack → cache → push queue → publish. One
//! writer task batches the rows that arrive together into one transaction
//! (group commit). No ack without a commit:
//! a storage failure answers `unavailable` and the client sends again. One
//! message never fails the others: a batch that fails for any reason but an
//! unreachable database is split and stored in parts, in order, until the
//! message that fails is alone, and each is answered on its own.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::bus::{Bus, Event};
use super::cache::Cache;
use super::format::formatted;
use super::push::Pusher;
use super::receipts::Receipts;
use super::storage::{
    Appended, Ask, Changed, DynStore, NewChange, NewMessage, ProfileEdit, Refusal, Refused, Store, StoreError,
};
use super::tasks::NodeTask;
use crate::model::{check_body, check_emoji, BodyError, Kind, RoomId, User, UserId, FILES_MAX, MENTIONS_MAX};
use crate::protocol::{ErrorCode, Message, Seq};

/// The most sends one transaction takes.
const MAX_BATCH: usize = 1024;

/// Why a send was refused; `code()` is what the client is told.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error("{0}")]
    Emoji(String),
    #[error("{0}")]
    Mentions(String),
    #[error("{0}")]
    Files(String),
    #[error("A change names the message it changes (a seq of its room).")]
    NoTarget,
    #[error(transparent)]
    Change(#[from] Refusal),
    #[error("You are not a member of room {0}.")]
    NotMember(RoomId),
    #[error("There is no room {0}.")]
    NoSuchRoom(RoomId),
    #[error("The message was not stored (storage is unavailable); it will be sent again.")]
    Unavailable,
    /// The database refused this message alone (a bug, never input the
    /// checks above let through): sending it again would fail again.
    #[error("The message could not be stored.")]
    Refused,
}

impl SendError {
    pub fn code(&self) -> ErrorCode {
        match self {
            SendError::Body(BodyError::TooLong { .. }) => ErrorCode::TooLarge,
            SendError::Body(_)
            | SendError::Refused
            | SendError::Emoji(_)
            | SendError::Mentions(_)
            | SendError::Files(_)
            | SendError::NoTarget => ErrorCode::BadFrame,
            SendError::Change(Refusal::NoSuchMessage(_)) => ErrorCode::UnknownMessage,
            SendError::Change(
                Refusal::NoSuchUpload(_) | Refusal::UploadIncomplete(_) | Refusal::UploadSent(_),
            ) => ErrorCode::BadFrame,
            SendError::Change(_) => ErrorCode::Forbidden,
            SendError::NotMember(_) => ErrorCode::NotMember,
            SendError::NoSuchRoom(_) => ErrorCode::UnknownRoom,
            SendError::Unavailable => ErrorCode::Unavailable,
        }
    }
}

/// What the writer takes: a row to append (batched with the sends around
/// it), or a change to a group (stored alone, in its turn).
enum Job {
    Send {
        msg: NewMessage,
        reply: oneshot::Sender<Result<Appended, StoreError>>,
    },
    Group {
        change: NewChange,
        reply: oneshot::Sender<Result<Result<Changed, Refused>, StoreError>>,
    },
    /// A new profile, a row in each of the person's rooms.
    Profile {
        user: UserId,
        edit: ProfileEdit,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// An account deleted by its owner (`close`).
    Close {
        user: UserId,
        erase: bool,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// What the writer checks before it takes a row.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The most characters a body has.
    pub max_chars: usize,
    /// How long after sending one's own message may be edited or deleted.
    pub edit_window_ms: i64,
}

/// A row someone asks to add to a room's stream: a message (`kind`
/// `Message`, maybe answering `reply_to`), or a change to message `target`
/// (an edit's body, a reaction's emoji in `body`).
#[derive(Clone, Debug)]
pub struct Change {
    pub room: RoomId,
    pub cid: Uuid,
    pub kind: Kind,
    pub target: Option<Seq>,
    pub reply_to: Option<Seq>,
    pub body: String,
    /// The members a message or an edit mentions.
    pub mentions: Vec<UserId>,
    /// The uploads a new message carries.
    pub files: Vec<Uuid>,
}

impl Change {
    /// A new message.
    pub fn message(room: RoomId, cid: Uuid, body: String) -> Self {
        Self {
            room,
            cid,
            kind: Kind::Message,
            target: None,
            reply_to: None,
            body,
            mentions: Vec::new(),
            files: Vec::new(),
        }
    }

    /// A change of `kind` to message `target`.
    pub fn to(room: RoomId, cid: Uuid, kind: Kind, target: Seq, body: String) -> Self {
        Self {
            room,
            cid,
            kind,
            target: Some(target),
            reply_to: None,
            body,
            mentions: Vec::new(),
            files: Vec::new(),
        }
    }

    /// What is wrong with it before storage is asked.
    fn check(&self, limits: Limits) -> Result<(), SendError> {
        let captioned = self.kind == Kind::Message && !self.files.is_empty();
        match self.kind {
            // A message with files may say nothing more.
            Kind::Message if captioned && self.body.trim().is_empty() => {}
            Kind::Message | Kind::Edit => check_body(&self.body, limits.max_chars)?,
            Kind::React | Kind::Unreact => check_emoji(&self.body).map_err(SendError::Emoji)?,
            Kind::Delete => {}
            // Changes to a room come through `Delivery::change_room`.
            Kind::Room => return Err(SendError::NoTarget),
        }
        let named_well = match self.kind {
            Kind::Message => self.target.is_none() && self.reply_to.is_none_or(|s| s > 0),
            _ => self.target.is_some_and(|s| s > 0) && self.reply_to.is_none(),
        };
        named_well.then_some(()).ok_or(SendError::NoTarget)?;
        let mut files = self.files.clone();
        files.sort_unstable();
        files.dedup();
        if files.len() != self.files.len()
            || self.files.len() > FILES_MAX
            || (self.kind != Kind::Message && !files.is_empty())
        {
            return Err(SendError::Files(format!(
                "A message carries at most {FILES_MAX} files, each once (a change carries none)."
            )));
        }
        if self.mentions.len() > MENTIONS_MAX {
            return Err(SendError::Mentions(format!(
                "A message mentions at most {MENTIONS_MAX} people (this one {}).",
                self.mentions.len()
            )));
        }
        Ok(())
    }
}

#[derive(Clone)]
pub struct Delivery {
    jobs: mpsc::Sender<Job>,
    limits: Limits,
}

impl Delivery {
    /// The delivery, and its writer task for `server::run` to start.
    pub fn new(store: DynStore, after: AfterCommit, limits: Limits) -> (Self, NodeTask) {
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        let task = NodeTask::new("delivery writer", writer(rx, store, after));
        (Self { jobs, limits }, task)
    }

    /// Stores a message and returns it as stored: the original one when
    /// `cid` was sent before.
    pub async fn send(
        &self,
        sender: &User,
        room: RoomId,
        cid: Uuid,
        body: String,
    ) -> Result<Message, SendError> {
        self.enqueue(sender, Change::message(room, cid, body))
            .await?
            .stored()
            .await
    }

    /// Hands a row to the writer and returns at once: rows enqueued one
    /// after the other are stored in that order (a connection's messages keep
    /// the order they were sent in), while their commits may be awaited apart.
    pub async fn enqueue(&self, sender: &User, change: Change) -> Result<Pending, SendError> {
        change.check(self.limits)?;
        let now = super::clock::now_ms();
        let msg = NewMessage {
            room: change.room,
            sender: sender.id,
            from: sender.display_name.clone(),
            cid: change.cid,
            fmt: match change.kind {
                Kind::Message | Kind::Edit => formatted(&change.body),
                _ => None,
            },
            body: change.body,
            // Time-ordered: each message's id lands at the end of the id
            // index, not on a random page of it (a random one dirtied a page
            // per message: most of what a commit wrote).
            id: Uuid::now_v7(),
            ts: now,
            kind: change.kind,
            target: change.target,
            reply_to: change.reply_to,
            mentions: {
                let mut m = change.mentions;
                m.sort_unstable();
                m.dedup();
                m
            },
            files: change.files,
            since: now.saturating_sub(self.limits.edit_window_ms),
        };
        let room = change.room;
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Send { msg, reply })
            .await
            .map_err(|_| SendError::Unavailable)?;
        Ok(Pending { room, answer })
    }

    /// Makes a change to a group and stores its row, in order with the
    /// sends around it; the row as stored, or why not.
    pub async fn change_room(
        &self,
        sender: UserId,
        room: RoomId,
        ask: Ask,
    ) -> Result<Result<Changed, Refused>, StoreError> {
        let change = NewChange {
            room,
            sender,
            ask,
            id: Uuid::now_v7(),
            ts: super::clock::now_ms(),
        };
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Group { change, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Sets `user`'s display name, status and picture, with a row saying
    /// so in each of their rooms (one transaction), in order with the sends.
    pub async fn change_profile(&self, user: UserId, edit: ProfileEdit) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = Job::Profile { user, edit, reply };
        self.jobs.send(job).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Deletes `user`'s account, in order with the sends: a `Profile` row
    /// saying so in each of their rooms, then they leave each group (its
    /// owner handing it on), then the account is closed (`close_account`;
    /// with `erase`, the bodies of their messages go, and the cache forgets
    /// those rooms).
    pub async fn close_account(&self, user: UserId, erase: bool) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = Job::Close { user, erase, reply };
        self.jobs.send(job).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// What `Delivery::close_account` does in the writer: the rows stored.
async fn close(store: &dyn Store, user: UserId, erase: bool) -> Result<Vec<Message>, StoreError> {
    let now = super::clock::now_ms();
    let edit = ProfileEdit {
        display_name: crate::model::DELETED_ACCOUNT.into(),
        deleted: true,
        erased: erase,
        ..ProfileEdit::default()
    };
    let mut rows = store.change_profile(user, &edit, now).await?;
    let rooms: Vec<RoomId> = rows.iter().map(|m| m.room).collect();
    for room in rooms {
        let change = NewChange {
            room,
            sender: user,
            ask: Ask::Leave,
            id: Uuid::now_v7(),
            ts: now,
        };
        match store.change_room(&change).await? {
            Ok(Changed { row, .. }) => rows.push(row),
            Err(Refused::Direct) => {}
            Err(why) => tracing::warn!(room, user, %why, "a deleted account did not leave a group"),
        }
    }
    store.close_account(user, erase, now).await?;
    Ok(rows)
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the writer has stopped".into())
}

/// A message handed to the writer, not yet stored.
pub struct Pending {
    room: RoomId,
    answer: oneshot::Receiver<Result<Appended, StoreError>>,
}

impl Pending {
    /// The message as stored (once committed), or why not.
    pub async fn stored(self) -> Result<Message, SendError> {
        match self.answer.await {
            Ok(Ok(Appended::Stored(m) | Appended::Duplicate(m))) => Ok(m),
            Ok(Ok(Appended::NotMember)) => Err(SendError::NotMember(self.room)),
            Ok(Ok(Appended::NoSuchRoom)) => Err(SendError::NoSuchRoom(self.room)),
            Ok(Ok(Appended::Refused(why))) => Err(SendError::Change(why)),
            Ok(Err(StoreError::Unavailable(_))) | Err(_) => Err(SendError::Unavailable),
            Ok(Err(_)) => Err(SendError::Refused),
        }
    }
}

/// Who hears of a commit, in this order: the recent-message cache, the
/// push queue, the receipts (senders' marks rose) and the bus (fan-out).
pub struct AfterCommit {
    pub cache: Arc<dyn Cache>,
    pub pusher: Pusher,
    pub receipts: Receipts,
    pub bus: Arc<dyn Bus>,
}

async fn writer(mut rx: mpsc::Receiver<Job>, store: DynStore, after: AfterCommit) {
    let AfterCommit {
        cache,
        pusher,
        receipts,
        bus,
    } = after;
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    let mut sends = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        for job in jobs.drain(..) {
            match job {
                Job::Send { msg, reply } => sends.push((msg, reply)),
                Job::Group { change, reply } => {
                    // The sends before it go first, in their order.
                    let committed = store_sends(store.as_ref(), &mut sends).await;
                    after_commit(&cache, &pusher, &receipts, bus.as_ref(), committed).await;
                    let result = store.change_room(&change).await;
                    if let Ok(Ok(Changed { row, .. })) = &result {
                        tracing::info!(room = row.room, seq = row.seq, by = row.sender, "group changed");
                        after_commit(&cache, &pusher, &receipts, bus.as_ref(), vec![row.clone()]).await;
                    }
                    let _ = reply.send(result);
                }
                Job::Close { user, erase, reply } => {
                    let committed = store_sends(store.as_ref(), &mut sends).await;
                    after_commit(&cache, &pusher, &receipts, bus.as_ref(), committed).await;
                    let result = close(store.as_ref(), user, erase).await;
                    let result = match result {
                        Ok(rows) => {
                            tracing::info!(user, rows = rows.len(), erase, "account deleted");
                            if erase {
                                let rooms: std::collections::BTreeSet<RoomId> =
                                    rows.iter().map(|m| m.room).collect();
                                for room in rooms {
                                    cache.forget(room).await;
                                }
                            }
                            after_commit(&cache, &pusher, &receipts, bus.as_ref(), rows).await;
                            Ok(())
                        }
                        Err(e) => Err(e),
                    };
                    let _ = reply.send(result);
                }
                Job::Profile { user, edit, reply } => {
                    let committed = store_sends(store.as_ref(), &mut sends).await;
                    after_commit(&cache, &pusher, &receipts, bus.as_ref(), committed).await;
                    let now = super::clock::now_ms();
                    let result = store.change_profile(user, &edit, now).await;
                    let result = match result {
                        Ok(rows) => {
                            tracing::info!(user, rooms = rows.len(), "profile changed");
                            after_commit(&cache, &pusher, &receipts, bus.as_ref(), rows).await;
                            Ok(())
                        }
                        Err(e) => Err(e),
                    };
                    let _ = reply.send(result);
                }
            }
        }
        let committed = store_sends(store.as_ref(), &mut sends).await;
        after_commit(&cache, &pusher, &receipts, bus.as_ref(), committed).await;
    }
}

/// Stores the waiting sends in one batch and answers each; the rows stored now.
async fn store_sends(
    store: &dyn Store,
    sends: &mut Vec<(NewMessage, oneshot::Sender<Result<Appended, StoreError>>)>,
) -> Vec<Message> {
    if sends.is_empty() {
        return Vec::new();
    }
    let batch: Vec<NewMessage> = sends.iter().map(|(m, _)| m.clone()).collect();
    let started = std::time::Instant::now();
    let results = append_apart(store, &batch).await;
    tracing::debug!(sends = batch.len(), took = ?started.elapsed(), "batch appended");
    let mut committed = Vec::new();
    for ((_, reply), result) in sends.drain(..).zip(results) {
        if let Ok(Appended::Stored(m)) = &result {
            committed.push(m.clone());
        }
        let _ = reply.send(result);
    }
    committed
}

/// After a commit, in seq order: cache, push queue (this node committed
/// it, so this node alone notifies the offline), receipts, then fan-out,
/// each in one go for the whole batch. A delete erases text the cache may
/// hold (the message, its edits): the room's cached run starts again after it.
async fn after_commit(
    cache: &Arc<dyn Cache>,
    pusher: &Pusher,
    receipts: &Receipts,
    bus: &dyn Bus,
    committed: Vec<Message>,
) {
    if committed.is_empty() {
        return;
    }
    cache.push(&committed).await;
    let mut erased: Vec<RoomId> = committed
        .iter()
        .filter(|m| m.kind == Kind::Delete)
        .map(|m| m.room)
        .collect();
    erased.dedup();
    for room in erased {
        cache.forget(room).await;
    }
    pusher.committed(&committed);
    receipts.wrote(&committed);
    bus.publish_all(committed.into_iter().map(|msg| Event::Message { msg }).collect())
        .await;
}

/// Stores `batch` and answers each message. When the transaction fails and
/// the database is reachable, the cause is in the batch: its halves are
/// stored one after the other (so each sender's messages keep their order),
/// split again while they fail, until the failing message is alone and is
/// the only one refused. An unreachable database fails them all: each
/// sender tries again later.
pub async fn append_apart(store: &dyn Store, batch: &[NewMessage]) -> Vec<Result<Appended, StoreError>> {
    let mut results = Vec::with_capacity(batch.len());
    // Ranges (start, end) still to store, the next one last.
    let mut todo = vec![(0, batch.len())];
    while let Some((start, end)) = todo.pop() {
        let part = &batch[start..end];
        match store.append(part).await {
            Ok(stored) => results.extend(stored.into_iter().map(Ok)),
            Err(e) if part.len() == 1 || matches!(e, StoreError::Unavailable(_)) => {
                tracing::warn!(error = %e, sends = part.len(), "sends were not stored");
                results.extend(std::iter::repeat_n(Err(e), part.len()));
            }
            Err(e) => {
                tracing::warn!(error = %e, sends = part.len(), "a batch of sends failed: storing it in halves");
                let mid = start + part.len() / 2;
                todo.push((mid, end));
                todo.push((start, mid));
            }
        }
    }
    results
}
