//! The embedded backend: one SQLite file in WAL mode with `synchronous=FULL`
//! (an acknowledged write survives a power cut). SQLite has one writer at a
//! time, so writes go through a pool of one connection (no busy retries, no
//! lock upgrades) while reads use several.

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{
    messages, search, sql, uploads, Access, Appended, Credentials, NewMessage, PushSubscription, StoreError,
    StoredMarks, Upload,
};
use crate::model::{Attachment, Member, Notify, RoomFile, RoomId, RoomKind, RoomSummary, User, UserId};
use crate::protocol::{MemberMarks, Message, Named, Seq};
use uuid::Uuid;

pub struct SqliteStore {
    read: SqlitePool,
    write: SqlitePool,
}

impl SqliteStore {
    pub async fn open(url: &str, pool_size: u32) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .context("not a valid sqlite URL")?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // A multi-row statement inside a transaction keeps a statement
            // journal (to undo just that statement): in memory, not a temp file.
            .pragma("temp_store", "memory")
            // Rows come from sqlx's worker thread through a channel: a
            // result larger than it makes the worker wait for the reader
            // again and again, a thread switch each time (a batch's
            // membership check returned 256 rows through a channel of 50).
            .row_buffer_size(1024)
            .busy_timeout(Duration::from_secs(5));
        if let Some(dir) = options.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create the directory {}", dir.display()))?;
            }
        }
        // A connection to a local file does not go stale: no ping (a round
        // trip to sqlx's worker thread) before every use.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.clone())
            .await
            .context("cannot open the database")?;
        sqlx::migrate!("migrations/sqlite")
            .run(&write)
            .await
            .context("cannot apply the migrations")?;
        // Table statistics, so the planner picks the partial indexes (the
        // edits of a message, the deleted ones) over a room's whole range:
        // SQLite's advice for a long-lived connection, at open. Then without
        // the histogram samples: with them, a statement whose bound value
        // might change its plan is compiled again each time a value changes
        // (a quarter of the CPU of a reconnect storm went to parsing). The
        // row counts the planner needs stay; the last statement reloads them.
        for (statement, what) in [
            ("PRAGMA optimize=0x10002", "gather the table statistics"),
            ("DROP TABLE IF EXISTS sqlite_stat4", "drop the table samples"),
            ("ANALYZE sqlite_schema", "reload the table statistics"),
        ] {
            sqlx::query(statement)
                .execute(&write)
                .await
                .with_context(|| format!("cannot {what}"))?;
        }
        let read = SqlitePoolOptions::new()
            .max_connections(pool_size.max(1))
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.read_only(true))
            .await
            .context("cannot open the database for reading")?;
        Ok(Self { read, write })
    }
}

sql::impl_store!(SqliteStore, sqlx::Sqlite, "sqlite", "", false);
