//! Web Push over real HTTP: one VAPID key for the deployment (the same
//! after a restart and on every node), subscriptions checked on the way in,
//! tied to the session and gone with it; and notices sent to a push service
//! on loopback that checks the VAPID signature and decrypts each one.

use crate::common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::{body::Bytes, extract::State, http::HeaderMap, http::StatusCode, routing::post, Router};
use chat::model::{Notify, RoomSummary, User};
use chat::protocol::{ClientFrame, ServerFrame};
use chat::server::Config;
use common::ws::{connect, Ws};
use common::{api, api_status, sign_up, Node, TestServer};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use web_push_native::jwt_simple::prelude::*;

// The user agent's key pair and auth secret of RFC 8291, section 5: the
// test is the browser, so it holds the private key and reads every notice.
const P256DH: &str =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const PRIVATE: &str = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
const CONTACT: &str = "mailto:ops@chat.test";

/// A notice as the push service received it, checked and decrypted.
#[derive(Debug)]
struct Received {
    path: String,
    topic: String,
    notice: Value,
}

/// A Web Push service on 127.0.0.1:0. Each POST must carry a VAPID
/// `Authorization` signed by the chat server's key for this origin, TTL,
/// Urgency and Topic, and an `aes128gcm` body that decrypts with the
/// subscription's private key. It answers the statuses queued in `answers`,
/// then 201.
struct PushService {
    origin: String,
    got: mpsc::Receiver<Result<Received, String>>,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

#[derive(Clone)]
struct Service {
    origin: String,
    vapid_key: String,
    answers: Arc<Mutex<VecDeque<u16>>>,
    got: mpsc::Sender<Result<Received, String>>,
}

impl PushService {
    async fn start(vapid_key: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let (tx, got) = mpsc::channel(100);
        let answers = Arc::new(Mutex::new(VecDeque::new()));
        let service = Service {
            origin: origin.clone(),
            vapid_key: vapid_key.to_string(),
            answers: answers.clone(),
            got: tx,
        };
        let app = Router::new()
            .route("/push/{device}", post(receive))
            .with_state(service);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { origin, got, answers }
    }

    fn endpoint(&self, device: &str) -> String {
        format!("{}/push/{device}", self.origin)
    }

    /// The next notice (failing the test on a malformed one), or None after `wait`.
    async fn next(&mut self, wait: Duration) -> Option<Received> {
        match tokio::time::timeout(wait, self.got.recv()).await {
            Ok(Some(Ok(r))) => Some(r),
            Ok(Some(Err(e))) => panic!("the push service refused a request: {e}"),
            _ => None,
        }
    }
}

async fn receive(
    State(s): State<Service>,
    axum::extract::Path(device): axum::extract::Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let checked = check(&s, &headers, body.to_vec()).map(|(topic, notice)| Received {
        path: format!("/push/{device}"),
        topic,
        notice,
    });
    let ok = checked.is_ok();
    let _ = s.got.send(checked).await;
    if !ok {
        return StatusCode::BAD_REQUEST;
    }
    let answer = s.answers.lock().unwrap().pop_front().unwrap_or(201);
    StatusCode::from_u16(answer).unwrap()
}

/// What a push service and then a browser check: RFC 8292 and RFC 8291.
fn check(s: &Service, headers: &HeaderMap, body: Vec<u8>) -> Result<(String, Value), String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or(format!("no {name} header"))
    };
    let auth = header("authorization")?;
    let rest = auth.strip_prefix("vapid ").ok_or("not a vapid authorization")?;
    let (mut token, mut key) = (None, None);
    for part in rest.split(',').map(str::trim) {
        if let Some(t) = part.strip_prefix("t=") {
            token = Some(t);
        } else if let Some(k) = part.strip_prefix("k=") {
            key = Some(k);
        }
    }
    let (token, key) = (token.ok_or("no t=")?, key.ok_or("no k=")?);
    if key != s.vapid_key {
        return Err("signed with another key than the server's public key".into());
    }
    let public = ES256PublicKey::from_bytes(&base64_url(key)).map_err(|e| e.to_string())?;
    let options = VerificationOptions {
        allowed_audiences: Some(HashSet::from_strings(&[&s.origin])),
        ..Default::default()
    };
    let claims = public
        .verify_token::<NoCustomClaims>(token, Some(options))
        .map_err(|e| format!("VAPID token: {e}"))?;
    if claims.subject.as_deref() != Some(CONTACT) {
        return Err(format!("VAPID sub {:?}", claims.subject));
    }
    let ttl: u64 = header("ttl")?.parse().map_err(|_| "TTL not a number")?;
    if ttl == 0 || ttl > 86_400 {
        return Err(format!("TTL {ttl}"));
    }
    if header("content-encoding")? != "aes128gcm" || header("urgency")? != "high" {
        return Err("not aes128gcm with urgency high".into());
    }
    let secret = web_push_native::p256::SecretKey::from_slice(&base64_url(PRIVATE)).unwrap();
    let auth_secret = web_push_native::Auth::clone_from_slice(&base64_url(AUTH));
    let plain = web_push_native::decrypt(body, &secret, &auth_secret).map_err(|e| format!("decrypt: {e}"))?;
    let notice = serde_json::from_slice(&plain).map_err(|e| format!("not JSON: {e}"))?;
    Ok((header("topic")?.to_string(), notice))
}

