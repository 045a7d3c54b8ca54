//! The people directory: each person under the folded words of their
//! display name and their handle (`text::name_words`), found by the prefix
//! of a word (a range of the key index: keys compare by code point), a
//! page at a time by user id. The keys are written with the name they come
//! from (`write_keys`, in the transaction that creates the account or
//! changes the name); people stored before the directory are listed in
//! `people_todo` and indexed at start-up.

use async_trait::async_trait;

use super::StoreError;
use crate::model::{Person, UserId};
use crate::server::text::name_words;

#[async_trait]
pub trait People: Send + Sync {
    /// At most `limit` people with a key starting with `prefix`, by id
    /// after `after`; never `me`, nor anyone who blocks `me`.
    async fn find_people(
        &self,
        prefix: &str,
        me: UserId,
        after: UserId,
        limit: u32,
    ) -> Result<Vec<Person>, StoreError>;

    /// Indexes up to `limit` people of `people_todo`; how many it did.
    async fn people_backlog(&self, limit: u32) -> Result<usize, StoreError>;
}

/// The keys of a person: the words of their name, and their handle.
pub fn keys(handle: &str, display_name: &str) -> Vec<String> {
    let mut keys = name_words(display_name);
    if !keys.iter().any(|k| k == handle) {
        keys.push(handle.to_string());
    }
    keys
}

/// The first key after every key starting with `prefix` (U+10FFFF sorts
/// after any character a key may continue with).
pub fn prefix_end(prefix: &str) -> String {
    format!("{prefix}{}", char::MAX)
}

/// `impl_people!(Type, Database)`: the `People` of a store type with
/// `read` and `write` pools (see `sql::impl_store`).
macro_rules! impl_people {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::server::storage::People for $store {
            async fn find_people(
                &self,
                prefix: &str,
                me: UserId,
                after: UserId,
                limit: u32,
            ) -> Result<Vec<$crate::model::Person>, StoreError> {
                let rows: Vec<(i64, String, String, String, Option<String>)> = sqlx::query_as(
                    "SELECT u.id, u.handle, u.display_name, u.status, u.avatar FROM users u
                      WHERE u.id IN (SELECT p.user_id FROM people_index p WHERE p.key >= $1 AND p.key < $2)
                        AND u.id > $3 AND u.id <> $4
                        AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = u.id AND b.blocked_id = $4)
                      ORDER BY u.id LIMIT $5",
                )
                .bind(prefix)
                .bind($crate::server::storage::people::prefix_end(prefix))
                .bind(after)
                .bind(me)
                .bind(i64::from(limit))
                .fetch_all(&self.read)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, handle, display_name, status, avatar)| $crate::model::Person {
                        user: User { id, handle, display_name },
                        status,
                        avatar,
                    })
                    .collect())
            }

            async fn people_backlog(&self, limit: u32) -> Result<usize, StoreError> {
                let mut tx = self.write.begin().await?;
                let todo: Vec<(i64, String, String)> = sqlx::query_as(
                    "SELECT u.id, u.handle, u.display_name FROM people_todo t JOIN users u ON u.id = t.user_id
                      ORDER BY t.user_id LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
                for (id, handle, name) in &todo {
                    Self::write_keys(&mut tx, *id, handle, name).await?;
                    sqlx::query("DELETE FROM people_todo WHERE user_id = $1").bind(*id).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(todo.len())
            }
        }

        impl $store {
            /// Replaces the directory's keys of `user` with those of `handle`
            /// and `display_name`.
            async fn write_keys<'c>(
                tx: &mut sqlx::Transaction<'c, $db>,
                user: UserId,
                handle: &str,
                display_name: &str,
            ) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM people_index WHERE user_id = $1").bind(user).execute(&mut **tx).await?;
                for key in $crate::server::storage::people::keys(handle, display_name) {
                    sqlx::query("INSERT INTO people_index (key, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                        .bind(key)
                        .bind(user)
                        .execute(&mut **tx)
                        .await?;
                }
                Ok(())
            }
        }
    };
}

pub(super) use impl_people;
