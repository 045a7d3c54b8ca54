//! The checks of a chaos run: what every person ended up holding and every
//! ack they got, against what the database holds. Counts, never early
//! panics, so a failing run still prints the whole picture.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chat::model::{RoomId, UserId};
use chat::protocol::{MemberMarks, Message, Seq};
use chat::server::storage::DynStore;
use chat::sync::Tick;
use uuid::Uuid;

use crate::person::{Counts, Log, Snapshot};

/// One room as the database holds it.
pub struct Stored {
    pub msgs: Vec<Message>,
    pub marks: Vec<MemberMarks>,
}

impl Stored {
    pub fn head(&self) -> Seq {
        self.msgs.last().map_or(0, |m| m.seq)
    }

    fn marks_of(&self, user: UserId) -> (Seq, Seq) {
        self.marks
            .iter()
            .find(|m| m.user == user)
            .map_or((0, 0), |m| (m.delivered, m.read))
    }

    /// The tick `sender`'s message `seq` should show: the least any other member reached.
    pub fn tick(&self, sender: UserId, seq: Seq) -> Tick {
        let others: Vec<&MemberMarks> = self.marks.iter().filter(|m| m.user != sender).collect();
        if others.is_empty() {
            Tick::Sent
        } else if others.iter().all(|m| m.read >= seq) {
            Tick::Read
        } else if others.iter().all(|m| m.delivered >= seq) {
            Tick::Delivered
        } else {
            Tick::Sent
        }
    }

    /// The others' messages after `read` that are still there: what `user`'s badge must say.
    pub fn unread(&self, user: UserId, read: Seq) -> i64 {
        self.msgs
            .iter()
            .filter(|m| m.kind.is_message() && m.seq > read && m.sender != user && !m.deleted)
            .count() as i64
    }

    /// Whether message `seq` is deleted in the database.
    fn deleted(&self, seq: Seq) -> bool {
        self.msgs.iter().any(|m| m.seq == seq && m.deleted)
    }

    /// Where `user`'s read mark must be: what they looked at, or their own last row.
    pub fn expected_read(&self, user: UserId, saw: Seq) -> Seq {
        let own = self.msgs.iter().filter(|m| m.sender == user).map(|m| m.seq).max();
        saw.max(own.unwrap_or(0))
    }
}

/// Every room of the run, read from the database.
pub async fn stored(store: &DynStore, rooms: &[RoomId]) -> anyhow::Result<BTreeMap<RoomId, Stored>> {
    let mut out = BTreeMap::new();
    for &room in rooms {
        let mut msgs: Vec<Message> = Vec::new();
        loop {
            let after = msgs.last().map_or(0, |m| m.seq);
            let page = store.messages_after(room, after, 200).await?;
            if page.is_empty() {
                break;
            }
            msgs.extend(page);
        }
        let marks = store.member_marks(room, 10_000).await?;
        out.insert(room, Stored { msgs, marks });
    }
    Ok(out)
}

/// Whether the people hold what the database holds and the marks agree (for waiting).
pub fn settled(db: &BTreeMap<RoomId, Stored>, people: &[Snapshot]) -> bool {
    people.iter().all(|p| {
        p.rooms.iter().all(|(room, view)| {
            let Some(s) = db.get(room) else { return true };
            let (delivered, read) = s.marks_of(p.me);
            view.last >= s.head()
                && delivered >= s.head()
                && read == s.expected_read(p.me, p.saw.get(room).copied().unwrap_or(0))
                && view.ticks.iter().all(|(&seq, t)| *t == s.tick(p.me, seq))
        })
    })
}

#[derive(Debug, Default)]
pub struct Report {
    pub people: usize,
    pub rooms: usize,
    pub sent: usize,
    pub stored: usize,
    pub acks: usize,
    pub counts: Counts,
    // What must be zero.
    /// A stored message missing from a member's final timeline, or a sent one never stored.
    pub lost: usize,
    /// A cid stored more than once, or one timeline entry twice.
    pub duplicated: usize,
    /// A member's message at a seq where the database has another one.
    pub reordered: usize,
    /// Seqs of a room not 1, 2, 3, … in the database.
    pub holes: usize,
    /// An ack for a message that is not in the database (acked before commit).
    pub acked_not_stored: usize,
    /// Two acks for one cid with different seqs.
    pub ack_mismatch: usize,
    /// A person's stored read mark not where their reads put it, or delivered below the head.
    pub marks_wrong: usize,
    /// A final tick other than the database's marks make it.
    pub ticks_wrong: usize,
    /// A final unread count other than the others' messages after the read mark still there.
    pub unread_wrong: usize,
    /// A message shown otherwise than the database holds it (body, deleted, reactions, reply).
    pub state_wrong: usize,
    /// A change refused though its message was not deleted.
    pub refused_wrongly: usize,
    /// Changes made (edits, deletes, reactions), and those refused.
    pub changes: usize,
    pub changes_refused: usize,
    /// A send still unacked at the end.
    pub unacked: usize,
    /// The first few failures, spelled out.
    pub examples: Vec<String>,
}

