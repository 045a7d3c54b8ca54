//! The notifications control in the sidebar: where this device stands
//! (on, off, blocked) and the button that turns them on. The browser work
//! is in `push`; on the server the control renders empty.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::push::{self, Status};

#[component]
pub fn NotificationsControl() -> impl IntoView {
    let status = RwSignal::new(Status::Unknown);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    // Browser only: register the service worker and see where we stand.
    Effect::new(move |_| spawn_local(async move { status.set(push::status().await) }));
    let enable = move |_| {
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match push::enable().await {
                Ok(now) => status.set(now),
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    view! {
        <div class="notifications" data-status=move || format!("{:?}", status.get()).to_lowercase()>
            {move || match status.get() {
                Status::Off => {
                    view! {
                        <button type="button" class="ghost" on:click=enable disabled=busy>
                            "Enable notifications"
                        </button>
                    }
                        .into_any()
                }
                Status::On => view! { <p class="muted">"Notifications on"</p> }.into_any(),
                Status::Blocked => {
                    view! { <p class="muted">"Notifications are blocked in this browser's site settings."</p> }
                        .into_any()
                }
                Status::Unknown | Status::Unsupported => ().into_any(),
            }}
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </div>
    }
}
