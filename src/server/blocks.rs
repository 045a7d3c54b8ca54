//! Blocking people and reporting messages over the API. Blocking someone
//! hides their direct messages from me as they are stored (they are not
//! told: their sends are acked), withholds what they send in our direct
//! room from my sockets at once on every node (`Event::Blocks`), keeps them
//! from starting a conversation with me or adding me to a group, and folds
//! their messages in groups (the browser does, from the list it is sent).
//! A report keeps the message's text as it is now, for the operator.

use super::{
    bus::Event,
    clock::now_ms,
    context::{caller, respond, state},
    state::AppState,
};
use crate::{
    error::ApiError,
    model::{RoomId, User, UserId, REPORT_REASON_MAX},
    protocol::Seq,
};

pub async fn block(user: UserId) -> Result<Vec<User>, ApiError> {
    respond(
        async {
            let state = state()?;
            let me = caller(&state).await?;
            if user == me.id {
                return Err(ApiError::Invalid("You cannot block yourself.".into()));
            }
            if state.store.profile(user).await?.is_none() {
                return Err(ApiError::NotFound(format!("There is no person {user}.")));
            }
            state.store.block(me.id, user, now_ms()).await?;
            tracing::info!(user = me.id, blocked = user, "blocked");
            announce(&state, me.id).await
        }
        .await,
    )
}

pub async fn unblock(user: UserId) -> Result<Vec<User>, ApiError> {
    respond(
        async {
            let state = state()?;
            let me = caller(&state).await?;
            state.store.unblock(me.id, user).await?;
            announce(&state, me.id).await
        }
        .await,
    )
}

pub async fn blocked() -> Result<Vec<User>, ApiError> {
    respond(
        async {
            let state = state()?;
            let me = caller(&state).await?;
            Ok(state.store.blocked_by(me.id).await?)
        }
        .await,
    )
}

/// Reports message `seq` of a room of mine to the operator.
pub async fn report(room: RoomId, seq: Seq, reason: String) -> Result<(), ApiError> {
    respond(
        async {
            let reason = reason.trim();
            if reason.chars().count() > REPORT_REASON_MAX
                || reason.chars().any(|c| c.is_control() && c != '\n')
            {
                return Err(ApiError::Invalid(format!(
                    "A reason has at most {REPORT_REASON_MAX} characters and no control characters."
                )));
            }
            let state = state()?;
            let me = caller(&state).await?;
            super::rooms::check_member(&state, room, me.id).await?;
            if !state.store.report(me.id, room, seq, reason, now_ms()).await? {
                return Err(ApiError::NotFound(format!(
                    "There is no message {seq} in this room."
                )));
            }
            tracing::warn!(target: "chat::reports", reporter = me.id, room, seq, "message reported");
            Ok(())
        }
        .await,
    )
}

/// Tells `me`'s connections, on every node, whom they block now and which
/// direct rooms to withhold; answers the list.
async fn announce(state: &AppState, me: UserId) -> Result<Vec<User>, ApiError> {
    let list = state.store.blocked_by(me).await?;
    let mut withheld = Vec::new();
    for other in &list {
        withheld.extend(state.store.direct_room(me, other.id).await?);
    }
    state
        .bus
        .publish(Event::Blocks {
            user: me,
            blocked: list.iter().map(|u| u.id).collect(),
            withheld,
        })
        .await;
    Ok(list)
}
