//! W10, files (the product only): how fast uploads go through the tus
//! endpoints as the browser sends them (1 MiB parts), how long a 12-megapixel
//! photo takes from its last byte to ready (decoded, turned upright, encoded
//! again, thumbnailed, stored), and the memory the server holds for each
//! upload in flight. On the embedded shape (SQLite and a directory).

use std::time::{Duration, Instant};

use anyhow::ensure;
use futures::StreamExt;
use serde::Serialize;

use crate::load::{histogram, Latency};

fn latency(us: &[u64]) -> Latency {
    let mut h = histogram();
    for &v in us {
        let _ = h.record(v.max(1));
    }
    Latency::of(&h)
}
use crate::peer::{Kind, Paths, Server, Setup};

/// Bytes of a part, as the browser sends them.
const PART: usize = 1024 * 1024;

#[derive(Clone, Debug, Serialize)]
pub struct Files {
    /// Uploads at once and the bytes of each (a PDF: stored as sent).
    pub uploaders: usize,
    pub file_mb: f64,
    pub upload_mb_per_sec: f64,
    pub server_cpu_ms_per_mb: f64,
    /// A 4000×3000 JPEG: its size, then from its last part sent to the
    /// answer that it is ready (the decoding and encoding happen there).
    pub photo_mb: f64,
    pub photo_ready: Latency,
    /// The same photo's last part alone, when it is not an image (the
    /// network and storage share of the above).
    pub plain_last_part: Latency,
    /// Uploads holding a part in flight at once, and the server's resident
    /// memory per such upload.
    pub in_flight: usize,
    pub kib_per_upload_in_flight: f64,
}

