//! Uploads and the files messages carry: one row per upload, from its
//! creation (`uploading`, with the bytes received so far) through `ready`
//! (complete and checked) and `sent` (carried by message `seq` of `room`)
//! to `erased` (its message deleted, or given up: the bytes are to go).
//! Only `Messages::append` marks an upload sent or erased by a delete, in
//! the transaction of the message. The bytes themselves are not here
//! (`server::files`).

use async_trait::async_trait;
use uuid::Uuid;

use super::StoreError;
use crate::model::{Attachment, RoomFile, RoomId, UserId};
use crate::protocol::Seq;

/// Where an upload is in its life (see the module header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadState {
    Uploading,
    Ready,
    Sent,
    Erased,
}

impl UploadState {
    pub fn as_str(self) -> &'static str {
        match self {
            UploadState::Uploading => "uploading",
            UploadState::Ready => "ready",
            UploadState::Sent => "sent",
            UploadState::Erased => "erased",
        }
    }

    pub fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "uploading" => UploadState::Uploading,
            "ready" => UploadState::Ready,
            "sent" => UploadState::Sent,
            "erased" => UploadState::Erased,
            other => return Err(StoreError::Internal(format!("upload state {other:?}"))),
        })
    }
}

/// An upload as stored. `file` holds what a message will show: its size and
/// type are known once it is `ready` (an image's after re-encoding).
#[derive(Clone, Debug, PartialEq)]
pub struct Upload {
    pub file: Attachment,
    pub owner: UserId,
    /// The bytes the upload said it would bring.
    pub length: u64,
    /// The bytes received so far (the offset the next part starts at).
    pub received: u64,
    /// The names of the stored parts that hold them, in order.
    pub parts: Vec<String>,
    pub state: UploadState,
    /// The message carrying it, once sent.
    pub at: Option<(RoomId, Seq)>,
    pub created_at: i64,
}

#[async_trait]
pub trait Uploads: Send + Sync {
    /// Opens an upload of `length` bytes named `name` (cleaned already).
    async fn create_upload(
        &self,
        id: Uuid,
        owner: UserId,
        name: &str,
        length: u64,
        now: i64,
    ) -> Result<(), StoreError>;

    async fn upload(&self, id: Uuid) -> Result<Option<Upload>, StoreError>;

    /// Adds stored part `part` (bytes `from..to`) to an upload if it is
    /// still uploading at `from` (false: another request moved it first),
    /// with the type told by its first bytes.
    async fn advance_upload(
        &self,
        id: Uuid,
        (from, to): (u64, u64),
        part: &str,
        mime: &str,
    ) -> Result<bool, StoreError>;

    /// A complete upload becomes `ready` with what was found of it (its
    /// stored size and type, an image's size and colour); false if it was
    /// not uploading any more (cancelled meanwhile).
    async fn finish_upload(&self, file: &Attachment) -> Result<bool, StoreError>;

    /// Gives up an upload not sent yet: `erased`, its bytes to go. False if
    /// it was sent (or is not the owner's).
    async fn cancel_upload(&self, id: Uuid, owner: UserId) -> Result<bool, StoreError>;

    /// The owner's uploads still open, and the bytes of all they started
    /// since `since` (ms): what the per-person limits count.
    async fn upload_usage(&self, owner: UserId, since: i64) -> Result<(u64, u64), StoreError>;

    /// File `id` if `user` may have it: sent with a message of a room they
    /// are a member of. Else None, whether or not it exists.
    async fn shared_file(&self, id: Uuid, user: UserId) -> Result<Option<Attachment>, StoreError>;

    /// The files of `room` sent before message `before` (all when None),
    /// newest first, at most `limit`; none unless `user` is a member.
    async fn room_files(
        &self,
        room: RoomId,
        user: UserId,
        before: Option<Seq>,
        limit: u32,
    ) -> Result<Vec<RoomFile>, StoreError>;

    /// Uploads whose bytes are to go, at most `limit`: erased ones, after
    /// erasing those never sent that were opened before `stale_before` (ms)
    /// (erased first, so a late send cannot take one whose bytes are going).
    async fn doomed_uploads(&self, stale_before: i64, limit: u32) -> Result<Vec<Uuid>, StoreError>;

    /// Removes the row of an upload whose bytes are gone (unless it was sent
    /// meanwhile).
    async fn forget_upload(&self, id: Uuid) -> Result<(), StoreError>;
}

/// The columns of an upload (`sql::UploadRow`), from `files` as `f`.
pub const UPLOAD_COLUMNS: &str =
    "SELECT f.id, f.owner_id, f.name, f.length, f.received, f.parts, f.state, f.mime, f.size,
       f.width, f.height, f.color, f.room_id, f.seq, f.created_at";

