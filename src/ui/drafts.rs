//! Browser only: what a person typed in each room and did not send yet,
//! kept in localStorage per person and room, so it survives switching rooms
//! and reloading. Logging out forgets them. The server build compiles
//! `drafts_ssr.rs` instead.

use crate::model::{RoomId, UserId};

const PREFIX: &str = "chat.draft.";

fn key(user: UserId, room: RoomId) -> String {
    format!("{PREFIX}{user}.{room}")
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

pub fn load(user: UserId, room: RoomId) -> String {
    storage()
        .and_then(|s| s.get_item(&key(user, room)).ok().flatten())
        .unwrap_or_default()
}

/// Keeps `text` as the room's draft (an empty one is removed).
pub fn save(user: UserId, room: RoomId, text: &str) {
    let Some(s) = storage() else { return };
    let _ = if text.is_empty() {
        s.remove_item(&key(user, room))
    } else {
        s.set_item(&key(user, room), text)
    };
}

/// Removes every draft of `user` (at log-out).
pub fn forget(user: UserId) {
    if let Some(s) = storage() {
        super::socket::remove_starting(&s, &format!("{PREFIX}{user}."));
    }
}
