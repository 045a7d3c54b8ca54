//! Receipts: members' delivered/read marks, checked against the room's
//! head, stored monotonically, and told to whoever can show them (design
//! §10): a member's marks go to that member's own devices (their unread
//! count), and the ticks they make go to the senders whose messages they
//! change, as counts (`ticks`), never one member's marks to every member.
//! In a direct room that happens at once; in a group the reports of a room
//! are coalesced for about a second, so the work per message does not grow
//! with members². Who read a message, by name, is asked for separately
//! (`read_by`). Membership is checked by the caller.
//!
//! Reports are stored by one writer task (`writer`), a round of them per
//! transaction: a room where a thousand members report a few times a
//! second costs a few commits a second, not thousands.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::bus::{Bus, Event, MarksOf};
use super::locks::lock;
use super::storage::{DynStore, StoreError, StoredMarks};
use super::tasks::{NodeTask, Tasks};
use super::ticks::Standing;
use crate::model::{RoomId, RoomKind, UserId};
use crate::protocol::{Message, Seq, Ticks};

/// The most reports one transaction stores.
const BATCH_MAX: usize = 512;

/// A report for the writer, and who waits for the marks as stored.
struct Job {
    report: (RoomId, UserId, Seq, Seq),
    reply: oneshot::Sender<Result<Option<StoredMarks>, StoreError>>,
}

/// How long a group's receipts wait to be sent together.
const GROUP_DELAY: Duration = Duration::from_secs(1);
/// How far back (rows) a group's flush looks for messages to count readers of.
const WINDOW: Seq = 500;
/// How far back (rows) it looks for senders whose ticks may have moved
/// (their thresholds, without counts). Older senders learn at their next
/// `members` (opening the room, reconnecting, a resync).
const SENDERS_WINDOW: Seq = 5_000;
/// The most (room, sender) ticks remembered as sent; past it, forgotten
/// (and then sent again once, unchanged or not).
const SENT_MAX: usize = 50_000;
/// The most rooms whose last sender is remembered; past it, forgotten (the
/// next commit of each then flushes once).
const LAST_MAX: usize = 100_000;

/// Delivered, read, and the `n` of the row at read.
type Marks = (Seq, Seq, i64);

/// Why a report was not stored.
#[derive(Debug)]
pub enum ReportError {
    /// It names a seq the room does not have.
    Beyond {
        room: RoomId,
        seq: Seq,
        head: Seq,
    },
    /// The reporter is not (or no longer) in the room.
    NotMember(RoomId),
    Store(StoreError),
}

impl From<StoreError> for ReportError {
    fn from(e: StoreError) -> Self {
        ReportError::Store(e)
    }
}

#[derive(Clone)]
pub struct Receipts {
    store: DynStore,
    bus: Arc<dyn Bus>,
    tasks: Tasks,
    /// The writer's queue.
    jobs: mpsc::Sender<Job>,
    /// Per room, the newest marks of each member not yet published.
    pending: Arc<Mutex<HashMap<RoomId, HashMap<UserId, Marks>>>>,
    /// The ticks last sent to each sender of each room: a flush sends
    /// only what changed.
    sent: Arc<Mutex<HashMap<(RoomId, UserId), Ticks>>>,
    /// Per room, the last committed row known here and its sender.
    last: Arc<Mutex<HashMap<RoomId, (Seq, UserId)>>>,
}

impl Receipts {
    /// The receipts, and their writer task for `server::run` to start.
    pub fn new(store: DynStore, bus: Arc<dyn Bus>, tasks: Tasks) -> (Self, NodeTask) {
        let (jobs, rx) = mpsc::channel(4 * BATCH_MAX);
        let task = NodeTask::new("marks writer", writer(rx, store.clone()));
        let receipts = Self {
            store,
            bus,
            tasks,
            jobs,
            pending: Arc::default(),
            sent: Arc::default(),
            last: Arc::default(),
        };
        (receipts, task)
    }

    /// Stores a report through the writer.
    async fn raise(&self, report: (RoomId, UserId, Seq, Seq)) -> Result<Option<StoredMarks>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::Unavailable("the marks writer stopped".into());
        self.jobs.send(Job { report, reply }).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Stores `user`'s report that they hold (`delivered`) and have seen
    /// (`read`) the room up to those seqs, and publishes the receipt if a
    /// mark rose. Gives the marks as stored: a lower report moves nothing.
    pub async fn report(
        &self,
        room: RoomId,
        user: UserId,
        delivered: Seq,
        read: Seq,
    ) -> Result<Marks, ReportError> {
        let (head, kind) = self
            .store
            .head_and_kind(room)
            .await?
            .unwrap_or((0, RoomKind::Group));
        let seq = delivered.max(read);
        if seq < 0 || seq > head {
            return Err(ReportError::Beyond { room, seq, head });
        }
        let stored = self
            .raise((room, user, delivered, read))
            .await?
            .ok_or(ReportError::NotMember(room))?;
        let marks = (stored.delivered, stored.read, stored.read_n);
        if stored.rose {
            self.publish(room, kind, user, marks).await;
        }
        Ok(marks)
    }

    /// Publishes stored marks: now for a direct room, within a second for a group.
    async fn publish(&self, room: RoomId, kind: RoomKind, user: UserId, marks: Marks) {
        let first = {
            let mut pending = lock(&self.pending);
            // A flush is due already if the room is pending (a commit's, maybe).
            let first = !pending.contains_key(&room);
            let entry = pending.entry(room).or_default();
            let slot = entry.entry(user).or_insert(marks);
            if marks.1 > slot.1 {
                (slot.1, slot.2) = (marks.1, marks.2);
            }
            slot.0 = slot.0.max(marks.0);
            first
        };
        if kind == RoomKind::Direct {
            return self.flush(room).await;
        }
        if first {
            self.flush_later(room);
        }
    }

