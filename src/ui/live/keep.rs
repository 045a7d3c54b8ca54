//! The live state kept on this device (`ui::saved`): restored while the
//! socket opens (its frames wait until then, so the room list and the
//! rooms opened lately paint at once, offline too, and the server's
//! `welcome` resumes them), and written a second after it changes: the
//! summaries, the rows of the rooms that changed among those opened most
//! recently, and that order.

use std::collections::BTreeSet;

use leptos::prelude::*;

use super::{socket, Live, Status};
use crate::model::{RoomId, User};
use crate::protocol::ServerFrame;
use crate::sync::Output;
use crate::ui::saved::{self, Changes};

/// Changes are written this long after the first one (they come in bursts).
const SAVE_AFTER_MS: u64 = 1_000;

/// While what the device kept is read: the socket's frames wait, and
/// whether a connection failed meanwhile.
#[derive(Debug, Default)]
pub struct Restoring {
    active: bool,
    frames: Vec<ServerFrame>,
    failed: bool,
}

/// What changed since the last save.
#[derive(Debug, Default)]
pub struct Unsaved {
    /// Every summary (the room list changed), or those of `rooms`.
    summaries: bool,
    rooms: BTreeSet<RoomId>,
    recent: bool,
    evicted: Vec<RoomId>,
    /// A save is on its way.
    due: bool,
}

impl Live {
    /// From now until `restore_saved` ends, the socket's frames wait.
    pub fn restoring(&self) {
        self.restoring.update_value(|r| r.active = true);
    }

    /// Takes back what this device kept of `me` (browser only), then
    /// handles the frames that came meanwhile.
    pub async fn restore_saved(&self, me: User) {
        let kept = saved::load(self.user).await;
        self.recent.set_value(kept.recent);
        let out = self.step(|c, _| c.restore(Some(me), kept.rooms));
        if out.rooms_changed {
            self.saved.set(true);
        }
        self.apply(out);
        // Just read: nothing to write back.
        self.unsaved.update_value(|u| {
            u.summaries = false;
            u.rooms.clear();
        });
        let held = self
            .restoring
            .try_update_value(std::mem::take)
            .unwrap_or_default();
        if held.failed && self.saved.get_untracked() && self.status.get_untracked() == Status::Connecting {
            self.status.set(Status::Reconnecting);
        }
        for frame in held.frames {
            self.handle(frame);
        }
    }

    /// The frame waits if what the device kept is being read (None), else it is handled now.
    pub(super) fn unless_restoring(&self, frame: ServerFrame) -> Option<ServerFrame> {
        self.restoring
            .try_update_value(|r| match r.active {
                true => {
                    r.frames.push(frame);
                    None
                }
                false => Some(frame),
            })
            .flatten()
    }

    /// The connection closed while what the device kept is read: its
    /// frames are moot (the next connection's `welcome` brings it all).
    pub(super) fn closed_while_restoring(&self) -> bool {
        self.restoring
            .try_update_value(|r| {
                if r.active {
                    r.frames.clear();
                    r.failed = true;
                }
                r.active
            })
            .unwrap_or(false)
    }

    /// Room `room` was opened: first of the rooms kept with their rows.
    pub(super) fn opened_here(&self, room: RoomId) {
        let evicted = self.recent.try_update_value(|recent| {
            recent.retain(|r| *r != room);
            recent.insert(0, room);
            recent.split_off(recent.len().min(saved::keep().rooms))
        });
        self.unsaved.update_value(|u| {
            u.recent = true;
            u.rooms.insert(room);
            u.evicted.extend(evicted.unwrap_or_default());
        });
        self.save_soon();
    }

    /// Notes what a step changed, for the next save.
    pub(super) fn note_unsaved(&self, out: &Output) {
        if !out.rooms_changed && out.changed.is_empty() {
            return;
        }
        // A row changes its room's summary too (head, preview): written with it.
        self.unsaved.update_value(|u| {
            u.summaries |= out.rooms_changed;
            u.rooms.extend(out.changed.iter().copied());
        });
        self.save_soon();
    }

    fn save_soon(&self) {
        let first = self
            .unsaved
            .try_update_value(|u| !std::mem::replace(&mut u.due, true))
            .unwrap_or(false);
        if first {
            let live = *self;
            socket::later(SAVE_AFTER_MS, move || live.save_now());
        }
    }

    fn save_now(&self) {
        let Some(unsaved) = self.unsaved.try_update_value(std::mem::take) else {
            return;
        };
        let (recent, rows) = (self.recent.get_value(), saved::keep().rows);
        let changes = self.client.with_value(|c| Changes {
            summaries: match unsaved.summaries {
                true => c.rooms().values().filter_map(|r| r.summary.clone()).collect(),
                false => unsaved
                    .rooms
                    .iter()
                    .filter_map(|id| c.room(*id).and_then(|r| r.summary.clone()))
                    .collect(),
            },
            timelines: unsaved
                .rooms
                .iter()
                .filter(|id| recent.contains(id))
                .filter_map(|id| c.saved_room(*id, rows))
                .collect(),
            recent: unsaved.recent.then_some(recent),
            evicted: unsaved.evicted,
        });
        let (user, full) = (self.user, self.storage_full);
        leptos::task::spawn_local(async move {
            let stored = saved::write(user, changes).await;
            if full.get_untracked() == stored {
                full.set(!stored);
            }
        });
    }
}
