//! Unit tests of the client state machine: gaps, duplicates, reordering,
//! retransmits and reconnects.

use super::*;
use crate::model::{RoomKind, RoomSummary};
use crate::protocol::{ErrorCode, Message, Named, ReadCount, ServerFrame, Ticks};

const ME: i64 = 1;

fn user() -> User {
    User {
        id: ME,
        handle: "me".into(),
        display_name: "Me".into(),
    }
}

fn summary(id: RoomId, head: Seq) -> RoomSummary {
    RoomSummary {
        role: Default::default(),
        notify: Default::default(),
        id,
        kind: RoomKind::Group,
        name: format!("room {id}"),
        peer: None,
        peer_handle: None,
        peer_status: String::new(),
        head_seq: head,
        read_seq: 0,
        member_count: 2,
        last_activity: 0,
        preview: None,
        description: String::new(),
        changed: 0,
        left: false,
        avatar: None,
        head_n: head,
        read_n: 0,
        gone: Vec::new(),
        mentioned: Vec::new(),
        hidden: Vec::new(),
    }
}

fn msg(room: RoomId, seq: Seq) -> Message {
    Message {
        fmt: None,
        room,
        seq,
        id: Uuid::from_u128(seq as u128 + 1000 * room as u128),
        sender: 2,
        from: "Other".into(),
        body: format!("m{seq}"),
        ts: seq,
        cid: Uuid::from_u128(seq as u128 + 5_000_000 * room as u128),
        n: seq,
        version: seq,
        ..Message::default()
    }
}

fn welcomed(rooms: Vec<RoomSummary>) -> (Client, Output) {
    let mut c = Client::new(Config::default());
    assert_eq!(c.connected().frames, vec![ClientFrame::Hello]);
    let out = c.handle(
        ServerFrame::Welcome {
            edit_window_secs: 86_400,
            user: user(),
            rooms,
            contacts: vec![],
            max_body_chars: 4_000,
            blocked: vec![],
        },
        0,
    );
    (c, out)
}

/// The frames of a step other than delivered/read reports (they have tests of their own).
fn sent(out: &Output) -> Vec<ClientFrame> {
    out.frames
        .iter()
        .filter(|f| !matches!(f, ClientFrame::Delivered { .. } | ClientFrame::Read { .. }))
        .cloned()
        .collect()
}

fn seqs(c: &Client, room: RoomId) -> Vec<Seq> {
    c.room(room).unwrap().msgs.keys().copied().collect()
}

fn batch(room: RoomId, range: std::ops::RangeInclusive<Seq>, more: bool) -> ServerFrame {
    ServerFrame::Batch {
        room,
        msgs: range.map(|s| msg(room, s)).collect(),
        more,
        history: false,
        hidden: vec![],
    }
}

#[test]
fn welcome_syncs_rooms_that_are_behind() {
    let (c, out) = welcomed(vec![summary(1, 0), summary(2, 5)]);
    assert_eq!(
        sent(&out),
        vec![ClientFrame::Sync {
            room: 2,
            after: 0,
            limit: None
        }]
    );
    assert!(out.rooms_changed);
    assert_eq!(c.room(2).unwrap().head(), 5);
}

#[test]
fn in_order_messages_extend_the_timeline() {
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    for s in 1..=3 {
        let out = c.handle(ServerFrame::Msg(msg(1, s)), 0);
        assert!(sent(&out).is_empty());
        assert!(out.changed.contains(&1));
    }
    assert_eq!(c.room(1).unwrap().last, 3);
    assert_eq!(seqs(&c, 1), vec![1, 2, 3]);
}

#[test]
fn duplicates_are_dropped() {
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    c.handle(ServerFrame::Msg(msg(1, 1)), 0);
    let out = c.handle(ServerFrame::Msg(msg(1, 1)), 0);
    assert!(out.changed.is_empty() && sent(&out).is_empty());
    c.handle(batch(1, 1..=1, false), 0);
    assert_eq!(seqs(&c, 1), vec![1]);
}

#[test]
fn a_gap_asks_for_sync_once_and_the_batch_fills_it() {
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    c.handle(ServerFrame::Msg(msg(1, 1)), 0);
    let out = c.handle(ServerFrame::Msg(msg(1, 4)), 0);
    assert_eq!(
        sent(&out),
        vec![ClientFrame::Sync {
            room: 1,
            after: 1,
            limit: None
        }]
    );
    let out = c.handle(ServerFrame::Msg(msg(1, 5)), 0);
    assert!(sent(&out).is_empty(), "one sync in flight is enough");
    assert_eq!(c.room(1).unwrap().last, 1);
    let out = c.handle(batch(1, 2..=5, false), 0);
    assert!(sent(&out).is_empty());
    assert_eq!(c.room(1).unwrap().last, 5);
    assert_eq!(seqs(&c, 1), vec![1, 2, 3, 4, 5]);
}

#[test]
fn reordered_frames_end_in_seq_order() {
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    for s in [3, 1, 2, 5, 4] {
        c.handle(ServerFrame::Msg(msg(1, s)), 0);
    }
    assert_eq!(c.room(1).unwrap().last, 5);
    assert_eq!(seqs(&c, 1), vec![1, 2, 3, 4, 5]);
}

#[test]
fn paged_sync_continues_until_no_more() {
    let (mut c, out) = welcomed(vec![summary(1, 250)]);
    assert_eq!(
        sent(&out),
        vec![ClientFrame::Sync {
            room: 1,
            after: 0,
            limit: None
        }]
    );
    let out = c.handle(batch(1, 1..=100, true), 0);
    assert_eq!(
        sent(&out),
        vec![ClientFrame::Sync {
            room: 1,
            after: 100,
            limit: None
        }]
    );
    let out = c.handle(batch(1, 101..=200, true), 0);
    assert_eq!(
        sent(&out),
        vec![ClientFrame::Sync {
            room: 1,
            after: 200,
            limit: None
        }]
    );
    let out = c.handle(batch(1, 201..=250, false), 0);
    assert!(sent(&out).is_empty());
    assert_eq!(c.room(1).unwrap().last, 250);
}

#[test]
fn a_full_page_asks_for_more_even_beyond_the_known_head() {
    // The client knows of seq 100 only, but the server says the page was full.
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    c.handle(ServerFrame::Msg(msg(1, 100)), 0);
    let out = c.handle(batch(1, 1..=100, true), 0);
    assert_eq!(
        sent(&out),
        vec![ClientFrame::Sync {
            room: 1,
            after: 100,
            limit: None
        }]
    );
}

