//! The server build's stand-in for `connection.rs`: a page rendered on the
//! server opens no socket.

use super::live::Live;

pub fn start(_: Live) {}