/// A server that pushes to http endpoints, with a short collapse window.
async fn pushing_server(collapse_ms: u64) -> (TestServer, tempfile::TempDir) {
    let (url, dir) = common::sqlite_url();
    let mut config = Config::for_database(&url);
    config.push_allow_http = true;
    config.push_contact = CONTACT.into();
    config.push_collapse_ms = collapse_ms;
    (TestServer::start(config).await, dir)
}

/// Two nodes on PostgreSQL and Redis, pushing like `pushing_server`; None without them.
async fn pushing_cluster() -> Option<[TestServer; 2]> {
    let database = common::postgres_url().await?;
    let (redis, prefix) = common::redis_url()?;
    let node = || {
        let mut config = Config::for_database(&database);
        config.redis_url = Some(redis.clone());
        config.redis_prefix = prefix.clone();
        config.push_allow_http = true;
        config.push_contact = CONTACT.into();
        config.push_collapse_ms = 300;
        TestServer::start(config)
    };
    Some([node().await, node().await])
}

async fn subscribe(server: &TestServer, cookie: &str, endpoint: &str) {
    let () = api(
        server,
        cookie,
        "push_subscribe",
        json!({"endpoint": endpoint, "p256dh": P256DH, "auth": AUTH}),
    )
    .await;
}

/// Alice (on `alice_node`) writes to Bob (on `bob_node`, subscribed) while
/// he is online, then after he went away. Returns the push service (after
/// checking that the first message made no notice), the room, the second
/// message's seq, the one notice it made, and Alice's socket.
async fn bob_online_then_away(
    alice_node: &TestServer,
    bob_node: &TestServer,
) -> (PushService, i64, i64, Received, Ws) {
    let (_, a) = sign_up(alice_node, "alice").await;
    let (bob, b) = sign_up(bob_node, "bob").await;
    let key: String = api(alice_node, &b, "push_key", json!({})).await;
    let mut service = PushService::start(&key).await;
    subscribe(bob_node, &b, &service.endpoint("bobs-phone")).await;
    let room: RoomSummary = api(alice_node, &a, "open_direct", json!({"handle": "bob"})).await;
    let (mut wa, _) = connect(alice_node, &a).await;

    // Bob is online: his socket gets the message, his phone no notice.
    let (mut wb, _) = connect(bob_node, &b).await;
    wa.say(room.id, "first").await;
    wb.recv_until(|f| matches!(f, ServerFrame::Msg(m) if m.body == "first"))
        .await;
    assert!(
        service.next(Duration::from_millis(800)).await.is_none(),
        "no push while online"
    );

    // Bob goes away (Alice sees him go), then a notice.
    drop(wb);
    wa.recv_until(|f| matches!(f, ServerFrame::Presence(p) if p.user == bob.id && !p.online))
        .await;
    let seq = wa.say(room.id, "second").await;
    let got = service
        .next(Duration::from_secs(10))
        .await
        .expect("a notice for the offline member");
    (service, room.id, seq, got, wa)
}

