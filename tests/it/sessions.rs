//! One's own sessions through the real surface, on SQLite and PostgreSQL:
//! listed with where they log in from, ended one by one or all but this
//! one, and a changed password ending the others; an ended session's open
//! socket is told `unauthenticated` and closed at once, on this node and
//! on another (the cluster shape).

use chat::error::ApiError;
use chat::model::SessionInfo;
use chat::protocol::{ErrorCode, ServerFrame};
use chat::server::Config;
use serde_json::json;

use crate::common::{self, api, api_status, sign_up, ws::connect, ws::Ws, Node, TestServer};

async fn servers() -> Vec<(TestServer, Option<tempfile::TempDir>)> {
    let (url, dir) = common::sqlite_url();
    let mut out = vec![(TestServer::start(Config::for_database(&url)).await, Some(dir))];
    if let Some(pg) = common::postgres_url().await {
        out.push((TestServer::start(Config::for_database(&pg)).await, None));
    }
    out
}

/// Logs `handle` in from a browser that calls itself `agent`: the cookie.
async fn log_in(server: &impl Node, handle: &str, password: &str, agent: &str) -> Result<String, u16> {
    let res = reqwest::Client::builder()
        .user_agent(agent)
        .build()
        .unwrap()
        .post(server.url("/api/log_in"))
        .json(&json!({"handle": handle, "password": password}))
        .send()
        .await
        .unwrap();
    if !res.status().is_success() {
        return Err(res.status().as_u16());
    }
    Ok(res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string())
}

/// The socket is told its session ended, then closed.
async fn ends(ws: &mut Ws) {
    match ws.next().await {
        Some(ServerFrame::Error {
            code: ErrorCode::Unauthenticated,
            ..
        }) => {}
        other => panic!("expected unauthenticated, got {other:?}"),
    }
    assert!(ws.next().await.is_none(), "closed after saying so");
}

async fn me(server: &impl Node, cookie: &str) -> Option<chat::model::User> {
    api(server, cookie, "me", json!({})).await
}

#[tokio::test]
async fn sessions_are_listed_and_the_others_ended_with_their_sockets() {
    for (server, _dir) in servers().await {
        let (ann, phone) = sign_up(&server, "ann").await;
        let laptop = log_in(&server, "ann", "correct horse", "Laptop Browser/1.0")
            .await
            .unwrap();
        let tablet = log_in(&server, "ann", "correct horse", "Tablet Browser/2.0")
            .await
            .unwrap();
        let (_, bob) = sign_up(&server, "bob").await;

        let list: Vec<SessionInfo> = api(&server, &laptop, "sessions", json!({})).await;
        assert_eq!(list.len(), 3, "{list:?}");
        let current: Vec<&SessionInfo> = list.iter().filter(|s| s.current).collect();
        assert_eq!(current.len(), 1);
        assert_eq!(current[0].agent, "Laptop Browser/1.0");
        assert_eq!(current[0].address, "127.0.0.1");
        assert!(list.iter().any(|s| s.agent == "Tablet Browser/2.0"));
        let bobs: Vec<SessionInfo> = api(&server, &bob, "sessions", json!({})).await;
        assert_eq!(bobs.len(), 1, "only one's own");

        // "Log out this one": the tablet, by its id, and its socket with it.
        let (mut on_tablet, _) = connect(&server, &tablet).await;
        let (mut on_phone, _) = connect(&server, &phone).await;
        let tablet_id = list
            .iter()
            .find(|s| s.agent == "Tablet Browser/2.0")
            .unwrap()
            .id
            .clone();
        assert_eq!(
            api_status(&server, &bob, "end_session", json!({"id": tablet_id})).await,
            404,
            "not bob's"
        );
        let () = api(&server, &laptop, "end_session", json!({"id": tablet_id})).await;
        ends(&mut on_tablet).await;
        assert_eq!(me(&server, &tablet).await, None);
        assert_eq!(
            common::ws::open(&server, Some(&tablet), None).await.err(),
            Some(401)
        );
        assert_eq!(
            api_status(&server, &laptop, "end_session", json!({"id": tablet_id})).await,
            404,
            "ended already"
        );

        // "Log out all others": the phone goes, the laptop stays, bob is untouched.
        let (mut bobs_ws, _) = connect(&server, &bob).await;
        let () = api(&server, &laptop, "end_other_sessions", json!({})).await;
        ends(&mut on_phone).await;
        assert_eq!(me(&server, &phone).await, None);
        assert_eq!(me(&server, &laptop).await.map(|u| u.id), Some(ann.id));
        let left: Vec<SessionInfo> = api(&server, &laptop, "sessions", json!({})).await;
        assert_eq!(left.len(), 1);
        assert!(left[0].current);
        assert!(
            bobs_ws.frames_until_pong().await.is_empty(),
            "bob's socket lives on"
        );

        // Logging out closes this browser's own sockets too.
        let (mut on_laptop, _) = connect(&server, &laptop).await;
        let () = api(&server, &laptop, "log_out", json!({})).await;
        ends(&mut on_laptop).await;
    }
}

