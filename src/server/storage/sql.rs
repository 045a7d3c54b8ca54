//! The SQL both backends run, written once: here the columns and row
//! conversions the aggregates share, and `impl_store!`, which implements
//! every aggregate's trait (each file of `storage/` holds its SQL in an
//! `impl_…!` macro) for a type with a `read` and a `write` pool of either
//! kind. `$N` placeholders work in SQLite and PostgreSQL alike. (Macros
//! rather than generic code: sqlx's generic bounds over two databases
//! would be longer than the SQL.)

use uuid::Uuid;

use crate::model::{Attachment, Kind, RoomFile};
use crate::model::{Member, Notify, Role, RoomKind, RoomSummary, User};
use crate::protocol::Message;

use super::uploads::{Upload, UploadState};
use super::StoreError;
use crate::format;
use crate::server::format::formatted;

pub(super) const USER_COLUMNS: &str = "id, handle, display_name";

/// Columns of a room summary as seen by the member `$1`, joined as `r` and `m`.
pub(super) const SUMMARY_SELECT: &str = "
    SELECT r.id, r.kind, r.name, r.head_seq, m.read_seq, r.last_activity, m.notify, r.head_n, m.read_n, m.role,
           r.description, r.changed_seq,
           (SELECT COUNT(*) FROM members c WHERE c.room_id = r.id) AS member_count,
           (SELECT o.user_id FROM members o
             WHERE r.kind = 'direct' AND o.room_id = r.id AND o.user_id <> m.user_id
             LIMIT 1) AS peer,
           (SELECT u.handle FROM members o JOIN users u ON u.id = o.user_id
             WHERE r.kind = 'direct' AND o.room_id = r.id AND o.user_id <> m.user_id
             LIMIT 1) AS peer_handle,
           (SELECT u.display_name FROM members o JOIN users u ON u.id = o.user_id
             WHERE r.kind = 'direct' AND o.room_id = r.id AND o.user_id <> m.user_id
             LIMIT 1) AS peer_name,
           (SELECT u.status FROM members o JOIN users u ON u.id = o.user_id
             WHERE r.kind = 'direct' AND o.room_id = r.id AND o.user_id <> m.user_id
             LIMIT 1) AS peer_status,
           CASE WHEN r.kind = 'direct' THEN
             (SELECT u.avatar FROM members o JOIN users u ON u.id = o.user_id
               WHERE o.room_id = r.id AND o.user_id <> m.user_id LIMIT 1)
           ELSE r.avatar END AS avatar,
           (SELECT CASE WHEN x.body = '' AND x.files IS NOT NULL THEN '📎 Attachment' ELSE x.body END
              FROM messages x WHERE x.room_id = r.id AND x.kind = 'message'
             ORDER BY x.seq DESC LIMIT 1) AS preview
      FROM members m JOIN rooms r ON r.id = m.room_id
     WHERE m.user_id = $1";

/// What a summary lists beside its counts, as (list, room, seq) rows of
/// member `$1`'s rooms, or (`one`) of room `$2` only: the deleted messages
/// after their read mark (`GONE`), the messages after it that call them by
/// name (`MENTIONED`), and those they deleted for themselves (`HIDDEN`).
/// One statement for the three: each is a round trip to the database.
pub(super) fn lists_select(one: bool) -> String {
    let only = if one { " AND m.room_id = $2" } else { "" };
    format!(
        "SELECT CAST({GONE} AS BIGINT), x.room_id, x.seq FROM members m JOIN messages x ON x.room_id = m.room_id
          WHERE m.user_id = $1 AND x.deleted = 1 AND x.seq > m.read_seq{only}
         UNION ALL
         SELECT CAST({MENTIONED} AS BIGINT), x.room_id, x.seq
           FROM members m JOIN mentions x ON x.user_id = m.user_id AND x.room_id = m.room_id
          WHERE m.user_id = $1 AND x.seq > m.read_seq{only}
         UNION ALL
         SELECT CAST({HIDDEN} AS BIGINT), h.room_id, h.seq
           FROM members m JOIN hidden h ON h.user_id = m.user_id AND h.room_id = m.room_id
          WHERE m.user_id = $1{only}"
    )
}

