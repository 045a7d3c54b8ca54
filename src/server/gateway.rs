//! The WebSocket gateway: `GET /ws`, authenticated by the session cookie
//! with the `Origin` checked, then one connection = a reader task (frames
//! in) and a writer loop (live frames, replies, heartbeat). The socket logic
//! is generic over `Stream`/`Sink`, so it does not care what carries it.
//! Messages are written by `delivery` only; this module just asks.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::{
    extract::{
        ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket, WebSocketUpgrade},
        State,
    },
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use futures::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::{mpsc, Semaphore};

use super::hub::{encode, Conn, Registration};
use super::limits::Bucket;
use super::storage::{Access, StoreError};
use super::typing::Typing;
use super::{auth, context::now_ms, state::AppState};
use crate::model::{RoomId, RoomKind, User};
use crate::protocol::{ClientFrame, ErrorCode, Message, Seq, ServerFrame, PAGE_DEFAULT, PAGE_MAX};

/// Sends a connection may have waiting for their commit at once.
const SENDS_IN_FLIGHT: usize = 64;
/// How long a closing connection waits for the client's close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// Frames already queued for a connection go out in one write (one system
/// call), up to this many frames or bytes.
const WRITE_BATCH_FRAMES: usize = 64;
const WRITE_BATCH_BYTES: usize = 16 * 1024;

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
    let Some(token) = auth::token_from_headers(&headers) else {
        return (StatusCode::UNAUTHORIZED, "Please log in.").into_response();
    };
    let user = match state
        .store
        .session_user(&auth::token_hash(&token), now_ms())
        .await
    {
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
    let transport_max = state.config.max_frame_bytes.saturating_mul(16).max(1 << 20);
    ws.max_message_size(transport_max)
        .max_frame_size(transport_max)
        .read_buffer_size(4096)
        // Frames queue here until a flush (see `serve`) or this many bytes.
        .write_buffer_size(WRITE_BATCH_BYTES)
        .on_upgrade(move |socket: WebSocket| serve(socket, state, user))
}

/// Serves one connection until it closes or stops answering.
pub async fn serve<S>(socket: S, state: AppState, user: User)
where
    S: Stream<Item = Result<WsMessage, axum::Error>> + Sink<WsMessage> + Send + 'static,
{
    let (mut sink, stream) = socket.split();
    let mut reg = state.hub.register(user.id);
    // Online while this connection lives (it ends when the heartbeat does).
    let _lease = state.leases.take(user.id).await;
    // Boxed: a channel allocates its slots in blocks, and a frame is large
    // (an idle connection's memory is mostly such buffers).
    let (reply_tx, mut reply_rx) = mpsc::channel::<Box<ServerFrame>>(64);
    let heard = Arc::new(AtomicI64::new(now_ms()));
    let sends = Arc::new(Semaphore::new(SENDS_IN_FLIGHT));
    let mut reader = tokio::spawn(read_loop(
        stream,
        state.clone(),
        user.clone(),
        reg.conn.clone(),
        (reply_tx, sends.clone()),
        heard.clone(),
    ));
    let mut draining = state.draining.subscribe();
    let mut ping = tokio::time::interval(Duration::from_millis(state.config.heartbeat_ms));
    ping.tick().await;
    let timeout = state.config.heartbeat_timeout_ms as i64;
    tracing::debug!(user = user.id, conn = reg.conn.id, "connected");

    loop {
        let out = tokio::select! {
            live = reg.rx.recv() => match live {
                Some(bytes) => live_frame(&state, &mut reg, bytes),
                None => break,
            },
            reply = reply_rx.recv() => match reply.as_deref().and_then(encode) {
                Some(bytes) => WsMessage::Text(bytes),
                None => break, // the reader ended: the client went away
            },
            () = async { drop(draining.wait_for(|d| *d).await) } => {
                // Shutting down: the reader handles nothing more; the sends
                // already read are committed and acknowledged, then goodbye,
                // and the reader waits for the client's close frame.
                let grace = Duration::from_millis(state.config.shutdown_grace_ms);
                let _ = tokio::time::timeout(grace, sends.acquire_many(SENDS_IN_FLIGHT as u32)).await;
                while let Ok(frame) = reply_rx.try_recv() {
                    if let Some(bytes) = encode(&frame) {
                        let _ = sink.send(WsMessage::Text(bytes)).await;
                    }
                }
                let bye = CloseFrame { code: 1001, reason: "server shutting down".into() };
                let _ = sink.send(WsMessage::Close(Some(bye))).await;
                let _ = tokio::time::timeout(CLOSE_WAIT, &mut reader).await;
                break;
            }
            _ = ping.tick() => {
                if now_ms() - heard.load(Ordering::Relaxed) > timeout {
                    tracing::debug!(user = user.id, "no pong in time: closing");
                    let _ = sink
                        .send(WsMessage::Close(Some(CloseFrame { code: 4000, reason: "heartbeat timeout".into() })))
                        .await;
                    break;
                }
                WsMessage::Ping(Default::default())
            }
        };
        // Whatever else is queued already goes out in the same write.
        if sink.feed(out).await.is_err() {
            break;
        }
        let mut fed = 1;
        while fed < WRITE_BATCH_FRAMES {
            let next = if let Ok(frame) = reply_rx.try_recv() {
                encode(&frame).map(WsMessage::Text)
            } else if let Ok(bytes) = reg.rx.try_recv() {
                Some(live_frame(&state, &mut reg, bytes))
            } else {
                break;
            };
            if let Some(out) = next {
                if sink.feed(out).await.is_err() {
                    break;
                }
            }
            fed += 1;
        }
        if sink.flush().await.is_err() {
            break;
        }
    }
    reader.abort();
    tracing::debug!(user = user.id, "disconnected");
}

