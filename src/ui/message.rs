//! One message of the timeline: its sender, the message it answers (a quote
//! that jumps there), its body in its current state ("(edited)", "Message
//! deleted"), time and tick, its reactions (a chip per emoji: how many, who
//! on hover, mine highlighted, a click toggles mine), and its actions behind
//! one "⋯" button or a long press: reply, react, copy, edit in place, report
//! someone else's, delete for everyone (asked twice). A message from
//! someone I block is folded until "Show". All of it by keyboard: Escape
//! closes what is open and gives the focus back.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::body::body_view;
use super::emoji::EmojiPicker;
use super::files::files_view;
use super::live::Live;
use super::mentions::{MentionList, Mentioning};
use super::rows::{MsgRow, Quote, Tick};
use crate::api::{hide_message, report_message};
use crate::format::DELETED;
use crate::model::{check_body, Kind, RoomId};

pub fn message_view(m: MsgRow, room: RoomId, live: Live) -> AnyView {
    if m.blocked {
        return blocked_view(m, room, live);
    }
    let (state, mark, title) = match &m.tick {
        Tick::Pending => ("pending", "🕓", "Sending…".to_string()),
        Tick::Sent => ("sent", "✓", "Sent".to_string()),
        Tick::Delivered => ("delivered", "✓✓", "Delivered".to_string()),
        Tick::Read => ("read", "✓✓", "Read".to_string()),
        Tick::Failed(why) => ("failed", "!", format!("Not sent: {why}")),
    };
    let title = m.read_by.clone().unwrap_or(title);
    let cid = m.key.split(':').next().and_then(|c| c.parse::<uuid::Uuid>().ok());
    let failed = matches!(m.tick, Tick::Failed(_));
    let seq = m.seq;
    let group = m.read_by.is_some();
    // In a group, a tap on the tick (or "Read by" among the actions) shows
    // who read it: the names are asked for then, a page at a time.
    let showing = move || seq.is_some() && live.seen_by.get() == Some((room, seq.unwrap_or(0)));
    let toggle_seen = move || {
        if let Some(s) = seq {
            live.show_read_by(room, s, !showing());
        }
    };
    let seen_more = m.read_by_more;
    let editing = move || seq.is_some() && live.editing.get() == Some((room, seq.unwrap_or(0)));
    let body = m.body.clone();
    let fmt = m.fmt.clone();
    let deleted = m.deleted;
    let names = m.mentions.clone();
    let shown_body = move || match deleted {
        true => view! { <p class="body deleted-text"><em>{DELETED}</em></p> }.into_any(),
        false => view! { <div class="body">{body_view(&body, fmt.clone(), &names)}</div> }.into_any(),
    };
    let stored = seq.is_some() && !deleted;
    let files = (!m.files.is_empty()).then(|| files_view(m.files.clone(), room, seq.is_some(), live));
    let edit_body = m.body.clone();
    let reactions = (!m.reactions.is_empty()).then(|| reactions_view(&m, room, live));
    // The actions open from "⋯", or by a long press on a touch screen.
    let acting = RwSignal::new(false);
    let actions = stored.then(|| actions_view(&m, room, live, acting));
    let long_press = move |ev: leptos::ev::MouseEvent| {
        if stored && touch(&ev) {
            ev.prevent_default();
            acting.set(true);
        }
    };
    view! {
        <div class="msg" class:mine=m.mine class:deleted=deleted class:calls-me=m.calls_me data-seq=seq data-state=state tabindex="-1"
            on:contextmenu=long_press>
            {(!m.mine).then(|| view! { <span class="from">{m.from.clone()}</span> })}
            {m.reply.clone().map(|q| quote_view(q, room, live))}
            {files}
            <Show when=editing fallback=shown_body.clone()>
                <EditBox room=room seq=seq.unwrap_or(0) body=edit_body.clone()/>
            </Show>
            <span class="meta" on:click=move |_| if group { toggle_seen() }>
                {m.edited.clone().map(|t| view! { <span class="edited" title=t.clone() aria-label=t>"(edited)"</span> })}
                <time>{m.time.clone()}</time>
                {m.mine.then(|| view! { <span class="tick" title=title.clone() aria-label=title>{mark}</span> })}
            </span>
            {reactions}
            {m.read_by.clone().map(|text| view! {
                <Show when=showing>
                    <span class="read-by" role="status">{text.clone()}</span>
                    {seen_more.then(|| view! {
                        <button type="button" class="ghost" on:click=move |_| live.show_read_by(room, seq.unwrap_or(0), true)>
                            "More readers"
                        </button>
                    })}
                </Show>
            })}
            {actions}
            {(failed && cid.is_some()).then(|| {
                let cid = cid.unwrap_or_default();
                view! {
                    <span class="failed-actions">
                        <button type="button" class="ghost" on:click=move |_| live.retry(cid)>"Retry"</button>
                        <button type="button" class="ghost" on:click=move |_| live.discard(cid)>"Delete"</button>
                    </span>
                }
            })}
        </div>
    }
    .into_any()
}

