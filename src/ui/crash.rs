//! Browser only: what a panic leaves behind. A panic in the WASM app stops
//! it for good (nothing unwinds; the next call into it fails), so the page
//! must not simply freeze: the hook logs the panic to the console, reports
//! it to the server's log (`POST /client-errors`, by `sendBeacon`, which
//! needs no more of the app), and covers the page with "Something went
//! wrong" and a plain link that reloads it. Everything here is built with
//! web-sys calls, not Leptos: the reactive system may be what panicked.

use std::sync::Once;

use wasm_bindgen::JsCast;

/// Installs the hook (once).
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            console_error_panic_hook::hook(info);
            let text = info.to_string();
            report(&text);
            show();
        }));
    });
}

/// Hands the panic to the server's log.
fn report(text: &str) {
    let Some(window) = web_sys::window() else { return };
    let page = window.location().pathname().unwrap_or_default();
    let body = serde_json::json!({ "message": text, "page": page }).to_string();
    let _ = window
        .navigator()
        .send_beacon_with_opt_str("/client-errors", Some(&body));
}

/// Covers the page with the notice (once, however many panics follow).
fn show() {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let (Some(body), None) = (doc.body(), doc.get_element_by_id("crash")) else {
        return;
    };
    let element = |tag: &str, text: &str| {
        let el = doc.create_element(tag).ok()?;
        el.set_text_content(Some(text));
        Some(el)
    };
    let (Some(panel), Some(note), Some(link)) = (
        element("div", ""),
        element(
            "p",
            "Something went wrong — reload. Sent messages are safe; unsent ones go out after the reload.",
        ),
        element("a", "Reload"),
    ) else {
        return;
    };
    let href = doc
        .location()
        .and_then(|l| l.href().ok())
        .unwrap_or_else(|| "/".into());
    let _ = panel.set_attribute("id", "crash");
    let _ = panel.set_attribute("role", "alert");
    let _ = link.set_attribute("href", &href);
    // `rel="external"`: the router (dead now) must not handle the click.
    let _ = link.set_attribute("rel", "external");
    let _ = link.set_attribute("class", "button primary");
    let _ = panel.append_child(&note);
    let _ = panel.append_child(&link);
    let _ = body.append_child(&panel);
    if let Some(link) = link.dyn_ref::<web_sys::HtmlElement>() {
        let _ = link.focus();
    }
}

/// Panics on purpose: the end-to-end test of this screen calls it, and an
/// operator can call it from the console to see that panics reach the log.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn simulate_crash() {
    panic!("simulated crash (simulate_crash was called)");
}
