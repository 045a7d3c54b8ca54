//! The main page: the room list on the left, the open room on the right
//! (one column on a phone, where the list and the room take turns). The
//! page renders on the server with the room list; once hydrated, the live
//! state (`Live`, fed by the socket) takes over.

use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};
use leptos_router::{
    components::{Outlet, Redirect, A},
    hooks::{use_location, use_params_map},
};

use super::dialogs::{AddMemberForm, NewDirectDialog, NewGroupDialog};
use super::live::{Live, Row, Status, Tick};
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
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match session.await {
                    Ok(Some(user)) => view! { <Layout user/> }.into_any(),
                    Ok(None) => view! { <Redirect path="/login"/> }.into_any(),
                    Err(e) => view! { <ErrorPanel message=e.to_string()/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Layout(user: User) -> impl IntoView {
    let rooms: RoomsResource = Resource::new(|| (), |_| my_rooms());
    let live = Live::new(&user);
    provide_context(live);
    provide_context(rooms);
    // Browser only: open the socket once the page is live.
    Effect::new(move |_| live.start());
    let location = use_location();
    let selected = Memo::new(move |_| {
        location
            .pathname
            .get()
            .strip_prefix("/r/")
            .and_then(|s| s.parse::<RoomId>().ok())
    });
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
                            let initial = rooms.await;
                            view! { <RoomList initial selected/> }
                        })}
                    </Transition>
                </nav>
            </aside>
            <section class="pane">
                <Banner/>
                <Outlet/>
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

/// "Reconnecting…" while the socket is down, "Back online" when it returns.
#[component]
fn Banner() -> impl IntoView {
    let live = expect_context::<Live>();
    move || match live.status.get() {
        Status::Reconnecting => {
            Some(view! { <div class="banner offline" role="status">"Reconnecting…"</div> }.into_any())
        }
        Status::BackOnline => {
            Some(view! { <div class="banner online" role="status">"Back online"</div> }.into_any())
        }
        Status::Connecting | Status::Online => None,
    }
}

/// The rooms, latest activity first: the server-rendered list until the
/// socket's `welcome`, the live one after.
#[component]
fn RoomList(initial: Result<Vec<RoomSummary>, ApiError>, selected: Memo<Option<RoomId>>) -> impl IntoView {
    let live = expect_context::<Live>();
    let error = initial.as_ref().err().map(|e| e.to_string());
    let initial = initial.unwrap_or_default();
    let list = Memo::new(move |_| {
        if live.welcomed.get() {
            live.rooms.get()
        } else {
            initial.clone()
        }
    });
    view! {
        {error.map(|e| view! { <p class="error">{e}</p> })}
        <Show when=move || list.with(|l| l.is_empty())>
            <p class="muted">"No conversations yet."</p>
        </Show>
        <ul>
            <For
                each=move || list.get()
                key=|r| (r.id, r.name.clone(), r.head_seq, r.read_seq, r.preview.clone(), r.member_count)
                let:room
            >
                <RoomItem room selected/>
            </For>
        </ul>
    }
}

#[component]
fn RoomItem(room: RoomSummary, selected: Memo<Option<RoomId>>) -> impl IntoView {
    let id = room.id;
    let unread = room.unread();
    let subtitle = match (&room.preview, room.kind, &room.peer_handle) {
        (Some(p), _, _) => p.clone(),
        (None, RoomKind::Direct, Some(h)) => format!("@{h}"),
        (None, RoomKind::Direct, None) => "Direct message".to_string(),
        (None, RoomKind::Group, _) => match room.member_count {
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
                <Show when=move || { unread > 0 && selected.get() != Some(id) }>
                    <span class="badge" aria-label=format!("{unread} unread")>{unread}</span>
                </Show>
            </A>
        </li>
    }
}

/// The pane when no room is open.
#[component]
pub fn NoRoom() -> impl IntoView {
    view! {
        <div class="empty">
            <h2>"Pick a conversation"</h2>
            <p>"Or start one with “New message” or “New group”."</p>
        </div>
    }
}

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
    let members = Resource::new(move || id, room_members);
    let room = move || {
        live.rooms.get().into_iter().find(|r| r.id == id).or_else(|| {
            rooms
                .get()
                .and_then(|r| r.ok())
                .and_then(|list| list.into_iter().find(|r| r.id == id))
        })
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
        <Timeline room=id/>
        <Composer room=id/>
    }
}

