//! Rooms and members: list mine, open a direct room, create a group, add
//! members (one or thousands in one call), list the members a page at a time (a room may have 10,000), mute
//! or unmute one of mine. Every call checks that the caller may do it; limits come from the
//! settings, and the actions that create rooms or memberships are limited
//! per person (`limits::RoomLimits`).

use std::time::Instant;

use crate::protocol::Seq;

use super::{
    bus::Event,
    clock::now_ms,
    context::{caller, respond, state, too_many},
    limits::Hourly,
    state::AppState,
    storage::{Access, Ask, Refused, StoreError},
};
use crate::{
    error::ApiError,
    model::{
        clean_name, normalize_handle, FilePage, MemberPage, Notify, Role, RoomId, RoomKind, RoomSummary,
        SearchCursor, SearchPage, User, UserId, MEMBER_PAGE_DEFAULT, MEMBER_PAGE_MAX, ROOM_NAME_MAX,
    },
};

pub async fn my_rooms() -> Result<Vec<RoomSummary>, ApiError> {
    respond(
        async {
            let state = state()?;
            let me = caller(&state).await?;
            Ok(state.store.rooms_of(me.id).await?)
        }
        .await,
    )
}

pub async fn open_direct(handle: String) -> Result<RoomSummary, ApiError> {
    respond(
        async {
            let state = state()?;
            let me = caller(&state).await?;
            allow(
                &state.room_limits.directs,
                me.id,
                "You have opened many conversations. Try again in",
            )?;
            let peer = find_user(&state, &handle).await?;
            if peer.id == me.id {
                return Err(ApiError::Invalid(
                    "That is your own handle: pick someone else.".into(),
                ));
            }
            // Someone who blocked me does not hear from me: no new
            // conversation (one we had stays, what I send there is hidden).
            let blocked = !state.store.who_blocked(me.id, &[peer.id]).await?.is_empty();
            if blocked && state.store.direct_room(me.id, peer.id).await?.is_none() {
                return Err(ApiError::Forbidden(format!(
                    "You cannot start a conversation with @{}.",
                    peer.handle
                )));
            }
            check_room_quota(&state, me.id).await?;
            let room = state.store.open_direct(me.id, peer.id, now_ms()).await?;
            announce(&state, room, peer.id).await?;
            let mine = announce(&state, room, me.id).await?;
            introduce(&state, room, &[me.id, peer.id]).await;
            Ok(mine)
        }
        .await,
    )
}

pub async fn create_group(name: String, members: Vec<String>) -> Result<RoomSummary, ApiError> {
    respond(
        async {
            let state = state()?;
            let me = caller(&state).await?;
            allow(
                &state.room_limits.groups,
                me.id,
                "You have created many groups. Try again in",
            )?;
            let name = clean_name(&name, ROOM_NAME_MAX, "group name").map_err(ApiError::Invalid)?;
            let max = state.config.max_room_members as usize;
            if members.len() >= max {
                return Err(ApiError::Invalid(format!("A group has at most {max} members.")));
            }
            let ids = invitable(&state, me.id, resolve(&state, &members).await?).await?;
            check_room_quota(&state, me.id).await?;
            let room = state.store.create_group(me.id, &name, &ids, now_ms()).await?;
            let mut ids = ids;
            tracing::info!(room, owner = me.id, members = ids.len(), "group created");
            let created = summary(&state, room, me.id).await?;
            // A new group looks the same to every member but for the
            // role: its creator owns it, the others are members.
            for user in ids.iter().copied().chain([me.id]) {
                let role = if user == me.id { Role::Owner } else { Role::Member };
                state
                    .bus
                    .publish(Event::Joined {
                        user,
                        room: RoomSummary {
                            role,
                            ..created.clone()
                        },
                    })
                    .await;
            }
            ids.push(me.id);
            introduce(&state, room, &ids).await;
            Ok(created)
        }
        .await,
    )
}

pub async fn add_member(room: RoomId, handle: String) -> Result<MemberPage, ApiError> {
    add_members(room, vec![handle]).await
}

