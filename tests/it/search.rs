//! Search through its real surface, on SQLite and on PostgreSQL: messages
//! sent, edited and deleted over the WebSocket, found (or not) with
//! `/api/search`; Korean words inside longer eojeol, phrases, prefixes,
//! the filters, the searcher's rooms only, and what a person may type.

use chat::model::{RoomSummary, SearchHit, SearchPage};
use chat::protocol::{ClientFrame, Seq, ServerFrame};
use chat::server::Config;
use serde_json::json;
use sqlx::Connection;
use uuid::Uuid;

use crate::common::{self, api, api_status, sign_up, ws::connect, ws::Ws, TestServer};
use crate::ws::{ack, send};

/// A server on SQLite, and one on PostgreSQL when this machine has it,
/// each with the URL of its database.
async fn servers() -> Vec<(TestServer, String, Option<tempfile::TempDir>)> {
    let (url, dir) = common::sqlite_url();
    let mut out = vec![(start(&url).await, url, Some(dir))];
    if let Some(pg) = common::postgres_url().await {
        out.push((start(&pg).await, pg, None));
    }
    out
}

async fn start(url: &str) -> TestServer {
    let mut config = Config::for_database(url);
    (config.send_rate, config.send_burst) = (100_000, 100_000);
    (config.search_rate, config.search_burst) = (100_000, 100_000);
    config.groups_per_hour = 1_000;
    TestServer::start(config).await
}

async fn search(server: &TestServer, cookie: &str, query: &str) -> Vec<SearchHit> {
    search_in(server, cookie, query, None).await.hits
}

async fn search_in(server: &TestServer, cookie: &str, query: &str, room: Option<i64>) -> SearchPage {
    api(
        server,
        cookie,
        "search",
        json!({"query": query, "room": room, "next": null, "offset_min": 0}),
    )
    .await
}

/// Every hit of `query`, a page after another, as they come.
async fn every_page(server: &TestServer, cookie: &str, query: &str) -> Vec<SearchHit> {
    let mut hits = Vec::new();
    let mut next = None;
    loop {
        let page: SearchPage = api(
            server,
            cookie,
            "search",
            json!({"query": query, "room": null, "next": next, "offset_min": 0}),
        )
        .await;
        hits.extend(page.hits);
        next = page.next;
        if next.is_none() {
            return hits;
        }
    }
}

/// Why a search cannot be made, as the server says it.
async fn problem(server: &TestServer, cookie: &str, query: &str) -> String {
    let page = search_in(server, cookie, query, None).await;
    assert!(page.hits.is_empty(), "{query}");
    page.problem.unwrap_or_else(|| panic!("{query}: no problem"))
}

/// The bodies' seqs a search finds, newest first.
async fn found(server: &TestServer, cookie: &str, query: &str) -> Vec<Seq> {
    search(server, cookie, query)
        .await
        .iter()
        .map(|h| h.seq)
        .collect()
}

/// Sends `body` and waits for its ack: its seq.
async fn say(ws: &mut Ws, room: i64, body: &str) -> Seq {
    let cid = Uuid::new_v4();
    ws.send(&send(room, cid, body)).await;
    match ack(ws, cid).await {
        ServerFrame::Ack { seq, .. } => seq,
        other => panic!("{body}: {other:?}"),
    }
}

async fn change(ws: &mut Ws, frame: ClientFrame, cid: Uuid) {
    ws.send(&frame).await;
    assert!(matches!(ack(ws, cid).await, ServerFrame::Ack { .. }));
}

async fn pair(server: &TestServer, a: &str, b: &str, name: &str) -> ((String, String), RoomSummary) {
    let (_, ca) = sign_up(server, a).await;
    let (_, cb) = sign_up(server, b).await;
    let room = api(server, &ca, "create_group", json!({"name": name, "members": [b]})).await;
    ((ca, cb), room)
}