/// Compares the final state of every person (and their logs) with the database.
pub fn check(db: &BTreeMap<RoomId, Stored>, people: &[(Log, Snapshot)]) -> Report {
    let mut r = Report {
        people: people.len(),
        rooms: db.len(),
        ..Report::default()
    };
    // The database: seqs without holes, each cid once.
    let mut by_cid: HashMap<Uuid, (RoomId, Seq)> = HashMap::new();
    for (&room, s) in db {
        r.stored += s.msgs.len();
        r.holes += s.msgs.iter().zip(1..).filter(|(m, n)| m.seq != *n).count();
        for m in &s.msgs {
            if by_cid.insert(m.cid, (room, m.seq)).is_some() {
                r.duplicated += 1;
            }
        }
    }
    for (log, snap) in people {
        r.sent += log.sent.len();
        r.acks += log.acks.len();
        r.counts.add(&log.counts);
        r.unacked += snap.outbox;
        // Every send stored; every ack names the stored message, and the same one each time.
        r.lost += log
            .sent
            .iter()
            .filter(|(_, cid, _)| !by_cid.contains_key(cid))
            .count();
        // Every change stored, or refused because its message was deleted.
        r.changes += log.changes.len();
        r.changes_refused += log.refused.len();
        let refused: HashMap<Uuid, (RoomId, Seq)> = log
            .refused
            .iter()
            .map(|&(room, cid, t)| (cid, (room, t)))
            .collect();
        for (room, cid, target) in &log.changes {
            match refused.get(cid) {
                Some(_) if db.get(room).is_some_and(|s| s.deleted(*target)) => {}
                Some(_) => {
                    r.refused_wrongly += 1;
                    r.example(
                        "refused",
                        format!("user {} room {room}: a change to {target} refused", snap.me),
                    );
                }
                None if !by_cid.contains_key(cid) => r.lost += 1,
                None => {}
            }
        }
        let mut first: HashMap<Uuid, (RoomId, Seq)> = HashMap::new();
        for &(cid, room, seq) in &log.acks {
            if by_cid.get(&cid) != Some(&(room, seq)) {
                r.acked_not_stored += 1;
            }
            if *first.entry(cid).or_insert((room, seq)) != (room, seq) {
                r.ack_mismatch += 1;
            }
        }
        for (room, view) in &snap.rooms {
            let Some(s) = db.get(room) else { continue };
            let lost = r.lost;
            compare_timeline(&mut r, s, view);
            if r.lost > lost {
                let missing: Vec<Seq> = s
                    .msgs
                    .iter()
                    .map(|m| m.seq)
                    .filter(|q| !view.msgs.iter().any(|v| v.0 == *q))
                    .collect();
                r.example(
                    "lost",
                    format!(
                        "user {} room {room}: holds up to {} of {} ({} missing: {:?}…)",
                        snap.me,
                        view.last,
                        s.head(),
                        missing.len(),
                        &missing[..missing.len().min(5)]
                    ),
                );
            }
            let (delivered, read) = s.marks_of(snap.me);
            let saw = snap.saw.get(room).copied().unwrap_or(0);
            if read != s.expected_read(snap.me, saw) || delivered < s.head() {
                r.marks_wrong += 1;
            }
            if view.unread != s.unread(snap.me, read) {
                r.unread_wrong += 1;
                r.example(
                    "unread",
                    format!(
                        "user {} room {room}: shows {} unread, the database makes it {}",
                        snap.me,
                        view.unread,
                        s.unread(snap.me, read)
                    ),
                );
            }
            for m in s.msgs.iter().filter(|m| m.kind.is_message()) {
                let want = shown(m);
                if view.shown.get(&m.seq) != Some(&want) {
                    r.state_wrong += 1;
                    r.example(
                        "state",
                        format!(
                            "user {} room {room}: message {} shows {:?}, the database {want:?}",
                            snap.me,
                            m.seq,
                            view.shown.get(&m.seq)
                        ),
                    );
                }
            }
            for (&seq, tick) in &view.ticks {
                let want = s.tick(snap.me, seq);
                if *tick != want {
                    r.ticks_wrong += 1;
                    r.example("tick", format!(
                        "user {} room {room}: message {seq} shows {tick:?}, the marks make it {want:?} ({:?}) held {}",
                        snap.me, s.marks, view.marks
                    ));
                }
            }
        }
    }
    r
}

