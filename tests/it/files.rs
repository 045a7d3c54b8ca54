//! Files through their real surface: tus uploads over HTTP, the send that
//! names them over the WebSocket, the file served to members only; on both
//! shapes, SQLite with a local directory and PostgreSQL with a real
//! S3-speaking server on loopback (`scripts/s3.sh`).

use std::io::Cursor;

use base64::Engine;
use chat::model::{Attachment, FilePage, RoomSummary};
use chat::protocol::{ClientFrame, ErrorCode, ServerFrame};
use chat::server::Config;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::common::{self, api, sign_up, ws::connect, Node, TestServer};
use crate::ws::ack;

/// A server of each shape this machine can run: SQLite and a directory;
/// PostgreSQL and S3 (when their test services are there).
async fn shapes(tune: impl Fn(&mut Config)) -> Vec<(TestServer, Option<tempfile::TempDir>)> {
    let (url, dir) = common::sqlite_url();
    let mut local = Config::for_database(&url);
    tune(&mut local);
    let mut out = vec![(TestServer::start(local).await, Some(dir))];
    if let (Some(pg), Some((files, endpoint))) = (common::postgres_url().await, common::s3_files()) {
        let mut s3 = Config::for_database(&pg);
        (s3.files, s3.s3_endpoint) = (Some(files), Some(endpoint));
        tune(&mut s3);
        out.push((TestServer::start(s3).await, None));
    }
    out
}

fn metadata(name: &str) -> String {
    format!(
        "filename {}",
        base64::engine::general_purpose::STANDARD.encode(name)
    )
}

/// Opens an upload: the response (201 with its Location, or a refusal).
async fn create(server: &impl Node, cookie: &str, name: &str, length: u64) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.url("/uploads"))
        .header("cookie", cookie)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", length)
        .header("upload-metadata", metadata(name))
        .send()
        .await
        .unwrap()
}

/// Opens an upload that is to be taken: its address.
async fn opened(server: &impl Node, cookie: &str, name: &str, length: u64) -> String {
    let res = create(server, cookie, name, length).await;
    assert_eq!(res.status(), StatusCode::CREATED, "open {name}");
    res.headers()["location"].to_str().unwrap().to_string()
}

async fn patch(
    server: &impl Node,
    cookie: &str,
    location: &str,
    offset: u64,
    part: &[u8],
) -> reqwest::Response {
    reqwest::Client::new()
        .patch(server.url(location))
        .header("cookie", cookie)
        .header("tus-resumable", "1.0.0")
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", offset)
        .body(part.to_vec())
        .send()
        .await
        .unwrap()
}

async fn offset_of(server: &impl Node, cookie: &str, location: &str) -> Result<u64, StatusCode> {
    let res = reqwest::Client::new()
        .head(server.url(location))
        .header("cookie", cookie)
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    match res.status() {
        StatusCode::OK => Ok(res.headers()["upload-offset"].to_str().unwrap().parse().unwrap()),
        other => Err(other),
    }
}

/// Uploads `bytes` in parts of `part` bytes: its id, or the refusal.
pub(crate) async fn upload(
    server: &impl Node,
    cookie: &str,
    name: &str,
    bytes: &[u8],
    part: usize,
) -> Result<Uuid, (u16, String)> {
    let res = create(server, cookie, name, bytes.len() as u64).await;
    if res.status() != StatusCode::CREATED {
        return Err((res.status().as_u16(), res.text().await.unwrap()));
    }
    let location = res.headers()["location"].to_str().unwrap().to_string();
    for (i, chunk) in bytes.chunks(part).enumerate() {
        let res = patch(server, cookie, &location, (i * part) as u64, chunk).await;
        if res.status() != StatusCode::NO_CONTENT {
            return Err((res.status().as_u16(), res.text().await.unwrap()));
        }
    }
    Ok(location.rsplit('/').next().unwrap().parse().unwrap())
}

async fn get(server: &impl Node, cookie: Option<&str>, path: &str, range: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(server.url(path));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    if let Some(r) = range {
        req = req.header("range", r);
    }
    req.send().await.unwrap()
}

fn with_files(room: i64, cid: Uuid, body: &str, files: Vec<Uuid>) -> ClientFrame {
    ClientFrame::Send {
        room,
        cid,
        body: body.into(),
        reply_to: None,
        mentions: vec![],
        files,
    }
}

/// Bytes that are a PDF by their signature, `n` long.
pub(crate) fn pdf(n: usize) -> Vec<u8> {
    let mut b = b"%PDF-1.7\n".to_vec();
    b.extend((0..n - b.len()).map(|i| (i * 7 % 251) as u8));
    b
}