#[tokio::test]
async fn a_socket_opened_marks_its_session_used() {
    for (server, _dir) in servers().await {
        let (_, phone) = sign_up(&server, "ann").await;
        let laptop = log_in(&server, "ann", "correct horse", "Laptop Browser/1.0")
            .await
            .unwrap();
        let seen = |list: &[SessionInfo]| list.iter().find(|s| !s.current).unwrap().seen_at;
        let before: Vec<SessionInfo> = api(&server, &laptop, "sessions", json!({})).await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let (_on_phone, _) = connect(&server, &phone).await;
        // Written with the next round of "seen" times (a second apart).
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let now: Vec<SessionInfo> = api(&server, &laptop, "sessions", json!({})).await;
            if seen(&now) > seen(&before) {
                assert!(!now[0].current, "the phone, used last, is listed first");
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the phone's use never recorded"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn a_new_password_needs_the_old_one_and_ends_the_other_sessions() {
    for (server, _dir) in servers().await {
        let (_, here) = sign_up(&server, "cat").await;
        let there = log_in(&server, "cat", "correct horse", "Other/1").await.unwrap();
        let (mut elsewhere, _) = connect(&server, &there).await;

        let wrong = common::api_err(
            &server,
            &here,
            "change_password",
            json!({"current": "not it", "new": "battery staple"}),
        )
        .await;
        assert_eq!(
            wrong,
            ApiError::Invalid("The current password is not right.".into())
        );
        let short = common::api_err(
            &server,
            &here,
            "change_password",
            json!({"current": "correct horse", "new": "short"}),
        )
        .await;
        assert!(matches!(short, ApiError::Invalid(_)), "{short:?}");
        assert!(me(&server, &there).await.is_some(), "nothing changed yet");

        let () = api(
            &server,
            &here,
            "change_password",
            json!({"current": "correct horse", "new": "battery staple"}),
        )
        .await;
        ends(&mut elsewhere).await;
        assert_eq!(me(&server, &there).await, None);
        assert!(me(&server, &here).await.is_some(), "this session stays");
        assert_eq!(log_in(&server, "cat", "correct horse", "x").await, Err(401));
        assert!(log_in(&server, "cat", "battery staple", "x").await.is_ok());
    }
}

/// Two nodes over one PostgreSQL and Redis: a session ended through one
/// node closes its socket on the other.
#[tokio::test]
async fn an_ended_session_closes_its_socket_on_another_node() {
    let Some(nodes) = crate::cluster::cluster(2).await else {
        return;
    };
    let (_, here) = sign_up(&nodes[0], "dan").await;
    let there = log_in(&nodes[1], "dan", "correct horse", "Far/1").await.unwrap();
    let (mut far, _) = connect(&nodes[1], &there).await;
    let () = api(&nodes[0], &here, "end_other_sessions", json!({})).await;
    ends(&mut far).await;
    assert_eq!(me(&nodes[1], &there).await, None);
}

/// A session that ends without the event (deleted by hand, expired, or the
/// event lost on the way) still closes its sockets: connections look their
/// session up again every `SESSION_RECHECK_PINGS` heartbeats.
#[tokio::test]
async fn a_session_gone_without_a_word_is_noticed_by_its_socket() {
    use sqlx::Connection;
    let (url, _dir) = common::sqlite_url();
    let mut config = Config::for_database(&url);
    (config.heartbeat_ms, config.heartbeat_timeout_ms) = (50, 10_000);
    let server = TestServer::start(config).await;
    let (_, cookie) = sign_up(&server, "eve").await;
    let (mut ws, _) = connect(&server, &cookie).await;
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("DELETE FROM sessions")
        .execute(&mut db)
        .await
        .unwrap();
    ends(&mut ws).await;
}
