//! Sign-up, log-in, log-out and "who am I": the account side of the API.
//! Password hashing and cookies are `auth`'s; rows are the store's. Failed
//! log-ins are throttled per handle and per address (`LoginLimits`).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::{
    auth,
    context::{caller, client_addr, internal, now_ms, respond, session_token, set_cookie, state},
    limits::Buckets,
    state::AppState,
    storage::StoreError,
};
use crate::{
    api::ApiError,
    model::{check_password, clean_name, normalize_handle, User, DISPLAY_NAME_MAX},
};

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
            let hash = auth::hash_password(password).await.map_err(internal)?;
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
            let wait = state.logins.wait(&key, addr);
            if !wait.is_zero() {
                return Err(ApiError::TooMany(format!(
                    "Too many failed log-ins. Try again in {} s.",
                    wait.as_secs().max(1)
                )));
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
            let ok = auth::verify_password(password, hash).await.map_err(internal)?;
            match user {
                Some(user) if ok => {
                    start_session(&state, &user).await?;
                    Ok(user)
                }
                _ => {
                    state.logins.failed(&key, addr);
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
                state.store.delete_session(&auth::token_hash(&token)).await?;
            }
            set_cookie(&auth::clear_cookie(state.config.secure_cookie));
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
    set_cookie(&auth::session_cookie(&token, max_age, state.config.secure_cookie));
    Ok(())
}

/// Failed log-ins per handle and per address: a few are free, then they
/// come slowly (password guessing gets nowhere; a person who mistyped
/// waits a minute at most).
pub struct LoginLimits {
    handles: Buckets<String>,
    addresses: Buckets<IpAddr>,
}

impl LoginLimits {
    pub fn new(failures: u32) -> Self {
        let failures = f64::from(failures);
        Self {
            handles: Buckets::new(1.0 / 60.0, failures, 100_000),
            addresses: Buckets::new(1.0 / 15.0, failures * 4.0, 100_000),
        }
    }

    /// How long before this handle (from this address) may try again.
    fn wait(&self, handle: &String, addr: Option<IpAddr>) -> Duration {
        let now = Instant::now();
        let by_addr = addr.map_or(Duration::ZERO, |a| self.addresses.wait(&a, now));
        self.handles.wait(handle, now).max(by_addr)
    }

    fn failed(&self, handle: &String, addr: Option<IpAddr>) {
        let now = Instant::now();
        self.handles.spend(handle, now);
        if let Some(a) = addr {
            self.addresses.spend(&a, now);
        }
    }
}