/// Adds people to a group the caller is in, all in one go: one allowance,
/// one transaction, one round of announcements (a group of 10,000 is one
/// call). Nobody is added if a handle is unknown or the group would be
/// over its size. Answers the first page of members.
pub async fn add_members(room: RoomId, handles: Vec<String>) -> Result<MemberPage, ApiError> {
    respond(
        async {
            let state = state()?;
            let me = caller(&state).await?;
            allow(
                &state.room_limits.adds,
                me.id,
                "You have added many people. Try again in",
            )?;
            let current = member_room(&state, room, me.id).await?;
            if current.kind == RoomKind::Direct {
                return Err(ApiError::Invalid(
                    "A direct conversation has two people; create a group to add more.".into(),
                ));
            }
            let max = i64::from(state.config.max_room_members);
            if current.member_count >= max {
                return Err(ApiError::Invalid(format!("This group is full ({max} members).")));
            }
            let ids = invitable(&state, me.id, resolve(&state, &handles).await?).await?;
            if current.member_count + ids.len() as i64 > max {
                return Err(ApiError::Invalid(format!(
                    "A group has at most {max} members: it has {}, and {} more would be too many.",
                    current.member_count,
                    ids.len()
                )));
            }
            for &user in &ids {
                check_room_quota(&state, user).await?;
            }
            // One row on the room's stream says who came; the change's
            // transaction checks that the caller may add people.
            // Adding someone who is in already is harmless (a retried call).
            let added = match state.delivery.change_room(me.id, room, Ask::Add(ids)).await? {
                Ok(made) => made.added,
                Err(Refused::Nothing(_)) => Vec::new(),
                Err(refused) => return Err(refused.into()),
            };
            tracing::info!(room, added = added.len(), by = me.id, "members added");
            if let Some(&first) = added.first() {
                // Every newcomer starts at the row: they see the room alike.
                let theirs = summary(&state, room, first).await?;
                let joined = added
                    .iter()
                    .map(|&user| Event::Joined {
                        user,
                        room: theirs.clone(),
                    })
                    .collect();
                state.bus.publish_all(joined).await;
                introduce(&state, room, &added).await;
            }
            page(&state, room, 0, MEMBER_PAGE_DEFAULT).await
        }
        .await,
    )
}

