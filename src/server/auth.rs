//! Passwords and sessions: argon2id hashes (computed off the async threads,
//! a bounded number at once),
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
use tokio::sync::Semaphore;

/// The session cookie's name over plain HTTP.
pub const COOKIE: &str = "chat_session";
/// Its name behind HTTPS (`CHAT_SECURE_COOKIE`): browsers accept a
/// `__Host-` cookie only when it is `Secure`, for `Path=/` and without a
/// `Domain`, so a sibling subdomain or a plain-HTTP page cannot plant or
/// overwrite it (session fixation).
pub const SECURE_COOKIE: &str = "__Host-chat_session";

/// The session cookie's name when `secure` (HTTPS) is on or off.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_COOKIE
    } else {
        COOKIE
    }
}

/// Password hashing, bounded. argon2id is slow and memory-hungry by design
/// (19 MiB and tens of milliseconds a hash): unbounded, a loop of sign-ups
/// or log-ins would take every blocking thread and the memory with them.
/// At most `threads` hashes run at once, at most `queue` more wait for a
/// turn, and past that the caller is told at once to come back later.
pub struct Hashing {
    /// Running or waiting: a permit to enter at all.
    admitted: Semaphore,
    /// Running: a permit to use a core.
    running: Semaphore,
}

/// The hashing pool is full: try again in a moment (503 with `Retry-After`).
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("too many passwords are being checked right now")]
    Busy,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl Hashing {
    pub fn new(threads: usize, queue: usize) -> Self {
        let threads = threads.max(1);
        Self {
            admitted: Semaphore::new(threads + queue),
            running: Semaphore::new(threads),
        }
    }

    /// `threads` = the cores this process may use.
    pub fn for_this_machine(queue: usize) -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, |n| n.get()), queue)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, HashError> {
        let _entered = self.admitted.try_acquire().map_err(|_| HashError::Busy)?;
        let _core = self.running.acquire().await.map_err(|_| HashError::Busy)?;
        Ok(tokio::task::spawn_blocking(work)
            .await
            .map_err(anyhow::Error::from)??)
    }

    /// Hashes a password with argon2id.
    pub async fn hash_password(&self, password: String) -> Result<String, HashError> {
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| anyhow::anyhow!("argon2: {e}"))
        })
        .await
    }

    /// Checks a password against a stored hash. With no hash (unknown
    /// handle) it checks against a dummy one, so the answer takes as long
    /// and says nothing about whether the handle exists.
    pub async fn verify_password(&self, password: String, hash: Option<String>) -> Result<bool, HashError> {
        self.run(move || {
            let known = hash.is_some();
            let hash = match hash {
                Some(h) => h,
                None => dummy_hash()?.to_string(),
            };
            let parsed = PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
            let ok = Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok();
            Ok(ok && known)
        })
        .await
    }
}

/// Made once, on a hashing thread.
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

/// A session's public name: the first 8 bytes of its token's hash, as a
/// number (live connections carry it) and in hex (the account screen).
pub fn session_id(token_hash: &[u8]) -> u64 {
    let mut first = [0u8; 8];
    for (to, from) in first.iter_mut().zip(token_hash) {
        *to = *from;
    }
    u64::from_be_bytes(first)
}

/// The session token from the request's cookies, if it has the right shape
/// (read from the cookie of `cookie_name(secure)` only).
pub fn token_from_headers(headers: &HeaderMap, secure: bool) -> Option<String> {
    let name = cookie_name(secure);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_string())
        .filter(|t| t.len() == 43 && URL_SAFE_NO_PAD.decode(t).is_ok())
}

/// The Set-Cookie value that stores `token` for `max_age_secs`.
pub fn session_cookie(token: &str, max_age_secs: u64, secure: bool) -> String {
    let name = cookie_name(secure);
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}")
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
        assert_eq!(token_from_headers(&h, false), Some(t.clone()));
        // Behind HTTPS only the __Host- cookie counts.
        assert_eq!(token_from_headers(&h, true), None);
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("{SECURE_COOKIE}={t}")).unwrap(),
        );
        assert_eq!(token_from_headers(&h, true), Some(t));
        h.insert(header::COOKIE, HeaderValue::from_static("chat_session=forged"));
        assert_eq!(token_from_headers(&h, false), None);
    }

    #[test]
    fn cookie_is_http_only_and_lax() {
        let c = session_cookie("abc", 60, false);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Path=/"));
        assert!(!c.contains("Secure"));
        let secure = session_cookie("abc", 60, true);
        assert!(secure.starts_with("__Host-chat_session=abc; Path=/;") && secure.ends_with("; Secure"));
        assert!(!secure.contains("Domain"));
    }

    #[tokio::test]
    async fn passwords_verify_and_unknown_handles_never_do() {
        let pool = Hashing::new(2, 0);
        let h = pool.hash_password("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(pool
            .verify_password("correct horse".into(), Some(h.clone()))
            .await
            .unwrap());
        assert!(!pool.verify_password("wrong horse".into(), Some(h)).await.unwrap());
        assert!(!pool
            .verify_password("not a password of anyone".into(), None)
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn hashing_past_its_queue_is_refused_at_once() {
        let pool = std::sync::Arc::new(Hashing::new(1, 1));
        let tries: Vec<_> = (0..6)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move { pool.hash_password("correct horse".into()).await })
            })
            .collect();
        let mut done = 0;
        let mut busy = 0;
        for t in tries {
            match t.await.unwrap() {
                Ok(_) => done += 1,
                Err(HashError::Busy) => busy += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(done >= 2, "one running and one waiting get through: {done}");
        assert!(busy >= 1, "the rest are told to come back: {busy}");
        assert_eq!(done + busy, 6);
        // Free again once they are done.
        assert!(pool.hash_password("again".into()).await.is_ok());
    }
}
