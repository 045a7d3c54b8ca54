//! The cluster backend: PostgreSQL, the source of truth shared by every
//! node. One pool serves reads and writes; PostgreSQL's row locks and unique
//! constraints arbitrate between nodes.

use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::{
    messages, search, sql, uploads, Access, Appended, Credentials, NewMessage, PushSubscription, StoreError,
    StoredMarks, Upload,
};
use crate::model::{Attachment, Member, Notify, RoomFile, RoomId, RoomKind, RoomSummary, User, UserId};
use crate::protocol::{MemberMarks, Message, Named, Seq};
use uuid::Uuid;

pub struct PgStore {
    read: PgPool,
    write: PgPool,
}

impl PgStore {
    pub async fn open(url: &str, pool_size: u32) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(2))
            // Fail fast when the database is down: callers answer `unavailable`.
            .acquire_timeout(Duration::from_secs(3))
            .connect(url)
            .await
            .context("cannot connect")?;
        sqlx::migrate!("migrations/postgres")
            .run(&pool)
            .await
            .context("cannot apply the migrations")?;
        Ok(Self {
            read: pool.clone(),
            write: pool,
        })
    }
}

sql::impl_store!(PgStore, sqlx::Postgres, "postgres", "FOR UPDATE", true);