/// The ids of the people `handles` name, once each; if some name no one,
/// an error that lists them all.
async fn resolve(state: &AppState, handles: &[String]) -> Result<Vec<UserId>, ApiError> {
    let mut ids = Vec::with_capacity(handles.len());
    let mut unknown = Vec::new();
    for handle in handles {
        match find_user(state, handle).await {
            Ok(user) => ids.push(user.id),
            Err(ApiError::NotFound(_)) => unknown.push(format!("@{}", handle.trim().trim_start_matches('@'))),
            Err(e) => return Err(e),
        }
    }
    if !unknown.is_empty() {
        return Err(ApiError::NotFound(format!(
            "No one has the handle {}.",
            unknown.join(", ")
        )));
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Those of `ids` whom `me` may add to a group: not those who blocked
/// `me` (left out without a word, as if they had not been named).
async fn invitable(state: &AppState, me: UserId, mut ids: Vec<UserId>) -> Result<Vec<UserId>, ApiError> {
    let blockers = state.store.who_blocked(me, &ids).await?;
    ids.retain(|id| !blockers.contains(id));
    Ok(ids)
}

/// Sets which of a room's messages notify the caller while away; their
/// other devices learn it with the room's summary.
pub async fn set_notify(room: RoomId, notify: Notify) -> Result<RoomSummary, ApiError> {
    respond(
        async {
            let state = state()?;
            let me = caller(&state).await?;
            check_member(&state, room, me.id).await?;
            state.store.set_notify(room, me.id, notify).await?;
            announce(&state, room, me.id).await
        }
        .await,
    )
}

/// Deletes message `seq` for the caller only: hidden on all their devices
/// (they learn it with the room's summary; so does this one).
pub async fn hide_message(room: RoomId, seq: Seq) -> Result<RoomSummary, ApiError> {
    respond(
        async {
            let state = state()?;
            let me = caller(&state).await?;
            check_member(&state, room, me.id).await?;
            if !state.store.hide(room, me.id, seq).await? {
                return Err(ApiError::NotFound(format!(
                    "There is no message {seq} in this room."
                )));
            }
            announce(&state, room, me.id).await
        }
        .await,
    )
}

pub async fn members(
    room: RoomId,
    after: Option<UserId>,
    limit: Option<u32>,
) -> Result<MemberPage, ApiError> {
    respond(
        async {
            let state = state()?;
            let me = caller(&state).await?;
            match check_member(&state, room, me.id).await {
                Ok(()) => {}
                // Who is in a group is not for those who left it.
                Err(Denied::NotMember(_)) if state.store.former(room, me.id).await?.is_some() => {
                    return Ok(MemberPage {
                        members: Vec::new(),
                        total: 0,
                        more: false,
                    })
                }
                Err(denied) => return Err(denied.into()),
            }
            let limit = limit.unwrap_or(MEMBER_PAGE_DEFAULT).clamp(1, MEMBER_PAGE_MAX);
            page(&state, room, after.unwrap_or(0), limit).await
        }
        .await,
    )
}

/// A page of the files of a room the caller is in (`api::room_files`).
pub async fn files(room: RoomId, before: Option<Seq>) -> Result<FilePage, ApiError> {
    respond(
        async {
            let state = state()?;
            let me = caller(&state).await?;
            check_member(&state, room, me.id).await?;
            Ok(state.files.room_files(room, me.id, before).await?)
        }
        .await,
    )
}

/// A search in the caller's rooms (`search::find`), limited per person.
pub async fn search(
    query: String,
    room: Option<RoomId>,
    next: Option<SearchCursor>,
    offset_min: i32,
) -> Result<SearchPage, ApiError> {
    respond(
        async {
            let state = state()?;
            let me = caller(&state).await?;
            state.searches.take(&me.id, Instant::now()).map_err(|wait| {
                tracing::info!(user = me.id, "search refused: too many at once");
                too_many("You are searching very fast. Try again in", wait)
            })?;
            let offset_min = offset_min.clamp(-24 * 60, 24 * 60);
            Ok(super::search::find(&state.store, me.id, &query, room, next, offset_min).await?)
        }
        .await,
    )
}

/// A page of the room's members after `after`, and their number.
async fn page(state: &AppState, room: RoomId, after: UserId, limit: u32) -> Result<MemberPage, ApiError> {
    let mut members = state.store.members_after(room, after, limit + 1).await?;
    let more = members.len() > limit as usize;
    members.truncate(limit as usize);
    let total = state.store.member_count(room).await?;
    Ok(MemberPage { members, total, more })
}

/// The room as `user` sees it, or why they cannot see it.
async fn member_room(state: &AppState, room: RoomId, user: UserId) -> Result<RoomSummary, ApiError> {
    check_member(state, room, user).await?;
    summary(state, room, user).await
}

/// Why someone may not act in a room.
#[derive(Debug)]
pub enum Denied {
    NoSuchRoom(RoomId),
    NotMember(RoomId),
    Store(StoreError),
}

/// Passes when `user` is a member of `room`; the one membership check of
/// the API and the socket.
pub async fn check_member(state: &AppState, room: RoomId, user: UserId) -> Result<(), Denied> {
    match state.store.access(room, user).await.map_err(Denied::Store)? {
        Access::NoSuchRoom => Err(Denied::NoSuchRoom(room)),
        Access::NotMember => Err(Denied::NotMember(room)),
        Access::Member(_) => Ok(()),
    }
}

impl From<Denied> for ApiError {
    fn from(d: Denied) -> Self {
        match d {
            Denied::NoSuchRoom(room) => ApiError::NotFound(format!("There is no room {room}.")),
            Denied::NotMember(_) => ApiError::Forbidden("You are not a member of this room.".into()),
            Denied::Store(e) => e.into(),
        }
    }
}

async fn summary(state: &AppState, room: RoomId, user: UserId) -> Result<RoomSummary, ApiError> {
    state.store.room_of(room, user).await?.ok_or_else(|| {
        tracing::error!(room, user, "room vanished while answering");
        ApiError::Internal
    })
}

/// New contacts learn each other's presence. The room exists either way:
/// a failure here only leaves presence to the next welcome.
async fn introduce(state: &AppState, room: RoomId, newcomers: &[UserId]) {
    if let Err(e) = state.leases.introduce(room, newcomers).await {
        tracing::warn!(error = %e, room, "cannot introduce new contacts");
    }
}

/// Tells `user`'s open connections about a room they are now in.
async fn announce(state: &AppState, room: RoomId, user: UserId) -> Result<RoomSummary, ApiError> {
    let theirs = summary(state, room, user).await?;
    state
        .bus
        .publish(Event::Joined {
            user,
            room: theirs.clone(),
        })
        .await;
    Ok(theirs)
}

async fn find_user(state: &AppState, raw: &str) -> Result<User, ApiError> {
    let handle = normalize_handle(raw.trim_start_matches('@')).map_err(ApiError::Invalid)?;
    state
        .store
        .user_by_handle(&handle)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("No one has the handle @{handle}.")))
}

async fn check_room_quota(state: &AppState, user: UserId) -> Result<(), ApiError> {
    let max = i64::from(state.config.max_rooms_per_user);
    if state.store.room_count(user).await? >= max {
        return Err(ApiError::Invalid(format!(
            "A person can be in at most {max} rooms."
        )));
    }
    Ok(())
}

/// Spends one of `me`'s allowance, or answers 429 saying how long to wait.
fn allow(limit: &Hourly<UserId>, me: UserId, what: &str) -> Result<(), ApiError> {
    limit.take(&me, Instant::now()).map_err(|wait| {
        tracing::info!(user = me, what, "room action refused: over its hourly allowance");
        too_many(what, wait)
    })
}
