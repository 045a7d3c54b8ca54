//! What can go wrong with an API call, as one type shared by the server
//! (which sets the HTTP status from it) and the browser (which shows its
//! words). The lowest layer: it knows no module of the crate.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

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
    if let Some(res) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(
            axum::http::StatusCode::from_u16(e.status())
                .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR),
        );
    }
}

#[cfg(not(feature = "ssr"))]
pub(crate) fn set_status(_: &ApiError) {}
