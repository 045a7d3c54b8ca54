//! Sign-up, log-in, log-out and "who am I": the account side of the API.
//! Password hashing and cookies are `auth`'s; rows are the store's. Sign-ups
//! are throttled per address, failed log-ins per handle and per address
//! (`AccountLimits`).

use super::{
    auth,
    clock::now_ms,
    context::{
        caller, client_addr, hash_error, respond, session_token, set_cookie, state, too_many, user_agent,
    },
    state::AppState,
    storage::{ProfileEdit, StoreError},
};
use crate::{
    error::ApiError,
    model::{
        check_password, clean_name, clean_status, normalize_handle, Notify, PeoplePage, Profile, User,
        UserId, DISPLAY_NAME_MAX,
    },
};

/// My profile, as the settings screen shows it.
pub async fn profile() -> Result<Profile, ApiError> {
    respond(
        async {
            let state = state()?;
            let me = caller(&state).await?;
            state.store.profile(me.id).await?.ok_or(ApiError::Unauthenticated)
        }
        .await,
    )
}

/// Sets my display name and status line; every room of mine gets a row
/// saying so (the others see it live, and resume it like the rest).
pub async fn update_profile(display_name: String, status: String) -> Result<Profile, ApiError> {
    respond(
        async {
            let name =
                clean_name(&display_name, DISPLAY_NAME_MAX, "display name").map_err(ApiError::Invalid)?;
            let status = clean_status(&status).map_err(ApiError::Invalid)?;
            let state = state()?;
            let me = caller(&state).await?;
            let now = state
                .store
                .profile(me.id)
                .await?
                .ok_or(ApiError::Unauthenticated)?;
            if now.user.display_name != name || now.status != status {
                let edit = ProfileEdit {
                    display_name: name,
                    status,
                    avatar: now.avatar,
                    ..ProfileEdit::default()
                };
                state.delivery.change_profile(me.id, edit).await?;
            }
            state.store.profile(me.id).await?.ok_or(ApiError::Unauthenticated)
        }
        .await,
    )
}

/// Sets my picture (None: removes it), with a row in every room of mine
/// like any change of profile; the picture it replaced is removed once
/// that is stored (and the new one if it could not be). My profile now.
pub async fn set_avatar(state: &AppState, me: UserId, avatar: Option<String>) -> Result<Profile, ApiError> {
    let stored = async {
        let now = state.store.profile(me).await?.ok_or(ApiError::Unauthenticated)?;
        let edit = ProfileEdit {
            display_name: now.user.display_name,
            status: now.status,
            avatar: avatar.clone(),
            ..ProfileEdit::default()
        };
        state.delivery.change_profile(me, edit).await?;
        Ok::<_, ApiError>(now.avatar)
    };
    let stored = stored.await;
    let old = stored.as_ref().ok().cloned().flatten();
    state
        .files
        .settle_avatar(stored.is_ok(), old.as_deref(), avatar.as_deref())
        .await;
    stored?;
    state.store.profile(me).await?.ok_or(ApiError::Unauthenticated)
}

/// The people directory: who `query` finds (a name's word or a handle, by
/// its start), a page at a time; limited per person, so it cannot be used
/// to list every account.
pub async fn find_people(query: String, after: Option<UserId>) -> Result<PeoplePage, ApiError> {
    respond(
        async {
            if query.chars().count() > crate::protocol::PREFIX_MAX {
                return Err(ApiError::Invalid(format!(
                    "A search for people has at most {} characters.",
                    crate::protocol::PREFIX_MAX
                )));
            }
            let state = state()?;
            let me = caller(&state).await?;
            state
                .people_finds
                .take(&me.id, std::time::Instant::now())
                .map_err(|wait| too_many("You are looking for people very fast. Try again in", wait))?;
            Ok(super::people::find(&state.store, me.id, &query, after).await?)
        }
        .await,
    )
}

/// Which messages of the rooms I join from now on notify me.
pub async fn set_notify_default(notify: Notify) -> Result<Profile, ApiError> {
    respond(
        async {
            let state = state()?;
            let me = caller(&state).await?;
            state.store.set_notify_default(me.id, notify).await?;
            state.store.profile(me.id).await?.ok_or(ApiError::Unauthenticated)
        }
        .await,
    )
}

