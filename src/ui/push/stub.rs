//! The server build's stand-in for `web.rs`: the same functions, doing
//! nothing (a page rendered on the server has no service worker).

use super::Status;

pub async fn status() -> Status {
    Status::Unknown
}

pub async fn enable() -> Result<Status, String> {
    Ok(Status::Unknown)
}

pub async fn forget() {}

pub fn set_badge(_: i64) {}
