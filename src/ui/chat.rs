//! The main page: the room list on the left, the open room on the right
//! (one column on a phone, where the list and the room take turns). The
//! page renders on the server with the room list; once hydrated, the live
//! state (`Live`, fed by the socket) takes over.

use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};
use leptos_meta::Title;
use leptos_router::{
    components::{Outlet, Redirect, A},
    hooks::{use_location, use_params_map},
};

use super::dialogs::{AddMemberForm, NewDirectDialog, NewGroupDialog};
use super::live::{presence_label, Live, Row, Status, Tick};
use super::notifications::NotificationsControl;
use super::seen;
use crate::api::{log_out, me, my_rooms, room_members, ApiError};
use crate::model::{Member, RoomId, RoomKind, RoomSummary, User};

pub type RoomsResource = Resource<Result<Vec<RoomSummary>, ApiError>>;
pub type MembersResource = Resource<Result<Vec<Member>, ApiError>>;

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
    // "(3) Chat": the unread total, the same on every device, and on the
    // app's icon (browser only).
    let unread = Memo::new(move |_| {
        live.rooms
            .with(|r| r.iter().map(RoomSummary::unread).sum::<i64>())
    });
    let title = move || match unread.get() {
        0 => "Chat".to_string(),
        n => format!("({n}) Chat"),
    };
    Effect::new(move |_| super::push::set_badge(unread.get()));
    let logout = move |_| {
        spawn_local(async move {
            super::push::forget().await;
            let _ = log_out().await;
            super::go_to("/login");
        });
    };

    view! {
        <Title text=title/>
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
                <NotificationsControl/>
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
    let live = expect_context::<Live>();
    let peer = room.peer;
    let online = move || peer.is_some_and(|p| live.presence.with(|m| m.get(&p).is_some_and(|p| p.online)));
    view! {
        <li class="room" class:active=move || selected.get() == Some(id) data-room=id
            data-online=move || online().then_some("true")>
            <A href=format!("/r/{id}")>
                <span class="avatar" class:group=room.kind == RoomKind::Group aria-hidden="true">
                    {avatar_letter(&room.name)}
                    <Show when=online>
                        <span class="dot" title="online"></span>
                    </Show>
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
    // Made here, before any await: resources made inside a `Suspend` after
    // one would be numbered differently on the server and in the browser.
    let members = Resource::new(move || id, room_members);
    // Browser only: ticks need the members' marks; the divider needs the
    // unread count as it was on opening.
    Effect::new(move |_| live.open(id));
    on_cleanup(move || live.close(id));
    view! {
        <header class="room-header">
            <A href="/" attr:class="back" attr:aria-label="Back to the room list">"‹"</A>
            // Awaited, so the server renders the header the browser hydrates.
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let initial = rooms.await.ok().and_then(|list| list.into_iter().find(|r| r.id == id));
                    view! { <RoomHead id initial members/> }
                })}
            </Transition>
        </header>
        <Timeline room=id/>
        <p class="typing" aria-live="polite">
            {move || live.typing.with(|t| t.get(&id).cloned())}
        </p>
        <Composer room=id/>
    }
}

