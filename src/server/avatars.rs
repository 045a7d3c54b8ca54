//! Pictures of people and groups over HTTP. `PUT /avatars/mine` with an
//! image's bytes as the body sets mine, `DELETE /avatars/mine` removes it;
//! `PUT` and `DELETE /avatars/room/{id}` do the same for a group (its
//! admins and owner). The image is made into a square by `files` (as any
//! image: decoded within bounds, upright, re-encoded without metadata).
//! The change itself is a row on the stream (`accounts::set_avatar`,
//! `groups::set_avatar`), so every device sees it live and resumes it.
//! `GET /avatars/{id}` serves a picture to anyone signed in; its id is new
//! with every picture, so browsers keep it for good. Answers are JSON (the
//! profile or the room as the caller now sees it), refusals plain text.

use axum::{
    body::Bytes,
    extract::{DefaultBodyLimit, Path, State},
    http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, put},
    Json, Router,
};
use uuid::Uuid;

use super::files::{FileError, AVATAR_BYTES_MAX};
use super::state::AppState;
use super::{accounts, context::too_many, groups, uploads::person};
use crate::error::ApiError;
use crate::model::RoomId;

/// What a served picture may do when opened on its own: nothing active.
const PICTURE_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/avatars/mine", put(set_mine).delete(remove_mine))
        .route("/avatars/room/{id}", put(set_group).delete(remove_group))
        .route("/avatars/{id}", get(serve))
        .layer(DefaultBodyLimit::max(AVATAR_BYTES_MAX + 1))
}

/// A refusal: its status and its text.
fn refused(status: u16, text: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, text).into_response()
}

fn api_refused(e: ApiError) -> Response {
    refused(e.status(), e.to_string())
}

fn file_refused(e: FileError) -> Response {
    refused(e.status(), e.to_string())
}

/// Who asks (the session cookie), within their allowance of new pictures;
/// then the picture made of `body`: its id.
async fn picture(state: &AppState, headers: &HeaderMap, body: Bytes) -> Result<(i64, String), Response> {
    let me = person(state, headers)
        .await
        .map_err(IntoResponse::into_response)?;
    state
        .picture_sets
        .take(&me, std::time::Instant::now())
        .map_err(|wait| {
            api_refused(too_many(
                "You are changing pictures very fast. Try again in",
                wait,
            ))
        })?;
    let id = state.files.put_avatar(body).await.map_err(file_refused)?;
    Ok((me, id.to_string()))
}

async fn set_mine(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (me, id) = match picture(&state, &headers, body).await {
        Ok(made) => made,
        Err(res) => return res,
    };
    match accounts::set_avatar(&state, me, Some(id)).await {
        Ok(profile) => Json(profile).into_response(),
        Err(e) => api_refused(e),
    }
}

async fn remove_mine(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let me = match person(&state, &headers).await {
        Ok(me) => me,
        Err(no) => return no.into_response(),
    };
    match accounts::set_avatar(&state, me, None).await {
        Ok(profile) => Json(profile).into_response(),
        Err(e) => api_refused(e),
    }
}

async fn set_group(
    State(state): State<AppState>,
    Path(room): Path<RoomId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (me, id) = match picture(&state, &headers, body).await {
        Ok(made) => made,
        Err(res) => return res,
    };
    match groups::set_avatar(&state, me, room, Some(id)).await {
        Ok(summary) => Json(summary).into_response(),
        Err(e) => api_refused(e),
    }
}

async fn remove_group(
    State(state): State<AppState>,
    Path(room): Path<RoomId>,
    headers: HeaderMap,
) -> Response {
    let me = match person(&state, &headers).await {
        Ok(me) => me,
        Err(no) => return no.into_response(),
    };
    match groups::set_avatar(&state, me, room, None).await {
        Ok(summary) => Json(summary).into_response(),
        Err(e) => api_refused(e),
    }
}

async fn serve(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if person(&state, &headers).await.is_err() {
        return file_refused(FileError::NotFound);
    }
    let Ok(id) = Uuid::parse_str(&id) else {
        return file_refused(FileError::NotFound);
    };
    let etag = format!("\"{id}\"");
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return with_headers(StatusCode::NOT_MODIFIED.into_response(), &etag, None);
    }
    match state.files.avatar(id).await {
        Ok((bytes, mime)) => with_headers(bytes.into_response(), &etag, Some(mime)),
        Err(e) => file_refused(e),
    }
}

fn with_headers(mut res: Response, etag: &str, mime: Option<&'static str>) -> Response {
    let h = res.headers_mut();
    let mut set = |name: HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    set(header::ETAG, etag);
    // Private: only those signed in get it. A picture's bytes never change.
    set(header::CACHE_CONTROL, "private, max-age=31536000, immutable");
    set(header::CONTENT_SECURITY_POLICY, PICTURE_POLICY);
    set(
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if let Some(mime) = mime {
        set(header::CONTENT_TYPE, mime);
    }
    res
}