/// A live frame, or `resync` if frames were dropped for this slow connection
/// (then its queue is cleared and the client fetches what it missed).
fn live_frame(state: &AppState, reg: &mut Registration, bytes: Utf8Bytes) -> WsMessage {
    if !reg.conn.take_lagging() {
        return WsMessage::Text(bytes);
    }
    while reg.rx.try_recv().is_ok() {}
    state.hub.metrics.resyncs.fetch_add(1, Ordering::Relaxed);
    encode(&ServerFrame::Resync { room: None })
        .map(WsMessage::Text)
        .unwrap_or(WsMessage::Text(bytes))
}

async fn read_loop<R>(
    mut stream: R,
    state: AppState,
    user: User,
    conn: Arc<Conn>,
    (reply, sends): (mpsc::Sender<Box<ServerFrame>>, Arc<Semaphore>),
    heard: Arc<AtomicI64>,
) where
    R: Stream<Item = Result<WsMessage, axum::Error>> + Unpin,
{
    let mut typing = Typing::default();
    let mut send_bucket = Bucket::new(state.config.send_rate.into(), state.config.send_burst.into());
    let draining = state.draining.subscribe();
    while let Some(Ok(msg)) = stream.next().await {
        heard.store(now_ms(), Ordering::Relaxed);
        if *draining.borrow() {
            // Shutting down: nothing more is handled (the client sends it
            // again elsewhere); reading on until the client's close frame
            // lets the connection end cleanly instead of with a reset.
            if matches!(msg, WsMessage::Close(_)) {
                break;
            }
            continue;
        }
        let text = match msg {
            WsMessage::Text(text) => text,
            WsMessage::Binary(_) => {
                let e = ServerFrame::error(ErrorCode::BadFrame, "Frames are JSON text, not binary.", None);
                if reply.send(Box::new(e)).await.is_err() {
                    break;
                }
                continue;
            }
            WsMessage::Close(_) => break,
            WsMessage::Ping(_) | WsMessage::Pong(_) => continue,
        };
        let answer = if text.len() > state.config.max_frame_bytes {
            Some(ServerFrame::error(
                ErrorCode::TooLarge,
                format!(
                    "A frame has at most {} bytes (this one has {}).",
                    state.config.max_frame_bytes,
                    text.len()
                ),
                None,
            ))
        } else {
            match serde_json::from_str::<ClientFrame>(&text) {
                Err(e) => Some(ServerFrame::error(
                    ErrorCode::BadFrame,
                    format!("Not a frame of this protocol: {e}."),
                    None,
                )),
                Ok(ClientFrame::Send { cid, .. }) if !send_bucket.take(std::time::Instant::now()) => {
                    state.hub.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
                    Some(ServerFrame::error(
                        ErrorCode::RateLimited,
                        format!(
                            "Too many messages: at most {} a second. This one was not stored; send it again.",
                            state.config.send_rate
                        ),
                        Some(cid),
                    ))
                }
                Ok(ClientFrame::Send { room, cid, body }) => {
                    let Ok(permit) = sends.clone().acquire_owned().await else {
                        break;
                    };
                    let started = std::time::Instant::now();
                    // Enqueued here, in the order read; the commit is awaited
                    // off the read loop, so sends pipeline (and share
                    // transactions) instead of waiting in turn.
                    let pending = state.delivery.enqueue(&user, room, cid, body).await;
                    let (state, reply) = (state.clone(), reply.clone());
                    tokio::spawn(async move {
                        let result = match pending {
                            Ok(pending) => pending.stored().await,
                            Err(e) => Err(e),
                        };
                        let m = &state.hub.metrics;
                        m.ack_latency.observe(started.elapsed());
                        let counter = if result.is_ok() {
                            &m.sends_acked
                        } else {
                            &m.sends_refused
                        };
                        counter.fetch_add(1, Ordering::Relaxed);
                        let frame = match result {
                            Ok(m) => ServerFrame::Ack {
                                cid,
                                room: m.room,
                                seq: m.seq,
                                id: m.id,
                                ts: m.ts,
                            },
                            Err(e) => ServerFrame::error(e.code(), e.to_string(), Some(cid)),
                        };
                        let _ = reply.send(Box::new(frame)).await;
                        drop(permit);
                    });
                    None
                }
                // Boxed: a task is as large as its largest await, and an
                // idle connection should not carry these states all its life.
                Ok(ClientFrame::Typing { room }) => Box::pin(typing.relay(&state, &user, &conn, room)).await,
                Ok(frame) => Some(Box::pin(answer(&state, &user, &conn, frame)).await),
            }
        };
        if let Some(frame) = answer {
            if reply.send(Box::new(frame)).await.is_err() {
                break;
            }
        }
    }
}

