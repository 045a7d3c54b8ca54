//! The Leptos UI: the HTML shell, the router and the pages. Components read
//! data through the API's server functions; browser-only work happens in
//! `Effect`s, which never run on the server.

// What the browser's uploads do to it is the browser's.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
mod attach;
mod attach_list;
mod auth;
mod avatar;
mod body;
mod chat;
mod composer;
#[cfg(feature = "hydrate")]
mod connection;
#[cfg(not(feature = "hydrate"))]
#[path = "connection_ssr.rs"]
mod connection;
#[cfg(feature = "hydrate")]
pub(crate) mod crash;
mod dialogs;
#[cfg(feature = "hydrate")]
mod drafts;
#[cfg(not(feature = "hydrate"))]
#[path = "drafts_ssr.rs"]
mod drafts;
mod emoji;
mod files;
mod group;
mod install;
// The server renders with `Live` but never runs what the browser does with
// it (frames, ticks, the observers): those methods are the browser's.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
mod live;
mod mentions;
mod message;
mod notifications;
mod push;
mod room;
mod rooms;
mod rows;
mod saved;
mod search;
#[cfg(feature = "hydrate")]
mod seen;
#[cfg(not(feature = "hydrate"))]
#[path = "seen_ssr.rs"]
mod seen;
mod settings;
#[cfg(feature = "hydrate")]
mod socket;
#[cfg(not(feature = "hydrate"))]
#[path = "socket_ssr.rs"]
#[allow(dead_code)] // the twin of every function, some called only on browser paths
mod socket;
#[cfg(feature = "hydrate")]
mod tabs;
#[cfg(not(feature = "hydrate"))]
#[path = "tabs_ssr.rs"]
mod tabs;
#[cfg(feature = "hydrate")]
mod theme;
#[cfg(not(feature = "hydrate"))]
#[path = "theme_ssr.rs"]
mod theme;
mod time;
mod timeline;
#[cfg(feature = "hydrate")]
mod upload;
#[cfg(not(feature = "hydrate"))]
#[path = "upload_ssr.rs"]
mod upload;
#[cfg(feature = "hydrate")]
mod worker;
#[cfg(not(feature = "hydrate"))]
#[path = "worker_ssr.rs"]
mod worker;

pub use saved::Keep;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::{
    components::{ParentRoute, Route, Router, Routes},
    path, SsrMode,
};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions, keep: Keep) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <Head options keep/>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The app shell (`/shell`): the same document with no page in its body.
/// The service worker keeps it and answers with it for any page while the
/// network is gone; the browser then renders the page itself (`is_shell`).
pub fn app_shell(options: LeptosOptions, keep: Keep) -> impl IntoView {
    provide_meta_context();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <Head options keep/>
            <body data-shell="true"></body>
        </html>
    }
}

/// Whether this document is the app shell, which the browser renders
/// (mounts) rather than takes over (hydrates).
#[cfg(feature = "hydrate")]
pub fn is_shell() -> bool {
    document().body().is_some_and(|b| b.has_attribute("data-shell"))
}

#[component]
fn Head(options: LeptosOptions, keep: Keep) -> impl IntoView {
    view! {
        <head>
            // What this deployment lets browsers keep (`saved::Keep`).
            <meta name=Keep::META content=keep.to_string()/>
            <meta charset="utf-8"/>
            <meta name="viewport" content="width=device-width, initial-scale=1"/>
            <meta name="color-scheme" content="light dark"/>
            <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
            // Installable (`public/manifest.webmanifest`); iOS reads its own tags.
            <link rel="manifest" href="/manifest.webmanifest"/>
            <link rel="apple-touch-icon" href="/icons/apple-touch-icon.png"/>
            <meta name="theme-color" content="#2f7cf6"/>
            <meta name="apple-mobile-web-app-title" content="Chat"/>
            <AutoReload options=options.clone()/>
            // Named with its content hash in a release build.
            <HashedStylesheet options=options.clone() id="leptos"/>
            <HydrationScripts options/>
            <MetaTags/>
        </head>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // A new build of the app is installed and waits (the service worker).
    let update = RwSignal::new(false);
    // Tests and people wait for this marker: before it, clicks do nothing.
    Effect::new(move |_| {
        theme::apply(&theme::load());
        worker::start(update);
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Title text="Chat"/>
        <Show when=move || update.get()>
            <div class="update" role="status">
                "A new version is available — "
                <button type="button" class="primary" on:click=|_| worker::take_over()>"Reload"</button>
            </div>
        </Show>
        <Router>
            <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                <Route path=path!("/login") view=auth::AuthPage ssr=SsrMode::Async/>
                <ParentRoute path=path!("") view=chat::ChatPage ssr=SsrMode::Async>
                    <Route path=path!("") view=chat::NoRoom/>
                    <Route path=path!("r/:id") view=room::RoomPane/>
                    <Route path=path!("settings") view=settings::SettingsPage/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// Nothing of a person stays on this device once they log out (or their
/// session ends elsewhere): drafts, unsent messages, saved messages.
async fn forget_person(user: crate::model::UserId) {
    drafts::forget(user);
    socket::erase_outbox(user);
    saved::erase(user).await;
}

/// Sends the browser to `href` with a full page load, so the server renders
/// the next page with the new session cookie.
fn go_to(href: &str) {
    let _ = window().location().set_href(href);
}
