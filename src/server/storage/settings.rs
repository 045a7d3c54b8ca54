//! Deployment-wide settings the nodes share (the VAPID key pair).

use async_trait::async_trait;

use super::StoreError;

#[async_trait]
pub trait Settings: Send + Sync {
    /// The value of setting `name`, set to `value` first if it has none
    /// (several nodes starting at once agree on the first one stored).
    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError>;
}

/// `impl_settings!(Type)`: the `Settings` of a
/// store type with `read` and `write` pools (see `sql::impl_store`).
macro_rules! impl_settings {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::server::storage::Settings for $store {
            async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError> {
                sqlx::query(
                    "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .bind(value)
                .execute(&self.write)
                .await?;
                let (value,): (String,) = sqlx::query_as("SELECT value FROM settings WHERE name = $1")
                    .bind(name)
                    .fetch_one(&self.write)
                    .await?;
                Ok(value)
            }
        }
    };
}

pub(super) use impl_settings;
