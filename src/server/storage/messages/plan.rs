//! What a batch of the room stream's rows becomes, decided without I/O:
//! dedup on (sender, cid), membership, the rules of each change (whose
//! message, the edit window, deleted, the reaction limit), seq and `n`
//! numbering in batch order, each changed message's new state (folded with
//! `events::apply`, as every client folds it), the reactions to add and
//! remove, and the heads and marks to set. The backend reads what `Found`
//! holds and writes what `Plan` says.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::super::{Appended, NewMessage, Refusal, Upload, UploadState};
use crate::events;
use crate::model::{Attachment, Kind, Role, RoomId, UserId, REACTIONS_MAX};
use crate::protocol::{Message, Seq};

/// A room as a batch finds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Head {
    pub seq: Seq,
    pub n: i64,
    pub group: bool,
}

/// What a batch's transaction found before deciding: the heads of the
/// batch's rooms that exist, the rows already stored under its (sender,
/// cid) pairs (looked up only when a resend is expected), the senders'
/// memberships, the current state of the messages its changes and
/// replies name, and the uploads its messages carry.
#[derive(Debug, Default)]
pub struct Found {
    pub heads: HashMap<RoomId, Head>,
    pub sent: HashMap<(UserId, Uuid), Message>,
    pub members: HashMap<(RoomId, UserId), Role>,
    pub targets: HashMap<(RoomId, Seq), Message>,
    pub uploads: HashMap<Uuid, Upload>,
}

/// A reaction row: (room, seq, emoji, user).
pub type ReactionKey = (RoomId, Seq, String, UserId);

/// What the transaction then writes, and what each row of the batch
/// became (in batch order).
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub out: Vec<Appended>,
    /// The rows to insert, numbered.
    pub new: Vec<Message>,
    /// Messages stored before this batch whose state it changed, as they are now.
    pub changed: Vec<Message>,
    /// Reactions to insert, each with the seq of the event that made it.
    pub reacted: Vec<(ReactionKey, Seq)>,
    pub unreacted: Vec<ReactionKey>,
    /// The messages of `changed` whose text the batch changed (edited or
    /// deleted): their search documents are written again or removed.
    pub retexted: Vec<(RoomId, Seq)>,
    /// Messages deleted by this batch: their earlier edits are erased too.
    pub erased: Vec<(RoomId, Seq)>,
    /// Who the batch's rows call by name, on which message: (room, seq, user).
    pub called: Vec<(RoomId, Seq, UserId)>,
    /// Each room's new head: seq, n, and the time of its last new message
    /// (0 if the batch brought only events).
    pub heads: Vec<(RoomId, (Seq, i64, i64))>,
    /// Each sender's marks, raised to their last new row in the room (seq, n).
    pub marks: Vec<((RoomId, UserId), (Seq, i64))>,
    /// The uploads the batch's messages now carry: (upload, room, seq).
    pub claimed: Vec<(Uuid, RoomId, Seq)>,
    /// Uploads whose bytes go: carried by messages this batch deleted (the
    /// ones carried by messages stored before are found by `erased`).
    pub dropped: Vec<(Uuid, RoomId, Seq)>,
}

