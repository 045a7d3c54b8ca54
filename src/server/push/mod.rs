//! Web Push: the deployment's VAPID key pair (made by the first node that
//! starts and kept in the database, so every node signs with the same key
//! and browsers keep their subscriptions across restarts) and the public
//! key the page subscribes with. Sending lives in `sender`, its collapse
//! windows in `windows`; the devices'
//! subscriptions come through the API (`server::subscriptions`).

mod sender;
mod windows;

pub use sender::Pusher;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use web_push_native::jwt_simple::algorithms::{ECDSAP256PublicKeyLike, ES256KeyPair};

use super::storage::DynStore;

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