/// The reply to a frame other than `send`.
async fn answer(state: &AppState, user: &User, conn: &Arc<Conn>, frame: ClientFrame) -> ServerFrame {
    let result = match frame {
        ClientFrame::Hello => welcome(state, user, conn).await,
        ClientFrame::Sync { room, after, limit } => sync(state, user, conn, room, after, limit).await,
        ClientFrame::History { room, before, limit } => history(state, user, conn, room, before, limit).await,
        ClientFrame::Delivered { room, seq } => marks(state, user, conn, room, seq, 0).await,
        ClientFrame::Read { room, seq } => marks(state, user, conn, room, seq, seq).await,
        ClientFrame::Members { room } => members(state, user, conn, room).await,
        ClientFrame::Ping => Ok(ServerFrame::Pong),
        ClientFrame::Send { .. } | ClientFrame::Typing { .. } => Err(ServerFrame::error(
            ErrorCode::BadFrame,
            "handled by the read loop",
            None,
        )),
    };
    result.unwrap_or_else(|e| e)
}

/// Subscribes the connection to the user's rooms, then reads their heads:
/// a message committed in between arrives live and is in the heads.
async fn welcome(state: &AppState, user: &User, conn: &Arc<Conn>) -> Result<ServerFrame, ServerFrame> {
    let before = state.store.room_ids_of(user.id).await.map_err(unavailable)?;
    state.hub.subscribe(conn, before);
    // Cluster: the events of these rooms reach this node before their heads
    // are read, so nothing committed after the heads is missed live.
    state.bus.subscribed().await;
    let rooms = state.store.rooms_of(user.id).await.map_err(unavailable)?;
    state.hub.subscribe(conn, rooms.iter().map(|r| r.id));
    let contacts = state.leases.contacts_of(user.id).await.map_err(|e| {
        tracing::warn!(error = %e, "cannot read contacts");
        unavailable_frame()
    })?;
    Ok(ServerFrame::Welcome {
        user: user.clone(),
        rooms,
        contacts,
    })
}

async fn members(
    state: &AppState,
    user: &User,
    conn: &Arc<Conn>,
    room: RoomId,
) -> Result<ServerFrame, ServerFrame> {
    member(state, user, conn, room).await?;
    let members = state.store.member_marks(room).await.map_err(unavailable)?;
    Ok(ServerFrame::Members { room, members })
}