/// The messages of a room in seq order; older pages load when scrolled to the top.
#[component]
fn Timeline(room: RoomId) -> impl IntoView {
    let live = expect_context::<Live>();
    let rows = live.timeline(room);
    let scroller = NodeRef::<leptos::html::Div>::new();
    // Follow new messages while the view is at the bottom; when older ones
    // are put above, keep what the person was reading where it was.
    let stick = StoredValue::new(true);
    let seen = StoredValue::new((None::<String>, 0));
    Effect::new(move |_| {
        let first = rows.with(|r| r.iter().find(|r| matches!(r, Row::Msg { .. })).map(|r| r.key()));
        let Some(el) = scroller.get() else { return };
        // After the list has rendered the change.
        request_animation_frame(move || {
            let (old_first, old_height) = seen.get_value();
            if stick.get_value() {
                el.set_scroll_top(el.scroll_height());
            } else if old_first.is_some() && first != old_first {
                el.set_scroll_top(el.scroll_top() + el.scroll_height() - old_height);
            }
            seen.set_value((first, el.scroll_height()));
        });
    });
    let on_scroll = move |_| {
        if let Some(el) = scroller.get_untracked() {
            stick.set_value(el.scroll_top() + el.client_height() >= el.scroll_height() - 60);
            if el.scroll_top() < 80 {
                live.load_older(room);
            }
        }
    };
    view! {
        <div class="timeline" node_ref=scroller on:scroll=on_scroll data-room=room>
            <Show when=move || rows.with(|r| r.is_empty())>
                <p class="muted empty-room">"No messages yet. Say hello!"</p>
            </Show>
            <For each=move || rows.get() key=|r| r.key() let:row>
                {row_view(row, live)}
            </For>
        </div>
    }
}

fn row_view(row: Row, live: Live) -> AnyView {
    match row {
        Row::Day { label, .. } => view! { <div class="day"><span>{label}</span></div> }.into_any(),
        Row::Msg {
            key,
            seq,
            from,
            body,
            time,
            mine,
            tick,
        } => {
            let (state, mark, title) = match &tick {
                Tick::Pending => ("pending", "🕓", "Sending…".to_string()),
                Tick::Sent => ("sent", "✓", "Sent".to_string()),
                Tick::Failed(why) => ("failed", "!", format!("Not sent: {why}")),
            };
            let cid = key.split(':').next().and_then(|c| c.parse::<uuid::Uuid>().ok());
            let failed = matches!(tick, Tick::Failed(_));
            view! {
                <div class="msg" class:mine=mine data-seq=seq data-state=state>
                    {(!mine).then(|| view! { <span class="from">{from}</span> })}
                    <p class="body">{body}</p>
                    <span class="meta">
                        <time>{time}</time>
                        {mine.then(|| view! { <span class="tick" title=title.clone() aria-label=title>{mark}</span> })}
                    </span>
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
    }
}

/// Enter sends, Shift+Enter starts a new line.
#[component]
fn Composer(room: RoomId) -> impl IntoView {
    let live = expect_context::<Live>();
    let text = RwSignal::new(String::new());
    let submit = move || {
        let body = text.get_untracked();
        if !body.trim().is_empty() {
            live.send_message(room, body);
            text.set(String::new());
        }
    };
    view! {
        <form class="composer" on:submit=move |ev: SubmitEvent| {
            ev.prevent_default();
            submit();
        }>
            <textarea aria-label="Message" placeholder="Write a message…" rows="1" maxlength="4000"
                prop:value=text
                on:input=move |ev| text.set(event_target_value(&ev))
                on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                    if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                        ev.prevent_default();
                        submit();
                    }
                }
            ></textarea>
            <button type="submit" class="primary" disabled=move || text.with(|t| t.trim().is_empty())>"Send"</button>
        </form>
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
