//! The HTTP API as server functions: accounts, rooms and members, and Web
//! Push subscriptions. Each is a
//! plain `POST /api/<name>` taking JSON and answering JSON, callable from the
//! browser (generated client), from the server during rendering, and from
//! tests. The bodies are thin: the work happens in `server::accounts`,
//! `server::rooms` and `server::push`, which also set the HTTP status of an error.

use leptos::prelude::*;
use leptos::server_fn::codec::{Json, JsonEncoding};
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

use crate::model::{Member, RoomId, RoomSummary, User};

/// What went wrong, in words for the person using the app. The variant
/// decides the HTTP status (see `status`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ApiError {
    /// Input that breaks a rule; the message says which (400).
    #[error("{0}")]
    Invalid(String),
    /// No valid session cookie (401).
    #[error("Please log in.")]
    Unauthenticated,
    /// One answer for an unknown handle and a wrong password (401).
    #[error("Wrong handle or password.")]
    WrongCredentials,
    /// The caller may not do this, such as acting on a room they are not in (403).
    #[error("{0}")]
    Forbidden(String),
    /// An unknown handle or room (404).
    #[error("{0}")]
    NotFound(String),
    /// The handle is taken (409).
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts; the message says when to try again (429).
    #[error("{0}")]
    TooMany(String),
    /// The server is too busy for this now (a full queue); try again in the
    /// seconds `Retry-After` says (503).
    #[error("The server is busy. Please try again in a moment.")]
    Busy,
    /// The database cannot be reached; nothing was changed (503).
    #[error("The service is unavailable right now. Nothing was changed; please try again in a moment.")]
    Unavailable,
    /// A bug on the server; details are in its log (500).
    #[error("Something went wrong on the server.")]
    Internal,
    /// The request did not reach the server or its answer was unreadable.
    #[error("Cannot reach the server ({0}).")]
    Transport(String),
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Invalid(_) => 400,
            ApiError::Unauthenticated | ApiError::WrongCredentials => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::Conflict(_) => 409,
            ApiError::TooMany(_) => 429,
            ApiError::Busy | ApiError::Unavailable => 503,
            ApiError::Internal => 500,
            ApiError::Transport(_) => 502,
        }
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(e: ServerFnErrorErr) -> Self {
        match e {
            ServerFnErrorErr::Args(m) | ServerFnErrorErr::MissingArg(m) => bad_request(m),
            ServerFnErrorErr::Deserialization(m) => undecodable(m),
            other => ApiError::Transport(other.to_string()),
        }
    }
}

fn bad_request(why: String) -> ApiError {
    let e = ApiError::Invalid(format!("Malformed request: {why}"));
    set_status(&e);
    e
}

/// On the server, a body that does not decode is the caller's malformed request.
#[cfg(feature = "ssr")]
fn undecodable(why: String) -> ApiError {
    bad_request(why)
}

/// In the browser, an answer that does not decode is a transport problem.
#[cfg(not(feature = "ssr"))]
fn undecodable(why: String) -> ApiError {
    ApiError::Transport(why)
}

/// On the server, the request's HTTP status follows the error (the
/// arguments are decoded inside the request's context, before our code runs).
#[cfg(feature = "ssr")]
pub(crate) fn set_status(e: &ApiError) {
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(
            axum::http::StatusCode::from_u16(e.status())
                .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR),
        );
    }
}

#[cfg(not(feature = "ssr"))]
pub(crate) fn set_status(_: &ApiError) {}

/// Creates an account and logs it in (sets the session cookie).
#[server(prefix = "/api", endpoint = "sign_up", input = Json)]
pub async fn sign_up(handle: String, display_name: String, password: String) -> Result<User, ApiError> {
    crate::server::accounts::sign_up(handle, display_name, password).await
}

/// Logs in (sets the session cookie).
#[server(prefix = "/api", endpoint = "log_in", input = Json)]
pub async fn log_in(handle: String, password: String) -> Result<User, ApiError> {
    crate::server::accounts::log_in(handle, password).await
}

/// Ends this device's session (and with it its push subscription).
#[server(prefix = "/api", endpoint = "log_out", input = Json)]
pub async fn log_out() -> Result<(), ApiError> {
    crate::server::accounts::log_out().await
}

/// The logged-in user, or `None` without a valid session.
#[server(prefix = "/api", endpoint = "me", input = Json)]
pub async fn me() -> Result<Option<User>, ApiError> {
    crate::server::accounts::me().await
}

/// The caller's rooms, latest activity first.
#[server(prefix = "/api", endpoint = "my_rooms", input = Json)]
pub async fn my_rooms() -> Result<Vec<RoomSummary>, ApiError> {
    crate::server::rooms::my_rooms().await
}

/// The direct room with the person `handle`, created on first use.
#[server(prefix = "/api", endpoint = "open_direct", input = Json)]
pub async fn open_direct(handle: String) -> Result<RoomSummary, ApiError> {
    crate::server::rooms::open_direct(handle).await
}

/// A new group owned by the caller, with the people `members` (handles).
#[server(prefix = "/api", endpoint = "create_group", input = Json)]
pub async fn create_group(name: String, members: Vec<String>) -> Result<RoomSummary, ApiError> {
    crate::server::rooms::create_group(name, members).await
}

/// Adds the person `handle` to a group the caller is in.
#[server(prefix = "/api", endpoint = "add_member", input = Json)]
pub async fn add_member(room: RoomId, handle: String) -> Result<Vec<Member>, ApiError> {
    crate::server::rooms::add_member(room, handle).await
}

/// The members of a room the caller is in.
#[server(prefix = "/api", endpoint = "room_members", input = Json)]
pub async fn room_members(room: RoomId) -> Result<Vec<Member>, ApiError> {
    crate::server::rooms::members(room).await
}

/// The public VAPID key the browser subscribes with (`applicationServerKey`, base64url).
#[server(prefix = "/api", endpoint = "push_key", input = Json)]
pub async fn push_key() -> Result<String, ApiError> {
    crate::server::push::public_key().await
}

/// Stores this device's push subscription (as `PushSubscription.toJSON()`
/// gives it) for the caller's session.
#[server(prefix = "/api", endpoint = "push_subscribe", input = Json)]
pub async fn push_subscribe(endpoint: String, p256dh: String, auth: String) -> Result<(), ApiError> {
    crate::server::push::subscribe(endpoint, p256dh, auth).await
}

/// Removes one of the caller's push subscriptions; false if it was not there.
#[server(prefix = "/api", endpoint = "push_unsubscribe", input = Json)]
pub async fn push_unsubscribe(endpoint: String) -> Result<bool, ApiError> {
    crate::server::push::unsubscribe(endpoint).await
}
