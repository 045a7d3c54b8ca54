//! The WebSocket protocol: every frame the browser, the server, the tests
//! and the tools exchange, as serde types. JSON text frames tagged by `t`.
//! `docs/PROTOCOL.md` describes them for people; this module is the truth.
//! No I/O and no `cfg` here: both builds compile exactly this.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::format::Block;
use crate::groups::Change;
use crate::model::{Attachment, Kind, Reaction, RoomId, RoomSummary, User, UserId};

/// A message's place in its room: 1, 2, 3, … with no holes.
pub type Seq = i64;

/// The most messages one `batch` carries.
pub const PAGE_MAX: u32 = 200;
/// The page size when `limit` is not given.
pub const PAGE_DEFAULT: u32 = 100;
/// The most members a `members` answer lists (the rest are found by name).
pub const MEMBERS_FIRST: u32 = 200;
/// The most members a `found` answer lists.
pub const FOUND_MAX: u32 = 20;
/// The longest prefix `find_members` takes (characters).
pub const PREFIX_MAX: usize = 64;

/// Frames a client sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum ClientFrame {
    /// First frame on a connection; answered by `welcome`.
    Hello,
    /// A new message. `cid` is the client's id for it: resending the same
    /// `cid` never creates a second message, it returns the first `ack`.
    /// `reply_to` names a message of the same room it answers; `mentions`
    /// the members it calls by name (the body shows them as `@name`);
    /// `files` the uploads it carries (uploaded before, see `/uploads`;
    /// with files the body may be empty).
    Send {
        room: RoomId,
        cid: Uuid,
        body: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<Seq>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mentions: Vec<UserId>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        files: Vec<Uuid>,
    },
    /// My message `target` gets a new body (and names its mentions again).
    /// Like every change below, it takes the room's next seq and is
    /// idempotent by `cid`, as a send is.
    Edit {
        room: RoomId,
        cid: Uuid,
        target: Seq,
        body: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mentions: Vec<UserId>,
    },
    /// Deletes message `target` for everyone.
    Delete { room: RoomId, cid: Uuid, target: Seq },
    /// Reacts to `target` with `emoji`.
    React {
        room: RoomId,
        cid: Uuid,
        target: Seq,
        emoji: String,
    },
    /// Takes back my reaction `emoji` to `target`.
    Unreact {
        room: RoomId,
        cid: Uuid,
        target: Seq,
        emoji: String,
    },
    /// Messages with seq > `after`, oldest first, in `batch` pages.
    Sync {
        room: RoomId,
        after: Seq,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Messages with seq < `before`, the newest `limit` of them, oldest first.
    History {
        room: RoomId,
        before: Seq,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// The page of rows around `seq` (to open a room at a message far back):
    /// the newest half of `limit` with seq <= `seq`, then the oldest rest
    /// after it; messages in their current state, as `history` serves them.
    Around {
        room: RoomId,
        seq: Seq,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// The highest seq of `room` this device holds (its delivered mark).
    Delivered { room: RoomId, seq: Seq },
    /// The highest seq of `room` the person has seen (their read mark).
    Read { room: RoomId, seq: Seq },
    /// The person is typing in `room` (at most one every 3 s; never stored).
    Typing { room: RoomId },
    /// Asks for the members of `room` (the first `MEMBERS_FIRST`) and the
    /// ticks of my messages there (answered by `members`).
    Members { room: RoomId },
    /// Asks for the members of `room` whose name or handle starts with
    /// `prefix` (or a word of the name does), for a big room's @ list
    /// (answered by `found`).
    FindMembers { room: RoomId, prefix: String },
    /// Asks who of the others has read my message `seq`, a page of them
    /// by id after `after` (answered by `read_by`).
    ReadBy {
        room: RoomId,
        seq: Seq,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<UserId>,
    },
    /// Application-level heartbeat (browsers cannot send WebSocket pings).
    Ping,
}

/// A member of a room and how far they got: what ticks are made of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberMarks {
    pub user: UserId,
    pub name: String,
    pub delivered: Seq,
    pub read: Seq,
}

/// How far the other members of a room got with my messages: what my
/// ticks are made of. Every one of the `of` others holds my messages up to
/// `delivered` (✓✓) and has read them up to `read` (blue ✓✓); `counts`
/// says, for my newest messages past `read`, how many of them read each.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticks {
    pub delivered: Seq,
    pub read: Seq,
    pub of: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub counts: Vec<ReadCount>,
}

/// How many others read my message `seq`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadCount {
    pub seq: Seq,
    pub read: u32,
}

/// A person by id and display name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    pub user: UserId,
    pub name: String,
}

/// Whether a person is online; when not, since when (ms since the epoch,
/// None if they were never seen).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    pub user: UserId,
    pub online: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<i64>,
}

