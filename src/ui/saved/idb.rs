//! Browser only: the IndexedDB database of a person (`chat-<id>`):
//! `rooms` holds every room's summary (the room list), `timelines` the
//! newest rows and members' marks of the rooms opened most recently
//! (`sync::SavedRoom`), `meta` the order they were opened in. Who was
//! signed in last is in localStorage (`chat.me`), read before anything
//! else. A device that does not answer in time counts as empty.

use std::cell::{Cell, RefCell};

use futures::future::Either;
use js_sys::{Array, Promise};
use leptos::prelude::*;
use serde::{de::DeserializeOwned, Serialize};
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    IdbDatabase, IdbObjectStore, IdbOpenDbRequest, IdbRequest, IdbTransaction, IdbTransactionMode,
};

use super::{Changes, Keep, Kept};
use crate::model::{Profile, RoomId, RoomSummary, User, UserId};
use crate::sync::SavedRoom;

/// A device that does not answer within this long is read as empty (the
/// app starts from the network rather than wait), or erasing goes on
/// without the page.
const LOAD_WAIT_MS: i32 = 1_500;

const ME_KEY: &str = "chat.me";
const ROOMS: &str = "rooms";
const TIMELINES: &str = "timelines";
const META: &str = "meta";
const RECENT: &str = "recent";

thread_local! {
    /// The open database, by person (reopened after an erase).
    static DB: RefCell<Option<(UserId, IdbDatabase)>> = const { RefCell::new(None) };
    /// `persist` asks once a page.
    static ASKED_TO_PERSIST: Cell<bool> = const { Cell::new(false) };
}

/// What this deployment lets the device keep (the page's `<meta>`).
pub fn keep() -> Keep {
    document()
        .query_selector(&format!("meta[name={}]", Keep::META))
        .ok()
        .flatten()
        .and_then(|m| m.get_attribute("content"))
        .and_then(|c| Keep::parse(&c))
        .unwrap_or_default()
}

/// Notes who is signed in (and their picture) for the next offline start.
pub fn remember_me(user: &User, avatar: Option<String>) {
    let profile = Profile {
        user: user.clone(),
        status: String::new(),
        notify_default: Default::default(),
        avatar,
    };
    if let (Some(s), Ok(text)) = (local(), serde_json::to_string(&profile)) {
        let _ = s.set_item(ME_KEY, &text);
    }
}

/// Who was signed in last on this device, if nobody logged out since.
pub fn me() -> Option<Profile> {
    let text = local()?.get_item(ME_KEY).ok()??;
    serde_json::from_str(&text).ok()
}

fn local() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// What was kept for `user`, or nothing (none, unreadable, or too slow).
pub async fn load(user: UserId) -> Kept {
    match within(LOAD_WAIT_MS, read(user)).await {
        Some(Ok(kept)) => kept,
        Some(Err(e)) => {
            leptos::logging::warn!("this device's saved messages are unreadable: {e:?}");
            Kept::default()
        }
        None => {
            leptos::logging::warn!("this device's saved messages did not load in time");
            Kept::default()
        }
    }
}

/// `work`'s answer, or None if it takes longer than `ms`.
async fn within<T>(ms: i32, work: impl std::future::Future<Output = T>) -> Option<T> {
    let late = JsFuture::from(Promise::new(&mut |resolve, _| {
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    }));
    match futures::future::select(Box::pin(work), late).await {
        Either::Left((answer, _)) => Some(answer),
        Either::Right(_) => None,
    }
}

async fn read(user: UserId) -> Result<Kept, JsValue> {
    let db = open(user).await?;
    let tx = db.transaction_with_str_sequence(&Array::of3(&ROOMS.into(), &TIMELINES.into(), &META.into()))?;
    let summaries: Vec<RoomSummary> = all(&tx.object_store(ROOMS)?).await?;
    let recent: Vec<RoomId> = get(&tx.object_store(META)?, &RECENT.into())
        .await?
        .unwrap_or_default();
    let timelines = tx.object_store(TIMELINES)?;
    let mut rooms = Vec::with_capacity(summaries.len());
    for summary in summaries {
        let kept: Option<SavedRoom> = get(&timelines, &JsValue::from_f64(summary.id as f64)).await?;
        // The list's summary is the newer one.
        rooms.push(match kept {
            Some(room) => SavedRoom { summary, ..room },
            None => SavedRoom {
                summary,
                rows: Vec::new(),
                history_done: false,
                marks: None,
            },
        });
    }
    Ok(Kept { rooms, recent })
}

/// Writes `changes`; false if the device refused them (full).
pub async fn write(user: UserId, changes: Changes) -> bool {
    match try_write(user, changes).await {
        Ok(()) => true,
        Err(e) => {
            leptos::logging::warn!("saved messages not written: {e:?}");
            false
        }
    }
}

async fn try_write(user: UserId, changes: Changes) -> Result<(), JsValue> {
    let db = open(user).await?;
    let stores = Array::of3(&ROOMS.into(), &TIMELINES.into(), &META.into());
    let tx = db.transaction_with_str_sequence_and_mode(&stores, IdbTransactionMode::Readwrite)?;
    let (rooms, timelines, meta) = (
        tx.object_store(ROOMS)?,
        tx.object_store(TIMELINES)?,
        tx.object_store(META)?,
    );
    for s in &changes.summaries {
        put(&rooms, &JsValue::from_f64(s.id as f64), s)?;
    }
    for t in &changes.timelines {
        put(&timelines, &JsValue::from_f64(t.summary.id as f64), t)?;
    }
    for id in &changes.evicted {
        timelines.delete(&JsValue::from_f64(*id as f64))?;
    }
    if let Some(recent) = &changes.recent {
        put(&meta, &RECENT.into(), recent)?;
    }
    done(&tx).await
}

