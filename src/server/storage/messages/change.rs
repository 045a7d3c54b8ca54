//! Changes to a group that ride its stream (`groups::Change`): each is
//! one transaction that locks the room, checks who asks and whom it
//! touches (`groups::check`), changes the room or its members, and stores
//! the row saying so at the room's next seq, as `append` stores messages
//! (this is the other writer of `messages` rows, beside `append`, and lives
//! with it).

use async_trait::async_trait;
use uuid::Uuid;

use super::super::StoreError;
use crate::model::{Role, RoomId, UserId};
use crate::protocol::Message;

/// What someone asks to do to a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ask {
    Rename(String),
    Describe(String),
    /// A new picture (None: none).
    Avatar(Option<String>),
    /// Add these people (those already in are left alone).
    Add(Vec<UserId>),
    Remove(UserId),
    SetRole(UserId, Role),
    HandOver(UserId),
    Leave,
}

/// A person's profile as they set it: what a `Profile` row carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileEdit {
    pub display_name: String,
    pub status: String,
    pub avatar: Option<String>,
    /// The account is being deleted (`Changes::close_account` follows);
    /// `erased`: with the bodies of its messages.
    pub deleted: bool,
    pub erased: bool,
}

/// A change to store: who asks, in which room, with the row's id and time.
#[derive(Clone, Debug)]
pub struct NewChange {
    pub room: RoomId,
    pub sender: UserId,
    pub ask: Ask,
    pub id: Uuid,
    pub ts: i64,
}

/// A change made: its row as stored, and for `Add` who was added (those
/// in already are not).
#[derive(Clone, Debug, PartialEq)]
pub struct Changed {
    pub row: Message,
    pub added: Vec<UserId>,
}

/// Why a change was not made (nothing was stored).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("There is no room {0}.")]
    NoSuchRoom(RoomId),
    #[error("You are not a member of this room.")]
    NotMember,
    #[error("A direct conversation has two people and no group settings; create a group instead.")]
    Direct,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("That person is not a member of this group.")]
    NotInRoom(UserId),
    #[error("{0}")]
    Nothing(&'static str),
}

#[async_trait]
pub trait Changes: Send + Sync {
    /// Makes the change and stores its row (the stored row, with its
    /// `change`), or says why not.
    async fn change_room(&self, change: &NewChange) -> Result<Result<Changed, Refused>, StoreError>;

    /// Sets `user`'s display name, status and picture and stores a
    /// `Profile` row in each of their rooms, in one transaction: the rows.
    async fn change_profile(
        &self,
        user: UserId,
        edit: &ProfileEdit,
        ts: i64,
    ) -> Result<Vec<Message>, StoreError>;

    /// Deletes `user`'s account, after its `Profile` rows and its groups
    /// left: the row stays, as "Deleted account" with no password and a
    /// handle no one can sign up with; sessions, push subscriptions, blocks
    /// and the directory's entries go, so do unsent uploads; with `erase`,
    /// the bodies of their messages too (deleted, as a delete leaves them:
    /// their edits, mentions, search documents and files).
    async fn close_account(&self, user: UserId, erase: bool, now: i64) -> Result<(), StoreError>;

    /// Where `user`'s view of a room they left ends (the seq of the row
    /// that said so); None if they never left it (or are back in).
    async fn former(&self, room: RoomId, user: UserId) -> Result<Option<i64>, StoreError>;
}

/// The order in which the members of a group take it over when its
/// owner leaves: admins first, then by how long they have been in.
pub const SUCCESSOR: &str = "SELECT user_id FROM members WHERE room_id = $1 AND user_id <> $2
    ORDER BY CASE role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, joined_at, user_id LIMIT 1";

