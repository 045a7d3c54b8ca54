//! The server build's stand-in for `seen.rs`: nobody sees a page that is
//! still being rendered.

use super::live::Live;
use crate::model::RoomId;

pub fn start(_: RoomId, _: Live) {}

pub fn observe(_: RoomId) {}

pub fn stop(_: RoomId) {}
