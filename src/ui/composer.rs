//! The message box of a room: its draft kept, Enter to send, typing
//! reported, the length counted down near the limit, what cannot be sent
//! said (never cut), emoji inserted at the cursor from the picker, the
//! message being answered shown above it (Escape lets go of it), members
//! mentioned from the list `@` opens (`mentions`), the Up arrow in an
//! empty box editing my last message, and files attached from the 📎
//! button, a paste or a drop (`attach`), sent with the message once uploaded.

use leptos::{ev::SubmitEvent, prelude::*};

use super::attach::Attaching;
use super::attach_list::AttachList;
use super::drafts;
use super::emoji::EmojiPicker;
use super::live::Live;
use super::mentions::{MentionList, Mentioning};
use super::upload;
use crate::model::{check_body, BodyError, RoomId};

/// Enter sends, Shift+Enter starts a new line. What is typed is the room's
/// draft until sent: it stays when the person switches rooms or reloads.
/// Near the limit the remaining characters show; over it, or with a
/// character a message may not hold, it cannot be sent and says why (the
/// text is never cut).
#[component]
pub fn Composer(room: RoomId) -> impl IntoView {
    let live = expect_context::<Live>();
    let text = RwSignal::new(String::new());
    let input = NodeRef::<leptos::html::Textarea>::new();
    // Browser only: the saved draft, and the focus on a wide screen (on a
    // phone it would cover the room with the keyboard).
    Effect::new(move |_| {
        let draft = drafts::load(live.user(), room);
        if !draft.is_empty() {
            text.set(draft);
        }
        if let Some(el) = input.get() {
            if window()
                .inner_width()
                .ok()
                .and_then(|w| w.as_f64())
                .unwrap_or(0.0)
                > 720.0
            {
                let _ = el.focus();
            }
        }
    });
    let problem = Memo::new(move |_| {
        text.with(|t| match check_body(t, live.max_body.get()) {
            Err(BodyError::Empty) | Ok(()) => None,
            Err(e) => Some(e.to_string()),
        })
    });
    let left = move || {
        let max = live.max_body.get();
        let used = text.with(|t| t.chars().count());
        (used + 200 > max && used <= max).then(|| format!("{} left", max - used))
    };
    let picking = RwSignal::new(false);
    let emoji_button = NodeRef::<leptos::html::Button>::new();
    // An emoji goes where the cursor is (replacing a selection), and the
    // cursor after it.
    let insert = Callback::new(move |emoji: &'static str| {
        let Some(el) = input.get_untracked() else { return };
        let value = el.value();
        let at = |i: Option<u32>| {
            // The browser counts UTF-16 units; the text is indexed by bytes.
            let units = i.unwrap_or(u32::MAX) as usize;
            let mut seen = 0;
            value
                .char_indices()
                .find(|(_, c)| {
                    let here = seen >= units;
                    seen += c.len_utf16();
                    here
                })
                .map_or(value.len(), |(b, _)| b)
        };
        let (start, end) = (
            at(el.selection_start().ok().flatten()),
            at(el.selection_end().ok().flatten()),
        );
        let (start, end) = (start.min(end), start.max(end));
        let next = format!("{}{emoji}{}", &value[..start], &value[end..]);
        let cursor = (value[..start].encode_utf16().count() + emoji.encode_utf16().count()) as u32;
        drafts::save(live.user(), room, &next);
        text.set(next.clone());
        el.set_value(&next);
        let _ = el.focus();
        let _ = el.set_selection_range(cursor, cursor);
    });
    let mention = Mentioning::new("composer");
    let pick = Callback::new(move |i: usize| {
        let Some(el) = input.get_untracked() else { return };
        if let Some(next) = mention.pick(i, &el) {
            drafts::save(live.user(), room, &next);
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
    let replying = move || live.replying.get().filter(|(r, _)| *r == room).map(|(_, q)| q);
    let attaching = Attaching::new();
    let file_input = NodeRef::<leptos::html::Input>::new();
    let wait = RwSignal::new(None::<&'static str>);
    // With files the text may be empty; nothing goes before they are all up.
    let sendable = move |body: &str| {
        let files = !attaching.done().is_empty();
        match check_body(body, live.max_body.get()) {
            Ok(()) => true,
            Err(BodyError::Empty) => files,
            Err(_) => false,
        }
    };
    let submit = move || {
        let body = text.get_untracked();
        if attaching.busy() || attaching.failed() {
            wait.set(Some(match attaching.failed() {
                true => "A file could not be uploaded: try it again or remove it.",
                false => "Wait for the files to finish uploading.",
            }));
            return;
        }
        if sendable(&body) {
            let mentions = mention.take(&body);
            live.send_message(room, body, mentions, attaching.done());
            upload::clear(attaching);
            wait.set(None);
            text.set(String::new());
            drafts::save(live.user(), room, "");
        }
    };
    Effect::watch(
        move || attaching.busy(),
        move |busy, _, _| {
            if !busy {
                wait.set(None)
            }
        },
        false,
    );
    // Files dropped anywhere on the page while the room is open are
    // attached here (`upload::guard_page` keeps the browser from opening
    // them); text dropped into the box is the browser's to insert.
    let dropped = window_event_listener(leptos::ev::drop, move |ev| {
        if upload::from_drop(&ev, attaching) {
            ev.prevent_default();
        }
    });
    on_cleanup(move || dropped.remove());
    view! {
        <Show when=move || replying().is_some()>
            <div class="reply-banner" role="status">
                <span class="quote-from">{move || replying().map(|q| format!("Replying to {}", q.from))}</span>
                <span class="quote-text">{move || replying().map(|q| q.text)}</span>
                <button type="button" class="ghost" aria-label="Cancel the reply"
                    on:click=move |_| {
                        live.replying.set(None);
                        live.focus_composer();
                    }>"✕"</button>
            </div>
        </Show>
        <AttachList a=attaching/>
        <form class="composer" on:submit=move |ev: SubmitEvent| {
            ev.prevent_default();
            submit();
        }>
            <input type="file" multiple class="visually-hidden" tabindex="-1" aria-hidden="true" node_ref=file_input
                on:change=move |ev| upload::from_input(&ev, attaching)/>
            <button type="button" class="ghost attach-toggle" aria-label="Attach files"
                on:click=move |_| {
                    if let Some(el) = file_input.get_untracked() {
                        el.click();
                    }
                }>"📎"</button>
            <button type="button" class="ghost emoji-toggle" node_ref=emoji_button
                aria-label="Insert emoji" aria-haspopup="dialog"
                aria-expanded=move || picking.get().to_string()
                on:click=move |_| picking.update(|p| *p = !*p)
                // Escape closes it even before the focus has gone into it.
                on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                    if ev.key() == "Escape" && picking.get_untracked() {
                        ev.prevent_default();
                        picking.set(false);
                    }
                }>"😊"</button>
            <EmojiPicker open=picking pick=insert back=emoji_button/>
            <div class="compose">
                <MentionList m=mention pick=pick/>
                <textarea aria-label="Message" placeholder="Write a message…" rows="1" node_ref=input
                    aria-controls=move || mention.controls()
                    aria-activedescendant=move || mention.active_option()
                    aria-invalid=move || problem.with(Option::is_some).then_some("true")
                    aria-describedby=format!("compose-note-{room}")
                    prop:value=text
                    on:input=move |ev| {
                        let value = event_target_value(&ev);
                        if !value.trim().is_empty() {
                            live.typing(room);
                        }
                        drafts::save(live.user(), room, &value);
                        text.set(value);
                        offer();
                    }
                    on:click=move |_| offer()
                    on:paste=move |ev: leptos::ev::ClipboardEvent| {
                        if upload::from_paste(&ev, attaching) {
                            ev.prevent_default();
                        }
                    }
                    on:blur=move |_| mention.offered.set(Vec::new())
                    on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                        if let Some(el) = input.get_untracked() {
                            if let Some(next) = mention.key(&ev, &el) {
                                drafts::save(live.user(), room, &next);
                                text.set(next);
                                return;
                            }
                        }
                        let plain = !(ev.shift_key() || ev.ctrl_key() || ev.alt_key() || ev.meta_key());
                        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                            ev.prevent_default();
                            submit();
                        } else if ev.key() == "Escape" && replying().is_some() {
                            ev.prevent_default();
                            live.replying.set(None);
                        } else if ev.key() == "ArrowUp" && plain && text.with_untracked(String::is_empty) {
                            if let Some(seq) = live.last_editable(room) {
                                ev.prevent_default();
                                live.editing.set(Some((room, seq)));
                                live.jump_to(room, seq);
                            }
                        }
                    }
                ></textarea>
                <p class="compose-note" id=format!("compose-note-{room}") aria-live="polite"
                    class:error=move || problem.with(Option::is_some) || wait.with(Option::is_some)>
                    {move || wait.get().map(str::to_string).or_else(|| problem.get()).or_else(left)}
                </p>
            </div>
            <button type="submit" class="primary"
                disabled=move || attaching.busy() || !text.with(|t| sendable(t))>"Send"</button>
        </form>
    }
}
