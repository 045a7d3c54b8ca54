//! The modal frame, the "new direct message" and "new group" dialogs, and
//! the form that adds people to a group.

use std::future::Future;

use leptos::wasm_bindgen::JsCast;
use leptos::web_sys;
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};
use leptos_router::hooks::use_navigate;

use super::avatar::Avatar;

use crate::api::{add_members, create_group, find_people, open_direct, ApiError};
use crate::model::{MemberPage, PeoplePage, RoomId, RoomSummary, HANDLE_RULES};

/// The caller's rooms as the page loaded them (the room list before the
/// socket's `welcome`; refetched after a dialog made a room).
pub type RoomsResource = Resource<Result<Vec<RoomSummary>, ApiError>>;
/// A page of an open room's members (its header names a few and counts the rest).
pub type MembersResource = Resource<Result<MemberPage, ApiError>>;

/// Which dialog is open, if any.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Dialog {
    Direct,
    Group,
    /// Search, in one room or (None) in all of mine.
    Search(Option<RoomId>),
    /// A group's settings and members.
    Settings(RoomId),
}

/// A modal frame: closes on Escape, on the close button and on a click
/// outside. Opening it moves the focus to its first field; Tab and
/// Shift+Tab stay inside it; closing it gives the focus back to what had it
/// (the button that opened it).
#[component]
pub fn Modal(
    title: &'static str,
    dialog: RwSignal<Option<Dialog>>,
    /// Wider than a form (search results).
    #[prop(optional)]
    wide: bool,
    children: Children,
) -> impl IntoView {
    let close = move || dialog.set(None);
    let panel = NodeRef::<leptos::html::Div>::new();
    let opener = StoredValue::new_local(None::<web_sys::Element>);
    // Escape closes wherever the focus is (a disabled button drops it to <body>).
    let escape = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.key() == "Escape" {
            close();
        }
    });
    // Browser only (effects do not run on the server).
    Effect::new(move |_| {
        let Some(el) = panel.get() else { return };
        if opener.with_value(Option::is_none) {
            opener.set_value(document().active_element());
        }
        if let Some(first) = focusable(&el)
            .into_iter()
            .find(|e| !e.class_list().contains("close"))
        {
            let _ = first.focus();
        }
    });
    on_cleanup(move || {
        escape.remove();
        if let Some(el) = opener.try_get_value().flatten() {
            if let Some(el) = el.dyn_ref::<web_sys::HtmlElement>() {
                let _ = el.focus();
            }
        }
    });
    // Tab from the last control goes to the first, Shift+Tab from the first to the last.
    let trap = move |ev: leptos::ev::KeyboardEvent| {
        let Some(el) = panel.get_untracked() else { return };
        if ev.key() != "Tab" {
            return;
        }
        let controls = focusable(&el);
        let (Some(first), Some(last)) = (controls.first(), controls.last()) else {
            return;
        };
        let active = document().active_element();
        let is = |e: &web_sys::HtmlElement| {
            active
                .as_ref()
                .is_some_and(|a| a == e.unchecked_ref::<web_sys::Element>())
        };
        if ev.shift_key() && is(first) {
            ev.prevent_default();
            let _ = last.focus();
        } else if !ev.shift_key() && is(last) {
            ev.prevent_default();
            let _ = first.focus();
        }
    };
    view! {
        <div class="overlay" on:click=move |_| close()>
            <div class="modal" class:wide=wide role="dialog" aria-modal="true" aria-label=title node_ref=panel
                on:click=|ev| ev.stop_propagation() on:keydown=trap>
                <header>
                    <h2>{title}</h2>
                    <button type="button" class="ghost close" aria-label="Close" on:click=move |_| close()>"×"</button>
                </header>
                {children()}
            </div>
        </div>
    }
}

