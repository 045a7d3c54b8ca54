//! Browser only: uploads in the tus protocol (`server::uploads`), a part at
//! a time with its progress, resuming where the server says it stopped:
//! after the network went away (it waits for it to come back), and after a
//! reload (the upload's address is kept in localStorage under the file's
//! name, size and date, so picking the same file again goes on from there).
//! The server build compiles `upload_ssr.rs` instead.

use std::cell::RefCell;
use std::collections::HashMap;

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, File, FileList, XmlHttpRequest};

use leptos::prelude::*;

use super::attach::{Attaching, Pending, Stage};
use crate::model::{clean_file_name, Attachment};

/// Bytes per request: small enough that a dropped connection loses little
/// and the bar moves, large enough that a request's cost does not show.
const PART: f64 = 1024.0 * 1024.0;
const KEPT: &str = "chat.upload.";

struct Entry {
    file: File,
    /// The request in flight, to abort on cancel.
    xhr: Option<XmlHttpRequest>,
    cancelled: bool,
}

thread_local! {
    static FILES: RefCell<HashMap<u32, Entry>> = RefCell::new(HashMap::new());
    static NEXT: RefCell<u32> = const { RefCell::new(1) };
}

/// Takes the files a paste carries (true: the paste was files, not text).
pub fn from_paste(ev: &web_sys::ClipboardEvent, a: Attaching) -> bool {
    let files = ev.clipboard_data().and_then(|d| d.files());
    take(files, a)
}

/// Keeps files dragged onto the page from replacing it (a browser opens a
/// file dropped where nothing takes it): for the page's life. The open
/// room's composer takes them (`from_drop`).
pub fn guard_page() {
    let files = |ev: &web_sys::DragEvent| {
        ev.data_transfer()
            .is_some_and(|d| d.types().includes(&JsValue::from_str("Files"), 0))
    };
    let over = leptos::prelude::window_event_listener(leptos::ev::dragover, move |ev| {
        if files(&ev) {
            ev.prevent_default();
        }
    });
    let dropped = leptos::prelude::window_event_listener(leptos::ev::drop, move |ev| {
        if files(&ev) {
            ev.prevent_default();
        }
    });
    std::mem::forget((over, dropped));
}

/// Takes the files dropped on the page while a room is open.
pub fn from_drop(ev: &web_sys::DragEvent, a: Attaching) -> bool {
    take(ev.data_transfer().and_then(|d| d.files()), a)
}

/// Takes the files chosen with the file button (and empties it, so the
/// same file can be chosen again).
pub fn from_input(ev: &web_sys::Event, a: Attaching) {
    let Some(input) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
    else {
        return;
    };
    take(input.files(), a);
    input.set_value("");
}

fn take(files: Option<FileList>, a: Attaching) -> bool {
    let Some(files) = files.filter(|f| f.length() > 0) else {
        return false;
    };
    for i in 0..files.length() {
        if let Some(file) = files.get(i) {
            add(file, a);
        }
    }
    true
}

fn add(file: File, a: Attaching) {
    let key = NEXT.with(|n| {
        let mut n = n.borrow_mut();
        *n += 1;
        *n
    });
    let mime = file.type_();
    let preview = mime
        .starts_with("image/")
        .then(|| web_sys::Url::create_object_url_with_blob(&file).ok())
        .flatten();
    a.list.update(|l| {
        l.push(Pending {
            key,
            name: clean_file_name(&file.name()),
            size: file.size() as u64,
            mime,
            preview,
            sent: 0,
            stage: Stage::Uploading,
        })
    });
    FILES.with(|f| {
        f.borrow_mut().insert(
            key,
            Entry {
                file,
                xhr: None,
                cancelled: false,
            },
        )
    });
    leptos::task::spawn_local(run(key, a));
}

/// Stops file `key` and removes it (an upload the server holds is given up).
pub fn cancel(a: Attaching, key: u32) {
    let entry = FILES.with(|f| f.borrow_mut().remove(&key));
    if let Some(mut e) = entry {
        e.cancelled = true;
        if let Some(xhr) = e.xhr.take() {
            let _ = xhr.abort();
        }
        if let Some(url) = kept(&e.file) {
            forget_kept(&e.file);
            leptos::task::spawn_local(async move {
                let _ = request("DELETE", &url, &[], None).await;
            });
        }
    }
    drop_preview(a, key);
    a.list.update(|l| l.retain(|p| p.key != key));
}

/// Tries a refused or stalled file again, from where the server has it.
pub fn retry(a: Attaching, key: u32) {
    if FILES.with(|f| f.borrow().contains_key(&key)) {
        a.update(key, |p| p.stage = Stage::Uploading);
        leptos::task::spawn_local(run(key, a));
    }
}

/// Lets go of every file (they were sent with a message).
pub fn clear(a: Attaching) {
    let keys: Vec<u32> = a.list.with_untracked(|l| l.iter().map(|p| p.key).collect());
    for key in keys {
        drop_preview(a, key);
        FILES.with(|f| f.borrow_mut().remove(&key));
    }
    a.list.set(Vec::new());
}

