//! What the composer sends along with a message: the files picked, pasted
//! or dropped, each uploading (with its progress), waiting for the network,
//! done, or refused. The uploading itself is `upload.rs` (the browser's);
//! the list the person sees is `attach_list.rs`.

use leptos::prelude::*;

use crate::model::Attachment;

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