/// The message a reply answers: a click (or Enter) goes there.
fn quote_view(q: Quote, room: RoomId, live: Live) -> AnyView {
    let label = format!("Answering {}: {} (go there)", q.from, q.text);
    view! {
        <button type="button" class="quote" aria-label=label on:click=move |_| live.jump_to(room, q.seq)>
            <span class="quote-from">{q.from.clone()}</span>
            <span class="quote-text">{q.text.clone()}</span>
        </button>
    }
    .into_any()
}

fn reactions_view(m: &MsgRow, room: RoomId, live: Live) -> AnyView {
    let target = m.seq.unwrap_or(0);
    let can = m.seq.is_some() && !m.deleted;
    view! {
        <div class="reactions">
            {m.reactions.iter().map(|c| {
                let (emoji, mine) = (c.emoji.clone(), c.mine);
                let label = format!("{} {}: {}", c.emoji, c.count, c.who);
                view! {
                    <button type="button" class="chip" class:mine=mine aria-pressed=mine.to_string()
                        title=c.who.clone() aria-label=label disabled=!can
                        on:click=move |_| {
                            let kind = if mine { Kind::Unreact } else { Kind::React };
                            live.change(room, kind, target, emoji.clone());
                        }>
                        <span>{c.emoji.clone()}</span>" "<span class="count">{c.count}</span>
                    </button>
                }
            }).collect_view()}
        </div>
    }
    .into_any()
}

