//! The composer's files being attached, as the person sees them: each with
//! its picture or icon, a progress bar and where it stands, a button to
//! remove it and, when refused or stalled, one to try again.

use leptos::prelude::*;

use super::attach::{Attaching, Pending, Stage};
use super::files::type_label;
use super::upload;
use crate::model::human_size;

/// The files being attached, each with its progress and what can be done.
#[component]
pub fn AttachList(a: Attaching) -> impl IntoView {
    view! {
        <Show when=move || !a.is_empty()>
            <ul class="attaching" aria-label="Files to send">
                <For each=move || a.list.get() key=|p| (p.key, p.sent, stage_name(&p.stage)) let:p>
                    {chip(a, p)}
                </For>
            </ul>
        </Show>
    }
}

fn chip(a: Attaching, p: Pending) -> impl IntoView {
    let key = p.key;
    let (status, failed) = match &p.stage {
        Stage::Uploading => (format!("Uploading {}%", percent(p.sent, p.size)), false),
        Stage::Waiting => ("Waiting for the network…".to_string(), false),
        Stage::Done(_) => ("Ready to send".to_string(), false),
        Stage::Failed(why) => (why.clone(), true),
    };
    let label = format!("{} ({}, {})", p.name, human_size(p.size), type_label(&p.mime));
    view! {
        <li class="attach" class:failed=failed data-state=stage_name(&p.stage)>
            {match p.preview.clone() {
                Some(url) => view! { <img class="attach-preview" src=url alt="" width="48" height="48"/> }.into_any(),
                None => view! { <span class="attach-preview file-icon" aria-hidden="true">"📄"</span> }.into_any(),
            }}
            <span class="attach-text">
                <span class="attach-name" title=label.clone()>{p.name.clone()}</span>
                <progress max=p.size.max(1) value=p.sent aria-label=format!("Upload of {}", p.name)></progress>
                <span class="attach-status" role=failed.then_some("alert")>{status}</span>
            </span>
            {failed.then(|| view! {
                <button type="button" class="ghost" aria-label=format!("Try {} again", p.name)
                    on:click=move |_| upload::retry(a, key)>"Retry"</button>
            })}
            <button type="button" class="ghost" aria-label=format!("Remove {}", p.name)
                on:click=move |_| upload::cancel(a, key)>"✕"</button>
        </li>
    }
}

fn percent(sent: u64, size: u64) -> u64 {
    (sent.saturating_mul(100) / size.max(1)).min(100)
}

fn stage_name(stage: &Stage) -> &'static str {
    match stage {
        Stage::Uploading => "uploading",
        Stage::Waiting => "waiting",
        Stage::Done(_) => "done",
        Stage::Failed(_) => "failed",
    }
}
