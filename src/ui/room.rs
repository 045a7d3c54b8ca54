//! One open room (route `/r/:id`): its header (name, presence or members,
//! a group's settings button and, for its admins, the add-member form), its
//! timeline, who is typing, and the composer (a notice instead in a group
//! I left); or, for someone not in it, a notice.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::{components::A, hooks::use_params_map};

use super::avatar::Avatar;
use super::composer::Composer;
use super::dialogs::{AddMemberForm, Dialog, MembersResource, RoomsResource};
use super::files::FilesButton;
use super::live::Live;
use super::time::presence_label;
use super::timeline::Timeline;
use crate::api::{block, room_members, set_notify, unblock, ApiError};
use crate::groups::{check, Action};
use crate::model::{is_deleted_handle, Notify, RoomId, RoomKind, RoomSummary, UserId};

/// How many members the header names; the rest are counted.
const HEADER_NAMES: u32 = 5;

/// The open room (route `/r/:id`).
#[component]
pub fn RoomPane() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|s| s.parse::<RoomId>().ok()));
    move || match id.get() {
        Some(id) => view! { <Room id/> }.into_any(),
        None => view! { <p class="error">"There is no such room."</p> }.into_any(),
    }
}

#[component]
fn Room(id: RoomId) -> impl IntoView {
    let live = expect_context::<Live>();
    let rooms = expect_context::<RoomsResource>();
    // Made here, before any await: resources made inside a `Suspend` after
    // one would be numbered differently on the server and in the browser.
    let members = Resource::new(move || id, |id| room_members(id, None, Some(HEADER_NAMES)));
    // Asked offline (the app shell): asked again once the socket is back.
    Effect::new(move |was: Option<bool>| {
        let welcomed = live.welcomed.get();
        if welcomed && was == Some(false) {
            members.refetch();
        }
        welcomed
    });
    // Browser only: ticks need the members' marks; the divider needs the
    // unread count as it was on opening.
    Effect::new(move |_| live.open(id));
    on_cleanup(move || live.close(id));
    view! {
        // Awaited, so the server renders the room the browser hydrates.
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let list = rooms.await;
                // Offline, the live list is what this device kept.
                let offline = matches!(list, Err(ApiError::Transport(_)));
                let live_list = move || live.welcomed.get() || offline;
                let initial = list.ok().and_then(|list| list.into_iter().find(|r| r.id == id));
                // Whether the person is in the room: the server's list until
                // the socket's `welcome`, the live one after (a room joined
                // since the page loaded is in it).
                let listed = initial.is_some();
                // A group I left is read-only: no composer.
                let was_left = initial.as_ref().is_some_and(|r| r.left);
                let left = Memo::new(move |_| {
                    if live_list() {
                        live.rooms.with(|r| r.iter().any(|r| r.id == id && r.left))
                    } else {
                        was_left
                    }
                });
                // A direct room with a deleted account: nobody reads it any more.
                let gone = |r: &RoomSummary| r.peer_handle.as_deref().is_some_and(is_deleted_handle);
                let was_gone = initial.as_ref().is_some_and(gone);
                let peer_gone = Memo::new(move |_| {
                    if live_list() {
                        live.rooms.with(|rs| rs.iter().any(|r| r.id == id && gone(r)))
                    } else {
                        was_gone
                    }
                });
                let member = Memo::new(move |_| {
                    if live_list() {
                        live.rooms.with(|r| r.iter().any(|r| r.id == id))
                    } else {
                        listed
                    }
                });
                view! {
                    <header class="room-header">
                        <A href="/" attr:class="back" attr:aria-label="Back to the room list">"‹"</A>
                        <RoomHead id initial members/>
                    </header>
                    <Show
                        when=move || member.get()
                        fallback=|| view! {
                            <p class="not-member" role="status">"You are not a member of this room."</p>
                        }
                    >
                        <Timeline room=id/>
                        <p class="typing" aria-live="polite">
                            {move || live.typing.with(|t| t.get(&id).cloned())}
                        </p>
                        <Show
                            when=move || !left.get() && !peer_gone.get()
                            fallback=move || view! {
                                <p class="left-notice" role="status">
                                    {if peer_gone.get() {
                                        "This account was deleted: what you had stays here to read."
                                    } else {
                                        "You are no longer in this group: what you had stays here to read."
                                    }}
                                </p>
                            }
                        >
                            <Composer room=id/>
                        </Show>
                    </Show>
                }
            })}
        </Transition>
    }
}

