//! Durable storage: the `Store` trait, composed of one trait per aggregate
//! (`accounts`, `blocks`, `people`, `rooms`, `messages`, `marks`, `push`, `settings`, `uploads`,
//! `search`, each file with its SQL), and its two implementations, SQLite
//! (the embedded default) and PostgreSQL (the cluster shape), chosen at
//! start-up from `DATABASE_URL`.
//!
//! Both run the same SQL text (`sql::impl_store!`), so their behaviour
//! cannot drift; what differs (connection set-up, pragmas, pools) lives in
//! `sqlite.rs` and `postgres.rs`. Only this module speaks SQL. Storage knows
//! nothing of HTTP, session cookies or WebSockets. A caller imports the
//! aggregate traits whose methods it uses.

mod accounts;
mod blocks;
mod marks;
mod messages;
pub mod people;
mod postgres;
mod push;
mod rooms;
mod search;
mod settings;
mod sql;
mod sqlite;
mod uploads;

use std::sync::Arc;

use async_trait::async_trait;

use uuid::Uuid;

use crate::format::Block;
use crate::model::Kind;
use crate::model::{Role, RoomId, User, UserId};
use crate::protocol::{Message, Seq};

pub use accounts::{Accounts, SessionRow};
pub use blocks::Blocks;
pub use marks::Marks;
pub use messages::change::{Ask, Changed, Changes, NewChange, ProfileEdit, Refused};
pub use messages::Messages;
pub use people::People;
pub use postgres::PgStore;
pub use push::PushSubscriptions;
pub use rooms::Rooms;
pub use search::{text_of, Search, SearchQuery};
pub use settings::Settings;
pub use sqlite::SqliteStore;
pub use uploads::{Upload, UploadState, Uploads};

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

/// What ticks need of a room's marks (`Marks::mark_summary`): how many
/// members, the two lowest delivered and read marks with whose they are,
/// how many members stopped reading at each seq from some seq on, and
/// some members' own marks (user, delivered, read).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MarkSummary {
    pub members: i64,
    pub lowest_delivered: Vec<(UserId, Seq)>,
    pub lowest_read: Vec<(UserId, Seq)>,
    /// (read mark, members with it), for read marks at or after `from`, ascending.
    pub reads: Vec<(Seq, i64)>,
    pub own: Vec<(UserId, Seq, Seq)>,
}

/// A member's marks as stored after a report; `rose` says the report moved them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredMarks {
    pub delivered: Seq,
    pub read: Seq,
    /// The `n` of the row at `read` (see `protocol::Message::n`).
    pub read_n: i64,
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
    /// The body's formatting (`server::format`), made before the writer takes it.
    pub fmt: Option<Vec<Block>>,
    /// A message, or an event that changes message `target` (its emoji in `body`).
    pub kind: Kind,
    pub target: Option<Seq>,
    /// The message of the same room a new message answers.
    pub reply_to: Option<Seq>,
    /// The members a message or an edit mentions (sorted, no repeats).
    pub mentions: Vec<UserId>,
    /// The uploads a new message carries (no repeats): each must be the
    /// sender's, complete, and not sent with another message.
    pub files: Vec<uuid::Uuid>,
    /// Edits and deletes of one's own messages reach back to messages
    /// stored at or after this time (ms): the edit window.
    pub since: i64,
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
    /// A change (or a reply) that the rules do not allow; nothing stored.
    Refused(Refusal),
}

/// Why a change to message `.0` was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("There is no message {0} in this room.")]
    NoSuchMessage(Seq),
    #[error("Message {0} is someone else's.")]
    NotYours(Seq),
    #[error("Message {0} is too old to change.")]
    TooOld(Seq),
    #[error("Message {0} was deleted.")]
    Deleted(Seq),
    #[error("Message {0} has as many different reactions as it may have ({max}).", max = crate::model::REACTIONS_MAX)]
    TooManyReactions(Seq),
    #[error("Person {0} is not in this room: only members can be mentioned.")]
    Stranger(UserId),
    #[error("There is no upload {0} of yours (it may have expired: upload it again).")]
    NoSuchUpload(uuid::Uuid),
    #[error("Upload {0} is not complete yet: send once it is.")]
    UploadIncomplete(uuid::Uuid),
    #[error("Upload {0} was already sent with another message.")]
    UploadSent(uuid::Uuid),
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    #[error("that handle is taken")]
    HandleTaken,
    /// The handle looks like this existing one.
    #[error("that handle looks like @{0}")]
    HandleLookAlike(String),
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

/// Everything the server keeps durably, aggregate by aggregate (each trait
/// in its own file, with its SQL). Every method is one transaction.
#[async_trait]
pub trait Store:
    Accounts
    + Blocks
    + People
    + Rooms
    + Messages
    + Changes
    + Marks
    + PushSubscriptions
    + Settings
    + Uploads
    + Search
    + 'static
{
    /// "sqlite" or "postgres", for logs and readiness.
    fn backend(&self) -> &'static str;

    /// Answers when the database serves queries.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Closes the pools (the node is shutting down): waits for the
    /// connections in use to come back, then ends them and the pools' tasks.
    async fn close(&self);
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
