//! The outbox: messages and changes (edits, deletes, reactions) this device
//! made that the server has not yet acknowledged, each with when it is
//! sent again (backing off, same `cid`).
//! It survives a reload (the caller persists it). Which frames go out when
//! is decided in `sync`; this only keeps the list and the retry clock.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Config, Tick};
use crate::model::{Attachment, Kind, RoomId, UserId};
use crate::protocol::{ClientFrame, Message, Seq};

/// A message (or a change) this client sent and the server has not
/// acknowledged yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    pub cid: Uuid,
    pub room: RoomId,
    /// The body; a reaction's emoji; empty for a delete.
    pub body: String,
    #[serde(default)]
    pub kind: Kind,
    /// The message a change is to.
    #[serde(default)]
    pub target: Option<Seq>,
    /// The message a new message answers.
    #[serde(default)]
    pub reply_to: Option<Seq>,
    /// The members a message or an edit mentions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<UserId>,
    /// The uploaded files a new message carries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<Attachment>,
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
            kind: Kind::Message,
            target: None,
            reply_to: None,
            mentions: Vec::new(),
            files: Vec::new(),
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
        let (room, cid, body) = (self.room, self.cid, self.body.clone());
        match (self.kind, self.target) {
            (Kind::Edit, Some(target)) => ClientFrame::Edit {
                room,
                cid,
                target,
                body,
                mentions: self.mentions.clone(),
            },
            (Kind::Delete, Some(target)) => ClientFrame::Delete { room, cid, target },
            (Kind::React, Some(target)) => ClientFrame::React {
                room,
                cid,
                target,
                emoji: body,
            },
            (Kind::Unreact, Some(target)) => ClientFrame::Unreact {
                room,
                cid,
                target,
                emoji: body,
            },
            _ => ClientFrame::Send {
                room,
                cid,
                body,
                reply_to: self.reply_to,
                mentions: self.mentions.clone(),
                files: self.files.iter().map(|f| f.id).collect(),
            },
        }
    }

    /// The row it became, as the server's `ack` describes it.
    pub(super) fn stored(self, sender: crate::model::UserId, from: String, ack: Ack) -> Message {
        Message {
            room: self.room,
            seq: ack.seq,
            id: ack.id,
            sender,
            from,
            ts: ack.ts,
            cid: self.cid,
            fmt: ack.fmt,
            kind: self.kind,
            target: self.target.filter(|_| !self.kind.is_message()),
            n: ack.n,
            version: ack.seq,
            reply_to: self.reply_to,
            mentions: self.mentions,
            body: self.body,
            files: if ack.files.is_empty() {
                self.files
            } else {
                ack.files
            },
            ..Message::default()
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

/// What an `ack` says of a stored row.
#[derive(Clone, Debug)]
pub struct Ack {
    pub seq: Seq,
    pub id: Uuid,
    pub ts: i64,
    pub fmt: Option<Vec<crate::format::Block>>,
    pub n: i64,
    pub files: Vec<Attachment>,
}

/// Delay before retransmit number `n + 1`: first, 2×first, 4×first … ≤ max.
pub(super) fn backoff(n: u32, config: &Config) -> i64 {
    config
        .retry_first_ms
        .saturating_mul(1i64 << n.min(20))
        .min(config.retry_max_ms)
}