pub async fn sign_up(handle: String, display_name: String, password: String) -> Result<User, ApiError> {
    respond(
        async {
            let handle = normalize_handle(&handle).map_err(ApiError::Invalid)?;
            check_password(&password).map_err(ApiError::Invalid)?;
            let display_name = if display_name.trim().is_empty() {
                handle.clone()
            } else {
                clean_name(&display_name, DISPLAY_NAME_MAX, "display name").map_err(ApiError::Invalid)?
            };
            let state = state()?;
            let addr = client_addr();
            let wait = state.accounts.signup_wait(addr);
            if !wait.is_zero() {
                return Err(too_many(
                    "Too many accounts were made from your address. Try again in",
                    wait,
                ));
            }
            state.accounts.signed_up(addr);
            let hash = state.hashing.hash_password(password).await.map_err(hash_error)?;
            let user = match state
                .store
                .create_user(&handle, &display_name, &hash, now_ms())
                .await
            {
                Err(StoreError::HandleTaken) => {
                    return Err(ApiError::Conflict(format!("The handle @{handle} is taken.")))
                }
                other => other?,
            };
            start_session(&state, &user).await?;
            tracing::info!(user = user.id, handle = %user.handle, "signed up");
            Ok(user)
        }
        .await,
    )
}

pub async fn log_in(handle: String, password: String) -> Result<User, ApiError> {
    respond(
        async {
            let state = state()?;
            let key = normalize_handle(&handle).unwrap_or_else(|_| handle.trim().to_lowercase());
            let addr = client_addr();
            let wait = state.accounts.login_wait(&key, addr);
            if !wait.is_zero() {
                return Err(too_many("Too many failed log-ins. Try again in", wait));
            }
            // A malformed handle is only a wrong handle: the same answer as any other.
            let found = match normalize_handle(&handle) {
                Ok(h) => state.store.credentials(&h).await?,
                Err(_) => None,
            };
            let (user, hash) = match found {
                Some(c) => (Some(c.user), Some(c.password_hash)),
                None => (None, None),
            };
            let ok = state
                .hashing
                .verify_password(password, hash)
                .await
                .map_err(hash_error)?;
            match user {
                Some(user) if ok => {
                    start_session(&state, &user).await?;
                    Ok(user)
                }
                _ => {
                    state.accounts.login_failed(&key, addr);
                    Err(ApiError::WrongCredentials)
                }
            }
        }
        .await,
    )
}

pub async fn log_out() -> Result<(), ApiError> {
    respond(
        async {
            let state = state()?;
            if let Some(token) = session_token() {
                let hash = auth::token_hash(&token);
                if let Some(user) = state.store.session_user(&hash, now_ms()).await? {
                    state.store.delete_session(&hash).await?;
                    // This browser's other tabs' sockets close too.
                    super::sessions::closed(&state, user.id, &[hash]).await;
                }
            }
            set_cookie(&auth::clear_cookie(state.config.secure_cookie));
            Ok(())
        }
        .await,
    )
}

/// Deletes my account, given my password (`Delivery::close_account`: my
/// messages stay under "Deleted account", or are erased when the server
/// says so; I leave my groups). Every session of mine ends, its sockets on
/// every node too, and my picture goes.
pub async fn delete_account(password: String) -> Result<(), ApiError> {
    respond(
        async {
            let state = state()?;
            let me = caller(&state).await?;
            super::sessions::check_current(&state, &me, password).await?;
            let picture = state.store.profile(me.id).await?.and_then(|p| p.avatar);
            let sessions: Vec<Vec<u8>> = state
                .store
                .sessions_of(me.id, now_ms())
                .await?
                .into_iter()
                .map(|r| r.token_hash)
                .collect();
            state
                .delivery
                .close_account(me.id, state.config.erase_deleted_accounts)
                .await?;
            super::sessions::closed(&state, me.id, &sessions).await;
            if let Some(picture) = picture {
                state.files.drop_avatar(&picture).await;
            }
            set_cookie(&auth::clear_cookie(state.config.secure_cookie));
            tracing::info!(user = me.id, "account deleted by its owner");
            Ok(())
        }
        .await,
    )
}

pub async fn me() -> Result<Option<User>, ApiError> {
    respond(
        async {
            let state = state()?;
            match caller(&state).await {
                Ok(user) => Ok(Some(user)),
                Err(ApiError::Unauthenticated) => Ok(None),
                Err(e) => Err(e),
            }
        }
        .await,
    )
}

async fn start_session(state: &AppState, user: &User) -> Result<(), ApiError> {
    let (token, hash) = auth::new_token();
    let max_age = u64::from(state.config.session_days) * 86_400;
    let now = now_ms();
    state
        .store
        .create_session(&hash, user.id, now, now + max_age as i64 * 1000)
        .await?;
    let place = (
        user_agent(),
        client_addr().map(|a| a.to_string()).unwrap_or_default(),
    );
    state.store.session_seen(&hash, now, (&place.0, &place.1)).await?;
    set_cookie(&auth::session_cookie(&token, max_age, state.config.secure_cookie));
    Ok(())
}