const GONE: i64 = 0;
const MENTIONED: i64 = 1;
const HIDDEN: i64 = 2;

/// Hands the rows of `lists_select` to their rooms' summaries.
pub(super) fn add_marks(rooms: &mut [RoomSummary], lists: Vec<(i64, i64, i64)>) {
    for (list, room, seq) in lists {
        let Some(r) = rooms.iter_mut().find(|r| r.id == room) else {
            continue;
        };
        match list {
            GONE => r.gone.push(seq),
            MENTIONED => r.mentioned.push(seq),
            _ => r.hidden.push(seq),
        }
    }
    for r in rooms {
        r.gone.sort_unstable();
        r.mentioned.sort_unstable();
        // The newest ones: the badge says "@" however many.
        let extra = r.mentioned.len().saturating_sub(crate::model::MENTIONED_MAX);
        r.mentioned.drain(..extra);
        r.hidden.sort_unstable();
        let extra = r.hidden.len().saturating_sub(crate::model::HIDDEN_MAX);
        r.hidden.drain(..extra);
    }
}

/// The members of room `$1` as `m`, joined with their users as `u`, in joining order.
pub(super) const MEMBERS_OF_ROOM: &str =
    "FROM members m JOIN users u ON u.id = m.user_id WHERE m.room_id = $1 ORDER BY m.joined_at, u.handle";

/// A row of `messages::MESSAGE_COLUMNS`.
#[derive(sqlx::FromRow)]
pub(super) struct MessageRow {
    room_id: i64,
    seq: i64,
    id: Vec<u8>,
    sender_id: i64,
    display_name: String,
    body: String,
    created_at: i64,
    client_msg_id: Vec<u8>,
    kind: String,
    target: Option<i64>,
    n: i64,
    version: i64,
    edited_at: Option<i64>,
    deleted: i64,
    reply_to: Option<i64>,
    mentions: Option<String>,
    files: Option<String>,
}