#[test]
fn sends_are_acked_once_and_land_in_the_timeline() {
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    let cid = Uuid::from_u128(42);
    let out = c.send(1, cid, "hello".into(), 0);
    assert_eq!(
        sent(&out),
        vec![ClientFrame::Send {
            reply_to: None,
            room: 1,
            cid,
            body: "hello".into(),
            mentions: vec![],
            files: vec![],
        }]
    );
    assert!(out.outbox_changed);
    assert_eq!(c.outbox().len(), 1);
    let ack = ServerFrame::Ack {
        n: 0,
        fmt: None,
        files: vec![],
        cid,
        room: 1,
        seq: 1,
        id: Uuid::from_u128(9),
        ts: 7,
    };
    let out = c.handle(ack.clone(), 10);
    assert!(out.outbox_changed);
    assert!(c.outbox().is_empty());
    let m = &c.room(1).unwrap().msgs[&1];
    assert_eq!((m.body.as_str(), m.sender, m.cid), ("hello", ME, cid));
    assert_eq!(
        c.room(1).unwrap().summary.as_ref().unwrap().read_seq,
        1,
        "sending reads up to it"
    );
    // A second ack (a resend's) changes nothing.
    let out = c.handle(ack, 11);
    assert_eq!(out, Output::default());
    assert_eq!(seqs(&c, 1), vec![1]);
}

#[test]
fn unacked_sends_are_retransmitted_with_backoff_and_the_same_cid() {
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    let cid = Uuid::from_u128(42);
    c.send(1, cid, "hello".into(), 0);
    assert!(sent(&c.tick(4_999)).is_empty());
    let again = ClientFrame::Send {
        reply_to: None,
        room: 1,
        cid,
        body: "hello".into(),
        mentions: vec![],
        files: vec![],
    };
    assert_eq!(sent(&c.tick(5_000)), vec![again.clone()]);
    assert!(sent(&c.tick(14_999)).is_empty(), "then after 10 s");
    assert_eq!(sent(&c.tick(15_000)), vec![again.clone()]);
    assert!(sent(&c.tick(34_999)).is_empty(), "then after 20 s");
    assert_eq!(sent(&c.tick(35_000)), vec![again]);
    assert_eq!(outbox::backoff(30, &Config::default()), 60_000);
}

#[test]
fn reconnect_resends_the_outbox_and_resumes_from_last() {
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    c.handle(ServerFrame::Msg(msg(1, 1)), 0);
    c.handle(ServerFrame::Msg(msg(1, 2)), 0);
    let cid = Uuid::from_u128(42);
    c.send(1, cid, "while online".into(), 0);
    c.disconnected();
    let offline = Uuid::from_u128(43);
    let out = c.send(1, offline, "while offline".into(), 1);
    assert!(sent(&out).is_empty(), "nothing is sent while disconnected");
    assert!(sent(&c.tick(100_000)).is_empty());

    assert_eq!(c.connected().frames, vec![ClientFrame::Hello]);
    let out = c.handle(
        ServerFrame::Welcome {
            edit_window_secs: 86_400,
            user: user(),
            rooms: vec![summary(1, 6)],
            contacts: vec![],
            max_body_chars: 4_000,
            blocked: vec![],
        },
        200_000,
    );
    assert_eq!(
        sent(&out),
        vec![
            ClientFrame::Sync {
                room: 1,
                after: 2,
                limit: None
            },
            ClientFrame::Send {
                reply_to: None,
                room: 1,
                cid,
                body: "while online".into(),
                mentions: vec![],
                files: vec![],
            },
            ClientFrame::Send {
                reply_to: None,
                room: 1,
                cid: offline,
                body: "while offline".into(),
                mentions: vec![],
                files: vec![],
            },
        ]
    );
}

#[test]
fn our_message_seen_in_a_sync_clears_it_from_the_outbox() {
    // The ack was lost with the connection; the sync brings the message.
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    let cid = Uuid::from_u128(42);
    c.send(1, cid, "hello".into(), 0);
    let mut m = msg(1, 1);
    m.cid = cid;
    m.sender = ME;
    let out = c.handle(
        ServerFrame::Batch {
            room: 1,
            msgs: vec![m],
            more: false,
            history: false,
            hidden: vec![],
        },
        0,
    );
    assert!(out.outbox_changed);
    assert!(c.outbox().is_empty());
}

#[test]
fn refused_sends_fail_and_retryable_ones_wait() {
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
    c.send(1, a, "x".into(), 0);
    c.send(1, b, "y".into(), 0);
    c.handle(
        ServerFrame::error(ErrorCode::NotMember, "You are not a member.", Some(a)),
        0,
    );
    c.handle(ServerFrame::error(ErrorCode::Unavailable, "later", Some(b)), 0);
    assert_eq!(c.outbox()[0].failed.as_deref(), Some("You are not a member."));
    assert_eq!(c.outbox()[1].failed, None);
    let frames = sent(&c.tick(5_000));
    assert_eq!(
        frames,
        vec![ClientFrame::Send {
            reply_to: None,
            room: 1,
            cid: b,
            body: "y".into(),
            mentions: vec![],
            files: vec![],
        }]
    );
    c.discard(a);
    assert_eq!(c.outbox().len(), 1);
    let out = c.retry(b, 6_000);
    assert_eq!(sent(&out).len(), 1);
}

/// A `welcome` answering a `hello` asked again on a live connection.
fn rewelcome(rooms: Vec<RoomSummary>, contacts: Vec<Presence>) -> ServerFrame {
    ServerFrame::Welcome {
        edit_window_secs: 86_400,
        user: user(),
        rooms,
        contacts,
        max_body_chars: 4_000,
        blocked: vec![],
    }
}

#[test]
fn a_resync_asks_for_a_fresh_welcome_and_syncs_the_rooms_it_shows_behind() {
    let (mut c, _) = welcomed(vec![summary(1, 0), summary(2, 0)]);
    c.handle(ServerFrame::Msg(msg(2, 1)), 0);
    c.send(2, Uuid::from_u128(7), "in flight".into(), 0);
    let out = c.handle(ServerFrame::Resync { room: None }, 0);
    assert_eq!(sent(&out), vec![ClientFrame::Hello]);
    // Presence dropped with the rest comes back with the welcome.
    let away = Presence {
        user: 2,
        online: false,
        last_seen: Some(5),
    };
    let out = c.handle(
        rewelcome(vec![summary(1, 2), summary(2, 1)], vec![away.clone()]),
        0,
    );
    assert_eq!(
        sent(&out),
        vec![ClientFrame::Sync {
            room: 1,
            after: 0,
            limit: None
        }],
        "room 2 is whole; the send in flight is not sent again"
    );
    assert_eq!(c.contacts().collect::<Vec<_>>(), vec![&away]);
    // One room's resync syncs that room.
    let out = c.handle(ServerFrame::Resync { room: Some(2) }, 0);
    assert_eq!(
        sent(&out),
        vec![ClientFrame::Sync {
            room: 2,
            after: 1,
            limit: None
        }]
    );
}

#[test]
fn a_resync_during_a_sync_does_not_start_a_second_one() {
    let (mut c, out) = welcomed(vec![summary(1, 300)]);
    assert_eq!(sent(&out).len(), 1);
    assert_eq!(
        sent(&c.handle(ServerFrame::Resync { room: None }, 0)),
        vec![ClientFrame::Hello]
    );
    let out = c.handle(batch(1, 1..=100, true), 0);
    assert_eq!(
        sent(&out),
        vec![ClientFrame::Sync {
            room: 1,
            after: 100,
            limit: None
        }]
    );
    assert!(sent(&c.handle(rewelcome(vec![summary(1, 300)], vec![]), 0)).is_empty());
}

