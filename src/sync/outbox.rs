//! The outbox: messages this device wrote that the server has not yet
//! acknowledged, each with when it is sent again (backing off, same `cid`).
//! It survives a reload (the caller persists it). Which frames go out when
//! is decided in `sync`; this only keeps the list and the retry clock.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Config, Tick};
use crate::model::RoomId;
use crate::protocol::ClientFrame;

/// A message this client sent and the server has not acknowledged yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    pub cid: Uuid,
    pub room: RoomId,
    pub body: String,
    /// When it was written (ms).
    pub created: i64,
    /// Set when the server refused it for good (not a member, too large…).
    #[serde(default)]
    pub failed: Option<String>,
    #[serde(skip)]
    attempts: u32,
    #[serde(skip)]
    next_try: i64,
}

impl Outgoing {
    pub(super) fn new(room: RoomId, cid: Uuid, body: String, now: i64) -> Self {
        Self {
            cid,
            room,
            body,
            created: now,
            failed: None,
            attempts: 0,
            next_try: 0,
        }
    }

    /// How it stands: waiting for its ack (🕓) or refused for good.
    pub fn tick(&self) -> Tick {
        self.failed.clone().map_or(Tick::Pending, Tick::Failed)
    }

    /// Sends it (again) now: the frame, and the next try backs off.
    pub(super) fn attempt(&mut self, now: i64, config: &Config) -> ClientFrame {
        self.attempts += 1;
        self.next_try = now + backoff(self.attempts - 1, config);
        ClientFrame::Send {
            room: self.room,
            cid: self.cid,
            body: self.body.clone(),
        }
    }

    /// The server could not take it now: the next try waits as the last did.
    pub(super) fn postpone(&mut self, now: i64, config: &Config) {
        self.next_try = now + backoff(self.attempts.saturating_sub(1), config);
    }

    /// The person asked to send a failed message again.
    pub(super) fn revive(&mut self) {
        self.failed = None;
        self.attempts = 0;
    }

    /// Due for a retransmit at `now`.
    pub(super) fn is_due(&self, now: i64) -> bool {
        self.failed.is_none() && self.next_try <= now
    }
}

/// Delay before retransmit number `n + 1`: first, 2×first, 4×first … ≤ max.
pub(super) fn backoff(n: u32, config: &Config) -> i64 {
    config
        .retry_first_ms
        .saturating_mul(1i64 << n.min(20))
        .min(config.retry_max_ms)
}