fn drop_preview(a: Attaching, key: u32) {
    let url = a
        .list
        .with_untracked(|l| l.iter().find(|p| p.key == key).and_then(|p| p.preview.clone()));
    if let Some(url) = url {
        let _ = web_sys::Url::revoke_object_url(&url);
    }
}

fn fingerprint(file: &File) -> String {
    format!("{KEPT}{}:{}:{}", file.name(), file.size(), file.last_modified())
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn kept(file: &File) -> Option<String> {
    storage()?.get_item(&fingerprint(file)).ok().flatten()
}

fn keep(file: &File, url: &str) {
    if let Some(s) = storage() {
        let _ = s.set_item(&fingerprint(file), url);
    }
}

fn forget_kept(file: &File) {
    if let Some(s) = storage() {
        let _ = s.remove_item(&fingerprint(file));
    }
}

/// What a request got: its status (0: no answer, the network failed), the
/// headers tus answers with, and its text.
struct Reply {
    status: u16,
    offset: Option<u64>,
    location: Option<String>,
    text: String,
}

/// A part of file `key` to send (0: a file not the composer's);
/// `progress` hears how many of its bytes went.
struct Part<'a> {
    blob: &'a Blob,
    key: u32,
    progress: Box<dyn Fn(f64)>,
}

/// One request. While a part is in flight it is its file's, which a cancel
/// aborts.
async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: Option<Part<'_>>,
) -> Result<Reply, JsValue> {
    let xhr = XmlHttpRequest::new()?;
    xhr.open_with_async(method, url, true)?;
    xhr.set_request_header("Tus-Resumable", "1.0.0")?;
    for (name, value) in headers {
        xhr.set_request_header(name, value)?;
    }
    let mut resolve = None;
    let done = Promise::new(&mut |ok, _| resolve = Some(ok));
    let resolve = resolve.ok_or_else(|| JsValue::from_str("no promise"))?;
    let end = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        let _ = resolve.call0(&JsValue::NULL);
    });
    xhr.set_onloadend(Some(end.as_ref().unchecked_ref()));
    let (blob, moved) = match body {
        Some(Part { blob, key, progress }) => {
            let moved =
                Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
                    progress(e.loaded())
                });
            if let Ok(upload) = xhr.upload() {
                upload.set_onprogress(Some(moved.as_ref().unchecked_ref()));
            }
            FILES.with(|f| {
                if let Some(e) = f.borrow_mut().get_mut(&key) {
                    e.xhr = Some(xhr.clone());
                }
            });
            (Some(blob), Some(moved))
        }
        None => (None, None),
    };
    xhr.send_with_opt_blob(blob)?;
    Ok(xhr_reply(&xhr, done, (end, moved)).await)
}

/// Sends the picture a file input's `chosen` event picked (`PUT` with its
/// bytes), or removes it (`DELETE`, no event), at `url` (`server::avatars`):
/// the answer's text, or the refusal's; None if nothing was picked. Not one
/// of the composer's files: no progress, no resuming.
pub async fn picture(url: String, chosen: Option<web_sys::Event>) -> Option<Result<String, String>> {
    let file = match chosen {
        Some(ev) => {
            let input: web_sys::HtmlInputElement = ev.target()?.dyn_into().ok()?;
            let file = input.files().and_then(|f| f.get(0));
            // The same file may be chosen again later.
            input.set_value("");
            Some(file?)
        }
        None => None,
    };
    Some(send_picture(url, file).await)
}

async fn send_picture(url: String, file: Option<File>) -> Result<String, String> {
    let method = if file.is_some() { "PUT" } else { "DELETE" };
    let part = file.as_ref().map(|f| Part {
        blob: f,
        key: 0,
        progress: Box::new(|_| {}),
    });
    let reply = request(method, &url, &[], part)
        .await
        .map_err(|_| "The picture could not be sent.".to_string())?;
    match reply.status {
        200..=299 => Ok(reply.text),
        0 => Err("No connection: try again when you are back online.".into()),
        _ if reply.text.is_empty() => Err(format!("The picture was refused ({}).", reply.status)),
        _ => Err(reply.text),
    }
}

async fn xhr_reply<T>(xhr: &XmlHttpRequest, done: Promise, _alive: T) -> Reply {
    let _ = JsFuture::from(done).await;
    let header = |name: &str| xhr.get_response_header(name).ok().flatten();
    Reply {
        status: xhr.status().unwrap_or(0),
        offset: header("Upload-Offset").and_then(|v| v.trim().parse().ok()),
        location: header("Location"),
        text: xhr.response_text().ok().flatten().unwrap_or_default(),
    }
}

async fn sleep(ms: i32) {
    let wait = Promise::new(&mut |ok, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&ok, ms);
        }
    });
    let _ = JsFuture::from(wait).await;
}

fn online() -> bool {
    web_sys::window().is_none_or(|w| w.navigator().on_line())
}

fn live(key: u32) -> Option<File> {
    FILES.with(|f| {
        f.borrow()
            .get(&key)
            .filter(|e| !e.cancelled)
            .map(|e| e.file.clone())
    })
}

