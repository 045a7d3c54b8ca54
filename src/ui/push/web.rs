//! Browser only: this device's notifications. Uses the service worker
//! (`public/sw.js`, registered by `ui::worker`), asks for permission and subscribes to Web Push with
//! the deployment's key when the person turns notifications on, and hands
//! the subscription to the server; on log-out the browser's subscription
//! goes too, so the next person on this device starts with them off. Also
//! sets the app badge. The server build compiles `push_ssr.rs` instead.

use js_sys::{Promise, Reflect, Uint8Array};
use leptos::prelude::*;
use serde::Deserialize;
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MessageEvent, MessagePort, Notification, NotificationPermission, PushSubscription,
    PushSubscriptionOptionsInit, ServiceWorkerRegistration, VisibilityState,
};

use super::Status;
use crate::api::{push_key, push_subscribe};

/// Service workers, Web Push and notifications (secure contexts only).
fn supported() -> bool {
    let w = window();
    let has = |on: &JsValue, name: &str| Reflect::has(on, &name.into()).unwrap_or(false);
    has(&w.navigator(), "serviceWorker") && has(&w, "PushManager") && has(&w, "Notification")
}

/// Where this device stands; with the permission granted, the service
/// worker is registered (again) and a subscription the browser still holds
/// is handed to the server again
/// (logging out on another tab, or a restored database, lost it there).
pub async fn status() -> Status {
    if !supported() {
        return Status::Unsupported;
    }
    answer_worker();
    match Notification::permission() {
        NotificationPermission::Denied => return Status::Blocked,
        NotificationPermission::Granted => {}
        // Not asked yet (the service worker is there anyway: `ui::worker`).
        _ => return Status::Off,
    }
    let reg = match registration().await {
        Ok(reg) => reg,
        Err(e) => {
            leptos::logging::warn!("service worker not registered: {e}");
            return Status::Unsupported;
        }
    };
    match current(&reg).await {
        Some(sub) if save(&sub).await.is_ok() => Status::On,
        _ => Status::Off,
    }
}

/// Turns notifications on: permission, subscription, the server told.
pub async fn enable() -> Result<Status, String> {
    if !supported() {
        return Ok(Status::Unsupported);
    }
    wait(Notification::request_permission().map_err(describe)?).await?;
    match Notification::permission() {
        NotificationPermission::Granted => {}
        NotificationPermission::Denied => return Ok(Status::Blocked),
        _ => return Ok(Status::Off),
    }
    let reg = registration().await?;
    let key = push_key().await.map_err(|e| e.to_string())?;
    let options = PushSubscriptionOptionsInit::new();
    options.set_user_visible_only(true);
    options.set_application_server_key(&Uint8Array::from(&base64url(&key)?[..]).into());
    let manager = reg.push_manager().map_err(describe)?;
    let sub = wait(manager.subscribe_with_options(&options).map_err(describe)?)
        .await
        .map_err(|e| format!("This browser could not subscribe: {e}"))?;
    save(&sub.unchecked_into()).await?;
    Ok(Status::On)
}

/// Log-out: this browser's subscription ends (the server's went with the session).
pub async fn forget() {
    if !supported() {
        return;
    }
    if let Ok(reg) = wait(window().navigator().service_worker().get_registration()).await {
        if let Some(sub) = reg.dyn_into().ok().as_ref().map(current) {
            if let Some(sub) = sub.await {
                if let Ok(p) = sub.unsubscribe() {
                    let _ = wait(p).await;
                }
            }
        }
    }
}

/// The unread total on the app's icon, where the platform has one.
pub fn set_badge(total: i64) {
    let nav = window().navigator();
    let (name, args) = if total > 0 {
        (
            "setAppBadge",
            js_sys::Array::of1(&JsValue::from_f64(total as f64)),
        )
    } else {
        ("clearAppBadge", js_sys::Array::new())
    };
    if let Ok(f) = Reflect::get(&nav, &name.into()).and_then(|f| f.dyn_into::<js_sys::Function>()) {
        // A rejected promise (no permission, no badge) is nothing to act on.
        let _ = f.apply(&nav, &args);
    }
}

/// Answers the service worker's "is room N on screen?" (a tab's URL as the
/// worker sees it does not follow the app's own navigation), so a notice
/// for the room the person is looking at is not shown.
fn answer_worker() {
    let answer = Closure::<dyn FnMut(MessageEvent)>::new(|e: MessageEvent| {
        let Some(room) = Reflect::get(&e.data(), &"showing".into())
            .ok()
            .and_then(|r| r.as_f64())
        else {
            return;
        };
        let here = window().location().pathname().ok() == Some(format!("/r/{}", room as i64))
            && document().visibility_state() == VisibilityState::Visible;
        if let Ok(port) = e.ports().get(0).dyn_into::<MessagePort>() {
            let _ = port.post_message(&JsValue::from_bool(here));
        }
    });
    window()
        .navigator()
        .service_worker()
        .set_onmessage(Some(answer.as_ref().unchecked_ref()));
    // Lives as long as the page.
    answer.forget();
}

async fn registration() -> Result<ServiceWorkerRegistration, String> {
    let reg = wait(window().navigator().service_worker().register("/sw.js")).await?;
    reg.dyn_into()
        .map_err(|_| "not a service worker registration".into())
}

async fn current(reg: &ServiceWorkerRegistration) -> Option<PushSubscription> {
    let found = wait(reg.push_manager().ok()?.get_subscription().ok()?)
        .await
        .ok()?;
    found.dyn_into().ok()
}

/// Hands the subscription to the server, as `toJSON()` gives it.
async fn save(sub: &PushSubscription) -> Result<(), String> {
    #[derive(Deserialize)]
    struct Json {
        endpoint: String,
        keys: Keys,
    }
    #[derive(Deserialize)]
    struct Keys {
        p256dh: String,
        auth: String,
    }
    let text = js_sys::JSON::stringify(sub).map_err(describe)?;
    let json: Json = serde_json::from_str(&String::from(text)).map_err(|e| e.to_string())?;
    push_subscribe(json.endpoint, json.keys.p256dh, json.keys.auth)
        .await
        .map_err(|e| e.to_string())
}

async fn wait(promise: Promise) -> Result<JsValue, String> {
    JsFuture::from(promise).await.map_err(describe)
}

fn describe(e: JsValue) -> String {
    Reflect::get(&e, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "unknown error".into())
}

fn base64url(s: &str) -> Result<Vec<u8>, String> {
    let mut b64: String = s
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while !b64.len().is_multiple_of(4) {
        b64.push('=');
    }
    let binary = window().atob(&b64).map_err(describe)?;
    Ok(binary.chars().map(|c| c as u8).collect())
}