/// The "⋯" button and what it opens: a row of actions, the emoji grid for a
/// reaction, or the question whether to delete it for everyone or for me.
fn actions_view(m: &MsgRow, room: RoomId, live: Live, open: RwSignal<bool>) -> AnyView {
    let seq = m.seq.unwrap_or(0);
    let confirm = RwSignal::new(false);
    let failed = RwSignal::new(None::<String>);
    let reported = RwSignal::new(false);
    let mine = m.mine;
    let picking = RwSignal::new(false);
    let more = NodeRef::<leptos::html::Button>::new();
    let menu = NodeRef::<leptos::html::Div>::new();
    let close = move || {
        open.set(false);
        confirm.set(false);
        if let Some(b) = more.get_untracked() {
            let _ = b.focus();
        }
    };
    // Opening puts the focus on the first action.
    Effect::new(move |_| {
        if open.get() {
            request_animation_frame(move || focus_first(menu));
        }
    });
    let react = Callback::new(move |emoji: &'static str| {
        live.change(room, Kind::React, seq, emoji.to_string());
        close();
    });
    let quote = StoredValue::new(Quote {
        seq,
        from: if m.mine { "You".into() } else { m.from.clone() },
        text: crate::format::preview(&m.body, m.fmt.as_deref()),
    });
    let body = StoredValue::new(m.body.clone());
    let (can_edit, can_delete) = (m.can_edit, m.can_delete);
    let group = m.read_by.is_some();
    let keys = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            ev.prevent_default();
            ev.stop_propagation();
            close();
        }
    };
    view! {
        <button type="button" class="ghost more" node_ref=more aria-label="More actions"
            aria-haspopup="true" aria-expanded=move || open.get().to_string()
            on:click=move |_| {
                confirm.set(false);
                open.update(|o| *o = !*o);
            }>"⋯"</button>
        <EmojiPicker open=picking pick=react back=more/>
        <Show when=move || open.get()>
            <div class="actions" role="group" aria-label="Actions" node_ref=menu on:keydown=keys>
                <Show when=move || !confirm.get() fallback=move || view! {
                    <span class="ask">"Delete this message?"</span>
                    {can_delete.then(|| view! {
                        <button type="button" class="danger" on:click=move |_| {
                            live.change(room, Kind::Delete, seq, String::new());
                            close();
                        }>"For everyone"</button>
                    })}
                    <button type="button" class="danger" on:click=move |_| {
                        close();
                        failed.set(None);
                        spawn_local(async move {
                            match hide_message(room, seq).await {
                                Ok(_) => live.focus_composer(),
                                Err(e) => failed.set(Some(format!("Not deleted: {e}"))),
                            }
                        });
                    }>"For me"</button>
                    <button type="button" class="ghost" on:click=move |_| close()>"Cancel"</button>
                }>
                    <button type="button" class="ghost" on:click=move |_| {
                        live.replying.set(Some((room, quote.get_value())));
                        open.set(false);
                        live.focus_composer();
                    }>"Reply"</button>
                    <button type="button" class="ghost" on:click=move |_| {
                        open.set(false);
                        picking.set(true);
                    }>"React"</button>
                    <button type="button" class="ghost" on:click=move |_| {
                        body.with_value(|b| copy(b));
                        close();
                    }>"Copy"</button>
                    {can_edit.then(|| view! {
                        <button type="button" class="ghost" on:click=move |_| {
                            open.set(false);
                            live.editing.set(Some((room, seq)));
                        }>"Edit"</button>
                    })}
                    {group.then(|| view! {
                        <button type="button" class="ghost" on:click=move |_| {
                            close();
                            live.show_read_by(room, seq, true);
                        }>"Read by"</button>
                    })}
                    {(!mine).then(|| view! {
                        <button type="button" class="ghost" on:click=move |_| {
                            close();
                            failed.set(None);
                            spawn_local(async move {
                                match report_message(room, seq, String::new()).await {
                                    Ok(()) => reported.set(true),
                                    Err(e) => failed.set(Some(format!("Not reported: {e}"))),
                                }
                            });
                        }>"Report"</button>
                    })}
                    <button type="button" class="ghost" on:click=move |_| {
                        confirm.set(true);
                        request_animation_frame(move || focus_first(menu));
                    }>"Delete"</button>
                </Show>
            </div>
        </Show>
        {move || failed.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        {move || reported.get().then(|| view! { <p class="status" role="status">"Reported to the operator."</p> })}
    }
    .into_any()
}

/// A message from someone I block, folded: "Show" unfolds it here.
fn blocked_view(m: MsgRow, room: RoomId, live: Live) -> AnyView {
    let shown = RwSignal::new(false);
    let seq = m.seq;
    let unfolded = MsgRow { blocked: false, ..m };
    view! {
        <Show when=move || shown.get() fallback=move || view! {
            <div class="msg blocked" data-seq=seq tabindex="-1">
                <span class="blocked-note">"Message from a blocked person"</span>
                <button type="button" class="ghost" on:click=move |_| shown.set(true)>"Show"</button>
            </div>
        }>
            {message_view(unfolded.clone(), room, live)}
        </Show>
    }
    .into_any()
}

