//! Files: uploads in parts that resume where they stopped (the HTTP side is
//! `server::uploads`, in the tus protocol's shape), each checked by its
//! bytes (`kind`) and within the per-file and per-person limits, an image
//! re-encoded with its thumbnail (`pictures`, on the blocking pool, a
//! bounded number at once), the bytes kept in one object store (`blobs`);
//! then served to the members of a room whose message carries it, and
//! swept when that message is deleted or the upload was never sent. The
//! message that carries a file is written by `delivery`, never here.

pub mod blobs;
pub mod kind;
pub mod pictures;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use object_store::{GetOptions, GetRange, ObjectStore, WriteMultipart};
use tokio::sync::Semaphore;
use uuid::Uuid;

use self::blobs::Blobs;
use self::kind::FileType;
use self::pictures::PictureError;
use super::clock::now_ms;
use super::storage::{DynStore, StoreError, Upload, UploadState};
use super::tasks::NodeTask;
use crate::model::{clean_file_name, human_size, Attachment, FilePage, RoomId, UserId};
use crate::protocol::Seq;

/// The most bytes one part of an upload may have (the client sends less).
pub const PART_MAX: usize = 8 * 1024 * 1024;
/// The most bytes an image sent as a picture of a person or a group may have.
pub const AVATAR_BYTES_MAX: usize = 10 * 1024 * 1024;
/// The most files a "files and media" page lists.
pub const ROOM_FILES_MAX: u32 = 100;

/// What the settings allow (see `Config`).
#[derive(Clone, Copy, Debug)]
pub struct FileLimits {
    pub max_bytes: u64,
    pub bytes_per_day: u64,
    pub open: u64,
    pub max_pixels: u64,
    /// How long an upload never sent is kept (ms).
    pub ttl_ms: i64,
    /// Images decoded at once.
    pub workers: usize,
    pub sweep_every: Duration,
}

/// Why an upload or a file request was refused; `status()` is its HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Unknown, someone else's, expired, or in a room the asker is not in:
    /// all look the same.
    #[error("There is no such file.")]
    NotFound,
    #[error("A file may have at most {max} (this one has {size}).")]
    TooLarge { size: String, max: String },
    #[error("An empty file cannot be sent.")]
    Empty,
    #[error("You may upload {0} a day, and this would go past it: try again later.")]
    OverQuota(String),
    #[error("You have {0} uploads unfinished: finish or cancel one first.")]
    TooManyOpen(u64),
    #[error("This upload is at byte {0}: continue from there.")]
    Offset(u64),
    #[error("This part goes past the end of the file ({0} bytes).")]
    PastEnd(u64),
    #[error("This type of file cannot be sent: images, PDF, documents, archives, audio, video and plain text can.")]
    Type,
    #[error("A picture is a JPEG, PNG, GIF or WebP image.")]
    NotPicture,
    #[error(transparent)]
    Picture(#[from] PictureError),
    #[error("The file has {0} bytes: that range is not in it.")]
    Unsatisfiable(u64),
    #[error("Files are unavailable right now; try again.")]
    Unavailable,
}

impl FileError {
    pub fn status(&self) -> u16 {
        match self {
            FileError::NotFound => 404,
            FileError::TooLarge { .. } => 413,
            FileError::Empty | FileError::PastEnd(_) => 400,
            FileError::OverQuota(_) | FileError::TooManyOpen(_) => 429,
            FileError::Offset(_) => 409,
            FileError::Type | FileError::NotPicture => 415,
            FileError::Picture(PictureError::TooLarge { .. }) => 413,
            FileError::Picture(_) => 422,
            FileError::Unsatisfiable(_) => 416,
            FileError::Unavailable => 503,
        }
    }
}

impl From<StoreError> for FileError {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "files: storage");
        FileError::Unavailable
    }
}

impl From<object_store::Error> for FileError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => FileError::NotFound,
            e => {
                tracing::warn!(error = %e, "files: object store");
                FileError::Unavailable
            }
        }
    }
}

/// What a file request gets: the file's description, and its bytes (the
/// requested range of them, `range` of `total`).
pub struct Served {
    pub file: Attachment,
    pub mime: String,
    pub body: futures::stream::BoxStream<'static, Result<Bytes, object_store::Error>>,
    pub range: Option<(u64, u64)>,
    pub total: u64,
}

#[derive(Clone)]
pub struct Files {
    store: DynStore,
    blobs: Blobs,
    limits: FileLimits,
    pictures: Arc<Semaphore>,
}

