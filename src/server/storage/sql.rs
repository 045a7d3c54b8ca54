//! The SQL both backends run, written once. `$N` placeholders work in
//! SQLite and PostgreSQL alike; `impl_store!` turns this text into a `Store`
//! implementation for a type with a `read` and a `write` pool of either kind.
//! (A macro rather than generic code: sqlx's generic bounds over two
//! databases would be longer than the SQL.)

use uuid::Uuid;

use crate::model::{Member, Role, RoomKind, RoomSummary, User};
use crate::protocol::Message;

use super::StoreError;

pub(super) const USER_COLUMNS: &str = "id, handle, display_name";

/// Columns of a room summary as seen by the member `$1`, joined as `r` and `m`.
pub(super) const SUMMARY_SELECT: &str = "
    SELECT r.id, r.kind, r.name, r.head_seq, m.read_seq, r.last_activity,
           (SELECT COUNT(*) FROM members c WHERE c.room_id = r.id) AS member_count,
           (SELECT o.user_id FROM members o
             WHERE r.kind = 'direct' AND o.room_id = r.id AND o.user_id <> m.user_id
             LIMIT 1) AS peer,
           (SELECT u.handle FROM members o JOIN users u ON u.id = o.user_id
             WHERE r.kind = 'direct' AND o.room_id = r.id AND o.user_id <> m.user_id
             LIMIT 1) AS peer_handle,
           (SELECT u.display_name FROM members o JOIN users u ON u.id = o.user_id
             WHERE r.kind = 'direct' AND o.room_id = r.id AND o.user_id <> m.user_id
             LIMIT 1) AS peer_name,
           (SELECT x.body FROM messages x WHERE x.room_id = r.id AND x.seq = r.head_seq) AS preview
      FROM members m JOIN rooms r ON r.id = m.room_id
     WHERE m.user_id = $1";

/// The members of room `$1` as `m`, joined with their users as `u`, in joining order.
pub(super) const MEMBERS_OF_ROOM: &str =
    "FROM members m JOIN users u ON u.id = m.user_id WHERE m.room_id = $1 ORDER BY m.joined_at, u.handle";

/// Columns of a message, joined with its sender as `u`.
pub(super) const MESSAGE_SELECT: &str = "
    SELECT m.room_id, m.seq, m.id, m.sender_id, u.display_name, m.body, m.created_at, m.client_msg_id
      FROM messages m JOIN users u ON u.id = m.sender_id";

pub(super) type MessageRow = (i64, i64, Vec<u8>, i64, String, String, i64, Vec<u8>);

pub(super) fn message(row: MessageRow) -> Result<Message, StoreError> {
    let (room, seq, id, sender, from, body, ts, cid) = row;
    let uuid = |b: &[u8]| {
        Uuid::from_slice(b).map_err(|_| StoreError::Internal(format!("message {room}/{seq}: bad uuid")))
    };
    Ok(Message {
        room,
        seq,
        id: uuid(&id)?,
        sender,
        from,
        body,
        ts,
        cid: uuid(&cid)?,
    })
}

pub(super) type UserRow = (i64, String, String);
pub(super) type SummaryRow = (
    i64,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub(super) fn user(row: UserRow) -> User {
    User {
        id: row.0,
        handle: row.1,
        display_name: row.2,
    }
}

pub(super) fn summary(row: SummaryRow) -> Result<RoomSummary, StoreError> {
    let (
        id,
        kind,
        name,
        head_seq,
        read_seq,
        last_activity,
        member_count,
        peer,
        peer_handle,
        peer_name,
        preview,
    ) = row;
    let kind =
        RoomKind::parse(&kind).ok_or_else(|| StoreError::Internal(format!("room {id} has kind {kind:?}")))?;
    let name = match kind {
        RoomKind::Direct => peer_name.unwrap_or_else(|| "(left)".into()),
        RoomKind::Group => name,
    };
    Ok(RoomSummary {
        id,
        kind,
        name,
        peer,
        peer_handle,
        head_seq,
        read_seq,
        member_count,
        last_activity,
        preview,
    })
}

pub(super) fn role(s: &str) -> Result<Role, StoreError> {
    Role::parse(s).ok_or_else(|| StoreError::Internal(format!("unknown role {s:?}")))
}

pub(super) fn member(row: (i64, String, String, String)) -> Result<Member, StoreError> {
    let (id, handle, display_name, r) = row;
    Ok(Member {
        user: User {
            id,
            handle,
            display_name,
        },
        role: role(&r)?,
    })
}

pub(super) fn direct_key(a: i64, b: i64) -> String {
    format!("{}:{}", a.min(b), a.max(b))
}

/// The most messages one `INSERT` takes (7 parameters each, well within
/// both databases' limits).
pub(super) const INSERT_CHUNK: usize = 128;

/// A batch's statements come in a few sizes only, each prepared once and
/// kept in the connection's statement cache (a statement per batch length
/// would be prepared anew nearly every time): lookups and updates take their
/// keys without repeats, padded to a power of two by repeating the last one
/// (a repeat finds or sets the same row again); inserts go in chunks whose
/// sizes are powers of two.
pub(super) fn padded<T: Ord + Copy>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut keys: Vec<T> = items
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if let Some(&last) = keys.last() {
        keys.resize(keys.len().next_power_of_two(), last);
    }
    keys
}