/// The room's name, presence or members, and the add-member form of a group.
#[component]
fn RoomHead(id: RoomId, initial: Option<RoomSummary>, members: MembersResource) -> impl IntoView {
    let live = expect_context::<Live>();
    let initial = StoredValue::new(initial);
    let room = move || {
        live.rooms
            .with(|rooms| rooms.iter().find(|r| r.id == id).cloned())
            .or_else(|| initial.get_value())
    };
    let title = move || room().map(|r| r.name).unwrap_or_default();
    let is_group = move || room().is_some_and(|r| r.kind == RoomKind::Group);
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

    view! {
        <div class="room-title">
            <h2>{title}</h2>
            <Show when=move || peer().is_some()>
                <p class="presence" class:online=online data-online=move || online().to_string()>
                    {presence}
                </p>
            </Show>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match members.await {
                        Ok(list) => {
                            let ids: Vec<_> = list.iter().map(|m| m.user.id).collect();
                            let handles = list
                                .iter()
                                .map(|m| format!("@{}", m.user.handle))
                                .collect::<Vec<_>>()
                                .join(", ");
                            let online = move || match online_count(&ids) {
                                0 => String::new(),
                                n => format!(" · {n} online"),
                            };
                            view! {
                                <p class="members" data-members=list.len()>
                                    {handles}
                                    <Show when=is_group>{online.clone()}</Show>
                                </p>
                            }
                            .into_any()
                        }
                        Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </div>
        <Show when=is_group>
            <AddMemberForm room=id members/>
        </Show>
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
    let shown = StoredValue::new((None::<String>, 0));
    // Opening a room with unread messages jumps to the "N new messages"
    // divider, once; without one it starts at the bottom.
    let jumped = StoredValue::new(false);
    Effect::new(move |_| {
        let first = rows.with(|r| r.iter().find(|r| matches!(r, Row::Msg { .. })).map(|r| r.key()));
        let Some(el) = scroller.get() else { return };
        // After the list has rendered the change.
        request_animation_frame(move || {
            let (old_first, old_height) = shown.get_value();
            let divider = el.query_selector(".unread-divider").ok().flatten();
            if let Some(divider) = divider.filter(|_| !jumped.get_value()) {
                jumped.set_value(true);
                divider.scroll_into_view();
                stick.set_value(el.scroll_top() + el.client_height() >= el.scroll_height() - 60);
            } else if stick.get_value() {
                el.set_scroll_top(el.scroll_height());
            } else if old_first.is_some() && first != old_first {
                el.set_scroll_top(el.scroll_top() + el.scroll_height() - old_height);
            }
            shown.set_value((first, el.scroll_height()));
            // New message elements join the read watch.
            seen::observe(room);
        });
    });
    // Browser only: count what is on screen as read while the page has focus.
    Effect::new(move |_| {
        if scroller.get().is_some() {
            seen::start(room, live);
        }
    });
    on_cleanup(move || seen::stop(room));
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
            <For each=move || rows.get() key=|r| r.render_key() let:row>
                {row_view(row, live)}
            </For>
        </div>
    }
}

fn row_view(row: Row, live: Live) -> AnyView {
    match row {
        Row::Day { label, .. } => view! { <div class="day"><span>{label}</span></div> }.into_any(),
        Row::Unread { label, .. } => {
            view! { <div class="unread-divider" role="separator"><span>{label}</span></div> }.into_any()
        }
        Row::Msg {
            key,
            seq,
            from,
            body,
            time,
            mine,
            tick,
            read_by,
        } => {
            let (state, mark, title) = match &tick {
                Tick::Pending => ("pending", "🕓", "Sending…".to_string()),
                Tick::Sent => ("sent", "✓", "Sent".to_string()),
                Tick::Delivered => ("delivered", "✓✓", "Delivered".to_string()),
                Tick::Read => ("read", "✓✓", "Read".to_string()),
                Tick::Failed(why) => ("failed", "!", format!("Not sent: {why}")),
            };
            let title = read_by.clone().unwrap_or(title);
            // In a group, a tap shows who read it (hover shows the title).
            let open = RwSignal::new(false);
            let cid = key.split(':').next().and_then(|c| c.parse::<uuid::Uuid>().ok());
            let failed = matches!(tick, Tick::Failed(_));
            view! {
                <div class="msg" class:mine=mine data-seq=seq data-state=state>
                    {(!mine).then(|| view! { <span class="from">{from}</span> })}
                    <p class="body">{body}</p>
                    <span class="meta" on:click=move |_| open.update(|o| *o = !*o)>
                        <time>{time}</time>
                        {mine.then(|| view! { <span class="tick" title=title.clone() aria-label=title>{mark}</span> })}
                    </span>
                    {read_by.map(|text| view! {
                        <Show when=move || open.get()>
                            <span class="read-by">{text.clone()}</span>
                        </Show>
                    })}
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
                on:input=move |ev| {
                    let value = event_target_value(&ev);
                    if !value.trim().is_empty() {
                        live.typing(room);
                    }
                    text.set(value);
                }
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
