//! Browser only: keeps `Live` connected. Opens the socket (`socket` holds
//! it), feeds `Live` what it hears, reconnects with exponential backoff and
//! jitter, pings when idle and replaces a silent socket, follows the
//! browser's online/offline events, and tells `Live` when the page is
//! left or the session has ended (said by the socket's close, or found
//! when a socket is refused before it opens). The server build compiles `connection_ssr.rs` (nothing to do).

use std::cell::Cell;
use std::time::Duration;

use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};

use super::live::Live;
use super::socket::{self, Socket};
use crate::protocol::{ClientFrame, ServerFrame};

const PING_EVERY_MS: f64 = 20_000.0;
/// The close code of a socket whose session ended (logged out elsewhere):
/// reconnecting would only be refused.
const SESSION_ENDED: u16 = 4001;
const SILENT_MAX_MS: f64 = 45_000.0;

thread_local! {
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
        socket::close();
    });
}

fn connect(live: Live) {
    // One socket at a time: a reconnect timer may fire after the `online`
    // event already opened a new one.
    if socket::exists() {
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
    // A socket refused before it opened may be a session that ended
    // meanwhile (the server says 401 to the upgrade, which the page never sees).
    let opened = std::rc::Rc::new(Cell::new(false));
    let did_open = opened.clone();
    let open = Closure::<dyn FnMut(Event)>::new(move |_| {
        did_open.set(true);
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
    let close = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
        // Only the current socket's close counts (an old one may close late).
        if socket::is_current(&this) {
            socket::forget();
            live.closed();
            if e.code() == SESSION_ENDED {
                live.session_ended();
            } else if !opened.get() {
                leptos::task::spawn_local(check_session(live));
            } else {
                reconnect_later(live);
            }
        }
    });
    socket::install(Socket {
        ws,
        open,
        message,
        close,
    });
}

/// The socket was refused before it opened: asks whether the session
/// still holds (logged out elsewhere meanwhile: the log-in page), else
/// tries again later (the server or the network is down).
async fn check_session(live: Live) {
    match crate::api::my_profile().await {
        Err(crate::api::ApiError::Unauthenticated) => live.session_ended(),
        _ => reconnect_later(live),
    }
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

/// The network is gone (or silent): the socket counts as closed now, not
/// when its closing handshake ends (which cannot happen while offline and
/// may take the browser a long time to give up on), and a reconnect is
/// scheduled.
fn drop_now(live: Live) {
    if socket::discard() {
        live.closed();
        reconnect_later(live);
    }
}

/// Pings when idle; a socket silent past the limit is closed and replaced.
fn heartbeat(live: Live) {
    if !socket::is_open() {
        return;
    }
    let now = js_sys::Date::now();
    if now - HEARD.get() > SILENT_MAX_MS {
        drop_now(live);
    } else if now - PINGED.get() > PING_EVERY_MS {
        PINGED.set(now);
        socket::send(&[ClientFrame::Ping]);
    }
}
