//! A room's messages in seq order: rows with ticks and times, the unread
//! divider, "↓ N new", following the bottom, older pages loading when
//! scrolled to the top, and the page around a message far back loaded to
//! show it (the hole it leaves below fills when scrolled to, or by its button).

use leptos::prelude::*;

use super::live::Live;
use super::message::message_view;
use super::rows::Row;
use super::seen;
use crate::model::RoomId;
use crate::protocol::Seq;

/// The messages of a room in seq order; older pages load when scrolled to the top.
#[component]
pub fn Timeline(room: RoomId) -> impl IntoView {
    let live = expect_context::<Live>();
    let rows = live.timeline(room);
    let scroller = NodeRef::<leptos::html::Div>::new();
    // Follow new messages while the view is at the bottom; when older ones
    // are put above, keep what the person was reading where it was; scrolled
    // up, new messages do not move the view: "↓ N new" counts them.
    let stick = StoredValue::new(true);
    let shown = StoredValue::new((None::<String>, 0));
    let below = RwSignal::new(0usize);
    // The newest seq that was on screen at the bottom: others' messages
    // after it are the new ones below.
    let seen_to = StoredValue::new(0 as Seq);
    // Opening a room with unread messages jumps to the "N new messages"
    // divider, once; without one it starts at the bottom.
    let jumped = StoredValue::new(false);
    Effect::new(move |before: Option<Option<String>>| {
        let (first, last) = rows.with(|r| {
            let mut msgs = r.iter().filter(|r| matches!(r, Row::Msg(_))).map(Row::key);
            (
                msgs.next(),
                r.iter().rev().find(|r| matches!(r, Row::Msg(_))).map(Row::key),
            )
        });
        let Some(el) = scroller.get() else { return last };
        let grew = before.is_some_and(|b| b != last);
        // After the list has rendered the change — unless the room was
        // switched away from meanwhile (the pane and its state are gone).
        request_animation_frame(move || {
            let Some((old_first, old_height)) = shown.try_get_value() else {
                return;
            };
            let Some(tail) = rows.try_with_untracked(|r| Tail::of(r)) else {
                return;
            };
            // What the person just sent is followed down.
            if grew && tail.last_mine {
                stick.set_value(true);
            }
            let divider = el.query_selector(".unread-divider").ok().flatten();
            if let Some(divider) = divider.filter(|_| !jumped.get_value()) {
                jumped.set_value(true);
                divider.scroll_into_view();
                stick.set_value(at_bottom(&el));
                seen_to.set_value(tail.before_divider);
            } else if stick.get_value() {
                el.set_scroll_top(el.scroll_height());
            } else if old_first.is_some() && first != old_first {
                el.set_scroll_top(el.scroll_top() + el.scroll_height() - old_height);
            }
            if stick.get_value() {
                seen_to.set_value(tail.newest);
            }
            let new = rows.with_untracked(|r| Tail::others_after(r, seen_to.get_value()));
            if below.get_untracked() != new {
                below.set(new);
            }
            shown.set_value((first, el.scroll_height()));
            // New message elements join the read watch.
            seen::observe(room);
        });
        last
    });
    // A message asked for (a reply's quote, the message being edited): on
    // screen, highlighted and focused; not yet loaded, the page around it
    // is asked for.
    Effect::new(move |_| {
        let Some((r, seq)) = live.jump.get().filter(|(r, _)| *r == room) else {
            return;
        };
        rows.track();
        request_animation_frame(move || {
            let Some(el) = scroller.get_untracked() else {
                return;
            };
            let found = el
                .query_selector(&format!(".msg[data-seq='{seq}']"))
                .ok()
                .flatten();
            if let Some(target) = found {
                stick.set_value(false);
                target.scroll_into_view();
                let classes = target.class_list();
                let _ = classes.remove_1("flash");
                let _ = classes.add_1("flash");
                if live.editing.get_untracked().is_none() {
                    if let Ok(target) =
                        leptos::wasm_bindgen::JsCast::dyn_into::<leptos::web_sys::HtmlElement>(target)
                    {
                        let _ = target.focus();
                    }
                }
                live.jump.set(None);
            } else if !live.load_around(r, seq) {
                live.jump.set(None);
            }
        });
    });
    // Browser only: count what is on screen as read while the page has focus.
    Effect::new(move |_| {
        if scroller.get().is_some() {
            seen::start(room, live);
        }
    });
    on_cleanup(move || seen::stop(room));
    // Only the person scrolling up lets go of the bottom: a scroll event can
    // report the position of the last follow-down after the next message
    // already made the list taller.
    let last_top = StoredValue::new(0);
    let on_scroll = move |_| {
        if let Some(el) = scroller.get_untracked() {
            let top = el.scroll_top();
            if at_bottom(&el) {
                stick.set_value(true);
            } else if top < last_top.get_value() {
                stick.set_value(false);
            }
            last_top.set_value(top);
            if stick.get_value() {
                seen_to.set_value(rows.with_untracked(|r| Tail::of(r).newest));
                if below.get_untracked() != 0 {
                    below.set(0);
                }
            }
            if el.scroll_top() < 80 {
                live.load_older(room);
            }
            // A hole scrolled into view fills.
            if let Some(from) = visible_gap(&el) {
                live.fill_hole(room, from);
            }
        }
    };
    let to_latest = move |_| {
        if let Some(el) = scroller.get_untracked() {
            el.set_scroll_top(el.scroll_height());
        }
    };
    view! {
        <div class="timeline" node_ref=scroller on:scroll=on_scroll data-room=room>
            <Show when=move || rows.with(|r| r.is_empty())>
                <p class="muted empty-room">"No messages yet. Say hello!"</p>
            </Show>
            <For each=move || rows.get() key=|r| r.render_key() let:row>
                {row_view(row, room, live)}
            </For>
            <Show when=move || { below.get() > 0 }>
                <button type="button" class="to-latest" on:click=to_latest
                    aria-label=move || format!("{} new messages below: jump to the latest", below.get())>
                    {move || format!("↓ {} new", below.get())}
                </button>
            </Show>
        </div>
    }
}

