//! Server tests over real HTTP: `server::run` on port 0 with a real SQLite
//! (and, for the outage test, a real PostgreSQL that the test stops and
//! starts), spoken to by reqwest like any client.

use crate::common;

use chat::api::ApiError;
use chat::model::{MemberPage, RoomKind, RoomSummary, User};
use chat::server::Config;
use common::{Node, TestServer};
use reqwest::{Client, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

struct Person {
    client: Client,
}

impl Person {
    fn new() -> Self {
        Self {
            client: Client::builder().cookie_store(true).build().unwrap(),
        }
    }

    async fn call(&self, server: &TestServer, name: &str, body: Value) -> (StatusCode, String) {
        let res = self
            .client
            .post(server.url(&format!("/api/{name}")))
            .json(&body)
            .send()
            .await
            .unwrap();
        (res.status(), res.text().await.unwrap())
    }

    async fn ok<T: DeserializeOwned>(&self, server: &TestServer, name: &str, body: Value) -> T {
        let (status, text) = self.call(server, name, body).await;
        assert_eq!(status, StatusCode::OK, "{name}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}: {text}"))
    }

    async fn err(&self, server: &TestServer, name: &str, body: Value) -> (StatusCode, ApiError) {
        let (status, text) = self.call(server, name, body).await;
        assert_ne!(status, StatusCode::OK, "{name} succeeded: {text}");
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}: {text}")),
        )
    }

    async fn sign_up(server: &TestServer, handle: &str) -> (Self, User) {
        let p = Self::new();
        let user = p
            .ok(
                server,
                "sign_up",
                json!({"handle": handle, "display_name": "", "password": "correct horse"}),
            )
            .await;
        (p, user)
    }
}

async fn embedded() -> (TestServer, tempfile::TempDir) {
    let (url, dir) = common::sqlite_url();
    (TestServer::start(Config::for_database(&url)).await, dir)
}

