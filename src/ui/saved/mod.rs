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

pub use imp::{erase, load, me, persist, remember_me, write};

use crate::model::{RoomId, RoomSummary};
use crate::sync::SavedRoom;

/// How many rooms keep their rows (the most recently opened).
pub const KEEP_ROOMS: usize = 20;
/// How many rows each of them keeps (its newest).
pub const KEEP_ROWS: usize = 200;

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
