//! Mentions on screen: typing `@` in a message box opens a list of the
//! room's members that narrows as one types (a combobox: the focus stays in
//! the box, the arrows move, Enter or Tab picks, Escape closes); a pick
//! puts `@Name ` in the text and remembers the member's id, which is what
//! the message carries (never a name matched in the text). A body shows the
//! names of the members it mentions highlighted, mine more so.
//!
//! The text work (`query_at`, `matching`, `mentioned`, `split`) is pure.

use leptos::prelude::*;

use super::live::Live;
use crate::model::{RoomId, UserId};

/// The most members the list offers at once.
const OFFERED: usize = 8;

/// The mention being typed at byte `cursor` of `text`: where its `@` is and
/// what follows it — an `@` at the start or after white space, with no
/// white space between it and the cursor.
pub fn query_at(text: &str, cursor: usize) -> Option<(usize, &str)> {
    let before = text.get(..cursor)?;
    let at = before.rfind('@')?;
    let query = &before[at + 1..];
    let starts_word = before[..at].chars().next_back().is_none_or(char::is_whitespace);
    (starts_word && !query.chars().any(char::is_whitespace)).then_some((at, query))
}

/// The members whose name (or a word of it) starts with `query`, ignoring
/// case, not me, at most `OFFERED`, in the order given.
pub fn matching(members: &[(UserId, String)], me: UserId, query: &str) -> Vec<(UserId, String)> {
    let q = query.to_lowercase();
    members
        .iter()
        .filter(|(id, _)| *id != me)
        .filter(|(_, name)| {
            let name = name.to_lowercase();
            name.starts_with(&q) || name.split_whitespace().any(|w| w.starts_with(&q))
        })
        .take(OFFERED)
        .cloned()
        .collect()
}

/// The picked members whose `@Name` is still in `body`: what it mentions.
pub fn mentioned(body: &str, picked: &[(UserId, String)]) -> Vec<UserId> {
    let mut ids: Vec<UserId> = picked
        .iter()
        .filter(|(_, name)| body.contains(&format!("@{name}")))
        .map(|(id, _)| *id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// A run of a body's text: plain, or the `@Name` of a mentioned member
/// (and whether it is me).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Mention { text: String, me: bool },
}

/// `text` cut where it names one of `names` as `@Name` (the longest name
/// first where two start alike).
pub fn split(text: &str, names: &[(String, bool)]) -> Vec<Piece> {
    let mut names: Vec<&(String, bool)> = names.iter().filter(|(n, _)| !n.is_empty()).collect();
    names.sort_by_key(|(n, _)| std::cmp::Reverse(n.len()));
    let mut pieces = Vec::new();
    let mut rest = text;
    let mut plain = String::new();
    while let Some(i) = rest.find('@') {
        plain.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match names.iter().find(|(n, _)| after.starts_with(n.as_str())) {
            Some((name, me)) => {
                if !plain.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut plain)));
                }
                pieces.push(Piece::Mention {
                    text: format!("@{name}"),
                    me: *me,
                });
                rest = &after[name.len()..];
            }
            None => {
                plain.push('@');
                rest = after;
            }
        }
    }
    plain.push_str(rest);
    if !plain.is_empty() {
        pieces.push(Piece::Text(plain));
    }
    pieces
}

/// The mention list of one text box: open while a mention is being typed.
#[derive(Clone, Copy)]
pub struct Mentioning {
    /// The members offered now (empty: closed).
    pub offered: RwSignal<Vec<(UserId, String)>>,
    /// Which of them Enter would pick.
    pub active: RwSignal<usize>,
    /// The members picked so far in this text.
    pub picked: RwSignal<Vec<(UserId, String)>>,
    /// A name for the list's element ids.
    id: &'static str,
}

impl Mentioning {
    pub fn new(id: &'static str) -> Self {
        Self {
            offered: RwSignal::new(Vec::new()),
            active: RwSignal::new(0),
            picked: RwSignal::new(Vec::new()),
            id,
        }
    }

    /// The text or the cursor moved (or names came): offers the members
    /// that match the mention being typed, if one is; in a big room whose
    /// members are not all known, the server is asked for more by name.
    pub fn typed(&self, el: &leptos::web_sys::HtmlTextAreaElement, live: Live, room: RoomId) {
        let value = el.value();
        let cursor = byte_at(&value, el.selection_start().ok().flatten());
        let query = query_at(&value, cursor).map(|(_, q)| q);
        let offer = query
            .map(|q| matching(&live.members(room), live.user(), q))
            .unwrap_or_default();
        if let Some(q) = query.filter(|q| !q.is_empty() && offer.len() < OFFERED) {
            live.find_members(room, q);
        }
        if self.offered.with_untracked(|o| *o != offer) {
            self.active.set(0);
            self.offered.set(offer);
        }
    }

    /// A key in the text box: the text as it is now if the list took the
    /// key (a pick changes it), None if the key is the box's.
    pub fn key(
        &self,
        ev: &leptos::ev::KeyboardEvent,
        el: &leptos::web_sys::HtmlTextAreaElement,
    ) -> Option<String> {
        let count = self.offered.with_untracked(Vec::len);
        if count == 0 {
            return None;
        }
        match ev.key().as_str() {
            "ArrowDown" => self.active.update(|a| *a = (*a + 1) % count),
            "ArrowUp" => self.active.update(|a| *a = (*a + count - 1) % count),
            "Escape" => self.offered.set(Vec::new()),
            "Enter" | "Tab" if !ev.shift_key() => {
                ev.prevent_default();
                ev.stop_propagation();
                return self.pick(self.active.get_untracked(), el);
            }
            _ => return None,
        }
        ev.prevent_default();
        ev.stop_propagation();
        Some(el.value())
    }