/// `impl_uploads!(Type)`: the `Uploads` of a store type with `read` and
/// `write` pools (see `sql::impl_store`).
macro_rules! impl_uploads {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::server::storage::Uploads for $store {
            async fn create_upload(
                &self,
                id: Uuid,
                owner: UserId,
                name: &str,
                length: u64,
                now: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO files (id, owner_id, name, length, received, state, created_at)
                     VALUES ($1, $2, $3, $4, 0, 'uploading', $5)",
                )
                .bind(id.as_bytes().as_slice())
                .bind(owner)
                .bind(name)
                .bind(sql::count(length))
                .bind(now)
                .execute(&self.write)
                .await?;
                Ok(())
            }

            async fn upload(&self, id: Uuid) -> Result<Option<Upload>, StoreError> {
                let q = format!("{} FROM files f WHERE f.id = $1", uploads::UPLOAD_COLUMNS);
                let row: Option<sql::UploadRow> = sqlx::query_as(&q)
                    .bind(id.as_bytes().as_slice())
                    .fetch_optional(&self.write)
                    .await?;
                row.map(sql::upload).transpose()
            }

            async fn advance_upload(&self, id: Uuid, (from, to): (u64, u64), part: &str, mime: &str) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE files SET received = $1, mime = $2, parts = parts || $5
                      WHERE id = $3 AND received = $4 AND state = 'uploading'",
                )
                .bind(sql::count(to))
                .bind(mime)
                .bind(id.as_bytes().as_slice())
                .bind(sql::count(from))
                .bind(format!("{part},"))
                .execute(&self.write)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn finish_upload(&self, file: &Attachment) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE files SET state = 'ready', size = $1, mime = $2, width = $3, height = $4, color = $5, name = $6
                      WHERE id = $7 AND state = 'uploading' AND received = length",
                )
                .bind(sql::count(file.size))
                .bind(&file.mime)
                .bind(i64::from(file.w))
                .bind(i64::from(file.h))
                .bind(&file.color)
                .bind(&file.name)
                .bind(file.id.as_bytes().as_slice())
                .execute(&self.write)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn cancel_upload(&self, id: Uuid, owner: UserId) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE files SET state = 'erased'
                      WHERE id = $1 AND owner_id = $2 AND state IN ('uploading', 'ready')",
                )
                .bind(id.as_bytes().as_slice())
                .bind(owner)
                .execute(&self.write)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn upload_usage(&self, owner: UserId, since: i64) -> Result<(u64, u64), StoreError> {
                let (open, bytes): (i64, Option<i64>) = sqlx::query_as(
                    "SELECT COUNT(CASE WHEN state = 'uploading' THEN 1 END),
                            CAST(SUM(CASE WHEN created_at >= $2 THEN length ELSE 0 END) AS BIGINT)
                       FROM files WHERE owner_id = $1",
                )
                .bind(owner)
                .bind(since)
                .fetch_one(&self.read)
                .await?;
                Ok((open.max(0) as u64, bytes.unwrap_or(0).max(0) as u64))
            }

            async fn shared_file(&self, id: Uuid, user: UserId) -> Result<Option<Attachment>, StoreError> {
                let q = format!(
                    "{} FROM files f JOIN members mb ON mb.room_id = f.room_id AND mb.user_id = $2
                      WHERE f.id = $1 AND f.state = 'sent'",
                    uploads::UPLOAD_COLUMNS
                );
                let row: Option<sql::UploadRow> = sqlx::query_as(&q)
                    .bind(id.as_bytes().as_slice())
                    .bind(user)
                    .fetch_optional(&self.read)
                    .await?;
                Ok(row.map(sql::upload).transpose()?.map(|u| u.file))
            }

            async fn room_files(
                &self,
                room: RoomId,
                user: UserId,
                before: Option<Seq>,
                limit: u32,
            ) -> Result<Vec<RoomFile>, StoreError> {
                let q = format!(
                    "{}, m.sender_id AS sender, m.created_at AS sent_at
                       FROM members mb JOIN files f ON f.room_id = mb.room_id
                       JOIN messages m ON m.room_id = f.room_id AND m.seq = f.seq
                      WHERE mb.room_id = $1 AND mb.user_id = $2 AND f.state = 'sent' AND f.seq < $3
                      ORDER BY f.seq DESC, f.id LIMIT $4",
                    uploads::UPLOAD_COLUMNS
                );
                let rows: Vec<sql::RoomFileRow> = sqlx::query_as(&q)
                    .bind(room)
                    .bind(user)
                    .bind(before.unwrap_or(i64::MAX))
                    .bind(i64::from(limit))
                    .fetch_all(&self.read)
                    .await?;
                rows.into_iter().map(sql::room_file).collect()
            }

            async fn doomed_uploads(&self, stale_before: i64, limit: u32) -> Result<Vec<Uuid>, StoreError> {
                sqlx::query("UPDATE files SET state = 'erased' WHERE state IN ('uploading', 'ready') AND created_at < $1")
                    .bind(stale_before)
                    .execute(&self.write)
                    .await?;
                let rows: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT id FROM files WHERE state = 'erased' LIMIT $1")
                .bind(i64::from(limit))
                .fetch_all(&self.read)
                .await?;
                rows.into_iter().map(|(id,)| sql::uuid(&id)).collect()
            }

            async fn forget_upload(&self, id: Uuid) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM files WHERE id = $1 AND state <> 'sent'")
                    .bind(id.as_bytes().as_slice())
                    .execute(&self.write)
                    .await?;
                Ok(())
            }
        }
    };
}

pub(super) use impl_uploads;
