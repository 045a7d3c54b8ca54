//! The main page: the room list on the left, the open room on the right
//! (one column on a phone, where the list and the room take turns).

use leptos::{prelude::*, task::spawn_local};
use leptos_router::{
    components::{Redirect, A},
    hooks::use_params_map,
};

use super::dialogs::{AddMemberForm, NewDirectDialog, NewGroupDialog};
use crate::api::{log_out, me, my_rooms, room_members, ApiError};
use crate::model::{RoomId, RoomKind, RoomSummary, User};

pub type RoomsResource = Resource<Result<Vec<RoomSummary>, ApiError>>;

/// Which dialog is open, if any.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Dialog {
    Direct,
    Group,
}

#[component]
pub fn ChatPage() -> impl IntoView {
    let session = Resource::new(|| (), |_| me());
    let params = use_params_map();
    let selected = Memo::new(move |_| params.read().get("id").and_then(|s| s.parse::<RoomId>().ok()));

    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match session.await {
                    Ok(Some(user)) => view! { <Layout user selected/> }.into_any(),
                    Ok(None) => view! { <Redirect path="/login"/> }.into_any(),
                    Err(e) => view! { <ErrorPanel message=e.to_string()/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Layout(user: User, selected: Memo<Option<RoomId>>) -> impl IntoView {
    let rooms: RoomsResource = Resource::new(|| (), |_| my_rooms());
    let dialog = RwSignal::new(None::<Dialog>);
    let initial = avatar_letter(&user.display_name);
    let logout = move |_| {
        spawn_local(async move {
            let _ = log_out().await;
            super::go_to("/login");
        });
    };

    view! {
        <div class="chat" class:has-room=move || selected.get().is_some()>
            <aside class="sidebar">
                <header class="me">
                    <div class="avatar" aria-hidden="true">{initial}</div>
                    <div class="who">
                        <strong>{user.display_name.clone()}</strong>
                        <span class="handle">{format!("@{}", user.handle)}</span>
                    </div>
                    <button type="button" class="ghost" on:click=logout>"Log out"</button>
                </header>
                <div class="actions">
                    <button type="button" class="primary" on:click=move |_| dialog.set(Some(Dialog::Direct))>
                        "New message"
                    </button>
                    <button type="button" on:click=move |_| dialog.set(Some(Dialog::Group))>"New group"</button>
                </div>
                <nav class="rooms" aria-label="Rooms">
                    <Transition fallback=|| view! { <p class="muted">"Loading rooms…"</p> }>
                        {move || Suspend::new(async move {
                            match rooms.await {
                                Ok(list) => view! { <RoomList list selected/> }.into_any(),
                                Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                            }
                        })}
                    </Transition>
                </nav>
            </aside>
            <section class="pane">
                {move || match selected.get() {
                    None => view! {
                        <div class="empty">
                            <h2>"Pick a conversation"</h2>
                            <p>"Or start one with “New message” or “New group”."</p>
                        </div>
                    }.into_any(),
                    Some(id) => view! { <RoomPane id rooms/> }.into_any(),
                }}
            </section>
            <Show when=move || dialog.get() == Some(Dialog::Direct)>
                <NewDirectDialog rooms dialog/>
            </Show>
            <Show when=move || dialog.get() == Some(Dialog::Group)>
                <NewGroupDialog rooms dialog/>
            </Show>
        </div>
    }
}

#[component]
fn RoomList(list: Vec<RoomSummary>, selected: Memo<Option<RoomId>>) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="muted">"No conversations yet."</p> }.into_any();
    }
    view! {
        <ul>
            {list.into_iter().map(|room| {
                let id = room.id;
                let unread = room.unread();
                let subtitle = match (&room.kind, &room.peer_handle) {
                    (RoomKind::Direct, Some(h)) => format!("@{h}"),
                    (RoomKind::Direct, None) => "Direct message".to_string(),
                    (RoomKind::Group, _) => match room.member_count {
                        1 => "Group · just you".to_string(),
                        n => format!("Group · {n} members"),
                    },
                };
                view! {
                    <li class="room" class:active=move || selected.get() == Some(id) data-room=id>
                        <A href=format!("/r/{id}")>
                            <span class="avatar" class:group=room.kind == RoomKind::Group aria-hidden="true">
                                {avatar_letter(&room.name)}
                            </span>
                            <span class="room-text">
                                <span class="room-name">{room.name.clone()}</span>
                                <span class="room-sub">{subtitle}</span>
                            </span>
                            <Show when=move || { unread > 0 }>
                                <span class="badge" aria-label=format!("{unread} unread")>{unread}</span>
                            </Show>
                        </A>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn RoomPane(id: RoomId, rooms: RoomsResource) -> impl IntoView {
    let members = Resource::new(move || id, room_members);
    let room = move || {
        rooms
            .get()
            .and_then(|r| r.ok())
            .and_then(|list| list.into_iter().find(|r| r.id == id))
    };
    let title = move || room().map(|r| r.name).unwrap_or_default();
    let is_group = move || room().map(|r| r.kind == RoomKind::Group).unwrap_or(false);

    view! {
        <header class="room-header">
            <A href="/" attr:class="back" attr:aria-label="Back to the room list">"‹"</A>
            <div class="room-title">
                <h2>{title}</h2>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match members.await {
                            Ok(list) => view! {
                                <p class="members" data-members=list.len()>
                                    {list.iter().map(|m| format!("@{}", m.user.handle)).collect::<Vec<_>>().join(", ")}
                                </p>
                            }.into_any(),
                            Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                        }
                    })}
                </Transition>
            </div>
            <Show when=is_group>
                <AddMemberForm room=id members/>
            </Show>
        </header>
        <div class="timeline">
            <p class="muted">"No messages yet."</p>
        </div>
    }
}

#[component]
fn ErrorPanel(message: String) -> impl IntoView {
    view! {
        <main class="auth">
            <section class="auth-card">
                <h1 class="brand">"Chat"</h1>
                <p class="error" role="alert">{message}</p>
                <button type="button" class="primary" on:click=|_| super::go_to("/")>"Try again"</button>
            </section>
        </main>
    }
}

pub fn avatar_letter(name: &str) -> String {
    name.chars()
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_else(|| "?".into())
}
