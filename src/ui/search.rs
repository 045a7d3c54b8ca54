//! Search: the dialog that Ctrl+K / ⌘K opens from anywhere (all my rooms)
//! and the room header's 🔍 opens (that room, until the scope is removed).
//! Results follow the typing (a pause of `PAUSE_MS`; only the latest
//! answer counts), newest first, the matched words marked; ↑/↓ choose one,
//! Enter or a click opens its room at that message (`Live::jump_to`: the
//! page around it is loaded, shown highlighted, and the timeline goes on
//! both ways from there).

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos::wasm_bindgen::JsCast;
use leptos::web_sys::HtmlElement;
use leptos_router::hooks::use_navigate;

use super::dialogs::{Dialog, Modal};
use super::live::Live;
use super::socket::tz_offset_min;
use super::time::list_time;
use crate::api::search;
use crate::model::{RoomId, SearchCursor, SearchHit};

/// How long typing pauses before the search goes (ms).
const PAUSE_MS: u64 = 250;

const HELP: &str = "Words find words that start with them; Korean words are found inside longer ones. \
                    \"Quotes\" for a phrase; from:@handle, in:room, before:2026-12-31, after:2026-01-01, has:file.";

#[component]
pub fn SearchDialog(dialog: RwSignal<Option<Dialog>>, room: Option<RoomId>) -> impl IntoView {
    let live = expect_context::<Live>();
    let navigate = use_navigate();
    let query = RwSignal::new(String::new());
    let scope = RwSignal::new(room);
    let hits = RwSignal::new(Vec::<SearchHit>::new());
    let next = RwSignal::new(None::<SearchCursor>);
    // Why the search as typed cannot be made (or did not get an answer).
    let problem = RwSignal::new(None::<String>);
    // The last search found nothing.
    let nothing = RwSignal::new(false);
    let active = RwSignal::new(0usize);
    let busy = RwSignal::new(false);
    // Only the answer to the latest question counts.
    let asked = StoredValue::new(0u32);
    let ask = move |more: bool| {
        let text = query.get_untracked();
        asked.update_value(|n| *n += 1);
        let mine = asked.get_value();
        if text.trim().is_empty() {
            hits.set(Vec::new());
            next.set(None);
            problem.set(None);
            nothing.set(false);
            busy.set(false);
            return;
        }
        let after = if more { next.get_untracked() } else { None };
        busy.set(true);
        spawn_local(async move {
            let answer = search(text, scope.get_untracked(), after, tz_offset_min() as i32).await;
            if asked.try_get_value() != Some(mine) {
                return;
            }
            busy.set(false);
            match answer {
                Ok(page) if page.problem.is_some() => {
                    hits.set(Vec::new());
                    next.set(None);
                    nothing.set(false);
                    problem.set(page.problem);
                }
                Ok(page) => {
                    nothing.set(page.hits.is_empty() && !more);
                    if !more {
                        active.set(0);
                        hits.set(page.hits);
                    } else {
                        hits.update(|h| h.extend(page.hits));
                    }
                    next.set(page.next);
                    problem.set(None);
                }
                Err(e) => {
                    hits.set(Vec::new());
                    next.set(None);
                    nothing.set(false);
                    problem.set(Some(e.to_string()));
                }
            }
        });
    };
    let typed = move |ev| {
        query.set(event_target_value(&ev));
        asked.update_value(|n| *n += 1);
        let mine = asked.get_value();
        set_timeout(
            move || {
                if asked.try_get_value() == Some(mine) {
                    ask(false);
                }
            },
            std::time::Duration::from_millis(PAUSE_MS),
        );
    };
    let navigate = StoredValue::new_local(navigate);
    let open = move |i: usize| {
        let Some(hit) = hits.with_untracked(|h| h.get(i).cloned()) else {
            return;
        };
        dialog.set(None);
        navigate.with_value(|go| go(&format!("/r/{}", hit.room), Default::default()));
        live.jump_to(hit.room, hit.seq);
    };
    let keys = move |ev: leptos::ev::KeyboardEvent| {
        let n = hits.with_untracked(Vec::len);
        match ev.key().as_str() {
            "ArrowDown" if n > 0 => {
                ev.prevent_default();
                active.update(|a| *a = (*a + 1).min(n - 1));
            }
            "ArrowUp" if n > 0 => {
                ev.prevent_default();
                active.update(|a| *a = a.saturating_sub(1));
            }
            "Enter" if !ev.is_composing() => {
                ev.prevent_default();
                open(active.get_untracked());
            }
            _ => {}
        }
    };
    // The chosen result stays in view as the arrows move it.
    Effect::new(move |_| {
        let i = active.get();
        let Ok(Some(el)) = document().query_selector(&format!("#hit-{i}")) else {
            return;
        };
        let (Some(list), Ok(el)) = (el.parent_element(), el.dyn_into::<HtmlElement>()) else {
            return;
        };
        // The list is the items' offset parent (`position: relative`).
        let (top, bottom) = (el.offset_top(), el.offset_top() + el.offset_height());
        if top < list.scroll_top() {
            list.set_scroll_top(top);
        } else if bottom > list.scroll_top() + list.client_height() {
            list.set_scroll_top(bottom - list.client_height());
        }
    });
    let room_name = move |id: RoomId| {
        live.rooms
            .with(|r| r.iter().find(|r| r.id == id).map(|r| r.name.clone()))
            .unwrap_or_else(|| "A room".into())
    };
    let status = move || {
        if let Some(p) = problem.get() {
            return p;
        }
        if nothing.get() {
            return "No messages found.".into();
        }
        let n = hits.with(Vec::len);
        match (n, next.with(Option::is_some)) {
            (0, _) if busy.get() => "Searching…".into(),
            (0, _) => HELP.into(),
            (1, false) => "1 message".into(),
            (n, false) => format!("{n} messages"),
            (n, true) => format!("{n} messages so far"),
        }
    };
    view! {
        <Modal title="Search messages" dialog wide=true>
            <div class="search">
                <input type="search" class="search-box" placeholder="Search messages" aria-label="Search messages"
                    role="combobox" aria-autocomplete="list" aria-controls="search-results"
                    aria-expanded=move || (!hits.with(Vec::is_empty)).to_string()
                    aria-activedescendant=move || (!hits.with(Vec::is_empty)).then(|| format!("hit-{}", active.get()))
                    autocomplete="off" spellcheck="false" enterkeyhint="search"
                    prop:value=query on:input=typed on:keydown=keys/>
                {move || scope.get().map(|id| view! {
                    <button type="button" class="scope" aria-label=format!("Searching in {}: search all rooms instead", room_name(id))
                        on:click=move |_| { scope.set(None); ask(false); }>
                        {format!("In {}", room_name(id))}<span aria-hidden="true">" ✕"</span>
                    </button>
                })}
                <p class="search-note" class:error=move || problem.with(Option::is_some)
                    role="status">{status}</p>
                <ul class="search-results" id="search-results" role="listbox" aria-label="Messages found">
                    {move || hits.get().into_iter().enumerate().map(|(i, hit)| {
                        let when = list_time(hit.ts, live.clock.get_untracked());
                        let place = room_name(hit.room);
                        view! {
                            <li role="option" id=format!("hit-{i}") class="hit" data-room=hit.room data-seq=hit.seq
                                aria-selected=move || (active.get() == i).to_string()
                                on:mousemove=move |_| if active.get_untracked() != i { active.set(i) }
                                on:click=move |_| open(i)>
                                <span class="hit-meta">
                                    <span class="hit-room">{place}</span>
                                    <span class="hit-from">{hit.from.clone()}</span>
                                    <time>{when}</time>
                                </span>
                                <span class="hit-text">
                                    {hit.parts.into_iter().map(|p| match p.hit {
                                        true => view! { <mark>{p.text}</mark> }.into_any(),
                                        false => p.text.into_any(),
                                    }).collect_view()}
                                </span>
                            </li>
                        }
                    }).collect_view()}
                </ul>
                <Show when=move || next.with(Option::is_some)>
                    <button type="button" class="ghost more-results" disabled=move || busy.get()
                        on:click=move |_| ask(true)>"More results"</button>
                </Show>
            </div>
        </Modal>
    }
}