#[test]
fn a_resync_during_a_sync_is_followed_by_another_sync() {
    // The sync in flight may have been served before the missed messages
    // were stored: the welcome after it knows the head.
    let (mut c, out) = welcomed(vec![summary(1, 3)]);
    assert_eq!(sent(&out).len(), 1);
    c.handle(ServerFrame::Resync { room: None }, 0);
    assert!(sent(&c.handle(batch(1, 1..=3, false), 0)).is_empty());
    let out = c.handle(rewelcome(vec![summary(1, 5)], vec![]), 0);
    assert_eq!(
        sent(&out),
        vec![ClientFrame::Sync {
            room: 1,
            after: 3,
            limit: None
        }]
    );
    assert!(sent(&c.handle(batch(1, 4..=5, false), 0)).is_empty(), "once");
}

#[test]
fn a_resync_during_a_refresh_asks_once_more_after_it() {
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    assert_eq!(
        sent(&c.handle(ServerFrame::Resync { room: None }, 0)),
        vec![ClientFrame::Hello]
    );
    assert!(
        sent(&c.handle(ServerFrame::Resync { room: None }, 0)).is_empty(),
        "one at a time"
    );
    let again = c.handle(rewelcome(vec![summary(1, 0)], vec![]), 0);
    assert_eq!(sent(&again), vec![ClientFrame::Hello]);
    assert!(sent(&c.handle(rewelcome(vec![summary(1, 0)], vec![]), 0)).is_empty());
}

#[test]
fn a_refused_sync_is_asked_again_later() {
    let (mut c, out) = welcomed(vec![summary(1, 3)]);
    assert_eq!(sent(&out).len(), 1);
    c.handle(ServerFrame::error(ErrorCode::Unavailable, "db down", None), 1_000);
    assert!(sent(&c.tick(1_500)).is_empty());
    assert_eq!(
        sent(&c.tick(3_000)),
        vec![ClientFrame::Sync {
            room: 1,
            after: 0,
            limit: None
        }]
    );
}

#[test]
fn a_refused_refresh_is_asked_again_later() {
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    assert_eq!(
        sent(&c.handle(ServerFrame::Resync { room: None }, 0)),
        vec![ClientFrame::Hello]
    );
    c.handle(ServerFrame::error(ErrorCode::Unavailable, "db down", None), 1_000);
    assert!(sent(&c.tick(1_500)).is_empty());
    assert_eq!(sent(&c.tick(3_000)), vec![ClientFrame::Hello]);
    assert!(sent(&c.tick(3_500)).is_empty(), "in flight");
    c.handle(rewelcome(vec![summary(1, 0)], vec![]), 3_600);
    assert!(sent(&c.tick(6_000)).is_empty(), "answered: done");
}

#[test]
fn new_rooms_and_unknown_rooms_are_synced() {
    let (mut c, _) = welcomed(vec![]);
    let out = c.handle(ServerFrame::Room(summary(7, 2)), 0);
    assert!(out.rooms_changed);
    assert_eq!(
        sent(&out),
        vec![ClientFrame::Sync {
            room: 7,
            after: 0,
            limit: None
        }]
    );
    let out = c.handle(ServerFrame::Msg(msg(8, 3)), 0);
    assert!(out.rooms_changed);
    assert_eq!(
        sent(&out),
        vec![ClientFrame::Sync {
            room: 8,
            after: 0,
            limit: None
        }]
    );
}

#[test]
fn a_new_device_starts_near_the_head_and_pages_history() {
    let mut c = Client::new(Config {
        initial_window: Some(50),
        history_page: 50,
        ..Config::default()
    });
    c.connected();
    let out = c.handle(
        ServerFrame::Welcome {
            edit_window_secs: 86_400,
            user: user(),
            rooms: vec![summary(1, 120)],
            contacts: vec![],
            max_body_chars: 4_000,
            blocked: vec![],
        },
        0,
    );
    assert_eq!(
        sent(&out),
        vec![ClientFrame::Sync {
            room: 1,
            after: 70,
            limit: None
        }]
    );
    c.handle(batch(1, 71..=120, false), 0);
    let out = c.load_older(1);
    assert_eq!(
        sent(&out),
        vec![ClientFrame::History {
            room: 1,
            before: 71,
            limit: Some(50)
        }]
    );
    assert!(sent(&c.load_older(1)).is_empty(), "one page at a time");
    let older = (21..=70).map(|s| msg(1, s)).collect();
    c.handle(
        ServerFrame::Batch {
            room: 1,
            msgs: older,
            more: true,
            history: true,
            hidden: vec![],
        },
        0,
    );
    assert_eq!(c.room(1).unwrap().oldest(), Some(21));
    assert_eq!(c.room(1).unwrap().last, 120);
    c.load_older(1);
    let oldest = (1..=20).map(|s| msg(1, s)).collect();
    c.handle(
        ServerFrame::Batch {
            room: 1,
            msgs: oldest,
            more: false,
            history: true,
            hidden: vec![],
        },
        0,
    );
    assert!(c.room(1).unwrap().history_done);
    assert!(sent(&c.load_older(1)).is_empty());
    assert_eq!(seqs(&c, 1), (1..=120).collect::<Vec<_>>());
}

#[test]
fn the_outbox_survives_a_reload_and_is_sent_once_connected() {
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    c.send(1, Uuid::from_u128(5), "typed before reload".into(), 0);
    let saved: Vec<Outgoing> = serde_json::from_str(&serde_json::to_string(c.outbox()).unwrap()).unwrap();
    let mut after = Client::new(Config::default());
    after.restore_outbox(saved.clone());
    after.restore_outbox(saved);
    assert_eq!(after.outbox().len(), 1, "restored once");
    after.connected();
    let out = after.handle(
        ServerFrame::Welcome {
            edit_window_secs: 86_400,
            user: user(),
            rooms: vec![summary(1, 0)],
            contacts: vec![],
            max_body_chars: 4_000,
            blocked: vec![],
        },
        0,
    );
    assert_eq!(
        sent(&out),
        vec![ClientFrame::Send {
            reply_to: None,
            room: 1,
            cid: Uuid::from_u128(5),
            body: "typed before reload".into(),
            mentions: vec![],
            files: vec![],
        }]
    );
}

#[test]
fn my_read_mark_from_another_device_clears_unread() {
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    for s in 1..=4 {
        c.handle(ServerFrame::Msg(msg(1, s)), 0);
    }
    assert_eq!(c.room(1).unwrap().summary.as_ref().unwrap().unread(), 4);
    let out = c.handle(
        ServerFrame::Receipt {
            read_n: 3,
            room: 1,
            user: ME,
            delivered: 4,
            read: 3,
        },
        0,
    );
    assert!(out.rooms_changed);
    assert_eq!(c.room(1).unwrap().summary.as_ref().unwrap().unread(), 1);
    let out = c.handle(
        ServerFrame::Receipt {
            read_n: 0,
            room: 1,
            user: 2,
            delivered: 4,
            read: 4,
        },
        0,
    );
    assert!(!out.rooms_changed, "someone else's marks are not my unread");
    c.handle(
        ServerFrame::Receipt {
            read_n: 0,
            room: 1,
            user: ME,
            delivered: 4,
            read: 1,
        },
        0,
    );
    assert_eq!(
        c.room(1).unwrap().summary.as_ref().unwrap().read_seq,
        3,
        "never back"
    );
}