/// `items` in chunks of at most `INSERT_CHUNK`, each a power of two long.
pub(super) fn pow2_chunks<T>(mut items: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if items.is_empty() {
            return None;
        }
        let n = INSERT_CHUNK.min(1 << items.len().ilog2());
        let (chunk, rest) = items.split_at(n);
        items = rest;
        Some(chunk)
    })
}

/// `n` placeholders: `$first, $first+1, …` when `numbered` (PostgreSQL
/// knows no other kind), else `?, ?, …` (SQLite: binding a long statement's
/// numbered parameters costs time quadratic in their number).
pub(super) fn params(n: usize, first: usize, numbered: bool) -> String {
    if !numbered {
        return vec!["?"; n].join(", ");
    }
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, $2), ($3, $4), …`: `rows` rows of `cols` placeholders, for a `VALUES`
/// list (whose columns both databases call `column1`, `column2`, …).
pub(super) fn values(rows: usize, cols: usize, numbered: bool) -> String {
    (0..rows)
        .map(|r| format!("({})", params(cols, 1 + r * cols, numbered)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The messages already stored for `n` (sender, cid) pairs. The pairs come
/// first (`CROSS JOIN` keeps SQLite from reordering), each looked up in the
/// unique (sender, cid) index.
pub(super) fn dedup_query(n: usize, numbered: bool) -> String {
    format!(
        "SELECT m.room_id, m.seq, m.id, m.sender_id, u.display_name, m.body, m.created_at, m.client_msg_id
           FROM (VALUES {}) AS v CROSS JOIN messages m JOIN users u ON u.id = m.sender_id
          WHERE m.sender_id = v.column1 AND m.client_msg_id = v.column2",
        values(n, 2, numbered)
    )
}

/// Which of `n` (room, user) pairs are memberships.
pub(super) fn membership_query(n: usize, numbered: bool) -> String {
    format!(
        "SELECT mb.room_id, mb.user_id FROM (VALUES {}) AS v CROSS JOIN members mb
          WHERE mb.room_id = v.column1 AND mb.user_id = v.column2",
        values(n, 2, numbered)
    )
}

/// `impl_store!(Type, "backend", "row lock clause", numbered)`: the lock
/// clause ends the `SELECT` that locks a batch's rooms (`FOR UPDATE` in
/// PostgreSQL; SQLite has one writer and no such clause); `numbered` says
/// how a batch's generated statements write placeholders (see `params`).
macro_rules! impl_store {
    ($store:ty, $backend:literal, $lock:literal, $numbered:literal) => {
        #[async_trait::async_trait]
        impl $crate::server::storage::Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.read).await?;
                Ok(())
            }

            async fn create_user(
                &self,
                handle: &str,
                display_name: &str,
                password_hash: &str,
                now: i64,
            ) -> Result<User, StoreError> {
                let q = format!(
                    "INSERT INTO users (handle, display_name, password_hash, created_at)
                     VALUES ($1, $2, $3, $4) RETURNING {}",
                    sql::USER_COLUMNS
                );
                let row: Result<sql::UserRow, _> = sqlx::query_as(&q)
                    .bind(handle)
                    .bind(display_name)
                    .bind(password_hash)
                    .bind(now)
                    .fetch_one(&self.write)
                    .await;
                match row {
                    Ok(row) => Ok(sql::user(row)),
                    Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::HandleTaken),
                    Err(e) => Err(e.into()),
                }
            }

            async fn credentials(&self, handle: &str) -> Result<Option<Credentials>, StoreError> {
                let q = format!(
                    "SELECT {}, password_hash FROM users WHERE handle = $1",
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
                let q = format!("SELECT {} FROM users WHERE handle = $1", sql::USER_COLUMNS);
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

            async fn open_direct(&self, a: UserId, b: UserId, now: i64) -> Result<RoomId, StoreError> {
                let key = sql::direct_key(a, b);
                let mut tx = self.write.begin().await?;
                let created: Option<(i64,)> = sqlx::query_as(
                    "INSERT INTO rooms (kind, name, direct_key, created_by, created_at, last_activity)
                     VALUES ('direct', '', $1, $2, $3, $3)
                     ON CONFLICT (direct_key) DO NOTHING RETURNING id",
                )
                .bind(&key)
                .bind(a)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let room = match created {
                    Some((room,)) => {
                        for user in [a, b] {
                            sqlx::query(
                                "INSERT INTO members (room_id, user_id, role, joined_at)
                                 VALUES ($1, $2, 'member', $3)",
                            )
                            .bind(room)
                            .bind(user)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                        }
                        room
                    }
                    None => {
                        let (room,): (i64,) = sqlx::query_as("SELECT id FROM rooms WHERE direct_key = $1")
                            .bind(&key)
                            .fetch_one(&mut *tx)
                            .await?;
                        room
                    }
                };
                tx.commit().await?;
                Ok(room)
            }

            async fn create_group(
                &self,
                creator: UserId,
                name: &str,
                members: &[UserId],
                now: i64,
            ) -> Result<RoomId, StoreError> {
                let mut tx = self.write.begin().await?;
                let (room,): (i64,) = sqlx::query_as(
                    "INSERT INTO rooms (kind, name, created_by, created_at, last_activity)
                     VALUES ('group', $1, $2, $3, $3) RETURNING id",
                )
                .bind(name)
                .bind(creator)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                let others = members.iter().filter(|&&m| m != creator);
                for (user, role) in std::iter::once((&creator, "owner")).chain(others.map(|m| (m, "member")))
                {
                    sqlx::query(
                        "INSERT INTO members (room_id, user_id, role, joined_at)
                         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    )
                    .bind(room)
                    .bind(*user)
                    .bind(role)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(room)
            }

            async fn add_member(&self, room: RoomId, user: UserId, now: i64) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "INSERT INTO members (room_id, user_id, role, delivered_seq, read_seq, joined_at)
                     SELECT id, $2, 'member', head_seq, head_seq, $3 FROM rooms WHERE id = $1
                     ON CONFLICT DO NOTHING",
                )
                .bind(room)
                .bind(user)
                .bind(now)
                .execute(&self.write)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn access(&self, room: RoomId, user: UserId) -> Result<Access, StoreError> {
                let row: Option<(i64, Option<String>)> = sqlx::query_as(
                    "SELECT r.id, m.role FROM rooms r
                       LEFT JOIN members m ON m.room_id = r.id AND m.user_id = $2
                      WHERE r.id = $1",
                )
                .bind(room)
                .bind(user)
                .fetch_optional(&self.read)
                .await?;
                Ok(match row {
                    None => Access::NoSuchRoom,
                    Some((_, None)) => Access::NotMember,
                    Some((_, Some(r))) => Access::Member(sql::role(&r)?),
                })
            }

            async fn member_count(&self, room: RoomId) -> Result<i64, StoreError> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM members WHERE room_id = $1")
                    .bind(room)
                    .fetch_one(&self.read)
                    .await?;
                Ok(n)
            }

            async fn room_count(&self, user: UserId) -> Result<i64, StoreError> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM members WHERE user_id = $1")
                    .bind(user)
                    .fetch_one(&self.read)
                    .await?;
                Ok(n)
            }

            async fn members(&self, room: RoomId) -> Result<Vec<Member>, StoreError> {
                let q = format!("SELECT u.id, u.handle, u.display_name, m.role {}", sql::MEMBERS_OF_ROOM);
                let rows: Vec<(i64, String, String, String)> = sqlx::query_as(&q)
                .bind(room)
                .fetch_all(&self.read)
                .await?;
                rows.into_iter().map(sql::member).collect()
            }

            async fn room_ids_of(&self, user: UserId) -> Result<Vec<RoomId>, StoreError> {
                let rows: Vec<(i64,)> = sqlx::query_as("SELECT room_id FROM members WHERE user_id = $1")
                    .bind(user)
                    .fetch_all(&self.read)
                    .await?;
                Ok(rows.into_iter().map(|r| r.0).collect())
            }

            async fn rooms_of(&self, user: UserId) -> Result<Vec<RoomSummary>, StoreError> {
                let q = format!(
                    "{} ORDER BY r.last_activity DESC, r.id DESC",
                    sql::SUMMARY_SELECT
                );
                let rows: Vec<sql::SummaryRow> = sqlx::query_as(&q).bind(user).fetch_all(&self.read).await?;
                rows.into_iter().map(sql::summary).collect()
            }

            async fn head(&self, room: RoomId) -> Result<Option<Seq>, StoreError> {
                let row: Option<(i64,)> = sqlx::query_as("SELECT head_seq FROM rooms WHERE id = $1")
                    .bind(room)
                    .fetch_optional(&self.read)
                    .await?;
                Ok(row.map(|r| r.0))
            }

            async fn append(&self, batch: &[NewMessage]) -> Result<Vec<Appended>, StoreError> {
                // Nearly every batch is new messages only: it skips the
                // lookup of earlier sends. One that turns out to hold a
                // resend is rolled back and stored again, looking first.
                let repeats = batch.iter().map(|m| (m.sender, m.cid)).collect::<std::collections::HashSet<_>>().len() < batch.len();
                if !repeats {
                    if let Some(out) = self.append_batch(batch, false).await? {
                        return Ok(out);
                    }
                }
                self.append_batch(batch, true)
                    .await?
                    .ok_or_else(|| StoreError::Internal("a batch conflicted after its cids were looked up".into()))
            }

            async fn raise_marks(
                &self,
                room: RoomId,
                user: UserId,
                delivered: Seq,
                read: Seq,
            ) -> Result<Option<StoredMarks>, StoreError> {
                let delivered = delivered.max(read);
                // Only a rise writes (and reports `rose`); a report at or below
                // the marks just reads them.
                let raised: Option<(i64, i64)> = sqlx::query_as(
                    "UPDATE members
                        SET delivered_seq = CASE WHEN delivered_seq < $3 THEN $3 ELSE delivered_seq END,
                            read_seq = CASE WHEN read_seq < $4 THEN $4 ELSE read_seq END
                      WHERE room_id = $1 AND user_id = $2 AND (delivered_seq < $3 OR read_seq < $4)
                  RETURNING delivered_seq, read_seq",
                )
                .bind(room)
                .bind(user)
                .bind(delivered)
                .bind(read)
                .fetch_optional(&self.write)
                .await?;
                if let Some((delivered, read)) = raised {
                    return Ok(Some(StoredMarks { delivered, read, rose: true }));
                }
                let current: Option<(i64, i64)> =
                    sqlx::query_as("SELECT delivered_seq, read_seq FROM members WHERE room_id = $1 AND user_id = $2")
                        .bind(room)
                        .bind(user)
                        .fetch_optional(&self.read)
                        .await?;
                Ok(current.map(|(delivered, read)| StoredMarks { delivered, read, rose: false }))
            }

            async fn member_marks(&self, room: RoomId) -> Result<Vec<MemberMarks>, StoreError> {
                let q = format!("SELECT u.id, u.display_name, m.delivered_seq, m.read_seq {}", sql::MEMBERS_OF_ROOM);
                let rows: Vec<(i64, String, i64, i64)> = sqlx::query_as(&q)
                .bind(room)
                .fetch_all(&self.read)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(user, name, delivered, read)| MemberMarks { user, name, delivered, read })
                    .collect())
            }

            async fn head_and_kind(&self, room: RoomId) -> Result<Option<(Seq, RoomKind)>, StoreError> {
                let row: Option<(i64, String)> = sqlx::query_as("SELECT head_seq, kind FROM rooms WHERE id = $1")
                    .bind(room)
                    .fetch_optional(&self.read)
                    .await?;
                row.map(|(head, kind)| {
                    RoomKind::parse(&kind)
                        .map(|k| (head, k))
                        .ok_or_else(|| StoreError::Internal(format!("room {room} has kind {kind:?}")))
                })
                .transpose()
            }

            async fn contacts(&self, user: UserId, max_members: i64) -> Result<Vec<(UserId, Option<i64>)>, StoreError> {
                let rows: Vec<(i64, Option<i64>)> = sqlx::query_as(
                    "SELECT u.id, u.last_seen FROM users u WHERE u.id IN (
                        SELECT o.user_id FROM members m
                          JOIN rooms r ON r.id = m.room_id
                          JOIN members o ON o.room_id = m.room_id
                         WHERE m.user_id = $1 AND o.user_id <> $1
                           AND (r.kind = 'direct'
                                OR (SELECT COUNT(*) FROM members c WHERE c.room_id = r.id) <= $2))
                     ORDER BY u.id",
                )
                .bind(user)
                .bind(max_members)
                .fetch_all(&self.read)
                .await?;
                Ok(rows)
            }

            async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError> {
                sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
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

            async fn save_push_subscription(
                &self,
                sub: &PushSubscription,
                session_hash: &[u8],
                now: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO push_subscriptions (user_id, session_hash, endpoint, p256dh, auth, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (endpoint) DO UPDATE SET user_id = $1, session_hash = $2, p256dh = $4, auth = $5",
                )
                .bind(sub.user)
                .bind(session_hash)
                .bind(&sub.endpoint)
                .bind(&sub.p256dh)
                .bind(&sub.auth)
                .bind(now)
                .execute(&self.write)
                .await?;
                Ok(())
            }

            async fn delete_push_subscription(&self, user: UserId, endpoint: &str) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM push_subscriptions WHERE user_id = $1 AND endpoint = $2")
                    .bind(user)
                    .bind(endpoint)
                    .execute(&self.write)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn forget_push_endpoint(&self, endpoint: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM push_subscriptions WHERE endpoint = $1")
                    .bind(endpoint)
                    .execute(&self.write)
                    .await?;
                Ok(())
            }

            async fn push_subscriptions(&self, user: UserId) -> Result<Vec<PushSubscription>, StoreError> {
                let rows: Vec<(String, String, String)> = sqlx::query_as(
                    "SELECT endpoint, p256dh, auth FROM push_subscriptions WHERE user_id = $1 ORDER BY id",
                )
                .bind(user)
                .fetch_all(&self.read)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(endpoint, p256dh, auth)| PushSubscription { user, endpoint, p256dh, auth })
                    .collect())
            }

            async fn room_push_subscriptions(
                &self,
                room: RoomId,
                except: UserId,
            ) -> Result<Vec<PushSubscription>, StoreError> {
                let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
                    "SELECT p.user_id, p.endpoint, p.p256dh, p.auth
                       FROM push_subscriptions p JOIN members m ON m.user_id = p.user_id
                      WHERE m.room_id = $1 AND p.user_id <> $2 ORDER BY p.user_id, p.id",
                )
                .bind(room)
                .bind(except)
                .fetch_all(&self.read)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(user, endpoint, p256dh, auth)| PushSubscription { user, endpoint, p256dh, auth })
                    .collect())
            }

            async fn unread_total(&self, user: UserId) -> Result<i64, StoreError> {
                let (total,): (i64,) = sqlx::query_as(
                    "SELECT CAST(COALESCE(SUM(r.head_seq - m.read_seq), 0) AS BIGINT)
                       FROM members m JOIN rooms r ON r.id = m.room_id WHERE m.user_id = $1",
                )
                .bind(user)
                .fetch_one(&self.read)
                .await?;
                Ok(total)
            }

            async fn last_seen(&self, user: UserId) -> Result<Option<i64>, StoreError> {
                let row: Option<(Option<i64>,)> = sqlx::query_as("SELECT last_seen FROM users WHERE id = $1")
                    .bind(user)
                    .fetch_optional(&self.read)
                    .await?;
                Ok(row.and_then(|r| r.0))
            }

            async fn set_last_seen(&self, user: UserId, at: i64) -> Result<(), StoreError> {
                sqlx::query("UPDATE users SET last_seen = $2 WHERE id = $1 AND (last_seen IS NULL OR last_seen < $2)")
                    .bind(user)
                    .bind(at)
                    .execute(&self.write)
                    .await?;
                Ok(())
            }

            async fn messages_after(&self, room: RoomId, after: Seq, limit: u32) -> Result<Vec<Message>, StoreError> {
                let q = format!("{} WHERE m.room_id = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3", sql::MESSAGE_SELECT);
                let rows: Vec<sql::MessageRow> = sqlx::query_as(&q)
                    .bind(room)
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(&self.read)
                    .await?;
                rows.into_iter().map(sql::message).collect()
            }

            async fn messages_before(&self, room: RoomId, before: Seq, limit: u32) -> Result<Vec<Message>, StoreError> {
                let q = format!(
                    "{} WHERE m.room_id = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3",
                    sql::MESSAGE_SELECT
                );
                let rows: Vec<sql::MessageRow> = sqlx::query_as(&q)
                    .bind(room)
                    .bind(before)
                    .bind(i64::from(limit))
                    .fetch_all(&self.read)
                    .await?;
                let mut msgs = rows.into_iter().map(sql::message).collect::<Result<Vec<_>, _>>()?;
                msgs.reverse();
                Ok(msgs)
            }

            async fn room_of(&self, room: RoomId, user: UserId) -> Result<Option<RoomSummary>, StoreError> {
                let q = format!("{} AND r.id = $2", sql::SUMMARY_SELECT);
                let row: Option<sql::SummaryRow> = sqlx::query_as(&q)
                    .bind(user)
                    .bind(room)
                    .fetch_optional(&self.read)
                    .await?;
                row.map(sql::summary).transpose()
            }
        }

        impl $store {
            /// Stores a batch in one transaction. `careful`: the batch's
            /// (sender, cid) pairs are looked up first and a resend answers
            /// the message as stored; else none is expected, and the first
            /// one met rolls the batch back (None).
            async fn append_batch(&self, batch: &[NewMessage], careful: bool) -> Result<Option<Vec<Appended>>, StoreError> {
                use std::collections::{HashMap, HashSet};
                // A batch costs a fixed handful of statements, however many
                // messages it holds: that is what makes group commit pay.
                let mut tx = self.write.begin().await?;
                // Lock the batch's rooms in id order and read their heads:
                // sends to one room from several nodes queue here, and the
                // dedup read below sees whatever committed before us.
                let rooms = sql::padded(batch.iter().map(|m| m.room));
                let q = format!(
                    "SELECT id, head_seq FROM rooms WHERE id IN ({}) ORDER BY id {}",
                    sql::params(rooms.len(), 1, $numbered),
                    $lock
                );
                let mut heads: HashMap<RoomId, Seq> =
                    rooms.iter().fold(sqlx::query_as(&q), |q, r| q.bind(*r)).fetch_all(&mut *tx).await?.into_iter().collect();

                let mut sent: HashMap<(UserId, uuid::Uuid), Message> = HashMap::new();
                if careful {
                    let cids = sql::padded(batch.iter().map(|m| (m.sender, m.cid)));
                    let q = sql::dedup_query(cids.len(), $numbered);
                    let earlier: Vec<sql::MessageRow> = cids
                        .iter()
                        .fold(sqlx::query_as(&q), |q, (sender, cid)| q.bind(*sender).bind(cid.as_bytes().as_slice()))
                        .fetch_all(&mut *tx)
                        .await?;
                    for row in earlier {
                        let m = sql::message(row)?;
                        sent.insert((m.sender, m.cid), m);
                    }
                }

                let pairs = sql::padded(batch.iter().map(|m| (m.room, m.sender)));
                let q = sql::membership_query(pairs.len(), $numbered);
                let members: HashSet<(RoomId, UserId)> = pairs
                    .iter()
                    .fold(sqlx::query_as(&q), |q, (room, user)| q.bind(*room).bind(*user))
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .collect();

                // Seqs in batch order; a cid twice in one batch is stored once.
                let mut out = Vec::with_capacity(batch.len());
                let mut new = Vec::new();
                for m in batch {
                    if let Some(original) = sent.get(&(m.sender, m.cid)) {
                        out.push(Appended::Duplicate(original.clone()));
                        continue;
                    }
                    let Some(head) = heads.get_mut(&m.room) else {
                        out.push(Appended::NoSuchRoom);
                        continue;
                    };
                    if !members.contains(&(m.room, m.sender)) {
                        out.push(Appended::NotMember);
                        continue;
                    }
                    *head += 1;
                    let stored = Message {
                        room: m.room,
                        seq: *head,
                        id: m.id,
                        sender: m.sender,
                        from: m.from.clone(),
                        body: m.body.clone(),
                        ts: m.ts,
                        cid: m.cid,
                    };
                    sent.insert((m.sender, m.cid), stored.clone());
                    new.push(stored.clone());
                    out.push(Appended::Stored(stored));
                }
                if new.is_empty() {
                    tx.commit().await?;
                    return Ok(Some(out));
                }

                for chunk in sql::pow2_chunks(&new) {
                    // Not careful: a resend (or a send racing in from another
                    // node) inserts nothing, and the count says so.
                    let q = format!(
                        "INSERT INTO messages (room_id, seq, id, sender_id, client_msg_id, body, created_at) VALUES {} {}",
                        sql::values(chunk.len(), 7, $numbered),
                        if careful { "" } else { "ON CONFLICT DO NOTHING" }
                    );
                    let done = chunk
                        .iter()
                        .fold(sqlx::query(&q), |q, m| {
                            q.bind(m.room)
                                .bind(m.seq)
                                .bind(m.id.as_bytes().as_slice())
                                .bind(m.sender)
                                .bind(m.cid.as_bytes().as_slice())
                                .bind(&m.body)
                                .bind(m.ts)
                        })
                        .execute(&mut *tx)
                        .await?;
                    if done.rows_affected() < chunk.len() as u64 {
                        tx.rollback().await?;
                        return Ok(None);
                    }
                }
                // Each room's new head and last activity (its last message's time).
                let mut rooms_now: HashMap<RoomId, (Seq, i64)> = HashMap::new();
                // Sending raises the sender's own marks to the message.
                let mut marks: HashMap<(RoomId, UserId), Seq> = HashMap::new();
                for m in &new {
                    rooms_now.insert(m.room, (m.seq, m.ts));
                    marks.insert((m.room, m.sender), m.seq);
                }
                let rooms_now = sql::padded(rooms_now);
                let q = format!(
                    "UPDATE rooms SET head_seq = v.column2, last_activity = v.column3
                       FROM (VALUES {}) AS v WHERE rooms.id = v.column1",
                    sql::values(rooms_now.len(), 3, $numbered)
                );
                rooms_now
                    .iter()
                    .fold(sqlx::query(&q), |q, (room, (seq, ts))| q.bind(*room).bind(*seq).bind(*ts))
                    .execute(&mut *tx)
                    .await?;
                let marks = sql::padded(marks);
                let q = format!(
                    "UPDATE members
                        SET read_seq = CASE WHEN read_seq < v.column3 THEN v.column3 ELSE read_seq END,
                            delivered_seq = CASE WHEN delivered_seq < v.column3 THEN v.column3 ELSE delivered_seq END
                       FROM (VALUES {}) AS v
                      WHERE members.room_id = v.column1 AND members.user_id = v.column2",
                    sql::values(marks.len(), 3, $numbered)
                );
                marks
                    .iter()
                    .fold(sqlx::query(&q), |q, ((room, user), seq)| q.bind(*room).bind(*user).bind(*seq))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(Some(out))
            }
        }
    };
}

pub(super) use impl_store;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_take_keys_once_padded_to_a_power_of_two() {
        assert_eq!(padded([3, 1, 3, 2]), vec![1, 2, 3, 3]);
        assert_eq!(padded([5, 5]), vec![5]);
        assert!(padded(Vec::<i64>::new()).is_empty());
        assert_eq!(padded(0..5).len(), 8);
    }

    #[test]
    fn inserts_go_in_power_of_two_chunks_that_cover_every_row_once() {
        let lens = |n: usize| {
            let rows: Vec<usize> = (0..n).collect();
            let chunks: Vec<&[usize]> = pow2_chunks(&rows).collect();
            assert_eq!(chunks.concat(), rows);
            chunks.iter().map(|c| c.len()).collect::<Vec<_>>()
        };
        assert_eq!(lens(255), vec![128, 64, 32, 16, 8, 4, 2, 1]);
        assert_eq!(lens(300), vec![128, 128, 32, 8, 4]);
        assert_eq!(lens(1), vec![1]);
        assert!(lens(0).is_empty());
    }
}