/// The first seq of the hole on screen in the timeline, if one is (the
/// timeline is positioned: its rows' offsets are within it).
fn visible_gap(el: &leptos::web_sys::HtmlDivElement) -> Option<Seq> {
    let gap = el.query_selector(".gap").ok().flatten()?;
    let gap: leptos::web_sys::HtmlElement = leptos::wasm_bindgen::JsCast::dyn_into(gap).ok()?;
    let top = gap.offset_top() - el.scroll_top();
    let shown = top + gap.offset_height() >= 0 && top <= el.client_height();
    shown
        .then(|| gap.get_attribute("data-from")?.parse().ok())
        .flatten()
}

/// Whether a timeline is scrolled to (near) its bottom.
fn at_bottom(el: &leptos::web_sys::HtmlDivElement) -> bool {
    el.scroll_top() + el.client_height() >= el.scroll_height() - 60
}

/// What the timeline's scrolling needs to know of its rows.
struct Tail {
    /// The newest stored seq.
    newest: Seq,
    /// The last row is one of mine.
    last_mine: bool,
    /// The seq before the "N new messages" divider, if there is one.
    before_divider: Seq,
}

impl Tail {
    fn of(rows: &[Row]) -> Self {
        let mut tail = Tail {
            newest: 0,
            last_mine: false,
            before_divider: 0,
        };
        let mut divider = false;
        for row in rows {
            match row {
                Row::Msg(m) => {
                    tail.newest = tail.newest.max(m.seq.unwrap_or(0));
                    tail.last_mine = m.mine;
                    if !divider {
                        tail.before_divider = tail.newest;
                    }
                }
                Row::Unread { .. } => divider = true,
                Row::Day { .. } | Row::Gap { .. } | Row::Note { .. } => {}
            }
        }
        tail
    }

    /// Others' messages after `seq`.
    fn others_after(rows: &[Row], seq: Seq) -> usize {
        rows.iter()
            .filter(|r| matches!(r, Row::Msg(m) if !m.mine && m.seq.is_some_and(|s| s > seq)))
            .count()
    }
}

fn row_view(row: Row, room: RoomId, live: Live) -> AnyView {
    match row {
        Row::Day { label, .. } => view! { <div class="day"><span>{label}</span></div> }.into_any(),
        Row::Unread { label, .. } => {
            view! { <div class="unread-divider" role="separator"><span>{label}</span></div> }.into_any()
        }
        Row::Msg(m) => message_view(*m, room, live),
        Row::Note { text, .. } => {
            view! { <div class="note" role="note"><span>{text}</span></div> }.into_any()
        }
        Row::Gap { from, .. } => view! {
            <div class="gap" data-from=from>
                <button type="button" class="ghost" on:click=move |_| live.fill_hole(room, from)>
                    "Load the messages in between"
                </button>
            </div>
        }
        .into_any(),
    }
}
