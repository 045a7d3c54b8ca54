//! What browsers are told to enforce, and the limits on actions, over real
//! HTTP against `server::run` on a real SQLite: the security headers on
//! pages, API answers and static files, the page's Content-Security-Policy
//! and its per-response nonce, the violation report endpoint, the `__Host-`
//! session cookie behind HTTPS, and the per-person limits on room actions.
//! (That the app hydrates under the policy is tried in Chromium:
//! end2end/tests/security.spec.ts.)

use crate::common;

use chat::server::Config;
use common::{Node, TestServer};
use reqwest::{Client, Response, StatusCode};
use serde_json::json;

async fn embedded(change: impl FnOnce(&mut Config)) -> (TestServer, tempfile::TempDir) {
    let (url, dir) = common::sqlite_url();
    let mut config = Config::for_database(&url);
    change(&mut config);
    (TestServer::start(config).await, dir)
}

fn header<'a>(res: &'a Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .unwrap_or_else(|| panic!("{} has no {name}", res.url().path()))
        .to_str()
        .unwrap()
}

/// The nonce the policy of `res` allows, if any.
fn policy_nonce(res: &Response) -> Option<String> {
    let policy = header(res, "content-security-policy");
    let start = policy.find("'nonce-")? + "'nonce-".len();
    let len = policy[start..].find('\'')?;
    Some(policy[start..start + len].to_string())
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    // A site root with the two files every deployment serves besides the bundle.
    let site = tempfile::tempdir().unwrap();
    std::fs::write(
        site.path().join("favicon.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    )
    .unwrap();
    std::fs::write(
        site.path().join("sw.js"),
        "self.addEventListener('push', () => {});",
    )
    .unwrap();
    let root = site.path().to_str().unwrap().to_string();
    let (server, _dir) = embedded(|c| c.site_root = root).await;
    let (_, cookie) = common::sign_up(&server, "alice").await;
    let get = |path: &str| Client::new().get(server.url(path)).send();
    let answers = [
        get("/login").await.unwrap(),
        Client::new()
            .get(server.url("/"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap(),
        get("/no/such/page").await.unwrap(),
        get("/healthz").await.unwrap(),
        get("/ws").await.unwrap(),
        get("/favicon.svg").await.unwrap(),
        get("/sw.js").await.unwrap(),
        Client::new()
            .post(server.url("/api/me"))
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    ];
    let socket = format!("ws://127.0.0.1:{}", server.addr.port());
    for res in &answers {
        let at = res.url().path();
        let html = header(res, "content-type").starts_with("text/html");
        assert_eq!(html, ["/login", "/", "/no/such/page"].contains(&at), "{at}");
        assert_eq!(header(res, "x-content-type-options"), "nosniff", "{at}");
        assert_eq!(header(res, "referrer-policy"), "no-referrer", "{at}");
        assert_eq!(header(res, "x-frame-options"), "DENY", "{at}");
        assert_eq!(header(res, "cross-origin-opener-policy"), "same-origin", "{at}");
        assert!(header(res, "permissions-policy").contains("camera=()"), "{at}");
        assert!(
            res.headers().get("strict-transport-security").is_none(),
            "plain HTTP: {at}"
        );

        let policy = header(res, "content-security-policy");
        let directives: Vec<&str> = policy.split(';').map(str::trim).collect();
        for wanted in [
            "default-src 'self'",
            "style-src 'self'",
            "img-src 'self' blob: data:",
            &format!("connect-src 'self' {socket}"),
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "report-uri /csp-reports",
        ] {
            assert!(
                directives.iter().any(|d| d.starts_with(wanted)),
                "{at}: {wanted} not in {policy}"
            );
        }
        assert!(!policy.contains("'unsafe-inline'"), "{at}: {policy}");
        assert!(!policy.contains("'unsafe-eval'"), "{at}: {policy}");
        let scripts = directives.iter().find(|d| d.starts_with("script-src")).unwrap();
        match policy_nonce(res) {
            Some(nonce) => {
                assert!(html, "{at}: only pages have inline scripts");
                assert_eq!(
                    *scripts,
                    format!("script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'")
                );
            }
            None => {
                assert!(!html, "{at}: a page's policy names its nonce");
                assert_eq!(*scripts, "script-src 'self' 'wasm-unsafe-eval'", "{at}");
            }
        }
    }
    // Behind HTTPS, browsers are told to stay on it.
    let (secure, _dir2) = embedded(|c| c.secure_cookie = true).await;
    let res = Client::new().get(secure.url("/login")).send().await.unwrap();
    assert_eq!(header(&res, "strict-transport-security"), "max-age=31536000");
}

#[tokio::test]
async fn each_page_has_a_new_nonce_and_only_its_scripts_carry_it() {
    let (server, _dir) = embedded(|_| ()).await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..3 {
        let res = Client::new().get(server.url("/login")).send().await.unwrap();
        let nonce = policy_nonce(&res).expect("a page's policy has a nonce");
        assert!(nonce.len() >= 22, "128 bits at least: {nonce}");
        assert!(seen.insert(nonce.clone()), "the nonce {nonce} came twice");
        let html = res.text().await.unwrap();
        let scripts: Vec<&str> = html.split("<script").skip(1).collect();
        assert!(
            !scripts.is_empty(),
            "the page hydrates from an inline module script"
        );
        for script in scripts {
            let tag = &script[..script.find('>').unwrap()];
            assert!(
                tag.contains(&format!("nonce=\"{nonce}\"")),
                "a script without the nonce: <script{tag}>"
            );
        }
    }
}

#[tokio::test]
async fn browsers_report_policy_violations_a_few_at_a_time() {
    let (server, _dir) = embedded(|_| ()).await;
    let report = |content_type: &str, body: String| {
        Client::new()
            .post(server.url("/csp-reports"))
            .header("content-type", content_type)
            .header("x-forwarded-for", "203.0.113.7")
            .body(body)
            .send()
    };
    // `report-uri`'s shape (Firefox, Safari)…
    let legacy = json!({"csp-report": {
        "document-uri": "http://127.0.0.1/r/1",
        "effective-directive": "script-src-elem",
        "blocked-uri": "inline",
        "line-number": 3,
    }});
    // …and the Reporting API's (Chromium), a batch.
    let batch = json!([{"type": "csp-violation", "url": "http://127.0.0.1/", "body": {
        "documentURL": "http://127.0.0.1/",
        "effectiveDirective": "img-src",
        "blockedURL": "https://tracker.example/pixel.gif",
    }}]);
    let cases = [
        ("application/csp-report", legacy.to_string()),
        ("application/reports+json", batch.to_string()),
    ];
    for (content_type, body) in &cases {
        let res = report(content_type, body.clone()).await.unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "{content_type}");
    }
    for bad in ["not json", "{\"other\": 1}", "[]"] {
        let res = report("application/csp-report", bad.into()).await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    // Five per address (the bad ones counted), then one a minute.
    let res = report("application/csp-report", legacy.to_string())
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "a bad deploy cannot flood the log"
    );
    let res = Client::new()
        .post(server.url("/csp-reports"))
        .header("x-forwarded-for", "198.51.100.7")
        .body("x".repeat(70_000))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Every report that arrived is counted, logged or not: the figure to alert on.
    let metrics = Client::new()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("chat_browser_reports_total{kind=\"csp\"} 6\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn behind_https_the_session_cookie_is_host_prefixed() {
    let (server, _dir) = embedded(|c| c.secure_cookie = true).await;
    let res = Client::new()
        .post(server.url("/api/sign_up"))
        .json(&json!({"handle": "alice", "display_name": "", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let set = header(&res, "set-cookie").to_string();
    assert!(set.starts_with("__Host-chat_session="), "{set}");
    for attr in ["; Path=/;", "; Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(set.contains(attr), "{set} lacks {attr}");
    }
    assert!(!set.contains("Domain"), "{set}");
    let cookie = set.split(';').next().unwrap();
    let token = cookie.split_once('=').unwrap().1;
    let me = |cookie: String| {
        Client::new()
            .post(server.url("/api/me"))
            .header("cookie", cookie)
            .json(&json!({}))
            .send()
    };
    let res = me(cookie.to_string()).await.unwrap();
    assert!(res.text().await.unwrap().contains("alice"));
    // The same token under the plain name (as a plain-HTTP page or a
    // sibling subdomain could plant it) is not a session here.
    let res = me(format!("chat_session={token}")).await.unwrap();
    assert_eq!(res.text().await.unwrap(), "null");
}

#[tokio::test]
async fn room_actions_are_limited_per_person() {
    let (server, _dir) = embedded(|c| {
        c.groups_per_hour = 2;
        c.directs_per_hour = 2;
        c.adds_per_hour = 2;
    })
    .await;
    let (_, alice) = common::sign_up(&server, "alice").await;
    let (_, bob) = common::sign_up(&server, "bob").await;
    for handle in ["cat", "dan", "eve"] {
        common::sign_up(&server, handle).await;
    }
    let call = |cookie: &str, name: &str, body: serde_json::Value| {
        Client::new()
            .post(server.url(&format!("/api/{name}")))
            .header("cookie", cookie)
            .json(&body)
            .send()
    };
    let group = json!({"name": "Book club", "members": []});
    let mut room = 0;
    for _ in 0..2 {
        let res = call(&alice, "create_group", group.clone()).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        room = res.json::<serde_json::Value>().await.unwrap()["id"]
            .as_i64()
            .unwrap();
    }
    let cases = [
        ("create_group", group.clone(), "created many groups"),
        (
            "open_direct",
            json!({"handle": "cat"}),
            "opened many conversations",
        ),
        (
            "add_member",
            json!({"room": room, "handle": "dan"}),
            "added many people",
        ),
    ];
    for (name, body, words) in cases {
        if name != "create_group" {
            for _ in 0..2 {
                // Every attempt counts, a refused one too (no probing of handles).
                let _ = call(&alice, name, body.clone()).await.unwrap();
            }
        }
        let res = call(&alice, name, body.clone()).await.unwrap();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "{name}");
        let wait: u64 = header(&res, "retry-after").parse().unwrap();
        assert!(
            (1..=1800).contains(&wait),
            "{name}: an hour's allowance of 2 refills one in 30 min: {wait}"
        );
        let text = res.text().await.unwrap();
        assert!(
            text.contains(words) && text.contains(&format!("{wait} s")),
            "{name}: {text}"
        );
    }
    // Per person: Bob has his own allowance.
    let res = call(&bob, "create_group", group).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = call(&bob, "open_direct", json!({"handle": "eve"})).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}
