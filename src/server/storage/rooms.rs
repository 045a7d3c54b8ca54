//! Rooms and memberships: direct rooms and groups, who is in them, each
//! room as a member sees it (its summary), its head, and who shares a room
//! with whom (presence contacts).

use async_trait::async_trait;

use super::{Access, StoreError};
use crate::model::{Member, Notify, RoomId, RoomKind, RoomSummary, UserId};
use crate::protocol::Seq;

#[async_trait]
pub trait Rooms: Send + Sync {
    /// The direct room of two users, created on first use: a pair has one room.
    async fn open_direct(&self, a: UserId, b: UserId, now: i64) -> Result<RoomId, StoreError>;

    /// Creates a group whose owner is `creator`, with `members` (creator
    /// excluded or not) as members.
    async fn create_group(
        &self,
        creator: UserId,
        name: &str,
        members: &[UserId],
        now: i64,
    ) -> Result<RoomId, StoreError>;

    /// Adds a member whose watermarks start at the room's head (joining does
    /// not make the whole history unread). False if they were already in.
    async fn add_member(&self, room: RoomId, user: UserId, now: i64) -> Result<bool, StoreError> {
        Ok(!self.add_members(room, &[user], now).await?.is_empty())
    }

    /// `add_member` for many people in one transaction: those who were
    /// not in yet (now added).
    async fn add_members(&self, room: RoomId, users: &[UserId], now: i64) -> Result<Vec<UserId>, StoreError>;

    async fn access(&self, room: RoomId, user: UserId) -> Result<Access, StoreError>;

    /// Sets which messages of `room` notify `user`; false if they are not a member.
    async fn set_notify(&self, room: RoomId, user: UserId, notify: Notify) -> Result<bool, StoreError>;

    async fn member_count(&self, room: RoomId) -> Result<i64, StoreError>;

    async fn room_count(&self, user: UserId) -> Result<i64, StoreError>;

    async fn members(&self, room: RoomId) -> Result<Vec<Member>, StoreError>;

    /// At most `limit` members of a room with user ids after `after`, by id.
    async fn members_after(&self, room: RoomId, after: UserId, limit: u32)
        -> Result<Vec<Member>, StoreError>;

    /// The ids of a user's rooms (what a connection subscribes to).
    async fn room_ids_of(&self, user: UserId) -> Result<Vec<RoomId>, StoreError>;

    /// The rooms of a user, latest activity first.
    async fn rooms_of(&self, user: UserId) -> Result<Vec<RoomSummary>, StoreError>;

    /// One room as `user` sees it, if they are a member.
    async fn room_of(&self, room: RoomId, user: UserId) -> Result<Option<RoomSummary>, StoreError>;

    /// A group `user` left (or was removed from), as they see it now
    /// (read-only, `left`); None if they did not leave it.
    async fn left_room(&self, room: RoomId, user: UserId) -> Result<Option<RoomSummary>, StoreError>;

    /// Hides message `seq` of `room` from `user`'s own view (delete for
    /// me); false if the room has no such message.
    async fn hide(&self, room: RoomId, user: UserId, seq: Seq) -> Result<bool, StoreError>;

    /// The rows of `room` from `from` to `to` hidden from `user`.
    async fn hidden_in(&self, user: UserId, room: RoomId, from: Seq, to: Seq)
        -> Result<Vec<Seq>, StoreError>;

    /// The direct room of `a` and `b`, if they have one.
    async fn direct_room(&self, a: UserId, b: UserId) -> Result<Option<RoomId>, StoreError>;

    /// The room's last seq, None if there is no such room.
    async fn head(&self, room: RoomId) -> Result<Option<Seq>, StoreError>;

    /// The room's last seq and kind, None if there is no such room.
    async fn head_and_kind(&self, room: RoomId) -> Result<Option<(Seq, RoomKind)>, StoreError>;

    /// The people who see `user`'s presence: everyone sharing a direct room
    /// or a group of at most `max_members` with them, with their last-seen time.
    async fn contacts(
        &self,
        user: UserId,
        max_members: i64,
    ) -> Result<Vec<(UserId, Option<i64>)>, StoreError>;
}