pub(super) fn message(row: MessageRow) -> Result<Message, StoreError> {
    let MessageRow {
        room_id: room,
        seq,
        id,
        sender_id: sender,
        display_name: from,
        body,
        created_at: ts,
        client_msg_id: cid,
        kind,
        target,
        n,
        version,
        edited_at: edited,
        deleted,
        reply_to,
        mentions,
        files,
    } = row;
    let files: Vec<Attachment> = match files.as_deref() {
        None | Some("") => Vec::new(),
        Some(json) => serde_json::from_str(json)
            .map_err(|e| StoreError::Internal(format!("message {room}/{seq}: files {e}")))?,
    };
    let mentions = mentions
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|_| StoreError::Internal(format!("message {room}/{seq}: mentions {s:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let uuid = |b: &[u8]| {
        Uuid::from_slice(b).map_err(|_| StoreError::Internal(format!("message {room}/{seq}: bad uuid")))
    };
    let kind = Kind::parse(&kind)
        .ok_or_else(|| StoreError::Internal(format!("message {room}/{seq}: kind {kind:?}")))?;
    // A reaction's emoji is not Markdown; a room row's body is its change.
    let fmt = if matches!(kind, Kind::Message | Kind::Edit) {
        formatted(&body)
    } else {
        None
    };
    let (body, change) = match kind {
        Kind::Room => (
            String::new(),
            Some(
                serde_json::from_str(&body)
                    .map_err(|e| StoreError::Internal(format!("message {room}/{seq}: change {e}")))?,
            ),
        ),
        _ => (body, None),
    };
    Ok(Message {
        room,
        seq,
        id: uuid(&id)?,
        sender,
        from,
        fmt,
        body,
        ts,
        cid: uuid(&cid)?,
        kind,
        target,
        n,
        version,
        edited,
        deleted: deleted != 0,
        reactions: Vec::new(),
        reply_to,
        mentions,
        files,
        quoted: None,
        change,
    })
}

/// A message's files as stored: JSON, NULL for none.
pub(super) fn files_json(files: &[Attachment]) -> Option<String> {
    (!files.is_empty()).then(|| serde_json::to_string(files).unwrap_or_default())
}

/// A row of `uploads::UPLOAD_COLUMNS`.
#[derive(sqlx::FromRow)]
pub(super) struct UploadRow {
    id: Vec<u8>,
    owner_id: i64,
    name: String,
    length: i64,
    received: i64,
    parts: String,
    state: String,
    mime: Option<String>,
    size: Option<i64>,
    width: i64,
    height: i64,
    color: Option<String>,
    room_id: Option<i64>,
    seq: Option<i64>,
    created_at: i64,
}

pub(super) fn upload(row: UploadRow) -> Result<Upload, StoreError> {
    let dim = |n: i64| u32::try_from(n).unwrap_or(0);
    Ok(Upload {
        file: Attachment {
            id: uuid(&row.id)?,
            name: row.name,
            size: row.size.unwrap_or(row.length).max(0) as u64,
            mime: row.mime.unwrap_or_default(),
            w: dim(row.width),
            h: dim(row.height),
            color: row.color,
        },
        owner: row.owner_id,
        length: row.length.max(0) as u64,
        received: row.received.max(0) as u64,
        parts: row
            .parts
            .split(',')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect(),
        state: UploadState::parse(&row.state)?,
        at: row.room_id.zip(row.seq),
        created_at: row.created_at,
    })
}

/// A file of a room: its upload row and its message's sender and time.
#[derive(sqlx::FromRow)]
pub(super) struct RoomFileRow {
    #[sqlx(flatten)]
    upload: UploadRow,
    sender: i64,
    sent_at: i64,
}

pub(super) fn room_file(row: RoomFileRow) -> Result<RoomFile, StoreError> {
    let upload = upload(row.upload)?;
    Ok(RoomFile {
        seq: upload.at.map_or(0, |(_, seq)| seq),
        sender: row.sender,
        ts: row.sent_at,
        file: upload.file,
    })
}

/// A stored 16-byte UUID.
pub(super) fn uuid(bytes: &[u8]) -> Result<Uuid, StoreError> {
    Uuid::from_slice(bytes).map_err(|_| StoreError::Internal("a stored id is not a UUID".into()))
}

/// A byte count as both databases store it (BIGINT).
pub(super) fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) type UserRow = (i64, String, String);
/// A row of `SUMMARY_SELECT`.
#[derive(sqlx::FromRow)]
pub(super) struct SummaryRow {
    id: i64,
    kind: String,
    name: String,
    head_seq: i64,
    read_seq: i64,
    last_activity: i64,
    notify: String,
    head_n: i64,
    read_n: i64,
    role: String,
    member_count: i64,
    peer: Option<i64>,
    peer_handle: Option<String>,
    peer_name: Option<String>,
    peer_status: Option<String>,
    avatar: Option<String>,
    preview: Option<String>,
    description: String,
    changed_seq: i64,
}

pub(super) fn user(row: UserRow) -> User {
    User {
        id: row.0,
        handle: row.1,
        display_name: row.2,
    }
}

pub(super) fn summary(row: SummaryRow) -> Result<RoomSummary, StoreError> {
    let SummaryRow {
        id,
        kind,
        name,
        head_seq,
        read_seq,
        last_activity,
        notify,
        head_n,
        read_n,
        role,
        member_count,
        peer,
        peer_handle,
        peer_name,
        peer_status,
        avatar,
        preview,
        description,
        changed_seq,
    } = row;
    // A deleted message's body is empty (a sent one never is).
    let preview = preview.map(|body| match body.as_str() {
        "" => format::DELETED.to_string(),
        _ => format::preview(&body, formatted(&body).as_deref()),
    });
    let notify = Notify::parse(&notify)
        .ok_or_else(|| StoreError::Internal(format!("room {id} has notify {notify:?}")))?;
    let kind =
        RoomKind::parse(&kind).ok_or_else(|| StoreError::Internal(format!("room {id} has kind {kind:?}")))?;
    let name = match kind {
        RoomKind::Direct => peer_name.unwrap_or_else(|| "(left)".into()),
        RoomKind::Group => name,
    };
    Ok(RoomSummary {
        id,
        kind,
        name,
        peer,
        peer_handle,
        peer_status: peer_status.unwrap_or_default(),
        head_seq,
        read_seq,
        member_count,
        last_activity,
        preview,
        notify,
        head_n,
        read_n,
        role: self::role(&role)?,
        gone: Vec::new(),
        mentioned: Vec::new(),
        hidden: Vec::new(),
        description,
        changed: changed_seq,
        left: false,
        avatar,
    })
}