impl Files {
    /// The files of a node, and its sweeper for `server::run` to start.
    pub fn new(store: DynStore, blobs: Blobs, limits: FileLimits) -> (Self, NodeTask) {
        let files = Self {
            store,
            blobs,
            limits,
            pictures: Arc::new(Semaphore::new(limits.workers.max(1))),
        };
        let task = NodeTask::new("file sweeper", files.clone().sweeper());
        (files, task)
    }

    pub fn limits(&self) -> FileLimits {
        self.limits
    }

    /// Opens an upload of `length` bytes named `name` for `owner`, if the
    /// limits allow it.
    pub async fn open(&self, owner: UserId, name: &str, length: u64) -> Result<Uuid, FileError> {
        if length == 0 {
            return Err(FileError::Empty);
        }
        if length > self.limits.max_bytes {
            return Err(FileError::TooLarge {
                size: human_size(length),
                max: human_size(self.limits.max_bytes),
            });
        }
        let (open, today) = self.store.upload_usage(owner, now_ms() - 86_400_000).await?;
        if open >= self.limits.open {
            return Err(FileError::TooManyOpen(open));
        }
        if today.saturating_add(length) > self.limits.bytes_per_day {
            return Err(FileError::OverQuota(human_size(self.limits.bytes_per_day)));
        }
        let id = Uuid::new_v4();
        self.store
            .create_upload(id, owner, &clean_file_name(name), length, now_ms())
            .await?;
        tracing::debug!(%id, owner, length, "upload opened");
        Ok(id)
    }

    /// The owner's upload (how far it got); anyone else's is not found.
    pub async fn upload(&self, owner: UserId, id: Uuid) -> Result<Upload, FileError> {
        match self.store.upload(id).await? {
            Some(u) if u.owner == owner && u.state != UploadState::Erased => Ok(u),
            _ => Err(FileError::NotFound),
        }
    }

    /// Adds the bytes at `offset` to the owner's upload; the upload's
    /// offset after them. The part that completes it finishes it (checked
    /// whole, an image re-encoded): then the upload is ready to be sent, or
    /// refused and gone. An empty part at the end finishes an upload whose
    /// finishing was interrupted.
    pub async fn append(
        &self,
        owner: UserId,
        id: Uuid,
        offset: u64,
        bytes: Bytes,
    ) -> Result<Upload, FileError> {
        let mut upload = self.upload(owner, id).await?;
        let done = matches!(upload.state, UploadState::Ready | UploadState::Sent);
        if done && offset == upload.length && bytes.is_empty() {
            // Finished already (its answer was lost): the same answer again.
            return Ok(upload);
        }
        if upload.state != UploadState::Uploading || upload.received != offset {
            return Err(FileError::Offset(upload.received));
        }
        let end = offset + bytes.len() as u64;
        if end > upload.length {
            return Err(FileError::PastEnd(upload.length));
        }
        if !bytes.is_empty() {
            // The first part says what the file is: a wrong type stops here,
            // not after the whole file.
            let mime = match offset {
                0 => match kind::sniff(&bytes, end == upload.length) {
                    Some(t) => t.mime.to_string(),
                    None => {
                        self.drop_upload(owner, id).await;
                        return Err(FileError::Type);
                    }
                },
                _ => upload.file.mime.clone(),
            };
            let part = blobs::part(id, offset);
            self.blobs.put(&part, bytes.into()).await?;
            if !self
                .store
                .advance_upload(id, (offset, end), part.as_ref(), &mime)
                .await?
            {
                // Another request took this offset first: ours does not count.
                let _ = self.blobs.delete(&part).await;
                let now = self.upload(owner, id).await?;
                return Err(FileError::Offset(now.received));
            }
            // The row now says what the compare-and-set wrote.
            upload.received = end;
            upload.parts.push(part.to_string());
            upload.file.mime = mime;
        }
        if upload.received < upload.length {
            return Ok(upload);
        }
        match self.finish(&upload).await {
            Ok(()) => self.upload(owner, id).await,
            Err(e @ (FileError::Unavailable | FileError::NotFound)) => Err(e),
            Err(refused) => {
                self.drop_upload(owner, id).await;
                Err(refused)
            }
        }
    }

    /// Gives up the owner's upload if it was not sent; its bytes go.
    pub async fn cancel(&self, owner: UserId, id: Uuid) -> Result<(), FileError> {
        if !self.store.cancel_upload(id, owner).await? {
            return Err(FileError::NotFound);
        }
        self.forget(id).await;
        Ok(())
    }