/// Decides a batch; see the module header. A (sender, cid) stored before
/// answers the original; a refused row stores nothing and takes no seq.
pub fn plan(batch: &[NewMessage], found: Found) -> Plan {
    let Found {
        mut heads,
        sent,
        members,
        mut targets,
        uploads,
    } = found;
    let mut claimed: Vec<(Uuid, RoomId, Seq)> = Vec::new();
    // Nearly every batch is mostly messages: those are not copied or
    // looked at again unless a change or a reply in the batch may name them.
    let changes = batch.iter().any(|m| m.target.is_some() || m.reply_to.is_some());
    let before: HashMap<(RoomId, Seq), Message> = match changes {
        true => targets.clone(),
        false => HashMap::new(),
    };
    let mut out = Vec::with_capacity(batch.len());
    let mut new: Vec<Message> = Vec::with_capacity(batch.len());
    // This batch's rows by (sender, cid), and its messages by (room, seq),
    // as indexes into `new`; the messages stored before that it changed.
    let mut sent_now: HashMap<(UserId, Uuid), usize> = HashMap::new();
    let mut fresh: HashMap<(RoomId, Seq), usize> = HashMap::new();
    let mut touched: HashSet<(RoomId, Seq)> = HashSet::new();
    for m in batch {
        if let Some(original) = sent.get(&(m.sender, m.cid)) {
            out.push(Appended::Duplicate(original.clone()));
            continue;
        }
        if let Some(&i) = sent_now.get(&(m.sender, m.cid)) {
            out.push(Appended::Duplicate(new[i].clone()));
            continue;
        }
        let Some(head) = heads.get_mut(&m.room) else {
            out.push(Appended::NoSuchRoom);
            continue;
        };
        let Some(&role) = members.get(&(m.room, m.sender)) else {
            out.push(Appended::NotMember);
            continue;
        };
        let key = m.target.or(m.reply_to).map(|t| (m.room, t));
        let named = key.and_then(|k| fresh.get(&k).map(|&i| &new[i]).or_else(|| targets.get(&k)));
        if let Err(refusal) = allowed(m, named, role, *head) {
            out.push(Appended::Refused(refusal));
            continue;
        }
        if let Some(&stranger) = m.mentions.iter().find(|&&u| !members.contains_key(&(m.room, u))) {
            out.push(Appended::Refused(Refusal::Stranger(stranger)));
            continue;
        }
        let files = match carried(m, &uploads, &claimed) {
            Ok(files) => files,
            Err(refusal) => {
                out.push(Appended::Refused(refusal));
                continue;
            }
        };
        // An edit's row holds the mentions it adds.
        let mentions = match named.filter(|_| m.kind == Kind::Edit) {
            Some(t) => m
                .mentions
                .iter()
                .filter(|u| !t.mentions.contains(u))
                .copied()
                .collect(),
            None => m.mentions.clone(),
        };
        let quoted = named.filter(|_| m.reply_to.is_some()).map(events::quote);
        head.seq += 1;
        if m.kind.is_message() {
            head.n += 1;
        }
        let row = Message {
            quoted,
            room: m.room,
            seq: head.seq,
            id: m.id,
            sender: m.sender,
            from: m.from.clone(),
            body: m.body.clone(),
            ts: m.ts,
            cid: m.cid,
            fmt: m.fmt.clone(),
            kind: m.kind,
            target: m.target,
            n: head.n,
            version: head.seq,
            reply_to: m.reply_to,
            mentions,
            files,
            ..Message::default()
        };
        claimed.extend(m.files.iter().map(|&f| (f, row.room, row.seq)));
        if let Some(k) = m.target.map(|t| (m.room, t)) {
            match fresh.get(&k) {
                Some(&i) => {
                    events::apply(&mut new[i], &row);
                }
                None => {
                    if let Some(state) = targets.get_mut(&k) {
                        events::apply(state, &row);
                        touched.insert(k);
                    }
                }
            }
        }
        if changes && row.kind.is_message() {
            fresh.insert((row.room, row.seq), new.len());
        }
        sent_now.insert((m.sender, m.cid), new.len());
        out.push(Appended::Stored(row.clone()));
        new.push(row);
    }
    // An edit of a message deleted in this batch loses its body as the
    // stored ones do.
    let deleted: HashSet<(RoomId, Seq)> = new
        .iter()
        .filter(|r| r.kind == Kind::Delete)
        .filter_map(|r| Some((r.room, r.target?)))
        .collect();
    for row in new.iter_mut().filter(|r| r.kind == Kind::Edit) {
        if row.target.is_some_and(|t| deleted.contains(&(row.room, t))) {
            row.body.clear();
            row.fmt = None;
        }
    }
    let mut called: Vec<(RoomId, Seq, UserId)> = new
        .iter()
        .filter_map(|r| Some((r.room, events::calls(r)?)))
        .filter(|(room, (on, _))| !deleted.contains(&(*room, *on)))
        .flat_map(|(room, (on, users))| users.into_iter().map(move |u| (room, on, u)))
        .collect();
    called.sort_unstable();
    called.dedup();
    let (claimed, dropped) = claimed
        .into_iter()
        .partition(|(_, room, seq)| !deleted.contains(&(*room, *seq)));
    let mut erased: Vec<(RoomId, Seq)> = deleted.into_iter().filter(|k| before.contains_key(k)).collect();
    erased.sort_unstable();
    let (reacted, mut unreacted) = reaction_changes(&before, &targets, &touched, &new);
    // An erased message's reactions all go with one statement.
    unreacted.retain(|(room, seq, _, _)| erased.binary_search(&(*room, *seq)).is_err());
    let mut changed: Vec<Message> = touched.iter().filter_map(|k| targets.get(k)).cloned().collect();
    changed.sort_unstable_by_key(|m| (m.room, m.seq));
    let retexted = changed
        .iter()
        .filter(|m| {
            let was = before.get(&(m.room, m.seq));
            was.is_none_or(|b| b.body != m.body || b.deleted != m.deleted)
        })
        .map(|m| (m.room, m.seq))
        .collect();
    let mut rooms_now: HashMap<RoomId, (Seq, i64, i64)> = HashMap::new();
    let mut marks: HashMap<(RoomId, UserId), (Seq, i64)> = HashMap::new();
    for r in &new {
        let room = rooms_now.entry(r.room).or_default();
        room.0 = r.seq;
        room.1 = r.n;
        if r.kind.is_message() {
            room.2 = r.ts;
        }
        marks.insert((r.room, r.sender), (r.seq, r.n));
    }
    let mut heads: Vec<_> = rooms_now.into_iter().collect();
    heads.sort_unstable();
    let mut marks: Vec<_> = marks.into_iter().collect();
    marks.sort_unstable();
    Plan {
        out,
        new,
        changed,
        retexted,
        reacted,
        unreacted,
        erased,
        called,
        heads,
        marks,
        claimed,
        dropped,
    }
}