#[tokio::test]
async fn sign_up_log_out_log_in() {
    let (server, _dir) = embedded().await;
    let p = Person::new();
    let res = p
        .client
        .post(server.url("/api/sign_up"))
        .json(&json!({"handle": " Alice_1 ", "display_name": "  Alice   A. ", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("chat_session="), "{cookie}");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    let user: User = res.json().await.unwrap();
    assert_eq!(
        (user.handle.as_str(), user.display_name.as_str()),
        ("alice_1", "Alice A.")
    );

    let me: Option<User> = p.ok(&server, "me", json!({})).await;
    assert_eq!(me.as_ref(), Some(&user));

    let () = p.ok(&server, "log_out", json!({})).await;
    let me: Option<User> = p.ok(&server, "me", json!({})).await;
    assert_eq!(me, None);
    assert_eq!(
        p.err(&server, "my_rooms", json!({})).await,
        (StatusCode::UNAUTHORIZED, ApiError::Unauthenticated)
    );

    let again: User = p
        .ok(
            &server,
            "log_in",
            json!({"handle": "ALICE_1", "password": "correct horse"}),
        )
        .await;
    assert_eq!(again, user);
    let rooms: Vec<RoomSummary> = p.ok(&server, "my_rooms", json!({})).await;
    assert!(rooms.is_empty());
}

#[tokio::test]
async fn wrong_credentials_do_not_tell_whether_the_handle_exists() {
    let (server, _dir) = embedded().await;
    Person::sign_up(&server, "alice").await;
    let p = Person::new();
    let wrong_password = p
        .err(
            &server,
            "log_in",
            json!({"handle": "alice", "password": "not it at all"}),
        )
        .await;
    let unknown = p
        .err(
            &server,
            "log_in",
            json!({"handle": "nobody", "password": "not it at all"}),
        )
        .await;
    let malformed = p
        .err(&server, "log_in", json!({"handle": "-", "password": "x"}))
        .await;
    assert_eq!(
        wrong_password,
        (StatusCode::UNAUTHORIZED, ApiError::WrongCredentials)
    );
    assert_eq!(unknown, wrong_password);
    assert_eq!(malformed, wrong_password);
}

#[tokio::test]
async fn failed_log_ins_are_throttled_per_handle_and_per_address() {
    let (url, _dir) = common::sqlite_url();
    let mut config = Config::for_database(&url);
    config.login_failures = 2;
    let server = TestServer::start(config).await;
    Person::sign_up(&server, "alice").await;
    let p = Person::new();
    let log_in = |handle: &str, password: &str| json!({"handle": handle, "password": password});
    for _ in 0..2 {
        let (status, _) = p.err(&server, "log_in", log_in("alice", "guess guess")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The handle's free failures are spent: even the right password waits.
    let (status, e) = p.err(&server, "log_in", log_in("alice", "correct horse")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        matches!(&e, ApiError::TooMany(m) if m.contains("Try again in")),
        "{e:?}"
    );
    // Other handles from the same address, until the address's 4 × 2 are spent.
    for i in 0..6 {
        let (status, _) = p
            .err(&server, "log_in", log_in(&format!("nobody{i}"), "guess"))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let (status, _) = p.err(&server, "log_in", log_in("someone_else", "guess")).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the address is throttled too"
    );
}

/// A sign-up from `addr` (the server trusts `X-Forwarded-For` from loopback,
/// as behind nginx): its status, its `Retry-After` and its body.
async fn sign_up_from(server: &TestServer, addr: &str, handle: &str) -> (StatusCode, Option<String>, String) {
    let res = Client::new()
        .post(server.url("/api/sign_up"))
        .header("x-forwarded-for", addr)
        .json(&json!({"handle": handle, "display_name": "", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (res.status(), retry, res.text().await.unwrap())
}

#[tokio::test]
async fn sign_ups_are_throttled_per_address() {
    let (url, _dir) = common::sqlite_url();
    let mut config = Config::for_database(&url);
    config.signup_burst = 3;
    let server = TestServer::start(config).await;
    for i in 0..3 {
        let (status, _, text) = sign_up_from(&server, "203.0.113.7", &format!("user{i}")).await;
        assert_eq!(status, StatusCode::OK, "{text}");
    }
    let (status, retry, text) = sign_up_from(&server, "203.0.113.7", "user3").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{text}");
    let e: ApiError = serde_json::from_str(&text).unwrap();
    assert!(
        matches!(&e, ApiError::TooMany(m) if m.contains("Try again in")),
        "{e:?}"
    );
    let secs: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&secs), "{secs}");
    // Nothing was written: the handle is still free for another address.
    let (status, _, text) = sign_up_from(&server, "198.51.100.2", "user3").await;
    assert_eq!(status, StatusCode::OK, "{text}");
}

#[tokio::test]
async fn password_hashing_is_bounded_and_the_excess_told_to_come_back() {
    let (url, _dir) = common::sqlite_url();
    let mut config = Config::for_database(&url);
    config.signup_burst = 1_000;
    config.hash_queue = 0;
    let server = TestServer::start(config).await;
    // As many at once as cannot all run (a hash per core, no queue).
    let tries = 6 * std::thread::available_parallelism().map_or(1, |n| n.get());
    let handles: Vec<String> = (0..tries).map(|i| format!("flood{i}")).collect();
    let answers =
        futures::future::join_all(handles.iter().map(|h| sign_up_from(&server, "203.0.113.9", h))).await;
    let mut busy = Vec::new();
    for (i, (status, retry, text)) in answers.into_iter().enumerate() {
        match status {
            StatusCode::OK => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(serde_json::from_str::<ApiError>(&text).unwrap(), ApiError::Busy);
                assert!(retry.is_some(), "503 says when to come back");
                busy.push(i);
            }
            other => panic!("{other}: {text}"),
        }
    }
    assert!(
        !busy.is_empty(),
        "more sign-ups than cores and no queue: some are refused"
    );
    assert!(busy.len() < tries, "some get through");
    // Refused means nothing written: the same handles sign up now.
    for i in busy {
        let (status, _, text) = sign_up_from(&server, "203.0.113.9", &format!("flood{i}")).await;
        assert_eq!(status, StatusCode::OK, "{text}");
    }
}

#[tokio::test]
async fn browsers_report_panics_a_few_at_a_time() {
    let (server, _dir) = embedded().await;
    let report = |body: String| {
        Client::new()
            .post(server.url("/client-errors"))
            .header("x-forwarded-for", "203.0.113.5")
            .body(body)
            .send()
    };
    let panic = r#"{"message":"panicked at src/ui/chat.rs:1:1","page":"/r/7"}"#;
    for _ in 0..5 {
        assert_eq!(
            report(panic.into()).await.unwrap().status(),
            StatusCode::NO_CONTENT
        );
    }
    assert_eq!(
        report(panic.into()).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS,
        "a page panicking in a loop cannot flood the log"
    );
    let res = Client::new()
        .post(server.url("/client-errors"))
        .header("x-forwarded-for", "198.51.100.9")
        .body("x".repeat(20_000))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // From another site, refused like any state-changing request.
    let res = Client::new()
        .post(server.url("/client-errors"))
        .header("origin", "https://evil.example")
        .body(panic)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn sign_up_rejects_bad_input_and_writes_nothing() {
    let (server, _dir) = embedded().await;
    Person::sign_up(&server, "alice").await;
    let p = Person::new();
    let cases = [
        (
            json!({"handle": "alice", "display_name": "", "password": "correct horse"}),
            StatusCode::CONFLICT,
            "taken",
        ),
        (
            json!({"handle": "ALICE", "display_name": "", "password": "correct horse"}),
            StatusCode::CONFLICT,
            "taken",
        ),
        (
            json!({"handle": "a1ice", "display_name": "", "password": "correct horse"}),
            StatusCode::CONFLICT,
            "looks too much like @alice",
        ),
        (
            json!({"handle": "a-b", "display_name": "", "password": "correct horse"}),
            StatusCode::BAD_REQUEST,
            "only letters",
        ),
        (
            json!({"handle": "9lives", "display_name": "", "password": "correct horse"}),
            StatusCode::BAD_REQUEST,
            "starts with a letter",
        ),
        (
            json!({"handle": "bob", "display_name": "", "password": "short"}),
            StatusCode::BAD_REQUEST,
            "at least 8",
        ),
        (
            json!({"handle": "bob", "display_name": "x".repeat(65), "password": "correct horse"}),
            StatusCode::BAD_REQUEST,
            "at most 64",
        ),
        (
            json!({"handle": "x".repeat(5000), "display_name": "", "password": "correct horse"}),
            StatusCode::BAD_REQUEST,
            "3–32",
        ),
        (
            json!({"handle": "bob"}),
            StatusCode::BAD_REQUEST,
            "Malformed request",
        ),
    ];
    for (body, status, words) in cases {
        let (got, err) = p.err(&server, "sign_up", body.clone()).await;
        assert_eq!(got, status, "{body}");
        assert!(err.to_string().contains(words), "{body}: {err}");
    }
    // Nothing half-written: "bob" was never created, so it can sign up now.
    Person::sign_up(&server, "bob").await;
    assert!(p
        .client
        .get(server.url("/api/me"))
        .send()
        .await
        .unwrap()
        .status()
        .is_client_error());
}

#[tokio::test]
async fn direct_rooms_by_handle() {
    let (server, _dir) = embedded().await;
    let (alice, _) = Person::sign_up(&server, "alice").await;
    let (bob, _) = Person::sign_up(&server, "bob").await;

    let room: RoomSummary = alice.ok(&server, "open_direct", json!({"handle": "@Bob"})).await;
    assert_eq!(
        (room.kind, room.name.as_str(), room.peer_handle.as_deref()),
        (RoomKind::Direct, "bob", Some("bob"))
    );
    let again: RoomSummary = bob.ok(&server, "open_direct", json!({"handle": "alice"})).await;
    assert_eq!(again.id, room.id, "the same pair always gets the same room");
    assert_eq!(again.name, "alice");

    let (status, err) = alice
        .err(&server, "open_direct", json!({"handle": "nobody"}))
        .await;
    assert_eq!(
        (status, err.to_string()),
        (StatusCode::NOT_FOUND, "No one has the handle @nobody.".into())
    );
    let (status, _) = alice
        .err(&server, "open_direct", json!({"handle": "alice"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = alice
        .err(&server, "open_direct", json!({"handle": "bad handle!"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let rooms: Vec<RoomSummary> = bob.ok(&server, "my_rooms", json!({})).await;
    assert_eq!(rooms.iter().map(|r| r.id).collect::<Vec<_>>(), vec![room.id]);
}

#[tokio::test]
async fn groups_members_and_permissions() {
    let (server, _dir) = embedded().await;
    let (alice, _) = Person::sign_up(&server, "alice").await;
    let (bob, _) = Person::sign_up(&server, "bob").await;
    let (carol, _) = Person::sign_up(&server, "carol").await;
    let (dave, _) = Person::sign_up(&server, "dave").await;

    // Unknown members: 404 naming them, and no group is created.
    let (status, err) = alice
        .err(
            &server,
            "create_group",
            json!({"name": "Team", "members": ["bob", "zed", "yan"]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err.to_string(), "No one has the handle @zed, @yan.");
    assert!(alice
        .ok::<Vec<RoomSummary>>(&server, "my_rooms", json!({}))
        .await
        .is_empty());

    let (status, _) = alice
        .err(&server, "create_group", json!({"name": "  ", "members": []}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = alice
        .err(
            &server,
            "create_group",
            json!({"name": "x".repeat(81), "members": []}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let team: RoomSummary = alice
        .ok(
            &server,
            "create_group",
            json!({"name": " Team ", "members": ["bob"]}),
        )
        .await;
    assert_eq!(
        (team.kind, team.name.as_str(), team.member_count),
        (RoomKind::Group, "Team", 2)
    );

    // Its owner adds (a member may not); strangers may not even look.
    let (status, _) = bob
        .err(&server, "add_member", json!({"room": team.id, "handle": "carol"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let page: MemberPage = alice
        .ok(&server, "add_member", json!({"room": team.id, "handle": "carol"}))
        .await;
    assert_eq!((page.members.len(), page.total, page.more), (3, 3, false));
    // A page at a time, by user id.
    let first: MemberPage = bob
        .ok(&server, "room_members", json!({"room": team.id, "limit": 2}))
        .await;
    assert_eq!((first.members.len(), first.total, first.more), (2, 3, true));
    let after = first.members[1].user.id;
    let rest: MemberPage = bob
        .ok(
            &server,
            "room_members",
            json!({"room": team.id, "after": after, "limit": 2}),
        )
        .await;
    assert_eq!((rest.members.len(), rest.more), (1, false));
    assert!(rest.members[0].user.id > after);
    let (status, err) = dave
        .err(&server, "add_member", json!({"room": team.id, "handle": "dave"}))
        .await;
    assert_eq!(
        (status, err),
        (
            StatusCode::FORBIDDEN,
            ApiError::Forbidden("You are not a member of this room.".into())
        )
    );
    let (status, _) = dave.err(&server, "room_members", json!({"room": team.id})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = carol
        .err(
            &server,
            "add_member",
            json!({"room": team.id + 999, "handle": "dave"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, err) = carol
        .err(
            &server,
            "add_member",
            json!({"room": team.id, "handle": "nobody"}),
        )
        .await;
    assert_eq!(
        (status, err.to_string()),
        (StatusCode::NOT_FOUND, "No one has the handle @nobody.".into())
    );

    // Adding twice is harmless; a direct room takes no third person.
    let page: MemberPage = alice
        .ok(&server, "add_member", json!({"room": team.id, "handle": "bob"}))
        .await;
    assert_eq!(page.total, 3);
    let dm: RoomSummary = alice.ok(&server, "open_direct", json!({"handle": "bob"})).await;
    let (status, _) = alice
        .err(&server, "add_member", json!({"room": dm.id, "handle": "carol"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let carol_rooms: Vec<RoomSummary> = carol.ok(&server, "my_rooms", json!({})).await;
    assert_eq!(
        carol_rooms.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![team.id]
    );
    let (status, _) = alice
        .err(&server, "add_member", json!({"room": "seven", "handle": "bob"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn many_people_are_added_in_one_call_or_none_are() {
    let (server, _dir) = embedded().await;
    let (alice, _) = Person::sign_up(&server, "alice").await;
    let mut others = Vec::new();
    for h in ["bob", "carol", "dave", "erin"] {
        others.push(Person::sign_up(&server, h).await.0);
    }
    let team: RoomSummary = alice
        .ok(&server, "create_group", json!({"name": "Team", "members": []}))
        .await;
    // An unknown handle among them: nobody is added, and the answer names it.
    let (status, err) = alice
        .err(
            &server,
            "add_members",
            json!({"room": team.id, "handles": ["bob", "nobody", "carol", "@ghost"]}),
        )
        .await;
    assert_eq!(
        (status, err.to_string()),
        (
            StatusCode::NOT_FOUND,
            "No one has the handle @nobody, @ghost.".into()
        )
    );
    let page: MemberPage = alice.ok(&server, "room_members", json!({"room": team.id})).await;
    assert_eq!(page.total, 1);
    // All of them in one go; someone named twice, or already in, is fine.
    let page: MemberPage = alice
        .ok(
            &server,
            "add_members",
            json!({"room": team.id, "handles": ["bob", "@carol", "dave", "bob", "alice"]}),
        )
        .await;
    assert_eq!((page.total, page.members.len()), (4, 4));
    let dave: Vec<RoomSummary> = others[2].ok(&server, "my_rooms", json!({})).await;
    assert_eq!(dave.iter().map(|r| r.id).collect::<Vec<_>>(), vec![team.id]);
}

#[tokio::test]
async fn room_size_limit_is_enforced() {
    let (url, _dir) = common::sqlite_url();
    let mut config = Config::for_database(&url);
    config.max_room_members = 2;
    let server = TestServer::start(config).await;
    let (alice, _) = Person::sign_up(&server, "alice").await;
    Person::sign_up(&server, "bob").await;
    Person::sign_up(&server, "carol").await;
    let (status, _) = alice
        .err(
            &server,
            "create_group",
            json!({"name": "Big", "members": ["bob", "carol"]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let g: RoomSummary = alice
        .ok(
            &server,
            "create_group",
            json!({"name": "Small", "members": ["bob"]}),
        )
        .await;
    let (status, err) = alice
        .err(&server, "add_member", json!({"room": g.id, "handle": "carol"}))
        .await;
    assert_eq!(
        (status, err.to_string()),
        (StatusCode::BAD_REQUEST, "This group is full (2 members).".into())
    );
}

#[tokio::test]
async fn missing_or_forged_cookies_get_401() {
    let (server, _dir) = embedded().await;
    let anonymous = Person::new();
    assert_eq!(
        anonymous.err(&server, "my_rooms", json!({})).await.0,
        StatusCode::UNAUTHORIZED
    );
    let forged = Client::new()
        .post(server.url("/api/my_rooms"))
        .header(
            "cookie",
            "chat_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let garbage = Client::new()
        .post(server.url("/api/my_rooms"))
        .header("cookie", "chat_session=%%%; other=1")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn foreign_origins_are_refused() {
    let (server, _dir) = embedded().await;
    let res = Client::new()
        .post(server.url("/api/sign_up"))
        .header("origin", "https://evil.example")
        .json(&json!({"handle": "mallory", "display_name": "", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let own = format!("http://127.0.0.1:{}", server.addr.port());
    let res = Client::new()
        .post(server.url("/api/sign_up"))
        .header("origin", own)
        .json(&json!({"handle": "alice", "display_name": "", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Refused, so nothing was written.
    assert!(server
        .state
        .store
        .user_by_handle("mallory")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn pages_render_on_the_server() {
    let (server, _dir) = embedded().await;
    let no_redirects = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = no_redirects
        .get(server.url("/"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    assert_eq!(res.headers()["location"], "/login");
    let login = no_redirects.get(server.url("/login")).send().await.unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    assert!(login.text().await.unwrap().contains("Log in"));

    let (alice, _) = Person::sign_up(&server, "alice").await;
    Person::sign_up(&server, "bob").await;
    let _: RoomSummary = alice
        .ok(
            &server,
            "create_group",
            json!({"name": "Book club", "members": ["bob"]}),
        )
        .await;
    let html = alice
        .client
        .get(server.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Book club"), "the room list is in the first paint");
    assert!(html.contains("@alice"));
    assert_eq!(
        Client::new()
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        Client::new()
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[test]
fn bad_settings_stop_the_server_with_one_clear_line() {
    let run = |envs: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_chat"));
        cmd.env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .env("CHAT_BIND", "127.0.0.1:0");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, err) = run(&[("DATABASE_URL", "postgres://chat:s3cret@127.0.0.1:1/chat")]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("DATABASE_URL (postgres://chat:***@127.0.0.1:1/chat)"),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "the password leaked: {err}");
    let (code, err) = run(&[("DATABASE_URL", "mysql://x")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("DATABASE_URL"), "{err}");
    let (code, err) = run(&[("REDIS_URL", "http://:pw@x")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("REDIS_URL") && !err.contains("pw@"), "{err}");
    let (code, err) = run(&[("CHAT_BIND", "not-an-address")]);
    assert_ne!(code, Some(0));
    assert!(err.contains("--bind") || err.contains("CHAT_BIND"), "{err}");
    let (code, err) = run(&[("CHAT_ALLOWED_ORIGINS", "evil")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("CHAT_ALLOWED_ORIGINS"), "{err}");
}

/// A real PostgreSQL stopped under a running server: 503 with a message,
/// the server keeps running, and it serves again once the database is back.
#[tokio::test]
async fn database_outage_gives_503_and_recovers() {
    if std::env::var("TEST_POSTGRES_URL").is_err() && std::env::var("CHAT_REQUIRE_POSTGRES").is_err() {
        eprintln!("skipped: needs PostgreSQL (run through make test)");
        return;
    }
    let pg = common::OwnService::postgres();
    let server = TestServer::start(Config::for_database(&pg.url)).await;
    let (alice, _) = Person::sign_up(&server, "alice").await;
    assert!(alice
        .ok::<Vec<RoomSummary>>(&server, "my_rooms", json!({}))
        .await
        .is_empty());

    pg.stop();
    let (status, err) = alice.err(&server, "my_rooms", json!({})).await;
    assert_eq!(
        (status, err),
        (StatusCode::SERVICE_UNAVAILABLE, ApiError::Unavailable)
    );
    let (status, _) = Person::new()
        .err(
            &server,
            "sign_up",
            json!({"handle": "bob", "display_name": "", "password": "correct horse"}),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let ready = Client::new().get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        Client::new()
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    pg.restart();
    let mut last = None;
    for _ in 0..50 {
        let (status, text) = alice.call(&server, "my_rooms", json!({})).await;
        if status == StatusCode::OK {
            last = None;
            break;
        }
        last = Some((status, text));
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(last, None, "the server did not recover");
    let _: User = Person::new()
        .ok(
            &server,
            "sign_up",
            json!({"handle": "bob", "display_name": "", "password": "correct horse"}),
        )
        .await;
}

/// The app shell (the document the service worker answers offline) and
/// the worker's script both name this build's bundle, from the hash file;
/// pages and shell say what browsers may keep.
#[tokio::test]
async fn the_app_shell_and_the_service_worker_name_this_build() {
    let (url, _db) = common::sqlite_url();
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("sw.js"), "// the worker's own code\n").unwrap();
    let hashes = site.path().join("hash.txt");
    std::fs::write(&hashes, "js: J1\nwasm: W2\ncss: C3\n").unwrap();
    let mut config = Config::for_database(&url);
    config.site_root = site.path().display().to_string();
    config.hash_file = hashes.display().to_string();
    (config.offline_rooms, config.offline_rows) = (3, 40);
    let server = TestServer::start(config).await;
    let client = Client::new();

    let res = client.get(server.url("/sw.js")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let header = |res: &reqwest::Response, name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert!(header(&res, "content-type").starts_with("text/javascript"));
    assert_eq!(header(&res, "cache-control"), "no-cache");
    let script = res.text().await.unwrap();
    assert!(script.contains(r#"const VERSION = "J1.W2.C3";"#), "{script}");
    assert!(
        script.contains(r#"const BUNDLE = ["/pkg/chat.J1.js", "/pkg/chat.W2.wasm", "/pkg/chat.C3.css"];"#),
        "{script}"
    );
    assert!(script.ends_with("// the worker's own code\n"));

    let res = client.get(server.url("/shell")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let policy = header(&res, "content-security-policy");
    let shell = res.text().await.unwrap();
    assert!(shell.contains(r#"<body data-shell="true"></body>"#), "{shell}");
    for name in [
        "/pkg/chat.C3.css",
        "chat.J1",
        "chat.W2",
        r#"<meta name="chat-keep" content="3 40">"#,
    ] {
        assert!(shell.contains(name), "{name} in {shell}");
    }
    // Its inline script runs under the policy that came with it.
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|n| n.split('\'').next())
        .unwrap();
    assert!(shell.contains(&format!(r#"nonce="{nonce}""#)), "{policy}");

    // A page is the app, not the shell, and says the same about keeping.
    let page = client
        .get(server.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"<meta name="chat-keep" content="3 40">"#) && !page.contains("data-shell"));
    server.shut_down().await;
}
