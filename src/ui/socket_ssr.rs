//! The server build's stand-in for `socket.rs`: the same functions, doing
//! nothing (a page rendered on the server opens no socket).

use uuid::Uuid;

use crate::model::UserId;
use crate::protocol::ClientFrame;
use crate::sync::Outgoing;

pub fn send(_: &[ClientFrame]) {}

pub fn later(_: u64, _: impl FnOnce() + 'static) {}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

pub fn tz_offset_min() -> i64 {
    0
}

pub fn new_cid() -> Uuid {
    Uuid::nil()
}

pub fn save_outbox(_: UserId, _: &[Outgoing]) {}

pub fn load_outbox(_: UserId) -> Vec<Outgoing> {
    Vec::new()
}

pub fn erase_outbox(_: UserId) {}

pub fn heard(_: Uuid, _: bool) {}
