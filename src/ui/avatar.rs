//! The round picture of a person or a group: the picture they chose, else
//! the initial of their name on one of a few colours chosen by their id
//! (`model::avatar_shade`), so it looks the same on every screen. The
//! presence dot, when given, sits on it. Decorative: the name is always
//! written beside it. `PictureChooser` sets or removes one (mine, or a
//! group's).

use leptos::{html::Input, prelude::*, task::spawn_local};
use serde::Deserialize;

use super::upload;
use crate::model::{avatar_shade, avatar_url};

#[component]
pub fn Avatar(
    /// Whose it is (a person's id, or a group's room id): picks the colour.
    id: i64,
    #[prop(into)] name: Signal<String>,
    #[prop(into)] picture: Signal<Option<String>>,
    #[prop(optional)] group: bool,
    /// A larger one (the settings screen).
    #[prop(optional)]
    large: bool,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let class = format!("avatar avatar-{}", avatar_shade(if group { -id } else { id }));
    view! {
        <span class=class class:group=group class:large=large aria-hidden="true">
            {move || match picture.get() {
                Some(p) => view! { <img src=avatar_url(&p) alt="" decoding="async"/> }.into_any(),
                None => letter(&name.get()).into_any(),
            }}
            {children.map(|c| c())}
        </span>
    }
}

/// The letter in a circle without a picture.
pub fn letter(name: &str) -> String {
    name.chars()
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_else(|| "?".into())
}

/// What a picture's answer says (a profile or a room: both carry it).
#[derive(Deserialize)]
struct Pictured {
    #[serde(default)]
    avatar: Option<String>,
}

/// "Choose a picture" (a file picker, from the keyboard too) and "Remove
/// picture", sent to `url` (`/avatars/mine`, `/avatars/room/{id}`);
/// `picture` follows what the server stored.
#[component]
pub fn PictureChooser(url: String, picture: RwSignal<Option<String>>) -> AnyView {
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let said = RwSignal::new(None::<String>);
    let url = StoredValue::new(url);
    let file_input = NodeRef::<Input>::new();
    let send = move |chosen: Option<leptos::web_sys::Event>| {
        busy.set(true);
        error.set(None);
        said.set(None);
        let removing = chosen.is_none();
        spawn_local(async move {
            let answer = upload::picture(url.get_value(), chosen).await;
            busy.set(false);
            let Some(answer) = answer else {
                return;
            };
            match answer.and_then(|text| serde_json::from_str::<Pictured>(&text).map_err(|e| e.to_string())) {
                Ok(p) => {
                    picture.set(p.avatar);
                    said.set(Some(
                        if removing {
                            "Picture removed."
                        } else {
                            "Picture saved."
                        }
                        .into(),
                    ));
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    view! {
        <div class="picture-chooser">
            <input type="file" accept="image/jpeg,image/png,image/gif,image/webp" class="visually-hidden"
                tabindex="-1" aria-hidden="true" node_ref=file_input on:change=move |ev| send(Some(ev))/>
            <button type="button" disabled=busy on:click=move |_| {
                if let Some(el) = file_input.get_untracked() {
                    el.click();
                }
            }>"Choose a picture"</button>
            <Show when=move || picture.get().is_some()>
                <button type="button" class="ghost" disabled=busy on:click=move |_| send(None)>"Remove picture"</button>
            </Show>
            <p class="status" role="status">{move || said.get()}</p>
            <p class="error" role="alert">{move || error.get()}</p>
        </div>
    }
    .into_any()
}
