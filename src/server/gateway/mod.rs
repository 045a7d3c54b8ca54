//! The WebSocket gateway: `GET /ws`, authenticated by the session cookie
//! with the `Origin` checked, then one connection = one task (frames in,
//! live frames, answers and heartbeats out, written in batches). The
//! socket logic is generic over `Stream`/`Sink`, so it does not care what
//! carries it. Here: the upgrade, the connection loop and write batching.
//! The answers to the other requests are in
//! `requests`, a connection's session (limits, what a frame comes to) in
//! `session`, typing in `typing`, refusals typed in `error`. Messages are
//! written by `delivery` only; this module just asks.

mod error;
mod requests;
mod session;
mod typing;

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::{
    extract::{
        ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket, WebSocketUpgrade},
        State,
    },
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, Sink, SinkExt, Stream, StreamExt};

use super::hub::{encode, Registration};
use super::{auth, clock::now_ms, state::AppState};
use crate::model::User;
use crate::protocol::{ErrorCode, ServerFrame};
use session::{Session, Step};

/// Sends a connection may have waiting for their commit at once (then it
/// reads no more frames until one is acknowledged).
const SENDS_IN_FLIGHT: usize = 64;
/// How long a closing connection waits for the client's close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// Frames already queued for a connection go out in one write (one system
/// call), up to this many frames or bytes.
const WRITE_BATCH_FRAMES: usize = 64;
const WRITE_BATCH_BYTES: usize = 16 * 1024;
/// A connection looks its session up again every this many heartbeats
/// (5 minutes at the default 15 s), in case the event that ended it was lost.
const SESSION_RECHECK_PINGS: u64 = 20;
/// Bytes read from the socket at a time.
const READ_BUFFER: usize = 1024;

pub async fn upgrade(ws: WebSocketUpgrade, State(state): State<AppState>, headers: HeaderMap) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    if !origin.is_some_and(|o| state.origins.iter().any(|a| a == o)) {
        tracing::warn!(?origin, "WebSocket from a foreign origin refused");
        return (
            StatusCode::FORBIDDEN,
            "This origin may not open the socket (see CHAT_ALLOWED_ORIGINS).",
        )
            .into_response();
    }
    let Some(token) = auth::token_from_headers(&headers, state.config.secure_cookie) else {
        return (StatusCode::UNAUTHORIZED, "Please log in.").into_response();
    };
    let hash = auth::token_hash(&token);
    let user = match state.store.session_user(&hash, now_ms()).await {
        Ok(Some(user)) => user,
        Ok(None) => return (StatusCode::UNAUTHORIZED, "Please log in.").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot check a session");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "The service is unavailable right now.",
            )
                .into_response();
        }
    };
    // The transport refuses only absurd frames; larger-than-allowed ones get
    // a `too_large` error frame and the connection goes on.
    let transport_max = hard_limit(&state);
    ws.max_message_size(transport_max)
        .max_frame_size(transport_max)
        // Client frames are small: a small read buffer (grown for a large
        // frame) keeps an idle connection lean.
        .read_buffer_size(READ_BUFFER)
        // Frames queue here until a flush (see `serve`) or this many bytes.
        .write_buffer_size(WRITE_BATCH_BYTES)
        .on_upgrade(move |socket: WebSocket| {
            let tasks = state.tasks.clone();
            tasks.connection(async move {
                // When a session was last used is for its owner's list.
                state.seen.session(&hash, now_ms());
                serve(socket, state, user, hash).await
            })
        })
}

