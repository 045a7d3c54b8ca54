//! Passwords and sessions: argon2id hashes (computed off the async threads),
//! 256-bit session tokens that are stored only as SHA-256 hashes, and the
//! session cookie. No storage schema or HTTP routing lives here.

use std::sync::OnceLock;

use argon2::{
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use axum::http::{header, HeaderMap};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::{rngs::OsRng, RngCore};
use sha2::{Digest, Sha256};

pub const COOKIE: &str = "chat_session";

/// Hashes a password with argon2id on the blocking pool.
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))
    })
    .await?
}

/// Checks a password against a stored hash on the blocking pool. With no
/// hash (unknown handle) it checks against a dummy one, so the answer takes
/// as long and says nothing about whether the handle exists.
pub async fn verify_password(password: String, hash: Option<String>) -> anyhow::Result<bool> {
    let known = hash.is_some();
    let hash = match hash {
        Some(h) => h,
        None => dummy_hash()?.to_string(),
    };
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(ok && known)
    })
    .await?
}

fn dummy_hash() -> anyhow::Result<&'static str> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h);
    }
    let salt = SaltString::generate(&mut OsRng);
    let h = Argon2::default()
        .hash_password(b"not a password of anyone", &salt)
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
        .to_string();
    Ok(DUMMY.get_or_init(|| h))
}

/// A new session token (what the cookie carries) and its hash (what is stored).
pub fn new_token() -> (String, Vec<u8>) {
    let mut raw = [0u8; 32];
    OsRng.fill_bytes(&mut raw);
    let token = URL_SAFE_NO_PAD.encode(raw);
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The session token from the request's cookies, if it has the right shape.
pub fn token_from_headers(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|t| t.len() == 43 && URL_SAFE_NO_PAD.decode(t).is_ok())
}

/// The Set-Cookie value that stores `token` for `max_age_secs`.
pub fn session_cookie(token: &str, max_age_secs: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}")
}

/// The Set-Cookie value that removes the session cookie.
pub fn clear_cookie(secure: bool) -> String {
    session_cookie("", 0, secure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, ha) = new_token();
        let (b, hb) = new_token();
        assert_ne!(a, b);
        assert_eq!(ha, token_hash(&a));
        assert_ne!(ha, hb);
        assert_eq!(a.len(), 43);
    }

    #[test]
    fn token_is_read_from_cookie_header() {
        let (t, _) = new_token();
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("x=1; {COOKIE}={t}; y=2")).unwrap(),
        );
        assert_eq!(token_from_headers(&h), Some(t));
        h.insert(header::COOKIE, HeaderValue::from_static("chat_session=forged"));
        assert_eq!(token_from_headers(&h), None);
    }

    #[test]
    fn cookie_is_http_only_and_lax() {
        let c = session_cookie("abc", 60, false);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Path=/"));
        assert!(!c.contains("Secure"));
        assert!(session_cookie("abc", 60, true).ends_with("; Secure"));
    }

    #[tokio::test]
    async fn passwords_verify_and_unknown_handles_never_do() {
        let h = hash_password("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse".into(), Some(h.clone()))
            .await
            .unwrap());
        assert!(!verify_password("wrong horse".into(), Some(h)).await.unwrap());
        assert!(!verify_password("not a password of anyone".into(), None)
            .await
            .unwrap());
    }
}