async fn group(server: &TestServer) -> ([String; 3], RoomSummary) {
    let (_, a) = sign_up(server, "ann").await;
    let (_, b) = sign_up(server, "ben").await;
    let (_, c) = sign_up(server, "cat").await;
    let room: RoomSummary = api(
        server,
        &a,
        "create_group",
        json!({"name": "Files", "members": ["ben"]}),
    )
    .await;
    ([a, b, c], room)
}

/// An upload resumes where it stopped; the message that names it carries
/// it to the members, live and in history; the file is served to them
/// (with ranges) and to nobody else; it is sent once; a delete takes the
/// bytes.
#[tokio::test]
async fn an_upload_resumes_rides_a_message_and_reaches_members_only() {
    for (server, _dir) in shapes(|_| {}).await {
        let ([a, b, c], room) = group(&server).await;
        let bytes = pdf(300_000);
        let location = opened(&server, &a, "../../reports/Q3 회의.pdf", bytes.len() as u64).await;
        assert_eq!(
            patch(&server, &a, &location, 0, &bytes[..100_000]).await.status(),
            StatusCode::NO_CONTENT
        );
        // The connection dropped: where was it? Another person sees no upload.
        assert_eq!(offset_of(&server, &a, &location).await, Ok(100_000));
        assert_eq!(
            offset_of(&server, &b, &location).await,
            Err(StatusCode::NOT_FOUND)
        );
        let wrong = patch(&server, &a, &location, 50_000, &bytes[50_000..100_000]).await;
        assert_eq!(wrong.status(), StatusCode::CONFLICT);
        assert_eq!(wrong.headers()["upload-offset"], "100000");
        for at in [100_000, 200_000] {
            let res = patch(&server, &a, &location, at as u64, &bytes[at..at + 100_000]).await;
            assert_eq!(res.status(), StatusCode::NO_CONTENT);
        }
        let id: Uuid = location.rsplit('/').next().unwrap().parse().unwrap();

        let (mut wa, _) = connect(&server, &a).await;
        let (mut wb, _) = connect(&server, &b).await;
        let cid = Uuid::new_v4();
        wa.send(&with_files(room.id, cid, "", vec![id])).await;
        let ServerFrame::Ack { seq, files, .. } = ack(&mut wa, cid).await else {
            panic!("not acked")
        };
        let file = Attachment {
            id,
            name: "Q3 회의.pdf".into(),
            size: bytes.len() as u64,
            mime: "application/pdf".into(),
            ..Attachment::default()
        };
        assert_eq!(
            files,
            std::slice::from_ref(&file),
            "the name without its path, the type from the bytes"
        );
        let live = wb.recv_until(|f| matches!(f, ServerFrame::Msg(_))).await;
        assert!(matches!(&live, ServerFrame::Msg(m) if m.files == [file.clone()] && m.seq == seq));
        // A resend answers the same; another message cannot take it again.
        wa.send(&with_files(room.id, cid, "", vec![id])).await;
        assert!(matches!(ack(&mut wa, cid).await, ServerFrame::Ack { seq: s, .. } if s == seq));
        let again = Uuid::new_v4();
        wa.send(&with_files(room.id, again, "twice", vec![id])).await;
        assert!(matches!(
            ack(&mut wa, again).await,
            ServerFrame::Error {
                code: ErrorCode::BadFrame,
                ..
            }
        ));
        // Nor can Ben send Ann's upload.
        let theirs = Uuid::new_v4();
        wb.send(&with_files(room.id, theirs, "mine now", vec![id])).await;
        assert!(matches!(
            ack(&mut wb, theirs).await,
            ServerFrame::Error {
                code: ErrorCode::BadFrame,
                ..
            }
        ));
        // History carries it too.
        wb.send(&ClientFrame::Sync {
            room: room.id,
            after: 0,
            limit: None,
        })
        .await;
        let batch = wb.recv_until(|f| matches!(f, ServerFrame::Batch { .. })).await;
        assert!(
            matches!(&batch, ServerFrame::Batch { msgs, .. } if msgs.iter().any(|m| m.files == [file.clone()]))
        );

        let url = file.url();
        let res = get(&server, Some(&b), &url, None).await;
        assert_eq!(res.status(), StatusCode::OK);
        let h = res.headers().clone();
        assert_eq!(h["content-type"], "application/pdf");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(h["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;"));
        assert!(h["content-security-policy"].to_str().unwrap().contains("sandbox"));
        assert_eq!(res.bytes().await.unwrap(), bytes);
        let part = get(&server, Some(&b), &url, Some("bytes=1000-1099")).await;
        assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            part.headers()["content-range"],
            format!("bytes 1000-1099/{}", bytes.len()).as_str()
        );
        assert_eq!(part.bytes().await.unwrap(), bytes[1000..1100]);
        let beyond = get(&server, Some(&b), &url, Some("bytes=999999999-")).await;
        assert_eq!(beyond.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        // Not a member, not logged in, no such file, no thumbnail of a PDF: all 404.
        for (cookie, path) in [
            (Some(c.as_str()), url.clone()),
            (None, url.clone()),
            (Some(b.as_str()), format!("/files/{}", Uuid::new_v4())),
            (Some(b.as_str()), "/files/..%2F..%2Fetc%2Fpasswd".into()),
            (Some(b.as_str()), file.thumb_url()),
        ] {
            assert_eq!(
                get(&server, cookie, &path, None).await.status(),
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }

        // The room's files and media: for members only.
        let page: FilePage = api(&server, &b, "room_files", json!({"room": room.id})).await;
        assert_eq!((page.files.len(), page.more), (1, false));
        assert_eq!((page.files[0].seq, &page.files[0].file), (seq, &file));
        assert_eq!(
            common::api_status(&server, &c, "room_files", json!({"room": room.id})).await,
            403
        );

        // Deleted for everyone: not served at once; its bytes go with the sweep.
        let del = Uuid::new_v4();
        wa.send(&ClientFrame::Delete {
            room: room.id,
            cid: del,
            target: seq,
        })
        .await;
        ack(&mut wa, del).await;
        assert_eq!(
            get(&server, Some(&b), &url, None).await.status(),
            StatusCode::NOT_FOUND
        );
        assert!(server.state.files.kept(id).await);
        assert_eq!(server.state.files.sweep().await.unwrap(), 1);
        assert!(
            !server.state.files.kept(id).await,
            "{}",
            server.state.store.backend()
        );
        wb.send(&ClientFrame::Sync {
            room: room.id,
            after: 0,
            limit: None,
        })
        .await;
        let batch = wb.recv_until(|f| matches!(f, ServerFrame::Batch { .. })).await;
        assert!(matches!(&batch, ServerFrame::Batch { msgs, .. } if msgs.iter().all(|m| m.files.is_empty())));
        let page: FilePage = api(&server, &b, "room_files", json!({"room": room.id})).await;
        assert!(page.files.is_empty(), "a deleted message's file is not listed");
    }
}

/// EXIF of a JPEG: orientation 6 (turned a quarter to the right) and a GPS
/// latitude, as a phone writes them; `tiff` is big-endian.
fn exif_app1() -> Vec<u8> {
    let mut tiff: Vec<u8> = b"MM\0\x2a\0\0\0\x08".to_vec();
    // IFD0 at 8: orientation, the GPS IFD's offset (38); no next IFD.
    tiff.extend([0, 2]);
    tiff.extend([0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0]);
    tiff.extend([0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 38]);
    tiff.extend([0, 0, 0, 0]);
    // GPS IFD at 38: latitude ref "N", latitude at 68; no next IFD.
    tiff.extend([0, 2]);
    tiff.extend([0, 1, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0]);
    tiff.extend([0, 2, 0, 5, 0, 0, 0, 3, 0, 0, 0, 68]);
    tiff.extend([0, 0, 0, 0]);
    for (num, den) in [(37u32, 1u32), (33, 1), (1234, 100)] {
        tiff.extend(num.to_be_bytes());
        tiff.extend(den.to_be_bytes());
    }
    let mut app1 = vec![0xff, 0xe1];
    app1.extend(((2 + 6 + tiff.len()) as u16).to_be_bytes());
    app1.extend(b"Exif\0\0");
    app1.extend(tiff);
    app1
}

/// A 40×30 photo whose EXIF says to turn it upright and where it was taken.
fn phone_photo() -> Vec<u8> {
    let img = image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([(x * 6) as u8, (y * 8) as u8, 128]));
    let mut jpeg = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut jpeg, image::ImageFormat::Jpeg)
        .unwrap();
    let jpeg = jpeg.into_inner();
    // Right after the start-of-image marker, as cameras put it.
    [&jpeg[..2], &exif_app1(), &jpeg[2..]].concat()
}

