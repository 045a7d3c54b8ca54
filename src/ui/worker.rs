//! Browser only: the service worker of the app (`public/sw.js`), registered
//! by every page (once it settled) so the app opens offline, and its updates. A worker of a
//! new build installs in the background and waits; `start` sets `ready`
//! then, the page offers "Reload", and `take_over` lets the new worker in
//! and reloads once it controls the page, so shell and bundle switch
//! together. The server build compiles `worker_ssr.rs` instead.

use std::cell::Cell;
use std::time::Duration;

use js_sys::Reflect;
use leptos::prelude::*;
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ServiceWorker, ServiceWorkerRegistration, ServiceWorkerState};

/// How often an open page asks whether a new build is out.
const CHECK_EVERY: Duration = Duration::from_secs(30 * 60);
/// How long after the page starts the worker is registered.
const REGISTER_AFTER: Duration = Duration::from_secs(2);

thread_local! {
    /// The person chose to reload into the new build.
    static TAKING_OVER: Cell<bool> = const { Cell::new(false) };
}

/// Registers the worker and sets `ready` whenever a new build waits.
pub fn start(ready: RwSignal<bool>) {
    let nav = window().navigator();
    if !Reflect::has(&nav, &"serviceWorker".into()).unwrap_or(false) {
        return; // not a secure context, or an old browser: online only
    }
    let container = nav.service_worker();
    // A new worker controls the page: reload into its build, if asked to.
    let changed = Closure::<dyn FnMut()>::new(|| {
        if TAKING_OVER.get() {
            let _ = window().location().reload();
        }
    });
    container.set_oncontrollerchange(Some(changed.as_ref().unchecked_ref()));
    changed.forget();
    // Once the page has settled: installing fetches the whole bundle again,
    // which should not compete with the page's own start.
    set_timeout(
        move || leptos::task::spawn_local(register(container, ready)),
        REGISTER_AFTER,
    );
}

async fn register(container: web_sys::ServiceWorkerContainer, ready: RwSignal<bool>) {
    let reg = match JsFuture::from(container.register("/sw.js")).await {
        Ok(reg) => reg.unchecked_into::<ServiceWorkerRegistration>(),
        Err(e) => {
            leptos::logging::warn!("service worker not registered: {e:?}");
            return;
        }
    };
    watch(&reg, ready);
    set_interval(
        move || {
            let _ = reg.update();
        },
        CHECK_EVERY,
    );
}

/// `ready` follows the registration: a worker waiting behind the one in
/// control is a new build.
fn watch(reg: &ServiceWorkerRegistration, ready: RwSignal<bool>) {
    let controlled = || window().navigator().service_worker().controller().is_some();
    if reg.waiting().is_some() && controlled() {
        ready.set(true);
    }
    let this = reg.clone();
    let found = Closure::<dyn FnMut()>::new(move || {
        let Some(worker) = this.installing() else { return };
        let installing = worker.clone();
        let state = Closure::<dyn FnMut()>::new(move || {
            if installing.state() == ServiceWorkerState::Installed && controlled() {
                ready.set(true);
            }
        });
        worker.set_onstatechange(Some(state.as_ref().unchecked_ref()));
        state.forget();
    });
    reg.set_onupdatefound(Some(found.as_ref().unchecked_ref()));
    found.forget();
}

/// The person chose "Reload": the waiting worker takes over, and the page
/// reloads when it does (`start`). With none waiting, just reload.
pub fn take_over() {
    TAKING_OVER.set(true);
    leptos::task::spawn_local(async {
        let container = window().navigator().service_worker();
        let waiting = match JsFuture::from(container.get_registration()).await {
            Ok(reg) if !reg.is_undefined() => reg.unchecked_into::<ServiceWorkerRegistration>().waiting(),
            _ => None,
        };
        match waiting {
            Some(worker) => tell(&worker),
            None => {
                let _ = window().location().reload();
            }
        }
    });
}

fn tell(worker: &ServiceWorker) {
    let message = js_sys::Object::new();
    let _ = Reflect::set(&message, &"type".into(), &JsValue::from_str("take-over"));
    if worker.post_message(&message).is_err() {
        let _ = window().location().reload();
    }
}
