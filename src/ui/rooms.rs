//! The room list of the sidebar: each room with its picture, name,
//! last message, time and unread badge, newest first.

use leptos::prelude::*;
use leptos_router::components::A;

use super::avatar::Avatar;
use super::live::Live;
use super::time::list_time;
use crate::api::ApiError;
use crate::model::{Notify, RoomId, RoomKind, RoomSummary};

/// The rooms, latest activity first: the server-rendered list until the
/// socket's `welcome`, the live one after (and offline).
#[component]
pub fn RoomList(
    initial: Result<Vec<RoomSummary>, ApiError>,
    selected: Memo<Option<RoomId>>,
) -> impl IntoView {
    let live = expect_context::<Live>();
    // Offline, the list is what this device kept (`Live::restore_saved`).
    let offline = matches!(initial, Err(ApiError::Transport(_)));
    let error = initial.as_ref().err().filter(|_| !offline).map(|e| e.to_string());
    let initial = initial.unwrap_or_default();
    let list = Memo::new(move |_| {
        if live.welcomed.get() || offline {
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
                key=|r| (r.id, r.name.clone(), r.avatar.clone(), r.head_seq, r.read_seq, r.preview.clone(), r.member_count, r.notify, r.unread(), r.mentions())
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
    let mentions = room.mentions();
    let subtitle = match (&room.preview, room.kind, &room.peer_handle) {
        _ if room.left => "You are no longer in this group".to_string(),
        // One line, formatting dropped (`format::preview`).
        (Some(p), _, _) => p.clone(),
        (None, RoomKind::Direct, Some(h)) => crate::model::shown_handle(h),
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
    // A direct room shows the other person; a group, itself.
    let (avatar_id, group) = match room.peer {
        Some(peer) => (peer, false),
        None => (room.id, true),
    };
    let when = move || list_time(at, live.clock.get());
    view! {
        <li class="room" class:active=move || selected.get() == Some(id) class:left=room.left data-room=id
            data-online=move || online().then_some("true")>
            <A href=format!("/r/{id}")>
                <Avatar id=avatar_id name=room.name.clone() picture=room.avatar.clone() group=group>
                    <Show when=online>
                        <span class="dot" title="online"></span>
                    </Show>
                </Avatar>
                <span class="room-text">
                    <span class="room-line">
                        <span class="room-name">{room.name.clone()}</span>
                        {(room.notify == Notify::None && !room.left).then(|| view! {
                            <span class="muted-icon" title="Muted" aria-label="muted">"🔕"</span>
                        })}
                        <time class="room-time">{when}</time>
                    </span>
                    <span class="room-sub">{subtitle}</span>
                </span>
                <Show when=move || { unread > 0 && selected.get() != Some(id) }>
                    {(mentions > 0).then(|| view! {
                        <span class="badge at" aria-label=format!("{mentions} unread mentions")
                            title="Someone mentioned you">"@"</span>
                    })}
                    <span class="badge" class:quiet=room.notify != Notify::All
                        aria-label=format!("{unread} unread")>{unread}</span>
                </Show>
            </A>
        </li>
    }
}
