//! Web Push, the keys and the subscriptions: the deployment's VAPID key
//! pair (made by the first node that starts and kept in the database, so
//! every node signs with the same key and browsers keep their
//! subscriptions across restarts), the public key the page subscribes
//! with, and the devices' subscriptions (each tied to the session that
//! made it: logging out removes it). Sending lives in `sender`.

mod sender;

pub use sender::{PushStats, Pusher};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use web_push_native::jwt_simple::algorithms::{ECDSAP256PublicKeyLike, ES256KeyPair};

use super::auth;
use super::context::{caller, now_ms, respond, session_token, state};
use super::storage::{DynStore, PushSubscription};
use crate::api::ApiError;

/// The longest endpoint URL accepted.
const ENDPOINT_MAX: usize = 2_048;

pub struct Vapid {
    /// Signs the `Authorization: vapid …` header of each push.
    key_pair: ES256KeyPair,
    /// The uncompressed P-256 public key, base64url: `applicationServerKey`.
    public: String,
}

impl Vapid {
    /// The deployment's key pair: the stored one, or a new one stored now.
    pub async fn load(store: &DynStore) -> anyhow::Result<Self> {
        let fresh = URL_SAFE_NO_PAD.encode(ES256KeyPair::generate().to_bytes());
        let stored = store.setting_or_insert("vapid_private_key", &fresh).await?;
        let key_pair = ES256KeyPair::from_bytes(&URL_SAFE_NO_PAD.decode(stored)?)
            .map_err(|e| anyhow::anyhow!("the stored VAPID key is unreadable: {e}"))?;
        let public = URL_SAFE_NO_PAD.encode(key_pair.public_key().public_key().to_bytes_uncompressed());
        Ok(Self { key_pair, public })
    }

    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// The RFC 8292 `Authorization` header for a push to `endpoint`: a JWT
    /// for the endpoint's origin (its port too, which the push crate's own
    /// signer leaves out) from `contact`, valid for `ttl`, and the key.
    pub fn authorization(
        &self,
        endpoint: &str,
        contact: &str,
        ttl: std::time::Duration,
    ) -> anyhow::Result<String> {
        use web_push_native::jwt_simple::prelude::{Claims, ECDSAP256KeyPairLike};
        let uri: axum::http::Uri = endpoint.parse()?;
        let (scheme, host) = (
            uri.scheme_str().unwrap_or("https"),
            uri.host().unwrap_or_default(),
        );
        let origin = match (scheme, uri.port_u16()) {
            ("https", Some(443)) | ("http", Some(80)) | (_, None) => format!("{scheme}://{host}"),
            (_, Some(port)) => format!("{scheme}://{host}:{port}"),
        };
        let claims = Claims::create(ttl.into())
            .with_audience(origin)
            .with_subject(contact);
        let token = self
            .key_pair
            .sign(claims)
            .map_err(|e| anyhow::anyhow!("signing the VAPID token: {e}"))?;
        Ok(format!("vapid t={token}, k={}", self.public))
    }
}

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