pub async fn files(
    paths: &Paths,
    uploaders: usize,
    file_mb: usize,
    photos: usize,
    in_flight: usize,
) -> anyhow::Result<Files> {
    let setup = Setup {
        users: 1,
        rooms: vec![vec![0]],
    };
    let server = Server::start_with(
        Kind::Chat,
        &setup,
        paths,
        &[
            ("CHAT_UPLOADS_OPEN", "100000"),
            ("CHAT_UPLOAD_BYTES_PER_DAY", "1000000000000"),
            ("CHAT_FILE_MAX_BYTES", "1000000000"),
        ],
    )
    .await?;
    let base = format!("http://{}", server.addr(0));
    let cookie = server.cookie(0).to_string();
    let http = reqwest::Client::new();

    // Throughput: several people upload a large file each at once.
    let big = pdf(file_mb * 1024 * 1024);
    let window = server.window();
    let started = Instant::now();
    let runs: Vec<_> = (0..uploaders)
        .map(|_| {
            let (http, base, cookie, big) = (http.clone(), base.clone(), cookie.clone(), big.clone());
            tokio::spawn(async move { upload(&http, &base, &cookie, &big).await })
        })
        .collect();
    for run in runs {
        run.await??;
    }
    let took = started.elapsed().as_secs_f64();
    let spent = window.end(&server);
    let total_mb = (uploaders * file_mb) as f64;

    // The photo, and the same bytes' last part as a plain file.
    let photo = photo(4000, 3000);
    let mut ready = Vec::new();
    let mut plain = Vec::new();
    for _ in 0..photos {
        ready.push(last_part_us(&http, &base, &cookie, &photo).await?);
        let mut as_pdf = pdf_head();
        as_pdf.extend_from_slice(&photo[as_pdf.len()..]);
        plain.push(last_part_us(&http, &base, &cookie, &as_pdf).await?);
    }

    // Memory: uploads each with a part of 1 MiB less a byte sent and held.
    let before = server.rss_kib();
    let (release, held) = tokio::sync::watch::channel(false);
    let mut hanging = Vec::new();
    for _ in 0..in_flight {
        let location = open(&http, &base, &cookie, 2 * PART as u64).await?;
        let (http, cookie, mut held) = (http.clone(), cookie.clone(), held.clone());
        let url = format!("{base}{location}");
        let part = pdf(PART);
        hanging.push(tokio::spawn(async move {
            let first = bytes::Bytes::copy_from_slice(&part[..PART - 1]);
            let last = bytes::Bytes::copy_from_slice(&part[PART - 1..]);
            let body = futures::stream::once(async move { Ok::<_, std::io::Error>(first) }).chain(
                futures::stream::once(async move {
                    let _ = held.wait_for(|go| *go).await;
                    Ok(last)
                }),
            );
            patch(
                &http,
                &url,
                &cookie,
                0,
                reqwest::Body::wrap_stream(body),
                PART as u64,
            )
            .await
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during = server.rss_kib();
    let _ = release.send(true);
    for h in hanging {
        h.await??;
    }
    server.stop();
    Ok(Files {
        uploaders,
        file_mb: file_mb as f64,
        upload_mb_per_sec: total_mb / took,
        server_cpu_ms_per_mb: spent.server_cpu * 1000.0 / total_mb,
        photo_mb: photo.len() as f64 / 1024.0 / 1024.0,
        photo_ready: latency(&ready),
        plain_last_part: latency(&plain),
        in_flight,
        kib_per_upload_in_flight: during.saturating_sub(before) as f64 / in_flight.max(1) as f64,
    })
}

fn pdf_head() -> Vec<u8> {
    b"%PDF-1.7\n".to_vec()
}

/// `n` bytes that are a PDF by their signature.
fn pdf(n: usize) -> Vec<u8> {
    let mut b = pdf_head();
    b.extend((b.len()..n).map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8));
    b
}

/// A photo-like JPEG: gradients and grain, so it compresses as photos do.
fn photo(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let grain = ((x.wrapping_mul(7919) ^ y.wrapping_mul(104_729)) % 23) as u8;
        image::Rgb([
            (x * 255 / w) as u8 ^ grain,
            (y * 255 / h) as u8,
            ((x + y) % 256) as u8 / 2 + grain,
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode a JPEG in memory");
    out.into_inner()
}

async fn open(http: &reqwest::Client, base: &str, cookie: &str, length: u64) -> anyhow::Result<String> {
    let res = http
        .post(format!("{base}/uploads"))
        .header("cookie", cookie)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", length)
        .send()
        .await?;
    ensure!(res.status().as_u16() == 201, "open an upload: {}", res.status());
    Ok(res.headers()["location"].to_str()?.to_string())
}

async fn patch(
    http: &reqwest::Client,
    url: &str,
    cookie: &str,
    at: u64,
    body: reqwest::Body,
    len: u64,
) -> anyhow::Result<()> {
    let res = http
        .patch(url)
        .header("cookie", cookie)
        .header("tus-resumable", "1.0.0")
        .header("content-type", "application/offset+octet-stream")
        .header("content-length", len)
        .header("upload-offset", at)
        .body(body)
        .send()
        .await?;
    ensure!(
        res.status().as_u16() == 204,
        "a part at {at}: {} {}",
        res.status(),
        res.text().await.unwrap_or_default()
    );
    Ok(())
}

/// Uploads `bytes` in 1 MiB parts, one after the other.
async fn upload(http: &reqwest::Client, base: &str, cookie: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let url = format!("{base}{}", open(http, base, cookie, bytes.len() as u64).await?);
    send_parts(http, &url, cookie, bytes).await
}

/// Sends `bytes` from offset 0 in 1 MiB parts.
async fn send_parts(http: &reqwest::Client, url: &str, cookie: &str, bytes: &[u8]) -> anyhow::Result<()> {
    for (i, chunk) in bytes.chunks(PART).enumerate() {
        let at = (i * PART) as u64;
        patch(http, url, cookie, at, chunk.to_vec().into(), chunk.len() as u64).await?;
    }
    Ok(())
}

/// Uploads `bytes`; how long the last part took to be answered (µs).
async fn last_part_us(http: &reqwest::Client, base: &str, cookie: &str, bytes: &[u8]) -> anyhow::Result<u64> {
    let url = format!("{base}{}", open(http, base, cookie, bytes.len() as u64).await?);
    let at = (bytes.len() - 1) / PART * PART;
    send_parts(http, &url, cookie, &bytes[..at]).await?;
    let last = bytes[at..].to_vec();
    let started = Instant::now();
    patch(
        http,
        &url,
        cookie,
        at as u64,
        last.into(),
        (bytes.len() - at) as u64,
    )
    .await?;
    Ok(started.elapsed().as_micros() as u64)
}
