//! Durable storage: the one `Store` trait and its two implementations,
//! SQLite (the embedded default) and PostgreSQL (the cluster shape), chosen
//! at start-up from `DATABASE_URL`.
//!
//! Both run the same SQL text (see `sql.rs`), so their behaviour cannot drift;
//! what differs (connection set-up, pragmas, pools) lives in `sqlite.rs` and
//! `postgres.rs`. Only this module speaks SQL. Storage knows nothing of HTTP,
//! sessions cookies or WebSockets.

mod postgres;
mod sql;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

use uuid::Uuid;

use crate::model::{Member, Role, RoomId, RoomKind, RoomSummary, User, UserId};
use crate::protocol::{MemberMarks, Message, Seq};

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// A user row with the password hash, for log-in only.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

/// What a user may do in a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    NoSuchRoom,
    NotMember,
    Member(Role),
}

/// A member's marks as stored after a report; `rose` says the report moved them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredMarks {
    pub delivered: Seq,
    pub read: Seq,
    pub rose: bool,
}

/// A device's Web Push subscription: where to post, and its keys
/// (base64url, as `PushSubscription.toJSON()` gives them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushSubscription {
    pub user: UserId,
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

/// A message to store, as the delivery module hands it over.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub room: RoomId,
    pub sender: UserId,
    /// The sender's display name, copied into the message.
    pub from: String,
    pub cid: Uuid,
    pub body: String,
    /// The server id and time given to it if it is new.
    pub id: Uuid,
    pub ts: i64,
}

/// What became of one message of an `append` batch.
#[derive(Clone, Debug, PartialEq)]
pub enum Appended {
    /// Stored now with the next seq of its room.
    Stored(Message),
    /// The sender had sent this `cid` before: the original message.
    Duplicate(Message),
    NotMember,
    NoSuchRoom,
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    #[error("that handle is taken")]
    HandleTaken,
    /// The database cannot be reached or is shutting down: retry later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage error: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::Error::*;
        match &e {
            Io(_) | Tls(_) | PoolTimedOut | PoolClosed | WorkerCrashed | Protocol(_) => {
                StoreError::Unavailable(e.to_string())
            }
            Database(db) if is_transient(db.as_ref()) => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Internal(e.to_string()),
        }
    }
}

/// The database is there but cannot serve now, and the same statement may
/// succeed later. PostgreSQL: connection (08), transaction rollback
/// (40: serialization failure, deadlock), insufficient resources (53),
/// operator intervention (57P: shutdown), system error (58). SQLite (its
/// extended code; the primary one is the low byte): BUSY, LOCKED, IOERR,
/// FULL, CANTOPEN.
fn is_transient(db: &dyn sqlx::error::DatabaseError) -> bool {
    let Some(code) = db.code() else { return false };
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        let primary = code.parse::<i32>().unwrap_or(0) & 0xff;
        return matches!(primary, 5 | 6 | 10 | 13 | 14);
    }
    ["08", "40", "53", "57P", "58"]
        .iter()
        .any(|class| code.starts_with(class))
}

pub type DynStore = Arc<dyn Store>;