/// The files message `m` carries, as its row will show them: each upload it
/// names must be the sender's (another's is as unknown as a missing one),
/// complete, and carried by no message yet (nor by an earlier one of the
/// batch).
fn carried(
    m: &NewMessage,
    uploads: &HashMap<Uuid, Upload>,
    claimed: &[(Uuid, RoomId, Seq)],
) -> Result<Vec<Attachment>, Refusal> {
    m.files
        .iter()
        .map(|id| {
            let upload = uploads
                .get(id)
                .filter(|u| u.owner == m.sender && u.state != UploadState::Erased)
                .ok_or(Refusal::NoSuchUpload(*id))?;
            if upload.state == UploadState::Sent || claimed.iter().any(|(c, _, _)| c == id) {
                return Err(Refusal::UploadSent(*id));
            }
            if upload.state != UploadState::Ready {
                return Err(Refusal::UploadIncomplete(*id));
            }
            Ok(upload.file.clone())
        })
        .collect()
}

/// Whether `m` may be stored: what it names must be a message of its room;
/// edits and deletes of one's own messages within the window (`since`),
/// deletes of anyone's by a group's owner; no change to a deleted message;
/// a new emoji only while the message has fewer than `REACTIONS_MAX`.
fn allowed(m: &NewMessage, target: Option<&Message>, role: Role, head: Head) -> Result<(), Refusal> {
    let named = m.target.or(m.reply_to);
    let Some(named) = named else { return Ok(()) };
    let t = target
        .filter(|t| t.kind.is_message() && t.seq <= head.seq)
        .ok_or(Refusal::NoSuchMessage(named))?;
    if t.deleted {
        return Err(Refusal::Deleted(named));
    }
    let own = t.sender == m.sender;
    let moderator = head.group && role == Role::Owner;
    match m.kind {
        Kind::Edit if !own => return Err(Refusal::NotYours(named)),
        Kind::Edit if t.ts < m.since => return Err(Refusal::TooOld(named)),
        Kind::Delete if !own && !moderator => return Err(Refusal::NotYours(named)),
        Kind::Delete if !moderator && t.ts < m.since => return Err(Refusal::TooOld(named)),
        _ => {}
    }
    let new_emoji = m.kind == Kind::React && !t.reactions.iter().any(|r| r.emoji == m.body);
    if new_emoji && t.reactions.len() >= REACTIONS_MAX {
        return Err(Refusal::TooManyReactions(named));
    }
    Ok(())
}