    /// Rows were committed (in seq order): their senders' marks rose with
    /// them (storage did that), which moves others' ticks in a group when
    /// a mark passed someone else's row. It did not when the row before is
    /// known to be the same sender's (a sender's mark is at least their
    /// last row), or there is none: a room with one person talking costs
    /// no flush. (In a
    /// direct room the other one's client sees it itself.)
    pub fn wrote(&self, committed: &[Message]) {
        let mut moved: HashSet<RoomId> = HashSet::new();
        {
            let mut last = lock(&self.last);
            if last.len() > LAST_MAX {
                last.clear();
            }
            for m in committed {
                let same = m.seq == 1 || last.get(&m.room) == Some(&(m.seq - 1, m.sender));
                if !same {
                    moved.insert(m.room);
                }
                last.insert(m.room, (m.seq, m.sender));
            }
        }
        for room in moved {
            let first = {
                let mut pending = lock(&self.pending);
                let first = !pending.contains_key(&room);
                pending.entry(room).or_default();
                first
            };
            if first {
                self.flush_later(room);
            }
        }
    }

    fn flush_later(&self, room: RoomId) {
        let this = self.clone();
        self.tasks.spawn(async move {
            tokio::time::sleep(GROUP_DELAY).await;
            this.flush(room).await;
        });
    }

    /// Sends the room's pending marks to their owners, and the ticks that
    /// moved to their senders.
    async fn flush(&self, room: RoomId) {
        let Some(batch) = lock(&self.pending).remove(&room) else {
            // A flush running meanwhile took them.
            return;
        };
        let reported = !batch.is_empty();
        let marks: Vec<MarksOf> = batch
            .into_iter()
            .map(|(user, (delivered, read, read_n))| MarksOf {
                user,
                delivered,
                read,
                read_n,
            })
            .collect();
        if reported {
            self.bus.publish(Event::Marks { room, marks }).await;
        }
        match self.ticks(room, reported).await {
            Ok(ticks) if ticks.is_empty() => {}
            Ok(ticks) => self.bus.publish(Event::Ticks { room, ticks }).await,
            // The senders' ticks catch up at their next flush or `members`.
            Err(e) => tracing::warn!(room, error = %e, "cannot read the room's marks for ticks"),
        }
    }

    /// The ticks of the room's recent senders (every member of a direct
    /// room, when one reported) that differ from what was last sent to them.
    async fn ticks(&self, room: RoomId, reported: bool) -> Result<Vec<(UserId, Ticks)>, StoreError> {
        let Some((head, kind)) = self.store.head_and_kind(room).await? else {
            return Ok(Vec::new());
        };
        if kind == RoomKind::Direct && !reported {
            return Ok(Vec::new());
        }
        let (standing, senders) = match kind {
            RoomKind::Direct => {
                let standing = Standing::new(self.store.room_marks(room).await?);
                let senders = standing.members().map(|u| (u, Vec::new())).collect();
                (standing, senders)
            }
            RoomKind::Group => {
                let mut by: HashMap<UserId, Vec<Seq>> = HashMap::new();
                for sender in self.store.senders_since(room, head - SENDERS_WINDOW).await? {
                    by.entry(sender).or_default();
                }
                for (seq, sender) in self.store.senders(room, head - WINDOW, head).await? {
                    by.entry(sender).or_default().push(seq);
                }
                let senders: Vec<(UserId, Vec<Seq>)> = by.into_iter().collect();
                let who: Vec<UserId> = senders.iter().map(|s| s.0).collect();
                let summary = self.store.mark_summary(room, head - WINDOW, &who).await?;
                (Standing::summed(summary), senders)
            }
        };
        let mut sent = lock(&self.sent);
        if sent.len() > SENT_MAX {
            sent.clear();
        }
        Ok(senders
            .into_iter()
            .filter_map(|(user, mine)| {
                let ticks = standing.ticks_of(user, &mine);
                (sent.get(&(room, user)) != Some(&ticks)).then(|| {
                    sent.insert((room, user), ticks.clone());
                    (user, ticks)
                })
            })
            .collect())
    }

    /// The ticks of `user`'s messages in `room` now (for `members`).
    pub async fn ticks_of(&self, room: RoomId, user: UserId) -> Result<Ticks, StoreError> {
        let head = self.store.head(room).await?.unwrap_or(0);
        let mine: Vec<Seq> = self
            .store
            .senders(room, head - WINDOW, head)
            .await?
            .into_iter()
            .filter_map(|(seq, sender)| (sender == user).then_some(seq))
            .collect();
        let summary = self.store.mark_summary(room, head - WINDOW, &[user]).await?;
        Ok(Standing::summed(summary).ticks_of(user, &mine))
    }
}

/// Stores the reports that queued up meanwhile, a round per transaction,
/// and answers each. A round that fails is stored report by report, so
/// one bad report fails alone.
async fn writer(mut rx: mpsc::Receiver<Job>, store: DynStore) {
    let mut jobs = Vec::with_capacity(BATCH_MAX);
    while rx.recv_many(&mut jobs, BATCH_MAX).await > 0 {
        let reports: Vec<_> = jobs.iter().map(|j| j.report).collect();
        match store.raise_marks_all(&reports).await {
            Ok(stored) => {
                for (job, marks) in jobs.drain(..).zip(stored) {
                    let _ = job.reply.send(Ok(marks));
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, reports = reports.len(), "a round of reports failed: one by one");
                for job in jobs.drain(..) {
                    let (room, user, delivered, read) = job.report;
                    let _ = job
                        .reply
                        .send(store.raise_marks(room, user, delivered, read).await);
                }
            }
        }
    }
}
