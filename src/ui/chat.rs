//! The main page: the layout (the room list on the left, the open room on
//! the right; one column on a phone, where they take turns), the
//! connection banner, and what shows with no room open. The page renders
//! on the server with the room list; once hydrated, the live state
//! (`Live`, fed by the socket) takes over.

use leptos::{prelude::*, task::spawn_local};
use leptos_meta::Title;
use leptos_router::{
    components::{Outlet, Redirect, A},
    hooks::use_location,
};

use super::avatar::Avatar;
use super::connection;
use super::dialogs::{Dialog, NewDirectDialog, NewGroupDialog, RoomsResource};
use super::files::Lightbox;
use super::group::GroupSettings;
use super::install::InstallControl;
use super::live::{Live, Status};
use super::notifications::NotificationsControl;
use super::rooms::RoomList;
use super::search::SearchDialog;
use super::settings::Me;
use crate::api::{log_out, my_profile, my_rooms, ApiError};
use crate::model::{RoomId, RoomSummary, User};

#[component]
pub fn ChatPage() -> impl IntoView {
    // Offline (the app shell rendering in the browser): who was signed in last.
    let session = Resource::new(
        || (),
        |_| async move {
            match my_profile().await {
                Err(ApiError::Transport(why)) => super::saved::me().ok_or(ApiError::Transport(why)),
                answer => answer,
            }
        },
    );
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match session.await {
                    Ok(profile) => view! { <Layout user=profile.user picture=profile.avatar/> }.into_any(),
                    Err(ApiError::Unauthenticated) => view! { <Redirect path="/login"/> }.into_any(),
                    Err(e) => view! { <ErrorPanel message=e.to_string()/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Layout(user: User, picture: Option<String>) -> impl IntoView {
    let rooms: RoomsResource = Resource::new(|| (), |_| my_rooms());
    let live = Live::new(&user);
    provide_context(live);
    provide_context(rooms);
    // Browser only: the socket opens while what this device kept is read;
    // its frames wait for that (`Live::restore_saved`).
    let me = user.clone();
    let first_picture = picture.clone();
    Effect::new(move |_| {
        super::saved::remember_me(&me, first_picture.clone());
        live.restore_outbox();
        super::tabs::start(live);
        live.restoring();
        let me = me.clone();
        spawn_local(async move { live.restore_saved(me).await });
        connection::start(live);
        super::upload::guard_page();
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
    // The room header opens search too.
    provide_context(dialog);
    // Ctrl+K (⌘K on a Mac) opens search from anywhere.
    let shortcut = window_event_listener(leptos::ev::keydown, move |ev| {
        if (ev.ctrl_key() || ev.meta_key()) && !ev.alt_key() && ev.key().eq_ignore_ascii_case("k") {
            ev.prevent_default();
            dialog.set(Some(Dialog::Search(None)));
        }
    });
    on_cleanup(move || shortcut.remove());
    // The settings screen changes my name and picture; the sidebar follows.
    let my_name = RwSignal::new(user.display_name.clone());
    let my_picture = RwSignal::new(picture);
    provide_context(Me {
        id: user.id,
        name: my_name,
        picture: my_picture,
    });
    // On a phone the pane takes the screen while a room or the settings are open.
    let pane_open = Memo::new(move |_| selected.get().is_some() || location.pathname.get() == "/settings");
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
        spawn_local(async move {
            // Nothing of this person stays on a shared device.
            super::forget_person(me).await;
            super::push::forget().await;
            let _ = log_out().await;
            super::go_to("/login");
        });
    };

    view! {
        <Title text=title/>
        <div class="chat" class:has-room=pane_open>
            <aside class="sidebar">
                <header class="me">
                    <Avatar id=user.id name=my_name picture=my_picture/>
                    <div class="who">
                        <strong>{move || my_name.get()}</strong>
                        <span class="handle">{format!("@{}", user.handle)}</span>
                    </div>
                    <A href="/settings" attr:class="ghost settings-link" attr:aria-label="Settings">
                        <span aria-hidden="true">"⚙"</span>
                    </A>
                    <button type="button" class="ghost" on:click=logout>"Log out"</button>
                </header>
                <div class="actions">
                    <button type="button" class="primary" on:click=move |_| dialog.set(Some(Dialog::Direct))>
                        "New message"
                    </button>
                    <button type="button" on:click=move |_| dialog.set(Some(Dialog::Group))>"New group"</button>
                    <button type="button" class="ghost search-open" aria-label="Search messages (Ctrl+K)"
                        aria-keyshortcuts="Control+K Meta+K" on:click=move |_| dialog.set(Some(Dialog::Search(None)))>
                        <span aria-hidden="true">"🔍"</span>
                    </button>
                </div>
                <NotificationsControl/>
                <InstallControl/>
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
            {move || match dialog.get() {
                Some(Dialog::Search(room)) => Some(view! { <SearchDialog dialog room/> }.into_any()),
                Some(Dialog::Settings(room)) => Some(view! { <GroupSettings dialog room/> }.into_any()),
                _ => None,
            }}
            <Lightbox/>
        </div>
    }
}

/// "Reconnecting…" while the socket is down ("Offline — showing saved
/// messages" when it never came up on this page and what the device kept
/// shows), "Back online" when it returns; and a word when the device is
/// too full to keep messages for offline use.
#[component]
fn Banner() -> impl IntoView {
    let live = expect_context::<Live>();
    let full = move || {
        live.storage_full.get().then(|| {
            view! {
                <div class="banner offline" role="status">
                    "This device is full: new messages are not kept for offline use."
                </div>
            }
        })
    };
    let status = move || match live.status.get() {
        Status::Reconnecting if live.saved.get() && !live.welcomed.get() => Some(
            view! { <div class="banner offline" role="status">"Offline — showing saved messages"</div> }
                .into_any(),
        ),
        Status::Reconnecting => {
            Some(view! { <div class="banner offline" role="status">"Reconnecting…"</div> }.into_any())
        }
        Status::BackOnline => {
            Some(view! { <div class="banner online" role="status">"Back online"</div> }.into_any())
        }
        Status::Connecting | Status::Online => None,
    };
    view! { {status} {full} }
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
