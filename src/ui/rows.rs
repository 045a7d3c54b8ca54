//! A room's timeline as rows, the way the screen shows it: messages by seq
//! in their current state (edited, deleted, reactions, the message they
//! answer) with a divider per day and one where the unread part began, each
//! of mine with its tick (and in a group "Read by k of n: …") and what I
//! may do with it, then my messages still waiting for their ack. A pure
//! function of the client state, the time and the UTC offset; `Live` keeps
//! the rows in signals.

use super::time::{clock, day_label, local};
use crate::format::{preview, Block, DELETED};
use crate::model::{Attachment, Kind, Role, RoomId, RoomKind, UserId};
use crate::protocol::{Message, Seq};
pub use crate::sync::Tick;
use crate::sync::{Client, Room};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Row {
    Day {
        key: String,
        label: String,
    },
    Msg(Box<MsgRow>),
    /// "3 new messages": where the unread part began when the room opened.
    Unread {
        key: String,
        label: String,
    },
    /// Messages not loaded between two held runs (after a jump far back),
    /// from seq `from` on.
    Gap {
        key: String,
        from: Seq,
    },
    /// A change to the room: "Ann added Ben".
    Note {
        key: String,
        text: String,
    },
}

/// One message as its row shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MsgRow {
    pub key: String,
    /// None while it waits for its ack.
    pub seq: Option<Seq>,
    /// Which changes the row shows (it is drawn again when this moves).
    pub version: Seq,
    pub from: String,
    pub body: String,
    /// The body's formatting (None: plain text).
    pub fmt: Option<Vec<Block>>,
    pub time: String,
    pub mine: bool,
    pub tick: Tick,
    /// In a group, for my stored messages: "Read by 2 of 3", and the
    /// names once asked for ("Read by 2 of 3: Bob, Cy").
    pub read_by: Option<String>,
    /// More names than those shown can be asked for.
    pub read_by_more: bool,
    /// "Edited 14:05", when it was.
    pub edited: Option<String>,
    pub deleted: bool,
    pub reactions: Vec<Chip>,
    /// The message it answers, as that one is now.
    pub reply: Option<Quote>,
    /// The names of the members it mentions (whether each is me), for
    /// the body to highlight.
    pub mentions: Vec<(String, bool)>,
    /// It calls me by name (mentions me, or answers a message of mine).
    pub calls_me: bool,
    /// What I may do with it.
    pub can_edit: bool,
    pub can_delete: bool,
    /// The files it carries.
    pub files: Vec<Attachment>,
    /// Its sender is someone I block: it is shown folded.
    pub blocked: bool,
}

/// One emoji under a message: how many reacted, whether I did, and who.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chip {
    pub emoji: String,
    pub count: usize,
    pub mine: bool,
    pub who: String,
}

/// The message a reply answers, as its quote shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quote {
    pub seq: Seq,
    pub from: String,
    pub text: String,
}

impl Row {
    pub fn key(&self) -> String {
        match self {
            Row::Day { key, .. } | Row::Unread { key, .. } | Row::Gap { key, .. } | Row::Note { key, .. } => {
                key.clone()
            }
            Row::Msg(m) => m.key.clone(),
        }
    }

    /// What the view keys a row by: its key and, for a message, what may
    /// change (its tick, its state), so a change re-renders its row.
    pub fn render_key(&self) -> String {
        match self {
            Row::Msg(m) => format!(
                "{}:{}{}:{:?}:{}{}:{}:{}:{}",
                m.key,
                if m.blocked { "blocked:" } else { "" },
                m.from,
                m.tick,
                m.read_by.as_deref().unwrap_or(""),
                if m.read_by_more { "…" } else { "" },
                m.version,
                m.reply.as_ref().map_or("", |q| q.text.as_str()),
                m.mentions.len()
            ),
            _ => self.key(),
        }
    }
}