async fn sync(
    state: &AppState,
    user: &User,
    conn: &Arc<Conn>,
    room: RoomId,
    after: Seq,
    limit: Option<u32>,
) -> Result<ServerFrame, ServerFrame> {
    member(state, user, conn, room).await?;
    if after < 0 {
        return Err(ServerFrame::error(
            ErrorCode::BadFrame,
            "after is a seq, 0 or more.",
            None,
        ));
    }
    let limit = page(limit);
    let cached = state.cache.after(room, after, limit).await;
    let from_cache = cached.is_some();
    let mut msgs: Vec<Message> = match cached {
        Some(msgs) => msgs,
        None => state
            .store
            .messages_after(room, after, limit)
            .await
            .map_err(unavailable)?,
    };
    if msgs.is_empty() || (from_cache && msgs.len() < limit as usize) {
        // A short page says "that is all": make sure it is (a cluster cache
        // may lag a commit made on another node by a moment).
        let head = state.store.head(room).await.map_err(unavailable)?.unwrap_or(0);
        let reached = msgs.last().map_or(after, |m| m.seq);
        if reached < head {
            msgs = state
                .store
                .messages_after(room, after, limit)
                .await
                .map_err(unavailable)?;
        }
        if after > head {
            return Err(ServerFrame::error(
                ErrorCode::BadFrame,
                format!("Room {room} has no message {after} yet (its last is {head})."),
                None,
            ));
        }
    }
    let more = msgs.len() == limit as usize;
    Ok(ServerFrame::Batch {
        room,
        msgs,
        more,
        history: false,
    })
}

async fn history(
    state: &AppState,
    user: &User,
    conn: &Arc<Conn>,
    room: RoomId,
    before: Seq,
    limit: Option<u32>,
) -> Result<ServerFrame, ServerFrame> {
    member(state, user, conn, room).await?;
    let limit = page(limit);
    let msgs = state
        .store
        .messages_before(room, before, limit)
        .await
        .map_err(unavailable)?;
    let more = msgs.len() == limit as usize && msgs.first().is_some_and(|m| m.seq > 1);
    Ok(ServerFrame::Batch {
        room,
        msgs,
        more,
        history: true,
    })
}

/// Stores a delivered/read report and fans out the receipt. The answer is
/// the receipt with the marks as now stored (a lower report moves nothing).
async fn marks(
    state: &AppState,
    user: &User,
    conn: &Arc<Conn>,
    room: RoomId,
    delivered: Seq,
    read: Seq,
) -> Result<ServerFrame, ServerFrame> {
    member(state, user, conn, room).await?;
    let (head, kind) = state
        .store
        .head_and_kind(room)
        .await
        .map_err(unavailable)?
        .unwrap_or((0, RoomKind::Group));
    let seq = delivered.max(read);
    if seq < 0 || seq > head {
        return Err(ServerFrame::error(
            ErrorCode::BadFrame,
            format!("Room {room} has no message {seq} (its last is {head}); marks stay where they are."),
            None,
        ));
    }
    let stored = state
        .store
        .raise_marks(room, user.id, delivered, read)
        .await
        .map_err(unavailable)?;
    let Some(stored) = stored else {
        return Err(ServerFrame::error(
            ErrorCode::NotMember,
            format!("You are not a member of room {room}."),
            None,
        ));
    };
    let marks = (stored.delivered, stored.read);
    if stored.rose {
        state.receipts.publish(room, kind, user.id, marks).await;
    }
    Ok(ServerFrame::Receipt {
        room,
        user: user.id,
        delivered: marks.0,
        read: marks.1,
    })
}

/// Passes when the user is in the room; else the error frame that says why.
pub(super) async fn member(
    state: &AppState,
    user: &User,
    conn: &Arc<Conn>,
    room: RoomId,
) -> Result<(), ServerFrame> {
    if conn.is_in(room) {
        return Ok(());
    }
    match state.store.access(room, user.id).await.map_err(unavailable)? {
        Access::Member(_) => {
            state.hub.subscribe(conn, [room]);
            Ok(())
        }
        Access::NotMember => Err(ServerFrame::error(
            ErrorCode::NotMember,
            format!("You are not a member of room {room}."),
            None,
        )),
        Access::NoSuchRoom => Err(ServerFrame::error(
            ErrorCode::UnknownRoom,
            format!("There is no room {room}."),
            None,
        )),
    }
}

fn page(limit: Option<u32>) -> u32 {
    limit.unwrap_or(PAGE_DEFAULT).clamp(1, PAGE_MAX)
}

fn unavailable(e: StoreError) -> ServerFrame {
    tracing::warn!(error = %e, "storage unavailable for a socket request");
    unavailable_frame()
}

fn unavailable_frame() -> ServerFrame {
    ServerFrame::error(
        ErrorCode::Unavailable,
        "Storage is unavailable right now; try again shortly.",
        None,
    )
}
