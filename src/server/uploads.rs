//! Files over HTTP. Uploads speak the tus 1.0 protocol (core, with the
//! `creation` and `termination` extensions): `POST /uploads` with
//! `Upload-Length` (and the name in `Upload-Metadata`) opens one, `HEAD
//! /uploads/{id}` says how far it got (`Upload-Offset`), `PATCH` adds the
//! bytes from there, `DELETE` gives it up. `GET /files/{id}` (and
//! `/thumb`) serves a file to the members of a room whose message carries
//! it, with ranges; anyone else gets 404, as for a file that does not
//! exist. The rules are `files`'; this module speaks HTTP.

use axum::{
    body::{Body, Bytes},
    extract::{DefaultBodyLimit, Path, State},
    http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Router,
};
use base64::Engine;
use object_store::GetRange;
use uuid::Uuid;

use super::auth;
use super::clock::now_ms;
use super::files::{kind, FileError, Served, PART_MAX};
use super::state::AppState;
use crate::model::UserId;

const TUS_VERSION: &str = "1.0.0";
const TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");
const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
const UPLOAD_METADATA: HeaderName = HeaderName::from_static("upload-metadata");
/// What a served file may do when opened on its own: nothing active.
const FILE_POLICY: &str =
    "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/uploads", post(create).options(capabilities))
        .route(
            "/uploads/{id}",
            axum::routing::head(status)
                .patch(append)
                .delete(cancel)
                .options(capabilities),
        )
        .route("/files/{id}", get(file))
        .route("/files/{id}/thumb", get(thumb))
        .layer(DefaultBodyLimit::max(PART_MAX))
}

/// Why a request is refused; made into its response at the end.
pub(super) enum No {
    File(FileError),
    Plain(u16, String),
}

impl From<FileError> for No {
    fn from(e: FileError) -> Self {
        No::File(e)
    }
}

impl IntoResponse for No {
    fn into_response(self) -> Response {
        match self {
            No::File(e) => failed(e),
            No::Plain(status, text) => answer(status, text),
        }
    }
}

fn no(status: u16, text: impl Into<String>) -> No {
    No::Plain(status, text.into())
}

/// An answer: its status, its text, and the tus header.
fn answer(status: u16, text: impl Into<String>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut res = (status, text.into()).into_response();
    res.headers_mut()
        .insert(TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
    res
}

fn failed(e: FileError) -> Response {
    let mut res = answer(e.status(), e.to_string());
    match e {
        FileError::Offset(at) => {
            res.headers_mut().insert(UPLOAD_OFFSET, at.into());
        }
        FileError::Unsatisfiable(size) => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                res.headers_mut().insert(header::CONTENT_RANGE, v);
            }
        }
        _ => {}
    }
    res
}

/// The person the session cookie names.
pub(super) async fn person(state: &AppState, headers: &HeaderMap) -> Result<UserId, No> {
    let token = auth::token_from_headers(headers, state.config.secure_cookie)
        .ok_or_else(|| no(401, "Please log in."))?;
    match state
        .store
        .session_user(&auth::token_hash(&token), now_ms())
        .await
    {
        Ok(Some(user)) => Ok(user.id),
        Ok(None) => Err(no(401, "Please log in.")),
        Err(e) => {
            tracing::warn!(error = %e, "cannot check a session");
            Err(no(503, "The service is unavailable right now."))
        }
    }
}

/// A request of another tus version is refused (412), as the protocol says;
/// one without the header is taken as this version.
fn check_version(headers: &HeaderMap) -> Result<(), No> {
    match headers.get(&TUS_RESUMABLE) {
        Some(v) if v != TUS_VERSION => Err(no(412, format!("This server speaks tus {TUS_VERSION}."))),
        _ => Ok(()),
    }
}

fn number(headers: &HeaderMap, name: &HeaderName) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn upload_id(id: &str) -> Result<Uuid, No> {
    Uuid::parse_str(id).map_err(|_| No::File(FileError::NotFound))
}

