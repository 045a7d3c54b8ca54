//! Browser only: the current WebSocket (held here, written to by `send`;
//! `connection` opens, watches and replaces it) and what the browser gives
//! the page besides: the clock and time zone, random client message ids,
//! the outbox kept in localStorage (shared by the person's tabs), timers.
//! Knows nothing of `Live`. The server build compiles `socket_ssr.rs`
//! instead, with the same functions doing nothing.

use std::cell::RefCell;
use std::collections::HashSet;
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

/// The outbox is shared by the person's tabs, one localStorage entry per
/// message (`chat.outbox.<user>.<cid>`): a tab writes and removes only its
/// own changes, so two tabs never overwrite each other's messages, and the
/// others hear each change (`storage` events, `tabs`).
pub fn outbox_prefix(user: UserId) -> String {
    format!("chat.outbox.{user}.")
}

thread_local! {
    /// The entries this tab holds, as it last wrote or heard them.
    static HELD: RefCell<HashSet<Uuid>> = RefCell::new(HashSet::new());
}

/// Writes the outbox as this tab holds it now: new and changed entries
/// set, those it dropped (acked, discarded) removed. Entries of other tabs
/// it has not heard of yet are left alone.
pub fn save_outbox(user: UserId, outbox: &[Outgoing]) {
    let Ok(Some(storage)) = window().local_storage() else {
        return;
    };
    let prefix = outbox_prefix(user);
    let now: HashSet<Uuid> = outbox.iter().map(|o| o.cid).collect();
    for o in outbox {
        let key = format!("{prefix}{}", o.cid);
        if let Ok(text) = serde_json::to_string(o) {
            if storage.get_item(&key).ok().flatten().as_deref() != Some(text.as_str()) {
                let _ = storage.set_item(&key, &text);
            }
        }
    }
    let gone: Vec<Uuid> = HELD.with(|h| h.borrow().difference(&now).copied().collect());
    for cid in gone {
        let _ = storage.remove_item(&format!("{prefix}{cid}"));
    }
    HELD.with(|h| *h.borrow_mut() = now);
}

/// Another tab wrote (or removed) entry `cid`: this tab holds it as heard.
pub fn heard(cid: Uuid, held: bool) {
    HELD.with(|h| {
        let mut h = h.borrow_mut();
        if held {
            h.insert(cid);
        } else {
            h.remove(&cid);
        }
    });
}

/// The person's outbox as the device holds it, oldest first.
pub fn load_outbox(user: UserId) -> Vec<Outgoing> {
    let Ok(Some(storage)) = window().local_storage() else {
        return Vec::new();
    };
    let mut outbox: Vec<Outgoing> = keys_starting(&storage, &outbox_prefix(user))
        .into_iter()
        .filter_map(|k| storage.get_item(&k).ok().flatten())
        .filter_map(|text| serde_json::from_str(&text).ok())
        .collect();
    // Kept as one list before the tabs shared it: taken over, entry by entry.
    let legacy = format!("chat.outbox.{user}");
    if let Some(text) = storage.get_item(&legacy).ok().flatten() {
        for o in serde_json::from_str::<Vec<Outgoing>>(&text).unwrap_or_default() {
            if !outbox.iter().any(|p| p.cid == o.cid) {
                outbox.push(o);
            }
        }
        save_outbox(user, &outbox);
        let _ = storage.remove_item(&legacy);
    }
    outbox.sort_by_key(|o| o.created);
    HELD.with(|h| *h.borrow_mut() = outbox.iter().map(|o| o.cid).collect());
    outbox
}

/// Erases the person's outbox from the device (logging out).
pub fn erase_outbox(user: UserId) {
    if let Ok(Some(storage)) = window().local_storage() {
        remove_starting(&storage, &outbox_prefix(user));
        let _ = storage.remove_item(&format!("chat.outbox.{user}"));
    }
    HELD.with(|h| h.borrow_mut().clear());
}

/// The keys of `storage` that start with `prefix`.
pub fn keys_starting(storage: &web_sys::Storage, prefix: &str) -> Vec<String> {
    (0..storage.length().unwrap_or(0))
        .filter_map(|i| storage.key(i).ok().flatten())
        .filter(|k| k.starts_with(prefix))
        .collect()
}

/// Removes the keys of `storage` that start with `prefix`.
pub fn remove_starting(storage: &web_sys::Storage, prefix: &str) {
    for key in keys_starting(storage, prefix) {
        let _ = storage.remove_item(&key);
    }
}