/// A row of `FORMER_SELECT`: a group `$1` left, as they see it now.
#[derive(sqlx::FromRow)]
pub(super) struct FormerRow {
    id: i64,
    name: String,
    description: String,
    until_seq: i64,
    until_n: i64,
    left_at: i64,
    avatar: Option<String>,
}

/// The groups member `$1` left (or was removed from), as `FormerRow`s.
pub(super) const FORMER_SELECT: &str = "
    SELECT r.id, r.name, r.description, f.until_seq, f.until_n, f.left_at, r.avatar
      FROM former_members f JOIN rooms r ON r.id = f.room_id
     WHERE f.user_id = $1";

/// A group someone left: readable up to the row that said so, nothing
/// unread, the name it has now.
pub(super) fn former(row: FormerRow) -> RoomSummary {
    RoomSummary {
        id: row.id,
        kind: RoomKind::Group,
        name: row.name,
        peer: None,
        peer_handle: None,
        peer_status: String::new(),
        head_seq: row.until_seq,
        read_seq: row.until_seq,
        member_count: 0,
        last_activity: row.left_at,
        preview: None,
        notify: Notify::None,
        role: Role::Member,
        head_n: row.until_n,
        read_n: row.until_n,
        gone: Vec::new(),
        mentioned: Vec::new(),
        hidden: Vec::new(),
        description: row.description,
        changed: row.until_seq,
        left: true,
        avatar: row.avatar,
    }
}

pub(super) fn role(s: &str) -> Result<Role, StoreError> {
    Role::parse(s).ok_or_else(|| StoreError::Internal(format!("unknown role {s:?}")))
}

pub(super) fn member(row: (i64, String, String, String)) -> Result<Member, StoreError> {
    let (id, handle, display_name, r) = row;
    Ok(Member {
        user: User {
            id,
            handle,
            display_name,
        },
        role: role(&r)?,
    })
}

pub(super) fn direct_key(a: i64, b: i64) -> String {
    format!("{}:{}", a.min(b), a.max(b))
}

/// `impl_store!(Type, Database, "backend", "row lock clause", numbered)`: the whole
/// `Store` of a type with a `read` and a `write` pool, aggregate by
/// aggregate (each file holds its own SQL); see `messages::impl_messages`
/// for the last two arguments.
macro_rules! impl_store {
    ($store:ty, $db:ty, $backend:literal, $lock:literal, $numbered:literal) => {
        #[async_trait::async_trait]
        impl $crate::server::storage::Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.read).await?;
                Ok(())
            }

            async fn close(&self) {
                self.write.close().await;
                self.read.close().await;
            }
        }

        $crate::server::storage::accounts::impl_accounts!($store, $numbered);
        $crate::server::storage::blocks::impl_blocks!($store);
        $crate::server::storage::people::impl_people!($store, $db);
        $crate::server::storage::rooms::impl_rooms!($store);
        $crate::server::storage::messages::impl_messages!($store, $db, $lock, $numbered);
        $crate::server::storage::messages::change::impl_changes!($store, $db, $lock);
        $crate::server::storage::marks::impl_marks!($store);
        $crate::server::storage::push::impl_push!($store);
        $crate::server::storage::settings::impl_settings!($store);
        $crate::server::storage::uploads::impl_uploads!($store);
        $crate::server::storage::search::impl_search!($store, $db, $lock, $numbered);
    };
}

pub(super) use impl_store;
