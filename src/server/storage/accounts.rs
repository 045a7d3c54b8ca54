//! People and their sessions: accounts (handle, display name, password
//! hash), log-in sessions by token hash (with where each is used), and
//! when each person was last online.

use async_trait::async_trait;

use super::{Credentials, StoreError};
use crate::model::{Notify, Profile, User, UserId};

#[async_trait]
pub trait Accounts: Send + Sync {
    /// Creates a user; `HandleTaken` if the (lower-case) handle exists,
    /// `HandleLookAlike` if one that looks the same does (`handle_skeleton`).
    async fn create_user(
        &self,
        handle: &str,
        display_name: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<User, StoreError>;

    async fn credentials(&self, handle: &str) -> Result<Option<Credentials>, StoreError>;

    async fn user_by_handle(&self, handle: &str) -> Result<Option<User>, StoreError>;

    async fn create_session(
        &self,
        token_hash: &[u8],
        user: UserId,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError>;

    /// The user of an unexpired session.
    async fn session_user(&self, token_hash: &[u8], now: i64) -> Result<Option<User>, StoreError>;

    async fn delete_session(&self, token_hash: &[u8]) -> Result<(), StoreError>;

    /// Records where a session logged in from (`agent`, `address`) and when.
    /// (Later uses are recorded by `record_seen`.)
    async fn session_seen(&self, token_hash: &[u8], at: i64, place: (&str, &str)) -> Result<(), StoreError>;

    /// `user`'s unexpired sessions, the latest used first.
    async fn sessions_of(&self, user: UserId, now: i64) -> Result<Vec<SessionRow>, StoreError>;

    /// Ends those of `user`'s sessions whose token hashes are `hashes`.
    async fn end_sessions(&self, user: UserId, hashes: &[Vec<u8>]) -> Result<(), StoreError>;

    async fn set_password(&self, user: UserId, password_hash: &str) -> Result<(), StoreError>;

    /// The user's profile (name, status, notification default).
    async fn profile(&self, user: UserId) -> Result<Option<Profile>, StoreError>;

    /// Which messages of the rooms `user` joins from now on notify them.
    async fn set_notify_default(&self, user: UserId, notify: Notify) -> Result<(), StoreError>;

    /// When the user was last online, if ever.
    async fn last_seen(&self, user: UserId) -> Result<Option<i64>, StoreError>;

    /// Records, in one transaction, when sessions were last used and
    /// people last online (neither time ever moves back).
    async fn record_seen(
        &self,
        sessions: &[(Vec<u8>, i64)],
        users: &[(UserId, i64)],
    ) -> Result<(), StoreError>;
}

/// A log-in session as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    pub token_hash: Vec<u8>,
    pub created_at: i64,
    pub seen_at: i64,
    pub agent: String,
    pub address: String,
}

/// `impl_accounts!(Type, numbered)`: the `Accounts` of a
/// store type with `read` and `write` pools (see `sql::impl_store`).
macro_rules! impl_accounts {
    ($store:ty, $numbered:literal) => {
        #[async_trait::async_trait]
        impl $crate::server::storage::Accounts for $store {
            async fn create_user(
                &self,
                handle: &str,
                display_name: &str,
                password_hash: &str,
                now: i64,
            ) -> Result<User, StoreError> {
                let q = format!(
                    "INSERT INTO users (handle, display_name, password_hash, created_at, skeleton)
                     VALUES ($1, $2, $3, $4, $5) RETURNING {}",
                    sql::USER_COLUMNS
                );
                let skeleton = $crate::model::handle_skeleton(handle);
                let mut tx = self.write.begin().await?;
                let near: Option<(String,)> =
                    sqlx::query_as("SELECT handle FROM users WHERE handle = $1 OR skeleton = $2 LIMIT 1")
                        .bind(handle)
                        .bind(&skeleton)
                        .fetch_optional(&mut *tx)
                        .await?;
                match near {
                    Some((near,)) if near == handle => return Err(StoreError::HandleTaken),
                    Some((near,)) => return Err(StoreError::HandleLookAlike(near)),
                    None => {}
                }
                let row: Result<sql::UserRow, _> = sqlx::query_as(&q)
                    .bind(handle)
                    .bind(display_name)
                    .bind(password_hash)
                    .bind(now)
                    .bind(&skeleton)
                    .fetch_one(&mut *tx)
                    .await;
                let user = match row {
                    Ok(row) => sql::user(row),
                    Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Err(StoreError::HandleTaken),
                    Err(e) => return Err(e.into()),
                };
                // Findable in the people directory from the start.
                Self::write_keys(&mut tx, user.id, &user.handle, &user.display_name).await?;
                tx.commit().await?;
                Ok(user)
            }

            async fn credentials(&self, handle: &str) -> Result<Option<Credentials>, StoreError> {
                let q = format!(
                    "SELECT {}, password_hash FROM users WHERE handle = $1 AND deleted_at IS NULL",
                    sql::USER_COLUMNS
                );
                let row: Option<(i64, String, String, String)> = sqlx::query_as(&q)
                    .bind(handle)
                    .fetch_optional(&self.read)
                    .await?;
                Ok(
                    row.map(|(id, handle, display_name, password_hash)| Credentials {
                        user: User {
                            id,
                            handle,
                            display_name,
                        },
                        password_hash,
                    }),
                )
            }

            async fn user_by_handle(&self, handle: &str) -> Result<Option<User>, StoreError> {
                let q = format!("SELECT {} FROM users WHERE handle = $1 AND deleted_at IS NULL", sql::USER_COLUMNS);
                let row: Option<sql::UserRow> = sqlx::query_as(&q)
                    .bind(handle)
                    .fetch_optional(&self.read)
                    .await?;
                Ok(row.map(sql::user))
            }

            async fn create_session(
                &self,
                token_hash: &[u8],
                user: UserId,
                now: i64,
                expires_at: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(token_hash)
                .bind(user)
                .bind(now)
                .bind(expires_at)
                .execute(&self.write)
                .await?;
                Ok(())
            }

            async fn session_user(&self, token_hash: &[u8], now: i64) -> Result<Option<User>, StoreError> {
                let row: Option<sql::UserRow> = sqlx::query_as(
                    "SELECT u.id, u.handle, u.display_name
                       FROM sessions s JOIN users u ON u.id = s.user_id
                      WHERE s.token_hash = $1 AND s.expires_at > $2",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.read)
                .await?;
                Ok(row.map(sql::user))
            }

            async fn delete_session(&self, token_hash: &[u8]) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(&self.write)
                    .await?;
                Ok(())
            }

            async fn session_seen(&self, token_hash: &[u8], at: i64, place: (&str, &str)) -> Result<(), StoreError> {
                sqlx::query("UPDATE sessions SET seen_at = $2, agent = $3, address = $4 WHERE token_hash = $1")
                .bind(token_hash)
                .bind(at)
                .bind(place.0)
                .bind(place.1)
                .execute(&self.write)
                .await?;
                Ok(())
            }

            async fn sessions_of(&self, user: UserId, now: i64) -> Result<Vec<$crate::server::storage::SessionRow>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT token_hash, created_at, seen_at, agent, address FROM sessions
                      WHERE user_id = $1 AND expires_at > $2 ORDER BY seen_at DESC, created_at DESC",
                )
                .bind(user)
                .bind(now)
                .fetch_all(&self.read)
                .await?)
            }

