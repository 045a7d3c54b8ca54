//! Managing a group over the API: rename it, describe it, set its picture
//! (the bytes come through `avatars`), remove someone,
//! set someone's role, hand it over, leave it (adding people is
//! `rooms::add_members`). Each is a change on the room's stream, made by
//! the delivery writer (`Delivery::change_room`), which checks who may make
//! it (`groups::check`) in the change's own transaction. Whoever a change
//! removes is also told through the bus as a person (`Event::Left`), so a
//! lost room event cannot leave their sockets in the room.

use super::{
    bus::Event,
    context::{caller, respond, state},
    state::AppState,
    storage::{Ask, Changed, Refused},
};
use crate::{
    error::ApiError,
    model::{
        clean_name, is_format_trick, Role, RoomId, RoomKind, RoomSummary, UserId, DESCRIPTION_MAX,
        ROOM_NAME_MAX,
    },
    protocol::Message,
};

pub async fn rename(room: RoomId, name: String) -> Result<RoomSummary, ApiError> {
    let name = clean_name(&name, ROOM_NAME_MAX, "group name").map_err(ApiError::Invalid)?;
    change(room, Ask::Rename(name)).await
}

pub async fn describe(room: RoomId, text: String) -> Result<RoomSummary, ApiError> {
    let text = clean_description(&text)?;
    change(room, Ask::Describe(text)).await
}

pub async fn remove(room: RoomId, user: UserId) -> Result<RoomSummary, ApiError> {
    change(room, Ask::Remove(user)).await
}

pub async fn set_role(room: RoomId, user: UserId, role: Role) -> Result<RoomSummary, ApiError> {
    change(room, Ask::SetRole(user, role)).await
}

pub async fn hand_over(room: RoomId, user: UserId) -> Result<RoomSummary, ApiError> {
    change(room, Ask::HandOver(user)).await
}

pub async fn leave(room: RoomId) -> Result<RoomSummary, ApiError> {
    change(room, Ask::Leave).await
}

/// Sets the group's picture (None: removes it) as `me`; the picture it
/// replaced is removed once the row saying so is stored (and the new one
/// if the change is refused). The room as `me` now sees it.
pub async fn set_avatar(
    state: &AppState,
    me: UserId,
    room: RoomId,
    avatar: Option<String>,
) -> Result<RoomSummary, ApiError> {
    let old = match state.store.room_of(room, me).await? {
        Some(summary) if summary.kind == RoomKind::Group => summary.avatar,
        _ => None,
    };
    let made = make(state, me, room, Ask::Avatar(avatar.clone())).await;
    state
        .files
        .settle_avatar(made.is_ok(), old.as_deref(), avatar.as_deref())
        .await;
    mine(state, &made?.row, me).await
}

/// Makes the change as the caller; answers the room as they now see it.
async fn change(room: RoomId, ask: Ask) -> Result<RoomSummary, ApiError> {
    respond(
        async {
            let state = state()?;
            let me = caller(&state).await?;
            let made = make(&state, me.id, room, ask).await?;
            mine(&state, &made.row, me.id).await
        }
        .await,
    )
}

/// Stores the change `ask` of `me` in `room` and tells whoever it removed.
pub async fn make(state: &AppState, me: UserId, room: RoomId, ask: Ask) -> Result<Changed, ApiError> {
    let made = state.delivery.change_room(me, room, ask).await??;
    let row = &made.row;
    if let Some(gone) = row.change.as_ref().and_then(|c| c.gone(row.sender)) {
        // Their sockets leave the room on every node, even if the room's
        // event were lost on the way.
        let theirs = former(state, room, gone).await?;
        state
            .bus
            .publish(Event::Left {
                user: gone,
                room: theirs,
            })
            .await;
    }
    Ok(made)
}

/// The room as `me` sees it after `row`: a member's summary, or the
/// read-only one of a group they left.
async fn mine(state: &AppState, row: &Message, me: UserId) -> Result<RoomSummary, ApiError> {
    match state.store.room_of(row.room, me).await? {
        Some(summary) => Ok(summary),
        None => former(state, row.room, me).await,
    }
}

/// The read-only summary of a group `user` left.
async fn former(state: &AppState, room: RoomId, user: UserId) -> Result<RoomSummary, ApiError> {
    state.store.left_room(room, user).await?.ok_or_else(|| {
        tracing::error!(room, user, "a group left is not listed as left");
        ApiError::Internal
    })
}

/// A description: trimmed, at most `DESCRIPTION_MAX` characters, line
/// breaks kept, no other control or bidi-override characters.
fn clean_description(raw: &str) -> Result<String, ApiError> {
    let text = raw.trim();
    if let Some(c) = text
        .chars()
        .find(|&c| (c.is_control() && c != '\n') || is_format_trick(c))
    {
        return Err(ApiError::Invalid(format!(
            "A description may not hold the character U+{:04X}.",
            u32::from(c)
        )));
    }
    let len = text.chars().count();
    if len > DESCRIPTION_MAX {
        return Err(ApiError::Invalid(format!(
            "A description has at most {DESCRIPTION_MAX} characters (this one has {len})."
        )));
    }
    Ok(text.to_string())
}

impl From<Refused> for ApiError {
    fn from(r: Refused) -> Self {
        let says = r.to_string();
        match r {
            Refused::NoSuchRoom(_) | Refused::NotInRoom(_) => ApiError::NotFound(says),
            Refused::NotMember | Refused::Forbidden(_) => ApiError::Forbidden(says),
            Refused::Direct | Refused::Nothing(_) => ApiError::Invalid(says),
        }
    }
}