    /// Puts member `i` of the list in the text in place of what was typed
    /// after `@`; the new text.
    pub fn pick(&self, i: usize, el: &leptos::web_sys::HtmlTextAreaElement) -> Option<String> {
        let (id, name) = self.offered.with_untracked(|o| o.get(i).cloned())?;
        let value = el.value();
        let cursor = byte_at(&value, el.selection_start().ok().flatten());
        let (at, _) = query_at(&value, cursor)?;
        let next = format!("{}@{name} {}", &value[..at], &value[cursor..]);
        let caret = (value[..at].encode_utf16().count() + name.encode_utf16().count() + 2) as u32;
        el.set_value(&next);
        let _ = el.set_selection_range(caret, caret);
        let _ = el.focus();
        self.picked.update(|p| {
            if !p.iter().any(|(u, _)| *u == id) {
                p.push((id, name));
            }
        });
        self.offered.set(Vec::new());
        Some(next)
    }

    /// What `body` mentions of the members picked, and the list forgotten.
    pub fn take(&self, body: &str) -> Vec<UserId> {
        let ids = self.picked.with_untracked(|p| mentioned(body, p));
        self.picked.set(Vec::new());
        self.offered.set(Vec::new());
        ids
    }

    /// The list's element id while it is open (the box's `aria-controls`).
    pub fn controls(&self) -> Option<String> {
        self.offered.with(|o| !o.is_empty()).then(|| self.list_id())
    }

    /// The option Enter would pick, while the list is open (the box's
    /// `aria-activedescendant`).
    pub fn active_option(&self) -> Option<String> {
        self.offered
            .with(|o| !o.is_empty())
            .then(|| self.option_id(self.active.get()))
    }

    fn list_id(&self) -> String {
        format!("mentions-{}", self.id)
    }

    fn option_id(&self, i: usize) -> String {
        format!("mentions-{}-{i}", self.id)
    }
}

/// The list, under the text box it belongs to; `pick` gets a click on one.
#[component]
pub fn MentionList(m: Mentioning, pick: Callback<usize>) -> impl IntoView {
    view! {
        <Show when=move || m.offered.with(|o| !o.is_empty())>
            <ul class="mention-list" role="listbox" id=m.list_id() aria-label="Members to mention">
                {move || m.offered.get().into_iter().enumerate().map(|(i, (_, name))| view! {
                    <li role="option" id=m.option_id(i)
                        aria-selected=move || (m.active.get() == i).to_string()
                        class:active=move || m.active.get() == i
                        on:mousedown=move |ev| {
                            // Keep the focus in the text box.
                            ev.prevent_default();
                            pick.run(i);
                        }>
                        {format!("@{name}")}
                    </li>
                }).collect_view()}
            </ul>
        </Show>
    }
}

/// The byte of `text` at UTF-16 offset `units` (what the browser counts).
fn byte_at(text: &str, units: Option<u32>) -> usize {
    let units = units.map_or(text.len(), |u| u as usize);
    let mut seen = 0;
    for (b, c) in text.char_indices() {
        if seen >= units {
            return b;
        }
        seen += c.len_utf16();
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members() -> Vec<(UserId, String)> {
        vec![
            (1, "Ann Lee".into()),
            (2, "Ben".into()),
            (3, "Annika".into()),
            (4, "김민수".into()),
        ]
    }

    #[test]
    fn a_mention_is_typed_after_an_at_that_starts_a_word() {
        assert_eq!(query_at("hi @an", 6), Some((3, "an")));
        assert_eq!(query_at("@", 1), Some((0, "")));
        assert_eq!(query_at("mail me@host", 12), None, "inside a word");
        assert_eq!(query_at("@ann lee", 8), None, "past a space");
        assert_eq!(query_at("@ann", 2), Some((0, "a")), "up to the cursor");
        assert_eq!(
            query_at("안녕 @김", "안녕 @김".len()),
            Some(("안녕 ".len(), "김"))
        );
    }

    #[test]
    fn members_match_by_any_word_ignoring_case_but_not_me() {
        let names =
            |q: &str| -> Vec<UserId> { matching(&members(), 3, q).into_iter().map(|m| m.0).collect() };
        assert_eq!(names("an"), [1], "Annika is me");
        assert_eq!(names("LEE"), [1]);
        assert_eq!(names(""), [1, 2, 4]);
        assert_eq!(names("김"), [4]);
        assert!(names("zed").is_empty());
    }

    #[test]
    fn only_the_picked_names_still_in_the_text_are_mentioned() {
        let picked = vec![(2, "Ben".to_string()), (1, "Ann Lee".to_string())];
        assert_eq!(mentioned("@Ann Lee and @Ben!", &picked), [1, 2]);
        assert_eq!(mentioned("just @Ben", &picked), [2]);
        assert!(mentioned("Ben, Ann Lee", &picked).is_empty(), "no @, no mention");
    }

    #[test]
    fn a_body_is_cut_at_the_names_it_mentions() {
        let names = vec![("Ann".to_string(), false), ("Ann Lee".to_string(), true)];
        assert_eq!(
            split("hi @Ann Lee, @Bob and @Ann", &names),
            [
                Piece::Text("hi ".into()),
                Piece::Mention {
                    text: "@Ann Lee".into(),
                    me: true
                },
                Piece::Text(", @Bob and ".into()),
                Piece::Mention {
                    text: "@Ann".into(),
                    me: false
                },
            ]
        );
        assert_eq!(split("no one", &names), [Piece::Text("no one".into())]);
        assert_eq!(split("a@", &[]), [Piece::Text("a@".into())]);
    }
}
