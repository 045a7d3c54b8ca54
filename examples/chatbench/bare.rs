//! The bare peer: a tokio-tungstenite broadcast server with nothing else
//! (no storage, no acks, no auth), the practical upper limit the product is
//! measured against. A client joins the room named in its URL (`/?room=N`);
//! each text frame goes, as is and shared, to every other client of the room.
//! Runs as its own process (`chatbench bare --port P`) so it can be pinned
//! and measured like the other servers.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

type Rooms = Arc<RwLock<HashMap<String, Vec<(u64, mpsc::Sender<Utf8Bytes>)>>>>;

pub async fn serve(port: u16) -> anyhow::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let rooms: Rooms = Arc::default();
    let mut next = 0u64;
    loop {
        let (stream, _) = listener.accept().await?;
        // As every server here: frames go out at once, not after Nagle's wait.
        stream.set_nodelay(true)?;
        next += 1;
        tokio::spawn(connection(stream, rooms.clone(), next));
    }
}

// The handshake callback's error type is tungstenite's, large as it is.
#[allow(clippy::result_large_err)]
async fn connection(stream: TcpStream, rooms: Rooms, id: u64) {
    let mut room = String::from("0");
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let accepted = tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        |req: &tokio_tungstenite::tungstenite::handshake::server::Request, res| {
            if let Some(r) = req.uri().query().and_then(|q| q.strip_prefix("room=")) {
                room = r.to_string();
            }
            Ok(res)
        },
        Some(config),
    )
    .await;
    let Ok(ws) = accepted else { return };
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(256);
    if let Ok(mut rooms) = rooms.write() {
        rooms.entry(room.clone()).or_default().push((id, tx));
    }
    // Queued frames go out in one write.
    let writer = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if sink.feed(Message::Text(frame)).await.is_err() {
                return;
            }
            while let Ok(frame) = rx.try_recv() {
                if sink.feed(Message::Text(frame)).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    while let Some(Ok(msg)) = stream.next().await {
        if let Message::Text(text) = msg {
            if let Ok(rooms) = rooms.read() {
                for (other, tx) in rooms.get(&room).into_iter().flatten() {
                    if *other != id {
                        let _ = tx.try_send(text.clone());
                    }
                }
            }
        }
    }
    if let Ok(mut rooms) = rooms.write() {
        if let Some(members) = rooms.get_mut(&room) {
            members.retain(|(other, _)| *other != id);
        }
    }
    writer.abort();
}
