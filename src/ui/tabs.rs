//! Browser only: the person's other tabs. They share one outbox (kept by
//! `socket`, an entry per message) and exactly one of them sends it: the
//! one holding the Web Lock `chat-outbox-<user>` (held for the page's
//! life; when that tab closes, the next one waiting gets it and sends
//! what waits). The others show the entries and hear each change through
//! `storage` events. Where the browser has no Web Locks (plain HTTP), every
//! tab sends: the server keeps one message per client id either way.

use js_sys::{Function, Promise, Reflect};
use leptos::prelude::*;
use wasm_bindgen::{closure::Closure, JsCast, JsValue};

use super::live::Live;
use super::socket::outbox_prefix;

pub fn start(live: Live) {
    let prefix = outbox_prefix(live.user());
    let heard = window_event_listener(leptos::ev::storage, move |e| {
        let Some(cid) = e
            .key()
            .and_then(|k| k.strip_prefix(&prefix).and_then(|c| c.parse().ok()))
        else {
            return;
        };
        let entry = e.new_value().and_then(|text| serde_json::from_str(&text).ok());
        live.outbox_elsewhere(cid, entry);
    });
    on_cleanup(move || heard.remove());

    let nav = window().navigator();
    let locks = Reflect::get(&nav, &"locks".into()).unwrap_or(JsValue::UNDEFINED);
    let Ok(request) = Reflect::get(&locks, &"request".into()).and_then(|f| f.dyn_into::<Function>()) else {
        return; // every tab sends
    };
    live.set_sending(false);
    let granted = Closure::once_into_js(move |_lock: JsValue| -> JsValue {
        live.set_sending(true);
        // Never settles: the lock is this page's until it goes.
        Promise::new(&mut |_, _| {}).into()
    });
    let name = JsValue::from_str(&format!("chat-outbox-{}", live.user()));
    if request.call2(&locks, &name, &granted).is_err() {
        live.set_sending(true);
    }
}
