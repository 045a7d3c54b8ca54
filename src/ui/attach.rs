//! What the composer sends along with a message: the files picked, pasted
//! or dropped, each uploading (with its progress), waiting for the network,
//! done, or refused; each can be cancelled, and a refused or stalled one
//! tried again. The uploading itself is `upload.rs` (the browser's).

use leptos::prelude::*;

use super::files::type_label;
use super::upload;
use crate::model::{human_size, Attachment};

#[derive(Clone, Debug, PartialEq)]
pub enum Stage {
    Uploading,
    /// The network is gone: it goes on by itself when it is back.
    Waiting,
    Done(Attachment),
    Failed(String),
}

/// One file being attached.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    pub key: u32,
    pub name: String,
    pub size: u64,
    pub mime: String,
    /// A local picture of it (an object URL), for images.
    pub preview: Option<String>,
    /// Bytes the server has.
    pub sent: u64,
    pub stage: Stage,
}

/// The files of one composer.
#[derive(Clone, Copy)]
pub struct Attaching {
    pub list: RwSignal<Vec<Pending>>,
}

impl Attaching {
    pub fn new() -> Self {
        Self {
            list: RwSignal::new(Vec::new()),
        }
    }

    /// Some are still on their way.
    pub fn busy(&self) -> bool {
        self.list.with(|l| {
            l.iter()
                .any(|p| matches!(p.stage, Stage::Uploading | Stage::Waiting))
        })
    }

    pub fn failed(&self) -> bool {
        self.list
            .with(|l| l.iter().any(|p| matches!(p.stage, Stage::Failed(_))))
    }

    pub fn is_empty(&self) -> bool {
        self.list.with(Vec::is_empty)
    }

    /// The uploaded files, in the order they were added.
    pub fn done(&self) -> Vec<Attachment> {
        self.list.with_untracked(|l| {
            l.iter()
                .filter_map(|p| match &p.stage {
                    Stage::Done(f) => Some(f.clone()),
                    _ => None,
                })
                .collect()
        })
    }

    /// Changes the file `key`, if it is still there.
    pub fn update(&self, key: u32, change: impl FnOnce(&mut Pending)) {
        self.list.update(|l| {
            if let Some(p) = l.iter_mut().find(|p| p.key == key) {
                change(p);
            }
        });
    }
}

/// The files being attached, each with its progress and what can be done.
#[component]
pub fn AttachList(a: Attaching) -> impl IntoView {
    view! {
        <Show when=move || !a.is_empty()>
            <ul class="attaching" aria-label="Files to send">
                <For each=move || a.list.get() key=|p| (p.key, p.sent, format!("{:?}", p.stage)) let:p>
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
        <li class="attach" class:failed=failed data-state=match p.stage {
            Stage::Uploading => "uploading",
            Stage::Waiting => "waiting",
            Stage::Done(_) => "done",
            Stage::Failed(_) => "failed",
        }>
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
