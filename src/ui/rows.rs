//! A room's timeline as rows, the way the screen shows it: messages by seq
//! with a divider per day and one where the unread part began, each of
//! mine with its tick (and in a group "Read by k of n: …"), then my
//! messages still waiting for their ack. A pure function of the client
//! state, the time and the UTC offset; `Live` keeps the rows in signals.

use super::time::{clock, day_label, local};
use crate::format::Block;
use crate::model::{RoomId, RoomKind, UserId};
use crate::protocol::Seq;
use crate::sync::Client;
pub use crate::sync::Tick;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Row {
    Day {
        key: String,
        label: String,
    },
    Msg {
        key: String,
        seq: Option<Seq>,
        from: String,
        body: String,
        /// The body's formatting (None: plain text).
        fmt: Option<Vec<Block>>,
        time: String,
        mine: bool,
        tick: Tick,
        /// In a group, for my stored messages: "Read by 2 of 3: Bob, Cy".
        read_by: Option<String>,
    },
    /// "3 new messages": where the unread part began when the room opened.
    Unread {
        key: String,
        label: String,
    },
}

impl Row {
    pub fn key(&self) -> String {
        match self {
            Row::Day { key, .. } | Row::Msg { key, .. } | Row::Unread { key, .. } => key.clone(),
        }
    }

    /// What the view keys a row by: its key and, for a message, its tick,
    /// so a tick that moves re-renders its row.
    pub fn render_key(&self) -> String {
        match self {
            Row::Msg {
                key, tick, read_by, ..
            } => format!("{key}:{tick:?}:{}", read_by.as_deref().unwrap_or("")),
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
    let group = c
        .room(room)
        .and_then(|r| r.summary.as_ref())
        .is_some_and(|s| s.kind == RoomKind::Group);
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
    if let Some(r) = c.room(room) {
        for m in r.messages() {
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
            let read_by = (mine && group).then(|| {
                let (names, of) = c.read_by(room, m.seq);
                match names.is_empty() {
                    true => format!("Read by 0 of {of}"),
                    false => format!("Read by {} of {of}: {}", names.len(), names.join(", ")),
                }
            });
            rows.push(Row::Msg {
                key: format!("{}:sent", m.cid),
                seq: Some(m.seq),
                from: m.from.clone(),
                body: m.body.clone(),
                fmt: m.fmt.clone(),
                time: clock(m.ts, offset),
                mine,
                tick,
                read_by,
            });
        }
    }
    for o in c
        .outbox()
        .iter()
        .filter(|o| o.room == room && o.kind.is_message())
    {
        day(&mut rows, o.created);
        let tick = o.tick();
        rows.push(Row::Msg {
            key: format!(
                "{}:{}",
                o.cid,
                if o.failed.is_some() { "failed" } else { "pending" }
            ),
            seq: None,
            from: String::new(),
            body: o.body.clone(),
            fmt: None,
            time: clock(o.created, offset),
            mine: true,
            tick,
            read_by: None,
        });
    }
    rows
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
            notify: Default::default(),
            id: 7,
            kind: RoomKind::Direct,
            name: "Bob".into(),
            peer: Some(2),
            peer_handle: Some("bob".into()),
            head_seq: 0,
            read_seq: 0,
            member_count: 2,
            last_activity: 0,
            preview: None,
            head_n: 0,
            read_n: 0,
            gone: Vec::new(),
        };
        let welcome = ServerFrame::Welcome {
            user: me,
            rooms: vec![room],
            contacts: Vec::new(),
            max_body_chars: 4_000,
        };
        c.handle(welcome, 0);
        for (seq, sender, ts) in [(1, 1, 10), (2, 2, DAY + 10), (3, 2, DAY + 20)] {
            c.handle(msg(seq, sender, ts), 0);
        }
        c.send(7, Uuid::from_u128(999), "later".into(), DAY + 30);

        let shown: Vec<String> = rows(&c, 7, 1, Some((2, 2)), (DAY + 40, 0))
            .iter()
            .map(|r| match r {
                Row::Day { label, .. } => format!("— {label}"),
                Row::Unread { label, .. } => format!("— {label}"),
                Row::Msg { body, mine, tick, .. } => {
                    format!("{body} {} {tick:?}", if *mine { "mine" } else { "theirs" })
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
                "later mine Pending",
            ]
        );
    }
}
