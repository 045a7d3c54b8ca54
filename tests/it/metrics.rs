//! `GET /metrics` scraped like Prometheus would, before and after real
//! traffic over WebSockets: the counters move by what happened.

use crate::common;

use std::collections::HashMap;

use chat::model::RoomSummary;
use chat::protocol::{ClientFrame, ServerFrame};
use chat::server::Config;
use common::ws::connect;
use common::{api, sign_up, Node, TestServer};
use serde_json::json;
use uuid::Uuid;

/// Every sample of the exposition, by name with labels, after checking that
/// each sample's metric has a TYPE line.
async fn scrape(server: &TestServer) -> HashMap<String, f64> {
    let res = reqwest::get(server.url("/metrics")).await.unwrap();
    assert!(res.status().is_success());
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = res.text().await.unwrap();
    let mut typed = Vec::new();
    let mut samples = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            typed.push(rest.split(' ').next().unwrap().to_string());
        } else if !line.starts_with('#') && !line.is_empty() {
            let (name, value) = line.rsplit_once(' ').expect("name value");
            let base = name.split('{').next().unwrap();
            assert!(
                typed.iter().any(|t| base.starts_with(t.as_str())),
                "{base} has no TYPE line"
            );
            samples.insert(name.to_string(), value.parse().expect("a number"));
        }
    }
    samples
}

#[tokio::test]
async fn metrics_move_with_the_traffic() {
    let (url, _dir) = common::sqlite_url();
    let server = TestServer::start(Config::for_database(&url)).await;
    let (_, a) = sign_up(&server, "alice").await;
    let (_, b) = sign_up(&server, "bob").await;
    let (_, c) = sign_up(&server, "carol").await;
    let room: RoomSummary = api(&server, &a, "open_direct", json!({"handle": "bob"})).await;
    let before = scrape(&server).await;
    assert_eq!(before["chat_connections"], 0.0);
    assert_eq!(before["chat_sends_total{result=\"acked\"}"], 0.0);
    assert_eq!(before["chat_ack_seconds_count"], 0.0);

    let (mut wa, _) = connect(&server, &a).await;
    let (mut wb, _) = connect(&server, &b).await;
    let (mut wc, _) = connect(&server, &c).await;
    for i in 0..3 {
        let cid = Uuid::new_v4();
        wa.send(&ClientFrame::Send {
            reply_to: None,
            room: room.id,
            cid,
            body: format!("m{i}"),
            mentions: vec![],
            files: vec![],
        })
        .await;
        wa.recv_until(|f| matches!(f, ServerFrame::Ack { cid: c, .. } if *c == cid))
            .await;
        wb.recv_until(|f| matches!(f, ServerFrame::Msg(_))).await;
    }
    // Carol is not in the room; then she floods typing.
    wc.send(&ClientFrame::Send {
        reply_to: None,
        room: room.id,
        cid: Uuid::new_v4(),
        body: "let me in".into(),
        mentions: vec![],
        files: vec![],
    })
    .await;
    wc.recv_until(|f| matches!(f, ServerFrame::Error { .. })).await;
    sign_up(&server, "dan").await;
    let dm: RoomSummary = api(&server, &c, "open_direct", json!({"handle": "dan"})).await;
    wc.recv_until(|f| matches!(f, ServerFrame::Room(_))).await;
    for _ in 0..5 {
        wc.send(&ClientFrame::Typing { room: dm.id }).await;
    }
    wc.recv_until(|f| matches!(f, ServerFrame::Error { .. })).await;

    let after = scrape(&server).await;
    assert_eq!(after["chat_connections"], 3.0);
    assert_eq!(after["chat_sends_total{result=\"acked\"}"], 3.0);
    assert_eq!(after["chat_sends_total{result=\"refused\"}"], 1.0);
    assert_eq!(after["chat_ack_seconds_count"], 4.0);
    assert_eq!(after["chat_ack_seconds_bucket{le=\"+Inf\"}"], 4.0);
    assert!(after["chat_ack_seconds_sum"] > 0.0);
    assert!(
        after["chat_ack_seconds_bucket{le=\"0.0005\"}"] <= after["chat_ack_seconds_bucket{le=\"2.5\"}"],
        "buckets are cumulative"
    );
    // Alice's and Bob's copies of 3 messages, receipts, presence…
    assert!(
        after["chat_deliveries_total"] >= 6.0,
        "{}",
        after["chat_deliveries_total"]
    );
    assert!(after["chat_rate_limited_total"] >= 4.0);
    for name in [
        "chat_resyncs_total",
        "chat_lagging_connections_total",
        "chat_bus_reconnects_total",
        "chat_bus_publish_failures_total",
        "chat_cache_reads_total{result=\"hit\"}",
        "chat_push_total{result=\"sent\"}",
    ] {
        assert!(after.contains_key(name), "{name} is exported");
    }
    drop((wa, wb));
    let mut gone = scrape(&server).await;
    for _ in 0..50 {
        if gone["chat_connections"] == 1.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        gone = scrape(&server).await;
    }
    assert_eq!(
        gone["chat_connections"], 1.0,
        "closed connections leave the gauge"
    );
}