/// The controls inside `root` that take the focus, in document order.
fn focusable(root: &web_sys::Element) -> Vec<web_sys::HtmlElement> {
    let mut found = Vec::new();
    let children = root.children();
    for i in 0..children.length() {
        let Some(el) = children.item(i) else { continue };
        let takes = match el.tag_name().as_str() {
            "BUTTON" | "INPUT" | "TEXTAREA" | "SELECT" => !el.has_attribute("disabled"),
            "A" => el.has_attribute("href"),
            _ => false,
        };
        if takes {
            if let Some(control) = el.dyn_ref::<web_sys::HtmlElement>() {
                found.push(control.clone());
            }
        }
        found.extend(focusable(&el));
    }
    found
}

/// Splits "alice, @bob carol" into handles.
fn handles(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .map(|h| h.trim().trim_start_matches('@').to_string())
        .filter(|h| !h.is_empty())
        .collect()
}

#[component]
pub fn NewDirectDialog(rooms: RoomsResource, dialog: RwSignal<Option<Dialog>>) -> impl IntoView {
    let handle = RwSignal::new(String::new());
    let form = Submission::new();
    let navigate = use_navigate();
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let navigate = navigate.clone();
        form.run(open_direct(handle.get_untracked()), move |room| {
            opened(room.id, rooms, dialog, &navigate)
        });
    };
    // The directory, as one types: people whose name or handle starts so.
    let found = RwSignal::new(PeoplePage::default());
    let asked = StoredValue::new(0u32);
    let look = move |text: String, after: Option<crate::model::UserId>| {
        asked.update_value(|n| *n += 1);
        let mine = asked.get_value();
        set_timeout(
            move || {
                if asked.try_get_value() != Some(mine) {
                    return;
                }
                spawn_local(async move {
                    let answer = if text.trim().is_empty() {
                        Ok(PeoplePage::default())
                    } else {
                        find_people(text, after).await
                    };
                    if asked.try_get_value() != Some(mine) {
                        return;
                    }
                    match answer {
                        Ok(page) if after.is_some() => found.update(|f| {
                            f.people.extend(page.people);
                            f.next = page.next;
                        }),
                        Ok(page) => found.set(page),
                        Err(e) => form.error.set(Some(e.to_string())),
                    }
                });
            },
            std::time::Duration::from_millis(250),
        );
    };
    let navigate = StoredValue::new(use_navigate());
    let start = move |h: String| {
        form.run(open_direct(h), move |room| {
            navigate.with_value(|n| opened(room.id, rooms, dialog, n))
        });
    };
    view! {
        <Modal title="New message" dialog>
            <form on:submit=submit>
                <label>
                    "Handle of the person"
                    <input name="peer" placeholder="alice, or part of a name" required autocomplete="off"
                        prop:value=handle on:input=move |ev| {
                            let text = event_target_value(&ev);
                            handle.set(text.clone());
                            look(text, None);
                        }/>
                </label>
                <p class="error" role="alert">{move || form.error.get()}</p>
                <button type="submit" class="primary" disabled=move || form.busy.get()>"Open conversation"</button>
            </form>
            <ul class="people" aria-label="People found">
                <For each=move || found.get().people key=|p| p.user.id let:p>
                    {
                        let h = p.user.handle.clone();
                        let label = format!("Start a chat with {} (@{})", p.user.display_name, p.user.handle);
                        view! {
                            <li class="person">
                                <Avatar id=p.user.id name=p.user.display_name.clone() picture=p.avatar.clone()/>
                                <span class="who">
                                    <strong>{p.user.display_name.clone()}</strong>
                                    " " <span class="handle">{format!("@{}", p.user.handle)}</span>
                                    {(!p.status.is_empty()).then(|| view! { <span class="status-line">{p.status.clone()}</span> })}
                                </span>
                                <button type="button" aria-label=label on:click=move |_| start(h.clone())>"Start a chat"</button>
                            </li>
                        }
                    }
                </For>
            </ul>
            <Show when=move || found.with(|f| f.next.is_some())>
                <button type="button" class="ghost" on:click=move |_| look(handle.get_untracked(), found.with_untracked(|f| f.next))>
                    "More people"
                </button>
            </Show>
        </Modal>
    }
}