    async fn drop_upload(&self, owner: UserId, id: Uuid) {
        if let Err(e) = self.cancel(owner, id).await {
            tracing::debug!(%id, error = %e, "a refused upload was gone already");
        }
    }

    /// Checks a complete upload whole and stores it as it will be served.
    async fn finish(&self, upload: &Upload) -> Result<(), FileError> {
        let id = upload.file.id;
        let mut parts = Vec::with_capacity(upload.parts.len());
        let mut head = Vec::new();
        for name in &upload.parts {
            let path = object_store::path::Path::from(name.as_str());
            if head.len() < kind::HEAD_BYTES {
                let bytes = self.blobs.get(&path).await?.bytes().await?;
                head.extend_from_slice(&bytes[..bytes.len().min(kind::HEAD_BYTES - head.len())]);
            }
            parts.push(path);
        }
        let whole = head.len() as u64 == upload.length;
        let found = kind::sniff(&head, whole).ok_or(FileError::Type)?;
        let file = match found.picture {
            Some(format) => self.finish_picture(upload, &parts, format).await?,
            None => self.finish_file(upload, &parts, found).await?,
        };
        if !self.store.finish_upload(&file).await? {
            let now = self.store.upload(id).await?;
            if now.is_some_and(|u| matches!(u.state, UploadState::Ready | UploadState::Sent)) {
                // Another request finished it first, storing the same bytes.
                return Ok(());
            }
            // Cancelled or expired meanwhile.
            self.forget(id).await;
            return Err(FileError::NotFound);
        }
        self.remove_parts(id).await;
        tracing::info!(%id, mime = file.mime, size = file.size, w = file.w, h = file.h, "upload ready");
        Ok(())
    }

    async fn finish_picture(
        &self,
        upload: &Upload,
        parts: &[object_store::path::Path],
        format: image::ImageFormat,
    ) -> Result<Attachment, FileError> {
        let mut bytes = Vec::with_capacity(upload.length as usize);
        for part in parts {
            bytes.extend_from_slice(&self.blobs.get(part).await?.bytes().await?);
        }
        let max_pixels = self.limits.max_pixels;
        let picture = {
            let _turn = self
                .pictures
                .acquire()
                .await
                .map_err(|_| FileError::Unavailable)?;
            tokio::task::spawn_blocking(move || pictures::reencode(&bytes, format, max_pixels))
                .await
                .map_err(|_| FileError::Unavailable)??
        };
        let id = upload.file.id;
        let size = picture.bytes.len() as u64;
        self.blobs.put(&blobs::thumb(id), picture.thumb.into()).await?;
        self.blobs.put(&blobs::file(id), picture.bytes.into()).await?;
        Ok(Attachment {
            id,
            name: named_for(&upload.file.name, picture.mime),
            size,
            mime: picture.mime.into(),
            w: picture.w,
            h: picture.h,
            color: Some(picture.color),
        })
    }

    /// Copies the parts into the file as served, checking text on the way.
    async fn finish_file(
        &self,
        upload: &Upload,
        parts: &[object_store::path::Path],
        found: FileType,
    ) -> Result<Attachment, FileError> {
        let id = upload.file.id;
        let mut text = (found.mime == kind::TEXT).then(Utf8::default);
        let mut out = WriteMultipart::new(self.blobs.put_multipart(&blobs::file(id)).await?);
        for part in parts {
            let bytes = self.blobs.get(part).await?.bytes().await?;
            if let Some(text) = &mut text {
                if !text.feed(&bytes) {
                    out.abort().await?;
                    return Err(FileError::Type);
                }
            }
            out.write(&bytes);
        }
        if text.is_some_and(|t| !t.done()) {
            out.abort().await?;
            return Err(FileError::Type);
        }
        out.finish().await?;
        Ok(Attachment {
            id,
            name: upload.file.name.clone(),
            size: upload.length,
            mime: found.mime.into(),
            ..Attachment::default()
        })
    }

