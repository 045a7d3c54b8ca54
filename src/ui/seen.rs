//! Browser only: which messages the person has actually seen. An
//! IntersectionObserver watches the messages of each open timeline; a
//! message counts as seen while at least half of it (or half the
//! timeline's height, for a tall one) is on screen and the page is visible
//! and focused. The highest such seq goes to `Live::saw`, which coalesces
//! the reports. The server build compiles `seen_ssr.rs` instead.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use leptos::prelude::*;
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use web_sys::{
    Element, IntersectionObserver, IntersectionObserverEntry, IntersectionObserverInit, VisibilityState,
};

use super::live::Live;
use crate::model::RoomId;
use crate::protocol::Seq;

struct Reader {
    observer: IntersectionObserver,
    _callback: Closure<dyn FnMut(js_sys::Array)>,
    listeners: Vec<WindowListenerHandle>,
}

thread_local! {
    static READERS: RefCell<HashMap<RoomId, Reader>> = RefCell::new(HashMap::new());
}

fn timeline(room: RoomId) -> Option<Element> {
    document()
        .query_selector(&format!(".timeline[data-room=\"{room}\"]"))
        .ok()
        .flatten()
}

/// Whether what is on screen is being looked at.
fn active() -> bool {
    let doc = document();
    doc.visibility_state() == VisibilityState::Visible && doc.has_focus().unwrap_or(false)
}

/// Starts watching the timeline of `room` (once).
pub fn start(room: RoomId, live: Live) {
    if READERS.with(|r| r.borrow().contains_key(&room)) {
        return;
    }
    let Some(root) = timeline(room) else { return };
    let visible: Rc<RefCell<BTreeSet<Seq>>> = Rc::default();
    let report = {
        let visible = visible.clone();
        move || {
            if let Some(&seq) = visible.borrow().last().filter(|_| active()) {
                live.saw(room, seq);
            }
        }
    };
    let callback = {
        let (visible, report, root) = (visible.clone(), report.clone(), root.clone());
        Closure::<dyn FnMut(js_sys::Array)>::new(move |entries: js_sys::Array| {
            let half = f64::from(root.client_height()) / 2.0;
            for entry in entries.iter() {
                let entry: IntersectionObserverEntry = entry.unchecked_into();
                let Some(seq) = entry
                    .target()
                    .get_attribute("data-seq")
                    .and_then(|s| s.parse::<Seq>().ok())
                else {
                    continue;
                };
                let shown = entry.is_intersecting()
                    && (entry.intersection_ratio() >= 0.5 || entry.intersection_rect().height() >= half);
                if shown {
                    visible.borrow_mut().insert(seq);
                } else {
                    visible.borrow_mut().remove(&seq);
                }
            }
            report();
        })
    };
    let init = IntersectionObserverInit::new();
    init.set_root(Some(&root));
    let thresholds = js_sys::Array::of3(&JsValue::from(0.0), &JsValue::from(0.5), &JsValue::from(1.0));
    init.set_threshold(&thresholds);
    let Ok(observer) = IntersectionObserver::new_with_options(callback.as_ref().unchecked_ref(), &init)
    else {
        return;
    };
    // Coming back to the page counts what is on screen.
    let listeners = vec![
        window_event_listener(leptos::ev::focus, {
            let report = report.clone();
            move |_| report()
        }),
        window_event_listener(leptos::ev::visibilitychange, move |_| report()),
    ];
    READERS.with(|r| {
        r.borrow_mut().insert(
            room,
            Reader {
                observer,
                _callback: callback,
                listeners,
            },
        )
    });
    observe(room);
}

/// Adds the timeline's message elements to the watch (observing one twice
/// is a no-op).
pub fn observe(room: RoomId) {
    let Some(root) = timeline(room) else { return };
    let Ok(list) = root.query_selector_all(".msg[data-seq]") else {
        return;
    };
    READERS.with(|r| {
        if let Some(reader) = r.borrow().get(&room) {
            for i in 0..list.length() {
                if let Some(el) = list.item(i).and_then(|n| n.dyn_into::<Element>().ok()) {
                    reader.observer.observe(&el);
                }
            }
        }
    });
}

pub fn stop(room: RoomId) {
    if let Some(reader) = READERS.with(|r| r.borrow_mut().remove(&room)) {
        reader.observer.disconnect();
        for l in reader.listeners {
            l.remove();
        }
    }
}
