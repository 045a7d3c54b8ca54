//! Why a socket request was refused, as a type: each variant is one
//! `ErrorCode` with its words for the person. Requests return it; the
//! connection turns it into an `error` frame (`frame`). Nothing here
//! decides whether a request is refused.

use crate::model::RoomId;
use crate::protocol::{ErrorCode, ServerFrame};
use crate::server::{receipts::ReportError, rooms::Denied, storage::StoreError};

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// A frame that breaks a rule of the protocol; the words say which.
    #[error("{0}")]
    BadFrame(String),
    #[error("You are not a member of room {0}.")]
    NotMember(RoomId),
    #[error("There is no room {0}.")]
    UnknownRoom(RoomId),
    /// The message a request names is not in the room.
    #[error("{0}")]
    UnknownMessage(String),
    /// Not the caller's to see or do; the words say why.
    #[error("{0}")]
    Forbidden(String),
    /// Storage (or the presence store) did not answer; nothing changed.
    #[error("Storage is unavailable right now; try again shortly.")]
    Unavailable,
}

impl FrameError {
    pub fn code(&self) -> ErrorCode {
        match self {
            FrameError::BadFrame(_) => ErrorCode::BadFrame,
            FrameError::NotMember(_) => ErrorCode::NotMember,
            FrameError::UnknownRoom(_) => ErrorCode::UnknownRoom,
            FrameError::UnknownMessage(_) => ErrorCode::UnknownMessage,
            FrameError::Forbidden(_) => ErrorCode::Forbidden,
            FrameError::Unavailable => ErrorCode::Unavailable,
        }
    }

    /// The `error` frame that tells the client.
    pub fn frame(&self) -> ServerFrame {
        ServerFrame::error(self.code(), self.to_string(), None)
    }
}

impl From<StoreError> for FrameError {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "storage unavailable for a socket request");
        FrameError::Unavailable
    }
}

impl From<Denied> for FrameError {
    fn from(d: Denied) -> Self {
        match d {
            Denied::NoSuchRoom(room) => FrameError::UnknownRoom(room),
            Denied::NotMember(room) => FrameError::NotMember(room),
            Denied::Store(e) => e.into(),
        }
    }
}

impl From<ReportError> for FrameError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::Beyond { room, seq, head } => FrameError::BadFrame(format!(
                "Room {room} has no message {seq} (its last is {head}); marks stay where they are."
            )),
            ReportError::NotMember(room) => FrameError::NotMember(room),
            ReportError::Store(e) => e.into(),
        }
    }
}