    /// File `id` (or its thumbnail) for `user`, if a room of theirs holds
    /// it; `range` asks for part of it (honoured for the file, not a thumbnail).
    pub async fn get(
        &self,
        user: UserId,
        id: Uuid,
        thumb: bool,
        range: Option<GetRange>,
    ) -> Result<Served, FileError> {
        let file = self
            .store
            .shared_file(id, user)
            .await?
            .ok_or(FileError::NotFound)?;
        if thumb {
            if !file.is_image() {
                return Err(FileError::NotFound);
            }
            let bytes = self.blobs.get(&blobs::thumb(id)).await?.bytes().await?;
            let mime = infer::get(&bytes)
                .map_or("image/jpeg", |t| t.mime_type())
                .to_string();
            let total = bytes.len() as u64;
            return Ok(Served {
                file,
                mime,
                body: futures::stream::once(async move { Ok(bytes) }).boxed(),
                range: None,
                total,
            });
        }
        let within = match &range {
            None => true,
            Some(GetRange::Bounded(r)) => r.start < file.size,
            Some(GetRange::Offset(at)) => *at < file.size,
            Some(GetRange::Suffix(n)) => *n > 0 && file.size > 0,
        };
        if !within {
            return Err(FileError::Unsatisfiable(file.size));
        }
        let options = GetOptions {
            range: range.clone(),
            ..GetOptions::default()
        };
        let got = self.blobs.get_opts(&blobs::file(id), options).await?;
        let total = got.meta.size;
        let range = range.map(|_| (got.range.start, got.range.end));
        Ok(Served {
            mime: file.mime.clone(),
            file,
            body: got.into_stream(),
            range,
            total,
        })
    }

    /// A page of a room's files for its "files and media" list (see
    /// `Uploads::room_files`; none unless `user` is a member).
    pub async fn room_files(
        &self,
        room: RoomId,
        user: UserId,
        before: Option<Seq>,
    ) -> Result<FilePage, StoreError> {
        let mut files = self
            .store
            .room_files(room, user, before, ROOM_FILES_MAX + 1)
            .await?;
        let more = files.len() > ROOM_FILES_MAX as usize;
        files.truncate(ROOM_FILES_MAX as usize);
        // A page ends with a whole message: the next starts before it.
        if more {
            if let Some(last) = files.last().map(|f| f.seq) {
                if files.iter().any(|f| f.seq != last) {
                    files.retain(|f| f.seq != last);
                }
            }
        }
        Ok(FilePage { files, more })
    }

    /// Makes a person's or a group's picture of an image (`pictures::avatar`,
    /// on the blocking pool like any image) and keeps it: its id.
    pub async fn put_avatar(&self, bytes: Bytes) -> Result<Uuid, FileError> {
        if bytes.len() > AVATAR_BYTES_MAX {
            return Err(FileError::TooLarge {
                size: human_size(bytes.len() as u64),
                max: human_size(AVATAR_BYTES_MAX as u64),
            });
        }
        let head = &bytes[..bytes.len().min(kind::HEAD_BYTES)];
        let format = kind::sniff(head, head.len() == bytes.len())
            .and_then(|found| found.picture)
            .ok_or(FileError::NotPicture)?;
        let max_pixels = self.limits.max_pixels;
        let (picture, _) = {
            let _turn = self
                .pictures
                .acquire()
                .await
                .map_err(|_| FileError::Unavailable)?;
            tokio::task::spawn_blocking(move || pictures::avatar(&bytes, format, max_pixels))
                .await
                .map_err(|_| FileError::Unavailable)??
        };
        let id = Uuid::new_v4();
        self.blobs.put(&blobs::avatar(id), picture.into()).await?;
        Ok(id)
    }

    /// Picture `id`: its bytes and their type.
    pub async fn avatar(&self, id: Uuid) -> Result<(Bytes, &'static str), FileError> {
        let bytes = self.blobs.get(&blobs::avatar(id)).await?.bytes().await?;
        let mime = match infer::get(&bytes).map(|t| t.mime_type()) {
            Some("image/png") => "image/png",
            _ => "image/jpeg",
        };
        Ok((bytes, mime))
    }

    /// After a change of picture from `old` to `new` was `stored` (or not):
    /// the picture no longer named anywhere goes (`old` if it was stored,
    /// else `new`).
    pub async fn settle_avatar(&self, stored: bool, old: Option<&str>, new: Option<&str>) {
        let unused = if stored {
            old.filter(|&o| Some(o) != new)
        } else {
            new
        };
        if let Some(id) = unused {
            self.drop_avatar(id).await;
        }
    }

    /// Removes picture `id` (one that was replaced); a failure is logged
    /// and leaves its bytes behind, unreachable but harmless.
    pub async fn drop_avatar(&self, id: &str) {
        let Ok(id) = Uuid::parse_str(id) else {
            return;
        };
        match self.blobs.delete(&blobs::avatar(id)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => tracing::warn!(%id, error = %e, "cannot remove a replaced picture"),
        }
    }

