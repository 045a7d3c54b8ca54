//! Files as people see them: in a message, an image as its thumbnail (its
//! size reserved by the width and height it comes with, its average colour
//! shown until it loads) that opens the lightbox, any other file as a card
//! to download; the lightbox (the full image, ←/→ to the room's other
//! images, Escape to close); and a room's "files and media" list, newest
//! first, a page at a time. No inline styles: the page's policy forbids
//! them (sizes are attributes, the placeholder an SVG).

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::live::Live;
use crate::api::room_files;
use crate::model::{human_size, Attachment, RoomFile, RoomId};

/// A file's type as a word: "PDF", "JPEG image", "MP4 video".
pub fn type_label(mime: &str) -> String {
    let (top, sub) = mime.split_once('/').unwrap_or((mime, ""));
    let sub = sub
        .rsplit(['.', '-', '+'])
        .find(|s| s.len() > 1 && *s != "x")
        .unwrap_or(sub);
    let name = match sub {
        "document" | "msword" => "Word".to_string(),
        "sheet" => "Excel".to_string(),
        "presentation" => "PowerPoint".to_string(),
        "plain" => "Text".to_string(),
        short if short.len() <= 4 => short.to_uppercase(),
        other => other.to_string(),
    };
    match top {
        "image" => format!("{name} image"),
        "video" => format!("{name} video"),
        "audio" => format!("{name} audio"),
        _ => name,
    }
}

/// The files of one message. `stored`: the message is on the server, so
/// its files can be fetched (a message still being sent shows cards only).
pub fn files_view(files: Vec<Attachment>, room: RoomId, stored: bool, live: Live) -> AnyView {
    view! {
        <div class="files">
            {files
                .into_iter()
                .map(|f| match f.is_image() && stored {
                    true => thumb_view(f, room, live),
                    false => card_view(f, stored),
                })
                .collect_view()}
        </div>
    }
    .into_any()
}

fn thumb_view(f: Attachment, room: RoomId, live: Live) -> AnyView {
    let (w, h) = f.thumb_size();
    let label = format!("Open image {} ({})", f.name, human_size(f.size));
    let color = f.color.clone().unwrap_or_else(|| "#dde3ea".into());
    let (src, alt, id) = (f.thumb_url(), f.name.clone(), f.id.to_string());
    view! {
        <button type="button" class="thumb" data-file=id aria-label=label
            on:click=move |_| live.viewing.set(Some((room, f.clone())))>
            <svg class="placeholder" width=w height=h viewBox=format!("0 0 {w} {h}") aria-hidden="true">
                <rect width="100%" height="100%" fill=color></rect>
            </svg>
            <img src=src alt=alt width=w height=h loading="lazy"/>
        </button>
    }
    .into_any()
}

fn card_view(f: Attachment, stored: bool) -> AnyView {
    let meta = format!("{} · {}", human_size(f.size), type_label(&f.mime));
    let inner = view! {
        <span class="file-icon" aria-hidden="true">"📄"</span>
        <span class="file-text">
            <span class="file-name">{f.name.clone()}</span>
            <span class="file-meta">{meta}</span>
        </span>
    };
    match stored {
        true => view! {
            <a class="file" href=f.url() download=f.name.clone() data-file=f.id.to_string()>{inner}</a>
        }
        .into_any(),
        false => view! { <span class="file pending">{inner}</span> }.into_any(),
    }
}

