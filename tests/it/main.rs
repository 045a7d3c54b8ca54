//! The integration tests, one binary (one link, one run): each module is
//! one part of the product tried through its real surface — HTTP, the
//! WebSocket, SQLite and PostgreSQL, Redis, a node process. The chaos
//! checker (`tests/chaos/`) is a binary of its own, run apart.
//!
//! Tests that need PostgreSQL or Redis read `TEST_POSTGRES_URL` and
//! `TEST_REDIS_URL`; with `CHAT_REQUIRE_POSTGRES=1` (as `make test` sets)
//! they fail instead of skipping when those are missing.

#[path = "../common/mod.rs"]
mod common;

/// `conformance!(test, …)`: each `async fn test(store: DynStore)` of the
/// module, run once on SQLite and once on PostgreSQL (a fresh database each).
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let (url, _dir) = crate::common::sqlite_url();
                    super::$name(crate::common::open(&url).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(url) = crate::common::postgres_url().await {
                        super::$name(crate::common::open(&url).await).await;
                    }
                }
            )*
        }
    };
}

mod accounts;
mod blocks;
mod changes;
mod cluster;
mod faults;
mod files;
mod groups;
mod http;
mod layers;
mod metrics;
mod presence;
mod profiles;
mod push;
mod receipts;
mod search;
mod security;
mod sessions;
mod shutdown;
mod storage;
mod stream;
mod upgrade;
mod ws;