/// `impl_rooms!(Type)`: the `Rooms` of a
/// store type with `read` and `write` pools (see `sql::impl_store`).
macro_rules! impl_rooms {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::server::storage::Rooms for $store {
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
                                "INSERT INTO members (room_id, user_id, role, joined_at, notify)
                                 VALUES ($1, $2, 'member', $3, (SELECT notify_default FROM users WHERE id = $2))",
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
                        "INSERT INTO members (room_id, user_id, role, joined_at, notify)
                         VALUES ($1, $2, $3, $4, (SELECT notify_default FROM users WHERE id = $2))
                         ON CONFLICT DO NOTHING",
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

            async fn add_members(&self, room: RoomId, users: &[UserId], now: i64) -> Result<Vec<UserId>, StoreError> {
                let mut tx = self.write.begin().await?;
                let mut added = Vec::new();
                for &user in users {
                    let done = sqlx::query(
                        "INSERT INTO members (room_id, user_id, role, delivered_seq, read_seq, read_n, joined_at, notify)
                         SELECT id, $2, 'member', head_seq, head_seq, head_n, $3,
                                (SELECT notify_default FROM users WHERE id = $2)
                           FROM rooms WHERE id = $1
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(room)
                    .bind(user)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 1 {
                        added.push(user);
                    }
                }
                tx.commit().await?;
                Ok(added)
            }

            async fn set_notify(
                &self,
                room: RoomId,
                user: UserId,
                notify: Notify,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE members SET notify = $3 WHERE room_id = $1 AND user_id = $2")
                    .bind(room)
                    .bind(user)
                    .bind(notify.as_str())
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
                let q = format!(
                    "SELECT u.id, u.handle, u.display_name, m.role {}",
                    sql::MEMBERS_OF_ROOM
                );
                let rows: Vec<(i64, String, String, String)> =
                    sqlx::query_as(&q).bind(room).fetch_all(&self.read).await?;
                rows.into_iter().map(sql::member).collect()
            }

            async fn members_after(&self, room: RoomId, after: UserId, limit: u32) -> Result<Vec<Member>, StoreError> {
                let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
                    "SELECT u.id, u.handle, u.display_name, m.role FROM members m JOIN users u ON u.id = m.user_id
                      WHERE m.room_id = $1 AND m.user_id > $2 ORDER BY m.user_id LIMIT $3",
                )
                .bind(room)
                .bind(after)
                .bind(i64::from(limit))
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
                // One connection for the three statements (each use of the
                // pool costs a round trip to check the connection).
                let mut conn = self.read.acquire().await?;
                // The lists first: read with older marks, they are a superset
                // of what the summaries' marks leave unread.
                let lists = sqlx::query_as(&sql::lists_select(false))
                    .bind(user)
                    .fetch_all(&mut *conn)
                    .await?;
                let q = format!(
                    "{} ORDER BY r.last_activity DESC, r.id DESC",
                    sql::SUMMARY_SELECT
                );
                let rows: Vec<sql::SummaryRow> = sqlx::query_as(&q).bind(user).fetch_all(&mut *conn).await?;
                let mut rooms = rows
                    .into_iter()
                    .map(sql::summary)
                    .collect::<Result<Vec<_>, _>>()?;
                sql::add_marks(&mut rooms, lists);
                // The groups they left stay listed, read-only, after the others.
                let former: Vec<sql::FormerRow> = sqlx::query_as(&format!("{} ORDER BY f.left_at DESC", sql::FORMER_SELECT))
                    .bind(user)
                    .fetch_all(&mut *conn)
                    .await?;
                rooms.extend(former.into_iter().map(sql::former));
                Ok(rooms)
            }

            async fn room_of(&self, room: RoomId, user: UserId) -> Result<Option<RoomSummary>, StoreError> {
                let mut conn = self.read.acquire().await?;
                let lists = sqlx::query_as(&sql::lists_select(true))
                    .bind(user)
                    .bind(room)
                    .fetch_all(&mut *conn)
                    .await?;
                let q = format!("{} AND r.id = $2", sql::SUMMARY_SELECT);
                let row: Option<sql::SummaryRow> = sqlx::query_as(&q)
                    .bind(user)
                    .bind(room)
                    .fetch_optional(&mut *conn)
                    .await?;
                let mut rooms = row
                    .map(sql::summary)
                    .transpose()?
                    .into_iter()
                    .collect::<Vec<_>>();
                sql::add_marks(&mut rooms, lists);
                Ok(rooms.pop())
            }

            async fn left_room(&self, room: RoomId, user: UserId) -> Result<Option<RoomSummary>, StoreError> {
                let row: Option<sql::FormerRow> = sqlx::query_as(&format!("{} AND f.room_id = $2", sql::FORMER_SELECT))
                    .bind(user)
                    .bind(room)
                    .fetch_optional(&self.read)
                    .await?;
                Ok(row.map(sql::former))
            }

            async fn hide(&self, room: RoomId, user: UserId, seq: Seq) -> Result<bool, StoreError> {
                let (found,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM messages WHERE room_id = $1 AND seq = $2 AND kind = 'message'",
                )
                .bind(room)
                .bind(seq)
                .fetch_one(&self.read)
                .await?;
                if found == 0 {
                    return Ok(false);
                }
                sqlx::query(
                    "INSERT INTO hidden (user_id, room_id, seq) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(user)
                .bind(room)
                .bind(seq)
                .execute(&self.write)
                .await?;
                Ok(true)
            }

            async fn hidden_in(&self, user: UserId, room: RoomId, from: Seq, to: Seq) -> Result<Vec<Seq>, StoreError> {
                let rows: Vec<(i64,)> = sqlx::query_as(
                    "SELECT seq FROM hidden WHERE user_id = $1 AND room_id = $2 AND seq >= $3 AND seq <= $4 ORDER BY seq",
                )
                .bind(user)
                .bind(room)
                .bind(from)
                .bind(to)
                .fetch_all(&self.read)
                .await?;
                Ok(rows.into_iter().map(|r| r.0).collect())
            }

            async fn direct_room(&self, a: UserId, b: UserId) -> Result<Option<RoomId>, StoreError> {
                let row: Option<(i64,)> = sqlx::query_as("SELECT id FROM rooms WHERE direct_key = $1")
                    .bind(sql::direct_key(a, b))
                    .fetch_optional(&self.read)
                    .await?;
                Ok(row.map(|r| r.0))
            }

            async fn head(&self, room: RoomId) -> Result<Option<Seq>, StoreError> {
                let row: Option<(i64,)> = sqlx::query_as("SELECT head_seq FROM rooms WHERE id = $1")
                    .bind(room)
                    .fetch_optional(&self.read)
                    .await?;
                Ok(row.map(|r| r.0))
            }

            async fn head_and_kind(&self, room: RoomId) -> Result<Option<(Seq, RoomKind)>, StoreError> {
                let row: Option<(i64, String)> =
                    sqlx::query_as("SELECT head_seq, kind FROM rooms WHERE id = $1")
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

            async fn contacts(
                &self,
                user: UserId,
                max_members: i64,
            ) -> Result<Vec<(UserId, Option<i64>)>, StoreError> {
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
        }
    };
}

pub(super) use impl_rooms;
