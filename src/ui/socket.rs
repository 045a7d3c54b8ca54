//! Browser only: the current WebSocket (held here, written to by `send`;
//! `connection` opens, watches and replaces it) and what the browser gives
//! the page besides: the clock and time zone, random client message ids,
//! the outbox kept in localStorage, timers. Knows nothing of `Live`. The
//! server build compiles `socket_ssr.rs` instead, with the same functions
//! doing nothing.

use std::cell::RefCell;
use std::time::Duration;

use leptos::prelude::*;
use uuid::Uuid;
use wasm_bindgen::{closure::Closure, JsCast};
use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};

use crate::model::UserId;
use crate::protocol::ClientFrame;
use crate::sync::Outgoing;

/// The socket and the handlers it calls (kept alive with it).
pub struct Socket {
    pub ws: WebSocket,
    pub open: Closure<dyn FnMut(Event)>,
    pub message: Closure<dyn FnMut(MessageEvent)>,
    pub close: Closure<dyn FnMut(CloseEvent)>,
}

thread_local! {
    static SOCKET: RefCell<Option<Socket>> = const { RefCell::new(None) };
}

/// Makes `socket` the current one, its handlers attached.
pub fn install(socket: Socket) {
    let ws = &socket.ws;
    ws.set_onopen(Some(socket.open.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(socket.message.as_ref().unchecked_ref()));
    ws.set_onclose(Some(socket.close.as_ref().unchecked_ref()));
    SOCKET.with(|s| *s.borrow_mut() = Some(socket));
}

/// Whether there is a current socket (open or still opening).
pub fn exists() -> bool {
    SOCKET.with(|s| s.borrow().is_some())
}

/// Whether `ws` is the current socket.
pub fn is_current(ws: &WebSocket) -> bool {
    SOCKET.with(|s| s.borrow().as_ref().is_some_and(|s| s.ws == *ws))
}

pub fn is_open() -> bool {
    SOCKET.with(|s| {
        s.borrow()
            .as_ref()
            .is_some_and(|s| s.ws.ready_state() == WebSocket::OPEN)
    })
}

/// Forgets the current socket, its handlers detached first (so a late
/// close of it counts for nothing), and closes it.
pub fn discard() -> bool {
    let Some(old) = SOCKET.with(|s| s.borrow_mut().take()) else {
        return false;
    };
    old.ws.set_onopen(None);
    old.ws.set_onmessage(None);
    old.ws.set_onclose(None);
    let _ = old.ws.close();
    true
}

/// Forgets the current socket (it closed by itself).
pub fn forget() {
    SOCKET.with(|s| s.borrow_mut().take());
}

/// Closes the current socket; its close handler decides what follows.
pub fn close() {
    SOCKET.with(|s| {
        if let Some(s) = s.borrow().as_ref() {
            let _ = s.ws.close();
        }
    });
}

pub fn send(frames: &[ClientFrame]) {
    SOCKET.with(|s| {
        let Some(s) = s.borrow().as_ref().map(|s| s.ws.clone()) else {
            return;
        };
        if s.ready_state() != WebSocket::OPEN {
            return; // the state machine sends again after the next welcome
        }
        for f in frames {
            if let Ok(text) = serde_json::to_string(f) {
                let _ = s.send_with_str(&text);
            }
        }
    });
}

/// Runs `f` in `ms` milliseconds.
pub fn later(ms: u64, f: impl FnOnce() + 'static) {
    set_timeout(f, Duration::from_millis(ms));
}

pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// Minutes to add to local time to get UTC (JavaScript's getTimezoneOffset).
pub fn tz_offset_min() -> i64 {
    js_sys::Date::new_0().get_timezone_offset() as i64
}

/// A random (v4) UUID from the browser's crypto, which works on plain HTTP too.
pub fn new_cid() -> Uuid {
    let mut bytes = [0u8; 16];
    let filled = window()
        .crypto()
        .ok()
        .and_then(|c| c.get_random_values_with_u8_array(&mut bytes).ok());
    if filled.is_none() {
        for b in bytes.iter_mut() {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn outbox_key(user: UserId) -> String {
    format!("chat.outbox.{user}")
}

pub fn save_outbox(user: UserId, outbox: &[Outgoing]) {
    let Ok(Some(storage)) = window().local_storage() else {
        return;
    };
    let _ = match serde_json::to_string(outbox) {
        Ok(text) if !outbox.is_empty() => storage.set_item(&outbox_key(user), &text),
        _ => storage.remove_item(&outbox_key(user)),
    };
}

pub fn load_outbox(user: UserId) -> Vec<Outgoing> {
    let Ok(Some(storage)) = window().local_storage() else {
        return Vec::new();
    };
    storage
        .get_item(&outbox_key(user))
        .ok()
        .flatten()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}