/// A member's timeline against the room's stored messages.
fn compare_timeline(r: &mut Report, s: &Stored, view: &crate::person::RoomView) {
    let held: BTreeMap<Seq, Uuid> = view.msgs.iter().map(|m| (m.0, m.1)).collect();
    r.duplicated += view.msgs.len() - held.len();
    let mut ids: Vec<Uuid> = view.msgs.iter().map(|m| m.1).collect();
    ids.sort();
    ids.dedup();
    r.duplicated += held.len() - ids.len();
    for m in &s.msgs {
        match held.get(&m.seq) {
            None => r.lost += 1,
            Some(id) if *id != m.id => r.reordered += 1,
            Some(_) => {}
        }
    }
    // Held at a seq the database does not have.
    r.reordered += held.keys().filter(|&&seq| seq > s.head() || seq < 1).count();
}

/// A message as a person sees it: body, deleted, reactions (each emoji's
/// people sorted, emoji sorted), the message it answers.
pub fn shown(m: &Message) -> String {
    let mut reactions: Vec<(String, Vec<UserId>)> = m
        .reactions
        .iter()
        .map(|r| {
            let mut users = r.users.clone();
            users.sort_unstable();
            (r.emoji.clone(), users)
        })
        .collect();
    reactions.sort();
    format!(
        "{:?} deleted={} {:?} reply_to={:?}",
        m.body, m.deleted, reactions, m.reply_to
    )
}

impl Report {
    /// Keeps the first three failures of each kind.
    fn example(&mut self, kind: &str, text: String) {
        if self.examples.iter().filter(|e| e.starts_with(kind)).count() < 3 {
            self.examples.push(format!("{kind}: {text}"));
        }
    }

    /// The invariants that failed, by name.
    pub fn failures(&self) -> Vec<String> {
        [
            ("lost", self.lost),
            ("duplicated", self.duplicated),
            ("reordered", self.reordered),
            ("holes", self.holes),
            ("acked but not stored", self.acked_not_stored),
            ("one cid acked with two seqs", self.ack_mismatch),
            ("marks wrong", self.marks_wrong),
            ("ticks backwards", self.counts.ticks_backwards as usize),
            ("ticks wrong", self.ticks_wrong),
            ("unread wrong", self.unread_wrong),
            ("messages shown otherwise than stored", self.state_wrong),
            ("changes refused wrongly", self.refused_wrongly),
            ("unacked at the end", self.unacked),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| format!("{name}: {n}"))
        .collect()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  traffic: {} people in {} rooms; {} messages sent, {} changes ({} refused: their message \
             was deleted), {} rows stored; {} send frames ({} deliberate resends), {} acks",
            self.people,
            self.rooms,
            self.sent,
            self.changes,
            self.changes_refused,
            self.stored,
            self.counts.send_frames,
            self.counts.resends,
            self.acks
        )?;
        writeln!(
            f,
            "  recovery: {} connects ({} refused), {} sockets dropped by the person, {} found silent, \
             {} resyncs (lagging), {} syncs, {} live msgs behind an earlier one (gaps the client filled), refusals {:?}",
            self.counts.connects,
            self.counts.connect_failures,
            self.counts.drops,
            self.counts.silent,
            self.counts.resyncs,
            self.counts.syncs,
            self.counts.live_out_of_order,
            self.counts.refused
        )?;
        write!(
            f,
            "  checks: lost {}, duplicated {}, reordered {}, holes {}, acked-not-stored {}, \
             ack-mismatch {}, marks wrong {}, ticks backwards {}, ticks wrong {}, unread wrong {}, \
             state wrong {}, refused wrongly {}, unacked {}",
            self.lost,
            self.duplicated,
            self.reordered,
            self.holes,
            self.acked_not_stored,
            self.ack_mismatch,
            self.marks_wrong,
            self.counts.ticks_backwards,
            self.ticks_wrong,
            self.unread_wrong,
            self.state_wrong,
            self.refused_wrongly,
            self.unacked
        )?;
        for e in &self.examples {
            write!(f, "\n    {e}")?;
        }
        Ok(())
    }
}