/// Erases what this device kept of `user` (logging out, a session ended).
pub async fn erase(user: UserId) {
    if let Some(s) = local() {
        let _ = s.remove_item(ME_KEY);
    }
    DB.with(|d| {
        if let Some((_, db)) = d.borrow_mut().take() {
            db.close();
        }
    });
    let Some(factory) = window().indexed_db().ok().flatten() else {
        return;
    };
    // Another tab still holding the database makes the browser wait for it
    // to close (it does, `open`); the erasing goes on without this page.
    if let Ok(req) = factory.delete_database(&name(user)) {
        match within(LOAD_WAIT_MS, answer(&req)).await {
            Some(Ok(_)) => {}
            Some(Err(e)) => leptos::logging::warn!("saved messages not erased: {e:?}"),
            None => leptos::logging::warn!("saved messages erased once other tabs let go"),
        }
    }
}

/// Asks the browser not to evict this origin's storage under pressure
/// (once the person writes: they use the app, keeping it is worth asking).
pub fn persist() {
    if ASKED_TO_PERSIST.replace(true) {
        return;
    }
    let storage = window().navigator().storage();
    leptos::task::spawn_local(async move {
        if let Ok(p) = storage.persisted() {
            if JsFuture::from(p).await.ok().and_then(|v| v.as_bool()) == Some(true) {
                return;
            }
        }
        if let Ok(p) = storage.persist() {
            let _ = JsFuture::from(p).await;
        }
    });
}

fn name(user: UserId) -> String {
    format!("chat-{user}")
}

async fn open(user: UserId) -> Result<IdbDatabase, JsValue> {
    if let Some(db) = DB.with(|d| {
        d.borrow()
            .as_ref()
            .filter(|(u, _)| *u == user)
            .map(|(_, db)| db.clone())
    }) {
        return Ok(db);
    }
    let factory = window()
        .indexed_db()?
        .ok_or_else(|| JsValue::from_str("no IndexedDB here"))?;
    let req: IdbOpenDbRequest = factory.open_with_u32(&name(user), 1)?;
    let upgrade = Closure::once_into_js(move |e: web_sys::Event| {
        let Some(db) = e
            .target()
            .and_then(|t| t.dyn_into::<IdbRequest>().ok())
            .and_then(|r| r.result().ok())
            .and_then(|r| r.dyn_into::<IdbDatabase>().ok())
        else {
            return;
        };
        for store in [ROOMS, TIMELINES, META] {
            let _ = db.create_object_store(store);
        }
    });
    req.set_onupgradeneeded(Some(upgrade.unchecked_ref()));
    let db: IdbDatabase = answer(&req).await?.dyn_into()?;
    // Another tab erasing (logging out) closes this one's connection.
    let close = Closure::<dyn FnMut()>::new({
        let db = db.clone();
        move || {
            db.close();
            DB.with(|d| d.borrow_mut().take());
        }
    });
    db.set_onversionchange(Some(close.as_ref().unchecked_ref()));
    close.forget();
    DB.with(|d| *d.borrow_mut() = Some((user, db.clone())));
    Ok(db)
}

fn put<T: Serialize>(store: &IdbObjectStore, key: &JsValue, value: &T) -> Result<(), JsValue> {
    let text = serde_json::to_string(value).map_err(|e| JsValue::from_str(&e.to_string()))?;
    store.put_with_key(&JsValue::from_str(&text), key)?;
    Ok(())
}

async fn get<T: DeserializeOwned>(store: &IdbObjectStore, key: &JsValue) -> Result<Option<T>, JsValue> {
    let v = answer(&store.get(key)?).await?;
    Ok(v.as_string().and_then(|text| serde_json::from_str(&text).ok()))
}

async fn all<T: DeserializeOwned>(store: &IdbObjectStore) -> Result<Vec<T>, JsValue> {
    let v: Array = answer(&store.get_all()?).await?.dyn_into()?;
    Ok(v.iter()
        .filter_map(|v| v.as_string().and_then(|text| serde_json::from_str(&text).ok()))
        .collect())
}

/// The result of an IndexedDB request, once it comes.
async fn answer(req: &IdbRequest) -> Result<JsValue, JsValue> {
    let promise = Promise::new(&mut |resolve, reject| {
        let this = req.clone();
        let ok = Closure::once_into_js(move |_: web_sys::Event| {
            let _ = resolve.call1(&JsValue::NULL, &this.result().unwrap_or(JsValue::UNDEFINED));
        });
        let this = req.clone();
        let failed = Closure::once_into_js(move |_: web_sys::Event| {
            let why = this
                .error()
                .ok()
                .flatten()
                .map(JsValue::from)
                .unwrap_or(JsValue::NULL);
            let _ = reject.call1(&JsValue::NULL, &why);
        });
        req.set_onsuccess(Some(ok.unchecked_ref()));
        req.set_onerror(Some(failed.unchecked_ref()));
    });
    JsFuture::from(promise).await
}

/// Waits for a write transaction to be stored (or refused: a full disk).
async fn done(tx: &IdbTransaction) -> Result<(), JsValue> {
    let promise = Promise::new(&mut |resolve, reject| {
        let ok = Closure::once_into_js(move |_: web_sys::Event| {
            let _ = resolve.call0(&JsValue::NULL);
        });
        let this = tx.clone();
        let failed = Closure::once_into_js(move |_: web_sys::Event| {
            let why = this.error().map(JsValue::from).unwrap_or(JsValue::NULL);
            let _ = reject.call1(&JsValue::NULL, &why);
        });
        tx.set_oncomplete(Some(ok.unchecked_ref()));
        tx.set_onabort(Some(failed.unchecked_ref()));
    });
    JsFuture::from(promise).await.map(|_| ())
}