fn reports(out: &Output) -> Vec<ClientFrame> {
    out.frames
        .iter()
        .filter(|f| matches!(f, ClientFrame::Delivered { .. } | ClientFrame::Read { .. }))
        .cloned()
        .collect()
}

#[test]
fn held_messages_are_reported_delivered_a_few_times_a_second() {
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    let out = c.handle(ServerFrame::Msg(msg(1, 1)), 1_000);
    assert_eq!(reports(&out), vec![ClientFrame::Delivered { room: 1, seq: 1 }]);
    let out = c.handle(ServerFrame::Msg(msg(1, 2)), 1_100);
    assert!(reports(&out).is_empty(), "coalesced");
    c.handle(ServerFrame::Msg(msg(1, 4)), 1_150);
    assert_eq!(
        reports(&c.tick(1_400)),
        vec![ClientFrame::Delivered { room: 1, seq: 2 }],
        "up to the gap only"
    );
}

#[test]
fn leaving_the_page_sends_the_owed_read_mark_at_once() {
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    for s in 1..=3 {
        c.handle(ServerFrame::Msg(msg(1, s)), 0);
    }
    c.saw(1, 2, 10_000);
    assert!(reports(&c.saw(1, 3, 10_100)).is_empty(), "coalesced");
    assert_eq!(
        reports(&c.leaving(10_110)),
        vec![ClientFrame::Read { room: 1, seq: 3 }]
    );
    assert!(c.leaving(10_120).frames.is_empty(), "once");
}

#[test]
fn a_report_refused_by_storage_goes_again() {
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    c.handle(ServerFrame::Msg(msg(1, 1)), 0);
    assert_eq!(
        reports(&c.saw(1, 1, 10_000)),
        vec![ClientFrame::Read { room: 1, seq: 1 }]
    );
    assert!(reports(&c.tick(10_500)).is_empty(), "in flight");
    let unavailable = ServerFrame::error(ErrorCode::Unavailable, "storage down", None);
    assert_eq!(
        reports(&c.handle(unavailable, 10_600)),
        vec![ClientFrame::Read { room: 1, seq: 1 }],
        "with the next round of reports"
    );
}

#[test]
fn seeing_a_message_clears_unread_at_once_and_reports_read() {
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    for s in 1..=5 {
        c.handle(ServerFrame::Msg(msg(1, s)), 0);
    }
    let unread = |c: &Client| c.room(1).unwrap().summary.as_ref().unwrap().unread();
    assert_eq!(unread(&c), 5);
    let out = c.saw(1, 3, 10_000);
    assert!(out.rooms_changed);
    assert_eq!(unread(&c), 2);
    assert_eq!(
        reports(&out),
        vec![
            ClientFrame::Read { room: 1, seq: 3 },
            ClientFrame::Delivered { room: 1, seq: 5 }
        ],
        "with the delivered report the arrivals left pending"
    );
    let out = c.saw(1, 2, 10_500);
    assert!(
        !out.rooms_changed && reports(&out).is_empty(),
        "an older one changes nothing"
    );
    assert!(c.saw(1, 5, 10_100).frames.is_empty(), "coalesced");
    assert_eq!(unread(&c), 0);
    assert_eq!(
        reports(&c.tick(10_400)),
        vec![ClientFrame::Read { room: 1, seq: 5 }]
    );
    // A welcome carrying an older read mark (the report was in flight)
    // does not bring the badge back.
    c.disconnected();
    c.connected();
    let out = c.handle(
        ServerFrame::Welcome {
            edit_window_secs: 86_400,
            user: user(),
            rooms: vec![summary(1, 5)],
            contacts: vec![],
            max_body_chars: 4_000,
            blocked: vec![],
        },
        20_000,
    );
    assert_eq!(unread(&c), 0);
    assert_eq!(
        reports(&out),
        vec![ClientFrame::Read { room: 1, seq: 5 }],
        "sent again"
    );
}

#[test]
fn ticks_follow_the_servers_counts_once_the_room_is_watched() {
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    let out = c.watch(1);
    assert_eq!(out.frames, vec![ClientFrame::Members { room: 1 }]);
    assert!(c.watch(1).frames.is_empty(), "one request at a time");
    let mark = |user| crate::protocol::MemberMarks {
        user,
        name: format!("u{user}"),
        delivered: 0,
        read: 0,
    };
    let ticks = |delivered, read, counts: &[(Seq, u32)]| Ticks {
        delivered,
        read,
        of: 2,
        counts: counts
            .iter()
            .map(|&(seq, read)| ReadCount { seq, read })
            .collect(),
    };
    c.handle(
        ServerFrame::Members {
            room: 1,
            members: vec![mark(ME), mark(2), mark(3)],
            ticks: ticks(0, 0, &[]),
            more: false,
        },
        0,
    );
    assert_eq!(c.tick_of(1, 1), Tick::Sent, "not everyone has it");
    let out = c.handle(
        ServerFrame::Ticks {
            room: 1,
            ticks: ticks(1, 0, &[(1, 1)]),
        },
        0,
    );
    assert!(out.changed.contains(&1), "ticks re-render");
    assert_eq!(c.tick_of(1, 1), Tick::Delivered);
    assert_eq!(c.read_count(1, 1), (1, 2));
    // Others' marks are not mine: a receipt about someone else moves nothing.
    let out = c.handle(
        ServerFrame::Receipt {
            read_n: 1,
            room: 1,
            user: 2,
            delivered: 1,
            read: 1,
        },
        0,
    );
    assert!(out.changed.is_empty() && !out.rooms_changed);
    c.handle(
        ServerFrame::Ticks {
            room: 1,
            ticks: ticks(1, 1, &[]),
        },
        0,
    );
    assert_eq!(c.tick_of(1, 1), Tick::Read);
    assert_eq!(c.read_count(1, 1), (2, 2));
    // Who read it comes on demand, a page at a time.
    let first_page = vec![ClientFrame::ReadBy {
        room: 1,
        seq: 1,
        after: None,
    }];
    assert_eq!(c.ask_read_by(1, 1).frames, first_page);
    let named = |user| Named {
        user,
        name: format!("u{user}"),
    };
    let out = c.handle(
        ServerFrame::ReadBy {
            room: 1,
            seq: 1,
            users: vec![named(2)],
            more: true,
        },
        0,
    );
    assert!(out.changed.contains(&1));
    assert_eq!(
        c.ask_read_by(1, 1).frames,
        vec![ClientFrame::ReadBy {
            room: 1,
            seq: 1,
            after: Some(2)
        }]
    );
    c.handle(
        ServerFrame::ReadBy {
            room: 1,
            seq: 1,
            users: vec![named(2), named(3)],
            more: false,
        },
        0,
    );
    let read_by = c.read_by(1, 1).unwrap();
    assert_eq!(read_by.users, vec![named(2), named(3)], "once each");
    assert!(c.ask_read_by(1, 1).frames.is_empty(), "all of them came");
    assert!(c.read_by(1, 2).is_none(), "another message was not asked");
    // Ticks that move while the readers are shown ask for them again.
    let out = c.handle(
        ServerFrame::Ticks {
            room: 1,
            ticks: ticks(2, 1, &[(2, 1)]),
        },
        0,
    );
    assert_eq!(out.frames, first_page);
    c.hide_read_by();
    let out = c.handle(
        ServerFrame::Ticks {
            room: 1,
            ticks: ticks(2, 2, &[]),
        },
        0,
    );
    assert!(out.frames.is_empty(), "not shown: not asked");
    // After a reconnect the members are asked again (marks moved meanwhile).
    c.disconnected();
    c.connected();
    let out = c.handle(
        ServerFrame::Welcome {
            edit_window_secs: 86_400,
            user: user(),
            rooms: vec![summary(1, 0)],
            contacts: vec![],
            max_body_chars: 4_000,
            blocked: vec![],
        },
        0,
    );
    assert!(out.frames.contains(&ClientFrame::Members { room: 1 }));
    // So are they after a resync: receipts were among the frames dropped.
    c.handle(
        ServerFrame::Members {
            room: 1,
            members: vec![],
            ticks: Ticks::default(),
            more: false,
        },
        0,
    );
    let out = c.handle(ServerFrame::Resync { room: Some(1) }, 0);
    assert!(out.frames.contains(&ClientFrame::Members { room: 1 }));
    c.handle(
        ServerFrame::Members {
            room: 1,
            members: vec![],
            ticks: Ticks::default(),
            more: false,
        },
        0,
    );
    // And after a fresh welcome, which a resync of every room asks for.
    assert_eq!(
        sent(&c.handle(ServerFrame::Resync { room: None }, 0)),
        vec![ClientFrame::Hello]
    );
    let out = c.handle(rewelcome(vec![summary(1, 0)], vec![]), 0);
    assert!(out.frames.contains(&ClientFrame::Members { room: 1 }));
}

