//! Web Push keys and subscriptions over real HTTP: one VAPID key for the
//! deployment (the same after a restart and on every node), subscriptions
//! checked on the way in, tied to the session and gone with it.

mod common;

use chat::server::Config;
use common::{api, sign_up, Node, TestServer};
use serde_json::json;

// A valid user agent key pair's public half and auth secret (RFC 8291, section 5).
const P256DH: &str =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

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

fn base64_url(s: &str) -> Vec<u8> {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    URL_SAFE_NO_PAD.decode(s).expect("base64url")
}