/// The image being looked at, over everything: the full image, its name
/// and size, a download link; ← and → go to the room's other images held,
/// Escape (or the close button) goes back to the thumbnail.
#[component]
pub fn Lightbox() -> impl IntoView {
    let live = expect_context::<Live>();
    let dialog = NodeRef::<leptos::html::Div>::new();
    let step = move |by: i64| {
        let Some((room, now)) = live.viewing.get_untracked() else {
            return;
        };
        let all = live.images(room);
        let at = all.iter().position(|f| f.id == now.id).unwrap_or(0) as i64;
        if let Some(next) = usize::try_from(at + by).ok().and_then(|i| all.get(i)) {
            live.viewing.set(Some((room, next.clone())));
        }
    };
    let close = move || {
        let Some((_, f)) = live.viewing.get_untracked() else {
            return;
        };
        live.viewing.set(None);
        // Back to the thumbnail it was opened from.
        let selector = format!(".thumb[data-file=\"{}\"]", f.id);
        if let Ok(Some(el)) = document().query_selector(&selector) {
            if let Ok(el) = leptos::wasm_bindgen::JsCast::dyn_into::<leptos::web_sys::HtmlElement>(el) {
                let _ = el.focus();
            }
        }
    };
    Effect::new(move |_| {
        if live.viewing.with(Option::is_some) {
            if let Some(el) = dialog.get() {
                let _ = el.focus();
            }
        }
    });
    let keys = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        "Escape" => {
            ev.prevent_default();
            close();
        }
        "ArrowLeft" => {
            ev.prevent_default();
            step(-1);
        }
        "ArrowRight" => {
            ev.prevent_default();
            step(1);
        }
        _ => {}
    };
    view! {
        <Show when=move || live.viewing.with(Option::is_some)>
            {move || live.viewing.get().map(|(room, f)| {
                let all = live.images(room);
                let at = all.iter().position(|g| g.id == f.id);
                let place = at.map(|i| format!("{} of {}", i + 1, all.len())).unwrap_or_default();
                let (first, last) = (at == Some(0), at.is_some_and(|i| i + 1 == all.len()));
                view! {
                    <div class="lightbox" role="dialog" aria-modal="true" aria-label=format!("Image {}", f.name)
                        tabindex="-1" node_ref=dialog on:keydown=keys
                        on:click=move |ev| {
                            // A click on the dark around the image closes it.
                            if ev.target() == ev.current_target() {
                                close();
                            }
                        }>
                        <img src=f.url() alt=f.name.clone() width=f.w height=f.h/>
                        <div class="lightbox-bar">
                            <button type="button" class="ghost" aria-label="Previous image" disabled=first
                                on:click=move |_| step(-1)>"←"</button>
                            <span class="lightbox-name">{f.name.clone()}</span>
                            <span class="lightbox-place">{place}</span>
                            <a class="button ghost" href=f.url() download=f.name.clone()>"Download"</a>
                            <button type="button" class="ghost" aria-label="Next image" disabled=last
                                on:click=move |_| step(1)>"→"</button>
                            <button type="button" class="ghost" aria-label="Close" on:click=move |_| close()>"✕"</button>
                        </div>
                    </div>
                }
            })}
        </Show>
    }
}

/// The room header's "Files" button and the list it opens: the room's
/// images as thumbnails and its other files as cards, newest first, older
/// ones on request.
#[component]
pub fn FilesButton(room: RoomId) -> impl IntoView {
    let live = expect_context::<Live>();
    let open = RwSignal::new(false);
    let files = RwSignal::new(Vec::<RoomFile>::new());
    let more = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let loading = RwSignal::new(false);
    let load = move |before: Option<i64>| {
        loading.set(true);
        spawn_local(async move {
            match room_files(room, before).await {
                Ok(page) => {
                    files.update(|f| f.extend(page.files));
                    more.set(page.more);
                    error.set(None);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            loading.set(false);
        });
    };
    let toggle = move |_| {
        let now = !open.get_untracked();
        open.set(now);
        if now {
            files.set(Vec::new());
            load(None);
        }
    };
    view! {
        <button type="button" class="ghost files-toggle" aria-expanded=move || open.get().to_string()
            aria-controls=format!("files-{room}") on:click=toggle>"Files"</button>
        <Show when=move || open.get()>
            <section class="files-panel" id=format!("files-{room}") aria-label="Files and media"
                on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                    if ev.key() == "Escape" {
                        open.set(false);
                    }
                }>
                <h3>"Files and media"</h3>
                <button type="button" class="ghost close" aria-label="Close the files" on:click=move |_| open.set(false)>"✕"</button>
                {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                <Show when=move || files.with(Vec::is_empty) && !loading.get() && error.with(Option::is_none)>
                    <p class="empty">"No files in this room yet."</p>
                </Show>
                <div class="media-grid">
                    {move || files.get().into_iter().filter(|f| f.file.is_image())
                        .map(|f| thumb_view(f.file, room, live)).collect_view()}
                </div>
                <div class="file-list">
                    {move || files.get().into_iter().filter(|f| !f.file.is_image())
                        .map(|f| card_view(f.file, true)).collect_view()}
                </div>
                <Show when=move || more.get()>
                    <button type="button" class="ghost" disabled=move || loading.get()
                        on:click=move |_| load(files.with_untracked(|f| f.last().map(|f| f.seq)))>
                        "Older files"
                    </button>
                </Show>
            </section>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::type_label;

    #[test]
    fn types_read_as_words() {
        assert_eq!(type_label("application/pdf"), "PDF");
        assert_eq!(type_label("image/jpeg"), "JPEG image");
        assert_eq!(type_label("video/mp4"), "MP4 video");
        assert_eq!(type_label("text/plain"), "Text");
        assert_eq!(
            type_label("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            "Word"
        );
        assert_eq!(type_label("application/epub+zip"), "ZIP");
    }
}