#[test]
fn ticks_before_the_first_member_list_are_kept_for_it() {
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    c.watch(1);
    let ticks = |delivered, read| Ticks {
        delivered,
        read,
        of: 2,
        counts: vec![],
    };
    // Newer ticks overtake the answer, which was read before them.
    c.handle(
        ServerFrame::Ticks {
            room: 1,
            ticks: ticks(7, 3),
        },
        0,
    );
    c.handle(
        ServerFrame::Ticks {
            room: 1,
            ticks: ticks(5, 4),
        },
        0,
    );
    c.handle(
        ServerFrame::Members {
            room: 1,
            members: vec![],
            ticks: ticks(2, 1),
            more: false,
        },
        0,
    );
    assert_eq!(c.tick_of(1, 4), Tick::Read);
    assert_eq!(c.tick_of(1, 7), Tick::Delivered);
    assert_eq!(c.tick_of(1, 8), Tick::Sent);
}

#[test]
fn in_a_room_of_two_the_others_message_says_they_read_mine_before_it() {
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    c.watch(1);
    c.handle(
        ServerFrame::Members {
            room: 1,
            members: vec![],
            ticks: Ticks {
                of: 1,
                ..Ticks::default()
            },
            more: false,
        },
        0,
    );
    assert_eq!(c.tick_of(1, 1), Tick::Sent);
    let out = c.handle(ServerFrame::Msg(msg(1, 2)), 0);
    assert!(out.changed.contains(&1));
    assert_eq!(c.tick_of(1, 1), Tick::Read, "2 wrote after it");
    assert_eq!(c.tick_of(1, 3), Tick::Sent);
}

#[test]
fn members_asked_again_after_a_resync_or_a_refusal_while_in_flight() {
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    assert_eq!(c.watch(1).frames, vec![ClientFrame::Members { room: 1 }]);
    // The answer may have been read before a receipt the resync stands for.
    let out = c.handle(ServerFrame::Resync { room: Some(1) }, 0);
    assert!(
        !out.frames.contains(&ClientFrame::Members { room: 1 }),
        "one at a time"
    );
    let stale = ServerFrame::Members {
        room: 1,
        members: vec![],
        ticks: Ticks::default(),
        more: false,
    };
    let out = c.handle(stale.clone(), 0);
    assert_eq!(out.frames, vec![ClientFrame::Members { room: 1 }], "asked again");
    let out = c.handle(stale, 0);
    assert!(out.frames.is_empty(), "and only once");
    // A refused request is asked again once the retry delay has passed.
    c.watch(1);
    c.handle(ServerFrame::Resync { room: Some(1) }, 0);
    c.handle(
        ServerFrame::Error {
            code: ErrorCode::Unavailable,
            message: "storage".into(),
            cid: None,
        },
        0,
    );
    assert!(
        !c.tick(1).frames.contains(&ClientFrame::Members { room: 1 }),
        "not at once"
    );
    let out = c.tick(5_000);
    assert!(out.frames.contains(&ClientFrame::Members { room: 1 }));
    assert!(
        !c.tick(10_000).frames.contains(&ClientFrame::Members { room: 1 }),
        "in flight"
    );
}

#[test]
fn a_room_watched_before_it_arrives_asks_for_its_members_when_it_does() {
    let (mut c, _) = welcomed(vec![]);
    assert!(c.watch(9).frames.is_empty(), "not here yet");
    let out = c.handle(ServerFrame::Room(summary(9, 0)), 0);
    assert_eq!(out.frames, vec![ClientFrame::Members { room: 9 }]);
}

#[test]
fn typing_shows_for_others_only_and_clears_when_their_message_arrives() {
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    let typing = |user| ServerFrame::Typing {
        room: 1,
        user,
        name: format!("u{user}"),
    };
    assert!(c.handle(typing(ME), 0).typing.is_empty(), "not my own");
    assert!(c.handle(typing(2), 0).typing.contains(&1));
    assert_eq!(c.typing_names(1), ["u2"]);
    let out = c.handle(ServerFrame::Msg(msg(1, 1)), 1_000);
    assert!(out.typing.contains(&1));
    assert!(c.typing_names(1).is_empty(), "msg() is from user 2");
    c.handle(typing(2), 2_000);
    assert!(c.tick(6_999).typing.is_empty());
    assert!(c.tick(7_000).typing.contains(&1), "gone ~5 s after the last");
    assert!(c.typing_names(1).is_empty());
    assert_eq!(c.typing(1, 0).frames, vec![ClientFrame::Typing { room: 1 }]);
    assert!(c.typing(1, 2_000).frames.is_empty(), "at most every 3 s");
}

#[test]
fn presence_comes_with_the_welcome_and_then_live() {
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    assert!(c.presence(2).is_none());
    let p = |online, last_seen| crate::protocol::Presence {
        user: 2,
        online,
        last_seen,
    };
    let out = c.handle(ServerFrame::Presence(p(true, None)), 0);
    assert!(out.presence_changed);
    assert!(c.presence(2).unwrap().online);
    c.handle(ServerFrame::Presence(p(false, Some(9))), 0);
    assert_eq!(c.presence(2), Some(&p(false, Some(9))));
}