/// The reaction rows to insert and delete: for the messages stored before
/// that the batch changed (`touched`), what goes from `before` to `after`
/// (a reaction made and taken back in one batch is neither); for the
/// batch's own messages, all they have. An inserted one is dated by the
/// last `react` row of `new` that made it.
fn reaction_changes(
    before: &HashMap<(RoomId, Seq), Message>,
    after: &HashMap<(RoomId, Seq), Message>,
    touched: &HashSet<(RoomId, Seq)>,
    new: &[Message],
) -> (Vec<(ReactionKey, Seq)>, Vec<ReactionKey>) {
    let made: HashMap<ReactionKey, Seq> = new
        .iter()
        .filter(|r| r.kind == Kind::React)
        .filter_map(|r| Some(((r.room, r.target?, r.body.clone(), r.sender), r.seq)))
        .collect();
    let keys = |m: &Message| -> HashSet<ReactionKey> {
        m.reactions
            .iter()
            .flat_map(|r| r.users.iter().map(|u| (m.room, m.seq, r.emoji.clone(), *u)))
            .collect()
    };
    let (mut reacted, mut unreacted) = (Vec::new(), Vec::new());
    let stored = touched
        .iter()
        .filter_map(|k| Some((before.get(k), after.get(k)?)));
    let own = new.iter().filter(|m| !m.reactions.is_empty()).map(|m| (None, m));
    for (was, now) in stored.chain(own) {
        let was = was.map(&keys).unwrap_or_default();
        let is = keys(now);
        reacted.extend(
            is.difference(&was)
                .map(|k| (k.clone(), made.get(k).copied().unwrap_or(now.version))),
        );
        unreacted.extend(was.difference(&is).cloned());
    }
    reacted.sort_unstable();
    unreacted.sort_unstable();
    (reacted, unreacted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(room: RoomId, sender: UserId, cid: u128, ts: i64) -> NewMessage {
        NewMessage {
            fmt: None,
            room,
            sender,
            from: format!("user {sender}"),
            cid: Uuid::from_u128(cid),
            body: format!("message {cid}"),
            id: Uuid::from_u128(1_000 + cid),
            ts,
            kind: Kind::Message,
            target: None,
            reply_to: None,
            mentions: Vec::new(),
            files: Vec::new(),
            since: 0,
        }
    }

    fn change(room: RoomId, sender: UserId, cid: u128, kind: Kind, target: Seq, body: &str) -> NewMessage {
        NewMessage {
            kind,
            target: Some(target),
            body: body.into(),
            ..send(room, sender, cid, 200 + cid as i64)
        }
    }

    /// Rooms with their head seqs (n = seq: no events yet), members.
    fn found(heads: &[(RoomId, Seq)], members: &[(RoomId, UserId)]) -> Found {
        Found {
            heads: heads
                .iter()
                .map(|&(r, seq)| {
                    (
                        r,
                        Head {
                            seq,
                            n: seq,
                            group: true,
                        },
                    )
                })
                .collect(),
            members: members.iter().map(|&k| (k, Role::Member)).collect(),
            ..Found::default()
        }
    }

    fn seqs(plan: &Plan) -> Vec<Option<Seq>> {
        plan.out
            .iter()
            .map(|a| match a {
                Appended::Stored(m) | Appended::Duplicate(m) => Some(m.seq),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_batch_takes_each_rooms_next_seqs_in_batch_order() {
        let batch = [
            send(1, 7, 1, 100),
            send(2, 8, 2, 101),
            send(1, 8, 3, 102),
            send(1, 7, 4, 103),
        ];
        let plan = plan(&batch, found(&[(1, 10), (2, 0)], &[(1, 7), (1, 8), (2, 8)]));
        assert_eq!(seqs(&plan), [Some(11), Some(1), Some(12), Some(13)]);
        assert!(plan.out.iter().all(|a| matches!(a, Appended::Stored(_))));
        assert_eq!(plan.new.len(), 4);
        // Heads: the last seq, n and time; marks: each sender's last row.
        assert_eq!(plan.heads, [(1, (13, 13, 103)), (2, (1, 1, 101))]);
        assert_eq!(
            plan.marks,
            [((1, 7), (13, 13)), ((1, 8), (12, 12)), ((2, 8), (1, 1))]
        );
    }

    #[test]
    fn a_resend_answers_the_original_and_takes_no_seq() {
        let mut known = found(&[(1, 5)], &[(1, 7)]);
        let original = plan(&[send(1, 7, 9, 50)], found(&[(1, 4)], &[(1, 7)])).new[0].clone();
        known.sent.insert((7, original.cid), original.clone());
        // An earlier send again, then a new one, then the new one twice in the batch.
        let batch = [send(1, 7, 9, 60), send(1, 7, 10, 61), send(1, 7, 10, 62)];
        let plan = plan(&batch, known);
        assert_eq!(plan.out[0], Appended::Duplicate(original));
        assert_eq!(seqs(&plan), [Some(5), Some(6), Some(6)]);
        assert!(
            matches!(plan.out[2], Appended::Duplicate(_)),
            "a cid twice in a batch is stored once"
        );
        assert_eq!(plan.new.len(), 1);
        assert_eq!(plan.heads, [(1, (6, 6, 61))]);
    }

    #[test]
    fn strangers_and_unknown_rooms_store_nothing_and_take_no_seq() {
        let batch = [send(1, 9, 1, 10), send(3, 7, 2, 11), send(1, 7, 3, 12)];
        let plan = plan(&batch, found(&[(1, 2)], &[(1, 7)]));
        assert_eq!(plan.out[0], Appended::NotMember);
        assert_eq!(plan.out[1], Appended::NoSuchRoom);
        assert_eq!(seqs(&plan), [None, None, Some(3)]);
        assert_eq!(plan.marks, [((1, 7), (3, 3))]);
        let nothing = super::plan(&batch[..2], found(&[(1, 2)], &[]));
        assert!(nothing.new.is_empty() && nothing.heads.is_empty() && nothing.marks.is_empty());
    }

    #[test]
    fn events_take_seqs_but_no_ordinal_and_change_messages_of_the_same_batch() {
        let batch = [
            send(1, 7, 1, 100),
            change(1, 7, 2, Kind::Edit, 1, "fixed"),
            change(1, 8, 3, Kind::React, 1, "👍"),
            send(1, 8, 4, 103),
        ];
        let plan = plan(&batch, found(&[(1, 0)], &[(1, 7), (1, 8)]));
        assert_eq!(seqs(&plan), [Some(1), Some(2), Some(3), Some(4)]);
        assert_eq!(plan.new.iter().map(|m| m.n).collect::<Vec<_>>(), [1, 1, 1, 2]);
        // The message goes in as the batch left it; its reaction as a row.
        let m = &plan.new[0];
        assert_eq!((m.body.as_str(), m.version, m.edited), ("fixed", 3, Some(202)));
        assert_eq!(plan.reacted, [((1, 1, "👍".to_string(), 8), 3)]);
        assert!(plan.changed.is_empty(), "nothing stored before the batch changed");
        // The room's activity is its last message's time, not an event's.
        assert_eq!(plan.heads, [(1, (4, 2, 103))]);
    }

    #[test]
    fn a_message_stored_before_changes_in_place() {
        let mut known = found(&[(1, 3)], &[(1, 7), (1, 8)]);
        let stored = Message {
            room: 1,
            seq: 2,
            sender: 7,
            body: "old".into(),
            version: 2,
            reactions: vec![crate::model::Reaction {
                emoji: "👍".into(),
                users: vec![8],
            }],
            ..Message::default()
        };
        known.targets.insert((1, 2), stored);
        let batch = [
            change(1, 8, 1, Kind::Unreact, 2, "👍"),
            change(1, 8, 2, Kind::React, 2, "👍"),
            change(1, 7, 3, Kind::Delete, 2, ""),
            change(1, 7, 4, Kind::Edit, 2, "too late"),
        ];
        let plan = plan(&batch, known);
        assert_eq!(plan.out[3], Appended::Refused(Refusal::Deleted(2)));
        assert_eq!(plan.changed.len(), 1);
        assert!(plan.changed[0].deleted && plan.changed[0].version == 6);
        assert_eq!(plan.erased, [(1, 2)]);
        // Made, taken back and made again, then erased: its reactions go
        // with the message, not one by one.
        assert!(plan.reacted.is_empty() && plan.unreacted.is_empty());
        assert_eq!(plan.heads, [(1, (6, 3, 0))], "no message, no activity");
        assert_eq!(plan.retexted, [(1, 2)], "deleted: its search document goes");
    }

    #[test]
    fn only_a_change_of_text_is_indexed_again() {
        let mut known = found(&[(1, 3)], &[(1, 7), (1, 8)]);
        for seq in [2, 3] {
            let stored = Message {
                room: 1,
                seq,
                sender: 7,
                body: "old".into(),
                ..Message::default()
            };
            known.targets.insert((1, seq), stored);
        }
        let batch = [
            change(1, 8, 1, Kind::React, 2, "👍"),
            change(1, 7, 2, Kind::Edit, 3, "new words"),
        ];
        let plan = plan(&batch, known);
        assert_eq!(plan.changed.len(), 2);
        assert_eq!(
            plan.retexted,
            [(1, 3)],
            "a reaction leaves the words as they were"
        );
    }

    fn upload(owner: UserId, id: u128, state: UploadState) -> (Uuid, Upload) {
        let id = Uuid::from_u128(id);
        let file = Attachment {
            id,
            name: format!("f{id}.png"),
            size: 10,
            mime: "image/png".into(),
            w: 4,
            h: 3,
            color: None,
        };
        let upload = Upload {
            file,
            owner,
            length: 10,
            received: 10,
            parts: Vec::new(),
            state,
            at: None,
            created_at: 0,
        };
        (id, upload)
    }

    #[test]
    fn a_message_carries_only_the_senders_complete_unsent_uploads_once() {
        let mut known = found(&[(1, 0)], &[(1, 7), (1, 8)]);
        known.uploads = [
            upload(7, 1, UploadState::Ready),
            upload(8, 2, UploadState::Ready),
            upload(7, 3, UploadState::Uploading),
            upload(7, 4, UploadState::Sent),
            upload(7, 5, UploadState::Erased),
        ]
        .into();
        let with = |cid: u128, files: &[u128]| NewMessage {
            files: files.iter().map(|&f| Uuid::from_u128(f)).collect(),
            ..send(1, 7, cid, 100)
        };
        let batch = [
            with(1, &[1]),
            with(2, &[2]),
            with(3, &[3]),
            with(4, &[4]),
            with(5, &[1]),
            with(6, &[5]),
        ];
        let plan = plan(&batch, known);
        let refused = |i: usize| match &plan.out[i] {
            Appended::Refused(r) => Some(*r),
            _ => None,
        };
        assert_eq!(seqs(&plan)[0], Some(1));
        assert_eq!(plan.new[0].files.len(), 1, "the row names its file");
        assert_eq!(plan.new[0].files[0].mime, "image/png");
        assert_eq!(
            refused(1),
            Some(Refusal::NoSuchUpload(Uuid::from_u128(2))),
            "someone else's is unknown"
        );
        assert_eq!(refused(2), Some(Refusal::UploadIncomplete(Uuid::from_u128(3))));
        assert_eq!(refused(3), Some(Refusal::UploadSent(Uuid::from_u128(4))));
        assert_eq!(
            refused(4),
            Some(Refusal::UploadSent(Uuid::from_u128(1))),
            "not twice in one batch"
        );
        assert_eq!(
            refused(5),
            Some(Refusal::NoSuchUpload(Uuid::from_u128(5))),
            "an erased one is gone"
        );
        assert_eq!(plan.claimed, [(Uuid::from_u128(1), 1, 1)]);
        assert!(plan.dropped.is_empty());
    }

    #[test]
    fn a_message_deleted_in_its_own_batch_drops_its_files() {
        let mut known = found(&[(1, 0)], &[(1, 7)]);
        known.uploads = [upload(7, 1, UploadState::Ready)].into();
        let batch = [
            NewMessage {
                files: vec![Uuid::from_u128(1)],
                ..send(1, 7, 1, 100)
            },
            change(1, 7, 2, Kind::Delete, 1, ""),
        ];
        let plan = plan(&batch, known);
        assert!(plan.claimed.is_empty());
        assert_eq!(plan.dropped, [(Uuid::from_u128(1), 1, 1)]);
        assert!(plan.new[0].files.is_empty(), "a deleted message shows no file");
    }
}