/// The rows of `room` for `me`: `unread_from` is the first unread seq and
/// how many were unread when the room opened; `(now, offset)` the time (ms)
/// and the browser's UTC offset (minutes).
pub fn rows(
    c: &Client,
    room: RoomId,
    me: UserId,
    unread_from: Option<(Seq, i64)>,
    (now, offset): (i64, i64),
) -> Vec<Row> {
    let summary = c.room(room).and_then(|r| r.summary.as_ref());
    let group = summary.is_some_and(|s| s.kind == RoomKind::Group);
    let moderator = group && summary.is_some_and(|s| s.role == Role::Owner);
    let window = c.edit_window_ms();
    let mut divider = unread_from;
    let mut rows = Vec::new();
    let mut last_day = None;
    let mut day = |rows: &mut Vec<Row>, ts: i64| {
        let d = local(ts, offset).0;
        if last_day != Some(d) {
            last_day = Some(d);
            rows.push(Row::Day {
                key: format!("day-{d}"),
                label: day_label(ts, now, offset),
            });
        }
    };
    let hidden = summary.map_or(&[][..], |s| s.hidden.as_slice());
    if let Some(r) = c.room(room) {
        let mut holes = r.holes().into_iter().peekable();
        // What I deleted for me is not shown.
        let shown = r
            .msgs
            .values()
            .filter(|m| m.kind.is_message() || m.kind == Kind::Room);
        for m in shown.filter(|m| hidden.binary_search(&m.seq).is_err()) {
            while let Some((from, _)) = holes.next_if(|(_, to)| *to < m.seq) {
                rows.push(Row::Gap {
                    key: format!("gap-{from}"),
                    from,
                });
            }
            if let Some(change) = &m.change {
                if let Some(text) = change.line(&m.from, m.sender, Some(me)) {
                    day(&mut rows, m.ts);
                    rows.push(Row::Note {
                        key: format!("note-{}", m.seq),
                        text,
                    });
                }
                continue;
            }
            day(&mut rows, m.ts);
            if let Some((from, n)) = divider.filter(|(from, _)| m.seq >= *from) {
                divider = None;
                rows.push(Row::Unread {
                    key: format!("unread-{from}"),
                    label: match n {
                        1 => "1 new message".into(),
                        n => format!("{n} new messages"),
                    },
                });
            }
            let mine = m.sender == me;
            // Ticks are for my messages; others' are simply stored.
            let tick = if mine { c.tick_of(room, m.seq) } else { Tick::Sent };
            let asked = c.read_by(room, m.seq).filter(|_| mine && group);
            let read_by = (mine && group).then(|| {
                let (count, of) = c.read_count(room, m.seq);
                let names: Vec<&str> =
                    asked.map_or(Vec::new(), |r| r.users.iter().map(|u| u.name.as_str()).collect());
                // The names are asked now; the count may be a moment older.
                let count = (count as usize).max(names.len());
                match names.is_empty() {
                    true => format!("Read by {count} of {of}"),
                    false => format!("Read by {count} of {of}: {}", names.join(", ")),
                }
            });
            let recent = now - m.ts <= window;
            rows.push(Row::Msg(Box::new(MsgRow {
                key: format!("{}:sent", m.cid),
                seq: Some(m.seq),
                version: m.version,
                // The sender's name as it is now, where the member list knows it.
                from: r
                    .marks
                    .as_ref()
                    .and_then(|k| k.name(m.sender))
                    .unwrap_or(&m.from)
                    .to_string(),
                body: m.body.clone(),
                fmt: m.fmt.clone(),
                time: clock(m.ts, offset),
                mine,
                tick,
                read_by,
                read_by_more: asked.is_some_and(|r| r.more),
                edited: m.edited.map(|t| format!("Edited {}", clock(t, offset))),
                deleted: m.deleted,
                reactions: chips(r, m, me),
                reply: m.reply_to.map(|t| quote(r, t, m.quoted.as_deref(), me)),
                mentions: names(r, &m.mentions, me),
                calls_me: !mine && crate::events::calls(m).is_some_and(|(_, u)| u.contains(&me)),
                can_edit: mine && recent && !m.deleted,
                can_delete: !m.deleted && ((mine && recent) || moderator),
                files: m.files.clone(),
                // Folded in groups; a direct room withholds what they send after.
                blocked: group && !mine && c.blocks(m.sender),
            })));
        }
    }
    for o in c
        .outbox()
        .iter()
        .filter(|o| o.room == room && o.kind.is_message())
    {
        day(&mut rows, o.created);
        rows.push(Row::Msg(Box::new(MsgRow {
            key: format!(
                "{}:{}",
                o.cid,
                if o.failed.is_some() { "failed" } else { "pending" }
            ),
            body: o.body.clone(),
            time: clock(o.created, offset),
            mine: true,
            tick: o.tick(),
            reply: o
                .reply_to
                .and_then(|t| c.room(room).map(|r| quote(r, t, None, me))),
            mentions: c
                .room(room)
                .map(|r| names(r, &o.mentions, me))
                .unwrap_or_default(),
            files: o.files.clone(),
            ..MsgRow::default()
        })));
    }
    rows
}

/// The display names of `users`, where the room's member list knows them.
fn names(r: &Room, users: &[UserId], me: UserId) -> Vec<(String, bool)> {
    let marks = r.marks.as_ref();
    users
        .iter()
        .filter_map(|u| Some((marks?.name(*u)?.to_string(), *u == me)))
        .collect()
}