/// Property: whatever order, duplication and loss the network brings, and
/// however often the connection drops, a client that reconnects ends up
/// holding every message exactly once, in seq order, and never holds one
/// that does not exist.
mod properties {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Net {
        /// A live `msg` frame arrives (possibly again, possibly early).
        Live(Seq),
        /// Sync requests start (or stop) being lost.
        ToggleLoss,
        /// The socket drops; the client reconnects and is welcomed.
        Reconnect,
        /// Time passes (retries).
        Tick,
    }

    fn net(max: Seq) -> impl Strategy<Value = Vec<Net>> {
        prop::collection::vec(
            prop_oneof![
                4 => (1..=max).prop_map(Net::Live),
                1 => Just(Net::ToggleLoss),
                1 => Just(Net::Reconnect),
                1 => Just(Net::Tick),
            ],
            0..120,
        )
    }

    /// The server of room 1, holding messages 1..=head: answers the client's
    /// syncs (unless they are lost) until it asks nothing more.
    fn serve(c: &mut Client, mut frames: Vec<ClientFrame>, head: Seq, lose: bool, now: i64) {
        while let Some(frame) = frames.pop() {
            if let ClientFrame::Sync {
                room: 1,
                after,
                limit,
            } = frame
            {
                if lose {
                    continue;
                }
                let upto = (after + Seq::from(limit.unwrap_or(100))).min(head);
                let batch = ServerFrame::Batch {
                    room: 1,
                    msgs: (after + 1..=upto).map(|s| msg(1, s)).collect(),
                    more: upto < head,
                    history: false,
                    hidden: vec![],
                };
                frames.extend(c.handle(batch, now).frames);
            }
        }
    }

    fn welcome(c: &mut Client, head: Seq, now: i64) -> Vec<ClientFrame> {
        c.disconnected();
        c.connected();
        let welcome = ServerFrame::Welcome {
            edit_window_secs: 86_400,
            user: user(),
            rooms: vec![summary(1, head)],
            contacts: vec![],
            max_body_chars: 4_000,
            blocked: vec![],
        };
        c.handle(welcome, now).frames
    }

    proptest! {
        #[test]
        fn every_message_once_in_order_whatever_the_network_does(head in 1i64..60, events in net(70)) {
            let (mut c, _) = welcomed(vec![summary(1, 0)]);
            let (mut now, mut lose) = (0, false);
            for event in events {
                now += 700;
                let frames = match event {
                    Net::Live(s) if s <= head => c.handle(ServerFrame::Msg(msg(1, s)), now).frames,
                    Net::Live(_) => Vec::new(),
                    Net::ToggleLoss => {
                        lose = !lose;
                        Vec::new()
                    }
                    Net::Reconnect => welcome(&mut c, head, now),
                    Net::Tick => c.tick(now).frames,
                };
                serve(&mut c, frames, head, lose, now);
                let held = &c.room(1).unwrap().msgs;
                prop_assert!(held.keys().all(|s| (1..=head).contains(s)), "only messages that exist");
                let intact = held.iter().all(|(s, m)| m.seq == *s && m.body == format!("m{}", s));
                prop_assert!(intact, "each held message is the one with its seq");
            }
            // The network heals: one more reconnect, and the client catches up.
            let frames = welcome(&mut c, head, now + 1_000);
            serve(&mut c, frames, head, false, now + 1_000);
            for i in 2..20 {
                let frames = c.tick(now + i * 10_000).frames;
                serve(&mut c, frames, head, false, now + i * 10_000);
            }
            let seqs: Vec<Seq> = c.room(1).unwrap().msgs.keys().copied().collect();
            prop_assert_eq!(seqs, (1..=head).collect::<Vec<_>>());
        }

        #[test]
        fn any_text_decodes_to_a_frame_or_an_error_never_a_panic(
            text in ".{0,200}",
            almost in r#"\{"t":"(send|sync|history|read|delivered|typing|members|hello|ping|x)"(,"(room|after|before|seq|limit|cid|body)":(-?[0-9]{1,22}|"[^"]{0,40}"|null|\[\]|\{\}|true))*\}"#,
        ) {
            let _ = serde_json::from_str::<ClientFrame>(&text);
            let _ = serde_json::from_str::<ClientFrame>(&almost);
        }

        #[test]
        fn frames_survive_encoding(room in any::<i64>(), after in any::<i64>(), body in ".{0,50}", cid in any::<u128>()) {
            for frame in [
                ClientFrame::Sync { room, after, limit: None },
                ClientFrame::Send { room, cid: Uuid::from_u128(cid), body: body.clone(), reply_to: Some(after), mentions: vec![], files: vec![] },
                ClientFrame::Edit { room, cid: Uuid::from_u128(cid), target: after, body: body.clone(), mentions: vec![] },
                ClientFrame::Read { room, seq: after },
                ClientFrame::Typing { room },
            ] {
                let text = serde_json::to_string(&frame).unwrap();
                prop_assert_eq!(serde_json::from_str::<ClientFrame>(&text).unwrap(), frame);
            }
        }
    }
}

/// The server side of `no_request_is_left_in_flight_…`: each room's
/// messages 1..=head, answering requests as the real one does.
struct Server {
    heads: BTreeMap<RoomId, Seq>,
}

impl Server {
    fn answer(&self, frame: &ClientFrame) -> Option<ServerFrame> {
        let page = 7; // small pages: more of them, more interleavings
        Some(match *frame {
            ClientFrame::Hello => ServerFrame::Welcome {
                edit_window_secs: 86_400,
                user: user(),
                rooms: self.heads.iter().map(|(&id, &head)| summary(id, head)).collect(),
                contacts: vec![],
                max_body_chars: 4_000,
                blocked: vec![],
            },
            ClientFrame::Sync { room, after, .. } => {
                let head = self.heads[&room];
                let end = head.min(after + page);
                ServerFrame::Batch {
                    room,
                    msgs: (after + 1..=end).map(|s| msg(room, s)).collect(),
                    more: end - after == page,
                    history: false,
                    hidden: vec![],
                }
            }
            ClientFrame::History { room, before, .. } => {
                let start = (before - page).max(1);
                ServerFrame::Batch {
                    room,
                    msgs: (start..before).map(|s| msg(room, s)).collect(),
                    more: start > 1,
                    history: true,
                    hidden: vec![],
                }
            }
            ClientFrame::Members { room } => ServerFrame::Members {
                room,
                members: vec![],
                ticks: Ticks::default(),
                more: false,
            },
            _ => return None,
        })
    }
}

