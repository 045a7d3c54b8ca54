//! The server build's twin of `tabs.rs`: a page rendered on the server has no tabs.

use super::live::Live;

pub fn start(_live: Live) {}
