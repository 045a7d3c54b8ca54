//! One's own log-in sessions: the list (where and when each is used),
//! ending one or all the others, and changing the password (which ends
//! all the others; `check_current` also guards deleting an account). An ended session's live connections close at once on
//! every node (`Event::SessionsEnded`). Creating a session at log-in is
//! `accounts`'; the rows are the store's.

use super::{
    auth,
    bus::Event,
    clock::now_ms,
    context::{caller, client_addr, hash_error, respond, session_token, state, too_many},
    state::AppState,
};
use crate::error::ApiError;
use crate::model::{check_password, SessionInfo, User};

/// The caller's sessions, the latest used first.
pub async fn sessions() -> Result<Vec<SessionInfo>, ApiError> {
    respond(
        async {
            let state = state()?;
            let user = caller(&state).await?;
            let current = current_hash()?;
            let rows = state.store.sessions_of(user.id, now_ms()).await?;
            Ok(rows
                .into_iter()
                .map(|r| SessionInfo {
                    id: public_id(&r.token_hash),
                    current: r.token_hash == current,
                    agent: r.agent,
                    address: r.address,
                    created_at: r.created_at,
                    seen_at: r.seen_at,
                })
                .collect())
        }
        .await,
    )
}

/// Ends the caller's session named `id` (ending the current one is logging out).
pub async fn end_session(id: String) -> Result<(), ApiError> {
    respond(
        async {
            let state = state()?;
            let user = caller(&state).await?;
            let ended = end(&state, &user, |hash| public_id(hash) == id).await?;
            if ended == 0 {
                return Err(ApiError::NotFound("There is no such session.".into()));
            }
            Ok(())
        }
        .await,
    )
}

/// Ends every session of the caller but this one.
pub async fn end_other_sessions() -> Result<(), ApiError> {
    respond(
        async {
            let state = state()?;
            let user = caller(&state).await?;
            let current = current_hash()?;
            end(&state, &user, |hash| hash != current.as_slice()).await?;
            Ok(())
        }
        .await,
    )
}

/// Changes the caller's password, given the current one; every other
/// session ends. Wrong guesses count as failed log-ins.
pub async fn change_password(current: String, new: String) -> Result<(), ApiError> {
    respond(
        async {
            let state = state()?;
            let user = caller(&state).await?;
            check_password(&new).map_err(ApiError::Invalid)?;
            check_current(&state, &user, current).await?;
            let hash = state.hashing.hash_password(new).await.map_err(hash_error)?;
            state.store.set_password(user.id, &hash).await?;
            let current = current_hash()?;
            end(&state, &user, |h| h != current.as_slice()).await?;
            tracing::info!(user = user.id, "password changed; other sessions ended");
            Ok(())
        }
        .await,
    )
}

/// Checks that `password` is `user`'s, as a log-in would (a wrong one
/// counts as a failed log-in, and too many are refused for a while).
pub(super) async fn check_current(state: &AppState, user: &User, password: String) -> Result<(), ApiError> {
    let addr = client_addr();
    let wait = state.accounts.login_wait(&user.handle, addr);
    if !wait.is_zero() {
        return Err(too_many("Too many wrong passwords. Try again in", wait));
    }
    let stored = state.store.credentials(&user.handle).await?;
    let ok = state
        .hashing
        .verify_password(password, stored.map(|c| c.password_hash))
        .await
        .map_err(hash_error)?;
    if !ok {
        state.accounts.login_failed(&user.handle, addr);
        return Err(ApiError::Invalid("The current password is not right.".into()));
    }
    Ok(())
}

/// Ends `user`'s sessions that `which` picks, and their live connections
/// everywhere; how many.
async fn end(state: &AppState, user: &User, which: impl Fn(&[u8]) -> bool) -> Result<usize, ApiError> {
    let hashes: Vec<Vec<u8>> = state
        .store
        .sessions_of(user.id, now_ms())
        .await?
        .into_iter()
        .map(|r| r.token_hash)
        .filter(|h| which(h))
        .collect();
    if hashes.is_empty() {
        return Ok(0);
    }
    state.store.end_sessions(user.id, &hashes).await?;
    closed(state, user.id, &hashes).await;
    Ok(hashes.len())
}

/// Tells every node that these sessions of `user` ended: their sockets close.
pub async fn closed(state: &AppState, user: crate::model::UserId, hashes: &[Vec<u8>]) {
    let sessions = hashes.iter().map(|h| auth::session_id(h)).collect();
    state.bus.publish(Event::SessionsEnded { user, sessions }).await;
}

/// How a session is named to its owner: `auth::session_id` in hex.
fn public_id(token_hash: &[u8]) -> String {
    format!("{:016x}", auth::session_id(token_hash))
}

fn current_hash() -> Result<Vec<u8>, ApiError> {
    let token = session_token().ok_or(ApiError::Unauthenticated)?;
    Ok(auth::token_hash(&token))
}
