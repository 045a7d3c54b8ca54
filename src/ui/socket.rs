//! Browser only: the WebSocket behind `Live`, with reconnects (exponential
//! backoff with jitter), an application heartbeat, the outbox kept in
//! localStorage, the clock and random client message ids. The server build
//! compiles `socket_ssr.rs` instead, with the same functions doing nothing.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use leptos::prelude::*;
use uuid::Uuid;
use wasm_bindgen::{closure::Closure, JsCast};
use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};

use super::live::Live;
use crate::model::UserId;
use crate::protocol::{ClientFrame, ServerFrame};
use crate::sync::Outgoing;

const PING_EVERY_MS: f64 = 20_000.0;
const SILENT_MAX_MS: f64 = 45_000.0;

struct Socket {
    ws: WebSocket,
    _open: Closure<dyn FnMut(Event)>,
    _message: Closure<dyn FnMut(MessageEvent)>,
    _close: Closure<dyn FnMut(CloseEvent)>,
}

thread_local! {
    static SOCKET: RefCell<Option<Socket>> = const { RefCell::new(None) };
    static ATTEMPT: Cell<u32> = const { Cell::new(0) };
    static HEARD: Cell<f64> = const { Cell::new(0.0) };
    static PINGED: Cell<f64> = const { Cell::new(0.0) };
}

pub fn start(live: Live) {
    connect(live);
    set_interval(
        move || {
            live.tick();
            heartbeat(live);
        },
        Duration::from_secs(1),
    );
    // The browser knows before the socket does: show it, and come back at once.
    let offline = window_event_listener(leptos::ev::offline, move |_| drop_now(live));
    let online = window_event_listener(leptos::ev::online, move |_| {
        ATTEMPT.set(0);
        connect(live);
    });
    // Leaving or hiding the page: the read marks owed go now.
    let hide = window_event_listener(leptos::ev::pagehide, move |_| live.leaving());
    let hidden = window_event_listener(leptos::ev::visibilitychange, move |_| {
        if document().visibility_state() == web_sys::VisibilityState::Hidden {
            live.leaving();
        }
    });
    on_cleanup(move || {
        offline.remove();
        online.remove();
        hide.remove();
        hidden.remove();
        close();
    });
}

fn connect(live: Live) {
    // One socket at a time: a reconnect timer may fire after the `online`
    // event already opened a new one.
    if SOCKET.with(|s| s.borrow().is_some()) {
        return;
    }
    let location = window().location();
    let scheme = if location.protocol().as_deref() == Ok("https:") {
        "wss"
    } else {
        "ws"
    };
    let url = format!("{scheme}://{}/ws", location.host().unwrap_or_default());
    let Ok(ws) = WebSocket::new(&url) else {
        reconnect_later(live);
        return;
    };
    let open = Closure::<dyn FnMut(Event)>::new(move |_| {
        HEARD.set(js_sys::Date::now());
        live.opened();
    });
    let message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        HEARD.set(js_sys::Date::now());
        let Some(text) = e.data().as_string() else { return };
        match serde_json::from_str::<ServerFrame>(&text) {
            Ok(frame) => {
                if matches!(frame, ServerFrame::Welcome { .. }) {
                    ATTEMPT.set(0);
                }
                live.handle(frame);
            }
            Err(err) => leptos::logging::warn!("unreadable frame: {err}"),
        }
    });
    let this = ws.clone();
    let close = Closure::<dyn FnMut(CloseEvent)>::new(move |_| {
        // Only the current socket's close counts (an old one may close late).
        let current = SOCKET.with(|s| s.borrow().as_ref().is_some_and(|s| s.ws == this));
        if current {
            SOCKET.with(|s| s.borrow_mut().take());
            live.closed();
            reconnect_later(live);
        }
    });
    ws.set_onopen(Some(open.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(message.as_ref().unchecked_ref()));
    ws.set_onclose(Some(close.as_ref().unchecked_ref()));
    SOCKET.with(|s| {
        *s.borrow_mut() = Some(Socket {
            ws,
            _open: open,
            _message: message,
            _close: close,
        })
    });
}

/// 0.5 s, 1 s, 2 s … up to 30 s, each with up to half of it as jitter, so a
/// restarted server is not hit by every client at the same moment.
fn reconnect_later(live: Live) {
    let attempt = ATTEMPT.get();
    ATTEMPT.set(attempt.saturating_add(1));
    let base = (500.0 * 2f64.powi(attempt.min(6) as i32)).min(30_000.0);
    let delay = base * (0.5 + 0.5 * js_sys::Math::random());
    set_timeout(move || connect(live), Duration::from_millis(delay as u64));
}

/// Closes the socket; its close handler schedules the reconnect.
fn close() {
    SOCKET.with(|s| {
        if let Some(s) = s.borrow().as_ref() {
            let _ = s.ws.close();
        }
    });
}

/// The network is gone (or silent): the socket counts as closed now, not
/// when its closing handshake ends (which cannot happen while offline and
/// may take the browser a long time to give up on), and a reconnect is
/// scheduled. The old socket's handlers are detached before it is dropped.
fn drop_now(live: Live) {
    let Some(old) = SOCKET.with(|s| s.borrow_mut().take()) else {
        return;
    };
    old.ws.set_onopen(None);
    old.ws.set_onmessage(None);
    old.ws.set_onclose(None);
    let _ = old.ws.close();
    live.closed();
    reconnect_later(live);
}

/// Pings when idle; a socket silent past the limit is closed and replaced.
fn heartbeat(live: Live) {
    let now = js_sys::Date::now();
    let open = SOCKET.with(|s| {
        s.borrow()
            .as_ref()
            .is_some_and(|s| s.ws.ready_state() == WebSocket::OPEN)
    });
    if !open {
        return;
    }
    if now - HEARD.get() > SILENT_MAX_MS {
        drop_now(live);
    } else if now - PINGED.get() > PING_EVERY_MS {
        PINGED.set(now);
        send(&[ClientFrame::Ping]);
    }
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

pub fn after(ms: u64, f: impl FnOnce(Live) + 'static, live: Live) {
    set_timeout(move || f(live), Duration::from_millis(ms));
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