fn has_exif(bytes: &[u8]) -> bool {
    bytes.windows(6).any(|w| w == b"Exif\0\0") || bytes.windows(2).any(|w| w == [0xff, 0xe1])
}

/// An image is served re-encoded: upright, without its EXIF (GPS included),
/// with a thumbnail and a colour to show before it loads.
#[tokio::test]
async fn a_photo_is_served_upright_without_its_metadata() {
    for (server, _dir) in shapes(|_| {}).await {
        let ([a, b, _], room) = group(&server).await;
        let photo = phone_photo();
        assert!(has_exif(&photo));
        let decoded = image::load_from_memory(&photo).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (40, 30));
        let id = upload(&server, &a, "IMG_0001.jpg", &photo, 1 << 20)
            .await
            .unwrap();
        let (mut wa, _) = connect(&server, &a).await;
        let cid = Uuid::new_v4();
        wa.send(&with_files(room.id, cid, "from the trip", vec![id]))
            .await;
        let ServerFrame::Ack { files, .. } = ack(&mut wa, cid).await else {
            panic!("not acked")
        };
        let f = &files[0];
        assert_eq!(
            (f.mime.as_str(), f.w, f.h),
            ("image/jpeg", 30, 40),
            "turned upright"
        );
        assert!(f
            .color
            .as_deref()
            .is_some_and(|c| c.len() == 7 && c.starts_with('#')));

        let full = get(&server, Some(&b), &f.url(), None).await;
        assert!(full.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline;"));
        let full = full.bytes().await.unwrap();
        assert!(!has_exif(&full), "no EXIF in the served image");
        assert_eq!(full.len() as u64, f.size);
        let shown = image::load_from_memory(&full).unwrap();
        assert_eq!((shown.width(), shown.height()), (30, 40));
        let thumb = get(&server, Some(&b), &f.thumb_url(), None).await;
        assert_eq!(thumb.status(), StatusCode::OK);
        assert_eq!(thumb.headers()["content-type"], "image/jpeg");
        let thumb = thumb.bytes().await.unwrap();
        assert!(!has_exif(&thumb), "no EXIF in the thumbnail");
        let small = image::load_from_memory(&thumb).unwrap();
        assert_eq!(
            (small.width(), small.height()),
            (30, 40),
            "small images are not enlarged"
        );
    }
}

