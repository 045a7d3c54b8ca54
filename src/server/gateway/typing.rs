//! Typing indicators on the server: relayed to the room's online members
//! through the bus, never stored, and rate-limited per connection so a
//! flood costs the sender, not the room; and per room, a few people per
//! window (`limits::Typists`), so a big room's typing costs its members a
//! bounded number of frames however many type.

use std::collections::HashMap;

use super::requests::Caller;
use crate::model::RoomId;
use crate::protocol::{ErrorCode, ServerFrame};
use crate::server::{bus::Event, clock::now_ms, limits::Bucket};

/// How often one connection may say it is typing in one room: the client
/// sends every 3 s; anything much faster is a flood and is dropped.
const EVERY_MS: i64 = 1_500;
/// The flooding client is told so at most this often.
const WARN_EVERY_MS: i64 = 10_000;

/// Typing frames one connection may send over all its rooms: a burst, then
/// one a second.
const CONN_BURST: f64 = 5.0;
const CONN_PER_SEC: f64 = 1.0;

/// Per connection: when each room last relayed typing, its bucket over all
/// rooms, and when the client was last told it floods.
pub struct Typing {
    last: HashMap<RoomId, i64>,
    bucket: Bucket,
    warned: i64,
}

impl Default for Typing {
    fn default() -> Self {
        Self {
            last: HashMap::new(),
            bucket: Bucket::new(CONN_PER_SEC, CONN_BURST),
            warned: 0,
        }
    }
}

impl Typing {
    /// Relays "typing" unless it comes too fast; the answer, if any, is for the sender.
    pub async fn relay(&mut self, caller: &Caller<'_>, room: RoomId) -> Option<ServerFrame> {
        let (state, user) = (caller.state, caller.user);
        let now = now_ms();
        let too_soon = self.last.get(&room).is_some_and(|&t| now - t < EVERY_MS);
        if too_soon || !self.bucket.take(std::time::Instant::now()) {
            state
                .metrics
                .rate_limited
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if now - self.warned < WARN_EVERY_MS {
                return None;
            }
            self.warned = now;
            return Some(ServerFrame::error(
                ErrorCode::RateLimited,
                "typing is relayed at most once every 3 s per room; the extra ones were dropped.",
                None,
            ));
        }
        if let Err(e) = caller.member(room).await {
            return Some(e.frame());
        }
        if self.last.len() > 64 {
            self.last.retain(|_, t| now - *t < EVERY_MS);
        }
        self.last.insert(room, now);
        if !state.typists.admit(room, user.id, std::time::Instant::now()) {
            return None;
        }
        state
            .bus
            .publish(Event::Typing {
                room,
                user: user.id,
                name: user.display_name.clone(),
            })
            .await;
        None
    }
}
