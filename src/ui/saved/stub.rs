//! The server build's twin of `idb.rs`: the server keeps nothing for a
//! device, and rendering a page never reads what a browser saved.

use super::{Changes, Keep, Kept};
use crate::model::{Profile, User, UserId};

pub fn remember_me(_user: &User, _avatar: Option<String>) {}

pub fn me() -> Option<Profile> {
    None
}

pub async fn load(_user: UserId) -> Kept {
    Kept::default()
}

pub async fn write(_user: UserId, _changes: Changes) -> bool {
    true
}

pub async fn erase(_user: UserId) {}

pub fn persist() {}

pub fn keep() -> Keep {
    Keep::default()
}