/// Each bad upload is refused with a clear error and leaves nothing behind.
#[tokio::test]
async fn bad_uploads_are_refused_and_leave_nothing() {
    let tune = |c: &mut Config| {
        c.file_max_bytes = 400_000;
        c.upload_bytes_per_day = 2_000_000;
        c.uploads_open = 3;
        c.image_max_pixels = 1_000_000;
    };
    for (server, _dir) in shapes(tune).await {
        let ([a, b, _], _) = group(&server).await;
        let refused = |r: Result<Uuid, (u16, String)>| r.expect_err("refused");
        let (status, why) = refused(upload(&server, &a, "big.pdf", &pdf(500_000), 1 << 20).await);
        assert_eq!(
            (status, why.as_str()),
            (413, "A file may have at most 391 KB (this one has 488 KB).")
        );
        let exe = [b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff".as_slice(), &[0; 2000]].concat();
        let (status, why) = refused(upload(&server, &a, "setup.pdf", &exe, 1 << 20).await);
        assert_eq!(status, 415, "{why}");
        assert!(why.contains("cannot be sent"), "{why}");
        let noise: Vec<u8> = (0..5000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert_eq!(
            refused(upload(&server, &a, "noise.bin", &noise, 1 << 20).await).0,
            415
        );
        // Text in the first part, binary after it: refused when complete.
        let half = [vec![b'a'; 3000], vec![0, 1, 2]].concat();
        assert_eq!(
            refused(upload(&server, &a, "notes.txt", &half, 1000).await).0,
            415
        );
        let corrupt = [b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".as_slice(), &[7; 500]].concat();
        let (status, why) = refused(upload(&server, &a, "broken.png", &corrupt, 1 << 20).await);
        assert_eq!(status, 422, "{why}");
        // An image bomb: a few bytes claiming 65535×65535 pixels.
        let bomb = b"GIF89a\xff\xff\xff\xff\x00\x00\x00\x2c\0\0\0\0\xff\xff\xff\xff\0\x02\x02\x44\x01\0\x3b";
        let (status, why) = refused(upload(&server, &a, "bomb.gif", bomb, 1 << 20).await);
        assert_eq!(status, 413, "{why}");
        assert!(why.contains("65535×65535"), "{why}");

        // The protocol's own rules.
        let location = opened(&server, &a, "x.pdf", 1000).await;
        let untyped = reqwest::Client::new()
            .patch(server.url(&location))
            .header("cookie", &a)
            .header("upload-offset", 0)
            .body(pdf(100))
            .send()
            .await
            .unwrap();
        assert_eq!(untyped.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(
            patch(&server, &a, &location, 0, &pdf(1001)).await.status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            patch(&server, &b, &location, 0, &pdf(100)).await.status(),
            StatusCode::NOT_FOUND
        );
        let stranger = create(&server, "chat_session=nobody", "x.pdf", 10).await;
        assert_eq!(stranger.status(), StatusCode::UNAUTHORIZED);
        let old = reqwest::Client::new()
            .post(server.url("/uploads"))
            .header("cookie", &a)
            .header("tus-resumable", "0.2.2")
            .header("upload-length", 10)
            .send()
            .await
            .unwrap();
        assert_eq!(old.status(), StatusCode::PRECONDITION_FAILED);
        let lengthless = reqwest::Client::new()
            .post(server.url("/uploads"))
            .header("cookie", &a)
            .send()
            .await
            .unwrap();
        assert_eq!(lengthless.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            create(&server, &a, "empty.txt", 0).await.status(),
            StatusCode::BAD_REQUEST
        );

        // Per person: unfinished uploads, then bytes a day.
        for _ in 0..2 {
            assert_eq!(
                create(&server, &a, "x.pdf", 1000).await.status(),
                StatusCode::CREATED
            );
        }
        assert_eq!(
            create(&server, &a, "x.pdf", 1000).await.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        for _ in 0..6 {
            upload(&server, &b, "y.pdf", &pdf(300_000), 1 << 20)
                .await
                .unwrap();
        }
        let over = create(&server, &b, "y.pdf", 300_000).await;
        assert_eq!(over.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(over.text().await.unwrap().contains("a day"));

        // Nothing of the refused ones is kept: only the 6 complete ones (the
        // open ones have no bytes yet).
        assert_eq!(
            server.state.files.count_kept().await,
            6,
            "{}",
            server.state.store.backend()
        );
    }
}

/// Two nodes behind a load balancer share PostgreSQL, Redis and S3: a file
/// uploaded through one is served by the other.
#[tokio::test]
async fn two_nodes_serve_each_others_uploads() {
    let (Some(pg), Some((redis, prefix)), Some((files, endpoint))) = (
        common::postgres_url().await,
        common::redis_url(),
        common::s3_files(),
    ) else {
        return;
    };
    let node = |_: u8| {
        let mut c = Config::for_database(&pg);
        (c.redis_url, c.redis_prefix) = (Some(redis.clone()), prefix.clone());
        (c.files, c.s3_endpoint) = (Some(files.clone()), Some(endpoint.clone()));
        c
    };
    let one = TestServer::start(node(1)).await;
    let two = TestServer::start(node(2)).await;
    let ([a, b, _], room) = group(&one).await;
    let bytes = pdf(50_000);
    // Parts of one upload through both nodes, as a balancer may route them.
    let location = opened(&one, &a, "shared.pdf", bytes.len() as u64).await;
    assert_eq!(
        patch(&one, &a, &location, 0, &bytes[..20_000]).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(offset_of(&two, &a, &location).await, Ok(20_000));
    assert_eq!(
        patch(&two, &a, &location, 20_000, &bytes[20_000..])
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let id: Uuid = location.rsplit('/').next().unwrap().parse().unwrap();
    let (mut wa, _) = connect(&one, &a).await;
    let cid = Uuid::new_v4();
    wa.send(&with_files(room.id, cid, "here", vec![id])).await;
    assert!(matches!(ack(&mut wa, cid).await, ServerFrame::Ack { .. }));
    for node in [&one, &two] {
        let res = get(node, Some(&b), &format!("/files/{id}"), None).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.bytes().await.unwrap(), bytes);
    }
}

/// An upload never sent is removed after its time; a cancelled one at once.
#[tokio::test]
async fn unsent_and_cancelled_uploads_are_removed() {
    for (server, _dir) in shapes(|c| c.upload_ttl_secs = 0).await {
        let ([a, _, _], _) = group(&server).await;
        let kept = upload(&server, &a, "draft.pdf", &pdf(10_000), 4_000)
            .await
            .unwrap();
        assert!(server.state.files.kept(kept).await);
        let location = opened(&server, &a, "gone.pdf", 10_000).await;
        patch(&server, &a, &location, 0, &pdf(10_000)[..4_000]).await;
        let cancel = reqwest::Client::new()
            .delete(server.url(&location))
            .header("cookie", &a)
            .header("tus-resumable", "1.0.0")
            .send()
            .await
            .unwrap();
        assert_eq!(cancel.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            offset_of(&server, &a, &location).await,
            Err(StatusCode::NOT_FOUND)
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        assert_eq!(server.state.files.sweep().await.unwrap(), 1);
        assert!(!server.state.files.kept(kept).await);
        assert_eq!(server.state.files.count_kept().await, 0);
    }
}