#[component]
pub fn NewGroupDialog(rooms: RoomsResource, dialog: RwSignal<Option<Dialog>>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let members = RwSignal::new(String::new());
    let form = Submission::new();
    let navigate = use_navigate();
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let navigate = navigate.clone();
        let call = create_group(name.get_untracked(), handles(&members.get_untracked()));
        form.run(call, move |room| opened(room.id, rooms, dialog, &navigate));
    };
    view! {
        <Modal title="New group" dialog>
            <form on:submit=submit>
                <label>
                    "Group name"
                    <input name="group_name" placeholder="Weekend trip" required
                        prop:value=name on:input=move |ev| name.set(event_target_value(&ev))/>
                </label>
                <label>
                    "Members"
                    <input name="members" placeholder="alice, bob"
                        prop:value=members on:input=move |ev| members.set(event_target_value(&ev))/>
                </label>
                <p class="hint">"Handles separated by commas or spaces; you can add people later."</p>
                <p class="error" role="alert">{move || form.error.get()}</p>
                <button type="submit" class="primary" disabled=move || form.busy.get()>"Create group"</button>
            </form>
        </Modal>
    }
}

/// Adds people to a group by handle; `on_added` runs once they are in.
#[component]
pub fn AddMemberForm(room: RoomId, on_added: Callback<()>) -> impl IntoView {
    let handle = RwSignal::new(String::new());
    let form = Submission::new();
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        // Several handles at once, as in a new group's dialog.
        form.run(add_members(room, handles(&handle.get_untracked())), move |_| {
            handle.set(String::new());
            on_added.run(());
        });
    };
    view! {
        <form class="add-member" on:submit=submit>
            <label class="visually-hidden" for="add-member">"Add a member by handle"</label>
            <input id="add-member" name="add_member" placeholder="Add members by handle" required
                title=HANDLE_RULES
                prop:value=handle on:input=move |ev| handle.set(event_target_value(&ev))/>
            <button type="submit" disabled=move || form.busy.get()>"Add"</button>
            <p class="error" role="alert">{move || form.error.get()}</p>
        </form>
    }
}

/// A form's call to the API: busy while it runs, its error shown after.
#[derive(Clone, Copy)]
struct Submission {
    busy: RwSignal<bool>,
    error: RwSignal<Option<String>>,
}

impl Submission {
    fn new() -> Self {
        Self {
            busy: RwSignal::new(false),
            error: RwSignal::new(None),
        }
    }

    /// Runs `call`: `done` gets its answer, or its error is shown.
    fn run<T: 'static>(
        self,
        call: impl Future<Output = Result<T, ApiError>> + 'static,
        done: impl FnOnce(T) + 'static,
    ) {
        self.busy.set(true);
        self.error.set(None);
        spawn_local(async move {
            let answer = call.await;
            self.busy.set(false);
            match answer {
                Ok(value) => done(value),
                Err(e) => self.error.set(Some(e.to_string())),
            }
        });
    }
}

/// A room was made or found: the list refreshes and the room opens.
fn opened(
    room: RoomId,
    rooms: RoomsResource,
    dialog: RwSignal<Option<Dialog>>,
    navigate: &impl Fn(&str, leptos_router::NavigateOptions),
) {
    rooms.refetch();
    dialog.set(None);
    navigate(&format!("/r/{room}"), Default::default());
}

#[cfg(test)]
mod tests {
    use super::handles;

    #[test]
    fn handles_split_on_commas_and_spaces() {
        assert_eq!(handles(" @alice, bob  carol,,"), vec!["alice", "bob", "carol"]);
        assert!(handles("  ").is_empty());
    }
}