/// Editing a message where it is: Enter saves, Shift+Enter is a new line,
/// Escape (or Cancel) leaves it as it was.
#[component]
fn EditBox(room: RoomId, seq: i64, body: String) -> impl IntoView {
    let live = expect_context::<Live>();
    let original = body.clone();
    let text = RwSignal::new(body);
    let input = NodeRef::<leptos::html::Textarea>::new();
    Effect::new(move |_| {
        if let Some(el) = input.get() {
            let _ = el.focus();
            let end = el.value().encode_utf16().count() as u32;
            let _ = el.set_selection_range(end, end);
        }
    });
    let problem =
        Memo::new(move |_| text.with(|t| check_body(t, live.max_body.get()).err().map(|e| e.to_string())));
    let mention = Mentioning::new("edit");
    let pick = Callback::new(move |i: usize| {
        if let Some(next) = input.get_untracked().and_then(|el| mention.pick(i, &el)) {
            text.set(next);
        }
    });
    let offer = move || {
        if let Some(el) = input.get_untracked() {
            mention.typed(&el, live, room);
        }
    };
    // Names found by the server while the list is open: it looks again.
    Effect::watch(move || live.names.get(), move |_, _, _| offer(), false);
    let save = move || {
        let body = text.get_untracked();
        if check_body(&body, live.max_body.get_untracked()).is_err() {
            return;
        }
        if body != original {
            let mentions = mention.take(&body);
            live.edit(room, seq, body, mentions);
        }
        live.stop_editing();
    };
    let save_click = save.clone();
    view! {
        <div class="edit-box">
            <MentionList m=mention pick=pick/>
            <textarea aria-label="Edited text" node_ref=input prop:value=text rows="2"
                aria-invalid=move || problem.with(Option::is_some).then_some("true")
                aria-controls=move || mention.controls()
                aria-activedescendant=move || mention.active_option()
                on:input=move |ev| {
                    text.set(event_target_value(&ev));
                    offer();
                }
                on:blur=move |_| mention.offered.set(Vec::new())
                on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                    if let Some(next) = input.get_untracked().and_then(|el| mention.key(&ev, &el)) {
                        text.set(next);
                        return;
                    }
                    if ev.key() == "Escape" {
                        ev.prevent_default();
                        live.stop_editing();
                    } else if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                        ev.prevent_default();
                        save();
                    }
                }></textarea>
            <p class="compose-note error" aria-live="polite">{move || problem.get()}</p>
            <span class="edit-actions">
                <button type="button" class="ghost" on:click=move |_| live.stop_editing()>"Cancel"</button>
                <button type="button" class="primary" disabled=move || problem.with(Option::is_some)
                    on:click=move |_| save_click()>"Save"</button>
            </span>
        </div>
    }
}

fn focus_first(menu: NodeRef<leptos::html::Div>) {
    use leptos::wasm_bindgen::JsCast;
    let first = menu
        .get_untracked()
        .and_then(|m| m.query_selector("button").ok().flatten())
        .and_then(|e| e.dyn_into::<leptos::web_sys::HtmlElement>().ok());
    if let Some(el) = first {
        let _ = el.focus();
    }
}

/// Whether a context menu was asked by touch (a long press), not a mouse.
fn touch(ev: &leptos::ev::MouseEvent) -> bool {
    use leptos::wasm_bindgen::JsValue;
    leptos::web_sys::js_sys::Reflect::get(ev, &JsValue::from_str("pointerType"))
        .ok()
        .and_then(|t| t.as_string())
        .is_some_and(|t| t == "touch")
}

/// Puts text on the clipboard (browser only; the click that asks runs there).
fn copy(text: &str) {
    use leptos::wasm_bindgen::{JsCast, JsValue};
    use leptos::web_sys::js_sys::{Function, Reflect};
    let clipboard = Reflect::get(&window(), &JsValue::from_str("navigator"))
        .and_then(|n| Reflect::get(&n, &JsValue::from_str("clipboard")));
    let Ok(clipboard) = clipboard else { return };
    let write = Reflect::get(&clipboard, &JsValue::from_str("writeText"))
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok());
    let Some(promise) = write
        .and_then(|w| w.call1(&clipboard, &JsValue::from_str(text)).ok())
        .and_then(|p| p.dyn_into::<leptos::web_sys::js_sys::Promise>().ok())
    else {
        return;
    };
    // Refused (no permission): nothing to say, and no unhandled rejection.
    let ignore = leptos::wasm_bindgen::closure::Closure::<dyn FnMut(JsValue)>::new(|_| {});
    let _ = promise.catch(&ignore);
    ignore.forget();
}
