//! The wall clock the server stamps things with: milliseconds since the
//! Unix epoch, as stored in the database and sent in frames.

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}