/// One row of a room's stream as every member sees it: a message (in its
/// current state when it comes from `history`) or an event that changes
/// one (`kind`, `target`); see `events`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub room: RoomId,
    pub seq: Seq,
    /// The server's id of the message.
    pub id: Uuid,
    pub sender: UserId,
    /// The sender's display name when the message was sent.
    pub from: String,
    pub body: String,
    /// Milliseconds since the Unix epoch, when the server stored it.
    pub ts: i64,
    /// The sender's `cid`.
    pub cid: Uuid,
    /// The body's formatting, when it has any (`format`); absent, the body
    /// is plain text, drawn by `format::plain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fmt: Option<Vec<Block>>,
    /// What the row is; absent, a message.
    #[serde(default, skip_serializing_if = "is_message")]
    pub kind: Kind,
    /// The message an event changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Seq>,
    /// How many messages (not events) the room had once this row was
    /// stored, this one included: unread counts are differences of these.
    #[serde(default)]
    pub n: i64,
    /// The seq of the last event folded into this state (`seq` itself
    /// until something changed it).
    #[serde(default)]
    pub version: Seq,
    /// When the body was last edited (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited: Option<i64>,
    /// Deleted for everyone: the body is gone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
    /// The message of the same room this one answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Seq>,
    /// The members a message mentions, by id; on an edit, the ones it
    /// added (a message's mentions only grow: who was called stays called).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<UserId>,
    /// The files the message carries (gone once it is deleted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<Attachment>,
    /// That message as it was when this row was served (`events::quote`),
    /// for a client that does not hold it; later events fold onto it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quoted: Option<Box<Message>>,
    /// What a `Kind::Room` row changed (the room itself, not a message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
}

fn is_message(kind: &Kind) -> bool {
    kind.is_message()
}

fn default_edit_window_secs() -> u64 {
    crate::model::EDIT_WINDOW_SECS
}

fn default_max_body_chars() -> usize {
    crate::model::BODY_MAX_DEFAULT
}

/// Frames the server sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The answer to `hello`: who you are, every room you are in, and the
    /// presence of your contacts (people you share a direct or small room with).
    Welcome {
        user: User,
        rooms: Vec<RoomSummary>,
        #[serde(default)]
        contacts: Vec<Presence>,
        /// The most characters a message body may have here (the composer
        /// counts down to it).
        #[serde(default = "default_max_body_chars")]
        max_body_chars: usize,
        /// How long (s) after sending one may edit or delete one's message.
        #[serde(default = "default_edit_window_secs")]
        edit_window_secs: u64,
        /// The people I block.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        blocked: Vec<UserId>,
    },
    /// Your message `cid` is stored durably as `seq` of `room`. The same
    /// answer for every resend of that `cid`.
    Ack {
        cid: Uuid,
        room: RoomId,
        seq: Seq,
        id: Uuid,
        ts: i64,
        /// The body's formatting, as in `Message::fmt`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fmt: Option<Vec<Block>>,
        /// The row's `n` (see `Message::n`).
        #[serde(default)]
        n: i64,
        /// The files it carries, as stored (see `Message::files`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        files: Vec<Attachment>,
    },
    /// A new message in a room of yours (live; may be missed, never wrong).
    Msg(Message),
    /// Messages in seq order answering `sync` (`history` false) or `history`
    /// (true); `more` says there are more beyond this page in that direction.
    Batch {
        room: RoomId,
        msgs: Vec<Message>,
        more: bool,
        #[serde(default)]
        history: bool,
        /// The rows of this page hidden from me (deleted for me, or sent
        /// by someone I block in a direct room): a device that had not
        /// heard of them learns it with the page.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        hidden: Vec<Seq>,
    },
    /// You joined a room, or it changed.
    Room(RoomSummary),
    /// Live frames were dropped for you (you were too slow): sync `room`,
    /// or every room when it is absent.
    Resync {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<RoomId>,
    },
    /// My marks in a room moved (on this or another of my devices):
    /// everything up to `delivered` is on one of my devices, everything up
    /// to `read` was seen. Marks only rise. Also the answer to a report.
    Receipt {
        room: RoomId,
        user: UserId,
        delivered: Seq,
        read: Seq,
        /// The `n` of row `read` (see `Message::n`): what my own devices
        /// count unread from.
        #[serde(default)]
        read_n: i64,
    },
    /// The answer to `members`, with the ticks of my messages there;
    /// `more`: the room has more members than these (find them by name).
    Members {
        room: RoomId,
        members: Vec<MemberMarks>,
        #[serde(default)]
        ticks: Ticks,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        more: bool,
    },
    /// The answer to `find_members`: at most `FOUND_MAX` of them.
    Found {
        room: RoomId,
        prefix: String,
        members: Vec<Named>,
    },
    /// The others moved on with my messages in `room` (coalesced: in a
    /// group about once a second, in a direct room at once).
    Ticks {
        room: RoomId,
        ticks: Ticks,
    },
    /// The answer to `read_by`: a page of those who read my message `seq`,
    /// by id; `more` says a next page exists (ask after the last one).
    ReadBy {
        room: RoomId,
        seq: Seq,
        users: Vec<Named>,
        more: bool,
    },
    /// A contact came online or went offline.
    Presence(Presence),
    /// Whom I block now (on this or another of my devices): their
    /// messages in groups are folded, their direct messages never come.
    Blocked {
        users: Vec<UserId>,
    },
    /// `user` (`name`) is typing in `room`; it stops after ~5 s without another.
    Typing {
        room: RoomId,
        user: UserId,
        name: String,
    },
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cid: Option<Uuid>,
    },
    Pong,
}