#[tokio::test]
async fn korean_words_are_found_inside_longer_words_with_highlights() {
    for (server, _, _dir) in servers().await {
        let ((ann, bob), room) = pair(&server, "ann", "bob", "팀").await;
        let (mut ws, _) = connect(&server, &ann).await;
        let r = room.id;
        let meeting = say(&mut ws, r, "내일회의는 3시에 합니다").await;
        let minutes = say(&mut ws, r, "회의록 공유했어요").await;
        let rust = say(&mut ws, r, "Rust로 만든 채팅").await;
        let english = say(&mut ws, r, "The meeting is tomorrow").await;
        let plural = say(&mut ws, r, "Meetings and meetups").await;
        let tokyo = say(&mut ws, r, "東京タワーで会いましょう").await;
        let wide = say(&mut ws, r, "ＦＵＬＬ width").await;
        for (query, want) in [
            ("회의", vec![minutes, meeting]),
            ("내일회의", vec![meeting]),
            ("일회의", vec![meeting]),
            ("회의는", vec![meeting]),
            ("회의록", vec![minutes]),
            ("회의 3시", vec![meeting]),
            ("\"회의 3시\"", vec![]),
            ("\"회의는 3시에\"", vec![meeting]),
            ("meet", vec![plural, english]),
            ("MEETING", vec![plural, english]),
            ("\"meeting is\"", vec![english]),
            ("\"meeting\"", vec![english]),
            ("tomorrow meeting", vec![english]),
            ("rust", vec![rust]),
            ("Rust로", vec![rust]),
            ("로", vec![rust]),
            ("タワー", vec![tokyo]),
            ("東京", vec![tokyo]),
            ("full", vec![wide]),
            ("회의실", vec![]),
            ("zebra", vec![]),
        ] {
            assert_eq!(found(&server, &bob, query).await, want, "{query}");
        }
        let hit = &search(&server, &bob, "회의").await[1];
        let marked: Vec<(&str, bool)> = hit.parts.iter().map(|p| (p.text.as_str(), p.hit)).collect();
        assert_eq!(
            marked,
            [("내일", false), ("회의", true), ("는 3시에 합니다", false)]
        );
        assert_eq!((hit.room, hit.seq), (r, meeting));
        assert!(!hit.from.is_empty());
    }
}

#[tokio::test]
async fn an_edit_is_found_by_its_new_words_and_a_delete_by_none() {
    for (server, _, _dir) in servers().await {
        let ((ann, bob), room) = pair(&server, "ann", "bob", "lunch").await;
        let (mut ws, _) = connect(&server, &ann).await;
        let r = room.id;
        let seq = say(&mut ws, r, "회의록 초안").await;
        let cid = Uuid::new_v4();
        let edit = ClientFrame::Edit {
            room: r,
            cid,
            target: seq,
            body: "점심 메뉴 정했어요".into(),
            mentions: vec![],
        };
        change(&mut ws, edit, cid).await;
        assert_eq!(
            found(&server, &bob, "회의록").await,
            Vec::<Seq>::new(),
            "the old words are gone"
        );
        assert_eq!(found(&server, &bob, "점심").await, vec![seq]);
        let cid = Uuid::new_v4();
        // A reaction changes the message but not its words.
        let react = ClientFrame::React {
            room: r,
            cid,
            target: seq,
            emoji: "👍".into(),
        };
        change(&mut ws, react, cid).await;
        assert_eq!(found(&server, &bob, "메뉴").await, vec![seq]);
        let cid = Uuid::new_v4();
        change(
            &mut ws,
            ClientFrame::Delete {
                room: r,
                cid,
                target: seq,
            },
            cid,
        )
        .await;
        for query in ["점심", "회의록", "from:@ann"] {
            assert_eq!(found(&server, &bob, query).await, Vec::<Seq>::new(), "{query}");
        }
    }
}

#[tokio::test]
async fn only_the_searchers_rooms_are_searched_even_after_leaving() {
    for (server, url, _dir) in servers().await {
        let ((ann, bob), ours) = pair(&server, "ann", "bob", "ours").await;
        let ((cat, _dan), theirs) = pair(&server, "cat", "dan", "theirs").await;
        let (mut wa, _) = connect(&server, &ann).await;
        let (mut wc, _) = connect(&server, &cat).await;
        let mine = say(&mut wa, ours.id, "비밀 회의 secret plan").await;
        let other = say(&mut wc, theirs.id, "비밀 회의 secret plan").await;
        assert_eq!(found(&server, &bob, "비밀").await, vec![mine]);
        assert_eq!(found(&server, &cat, "secret plan").await, vec![other]);
        // Naming a room one is not in finds nothing, as an unknown one does.
        for room in [theirs.id, 9_999] {
            assert!(search_in(&server, &bob, "비밀", Some(room)).await.hits.is_empty());
        }
        assert_eq!(
            problem(&server, &bob, "in:theirs 비밀").await,
            "None of your rooms is called “theirs”."
        );
        // Bob leaves (as the rooms issue's "leave" will: his membership goes).
        leave(&url, ours.id, "bob").await;
        assert!(
            found(&server, &bob, "비밀").await.is_empty(),
            "nothing of a room after leaving it"
        );
        assert_eq!(found(&server, &ann, "비밀").await, vec![mine]);
    }
}