async fn capabilities(State(state): State<AppState>) -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    let h = res.headers_mut();
    h.insert(TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
    h.insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    h.insert("tus-extension", HeaderValue::from_static("creation,termination"));
    h.insert("tus-max-size", state.files.limits().max_bytes.into());
    res
}

async fn create(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let result = async {
        check_version(&headers)?;
        let user = person(&state, &headers).await?;
        let length = number(&headers, &UPLOAD_LENGTH)
            .ok_or_else(|| no(400, "Upload-Length (the file's size in bytes) is required."))?;
        let name = metadata(&headers, "filename").unwrap_or_default();
        let id = state.files.open(user, &name, length).await?;
        let mut res = answer(201, "");
        let h = res.headers_mut();
        h.insert(
            header::LOCATION,
            HeaderValue::from_str(&format!("/uploads/{id}")).map_err(|_| No::File(FileError::Unavailable))?,
        );
        h.insert(UPLOAD_OFFSET, 0.into());
        Ok::<_, No>(res)
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// A value of `Upload-Metadata` (`key base64,key base64,…`).
fn metadata(headers: &HeaderMap, key: &str) -> Option<String> {
    let all = headers.get(&UPLOAD_METADATA)?.to_str().ok()?;
    let value = all.split(',').find_map(|pair| {
        let mut it = pair.trim().splitn(2, ' ');
        (it.next()? == key).then(|| it.next().unwrap_or(""))
    })?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    String::from_utf8(bytes).ok()
}

async fn status(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let result = async {
        check_version(&headers)?;
        let user = person(&state, &headers).await?;
        let upload = state.files.upload(user, upload_id(&id)?).await?;
        let mut res = answer(200, "");
        let h = res.headers_mut();
        h.insert(UPLOAD_OFFSET, upload.received.into());
        h.insert(UPLOAD_LENGTH, upload.length.into());
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok::<_, No>(res)
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

async fn append(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = async {
        check_version(&headers)?;
        let user = person(&state, &headers).await?;
        let id = upload_id(&id)?;
        let typed = headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|t| t == "application/offset+octet-stream");
        if !typed {
            return Err(no(415, "A part is sent as application/offset+octet-stream."));
        }
        let offset = number(&headers, &UPLOAD_OFFSET)
            .ok_or_else(|| no(400, "Upload-Offset (where this part starts) is required."))?;
        let upload = state.files.append(user, id, offset, body).await?;
        let mut res = answer(204, "");
        res.headers_mut().insert(UPLOAD_OFFSET, upload.received.into());
        Ok::<_, No>(res)
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

async fn cancel(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let result = async {
        check_version(&headers)?;
        let user = person(&state, &headers).await?;
        state.files.cancel(user, upload_id(&id)?).await?;
        Ok::<_, No>(answer(204, ""))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

async fn file(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    serve(state, &id, &headers, false).await
}

async fn thumb(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    serve(state, &id, &headers, true).await
}

async fn serve(state: AppState, id: &str, headers: &HeaderMap, thumb: bool) -> Response {
    let result = async {
        // Not logged in looks like not allowed: nothing says the file exists.
        let user = person(&state, headers)
            .await
            .map_err(|_| No::File(FileError::NotFound))?;
        let id = upload_id(id)?;
        let etag = format!("\"{id}{}\"", if thumb { "-t" } else { "" });
        let range = if thumb { None } else { range(headers) };
        let served = state.files.get(user, id, thumb, range).await?;
        let fresh = headers
            .get(header::IF_NONE_MATCH)
            .is_some_and(|v| v.as_bytes() == etag.as_bytes());
        Ok::<_, No>(respond(served, &etag, fresh))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// The one range of a `Range: bytes=…` header; anything else (several
/// ranges, another unit, nonsense) asks for the whole file, as RFC 9110
/// allows.
fn range(headers: &HeaderMap) -> Option<GetRange> {
    let spec = headers
        .get(header::RANGE)?
        .to_str()
        .ok()?
        .strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.trim().split_once('-')?;
    match (start.parse::<u64>().ok(), end.parse::<u64>().ok()) {
        (Some(s), Some(e)) if e >= s => Some(GetRange::Bounded(s..e.checked_add(1)?)),
        (Some(s), None) if end.is_empty() => Some(GetRange::Offset(s)),
        (None, Some(n)) if start.is_empty() && n > 0 => Some(GetRange::Suffix(n)),
        _ => None,
    }
}

fn respond(served: Served, etag: &str, fresh: bool) -> Response {
    let Served {
        file,
        mime,
        body,
        range,
        total,
    } = served;
    let status = match (fresh, range) {
        (true, _) => StatusCode::NOT_MODIFIED,
        (false, Some(_)) => StatusCode::PARTIAL_CONTENT,
        (false, None) => StatusCode::OK,
    };
    let body = if fresh {
        Body::empty()
    } else {
        Body::from_stream(body)
    };
    let mut res = Response::new(body);
    *res.status_mut() = status;
    let h = res.headers_mut();
    let mut set = |name: HeaderName, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    set(header::ETAG, etag.into());
    // Private: each request is checked against the room's members.
    set(header::CACHE_CONTROL, "private, max-age=3600".into());
    set(header::CONTENT_SECURITY_POLICY, FILE_POLICY.into());
    set(
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin".into(),
    );
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff".into());
    if fresh {
        return res;
    }
    set(header::CONTENT_TYPE, mime.clone());
    set(header::ACCEPT_RANGES, "bytes".into());
    set(
        header::CONTENT_DISPOSITION,
        disposition(&file.name, kind::displayable(&mime)),
    );
    match range {
        Some((start, end)) => {
            set(header::CONTENT_LENGTH, (end - start).to_string());
            set(
                header::CONTENT_RANGE,
                format!("bytes {start}-{}/{total}", end.saturating_sub(1)),
            );
        }
        None => set(header::CONTENT_LENGTH, total.to_string()),
    }
    res
}

/// `inline` for an image the browser shows, `attachment` (a download) for
/// anything else; the name in both the plain and the UTF-8 form (RFC 6266).
fn disposition(name: &str, inline: bool) -> String {
    let plain: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'!'
            | b'#'
            | b'$'
            | b'&'
            | b'+'
            | b'-'
            | b'.'
            | b'^'
            | b'_'
            | b'`'
            | b'|'
            | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let how = if inline { "inline" } else { "attachment" };
    format!("{how}; filename=\"{plain}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranged(value: &str) -> Option<GetRange> {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        range(&h)
    }

    #[test]
    fn one_byte_range_is_read_and_anything_else_asks_for_all() {
        assert_eq!(ranged("bytes=0-99"), Some(GetRange::Bounded(0..100)));
        assert_eq!(ranged("bytes=100-"), Some(GetRange::Offset(100)));
        assert_eq!(ranged("bytes=-500"), Some(GetRange::Suffix(500)));
        assert_eq!(ranged("bytes=5-1"), None);
        assert_eq!(ranged("bytes=0-1,5-9"), None);
        assert_eq!(ranged("items=0-1"), None);
        assert_eq!(ranged("bytes=-"), None);
        assert_eq!(ranged("bytes=0-18446744073709551615"), None, "no overflow");
    }

    #[test]
    fn names_are_safe_in_the_header_both_ways() {
        assert_eq!(
            disposition("회의 \"notes\".pdf", false),
            "attachment; filename=\"__ _notes_.pdf\"; filename*=UTF-8''%ED%9A%8C%EC%9D%98%20%22notes%22.pdf"
        );
        assert!(disposition("a.png", true).starts_with("inline;"));
    }
}
