//! What a server function needs from the request it runs in: the shared
//! state, the caller (from the session cookie), a way to set cookies, and the
//! HTTP status of an error. The only place that reads Leptos' request context.

use axum::http::{header, request::Parts, HeaderValue};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

use super::{auth, clock::now_ms, state::AppState, storage::StoreError};
use crate::{error::ApiError, model::User};

pub fn state() -> Result<AppState, ApiError> {
    use_context::<AppState>().ok_or_else(|| {
        tracing::error!("server function called without AppState in context");
        ApiError::Internal
    })
}

/// The session token of the request, if it carries a well-formed one.
pub fn session_token() -> Option<String> {
    let secure = use_context::<AppState>().is_some_and(|s| s.config.secure_cookie);
    use_context::<Parts>().and_then(|parts| auth::token_from_headers(&parts.headers, secure))
}

/// The request's User-Agent, at most 200 characters ("" without one).
pub fn user_agent() -> String {
    use_context::<Parts>()
        .and_then(|parts| {
            parts
                .headers
                .get(header::USER_AGENT)?
                .to_str()
                .ok()
                .map(str::to_owned)
        })
        .map(|agent| agent.chars().filter(|c| !c.is_control()).take(200).collect())
        .unwrap_or_default()
}

/// The address the request came from: the peer, or, when the peer is a
/// proxy on this machine (nginx in front of the nodes), the last address of
/// its `X-Forwarded-For`.
pub fn client_addr() -> Option<std::net::IpAddr> {
    let parts = use_context::<Parts>()?;
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()?
        .0
        .ip();
    Some(address_of(peer, &parts.headers))
}

/// `client_addr` for a handler that has the peer and the headers.
pub fn address_of(peer: std::net::IpAddr, headers: &axum::http::HeaderMap) -> std::net::IpAddr {
    if !peer.is_loopback() {
        return peer;
    }
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(peer)
}

/// The logged-in caller, or `Unauthenticated`.
pub async fn caller(state: &AppState) -> Result<User, ApiError> {
    let token = session_token().ok_or(ApiError::Unauthenticated)?;
    state
        .store
        .session_user(&auth::token_hash(&token), now_ms())
        .await?
        .ok_or(ApiError::Unauthenticated)
}

pub fn set_cookie(value: &str) {
    if let (Some(res), Ok(v)) = (use_context::<ResponseOptions>(), HeaderValue::from_str(value)) {
        res.append_header(header::SET_COOKIE, v);
    }
}

/// Tells the caller how many seconds to wait before trying again.
pub fn retry_after(secs: u64) {
    if let Some(res) = use_context::<ResponseOptions>() {
        res.insert_header(header::RETRY_AFTER, HeaderValue::from(secs));
    }
}

/// 429 with the wait in words and in `Retry-After`; `what` ends with "in".
pub fn too_many(what: &str, wait: std::time::Duration) -> ApiError {
    let secs = wait.as_secs().max(1);
    retry_after(secs);
    ApiError::TooMany(format!("{what} {secs} s."))
}

/// Passes a result through, giving the HTTP response the status of its error.
pub fn respond<T>(result: Result<T, ApiError>) -> Result<T, ApiError> {
    if let Err(e) = &result {
        crate::error::set_status(e);
    }
    result
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::HandleTaken => ApiError::Conflict("That handle is taken.".into()),
            StoreError::HandleLookAlike(near) => ApiError::Conflict(format!(
                "That handle looks too much like @{near}, someone else's: choose another."
            )),
            StoreError::Unavailable(why) => {
                tracing::warn!(%why, "storage unavailable");
                ApiError::Unavailable
            }
            StoreError::Internal(why) => {
                tracing::error!(%why, "storage error");
                ApiError::Internal
            }
        }
    }
}

/// Logs an unexpected error and hides it from the caller.
pub fn internal(e: anyhow::Error) -> ApiError {
    tracing::error!(error = %format!("{e:#}"), "internal error");
    ApiError::Internal
}

/// The hashing pool is full: 503 and come back in a second or two.
pub fn hash_error(e: auth::HashError) -> ApiError {
    match e {
        auth::HashError::Busy => {
            tracing::warn!("password hashing pool full: a sign-up or log-in was refused");
            retry_after(2);
            ApiError::Busy
        }
        auth::HashError::Failed(e) => internal(e),
    }
}