async fn leave(url: &str, room: i64, handle: &str) {
    let sql = "DELETE FROM members WHERE room_id = $1 AND user_id = (SELECT id FROM users WHERE handle = $2)";
    if url.starts_with("sqlite:") {
        let mut db = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(sql)
            .bind(room)
            .bind(handle)
            .execute(&mut db)
            .await
            .unwrap();
    } else {
        let mut db = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(sql)
            .bind(room)
            .bind(handle)
            .execute(&mut db)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn filters_narrow_by_sender_room_date_and_files() {
    for (server, _, _dir) in servers().await {
        let ((ann, bob), team) = pair(&server, "ann", "bob", "Team chat").await;
        let other: RoomSummary = api(
            &server,
            &ann,
            "create_group",
            json!({"name": "Other", "members": ["bob"]}),
        )
        .await;
        let (mut wa, _) = connect(&server, &ann).await;
        let (mut wb, _) = connect(&server, &bob).await;
        let a1 = say(&mut wa, team.id, "release notes draft").await;
        let b1 = say(&mut wb, team.id, "release party").await;
        let o1 = say(&mut wa, other.id, "release elsewhere").await;
        let file = crate::files::upload(
            &server,
            &ann,
            "release-checklist.pdf",
            &crate::files::pdf(2_000),
            4096,
        )
        .await
        .unwrap();
        let cid = Uuid::new_v4();
        let with_file = ClientFrame::Send {
            room: team.id,
            cid,
            body: String::new(),
            reply_to: None,
            mentions: vec![],
            files: vec![file],
        };
        wa.send(&with_file).await;
        let ServerFrame::Ack { seq: f1, .. } = ack(&mut wa, cid).await else {
            panic!("file message refused")
        };
        let seqs = |hits: Vec<SearchHit>| hits.iter().map(|h| (h.room, h.seq)).collect::<Vec<_>>();
        let (t, o) = (team.id, other.id);
        assert_eq!(seqs(search(&server, &bob, "release").await).len(), 4);
        assert_eq!(
            seqs(search(&server, &bob, "release from:@ann").await),
            [(t, f1), (o, o1), (t, a1)]
        );
        assert_eq!(seqs(search(&server, &bob, "from:bob").await), [(t, b1)]);
        assert_eq!(
            seqs(search(&server, &bob, "release in:\"team chat\"").await),
            [(t, f1), (t, b1), (t, a1)]
        );
        assert_eq!(seqs(search(&server, &bob, "release has:file").await), [(t, f1)]);
        assert_eq!(
            seqs(search(&server, &bob, "checklist").await),
            [(t, f1)],
            "found by its file's name"
        );
        assert_eq!(
            seqs(search_in(&server, &bob, "release", Some(o)).await.hits),
            [(o, o1)]
        );
        assert!(search(&server, &bob, "release before:2000-01-01")
            .await
            .is_empty());
        assert_eq!(search(&server, &bob, "release after:2000-01-01").await.len(), 4);
        assert!(search(&server, &bob, "release after:2999-01-01").await.is_empty());
        assert_eq!(
            problem(&server, &bob, "from:@nobody x").await,
            "No one has the handle @nobody."
        );
    }
}

#[tokio::test]
async fn results_come_newest_first_a_page_at_a_time() {
    for (server, _, _dir) in servers().await {
        let ((ann, bob), room) = pair(&server, "ann", "bob", "many").await;
        let (mut ws, _) = connect(&server, &ann).await;
        let mut sent = Vec::new();
        for i in 0..45 {
            sent.push(say(&mut ws, room.id, &format!("견적서 번호 {i}")).await);
        }
        let seen: Vec<Seq> = every_page(&server, &bob, "견적")
            .await
            .iter()
            .map(|h| h.seq)
            .collect();
        sent.reverse();
        assert_eq!(seen, sent);
    }
}

/// Someone in more rooms than one query names (`ROOMS_PER_QUERY`) finds
/// every room's messages, newest first across them, each once.
#[tokio::test]
async fn someone_in_many_rooms_finds_them_all_newest_first() {
    for (server, _, _dir) in servers().await {
        let ((ann, bob), first) = pair(&server, "ann", "bob", "room 0").await;
        let mut rooms = vec![first.id];
        for i in 1..40 {
            let room: RoomSummary = api(
                &server,
                &ann,
                "create_group",
                json!({"name": format!("room {i}"), "members": ["bob"]}),
            )
            .await;
            rooms.push(room.id);
        }
        let (mut ws, _) = connect(&server, &ann).await;
        let mut sent = std::collections::HashSet::new();
        for round in 0..2 {
            for &room in &rooms {
                sent.insert((room, say(&mut ws, room, &format!("견적서 {round}")).await));
            }
        }
        let seen: Vec<(i64, i64, Seq)> = every_page(&server, &bob, "견적")
            .await
            .iter()
            .map(|h| (h.ts, h.room, h.seq))
            .collect();
        assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first, each once");
        let found: std::collections::HashSet<(i64, Seq)> = seen.iter().map(|&(_, r, s)| (r, s)).collect();
        assert_eq!(found, sent);
    }
}

#[tokio::test]
async fn whatever_a_person_types_gets_results_or_a_reason() {
    for (server, _, _dir) in servers().await {
        let ((ann, _), room) = pair(&server, "ann", "bob", "syntax").await;
        let (mut ws, _) = connect(&server, &ann).await;
        let seq = say(
            &mut ws,
            room.id,
            "C++ (and NEAR) \"quotes\" col:umn -minus 'tick' back\\slash",
        )
        .await;
        for query in [
            "c++",
            "(and",
            "NEAR(a b)",
            "near",
            "\"quotes",
            "col:umn",
            "-minus",
            "'tick'",
            "back\\slash",
            "a* OR b",
            "AND",
            "NOT x",
            "*",
            "\"",
            "^x",
            "{x}",
            "[x]",
            "x:",
            "회의*",
            "'); DROP TABLE messages; --",
        ] {
            let status = api_status(&server, &ann, "search", json!({"query": query, "offset_min": 0})).await;
            assert_eq!(status, 200, "{query}");
        }
        for query in [
            "c++",
            "NEAR",
            "\"quotes\"",
            "col:umn",
            "-minus",
            "'tick'",
            "back\\slash",
            "back slash",
        ] {
            assert_eq!(found(&server, &ann, query).await, vec![seq], "{query}");
        }
        for (query, why) in [
            ("", "Type a word to search for."),
            ("   ", "Type a word to search for."),
            ("*** ()", "Type a word to search for."),
            (
                "has:link x",
                "has: takes \"file\" (has:file finds messages with files).",
            ),
            (
                "before:tomorrow x",
                "before: takes a date such as before:2026-12-31.",
            ),
            (&"가".repeat(300), "A search is at most 256 characters."),
        ] {
            assert_eq!(problem(&server, &ann, query).await, why, "{query}");
        }
        assert!(
            search(&server, &ann, "가").await.is_empty(),
            "one syllable: a search, found nothing"
        );
        let status = api_status(
            &server,
            "chat_session=nope",
            "search",
            json!({"query": "x", "offset_min": 0}),
        )
        .await;
        assert_eq!(status, 401);
    }
}

#[tokio::test]
async fn messages_stored_before_the_index_are_indexed_at_start() {
    for (server, url, _dir) in servers().await {
        let ((ann, bob), room) = pair(&server, "ann", "bob", "old").await;
        let (mut ws, _) = connect(&server, &ann).await;
        let kept = say(&mut ws, room.id, "오래된 메시지 old message").await;
        let gone = say(&mut ws, room.id, "오래된 삭제 old deleted").await;
        let cid = Uuid::new_v4();
        change(
            &mut ws,
            ClientFrame::Delete {
                room: room.id,
                cid,
                target: gone,
            },
            cid,
        )
        .await;
        drop(ws);
        server.shut_down().await;
        // As a database from before the index: no documents, every message to do.
        let sql = [
            "DELETE FROM search",
            "INSERT INTO search_todo (room_id, seq) SELECT room_id, seq FROM messages WHERE kind = 'message'",
        ];
        if url.starts_with("sqlite:") {
            let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
            for s in sql {
                sqlx::query(s).execute(&mut db).await.unwrap();
            }
        } else {
            let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
            for s in sql {
                sqlx::query(s).execute(&mut db).await.unwrap();
            }
        }
        let server = start(&url).await;
        let mut hits = Vec::new();
        for _ in 0..100 {
            hits = found(&server, &bob, "오래된").await;
            if !hits.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(hits, vec![kept], "the deleted one stays out");
        assert_eq!(found(&server, &bob, "old").await, vec![kept]);
    }
}

#[tokio::test]
async fn searches_are_limited_per_person() {
    let (url, _dir) = common::sqlite_url();
    let mut config = Config::for_database(&url);
    (config.search_rate, config.search_burst) = (1, 3);
    let server = TestServer::start(config).await;
    let (_, ann) = sign_up(&server, "ann").await;
    let (_, bob) = sign_up(&server, "bob").await;
    let body = json!({"query": "x", "offset_min": 0});
    for _ in 0..3 {
        assert_eq!(api_status(&server, &ann, "search", body.clone()).await, 200);
    }
    assert_eq!(api_status(&server, &ann, "search", body.clone()).await, 429);
    assert_eq!(
        api_status(&server, &bob, "search", body).await,
        200,
        "another person's allowance is theirs"
    );
}