#[tokio::test]
async fn an_offline_member_gets_a_signed_encrypted_notice_and_an_online_one_does_not() {
    let (server, _dir) = pushing_server(300).await;
    let (mut service, room, seq, got, _) = bob_online_then_away(&server, &server).await;
    assert_eq!(got.path, "/push/bobs-phone");
    assert_eq!(got.topic, format!("room-{room}"), "one topic per room");
    assert_eq!(
        got.notice,
        json!({
            "room": room, "seq": seq, "title": "alice", "body": "second", "from": "alice",
            "room_name": "alice", "unread": 2, "total": 2, "url": format!("/r/{room}"),
        })
    );
    assert!(
        service.next(Duration::from_millis(800)).await.is_none(),
        "nothing else"
    );
}

async fn call(server: &TestServer, cookie: Option<&str>, name: &str, body: serde_json::Value) -> u16 {
    let mut req = reqwest::Client::new()
        .post(server.url(&format!("/api/{name}")))
        .json(&body);
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn one_vapid_key_per_deployment() {
    let (url, _dir) = common::sqlite_url();
    let first = TestServer::start(Config::for_database(&url)).await;
    let (_, cookie) = sign_up(&first, "alice").await;
    let key: String = api(&first, &cookie, "push_key", json!({})).await;
    let raw = base64_url(&key);
    assert_eq!((raw.len(), raw[0]), (65, 4), "an uncompressed P-256 point");
    drop(first);
    let again = TestServer::start(Config::for_database(&url)).await;
    let after_restart: String = api(&again, &cookie, "push_key", json!({})).await;
    assert_eq!(after_restart, key, "kept across restarts");
    let other_node = TestServer::start(Config::for_database(&url)).await;
    let other: String = api(&other_node, &cookie, "push_key", json!({})).await;
    assert_eq!(other, key, "shared by the nodes");
}

#[tokio::test]
async fn subscriptions_are_checked_and_end_with_the_session() {
    let (url, _dir) = common::sqlite_url();
    let server = TestServer::start(Config::for_database(&url)).await;
    let (alice, cookie) = sign_up(&server, "alice").await;
    let sub = |endpoint: &str, p256dh: &str, auth: &str| json!({"endpoint": endpoint, "p256dh": p256dh, "auth": auth});
    let good = sub("https://push.example/abc", P256DH, AUTH);

    assert_eq!(call(&server, None, "push_subscribe", good.clone()).await, 401);
    for bad in [
        sub("not a url", P256DH, AUTH),
        sub("ftp://push.example/abc", P256DH, AUTH),
        sub("http://push.example/abc", P256DH, AUTH),
        sub("https://push.example/abc", "BAAA", AUTH),
        sub("https://push.example/abc", P256DH, "short"),
    ] {
        assert_eq!(
            call(&server, Some(&cookie), "push_subscribe", bad.clone()).await,
            400,
            "{bad}"
        );
    }
    assert!(server
        .state
        .store
        .push_subscriptions(alice.id)
        .await
        .unwrap()
        .is_empty());

    let () = api(&server, &cookie, "push_subscribe", good.clone()).await;
    let () = api(&server, &cookie, "push_subscribe", good).await;
    let stored = server.state.store.push_subscriptions(alice.id).await.unwrap();
    assert_eq!(stored.len(), 1, "once per endpoint");
    assert_eq!(
        (stored[0].p256dh.as_str(), stored[0].auth.as_str()),
        (P256DH, AUTH)
    );

    let removed: bool = api(
        &server,
        &cookie,
        "push_unsubscribe",
        json!({"endpoint": "https://push.example/none"}),
    )
    .await;
    assert!(!removed);
    let () = api(
        &server,
        &cookie,
        "push_subscribe",
        sub("https://push.example/second", P256DH, AUTH),
    )
    .await;
    let removed: bool = api(
        &server,
        &cookie,
        "push_unsubscribe",
        json!({"endpoint": "https://push.example/abc"}),
    )
    .await;
    assert!(removed);
    assert_eq!(
        server
            .state
            .store
            .push_subscriptions(alice.id)
            .await
            .unwrap()
            .len(),
        1
    );

    let () = api(&server, &cookie, "log_out", json!({})).await;
    assert!(
        server
            .state
            .store
            .push_subscriptions(alice.id)
            .await
            .unwrap()
            .is_empty(),
        "logging out removes the device's subscription"
    );
}

#[tokio::test]
async fn in_a_cluster_one_node_pushes_and_presence_on_another_node_counts() {
    let Some([n0, n1]) = pushing_cluster().await else {
        return;
    };
    // Bob's lease is on the other node: the committing node asks Redis.
    let (mut service, _, _, got, _) = bob_online_then_away(&n0, &n1).await;
    assert_eq!(
        (&got.notice["body"], &got.notice["unread"]),
        (&json!("second"), &json!(2))
    );
    assert!(
        service.next(Duration::from_secs(1)).await.is_none(),
        "one notice, from the node that committed it, not one per node"
    );
}

/// Alice, Bob and Carol (their cookies) in a group "Team"; Bob's phone and
/// Carol's laptop subscribed to a push service of the test's own.
struct Team {
    a: String,
    b: String,
    c: String,
    bob: User,
    service: PushService,
    team: RoomSummary,
}

async fn team(server: &TestServer) -> Team {
    let (_, a) = sign_up(server, "alice").await;
    let (bob, b) = sign_up(server, "bob").await;
    let (_, c) = sign_up(server, "carol").await;
    let key: String = api(server, &a, "push_key", json!({})).await;
    let service = PushService::start(&key).await;
    subscribe(server, &b, &service.endpoint("bobs-phone")).await;
    subscribe(server, &c, &service.endpoint("carols-laptop")).await;
    let team: RoomSummary = api(
        server,
        &a,
        "create_group",
        json!({"name": "Team", "members": ["bob", "carol"]}),
    )
    .await;
    Team {
        a,
        b,
        c,
        bob,
        service,
        team,
    }
}

#[tokio::test]
async fn a_burst_in_a_group_collapses_and_a_gone_device_is_forgotten() {
    let (server, _dir) = pushing_server(1_000).await;
    let Team {
        a,
        c,
        bob,
        mut service,
        team,
        ..
    } = team(&server).await;
    let (mut wa, _) = connect(&server, &a).await;
    for i in 1..=10 {
        wa.say(team.id, &format!("m{i}")).await;
    }
    // Each device: the first notice at once, the latest one when the window ends.
    let mut last = std::collections::HashMap::new();
    let mut count = 0;
    while let Some(got) = service.next(Duration::from_secs(3)).await {
        count += 1;
        last.insert(got.path.clone(), got.notice);
    }
    assert!(
        (2..=4).contains(&count),
        "10 messages made {count} notices for 2 devices"
    );
    for device in ["/push/bobs-phone", "/push/carols-laptop"] {
        let n = &last[device];
        assert_eq!(
            (&n["title"], &n["body"], &n["unread"], &n["total"]),
            (&json!("alice in Team"), &json!("m10"), &json!(10), &json!(10)),
            "{device}"
        );
    }

    // Bob's service is busy once, then says his subscription is gone.
    service.answers.lock().unwrap().extend([503, 410]);
    let (mut wc, _) = connect(&server, &c).await;
    wc.say(team.id, "from carol").await;
    let first = service.next(Duration::from_secs(5)).await.expect("a try");
    let retry = service
        .next(Duration::from_secs(5))
        .await
        .expect("a retry after 503");
    assert_eq!(
        (first.path.as_str(), retry.path.as_str()),
        ("/push/bobs-phone", "/push/bobs-phone")
    );
    for _ in 0..50 {
        if server
            .state
            .store
            .push_subscriptions(bob.id)
            .await
            .unwrap()
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        server
            .state
            .store
            .push_subscriptions(bob.id)
            .await
            .unwrap()
            .is_empty(),
        "410 deletes the subscription"
    );
    let stats = server.state.pusher.stats();
    assert_eq!(stats.gone.load(std::sync::atomic::Ordering::Relaxed), 1);
}

#[tokio::test]
async fn a_muted_room_notifies_no_one_who_muted_it_and_unmuted_it_does_again() {
    let (server, _dir) = pushing_server(100).await;
    let Team {
        a,
        b,
        c,
        mut service,
        team,
        ..
    } = team(&server).await;
    // Bob mutes it; his other devices hear of it with the room's summary.
    let (mut wb, _) = connect(&server, &b).await;
    let muted: RoomSummary = api(
        &server,
        &b,
        "set_notify",
        json!({"room": team.id, "notify": "none"}),
    )
    .await;
    assert_eq!(muted.notify, Notify::None);
    let frame = wb.recv_until(|f| matches!(f, ServerFrame::Room(_))).await;
    assert!(matches!(frame, ServerFrame::Room(r) if r.id == team.id && r.notify == Notify::None));
    drop(wb);
    // Not for a room he is not in, nor with a level that does not exist.
    let stranger = api_status(
        &server,
        &c,
        "set_notify",
        json!({"room": team.id + 99, "notify": "none"}),
    )
    .await;
    assert_eq!(stranger, 404);
    let bad = api_status(
        &server,
        &b,
        "set_notify",
        json!({"room": team.id, "notify": "loud"}),
    )
    .await;
    assert_eq!(bad, 400);

    let (mut wa, _) = connect(&server, &a).await;
    wa.say(team.id, "while muted").await;
    let mut paths = Vec::new();
    while let Some(got) = service.next(Duration::from_secs(1)).await {
        paths.push(got.path);
    }
    assert_eq!(paths, ["/push/carols-laptop"], "only Carol is notified");
    // The room still counts as unread for Bob: muting is about notices only.
    let rooms: Vec<RoomSummary> = api(&server, &b, "my_rooms", json!({})).await;
    assert_eq!(rooms[0].unread(), 1);

    let _: RoomSummary = api(
        &server,
        &b,
        "set_notify",
        json!({"room": team.id, "notify": "all"}),
    )
    .await;
    wa.say(team.id, "unmuted").await;
    let mut paths = Vec::new();
    while let Some(got) = service.next(Duration::from_secs(1)).await {
        paths.push(got.path);
    }
    paths.sort();
    assert_eq!(paths, ["/push/bobs-phone", "/push/carols-laptop"]);
}

fn base64_url(s: &str) -> Vec<u8> {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    URL_SAFE_NO_PAD.decode(s).expect("base64url")
}

#[tokio::test]
async fn a_notice_held_back_for_its_collapse_window_goes_out_at_shutdown() {
    let (server, _dir) = pushing_server(60_000).await;
    let (_, a) = sign_up(&server, "alice").await;
    let (_, b) = sign_up(&server, "bob").await;
    let key: String = api(&server, &b, "push_key", json!({})).await;
    let mut service = PushService::start(&key).await;
    subscribe(&server, &b, &service.endpoint("bobs-phone")).await;
    let room: RoomSummary = api(&server, &a, "open_direct", json!({"handle": "bob"})).await;
    let (mut wa, _) = connect(&server, &a).await;
    // Bob is away: the first message is pushed at once and opens a
    // minute-long window, which holds the second back…
    wa.say(room.id, "one").await;
    let first = service
        .next(Duration::from_secs(10))
        .await
        .expect("pushed at once");
    assert_eq!(first.notice["body"], "one");
    wa.say(room.id, "two").await;
    assert!(
        service.next(Duration::from_millis(500)).await.is_none(),
        "held back"
    );
    drop(wa);
    // …until the node shuts down, which does not end before it is pushed.
    server.shut_down().await;
    let got = service
        .next(Duration::from_secs(1))
        .await
        .expect("pushed at shutdown");
    assert_eq!(got.notice["body"], "two");
}

/// A delete sends a quiet replacement for the room's notification, with
/// what the room shows now; an edit or a reaction notifies no one.
#[tokio::test]
async fn a_delete_replaces_the_notice_and_edits_and_reactions_notify_no_one() {
    let (server, _dir) = pushing_server(100).await;
    let (mut service, room, seq, got, mut wa) = bob_online_then_away(&server, &server).await;
    assert_eq!(got.notice["body"], "second");
    for frame in [
        ClientFrame::Edit {
            room,
            cid: uuid::Uuid::new_v4(),
            target: seq,
            body: "second, edited".into(),
            mentions: vec![],
        },
        ClientFrame::React {
            room,
            cid: uuid::Uuid::new_v4(),
            target: seq,
            emoji: "👍".into(),
        },
    ] {
        wa.send(&frame).await;
        wa.recv_until(|f| matches!(f, ServerFrame::Ack { .. })).await;
    }
    assert!(
        service.next(Duration::from_millis(800)).await.is_none(),
        "an edit and a reaction notify no one"
    );
    wa.send(&ClientFrame::Delete {
        room,
        cid: uuid::Uuid::new_v4(),
        target: seq,
    })
    .await;
    let got = service
        .next(Duration::from_secs(10))
        .await
        .expect("a replacement");
    assert_eq!(got.topic, format!("room-{room}"));
    assert_eq!(got.notice["replace"], true);
    assert_eq!(got.notice["body"], "Message deleted");
    assert_eq!(got.notice["title"], "alice", "the room's name, not the deleter's");
    assert!(
        !got.notice.to_string().contains("second"),
        "no trace of the text: {}",
        got.notice
    );
}

/// Sends `frame` and waits for its ack.
async fn acked(ws: &mut Ws, frame: ClientFrame) {
    ws.send(&frame).await;
    ws.recv_until(|f| matches!(f, ServerFrame::Ack { .. })).await;
}

/// The notices that come within a second, as (device, body), sorted.
async fn notices(service: &mut PushService) -> Vec<(String, String)> {
    let mut got = Vec::new();
    while let Some(n) = service.next(Duration::from_secs(1)).await {
        got.push((n.path, n.notice["body"].as_str().unwrap_or("").to_string()));
    }
    got.sort();
    got
}

/// A room set to "mentions and replies" notifies that member only for what
/// calls them by name: a mention, a reply to their message, an edit that
/// adds a mention of them (once); the others still hear every message.
#[tokio::test]
async fn a_room_set_to_mentions_notifies_only_for_mentions_and_replies() {
    let (server, _dir) = pushing_server(100).await;
    let Team {
        a,
        b,
        bob,
        mut service,
        team,
        ..
    } = team(&server).await;
    let (mut wb, _) = connect(&server, &b).await;
    let bobs = wb.say(team.id, "from bob").await;
    let level: RoomSummary = api(
        &server,
        &b,
        "set_notify",
        json!({"room": team.id, "notify": "mentions"}),
    )
    .await;
    assert_eq!(level.notify, Notify::Mentions);
    let (mut wa, _) = connect(&server, &a).await;
    drop(wb);
    wa.recv_until(|f| matches!(f, ServerFrame::Presence(p) if p.user == bob.id && !p.online))
        .await;
    notices(&mut service).await;
    let carol = |body: &str| ("/push/carols-laptop".to_string(), body.to_string());
    let bob_ = |body: &str| ("/push/bobs-phone".to_string(), body.to_string());

    let plain = wa.say(team.id, "plain").await;
    assert_eq!(
        notices(&mut service).await,
        [carol("plain")],
        "Bob hears nothing of it"
    );
    let send = |body: &str, reply_to, mentions| ClientFrame::Send {
        room: team.id,
        cid: uuid::Uuid::new_v4(),
        body: body.into(),
        reply_to,
        mentions,
        files: vec![],
    };
    acked(&mut wa, send("@bob look", None, vec![bob.id])).await;
    assert_eq!(
        notices(&mut service).await,
        [bob_("@bob look"), carol("@bob look")]
    );
    acked(&mut wa, send("an answer", Some(bobs), vec![])).await;
    assert_eq!(
        notices(&mut service).await,
        [bob_("an answer"), carol("an answer")]
    );
    // An edit that adds Bob tells Bob alone, once.
    let edit = |mentions| ClientFrame::Edit {
        room: team.id,
        cid: uuid::Uuid::new_v4(),
        target: plain,
        body: "plain, @bob".into(),
        mentions,
    };
    acked(&mut wa, edit(vec![bob.id])).await;
    assert_eq!(notices(&mut service).await, [bob_("plain, @bob")]);
    acked(&mut wa, edit(vec![bob.id])).await;
    assert_eq!(notices(&mut service).await, [], "he was called already");
    // What Bob's room list says: three unread messages call him.
    let rooms: Vec<RoomSummary> = api(&server, &b, "my_rooms", json!({})).await;
    assert_eq!((rooms[0].unread(), rooms[0].mentions()), (3, 3));
}
