//! A group's settings (the room header's "Group" button): its picture,
//! name and description, its members a page at a time with what my role lets me do
//! to each (make admin or member, hand the group over, remove), adding
//! people, and leaving. What is offered follows `groups::check`; the
//! server checks again. Removing, handing over and leaving ask once more
//! on the same button before they happen.

use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};

use super::avatar::{Avatar, PictureChooser};
use super::dialogs::{AddMemberForm, Dialog, Modal};
use super::live::Live;
use crate::api::{describe_room, hand_over, leave_room, remove_member, rename_room, room_members, set_role};
use crate::groups::{check, Action};
use crate::model::{Member, Role, RoomId, UserId, DESCRIPTION_MAX, ROOM_NAME_MAX};

/// An action that asks again before it happens: which, on whom.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Pending {
    Remove(UserId),
    HandOver(UserId),
    Leave,
}

#[component]
pub fn GroupSettings(room: RoomId, dialog: RwSignal<Option<Dialog>>) -> impl IntoView {
    let live = expect_context::<Live>();
    let summary = move || live.rooms.with(|r| r.iter().find(|r| r.id == room).cloned());
    let role = move || summary().map(|s| s.role).unwrap_or_default();
    let may = move |action| check(role(), action).is_ok();
    let me = live.user();

    // The picture as the chooser set it, and as the group's rows say after.
    let picture = RwSignal::new(summary().and_then(|s| s.avatar));
    Effect::new(move |_| {
        let now = summary().and_then(|s| s.avatar);
        if picture.get_untracked() != now {
            picture.set(now);
        }
    });
    let shown_name = Signal::derive(move || summary().map(|s| s.name).unwrap_or_default());
    let name = RwSignal::new(summary().map(|s| s.name).unwrap_or_default());
    let text = RwSignal::new(summary().map(|s| s.description).unwrap_or_default());
    let error = RwSignal::new(None::<String>);
    let saved = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let pending = RwSignal::new(None::<Pending>);

    // The members, a page at a time; asked again after every change.
    let members = RwSignal::new(Vec::<Member>::new());
    let total = RwSignal::new(0i64);
    let more = RwSignal::new(false);
    let load = move |after: Option<UserId>| {
        spawn_local(async move {
            match room_members(room, after, None).await {
                Ok(page) => {
                    members.update(|m| {
                        if after.is_none() {
                            m.clear();
                        }
                        m.extend(page.members);
                    });
                    total.set(page.total);
                    more.set(page.more);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    load(None);

    // Runs a change; on success the member list is read again.
    let run =
        move |call: std::pin::Pin<Box<dyn std::future::Future<Output = Result<_, crate::api::ApiError>>>>| {
            busy.set(true);
            error.set(None);
            saved.set(false);
            pending.set(None);
            spawn_local(async move {
                let answer: Result<crate::model::RoomSummary, _> = call.await;
                busy.set(false);
                match answer {
                    Ok(s) if s.left => dialog.set(None),
                    Ok(_) => load(None),
                    Err(e) => error.set(Some(e.to_string())),
                }
            });
        };
    let save = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Some(s) = summary() else { return };
        let (new_name, new_text) = (name.get_untracked(), text.get_untracked());
        busy.set(true);
        error.set(None);
        saved.set(false);
        spawn_local(async move {
            let mut answer = Ok(());
            if new_name.trim() != s.name {
                answer = rename_room(room, new_name).await.map(|_| ());
            }
            if answer.is_ok() && new_text.trim() != s.description {
                answer = describe_room(room, new_text).await.map(|_| ());
            }
            busy.set(false);
            match answer {
                Ok(()) => saved.set(true),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    // A second press of the same button does it.
    let confirm = move |want: Pending| {
        if pending.get_untracked() != Some(want) {
            pending.set(Some(want));
            return;
        }
        match want {
            Pending::Remove(user) => run(Box::pin(remove_member(room, user))),
            Pending::HandOver(user) => run(Box::pin(hand_over(room, user))),
            Pending::Leave => run(Box::pin(leave_room(room))),
        }
    };
    let asking = move |want: Pending| pending.get() == Some(want);

    let member_row = move |m: Member| {
        let user = m.user.id;
        let mine = me == user;
        let label = format!("{} (@{})", m.user.display_name, m.user.handle);
        let role_name = match m.role {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "",
        };
        let promote = !mine && m.role == Role::Member && may(Action::SetRole(Role::Member, Role::Admin));
        let demote = !mine && m.role == Role::Admin && may(Action::SetRole(Role::Admin, Role::Member));
        let give = !mine && may(Action::HandOver);
        let remove = !mine && may(Action::Remove(m.role));
        view! {
            <li class="member" data-user=user>
                <span class="who">{m.user.display_name.clone()} <span class="handle">{crate::model::shown_handle(&m.user.handle)}</span></span>
                <span class="role">{role_name}</span>
                <span class="member-actions">
                    <Show when=move || promote>
                        <button type="button" disabled=busy aria-label=format!("Make {label} an admin")
                            on:click=move |_| run(Box::pin(set_role(room, user, Role::Admin)))>"Make admin"</button>
                    </Show>
                    <Show when=move || demote>
                        <button type="button" disabled=busy
                            on:click=move |_| run(Box::pin(set_role(room, user, Role::Member)))>"Make member"</button>
                    </Show>
                    <Show when=move || give>
                        <button type="button" disabled=busy
                            on:click=move |_| confirm(Pending::HandOver(user))>
                            {move || if asking(Pending::HandOver(user)) { "Really make owner?" } else { "Make owner" }}
                        </button>
                    </Show>
                    <Show when=move || remove>
                        <button type="button" class="danger" disabled=busy
                            on:click=move |_| confirm(Pending::Remove(user))>
                            {move || if asking(Pending::Remove(user)) { "Really remove?" } else { "Remove" }}
                        </button>
                    </Show>
                </span>
            </li>
        }
    };

    view! {
        <Modal title="Group settings" dialog wide=true>
            <div class="picture-row">
                <Avatar id=room group=true large=true name=shown_name picture=picture/>
                <Show when=move || may(Action::Describe)>
                    <PictureChooser url=format!("/avatars/room/{room}") picture=picture/>
                </Show>
            </div>
            <form class="group-form" on:submit=save>
                <label>
                    "Name"
                    <input name="group_name" required maxlength=ROOM_NAME_MAX disabled=move || !may(Action::Rename)
                        prop:value=name on:input=move |ev| name.set(event_target_value(&ev))/>
                </label>
                <label>
                    "Description"
                    <textarea name="description" rows="3" maxlength=DESCRIPTION_MAX disabled=move || !may(Action::Describe)
                        prop:value=text on:input=move |ev| text.set(event_target_value(&ev))></textarea>
                </label>
                <Show when=move || may(Action::Rename)>
                    <button type="submit" class="primary" disabled=busy>"Save"</button>
                </Show>
                <p class="status" role="status">{move || saved.get().then_some("Saved.")}</p>
            </form>
            <h3>{move || format!("Members ({})", total.get())}</h3>
            <ul class="member-list" aria-label="Members">
                <For each=move || members.get() key=|m| (m.user.id, m.role) children=member_row/>
            </ul>
            <Show when=move || more.get()>
                <button type="button" class="ghost"
                    on:click=move |_| load(members.with_untracked(|m| m.last().map(|m| m.user.id)))>
                    "More members"
                </button>
            </Show>
            <Show when=move || may(Action::Add)>
                <AddMemberForm room on_added=Callback::new(move |_| load(None))/>
            </Show>
            <p class="error" role="alert">{move || error.get()}</p>
            <button type="button" class="danger leave" disabled=busy on:click=move |_| confirm(Pending::Leave)>
                {move || if asking(Pending::Leave) { "Really leave the group?" } else { "Leave group" }}
            </button>
        </Modal>
    }
}