/// Serves one connection until it closes or stops answering: one task
/// that reads frames, handles them one at a time in the order read, waits
/// for the commits of the sends among them, and writes live frames,
/// answers and heartbeats. While a frame is being handled the socket is
/// not read (backpressure), but writing goes on.
///
/// Not an `async fn`: its arguments would be kept twice in the future,
/// and an idle connection's memory is mostly this future.
#[allow(clippy::manual_async_fn)]
pub fn serve<S>(
    mut socket: S,
    state: AppState,
    user: User,
    session: Vec<u8>,
) -> impl Future<Output = ()> + Send
where
    S: Stream<Item = Result<WsMessage, axum::Error>> + Sink<WsMessage> + Send + Unpin + 'static,
{
    async move {
        let reg = state.hub.register(user.id, auth::session_id(&session));
        // Online while this connection lives (it ends when the heartbeat does).
        let _lease = Box::pin(state.leases.take(user.id)).await;
        // The session is either idle, waiting for the next frame, or busy
        // with one (the future that handles it gives it back).
        let mut idle = Some(Session::new(&state, &user, &reg.conn));
        let mut busy: Option<BoxFuture<'_, (Session<'_>, Step)>> = None;
        // Sends stored in order, waiting for their commits.
        let mut acks: FuturesUnordered<BoxFuture<'_, ServerFrame>> = FuturesUnordered::new();
        let mut heard = Instant::now();
        let mut draining = state.draining.subscribe();
        let mut ping = tokio::time::interval(Duration::from_millis(state.config.heartbeat_ms));
        ping.tick().await;
        let timeout = Duration::from_millis(state.config.heartbeat_timeout_ms);
        let recheck = Duration::from_millis(state.config.heartbeat_ms.saturating_mul(SESSION_RECHECK_PINGS));
        let mut checked = Instant::now();
        tracing::debug!(user = user.id, conn = reg.conn.id, "connected");

        loop {
            let reading = idle.is_some() && acks.len() < SENDS_IN_FLIGHT;
            let out = tokio::select! {
                bytes = reg.recv() => match bytes {
                    Some(bytes) => Some(live_frame(&state, &reg, bytes)),
                    None => {
                        session_ended(&mut socket, user.id).await;
                        break;
                    }
                },
                Some(frame) = acks.next(), if !acks.is_empty() => text(&frame),
                (session, step) = run(&mut busy), if busy.is_some() => {
                    busy = None;
                    idle = Some(session);
                    match step.answer(&state, &acks) {
                        Some(frame) => text(&frame),
                        None => continue,
                    }
                }
                msg = socket.next(), if reading => {
                    heard = Instant::now();
                    match msg {
                        Some(Ok(WsMessage::Text(text))) => {
                            if let Some(session) = idle.take() {
                                busy = Some(Box::pin(session.handle(text)));
                            }
                            continue;
                        }
                        Some(Ok(WsMessage::Binary(_))) => text(&ServerFrame::error(
                            ErrorCode::BadFrame,
                            "Frames are JSON text, not binary.",
                            None,
                        )),
                        Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
                        // A frame the transport cannot take: say why as it closes.
                        Some(Err(e)) => {
                            if let Some(bye) = refusal(e, &state) {
                                tracing::debug!(user = user.id, code = bye.code, "frame refused: closing");
                                let _ = socket.send(WsMessage::Close(Some(bye))).await;
                            }
                            break;
                        }
                        // The client went away.
                        Some(Ok(WsMessage::Close(_))) | None => break,
                    }
                }
                () = async { drop(draining.wait_for(|d| *d).await) } => {
                    Box::pin(farewell(&mut socket, &state, busy.take(), acks)).await;
                    break;
                }
                _ = ping.tick() => {
                    if !reading {
                        // The silence is ours: the socket was not being read.
                        heard = Instant::now();
                    }
                    if heard.elapsed() > timeout {
                        tracing::debug!(user = user.id, "no pong in time: closing");
                        let bye = CloseFrame { code: 4000, reason: "heartbeat timeout".into() };
                        let _ = socket.send(WsMessage::Close(Some(bye))).await;
                        break;
                    }
                    // The event that ends a session is a hint like any
                    // other: now and then the session is looked up again.
                    if checked.elapsed() >= recheck {
                        checked = Instant::now();
                        if let Ok(None) = state.store.session_user(&session, now_ms()).await {
                            session_ended(&mut socket, user.id).await;
                            break;
                        }
                    }
                    Some(WsMessage::Ping(Default::default()))
                }
            };
            let Some(out) = out else { continue };
            // Whatever else is ready already goes out in the same write.
            if socket.feed(out).await.is_err() {
                break;
            }
            let mut fed = 1;
            while fed < WRITE_BATCH_FRAMES {
                let next = if let Some(bytes) = reg.try_recv() {
                    Some(live_frame(&state, &reg, bytes))
                } else if let Some(Some(frame)) =
                    (!acks.is_empty()).then(|| acks.next().now_or_never()).flatten()
                {
                    text(&frame)
                } else {
                    break;
                };
                if let Some(out) = next {
                    if socket.feed(out).await.is_err() {
                        break;
                    }
                }
                fed += 1;
            }
            if socket.flush().await.is_err() {
                break;
            }
        }
        tracing::debug!(user = user.id, "disconnected");
    }
}