/// Uploads file `key` to the end, resuming after every interruption, until
/// it is done, refused, or cancelled.
async fn run(key: u32, a: Attaching) {
    let Some(file) = live(key) else { return };
    let size = file.size() as u64;
    let mut url = kept(&file);
    // Where the server is: asked (HEAD), or said by the answer to a part,
    // which alone also says the file is complete and checked.
    let mut offset: Option<u64> = None;
    let mut confirmed = false;
    let mut pause = 1_000;
    loop {
        let Some(file) = live(key) else { return };
        let step = match (&url, offset) {
            (None, _) => open(&file, size).await.map(|u| {
                keep(&file, &u);
                url = Some(u);
                offset = Some(0);
            }),
            (Some(u), None) => where_is(u).await.map(|at| {
                confirmed = false;
                match at {
                    Some(at) => offset = Some(at),
                    // Gone (expired, or refused meanwhile): start again.
                    None => {
                        forget_kept(&file);
                        url = None;
                    }
                }
            }),
            (Some(u), Some(at)) => {
                let u = u.clone();
                send_part(key, &file, &u, at, size, a).await.map(|next| {
                    confirmed = next.is_some();
                    offset = next;
                })
            }
        };
        match step {
            Ok(()) => {
                pause = 1_000;
                a.update(key, |p| p.stage = Stage::Uploading);
                let (Some(u), Some(at)) = (&url, offset) else {
                    continue;
                };
                a.update(key, |p| p.sent = at);
                if at == size && confirmed {
                    forget_kept(&file);
                    let id = u
                        .rsplit('/')
                        .next()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or_default();
                    a.update(key, |p| {
                        p.stage = Stage::Done(Attachment {
                            id,
                            name: p.name.clone(),
                            size,
                            mime: p.mime.clone(),
                            ..Attachment::default()
                        })
                    });
                    return;
                }
            }
            Err(Failure::Refused(why)) => {
                forget_kept(&file);
                a.update(key, |p| p.stage = Stage::Failed(why));
                return;
            }
            Err(Failure::Network) => {
                // Ask the server where it is once the network is back.
                offset = None;
                a.update(key, |p| p.stage = Stage::Waiting);
                while !online() {
                    sleep(500).await;
                    if live(key).is_none() {
                        return;
                    }
                }
                sleep(pause).await;
                pause = (pause * 2).min(15_000);
            }
        }
    }
}

enum Failure {
    Network,
    Refused(String),
}

fn refused(reply: Reply) -> Failure {
    match reply.status {
        0 | 502..=504 => Failure::Network,
        _ if reply.text.trim().is_empty() => Failure::Refused(format!("Refused ({})", reply.status)),
        _ => Failure::Refused(reply.text),
    }
}

async fn open(file: &File, size: u64) -> Result<String, Failure> {
    let headers = [
        ("Upload-Length", size.to_string()),
        (
            "Upload-Metadata",
            format!("filename {}", base64_name(&file.name())),
        ),
    ];
    let reply = request("POST", "/uploads", &headers, None)
        .await
        .map_err(|_| Failure::Network)?;
    match (reply.status, reply.location.clone()) {
        (201, Some(location)) => Ok(location),
        _ => Err(refused(reply)),
    }
}

async fn where_is(url: &str) -> Result<Option<u64>, Failure> {
    let reply = request("HEAD", url, &[], None)
        .await
        .map_err(|_| Failure::Network)?;
    match reply.status {
        200 => Ok(reply.offset),
        404 => Ok(None),
        _ => Err(refused(reply)),
    }
}

/// Sends the part at `at` (an empty one when the server has it all but
/// did not say it finished): the offset after it, or None to ask again.
async fn send_part(
    key: u32,
    file: &File,
    url: &str,
    at: u64,
    size: u64,
    a: Attaching,
) -> Result<Option<u64>, Failure> {
    let end = (at as f64 + PART).min(size as f64);
    let part = file
        .slice_with_f64_and_f64(at as f64, end)
        .map_err(|_| Failure::Network)?;
    let headers = [
        ("Content-Type", "application/offset+octet-stream".to_string()),
        ("Upload-Offset", at.to_string()),
    ];
    let moved: Box<dyn Fn(f64)> = Box::new(move |sent| a.update(key, |p| p.sent = at + sent as u64));
    let part = Part {
        blob: &part,
        key,
        progress: moved,
    };
    let reply = request("PATCH", url, &headers, Some(part))
        .await
        .map_err(|_| Failure::Network)?;
    match reply.status {
        204 => Ok(reply.offset),
        409 => Ok(None),
        _ => Err(refused(reply)),
    }
}

/// A name as `Upload-Metadata` carries it: base64 of its UTF-8 (`btoa`
/// takes one byte a character).
fn base64_name(name: &str) -> String {
    let bytes: String = name.bytes().map(char::from).collect();
    web_sys::window()
        .and_then(|w| w.btoa(&bytes).ok())
        .unwrap_or_default()
}
