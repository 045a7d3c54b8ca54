//! One connection's session: what it keeps between frames (who it is, its
//! send and typing limits) and what each text frame comes to — a reply, a
//! send or a change handed to `delivery` whose ack waits for the commit, or
//! nothing.
//! Reading and writing the socket is `gateway`'s; answering the other
//! requests is `requests`'.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::Utf8Bytes;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use uuid::Uuid;

use super::requests::Caller;
use super::typing::Typing;
use crate::model::Kind;
use crate::model::User;
use crate::protocol::{ClientFrame, ErrorCode, ServerFrame};
use crate::server::delivery::{Change, Pending, SendError};
use crate::server::hub::Conn;
use crate::server::limits::Bucket;
use crate::server::state::AppState;

/// What handling a frame came to.
// A step is made and taken apart once per frame: boxing the reply would
// cost an allocation each time to save a move.
#[allow(clippy::large_enum_variant)]
pub(super) enum Step {
    Reply(ServerFrame),
    Quiet,
    /// A send handed to delivery (in the order read), its commit awaited apart.
    Sent(Sent),
}

impl Step {
    /// What goes to the client now, if anything; a send joins the acks
    /// waiting for their commits.
    pub(super) fn answer<'a>(
        self,
        state: &'a AppState,
        acks: &FuturesUnordered<BoxFuture<'a, ServerFrame>>,
    ) -> Option<ServerFrame> {
        match self {
            Step::Reply(frame) => Some(frame),
            Step::Quiet => None,
            Step::Sent(sent) => {
                acks.push(Box::pin(ack(state, sent)));
                None
            }
        }
    }
}

pub(super) struct Sent {
    pending: Result<Pending, SendError>,
    cid: Uuid,
    started: Instant,
}

/// The acknowledgement of a send, once committed (or why it was not).
async fn ack(state: &AppState, sent: Sent) -> ServerFrame {
    let result = match sent.pending {
        Ok(pending) => pending.stored().await,
        Err(e) => Err(e),
    };
    let m = &state.metrics;
    m.ack_latency.observe(sent.started.elapsed());
    let counter = if result.is_ok() {
        &m.sends_acked
    } else {
        &m.sends_refused
    };
    counter.fetch_add(1, Ordering::Relaxed);
    match result {
        Ok(m) => ServerFrame::Ack {
            cid: sent.cid,
            room: m.room,
            seq: m.seq,
            id: m.id,
            ts: m.ts,
            fmt: m.fmt,
            n: m.n,
            files: m.files,
        },
        Err(e) => ServerFrame::error(e.code(), e.to_string(), Some(sent.cid)),
    }
}

/// What a connection keeps between frames: who it is, its rate limits.
pub(super) struct Session<'a> {
    caller: Caller<'a>,
    typing: Typing,
    sends: Bucket,
}

impl<'a> Session<'a> {
    pub(super) fn new(state: &'a AppState, user: &'a User, conn: &'a Arc<Conn>) -> Self {
        let sends = Bucket::new(state.config.send_rate.into(), state.config.send_burst.into());
        Self {
            caller: Caller { state, user, conn },
            typing: Typing::default(),
            sends,
        }
    }

    /// Handles one text frame; gives the session back with the outcome.
    pub(super) async fn handle(mut self, text: Utf8Bytes) -> (Self, Step) {
        let step = self.step(&text).await;
        (self, step)
    }

    async fn step(&mut self, text: &str) -> Step {
        let state = self.caller.state;
        let max = state.config.max_frame_bytes;
        if text.len() > max {
            return Step::Reply(ServerFrame::error(
                ErrorCode::TooLarge,
                format!("A frame has at most {max} bytes (this one has {}).", text.len()),
                None,
            ));
        }
        let frame = match serde_json::from_str::<ClientFrame>(text) {
            Ok(frame) => frame,
            Err(e) => {
                return Step::Reply(ServerFrame::error(
                    ErrorCode::BadFrame,
                    format!("Not a frame of this protocol: {e}."),
                    None,
                ))
            }
        };
        let change = match change(frame) {
            Ok(change) => change,
            Err(ClientFrame::Typing { room }) => {
                return match self.typing.relay(&self.caller, room).await {
                    Some(frame) => Step::Reply(frame),
                    None => Step::Quiet,
                }
            }
            Err(frame) => return Step::Reply(self.caller.answer(frame).await),
        };
        if !self.sends.take(Instant::now()) {
            state.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
            return Step::Reply(ServerFrame::error(
                ErrorCode::RateLimited,
                format!(
                    "Too many messages: at most {} a second. This one was not stored; send it again.",
                    state.config.send_rate
                ),
                Some(change.cid),
            ));
        }
        let (started, cid) = (Instant::now(), change.cid);
        let pending = state.delivery.enqueue(self.caller.user, change).await;
        Step::Sent(Sent {
            pending,
            cid,
            started,
        })
    }
}

/// The row of the room stream a frame asks for (a message or a change to
/// one), or the frame back if it asks for something else.
fn change(frame: ClientFrame) -> Result<Change, ClientFrame> {
    Ok(match frame {
        ClientFrame::Send {
            room,
            cid,
            body,
            reply_to,
            mentions,
            files,
        } => Change {
            reply_to,
            mentions,
            files,
            ..Change::message(room, cid, body)
        },
        ClientFrame::Edit {
            room,
            cid,
            target,
            body,
            mentions,
        } => Change {
            mentions,
            ..Change::to(room, cid, Kind::Edit, target, body)
        },
        ClientFrame::Delete { room, cid, target } => {
            Change::to(room, cid, Kind::Delete, target, String::new())
        }
        ClientFrame::React {
            room,
            cid,
            target,
            emoji,
        } => Change::to(room, cid, Kind::React, target, emoji),
        ClientFrame::Unreact {
            room,
            cid,
            target,
            emoji,
        } => Change::to(room, cid, Kind::Unreact, target, emoji),
        other => return Err(other),
    })
}