            async fn end_sessions(&self, user: UserId, hashes: &[Vec<u8>]) -> Result<(), StoreError> {
                let mut tx = self.write.begin().await?;
                for hash in hashes {
                    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash = $2")
                        .bind(user)
                        .bind(hash.as_slice())
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn set_password(&self, user: UserId, password_hash: &str) -> Result<(), StoreError> {
                sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
                    .bind(user)
                    .bind(password_hash)
                    .execute(&self.write)
                    .await?;
                Ok(())
            }

            async fn profile(&self, user: UserId) -> Result<Option<$crate::model::Profile>, StoreError> {
                let row: Option<(i64, String, String, String, String, Option<String>)> = sqlx::query_as(
                    "SELECT id, handle, display_name, status, notify_default, avatar FROM users WHERE id = $1",
                )
                .bind(user)
                .fetch_optional(&self.read)
                .await?;
                row.map(|(id, handle, display_name, status, notify, avatar)| {
                    Ok($crate::model::Profile {
                        user: User { id, handle, display_name },
                        status,
                        avatar,
                        notify_default: $crate::model::Notify::parse(&notify)
                            .ok_or_else(|| StoreError::Internal(format!("user {id} has notify {notify:?}")))?,
                    })
                })
                .transpose()
            }

            async fn set_notify_default(&self, user: UserId, notify: $crate::model::Notify) -> Result<(), StoreError> {
                sqlx::query("UPDATE users SET notify_default = $2 WHERE id = $1")
                    .bind(user)
                    .bind(notify.as_str())
                    .execute(&self.write)
                    .await?;
                Ok(())
            }

            async fn last_seen(&self, user: UserId) -> Result<Option<i64>, StoreError> {
                let row: Option<(Option<i64>,)> = sqlx::query_as("SELECT last_seen FROM users WHERE id = $1")
                    .bind(user)
                    .fetch_optional(&self.read)
                    .await?;
                Ok(row.and_then(|r| r.0))
            }

            async fn record_seen(&self, sessions: &[(Vec<u8>, i64)], users: &[(UserId, i64)]) -> Result<(), StoreError> {
                use $crate::server::storage::messages::{pow2_chunks, values};
                // A statement per chunk of rows (a round trip each), not per row.
                let mut tx = self.write.begin().await?;
                for chunk in pow2_chunks(sessions) {
                    let q = format!(
                        "UPDATE sessions SET seen_at = v.column2 FROM (VALUES {}) AS v
                          WHERE sessions.token_hash = v.column1 AND sessions.seen_at < v.column2",
                        values(chunk.len(), 2, $numbered)
                    );
                    let mut q = sqlx::query(&q);
                    for (hash, at) in chunk {
                        q = q.bind(hash.as_slice()).bind(at);
                    }
                    q.execute(&mut *tx).await?;
                }
                for chunk in pow2_chunks(users) {
                    let q = format!(
                        "UPDATE users SET last_seen = v.column2 FROM (VALUES {}) AS v
                          WHERE users.id = v.column1 AND (users.last_seen IS NULL OR users.last_seen < v.column2)",
                        values(chunk.len(), 2, $numbered)
                    );
                    let mut q = sqlx::query(&q);
                    for (user, at) in chunk {
                        q = q.bind(user).bind(at);
                    }
                    q.execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

pub(super) use impl_accounts;