/// Why a frame was refused. A closed set: clients switch on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, an unknown `t`, a missing field, an empty body, a seq beyond the head.
    BadFrame,
    /// A frame or a body over the limit.
    TooLarge,
    /// Too many frames; slow down and retry.
    RateLimited,
    /// No valid session.
    Unauthenticated,
    /// The room exists but you are not in it.
    NotMember,
    /// There is no such room.
    UnknownRoom,
    /// Storage is unavailable: nothing was stored; retry later.
    Unavailable,
    /// The message a change names is not in the room (or is not a message).
    UnknownMessage,
    /// The change is not yours to make: someone else's message, past the
    /// edit window, already deleted, or one reaction too many.
    Forbidden,
}

impl ErrorCode {
    /// Whether resending the same frame later may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorCode::Unavailable | ErrorCode::RateLimited)
    }
}

impl ServerFrame {
    pub fn error(code: ErrorCode, message: impl Into<String>, cid: Option<Uuid>) -> Self {
        ServerFrame::Error {
            code,
            message: message.into(),
            cid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn client_frames_round_trip_in_their_documented_shape() {
        let cid = Uuid::from_u128(7);
        let cases = [
            (ClientFrame::Hello, json!({"t": "hello"})),
            (
                ClientFrame::Send {
                    room: 3,
                    cid,
                    body: "hi".into(),
                    reply_to: None,
                    mentions: vec![],
                    files: vec![],
                },
                json!({"t": "send", "room": 3, "cid": cid.to_string(), "body": "hi"}),
            ),
            (
                ClientFrame::Sync {
                    room: 3,
                    after: 10,
                    limit: None,
                },
                json!({"t": "sync", "room": 3, "after": 10}),
            ),
            (
                ClientFrame::History {
                    room: 3,
                    before: 10,
                    limit: Some(20),
                },
                json!({"t": "history", "room": 3, "before": 10, "limit": 20}),
            ),
            (ClientFrame::Ping, json!({"t": "ping"})),
            (
                ClientFrame::React {
                    room: 3,
                    cid,
                    target: 2,
                    emoji: "👍".into(),
                },
                json!({"t": "react", "room": 3, "cid": cid.to_string(), "target": 2, "emoji": "👍"}),
            ),
            (
                ClientFrame::Delete {
                    room: 3,
                    cid,
                    target: 2,
                },
                json!({"t": "delete", "room": 3, "cid": cid.to_string(), "target": 2}),
            ),
            (ClientFrame::Typing { room: 3 }, json!({"t": "typing", "room": 3})),
            (
                ClientFrame::Members { room: 3 },
                json!({"t": "members", "room": 3}),
            ),
            (
                ClientFrame::Read { room: 3, seq: 9 },
                json!({"t": "read", "room": 3, "seq": 9}),
            ),
        ];
        for (frame, value) in cases {
            assert_eq!(serde_json::to_value(&frame).unwrap(), value);
            assert_eq!(serde_json::from_value::<ClientFrame>(value).unwrap(), frame);
        }
    }

    #[test]
    fn server_frames_round_trip_in_their_documented_shape() {
        let m = Message {
            room: 1,
            seq: 2,
            id: Uuid::from_u128(1),
            sender: 5,
            from: "Ann".into(),
            body: "<b>x</b>".into(),
            ts: 99,
            cid: Uuid::from_u128(2),
            n: 2,
            version: 2,
            ..Message::default()
        };
        let v = serde_json::to_value(ServerFrame::Msg(m.clone())).unwrap();
        assert_eq!(v["t"], "msg");
        assert_eq!(v["seq"], 2);
        assert_eq!(v["body"], "<b>x</b>");
        assert!(
            v.get("kind").is_none() && v.get("deleted").is_none(),
            "a plain message says no more"
        );
        assert_eq!(
            serde_json::from_value::<ServerFrame>(v).unwrap(),
            ServerFrame::Msg(m)
        );
        let e = ServerFrame::error(ErrorCode::NotMember, "no", None);
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"t": "error", "code": "not_member", "message": "no"})
        );
        let p = ServerFrame::Presence(Presence {
            user: 4,
            online: false,
            last_seen: Some(7),
        });
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"t": "presence", "user": 4, "online": false, "last_seen": 7})
        );
        let r = ServerFrame::Resync { room: None };
        assert_eq!(serde_json::to_value(&r).unwrap(), json!({"t": "resync"}));
    }

    #[test]
    fn unknown_or_malformed_frames_are_refused() {
        for bad in [
            r#"{"t":"shout","room":1}"#,
            r#"{"t":"send","room":1,"body":"x"}"#,
            r#"{"t":"send","room":"one","cid":"00000000-0000-0000-0000-000000000001","body":"x"}"#,
            r#"{"t":"send","room":1,"cid":"not-a-uuid","body":"x"}"#,
            "not json",
        ] {
            assert!(serde_json::from_str::<ClientFrame>(bad).is_err(), "{bad}");
        }
    }
}