/// Any interleaving of answers, refusals, resyncs, live messages, gaps,
/// ticks, history requests and lost connections leaves no request stuck in
/// flight: once the server answers everything again, the client ends with
/// every request idle and every timeline whole (a property test over
/// seeded random runs).
#[test]
fn no_request_is_left_in_flight_whatever_happens_to_the_answers() {
    for seed in 1..=300u64 {
        let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut next = |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        let mut server = Server {
            heads: [(1, 20), (2, 3), (3, 0)].into_iter().collect(),
        };
        let mut now = 0;
        let mut c = Client::new(Config::default());
        // Requests sent and not answered yet, oldest first.
        let mut pending: std::collections::VecDeque<ClientFrame> = c.connected().frames.into();
        let keep = |out: Output, pending: &mut std::collections::VecDeque<ClientFrame>| {
            pending.extend(out.frames.into_iter().filter(|f| {
                matches!(
                    f,
                    ClientFrame::Hello
                        | ClientFrame::Sync { .. }
                        | ClientFrame::History { .. }
                        | ClientFrame::Members { .. }
                )
            }));
        };
        for _ in 0..80 {
            let room = 1 + next(3) as RoomId;
            let out = match next(9) {
                // The oldest request is answered.
                0 | 1 => match pending.pop_front().and_then(|f| server.answer(&f)) {
                    Some(answer) => c.handle(answer, now),
                    None => Output::default(),
                },
                // …or refused (storage unavailable, or too fast).
                2 => {
                    pending.pop_front();
                    c.handle(ServerFrame::error(ErrorCode::Unavailable, "down", None), now)
                }
                3 => c.handle(
                    ServerFrame::Resync {
                        room: (next(2) == 0).then_some(room),
                    },
                    now,
                ),
                // A message is stored; its live frame arrives, or the
                // connection's queue overflowed and it was dropped: then the
                // server says `resync` (of the room, or of everything).
                4 => {
                    let head = server.heads.get_mut(&room).expect("room");
                    *head += 1;
                    let m = msg(room, *head);
                    match next(3) {
                        0 => c.handle(ServerFrame::Resync { room: Some(room) }, now),
                        1 => c.handle(ServerFrame::Resync { room: None }, now),
                        _ => c.handle(ServerFrame::Msg(m), now),
                    }
                }
                5 => {
                    now += 500 + next(3_000) as i64;
                    c.tick(now)
                }
                6 => c.load_older(room),
                7 => c.watch(room),
                // The connection is lost with every answer on its way.
                _ => {
                    c.disconnected();
                    pending.clear();
                    c.connected()
                }
            };
            keep(out, &mut pending);
        }
        // The network heals: everything asked is answered, time passes.
        for _ in 0..500 {
            if pending.is_empty() {
                now += 5_000;
                let out = c.tick(now);
                keep(out, &mut pending);
                if pending.is_empty() {
                    break;
                }
            }
            if let Some(answer) = pending.pop_front().and_then(|f| server.answer(&f)) {
                let out = c.handle(answer, now);
                keep(out, &mut pending);
            }
        }
        assert!(
            pending.is_empty(),
            "seed {seed}: the client keeps asking: {pending:?}"
        );
        assert_eq!(c.refresh, Request::Idle, "seed {seed}: refresh");
        for (&id, r) in c.rooms() {
            let state = (r.sync, r.members, r.history);
            assert_eq!(
                state,
                (Request::Idle, Request::Idle, Request::Idle),
                "seed {seed}: room {id}"
            );
            assert_eq!(
                (r.last, r.head()),
                (server.heads[&id], server.heads[&id]),
                "seed {seed}: room {id} whole"
            );
        }
    }
}

/// Found by the property test above: a `hello` answered `unavailable` (the
/// server could not read the rooms) left the client unwelcomed on a live
/// connection for good.
#[test]
fn a_hello_refused_at_connect_is_asked_again_after_a_while() {
    let mut c = Client::new(Config::default());
    assert_eq!(c.connected().frames, vec![ClientFrame::Hello]);
    let out = c.handle(ServerFrame::error(ErrorCode::Unavailable, "down", None), 0);
    assert!(sent(&out).is_empty());
    assert!(sent(&c.tick(1)).is_empty(), "not at once");
    let later = c.config.retry_first_ms.min(2_000);
    assert_eq!(sent(&c.tick(later)), vec![ClientFrame::Hello]);
    assert!(sent(&c.tick(later + 10_000)).is_empty(), "one at a time");
    let out = c.handle(
        ServerFrame::Welcome {
            edit_window_secs: 86_400,
            user: user(),
            rooms: vec![summary(1, 2)],
            contacts: vec![],
            max_body_chars: 4_000,
            blocked: vec![],
        },
        later + 10_000,
    );
    assert!(c.is_welcomed());
    assert!(sent(&out).contains(&ClientFrame::Sync {
        room: 1,
        after: 0,
        limit: None
    }));
}

/// A room row from member 2 (the owner) carrying `change`.
fn room_row(room: RoomId, seq: Seq, change: crate::groups::Change) -> Message {
    Message {
        kind: crate::model::Kind::Room,
        n: 0,
        change: Some(change),
        body: String::new(),
        ..msg(room, seq)
    }
}

#[test]
fn room_rows_rename_count_and_cut_me_off_in_order() {
    use crate::groups::Change;
    use crate::model::Role;
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    let ben = User {
        id: 3,
        handle: "ben".into(),
        display_name: "Ben".into(),
    };
    c.handle(ServerFrame::Msg(msg(1, 1)), 0);
    let renamed = room_row(1, 2, Change::Renamed { name: "Trip".into() });
    let out = c.handle(ServerFrame::Msg(renamed), 0);
    assert!(out.changed.contains(&1));
    let s = |c: &Client| c.room(1).unwrap().summary.clone().unwrap();
    assert_eq!((s(&c).name.as_str(), s(&c).changed), ("Trip", 2));
    // A summary read before the rename does not undo it.
    c.handle(ServerFrame::Room(summary(1, 1)), 0);
    assert_eq!(s(&c).name, "Trip");
    c.handle(
        ServerFrame::Msg(room_row(
            1,
            3,
            Change::Added {
                users: vec![ben.clone()],
                count: 1,
            },
        )),
        0,
    );
    c.handle(
        ServerFrame::Msg(room_row(
            1,
            4,
            Change::Role {
                user: user(),
                role: Role::Admin,
            },
        )),
        0,
    );
    assert_eq!((s(&c).member_count, s(&c).role), (3, Role::Admin));
    assert_eq!(s(&c).unread(), 1, "room rows are never unread");

    // Removed: the room is read-only, nothing is reported for it any more.
    let out = c.handle(
        ServerFrame::Msg(room_row(1, 5, Change::Removed { user: user() })),
        1_000_000,
    );
    assert!(s(&c).left && s(&c).member_count == 2);
    assert!(
        !out.frames
            .iter()
            .any(|f| matches!(f, ClientFrame::Delivered { room: 1, .. })),
        "{:?}",
        out.frames
    );
    let out = c.saw(1, 5, 2_000_000);
    assert!(out.frames.is_empty(), "{:?}", out.frames);
    assert!(c.typing(1, 3_000_000).frames.is_empty());
}

