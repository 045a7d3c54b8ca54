//! What this device keeps of a person between visits, so the app opens
//! offline with what they saw and paints before the socket answers: every
//! room's summary, and the newest rows and members' marks of the rooms
//! opened most recently (`sync::SavedRoom`), oldest evicted first. Logging
//! out erases it. A write the device refuses (it is full) loses only the
//! offline copy; the app says so and keeps working online. The browser's
//! part (IndexedDB) is `idb.rs`; the server build compiles `stub.rs`, which
//! keeps nothing.

#[cfg(feature = "hydrate")]
#[path = "idb.rs"]
mod imp;
#[cfg(not(feature = "hydrate"))]
#[path = "stub.rs"]
mod imp;

pub use imp::{erase, keep, load, me, persist, remember_me, write};

use crate::model::{RoomId, RoomSummary};
use crate::sync::SavedRoom;

/// What a deployment lets browsers keep (`CHAT_OFFLINE_ROOMS`,
/// `CHAT_OFFLINE_ROWS`): the page names it in a `<meta>` of its head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keep {
    /// How many rooms keep their rows (the most recently opened).
    pub rooms: usize,
    /// How many rows each of them keeps (its newest).
    pub rows: usize,
}

impl Keep {
    pub const META: &'static str = "chat-keep";

    /// Read from the `<meta>`'s content ("rooms rows"); None if unreadable.
    pub fn parse(text: &str) -> Option<Self> {
        let (rooms, rows) = text.trim().split_once(' ')?;
        Some(Self {
            rooms: rooms.parse().ok()?,
            rows: rows.parse().ok()?,
        })
    }
}

impl Default for Keep {
    fn default() -> Self {
        Self { rooms: 20, rows: 200 }
    }
}

impl std::fmt::Display for Keep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.rooms, self.rows)
    }
}

/// What a device kept of a person.
#[derive(Default)]
pub struct Kept {
    pub rooms: Vec<SavedRoom>,
    /// Rooms by when they were last opened, newest first.
    pub recent: Vec<RoomId>,
}

/// What one save writes: summaries, timelines, the order they were opened
/// in, and the timelines that fell out of it.
#[derive(Default)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))] // the server writes nothing
pub struct Changes {
    pub summaries: Vec<RoomSummary>,
    pub timelines: Vec<SavedRoom>,
    pub recent: Option<Vec<RoomId>>,
    pub evicted: Vec<RoomId>,
}

#[cfg(test)]
mod tests {
    use super::Keep;

    #[test]
    fn what_to_keep_reads_back_as_written() {
        let keep = Keep { rooms: 3, rows: 50 };
        assert_eq!(Keep::parse(&keep.to_string()), Some(keep));
        assert_eq!(Keep::parse("20"), None);
        assert_eq!(Keep::parse("a b"), None);
    }
}