/// A message's reactions as chips, with the names of who reacted.
fn chips(r: &Room, m: &Message, me: UserId) -> Vec<Chip> {
    m.reactions
        .iter()
        .map(|x| Chip {
            emoji: x.emoji.clone(),
            count: x.users.len(),
            mine: x.users.contains(&me),
            who: x
                .users
                .iter()
                .map(|u| match (*u == me, r.marks.as_ref().and_then(|k| k.name(*u))) {
                    (true, _) => "You".to_string(),
                    (false, Some(name)) => name.to_string(),
                    (false, None) => "someone".to_string(),
                })
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect()
}

/// The quote of message `seq` of the room, as it is now: the message if
/// held, else as the reply brought it.
fn quote(r: &Room, seq: Seq, quoted: Option<&Message>, me: UserId) -> Quote {
    match r.msgs.get(&seq).or(quoted) {
        Some(t) => Quote {
            seq,
            from: if t.sender == me {
                "You".into()
            } else {
                t.from.clone()
            },
            text: if t.deleted {
                DELETED.to_string()
            } else {
                preview(&t.body, t.fmt.as_deref())
            },
        },
        None => Quote {
            seq,
            from: String::new(),
            text: "An earlier message".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::model::{RoomSummary, User};
    use crate::protocol::{Message, ServerFrame};
    use crate::sync::Config;

    const DAY: i64 = 86_400_000;

    fn msg(seq: Seq, sender: UserId, ts: i64) -> ServerFrame {
        ServerFrame::Msg(Message {
            fmt: None,
            room: 7,
            seq,
            id: Uuid::from_u128(seq as u128),
            sender,
            from: format!("user {sender}"),
            body: format!("m{seq}"),
            ts,
            cid: Uuid::from_u128(100 + seq as u128),
            n: seq,
            version: seq,
            ..Message::default()
        })
    }

    #[test]
    fn messages_by_day_with_the_unread_divider_then_the_outbox() {
        let mut c = Client::new(Config::default());
        c.connected();
        let me = User {
            id: 1,
            handle: "me".into(),
            display_name: "Me".into(),
        };
        let room = RoomSummary {
            role: Default::default(),
            notify: Default::default(),
            id: 7,
            kind: RoomKind::Direct,
            name: "Bob".into(),
            peer: Some(2),
            peer_handle: Some("bob".into()),
            peer_status: String::new(),
            head_seq: 0,
            read_seq: 0,
            member_count: 2,
            last_activity: 0,
            preview: None,
            description: String::new(),
            changed: 0,
            left: false,
            avatar: None,
            head_n: 0,
            read_n: 0,
            gone: Vec::new(),
            mentioned: Vec::new(),
            hidden: Vec::new(),
        };
        let welcome = ServerFrame::Welcome {
            edit_window_secs: 86_400,
            user: me,
            rooms: vec![room],
            contacts: Vec::new(),
            max_body_chars: 4_000,
            blocked: vec![],
        };
        c.handle(welcome, 0);
        for (seq, sender, ts) in [(1, 1, 10), (2, 2, DAY + 10), (3, 2, DAY + 20)] {
            c.handle(msg(seq, sender, ts), 0);
        }
        // A change to the room is a line of its own.
        let ServerFrame::Msg(m4) = msg(4, 2, DAY + 25) else {
            unreachable!()
        };
        let renamed = Message {
            kind: Kind::Room,
            body: String::new(),
            n: 3,
            change: Some(crate::groups::Change::Renamed { name: "Trip".into() }),
            ..m4
        };
        c.handle(ServerFrame::Msg(renamed), 0);
        c.send(7, Uuid::from_u128(999), "later".into(), DAY + 30);

        let shown: Vec<String> = rows(&c, 7, 1, Some((2, 2)), (DAY + 40, 0))
            .iter()
            .map(|r| match r {
                Row::Day { label, .. } => format!("— {label}"),
                Row::Unread { label, .. } => format!("— {label}"),
                Row::Gap { from, .. } => format!("… from {from}"),
                Row::Note { text, .. } => format!("({text})"),
                Row::Msg(m) => {
                    format!(
                        "{} {} {:?}",
                        m.body,
                        if m.mine { "mine" } else { "theirs" },
                        m.tick
                    )
                }
            })
            .collect();
        assert_eq!(
            shown,
            [
                "— Yesterday",
                "m1 mine Sent",
                "— Today",
                "— 2 new messages",
                "m2 theirs Sent",
                "m3 theirs Sent",
                "(user 2 renamed the group to “Trip”)",
                "later mine Pending",
            ]
        );
        // Deleted for me on another device: its summary hides it here.
        let mut hid = c.room(7).and_then(|r| r.summary.clone()).unwrap();
        hid.hidden = vec![2];
        let out = c.handle(ServerFrame::Room(hid), 0);
        assert!(out.changed.contains(&7), "the timeline is drawn again");
        let bodies: Vec<String> = rows(&c, 7, 1, None, (DAY + 40, 0))
            .iter()
            .filter_map(|r| match r {
                Row::Msg(m) => Some(m.body.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(bodies, ["m1", "m3", "later"]);
    }
}