/// `impl_changes!(Type, Database, "row lock clause")`: the `Changes` of a
/// store type with a `write` pool.
macro_rules! impl_changes {
    ($store:ty, $db:ty, $lock:literal) => {
        #[async_trait::async_trait]
        impl $crate::server::storage::Changes for $store {
            async fn change_room(
                &self,
                change: &$crate::server::storage::NewChange,
            ) -> Result<Result<$crate::server::storage::Changed, $crate::server::storage::Refused>, StoreError> {
                use $crate::groups::{check, Action, Change};
                use $crate::model::{Kind, Role, User};
                use $crate::server::storage::{Ask, Refused};
                let (room, me) = (change.room, change.sender);
                let mut tx = self.write.begin().await?;
                let q = format!("SELECT head_seq, head_n, kind FROM rooms WHERE id = $1 {}", $lock);
                let head: Option<(i64, i64, String)> = sqlx::query_as(&q).bind(room).fetch_optional(&mut *tx).await?;
                let Some((head_seq, head_n, kind)) = head else {
                    return Ok(Err(Refused::NoSuchRoom(room)));
                };
                let person = |user: UserId| {
                    sqlx::query_as::<_, (i64, String, String, String)>(
                        "SELECT u.id, u.handle, u.display_name, m.role FROM members m JOIN users u ON u.id = m.user_id
                          WHERE m.room_id = $1 AND m.user_id = $2",
                    )
                    .bind(room)
                    .bind(user)
                };
                let Some((_, _, my_name, my_role)) = person(me).fetch_optional(&mut *tx).await? else {
                    return Ok(Err(Refused::NotMember));
                };
                if kind != "group" {
                    return Ok(Err(Refused::Direct));
                }
                let my_role = sql::role(&my_role)?;
                // The member the change is about, for those about one.
                let about = match &change.ask {
                    Ask::Remove(u) | Ask::SetRole(u, _) | Ask::HandOver(u) => Some(*u),
                    _ => None,
                };
                let other = match about {
                    Some(u) if u == me => {
                        return Ok(Err(Refused::Nothing("That is you: leave the group instead, or ask its owner.")))
                    }
                    Some(u) => match person(u).fetch_optional(&mut *tx).await? {
                        Some((id, handle, display_name, role)) => Some((User { id, handle, display_name }, sql::role(&role)?)),
                        None => return Ok(Err(Refused::NotInRoom(u))),
                    },
                    None => None,
                };
                let action = match (&change.ask, &other) {
                    (Ask::Rename(_), _) => Action::Rename,
                    (Ask::Describe(_) | Ask::Avatar(_), _) => Action::Describe,
                    (Ask::Add(_), _) => Action::Add,
                    (Ask::Leave, _) => Action::Leave,
                    (Ask::Remove(_), Some((_, role))) => Action::Remove(*role),
                    (Ask::SetRole(_, to), Some((_, role))) => Action::SetRole(*role, *to),
                    (Ask::HandOver(_), Some(_)) => Action::HandOver,
                    _ => return Err(StoreError::Internal("a change about no one".into())),
                };
                if let Err(why) = check(my_role, action) {
                    return Ok(Err(Refused::Forbidden(why)));
                }
                let seq = head_seq + 1;
                let mut added = Vec::new();
                let set_role = |user: UserId, role: Role| {
                    sqlx::query("UPDATE members SET role = $3 WHERE room_id = $1 AND user_id = $2")
                        .bind(room)
                        .bind(user)
                        .bind(role.as_str())
                };
                let made = match change.ask.clone() {
                    Ask::Rename(name) => {
                        sqlx::query("UPDATE rooms SET name = $2 WHERE id = $1").bind(room).bind(&name).execute(&mut *tx).await?;
                        Change::Renamed { name }
                    }
                    Ask::Describe(text) => {
                        sqlx::query("UPDATE rooms SET description = $2 WHERE id = $1")
                            .bind(room)
                            .bind(&text)
                            .execute(&mut *tx)
                            .await?;
                        Change::Described { text }
                    }
                    Ask::Avatar(avatar) => {
                        sqlx::query("UPDATE rooms SET avatar = $2 WHERE id = $1")
                            .bind(room)
                            .bind(&avatar)
                            .execute(&mut *tx)
                            .await?;
                        Change::Avatar { avatar }
                    }
                    Ask::Add(users) => {
                        for user in users {
                            // Newcomers start at this row: they see it, and
                            // nothing before it counts as unread.
                            let done = sqlx::query(
                                "INSERT INTO members (room_id, user_id, role, delivered_seq, read_seq, read_n, joined_at, notify)
                                 VALUES ($1, $2, 'member', $3, $3, $4, $5, (SELECT notify_default FROM users WHERE id = $2))
                                 ON CONFLICT DO NOTHING",
                            )
                            .bind(room)
                            .bind(user)
                            .bind(seq)
                            .bind(head_n)
                            .bind(change.ts)
                            .execute(&mut *tx)
                            .await?;
                            if done.rows_affected() == 1 {
                                added.push(user);
                            }
                        }
                        if added.is_empty() {
                            return Ok(Err(Refused::Nothing("They are in the group already.")));
                        }
                        let mut users = Vec::new();
                        for &user in &added {
                            sqlx::query("DELETE FROM former_members WHERE room_id = $1 AND user_id = $2")
                                .bind(room)
                                .bind(user)
                                .execute(&mut *tx)
                                .await?;
                            if users.len() < $crate::groups::ADDED_NAMED {
                                let row: Option<sql::UserRow> =
                                    sqlx::query_as("SELECT id, handle, display_name FROM users WHERE id = $1")
                                        .bind(user)
                                        .fetch_optional(&mut *tx)
                                        .await?;
                                users.extend(row.map(sql::user));
                            }
                        }
                        Change::Added { users, count: added.len() as u32 }
                    }
                    Ask::Remove(_) => {
                        let (user, _) = other.clone().ok_or_else(|| StoreError::Internal("no one to remove".into()))?;
                        Self::part(&mut tx, room, user.id, seq, head_n, change.ts).await?;
                        Change::Removed { user }
                    }
                    Ask::Leave => {
                        // The owner's group goes to the next in line.
                        let owner = if my_role == Role::Owner {
                            let next: Option<(i64,)> =
                                sqlx::query_as(messages::change::SUCCESSOR).bind(room).bind(me).fetch_optional(&mut *tx).await?;
                            match next {
                                Some((next,)) => {
                                    set_role(next, Role::Owner).execute(&mut *tx).await?;
                                    let row: sql::UserRow =
                                        sqlx::query_as("SELECT id, handle, display_name FROM users WHERE id = $1")
                                            .bind(next)
                                            .fetch_one(&mut *tx)
                                            .await?;
                                    Some(sql::user(row))
                                }
                                None => None,
                            }
                        } else {
                            None
                        };
                        Self::part(&mut tx, room, me, seq, head_n, change.ts).await?;
                        Change::Left { owner }
                    }
                    Ask::SetRole(_, role) => {
                        let (user, was) = other.clone().ok_or_else(|| StoreError::Internal("no one to set".into()))?;
                        if was == role {
                            return Ok(Err(Refused::Nothing("They have that role already.")));
                        }
                        set_role(user.id, role).execute(&mut *tx).await?;
                        Change::Role { user, role }
                    }
                    Ask::HandOver(_) => {
                        let (user, _) = other.clone().ok_or_else(|| StoreError::Internal("no one to hand over to".into()))?;
                        set_role(user.id, Role::Owner).execute(&mut *tx).await?;
                        set_role(me, Role::Admin).execute(&mut *tx).await?;
                        Change::HandedOver { user }
                    }
                };
                let body = serde_json::to_string(&made).map_err(|e| StoreError::Internal(format!("a change as JSON: {e}")))?;
                let cid = Self::put_row(&mut tx, (room, seq, head_n), me, change.id, &body, change.ts).await?;
                tx.commit().await?;
                let row = $crate::protocol::Message {
                    room,
                    seq,
                    id: change.id,
                    sender: me,
                    from: my_name,
                    ts: change.ts,
                    cid,
                    kind: Kind::Room,
                    n: head_n,
                    version: seq,
                    change: Some(made),
                    ..Default::default()
                };
                Ok(Ok($crate::server::storage::Changed { row, added }))
            }

            async fn change_profile(
                &self,
                user: UserId,
                edit: &$crate::server::storage::ProfileEdit,
                ts: i64,
            ) -> Result<Vec<$crate::protocol::Message>, StoreError> {
                let (display_name, status) = (edit.display_name.as_str(), edit.status.as_str());
                let mut tx = self.write.begin().await?;
                let old: Option<(String, String)> = sqlx::query_as("SELECT handle, display_name FROM users WHERE id = $1")
                    .bind(user)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some((handle, was)) = old else {
                    return Ok(Vec::new());
                };
                // The rows of a deletion name the account as it will be.
                let handle = if edit.deleted { $crate::model::deleted_handle(user) } else { handle };
                sqlx::query("UPDATE users SET display_name = $2, status = $3, avatar = $4 WHERE id = $1")
                    .bind(user)
                    .bind(display_name)
                    .bind(status)
                    .bind(&edit.avatar)
                    .execute(&mut *tx)
                    .await?;
                Self::write_keys(&mut tx, user, &handle, display_name).await?;
                let made = $crate::groups::Change::Profile {
                    user: $crate::model::User { id: user, handle, display_name: display_name.to_string() },
                    was,
                    status: status.to_string(),
                    avatar: edit.avatar.clone(),
                    deleted: edit.deleted,
                    erased: edit.erased,
                };
                let body = serde_json::to_string(&made).map_err(|e| StoreError::Internal(format!("a change as JSON: {e}")))?;
                // Every room of theirs, locked in id order as `append` locks them.
                let q = format!(
                    "SELECT id, head_seq, head_n FROM rooms WHERE id IN (SELECT room_id FROM members WHERE user_id = $1) ORDER BY id {}",
                    $lock
                );
                let rooms: Vec<(i64, i64, i64)> = sqlx::query_as(&q).bind(user).fetch_all(&mut *tx).await?;
                let mut rows = Vec::with_capacity(rooms.len());
                for (room, head, n) in rooms {
                    let (seq, id) = (head + 1, Uuid::now_v7());
                    let cid = Self::put_row(&mut tx, (room, seq, n), user, id, &body, ts).await?;
                    rows.push($crate::protocol::Message {
                        room,
                        seq,
                        id,
                        sender: user,
                        from: display_name.to_string(),
                        ts,
                        cid,
                        kind: $crate::model::Kind::Room,
                        n,
                        version: seq,
                        change: Some(made.clone()),
                        ..Default::default()
                    });
                }
                tx.commit().await?;
                Ok(rows)
            }

            async fn close_account(&self, user: UserId, erase: bool, now: i64) -> Result<(), StoreError> {
                let mut tx = self.write.begin().await?;
                sqlx::query(
                    "UPDATE users SET handle = $4, display_name = $2, status = '',
                            avatar = NULL, password_hash = '!', skeleton = NULL, deleted_at = $3
                      WHERE id = $1",
                )
                .bind(user)
                .bind($crate::model::DELETED_ACCOUNT)
                .bind(now)
                .bind($crate::model::deleted_handle(user))
                .execute(&mut *tx)
                .await?;
                for q in [
                    "DELETE FROM sessions WHERE user_id = $1",
                    "DELETE FROM push_subscriptions WHERE user_id = $1",
                    "DELETE FROM blocks WHERE user_id = $1 OR blocked_id = $1",
                    "DELETE FROM people_index WHERE user_id = $1",
                    "DELETE FROM people_todo WHERE user_id = $1",
                    "UPDATE files SET state = 'erased' WHERE owner_id = $1 AND state IN ('uploading', 'ready')",
                ] {
                    sqlx::query(q).bind(user).execute(&mut *tx).await?;
                }
                if erase {
                    for q in [
                        "DELETE FROM search WHERE rowid IN
                           (SELECT room_id * 4294967296 + seq FROM messages WHERE sender_id = $1 AND kind = 'message')",
                        "DELETE FROM search_todo WHERE EXISTS (SELECT 1 FROM messages m
                           WHERE m.room_id = search_todo.room_id AND m.seq = search_todo.seq AND m.sender_id = $1)",
                        "DELETE FROM mentions WHERE EXISTS (SELECT 1 FROM messages m
                           WHERE m.room_id = mentions.room_id AND m.seq = mentions.seq AND m.sender_id = $1)",
                        "UPDATE files SET state = 'erased' WHERE owner_id = $1 AND state = 'sent'",
                        "UPDATE messages SET body = '', mentions = NULL, files = NULL,
                                deleted = CASE WHEN kind = 'message' THEN 1 ELSE deleted END
                          WHERE sender_id = $1 AND kind IN ('message', 'edit')",
                    ] {
                        sqlx::query(q).bind(user).execute(&mut *tx).await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn former(&self, room: RoomId, user: UserId) -> Result<Option<i64>, StoreError> {
                let row: Option<(i64,)> =
                    sqlx::query_as("SELECT until_seq FROM former_members WHERE room_id = $1 AND user_id = $2")
                        .bind(room)
                        .bind(user)
                        .fetch_optional(&self.read)
                        .await?;
                Ok(row.map(|r| r.0))
            }
        }

        impl $store {
            /// Stores room row `seq` of `room` (`n` the room's message count),
            /// made by `sender`: the room's head moves to it, and so do the
            /// sender's marks if they are a member (as sending raises them).
            /// Its `cid`.
            async fn put_row<'c>(
                tx: &mut sqlx::Transaction<'c, $db>,
                (room, seq, n): (RoomId, i64, i64),
                sender: UserId,
                id: Uuid,
                body: &str,
                ts: i64,
            ) -> Result<Uuid, StoreError> {
                let cid = Uuid::new_v4();
                sqlx::query(
                    "INSERT INTO messages (room_id, seq, id, sender_id, client_msg_id, body, created_at, kind, n, version)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 'room', $8, $2)",
                )
                .bind(room)
                .bind(seq)
                .bind(id.as_bytes().as_slice())
                .bind(sender)
                .bind(cid.as_bytes().as_slice())
                .bind(body)
                .bind(ts)
                .bind(n)
                .execute(&mut **tx)
                .await?;
                sqlx::query("UPDATE rooms SET head_seq = $2, changed_seq = $2 WHERE id = $1")
                    .bind(room)
                    .bind(seq)
                    .execute(&mut **tx)
                    .await?;
                sqlx::query(
                    "UPDATE members SET delivered_seq = $3, read_seq = $3, read_n = $4
                      WHERE room_id = $1 AND user_id = $2 AND read_seq < $3",
                )
                .bind(room)
                .bind(sender)
                .bind(seq)
                .bind(n)
                .execute(&mut **tx)
                .await?;
                Ok(cid)
            }

            /// `user` is no longer a member: their view ends at `seq`.
            async fn part<'c>(
                tx: &mut sqlx::Transaction<'c, $db>,
                room: RoomId,
                user: UserId,
                seq: i64,
                n: i64,
                now: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO former_members (room_id, user_id, until_seq, until_n, left_at) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (room_id, user_id) DO UPDATE SET until_seq = $3, until_n = $4, left_at = $5",
                )
                .bind(room)
                .bind(user)
                .bind(seq)
                .bind(n)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                sqlx::query("DELETE FROM members WHERE room_id = $1 AND user_id = $2")
                    .bind(room)
                    .bind(user)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_changes;
