//! The server build's twin of `worker.rs`: no service worker here.

use leptos::prelude::RwSignal;

pub fn start(_ready: RwSignal<bool>) {}

pub fn take_over() {}