/// Everything the server keeps durably. Every method is one transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// "sqlite" or "postgres", for logs and readiness.
    fn backend(&self) -> &'static str;

    /// Answers when the database serves queries.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Creates a user; `HandleTaken` if the (lower-case) handle exists.
    async fn create_user(
        &self,
        handle: &str,
        display_name: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<User, StoreError>;

    async fn credentials(&self, handle: &str) -> Result<Option<Credentials>, StoreError>;

    async fn user_by_handle(&self, handle: &str) -> Result<Option<User>, StoreError>;

    async fn create_session(
        &self,
        token_hash: &[u8],
        user: UserId,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError>;

    /// The user of an unexpired session.
    async fn session_user(&self, token_hash: &[u8], now: i64) -> Result<Option<User>, StoreError>;

    async fn delete_session(&self, token_hash: &[u8]) -> Result<(), StoreError>;

    /// The direct room of two users, created on first use: a pair has one room.
    async fn open_direct(&self, a: UserId, b: UserId, now: i64) -> Result<RoomId, StoreError>;

    /// Creates a group whose owner is `creator`, with `members` (creator
    /// excluded or not) as members.
    async fn create_group(
        &self,
        creator: UserId,
        name: &str,
        members: &[UserId],
        now: i64,
    ) -> Result<RoomId, StoreError>;

    /// Adds a member whose watermarks start at the room's head (joining does
    /// not make the whole history unread). False if they were already in.
    async fn add_member(&self, room: RoomId, user: UserId, now: i64) -> Result<bool, StoreError>;

    async fn access(&self, room: RoomId, user: UserId) -> Result<Access, StoreError>;

    async fn member_count(&self, room: RoomId) -> Result<i64, StoreError>;

    async fn room_count(&self, user: UserId) -> Result<i64, StoreError>;

    async fn members(&self, room: RoomId) -> Result<Vec<Member>, StoreError>;

    /// The ids of a user's rooms (what a connection subscribes to).
    async fn room_ids_of(&self, user: UserId) -> Result<Vec<RoomId>, StoreError>;

    /// The rooms of a user, latest activity first.
    async fn rooms_of(&self, user: UserId) -> Result<Vec<RoomSummary>, StoreError>;

    /// One room as `user` sees it, if they are a member.
    async fn room_of(&self, room: RoomId, user: UserId) -> Result<Option<RoomSummary>, StoreError>;

    /// The room's last seq, None if there is no such room.
    async fn head(&self, room: RoomId) -> Result<Option<Seq>, StoreError>;

    /// Stores a batch of messages in one transaction (group commit): for each,
    /// dedup on (sender, cid), check membership, take the room's next seq,
    /// insert, and move the sender's read mark to it. All or nothing: an
    /// error means none of them was stored.
    async fn append(&self, batch: &[NewMessage]) -> Result<Vec<Appended>, StoreError>;

    /// Raises a member's delivered and read marks to at least the given
    /// seqs (a lower value never moves a mark back; read implies delivered).
    /// Returns the marks now stored, or None if `user` is not in `room`.
    /// The caller keeps the values within the room's head.
    async fn raise_marks(
        &self,
        room: RoomId,
        user: UserId,
        delivered: Seq,
        read: Seq,
    ) -> Result<Option<StoredMarks>, StoreError>;

    /// Every member of a room with their marks, in joining order.
    async fn member_marks(&self, room: RoomId) -> Result<Vec<MemberMarks>, StoreError>;

    /// The room's last seq and kind, None if there is no such room.
    async fn head_and_kind(&self, room: RoomId) -> Result<Option<(Seq, RoomKind)>, StoreError>;

    /// The people who see `user`'s presence: everyone sharing a direct room
    /// or a group of at most `max_members` with them, with their last-seen time.
    async fn contacts(
        &self,
        user: UserId,
        max_members: i64,
    ) -> Result<Vec<(UserId, Option<i64>)>, StoreError>;

    /// The value of setting `name`, set to `value` first if it has none
    /// (several nodes starting at once agree on the first one stored).
    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError>;

    /// Stores a device's Web Push subscription for the user of a session
    /// (the same endpoint again replaces the old keys and owner).
    async fn save_push_subscription(
        &self,
        sub: &PushSubscription,
        session_hash: &[u8],
        now: i64,
    ) -> Result<(), StoreError>;

    /// Removes the user's subscription with this endpoint; false if there was none.
    async fn delete_push_subscription(&self, user: UserId, endpoint: &str) -> Result<bool, StoreError>;

    /// Removes a subscription the push service says is gone (404/410).
    async fn forget_push_endpoint(&self, endpoint: &str) -> Result<(), StoreError>;

    /// Every subscription of the user (one per device that enabled notifications).
    async fn push_subscriptions(&self, user: UserId) -> Result<Vec<PushSubscription>, StoreError>;

    /// Every subscription of the members of `room` but `except` (its sender).
    async fn room_push_subscriptions(
        &self,
        room: RoomId,
        except: UserId,
    ) -> Result<Vec<PushSubscription>, StoreError>;

    /// The user's unread messages over all their rooms (the app badge).
    async fn unread_total(&self, user: UserId) -> Result<i64, StoreError>;

    /// When the user was last online, if ever.
    async fn last_seen(&self, user: UserId) -> Result<Option<i64>, StoreError>;

    /// Records when the user was last online (never moves back).
    async fn set_last_seen(&self, user: UserId, at: i64) -> Result<(), StoreError>;

    /// Up to `limit` messages with seq > `after`, oldest first.
    async fn messages_after(&self, room: RoomId, after: Seq, limit: u32) -> Result<Vec<Message>, StoreError>;

    /// The newest `limit` messages with seq < `before`, oldest first.
    async fn messages_before(
        &self,
        room: RoomId,
        before: Seq,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError>;
}

/// Opens the store that `database_url` names and applies its migrations.
pub async fn open(database_url: &str, pool_size: u32) -> Result<DynStore, anyhow::Error> {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::open(database_url, pool_size).await?))
    } else if database_url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(database_url, pool_size).await?))
    } else {
        anyhow::bail!("the scheme is neither sqlite: nor postgres://")
    }
}