    /// Removes an upload's bytes, then its row (a failure leaves the row
    /// for the next sweep).
    async fn forget(&self, id: Uuid) {
        self.remove_parts(id).await;
        for path in [blobs::file(id), blobs::thumb(id)] {
            match self.blobs.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => {
                    tracing::warn!(%id, error = %e, "cannot remove a file's bytes; the next sweep tries again");
                    return;
                }
            }
        }
        if let Err(e) = self.store.forget_upload(id).await {
            tracing::warn!(%id, error = %e, "cannot forget an upload; the next sweep tries again");
        }
    }

    async fn remove_parts(&self, id: Uuid) {
        let listed: Vec<_> = self.blobs.list(Some(&blobs::parts(id))).collect().await;
        for meta in listed.into_iter().flatten() {
            if let Err(e) = self.blobs.delete(&meta.location).await {
                tracing::debug!(%id, error = %e, "cannot remove an upload's part");
            }
        }
    }

    /// Whether any bytes of upload `id` are kept (its parts, file or
    /// thumbnail): for checks.
    pub async fn kept(&self, id: Uuid) -> bool {
        let parts = self.blobs.list(Some(&blobs::parts(id))).next().await.is_some();
        let file = self.blobs.head(&blobs::file(id)).await.is_ok();
        parts || file || self.blobs.head(&blobs::thumb(id)).await.is_ok()
    }

    /// How many uploads have bytes in the store: for checks.
    pub async fn count_kept(&self) -> usize {
        let listed: Vec<_> = self.blobs.list(None).collect().await;
        let ids: std::collections::HashSet<Uuid> = listed
            .into_iter()
            .flatten()
            .filter_map(|m| blobs::owner(&m.location))
            .collect();
        ids.len()
    }

    /// Removes what is due: the bytes of deleted messages' files, and
    /// uploads never sent within the time allowed.
    pub async fn sweep(&self) -> Result<usize, FileError> {
        let doomed = self
            .store
            .doomed_uploads(now_ms() - self.limits.ttl_ms, 200)
            .await?;
        for id in &doomed {
            self.forget(*id).await;
        }
        Ok(doomed.len())
    }

    async fn sweeper(self) {
        let mut every = tokio::time::interval(self.limits.sweep_every);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match self.sweep().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "files swept"),
                Err(e) => tracing::warn!(error = %e, "file sweep failed; next time"),
            }
        }
    }
}

/// A re-encoded image's name with the extension of what it became
/// ("photo.webp" sent as JPEG is "photo.jpg").
fn named_for(name: &str, mime: &str) -> String {
    let ext = match mime {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        _ => return name.to_string(),
    };
    let stem = match name.rsplit_once('.') {
        Some((_, old))
            if old.eq_ignore_ascii_case(ext) || (ext == "jpg" && old.eq_ignore_ascii_case("jpeg")) =>
        {
            return name.to_string()
        }
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => name,
    };
    format!("{stem}.{ext}")
}

/// UTF-8 checked part by part: a character may straddle two parts.
#[derive(Default)]
struct Utf8 {
    carry: Vec<u8>,
}

impl Utf8 {
    /// False as soon as the bytes cannot be text (a NUL, a bad sequence).
    fn feed(&mut self, bytes: &[u8]) -> bool {
        if bytes.contains(&0) {
            return false;
        }
        let mut joined = std::mem::take(&mut self.carry);
        joined.extend_from_slice(bytes);
        match std::str::from_utf8(&joined) {
            Ok(_) => true,
            Err(e) if e.error_len().is_none() => {
                self.carry = joined[e.valid_up_to()..].to_vec();
                true
            }
            Err(_) => false,
        }
    }

    /// Whether the text ended on a whole character.
    fn done(&self) -> bool {
        self.carry.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reencoded_image_is_named_for_what_it_became() {
        assert_eq!(named_for("photo.webp", "image/jpeg"), "photo.jpg");
        assert_eq!(named_for("photo.JPEG", "image/jpeg"), "photo.JPEG");
        assert_eq!(named_for("shot.png", "image/png"), "shot.png");
        assert_eq!(named_for("noext", "image/png"), "noext.png");
        assert_eq!(named_for("report.pdf", "application/pdf"), "report.pdf");
    }

    #[test]
    fn text_is_checked_across_parts() {
        let bytes = "회의는 내일".as_bytes();
        let mut t = Utf8::default();
        assert!(t.feed(&bytes[..4]) && t.feed(&bytes[4..]) && t.done());
        let mut t = Utf8::default();
        assert!(t.feed(&bytes[..4]) && !t.done(), "cut in a character at the end");
        assert!(!Utf8::default().feed(b"a\0b"));
        assert!(!Utf8::default().feed(b"\xc3\x28"));
    }
}
