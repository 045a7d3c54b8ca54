//! The devices' Web Push subscriptions, through the API: the public key a
//! page subscribes with, saving a subscription (checked, and tied to the
//! session that made it: logging out removes it) and removing one.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};

use super::auth;
use super::clock::now_ms;
use super::context::{caller, respond, session_token, state};
use super::storage::PushSubscription;
use crate::error::ApiError;

/// The longest endpoint URL accepted.
const ENDPOINT_MAX: usize = 2_048;

pub async fn public_key() -> Result<String, ApiError> {
    respond(async { Ok(state()?.vapid.public_key().to_string()) }.await)
}

pub async fn subscribe(endpoint: String, p256dh: String, auth_secret: String) -> Result<(), ApiError> {
    respond(
        async {
            let state = state()?;
            let me = caller(&state).await?;
            check(&endpoint, &p256dh, &auth_secret, state.config.push_allow_http)
                .map_err(ApiError::Invalid)?;
            let token = session_token().ok_or(ApiError::Unauthenticated)?;
            let sub = PushSubscription {
                user: me.id,
                endpoint,
                p256dh,
                auth: auth_secret,
            };
            state
                .store
                .save_push_subscription(&sub, &auth::token_hash(&token), now_ms())
                .await
                .map_err(ApiError::from)
        }
        .await,
    )
}

pub async fn unsubscribe(endpoint: String) -> Result<bool, ApiError> {
    respond(
        async {
            let state = state()?;
            let me = caller(&state).await?;
            Ok(state.store.delete_push_subscription(me.id, &endpoint).await?)
        }
        .await,
    )
}

/// A subscription the push crate can use: an https endpoint (http only
/// when allowed, for tests), a P-256 public key and a 16-byte auth secret,
/// both base64url.
fn check(endpoint: &str, p256dh: &str, auth_secret: &str, allow_http: bool) -> Result<(), String> {
    let uri: axum::http::Uri = endpoint
        .parse()
        .map_err(|_| "The endpoint is not a URL.".to_string())?;
    if endpoint.len() > ENDPOINT_MAX
        || !(uri.scheme_str() == Some("https") || allow_http && uri.scheme_str() == Some("http"))
        || uri.host().is_none()
    {
        return Err(format!(
            "The endpoint must be an https URL of at most {ENDPOINT_MAX} characters."
        ));
    }
    let key = URL_SAFE_NO_PAD
        .decode(p256dh.trim_end_matches('='))
        .map_err(|_| "p256dh is not base64url.".to_string())?;
    web_push_native::p256::PublicKey::from_sec1_bytes(&key)
        .map_err(|_| "p256dh is not a P-256 public key.".to_string())?;
    let secret = URL_SAFE_NO_PAD
        .decode(auth_secret.trim_end_matches('='))
        .map_err(|_| "auth is not base64url.".to_string())?;
    if secret.len() != 16 {
        return Err("auth must be 16 bytes.".into());
    }
    Ok(())
}
