//! Graceful shutdown of a real node process: on SIGTERM it takes no new
//! connections, acknowledges the sends it has read only after committing
//! them, closes every socket with 1001 "going away" (clients resume on
//! another node) and exits 0 within the grace period.

use crate::common;

use std::time::Duration;

use chat::model::RoomSummary;
use chat::protocol::{ClientFrame, ServerFrame};
use common::ws::connect;
use common::{api, sign_up, NodeProcess};
use futures::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

#[tokio::test]
async fn sigterm_acks_what_was_read_closes_with_1001_and_exits_0() {
    let (url, _dir) = common::sqlite_url();
    let mut node = NodeProcess::start(&[("DATABASE_URL", url.as_str())]).await;
    let (_, a) = sign_up(&node, "alice").await;
    sign_up(&node, "bob").await;
    let room: RoomSummary = api(&node, &a, "open_direct", json!({"handle": "bob"})).await;
    let (mut ws, _) = connect(&node, &a).await;

    // Sends in flight when the signal comes: the first is acked for sure.
    let first = Uuid::new_v4();
    ws.send(&ClientFrame::Send {
        reply_to: None,
        room: room.id,
        cid: first,
        body: "m0".into(),
        mentions: vec![],
        files: vec![],
    })
    .await;
    ws.recv_until(|f| matches!(f, ServerFrame::Ack { cid, .. } if *cid == first))
        .await;
    for i in 1..40 {
        ws.send(&ClientFrame::Send {
            reply_to: None,
            room: room.id,
            cid: Uuid::new_v4(),
            body: format!("m{i}"),
            mentions: vec![],
            files: vec![],
        })
        .await;
    }
    node.terminate();

    let mut acked = vec![1];
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(15), ws.socket.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                if let ServerFrame::Ack { seq, .. } = serde_json::from_str(&t).unwrap() {
                    acked.push(seq);
                }
            }
            Ok(Some(Ok(Message::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => continue,
            other => panic!("the socket ended without a close frame: {other:?}"),
        }
    };
    // Polling once more sends the client's half of the closing handshake.
    let _ = ws.socket.next().await;
    let close = close.expect("a close frame with a code");
    assert_eq!(u16::from(close.code), 1001, "going away: {close:?}");
    let status = node
        .exited(Duration::from_secs(15))
        .await
        .expect("exits within the grace period");
    assert!(status.success(), "exit status {status:?}");
    assert!(
        reqwest::get(common::Node::url(&node, "/healthz")).await.is_err(),
        "no new connections"
    );

    // No ack without a commit: every acked seq is in the database.
    let store = common::open(&url).await;
    let stored: Vec<i64> = store
        .messages_after(room.id, 0, 100)
        .await
        .unwrap()
        .iter()
        .map(|m| m.seq)
        .collect();
    for seq in &acked {
        assert!(stored.contains(seq), "acked seq {seq} is stored ({stored:?})");
    }
}
