//! The emoji picker: a grid of common emoji, by mouse or by keyboard (the
//! arrows move, Enter or Space picks, Escape closes and gives the focus
//! back). The composer inserts what is picked at its cursor; reactions will
//! pick from the same grid.

use leptos::prelude::*;
use leptos::wasm_bindgen::JsCast;

/// The emoji offered, with the name a screen reader says.
pub const EMOJI: &[(&str, &str)] = &[
    ("😀", "grinning"),
    ("😂", "tears of joy"),
    ("🙂", "smile"),
    ("😉", "wink"),
    ("😍", "heart eyes"),
    ("🥰", "smiling with hearts"),
    ("😘", "kiss"),
    ("😎", "sunglasses"),
    ("🤔", "thinking"),
    ("😅", "sweat smile"),
    ("😭", "crying"),
    ("😮", "surprised"),
    ("😴", "sleeping"),
    ("🙃", "upside down"),
    ("😬", "grimacing"),
    ("🤯", "mind blown"),
    ("👍", "thumbs up"),
    ("👎", "thumbs down"),
    ("👏", "clapping"),
    ("🙏", "thank you"),
    ("🙌", "raised hands"),
    ("👋", "waving"),
    ("💪", "strong"),
    ("🤝", "handshake"),
    ("❤️", "heart"),
    ("🔥", "fire"),
    ("🎉", "party"),
    ("✨", "sparkles"),
    ("✅", "done"),
    ("❌", "cross"),
    ("⭐", "star"),
    ("💯", "hundred"),
    ("☕", "coffee"),
    ("🍕", "pizza"),
    ("🎂", "cake"),
    ("🍻", "cheers"),
    ("🚀", "rocket"),
    ("👀", "eyes"),
    ("💡", "idea"),
    ("📌", "pin"),
];

/// Emoji per row of the grid (the arrows Up and Down move by this many).
const COLUMNS: usize = 8;

/// Where the focus goes from `at` on `key`, or None for a key it ignores.
pub fn step(at: usize, key: &str, count: usize) -> Option<usize> {
    let last = count.checked_sub(1)?;
    Some(match key {
        "ArrowRight" => (at + 1).min(last),
        "ArrowLeft" => at.saturating_sub(1),
        "ArrowDown" => (at + COLUMNS).min(last),
        "ArrowUp" => at.saturating_sub(COLUMNS),
        "Home" => 0,
        "End" => last,
        _ => return None,
    })
}

/// The grid, shown while `open`; `pick` gets the emoji chosen. `back` is
/// where the focus returns when it closes without a pick.
#[component]
pub fn EmojiPicker(
    open: RwSignal<bool>,
    pick: Callback<&'static str>,
    back: NodeRef<leptos::html::Button>,
) -> impl IntoView {
    let grid = NodeRef::<leptos::html::Div>::new();
    // Opening puts the focus on the first emoji.
    Effect::new(move |_| {
        if open.get() {
            request_animation_frame(move || focus_at(grid, 0));
        }
    });
    let close = move || {
        open.set(false);
        if let Some(b) = back.get_untracked() {
            let _ = b.focus();
        }
    };
    let keys = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            ev.prevent_default();
            ev.stop_propagation();
            close();
            return;
        }
        let at = document()
            .active_element()
            .and_then(|e| e.get_attribute("data-i"))
            .and_then(|i| i.parse::<usize>().ok())
            .unwrap_or(0);
        if let Some(next) = step(at, &ev.key(), EMOJI.len()) {
            ev.prevent_default();
            focus_at(grid, next);
        }
    };
    view! {
        <Show when=move || open.get()>
            <div class="emoji-backdrop" on:click=move |_| close()></div>
            <div class="emoji-picker" role="dialog" aria-label="Emoji" node_ref=grid on:keydown=keys>
                {EMOJI
                    .iter()
                    .enumerate()
                    .map(|(i, &(emoji, name))| view! {
                        <button type="button" class="emoji" data-i=i aria-label=name title=name
                            tabindex=if i == 0 { "0" } else { "-1" }
                            on:click=move |_| {
                                open.set(false);
                                pick.run(emoji);
                            }>
                            {emoji}
                        </button>
                    })
                    .collect_view()}
            </div>
        </Show>
    }
}

fn focus_at(grid: NodeRef<leptos::html::Div>, i: usize) {
    let target = grid
        .get_untracked()
        .and_then(|g| g.query_selector(&format!("[data-i='{i}']")).ok().flatten())
        .and_then(|e| e.dyn_into::<leptos::web_sys::HtmlElement>().ok());
    if let Some(el) = target {
        let _ = el.focus();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arrows_move_within_the_grid() {
        let n = EMOJI.len();
        assert_eq!(step(0, "ArrowRight", n), Some(1));
        assert_eq!(step(0, "ArrowLeft", n), Some(0), "stays at the first");
        assert_eq!(step(3, "ArrowDown", n), Some(3 + COLUMNS));
        assert_eq!(step(n - 2, "ArrowDown", n), Some(n - 1), "stops at the last");
        assert_eq!(step(COLUMNS + 2, "ArrowUp", n), Some(2));
        assert_eq!((step(5, "Home", n), step(5, "End", n)), (Some(0), Some(n - 1)));
        assert_eq!(step(5, "a", n), None, "other keys are the page's");
        assert_eq!(step(0, "ArrowRight", 0), None, "an empty grid");
    }
}
