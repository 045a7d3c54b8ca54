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

use super::dialogs::{AddMemberForm, Dialog, NewDirectDialog, NewGroupDialog, RoomsResource};
use super::live::{list_time, presence_label, Live, Row, Status, Tick};
use super::notifications::NotificationsControl;
use super::text::{pieces, Piece};
use super::{connection, drafts, seen};
use crate::api::{log_out, me, my_rooms, room_members, ApiError};
use crate::model::{check_body, BodyError, Member, RoomId, RoomKind, RoomSummary, User};
use crate::protocol::Seq;

pub type MembersResource = Resource<Result<Vec<Member>, ApiError>>;

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
    Effect::new(move |_| {
        live.restore_outbox();
        connection::start(live);
    });
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
    let me = user.id;
    let logout = move |_| {
        // Nothing of this person stays on a shared device.
        drafts::forget(me);
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
        // One line: the list is not the place for a message's line breaks.
        (Some(p), _, _) => p.split_whitespace().collect::<Vec<_>>().join(" "),
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
    let at = room.last_activity;
    let when = move || list_time(at, live.clock.get());
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
                    <span class="room-line">
                        <span class="room-name">{room.name.clone()}</span>
                        <time class="room-time">{when}</time>
                    </span>
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
        // Awaited, so the server renders the room the browser hydrates.
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let initial = rooms.await.ok().and_then(|list| list.into_iter().find(|r| r.id == id));
                // Whether the person is in the room: the server's list until
                // the socket's `welcome`, the live one after (a room joined
                // since the page loaded is in it).
                let listed = initial.is_some();
                let member = Memo::new(move |_| {
                    if live.welcomed.get() {
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
                        <Composer room=id/>
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
            let mut msgs = r.iter().filter(|r| matches!(r, Row::Msg { .. })).map(Row::key);
            (
                msgs.next(),
                r.iter()
                    .rev()
                    .find(|r| matches!(r, Row::Msg { .. }))
                    .map(Row::key),
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
                {row_view(row, live)}
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
                Row::Msg { seq, mine, .. } => {
                    tail.newest = tail.newest.max(seq.unwrap_or(0));
                    tail.last_mine = *mine;
                    if !divider {
                        tail.before_divider = tail.newest;
                    }
                }
                Row::Unread { .. } => divider = true,
                Row::Day { .. } => {}
            }
        }
        tail
    }

    /// Others' messages after `seq`.
    fn others_after(rows: &[Row], seq: Seq) -> usize {
        rows.iter()
            .filter(|r| matches!(r, Row::Msg { seq: Some(s), mine: false, .. } if *s > seq))
            .count()
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
                    <p class="body">{body_view(&body)}</p>
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

/// A body as text, its web addresses as links that open in a new tab and
/// tell the site nothing of where they came from.
fn body_view(body: &str) -> Vec<AnyView> {
    pieces(body)
        .into_iter()
        .map(|piece| match piece {
            Piece::Text(text) => text.into_any(),
            Piece::Link(url) => view! {
                <a href=url.clone() target="_blank" rel="noopener noreferrer">{url.clone()}</a>
            }
            .into_any(),
        })
        .collect()
}

/// Enter sends, Shift+Enter starts a new line. What is typed is the room's
/// draft until sent: it stays when the person switches rooms or reloads.
/// Near the limit the remaining characters show; over it, or with a
/// character a message may not hold, it cannot be sent and says why (the
/// text is never cut).
#[component]
fn Composer(room: RoomId) -> impl IntoView {
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
    let submit = move || {
        let body = text.get_untracked();
        if check_body(&body, live.max_body.get_untracked()).is_ok() {
            live.send_message(room, body);
            text.set(String::new());
            drafts::save(live.user(), room, "");
        }
    };
    view! {
        <form class="composer" on:submit=move |ev: SubmitEvent| {
            ev.prevent_default();
            submit();
        }>
            <div class="compose">
                <textarea aria-label="Message" placeholder="Write a message…" rows="1" node_ref=input
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
                    }
                    on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                            ev.prevent_default();
                            submit();
                        }
                    }
                ></textarea>
                <p class="compose-note" id=format!("compose-note-{room}") aria-live="polite"
                    class:error=move || problem.with(Option::is_some)>
                    {move || problem.get().or_else(left)}
                </p>
            </div>
            <button type="submit" class="primary"
                disabled=move || text.with(|t| check_body(t, live.max_body.get()).is_err())>"Send"</button>
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
