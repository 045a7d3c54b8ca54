//! What a batch of the room stream's rows becomes, decided without I/O:
//! dedup on (sender, cid), membership, the rules of each change (whose
//! message, the edit window, deleted, the reaction limit), seq and `n`
//! numbering in batch order, each changed message's new state (folded with
//! `events::apply`, as every client folds it), the reactions to add and
//! remove, and the heads and marks to set. The backend reads what `Found`
//! holds and writes what `Plan` says.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::super::{Appended, NewMessage, Refusal};
use crate::events;
use crate::model::{Kind, Role, RoomId, UserId, REACTIONS_MAX};
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
/// memberships, and the current state of the messages its changes and
/// replies name.
#[derive(Debug, Default)]
pub struct Found {
    pub heads: HashMap<RoomId, Head>,
    pub sent: HashMap<(UserId, Uuid), Message>,
    pub members: HashMap<(RoomId, UserId), Role>,
    pub targets: HashMap<(RoomId, Seq), Message>,
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
    /// Messages deleted by this batch: their earlier edits are erased too.
    pub erased: Vec<(RoomId, Seq)>,
    /// Each room's new head: seq, n, and the time of its last new message
    /// (0 if the batch brought only events).
    pub heads: Vec<(RoomId, (Seq, i64, i64))>,
    /// Each sender's marks, raised to their last new row in the room (seq, n).
    pub marks: Vec<((RoomId, UserId), (Seq, i64))>,
}

/// Decides a batch; see the module header. A (sender, cid) stored before
/// answers the original; a refused row stores nothing and takes no seq.
pub fn plan(batch: &[NewMessage], found: Found) -> Plan {
    let Found {
        mut heads,
        mut sent,
        members,
        mut targets,
    } = found;
    let before: HashMap<(RoomId, Seq), Message> = targets.clone();
    let mut out = Vec::with_capacity(batch.len());
    let mut new: Vec<Message> = Vec::new();
    for m in batch {
        if let Some(original) = sent.get(&(m.sender, m.cid)) {
            out.push(Appended::Duplicate(original.clone()));
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
        let target = m.target.or(m.reply_to).map(|t| (m.room, t));
        if let Err(refusal) = allowed(m, target.and_then(|t| targets.get(&t)), role, *head) {
            out.push(Appended::Refused(refusal));
            continue;
        }
        head.seq += 1;
        if m.kind.is_message() {
            head.n += 1;
        }
        let row = Message {
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
            ..Message::default()
        };
        if let Some(state) = m.target.and_then(|t| targets.get_mut(&(m.room, t))) {
            events::apply(state, &row);
        }
        if row.kind.is_message() {
            targets.insert((row.room, row.seq), row.clone());
        }
        sent.insert((m.sender, m.cid), row.clone());
        new.push(row.clone());
        out.push(Appended::Stored(row));
    }
    // A message of this batch goes in as its final state; an edit of a
    // message deleted in this batch loses its body as the stored ones do.
    let deleted: HashSet<(RoomId, Seq)> = new
        .iter()
        .filter(|r| r.kind == Kind::Delete)
        .filter_map(|r| Some((r.room, r.target?)))
        .collect();
    for row in &mut new {
        if row.kind.is_message() {
            if let Some(state) = targets.get(&(row.room, row.seq)) {
                *row = state.clone();
            }
        } else if row.kind == Kind::Edit && row.target.is_some_and(|t| deleted.contains(&(row.room, t))) {
            row.body.clear();
            row.fmt = None;
        }
    }
    let (reacted, unreacted) = reaction_changes(&before, &targets, &new);
    let mut changed: Vec<Message> = before
        .iter()
        .filter_map(|(key, was)| targets.get(key).filter(|now| now.version != was.version))
        .cloned()
        .collect();
    changed.sort_unstable_by_key(|m| (m.room, m.seq));
    let mut erased: Vec<(RoomId, Seq)> = deleted.into_iter().filter(|k| before.contains_key(k)).collect();
    erased.sort_unstable();
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
        reacted,
        unreacted,
        erased,
        heads,
        marks,
    }
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

/// The reaction rows to insert and delete to go from `before` to `after`
/// (a reaction made and taken back in one batch is neither); an inserted
/// one is dated by the last `react` row of `new` that made it.
fn reaction_changes(
    before: &HashMap<(RoomId, Seq), Message>,
    after: &HashMap<(RoomId, Seq), Message>,
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
    for (key, now) in after {
        let was = before.get(key).map(&keys).unwrap_or_default();
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
