//! Chat: a real-time messenger. One crate, two builds: `ssr` is the axum
//! server (binary `chat`), `hydrate` the WASM that takes over the
//! server-rendered page in the browser.
//!
//! - `model`: data and input rules shared by both sides; `format`: a body's formatting as data.
//! - `protocol`: the WebSocket frames; `events`: how edits, deletes and reactions change a
//!   message; `sync`: the client state machine.
//! - `api`: the HTTP API as server functions; `error`: what its calls answer on failure.
//! - `ui`: the Leptos components.
//! - `server`: everything only the server runs.

pub mod api;
pub mod error;
pub mod events;
pub mod format;
pub mod groups;
pub mod model;
pub mod protocol;
pub mod sync;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod server;

/// The browser's entry point: hydrate the server-rendered page, or render
/// the page into the app shell the service worker answered with offline.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    ui::crash::install();
    if ui::is_shell() {
        leptos::mount::mount_to_body(ui::App);
    } else {
        leptos::mount::hydrate_body(ui::App);
    }
}
