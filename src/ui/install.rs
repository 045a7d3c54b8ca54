//! "Install app" in the sidebar, where the browser offers installing
//! (Chromium's `beforeinstallprompt`: the manifest and icons are there, the
//! app is not installed yet). The browser's event is kept and its prompt
//! shown on a click; once installed, the button goes. Safari and Firefox
//! install from their own menus (the README says how). On the server the
//! control renders nothing.

use std::cell::RefCell;

use leptos::prelude::*;
use leptos::wasm_bindgen::{JsCast, JsValue};
use leptos::web_sys::{js_sys, Event};

thread_local! {
    /// The browser's offer, kept for the click. Browser only: a value made
    /// while rendering on the server would be dropped on another thread.
    static OFFERED: RefCell<Option<Event>> = const { RefCell::new(None) };
}

fn keep(offer: Option<Event>) {
    OFFERED.with(|o| *o.borrow_mut() = offer);
}

#[component]
pub fn InstallControl() -> impl IntoView {
    let available = RwSignal::new(false);
    // Browser only: the browser says when it would install the app.
    Effect::new(move |_| {
        let offer = window_event_listener_untyped("beforeinstallprompt", move |ev| {
            // Ours to offer, from the button, not the browser's mini-bar.
            ev.prevent_default();
            keep(Some(ev));
            available.set(true);
        });
        let done = window_event_listener_untyped("appinstalled", move |_| {
            keep(None);
            available.set(false);
        });
        on_cleanup(move || {
            offer.remove();
            done.remove();
        });
    });
    let install = move |_| {
        // A prompt is shown once: the next offer comes with a new event.
        let Some(ev) = OFFERED.with(|o| o.borrow_mut().take()) else {
            return;
        };
        available.set(false);
        let prompt = js_sys::Reflect::get(&ev, &JsValue::from_str("prompt"))
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        if let Some(prompt) = prompt {
            let _ = prompt.call0(&ev);
        }
    };
    view! {
        <Show when=move || available.get()>
            <button type="button" class="ghost install" on:click=install>"Install app"</button>
        </Show>
    }
}