/// The room's name, presence or members, and the add-member form of a group.
#[component]
fn RoomHead(id: RoomId, initial: Option<RoomSummary>, members: MembersResource) -> impl IntoView {
    let live = expect_context::<Live>();
    let dialog = expect_context::<RwSignal<Option<Dialog>>>();
    let initial = StoredValue::new(initial);
    let room = move || {
        live.rooms
            .with(|rooms| rooms.iter().find(|r| r.id == id).cloned())
            .or_else(|| initial.get_value())
    };
    let title = move || room().map(|r| r.name).unwrap_or_default();
    let is_group = move || room().is_some_and(|r| r.kind == RoomKind::Group);
    let left = move || room().is_some_and(|r| r.left);
    // Who may add people (the server checks again).
    let admin = move || is_group() && !left() && room().is_some_and(|r| check(r.role, Action::Add).is_ok());
    let peer = move || room().and_then(|r| r.peer);
    let presence = move || {
        let now = live.clock.get();
        peer().map(|p| live.presence.with(|m| presence_label(m.get(&p), now)))
    };
    let online = move || peer().is_some_and(|p| live.presence.with(|m| m.get(&p).is_some_and(|p| p.online)));
    let online_count = move |ids: &[crate::model::UserId]| {
        live.presence
            .with(|m| ids.iter().filter(|u| m.get(u).is_some_and(|p| p.online)).count())
    };

    // A direct room shows the other person; a group, itself.
    let (avatar_id, group) = match initial.with_value(|r| r.as_ref().and_then(|r| r.peer)) {
        Some(peer) => (peer, false),
        None => (id, true),
    };
    view! {
        <Avatar id=avatar_id group=group name=Signal::derive(title)
            picture=Signal::derive(move || room().and_then(|r| r.avatar))/>
        <div class="room-title">
            <h2>{title}</h2>
            <Show when=move || peer().is_some()>
                <p class="presence" class:online=online data-online=move || online().to_string()>
                    {presence}
                </p>
            </Show>
            {move || {
                let status = room().map(|r| r.peer_status).filter(|s| !s.is_empty())?;
                Some(view! { <p class="status-line">{status}</p> })
            }}
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match members.await {
                        Ok(page) => {
                            let ids: Vec<_> = page.members.iter().map(|m| m.user.id).collect();
                            let mut handles = page
                                .members
                                .iter()
                                .map(|m| crate::model::shown_handle(&m.user.handle))
                                .collect::<Vec<_>>()
                                .join(", ");
                            // A big room is counted, not listed.
                            match page.total - page.members.len() as i64 {
                                ..=0 => {}
                                1 => handles.push_str(" and 1 other"),
                                n => handles.push_str(&format!(" and {n} others")),
                            }
                            let online = move || match online_count(&ids) {
                                0 => String::new(),
                                n => format!(" · {n} online"),
                            };
                            // The count first: a long list is cut at the edge.
                            let count = match page.total {
                                1 => "1 member · ".to_string(),
                                n => format!("{n} members · "),
                            };
                            view! {
                                <p class="members" data-members=page.total>
                                    <Show when=is_group>{count.clone()}</Show>
                                    {handles}
                                    <Show when=is_group>{online.clone()}</Show>
                                </p>
                            }
                            .into_any()
                        }
                        // Offline: the banner says so; the line comes back with the network.
                        Err(ApiError::Transport(_)) => ().into_any(),
                        Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </div>
        <button type="button" class="ghost search-room" aria-label="Search in this room"
            on:click=move |_| dialog.set(Some(Dialog::Search(Some(id))))>
            <span aria-hidden="true">"🔍"</span>
        </button>
        <FilesButton room=id/>
        <Show when=move || !left()>
            <NotifySelect id notify=Signal::derive(move || room().map(|r| r.notify).unwrap_or_default())/>
        </Show>
        <Show when=move || peer().is_some()>
            <BlockButton user=Signal::derive(peer)/>
        </Show>
        <Show when=move || is_group() && !left()>
            <button type="button" class="ghost group-open" aria-label="Group settings and members"
                on:click=move |_| dialog.set(Some(Dialog::Settings(id)))>
                <span aria-hidden="true">"⚙"</span>
            </button>
        </Show>
        <Show when=admin>
            <AddMemberForm room=id on_added=Callback::new(move |_| members.refetch())/>
        </Show>
    }
}

/// Blocks (asking once more) or unblocks the other person of a direct room.
#[component]
fn BlockButton(user: Signal<Option<UserId>>) -> impl IntoView {
    let live = expect_context::<Live>();
    let asking = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let blocked = move || user.get().is_some_and(|u| live.blocked.with(|b| b.contains(&u)));
    let click = move |_| {
        let Some(u) = user.get_untracked() else { return };
        let now_blocked = blocked();
        if !now_blocked && !asking.get_untracked() {
            asking.set(true);
            return;
        }
        asking.set(false);
        error.set(None);
        spawn_local(async move {
            let answer = if now_blocked {
                unblock(u).await
            } else {
                block(u).await
            };
            if let Err(e) = answer {
                error.set(Some(e.to_string()));
            }
        });
    };
    view! {
        <button type="button" class="ghost block" on:click=click on:blur=move |_| asking.set(false)>
            {move || match (blocked(), asking.get()) {
                (true, _) => "Unblock",
                (false, true) => "Really block?",
                (false, false) => "Block",
            }}
        </button>
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
    }
}

/// Which of the room's messages notify me while away: all, mentions and
/// replies only, or none (muted) — for all my devices (they hear of it with
/// the room's summary; so does this page).
#[component]
fn NotifySelect(id: RoomId, notify: Signal<Notify>) -> impl IntoView {
    // What this page chose, shown until the room's summary says so too.
    let chosen = RwSignal::new(None::<Notify>);
    let error = RwSignal::new(None::<String>);
    // Only the answer to the latest choice counts (the arrows may choose
    // twice before the first answer).
    let asked = StoredValue::new(0u32);
    let now = move || chosen.get().unwrap_or_else(|| notify.get());
    Effect::new(move |_| {
        if chosen.get_untracked() == Some(notify.get()) {
            chosen.set(None);
        }
    });
    let change = move |ev| {
        let Some(want) = Notify::parse(&event_target_value(&ev)) else {
            return;
        };
        chosen.set(Some(want));
        error.set(None);
        asked.update_value(|n| *n += 1);
        let mine = asked.get_value();
        spawn_local(async move {
            let answer = set_notify(id, want).await;
            if asked.try_get_value() != Some(mine) {
                return;
            }
            match answer {
                Ok(room) => chosen.set(Some(room.notify)),
                Err(e) => {
                    chosen.set(None);
                    error.set(Some(e.to_string()));
                }
            }
        });
    };
    let option = move |level: Notify, label: &'static str| {
        view! { <option value=level.as_str() selected=move || now() == level>{label}</option> }
    };
    view! {
        <label class="notify" title="Which messages notify you while you are away">
            <span aria-hidden="true">{move || if now() == Notify::None { "🔕" } else { "🔔" }}</span>
            <select aria-label="Notifications" prop:value=move || now().as_str() on:change=change>
                {option(Notify::All, "All messages")}
                {option(Notify::Mentions, "Mentions and replies")}
                {option(Notify::None, "Off")}
            </select>
        </label>
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
    }
}