#[test]
fn an_erased_account_shows_its_held_messages_deleted_and_counts_them_no_more() {
    use crate::groups::Change;
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    c.handle(ServerFrame::Msg(msg(1, 1)), 0);
    let mine = Message {
        sender: ME,
        reply_to: Some(1),
        quoted: Some(crate::events::quote(&msg(1, 1))),
        ..msg(1, 2)
    };
    c.handle(ServerFrame::Msg(mine), 0);
    c.handle(ServerFrame::Msg(msg(1, 3)), 0);
    let s = |c: &Client| c.room(1).unwrap().summary.clone().unwrap();
    assert_eq!(s(&c).unread(), 1, "mine read the first");
    let gone = User {
        id: 2,
        handle: "_deleted_2".into(),
        display_name: crate::model::DELETED_ACCOUNT.into(),
    };
    let row = room_row(
        1,
        4,
        Change::Profile {
            user: gone,
            was: "Other".into(),
            status: String::new(),
            avatar: None,
            deleted: true,
            erased: true,
        },
    );
    let out = c.handle(ServerFrame::Msg(row), 0);
    assert!(out.changed.contains(&1));
    let room = c.room(1).unwrap();
    let held = |seq: Seq| room.msgs.get(&seq).unwrap().clone();
    assert!(held(1).deleted && held(1).body.is_empty());
    assert!(held(3).deleted && held(3).body.is_empty());
    assert!(!held(2).deleted, "mine stay");
    assert!(
        held(2)
            .quoted
            .as_ref()
            .is_some_and(|q| q.deleted && q.body.is_empty()),
        "the quote goes too"
    );
    assert_eq!(s(&c).unread(), 0, "erased messages are unread no more");
}

#[test]
fn a_restored_room_resumes_from_its_kept_last_after_welcome() {
    let (mut c, _) = welcomed(vec![summary(1, 0), summary(2, 0)]);
    c.handle(batch(1, 1..=8, false), 0);
    c.handle(ServerFrame::Room(summary(2, 300)), 0);
    let kept = vec![c.saved_room(1, 5).unwrap(), c.saved_room(2, 0).unwrap()];
    assert_eq!(
        kept[0].rows.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![4, 5, 6, 7, 8]
    );

    let mut back = Client::new(Config {
        initial_window: Some(50),
        ..Config::default()
    });
    let out = back.restore(Some(user()), kept);
    assert!(out.rooms_changed && out.changed.contains(&1));
    assert!(out.frames.is_empty(), "nothing is asked before a connection");
    assert_eq!(seqs(&back, 1), vec![4, 5, 6, 7, 8]);
    assert!(
        !back.room(1).unwrap().history_done,
        "older pages come from the server"
    );
    assert_eq!(
        back.room(2).unwrap().last,
        250,
        "a room only listed starts a window back"
    );

    // The server moved on meanwhile: a room kept with its rows is synced
    // from where it was kept; one only listed (its head kept older) starts
    // a window back from the head known now.
    back.connected();
    let out = back.handle(
        ServerFrame::Welcome {
            edit_window_secs: 86_400,
            user: user(),
            rooms: vec![summary(1, 12), summary(2, 1_000)],
            contacts: vec![],
            max_body_chars: 4_000,
            blocked: vec![],
        },
        0,
    );
    assert_eq!(
        sent(&out),
        vec![
            ClientFrame::Sync {
                room: 1,
                after: 8,
                limit: None
            },
            ClientFrame::Sync {
                room: 2,
                after: 950,
                limit: None
            },
        ]
    );
}

#[test]
fn nothing_is_restored_over_what_the_server_sent() {
    let (mut c, _) = welcomed(vec![summary(1, 0)]);
    c.handle(batch(1, 1..=3, false), 0);
    let kept = vec![c.saved_room(1, 10).unwrap()];
    let (mut live, _) = welcomed(vec![summary(1, 9)]);
    assert_eq!(live.restore(Some(user()), kept), Output::default());
    assert!(seqs(&live, 1).is_empty());
}

/// The Send frames of a step, by cid.
fn sends(out: &Output) -> Vec<Uuid> {
    out.frames
        .iter()
        .filter_map(|f| match f {
            ClientFrame::Send { cid, .. } => Some(*cid),
            _ => None,
        })
        .collect()
}

#[test]
fn of_two_tabs_only_the_sending_one_sends_and_the_other_shows_the_message_until_it_is_acked() {
    let (mut leader, _) = welcomed(vec![summary(1, 0)]);
    let (mut other, _) = welcomed(vec![summary(1, 0)]);
    assert!(other.set_sending(false, 0).frames.is_empty());
    let cid = Uuid::from_u128(77);
    let out = other.send(1, cid, "from the other tab".into(), 0);
    assert!(
        sends(&out).is_empty() && out.outbox_changed,
        "kept for the sending tab"
    );
    assert!(sends(&other.tick(60_000)).is_empty(), "never retransmitted here");
    let entry = other.outbox()[0].clone();

    let out = leader.outbox_elsewhere(cid, Some(entry.clone()), 0);
    assert_eq!(sends(&out), vec![cid]);
    assert!(
        sends(&leader.outbox_elsewhere(cid, Some(entry), 1)).is_empty(),
        "heard twice, sent once"
    );
    // The message reached the other tab first, which dropped the entry: the
    // sending tab keeps it for its ack, which puts the message in its timeline.
    assert!(leader.outbox_elsewhere(cid, None, 2).changed.is_empty());
    let ack = ServerFrame::Ack {
        n: 1,
        fmt: None,
        files: vec![],
        cid,
        room: 1,
        seq: 1,
        id: Uuid::from_u128(9),
        ts: 7,
    };
    assert!(leader.handle(ack, 2).outbox_changed);
    assert_eq!(seqs(&leader, 1), vec![1]);
    assert!(leader.outbox().is_empty());
    // The sending tab dropped it from the device's outbox: gone here too.
    let out = other.outbox_elsewhere(cid, None, 3);
    assert!(out.changed.contains(&1) && other.outbox().is_empty());
}

#[test]
fn the_tab_that_takes_over_sends_what_waits_and_follows_failures_and_retries() {
    let (mut other, _) = welcomed(vec![summary(1, 0)]);
    other.set_sending(false, 0);
    let cid = Uuid::from_u128(78);
    other.send(1, cid, "waiting".into(), 0);
    // The sending tab was closed: this one sends now.
    assert_eq!(sends(&other.set_sending(true, 5)), vec![cid]);

    let (mut leader, _) = welcomed(vec![summary(1, 0)]);
    let mut failed = other.outbox()[0].clone();
    failed.failed = Some("not a member".into());
    other.set_sending(false, 6);
    let out = other.outbox_elsewhere(cid, Some(failed.clone()), 6);
    assert_eq!(other.outbox()[0].tick(), Tick::Failed("not a member".into()));
    assert!(out.changed.contains(&1));
    // Retried in this tab: the sending tab hears it and sends it again.
    leader.outbox_elsewhere(cid, Some(failed), 7);
    assert!(sends(&other.retry(cid, 8)).is_empty());
    let retried = other.outbox()[0].clone();
    assert_eq!(sends(&leader.outbox_elsewhere(cid, Some(retried), 9)), vec![cid]);
}