/// The connection's session ended (logged out elsewhere, a new password,
/// expired): say so, and close with 4001.
async fn session_ended<S: Sink<WsMessage> + Unpin>(socket: &mut S, user: crate::model::UserId) {
    tracing::debug!(user, "session ended: closing");
    let ended = ServerFrame::error(
        ErrorCode::Unauthenticated,
        "This session has ended. Please log in again.",
        None,
    );
    if let Some(out) = text(&ended) {
        let _ = socket.send(out).await;
    }
    let bye = CloseFrame {
        code: 4001,
        reason: "session ended".into(),
    };
    let _ = socket.send(WsMessage::Close(Some(bye))).await;
}

/// Shutting down: frames not yet read are not handled (the client sends
/// them again elsewhere); the frame in hand and the sends waiting for their
/// commit finish within the grace period and are answered, then goodbye,
/// and the client's close frame is awaited so the connection ends cleanly.
async fn farewell<'a, S>(
    socket: &mut S,
    state: &'a AppState,
    mut busy: Option<BoxFuture<'a, (Session<'a>, Step)>>,
    mut acks: FuturesUnordered<BoxFuture<'a, ServerFrame>>,
) where
    S: Stream<Item = Result<WsMessage, axum::Error>> + Sink<WsMessage> + Unpin,
{
    let grace = tokio::time::sleep(Duration::from_millis(state.config.shutdown_grace_ms));
    tokio::pin!(grace);
    while busy.is_some() || !acks.is_empty() {
        let frame = tokio::select! {
            () = &mut grace => break,
            (_, step) = run(&mut busy), if busy.is_some() => {
                busy = None;
                match step.answer(state, &acks) {
                    Some(frame) => frame,
                    None => continue,
                }
            }
            Some(frame) = acks.next(), if !acks.is_empty() => frame,
        };
        if let Some(out) = text(&frame) {
            let _ = socket.send(out).await;
        }
    }
    let bye = CloseFrame {
        code: 1001,
        reason: "server shutting down".into(),
    };
    let _ = socket.send(WsMessage::Close(Some(bye))).await;
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while let Some(Ok(msg)) = socket.next().await {
            if matches!(msg, WsMessage::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// Polls the frame in hand, if any (a disabled `select!` branch still
/// builds its future).
async fn run<T>(busy: &mut Option<BoxFuture<'_, T>>) -> T {
    match busy {
        Some(fut) => fut.await,
        None => std::future::pending().await,
    }
}

/// The frame size past which the transport refuses a frame outright.
fn hard_limit(state: &AppState) -> usize {
    state.config.max_frame_bytes.saturating_mul(16).max(1 << 20)
}

/// The close frame for a frame the transport refused: 1007 for a text
/// frame that is not UTF-8, 1009 for one over the hard limit. Other errors
/// (the connection broke) have no one left to tell.
fn refusal(e: axum::Error, state: &AppState) -> Option<CloseFrame> {
    let e = e.into_inner();
    let (code, reason) = match e.downcast_ref::<tungstenite::Error>()? {
        tungstenite::Error::Utf8(_) => (1007, "text frames must be UTF-8".to_string()),
        tungstenite::Error::Capacity(_) => (1009, format!("frames have at most {} bytes", hard_limit(state))),
        _ => return None,
    };
    Some(CloseFrame {
        code,
        reason: reason.into(),
    })
}

fn text(frame: &ServerFrame) -> Option<WsMessage> {
    encode(frame).map(WsMessage::Text)
}

/// A live frame, or `resync` if frames were dropped for this slow connection
/// (then its queue is cleared and the client fetches what it missed).
fn live_frame(state: &AppState, reg: &Registration, bytes: Utf8Bytes) -> WsMessage {
    if !reg.conn.take_lagging() {
        return WsMessage::Text(bytes);
    }
    reg.clear();
    state.metrics.resyncs.fetch_add(1, Ordering::Relaxed);
    text(&ServerFrame::Resync { room: None }).unwrap_or(WsMessage::Text(bytes))
}
