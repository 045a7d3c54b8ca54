//! The answers to a connection's requests other than `send` and `typing`
//! (which the session in `gateway/mod.rs` owns with their rate limits):
//! `hello`, `sync`, `history`, `around`, `members`, `find_members`, `read_by`,
//! `delivered`/`read` and `ping`, as methods on the `Caller` who asks.
//! Reads go to the store and the cache; marks go through `receipts`.
//! Someone who left a group reads it up to the row that said so.
//! Nothing here writes a message.

use std::sync::Arc;

use super::error::FrameError;
use crate::model::{RoomId, User, UserId};
use crate::protocol::{
    ClientFrame, Message, Seq, ServerFrame, FOUND_MAX, MEMBERS_FIRST, PAGE_DEFAULT, PAGE_MAX, PREFIX_MAX,
};
use crate::server::{hub::Conn, rooms, state::AppState};

/// The most names one `read_by` answer carries.
const READ_BY_PAGE: u32 = 50;

/// Who is asking, on which connection.
pub struct Caller<'a> {
    pub state: &'a AppState,
    pub user: &'a User,
    pub conn: &'a Arc<Conn>,
}

impl Caller<'_> {
    /// The reply to a frame other than `send` and `typing`.
    pub async fn answer(&self, frame: ClientFrame) -> ServerFrame {
        let result = match frame {
            ClientFrame::Hello => self.welcome().await,
            ClientFrame::Sync { room, after, limit } => self.sync(room, after, limit).await,
            ClientFrame::History { room, before, limit } => self.history(room, before, limit).await,
            ClientFrame::Around { room, seq, limit } => self.around(room, seq, limit).await,
            ClientFrame::Delivered { room, seq } => self.marks(room, seq, 0).await,
            ClientFrame::Read { room, seq } => self.marks(room, seq, seq).await,
            ClientFrame::Members { room } => self.members(room).await,
            ClientFrame::ReadBy { room, seq, after } => self.read_by(room, seq, after).await,
            ClientFrame::FindMembers { room, prefix } => self.find_members(room, prefix).await,
            ClientFrame::Ping => Ok(ServerFrame::Pong),
            ClientFrame::Send { .. }
            | ClientFrame::Edit { .. }
            | ClientFrame::Delete { .. }
            | ClientFrame::React { .. }
            | ClientFrame::Unreact { .. }
            | ClientFrame::Typing { .. } => Err(FrameError::BadFrame("handled by the session".into())),
        };
        result.unwrap_or_else(|e| e.frame())
    }

    /// Passes when the caller is in the room (and then has the connection
    /// follow it); else says why not.
    pub async fn member(&self, room: RoomId) -> Result<(), FrameError> {
        if self.conn.is_in(room) {
            return Ok(());
        }
        rooms::check_member(self.state, room, self.user.id).await?;
        self.state.hub.subscribe(self.conn, [room]);
        Ok(())
    }

    /// What of the room the caller may read: all of it as a member (None),
    /// up to the row that said they left as a former member.
    async fn readable(&self, room: RoomId) -> Result<Option<Seq>, FrameError> {
        match self.member(room).await {
            Ok(()) => Ok(None),
            Err(FrameError::NotMember(_)) => match self.state.store.former(room, self.user.id).await? {
                Some(until) => Ok(Some(until)),
                None => Err(FrameError::NotMember(room)),
            },
            Err(e) => Err(e),
        }
    }

    /// The rows of a page hidden from the caller.
    async fn hidden(&self, room: RoomId, msgs: &[Message]) -> Result<Vec<Seq>, FrameError> {
        let (Some(first), Some(last)) = (msgs.first(), msgs.last()) else {
            return Ok(Vec::new());
        };
        Ok(self
            .state
            .store
            .hidden_in(self.user.id, room, first.seq, last.seq)
            .await?)
    }

    /// Subscribes the connection to the user's rooms, then reads their heads:
    /// a message committed in between arrives live and is in the heads.
    async fn welcome(&self) -> Result<ServerFrame, FrameError> {
        let (state, user) = (self.state, self.user);
        let before = state.store.room_ids_of(user.id).await?;
        state.hub.subscribe(self.conn, before);
        // Cluster: the events of these rooms reach this node before their heads
        // are read, so nothing committed after the heads is missed live.
        state.bus.subscribed().await;
        let rooms = state.store.rooms_of(user.id).await?;
        // Groups left are listed (read-only) but not followed.
        state
            .hub
            .subscribe(self.conn, rooms.iter().filter(|r| !r.left).map(|r| r.id));
        // What the people I block send in our direct rooms stays away.
        let blocked: Vec<UserId> = state
            .store
            .blocked_by(user.id)
            .await?
            .into_iter()
            .map(|u| u.id)
            .collect();
        let withheld: Vec<RoomId> = rooms
            .iter()
            .filter(|r| r.peer.is_some_and(|p| blocked.contains(&p)))
            .map(|r| r.id)
            .collect();
        self.conn.withhold(&withheld);
        let contacts = state.leases.contacts_of(user.id).await.map_err(|e| {
            tracing::warn!(error = %e, "cannot read contacts");
            FrameError::Unavailable
        })?;
        Ok(ServerFrame::Welcome {
            user: user.clone(),
            rooms,
            contacts,
            max_body_chars: state.config.max_body_chars,
            edit_window_secs: state.config.edit_window_secs,
            blocked,
        })
    }

    /// The first members (a big room's others are found by name), and the
    /// ticks of my messages there.
    async fn members(&self, room: RoomId) -> Result<ServerFrame, FrameError> {
        self.member(room).await?;
        let mut members = self.state.store.member_marks(room, MEMBERS_FIRST + 1).await?;
        let more = members.len() > MEMBERS_FIRST as usize;
        members.truncate(MEMBERS_FIRST as usize);
        let ticks = self.state.receipts.ticks_of(room, self.user.id).await?;
        Ok(ServerFrame::Members {
            room,
            members,
            ticks,
            more,
        })
    }

    /// The members whose name starts with `prefix`.
    async fn find_members(&self, room: RoomId, prefix: String) -> Result<ServerFrame, FrameError> {
        self.member(room).await?;
        let wanted = prefix.trim();
        if wanted.is_empty() || wanted.chars().count() > PREFIX_MAX {
            return Err(FrameError::BadFrame(format!(
                "A prefix has 1 to {PREFIX_MAX} characters."
            )));
        }
        let members = self.state.store.find_members(room, wanted, FOUND_MAX).await?;
        Ok(ServerFrame::Found {
            room,
            prefix,
            members,
        })
    }

    /// A page of who read my message `seq`.
    async fn read_by(
        &self,
        room: RoomId,
        seq: Seq,
        after: Option<UserId>,
    ) -> Result<ServerFrame, FrameError> {
        self.member(room).await?;
        let store = &self.state.store;
        let sender = store.senders(room, seq - 1, seq).await?.first().map(|m| m.1);
        match sender {
            None => {
                return Err(FrameError::UnknownMessage(format!(
                    "Room {room} has no message {seq}."
                )))
            }
            Some(s) if s != self.user.id => {
                return Err(FrameError::Forbidden(
                    "Only its sender sees who read a message.".into(),
                ))
            }
            Some(_) => {}
        }
        let mut users = store
            .read_by(room, seq, self.user.id, after.unwrap_or(0), READ_BY_PAGE + 1)
            .await?;
        let more = users.len() > READ_BY_PAGE as usize;
        users.truncate(READ_BY_PAGE as usize);
        Ok(ServerFrame::ReadBy {
            room,
            seq,
            users,
            more,
        })
    }

    async fn sync(&self, room: RoomId, after: Seq, limit: Option<u32>) -> Result<ServerFrame, FrameError> {
        let until = self.readable(room).await?;
        if after < 0 {
            return Err(FrameError::BadFrame("after is a seq, 0 or more.".into()));
        }
        let state = self.state;
        let limit = page(limit);
        let cached = state.cache.after(room, after, limit).await;
        let from_cache = cached.is_some();
        let mut msgs: Vec<Message> = match cached {
            Some(msgs) => msgs,
            None => state.store.messages_after(room, after, limit).await?,
        };
        if msgs.is_empty() || (from_cache && !state.cache.current() && msgs.len() < limit as usize) {
            // A short page says "that is all": make sure it is (a cluster cache
            // may lag a commit made on another node by a moment, or miss one
            // it failed to take). An empty page also checks `after`.
            let head = state
                .store
                .head(room)
                .await?
                .unwrap_or(0)
                .min(until.unwrap_or(Seq::MAX));
            let reached = msgs.last().map_or(after, |m| m.seq);
            if reached < head {
                msgs = state.store.messages_after(room, after, limit).await?;
            }
            if after > head {
                return Err(FrameError::BadFrame(format!(
                    "Room {room} has no message {after} yet (its last is {head})."
                )));
            }
        }
        let mut more = msgs.len() == limit as usize;
        if let Some(until) = until {
            msgs.retain(|m| m.seq <= until);
            more &= msgs.last().is_some_and(|m| m.seq < until);
        }
        let hidden = self.hidden(room, &msgs).await?;
        Ok(ServerFrame::Batch {
            room,
            msgs,
            more,
            history: false,
            hidden,
        })
    }

    async fn history(
        &self,
        room: RoomId,
        before: Seq,
        limit: Option<u32>,
    ) -> Result<ServerFrame, FrameError> {
        let until = self.readable(room).await?;
        let limit = page(limit);
        let before = before.min(until.map_or(Seq::MAX, |u| u + 1));
        let msgs = self.state.store.messages_before(room, before, limit).await?;
        let more = msgs.len() == limit as usize && msgs.first().is_some_and(|m| m.seq > 1);
        let hidden = self.hidden(room, &msgs).await?;
        Ok(ServerFrame::Batch {
            room,
            msgs,
            more,
            history: true,
            hidden,
        })
    }

    /// The rows around `seq`: up to half the page at or before it, the
    /// rest after it, as one `history` batch (`more` while older rows exist).
    async fn around(&self, room: RoomId, seq: Seq, limit: Option<u32>) -> Result<ServerFrame, FrameError> {
        let until = self.readable(room).await?;
        let head = self
            .state
            .store
            .head(room)
            .await?
            .unwrap_or(0)
            .min(until.unwrap_or(Seq::MAX));
        if seq < 1 || seq > head {
            return Err(FrameError::BadFrame(format!(
                "Room {room} has no row {seq} (its last is {head})."
            )));
        }
        let limit = page(limit);
        let older = limit.div_ceil(2);
        let store = &self.state.store;
        let mut msgs = store.messages_before(room, seq + 1, older).await?;
        msgs.extend(store.messages_after(room, seq, limit - older).await?);
        msgs.retain(|m| m.seq <= head);
        let more = msgs.first().is_some_and(|m| m.seq > 1);
        let hidden = self.hidden(room, &msgs).await?;
        Ok(ServerFrame::Batch {
            room,
            msgs,
            more,
            history: true,
            hidden,
        })
    }

    /// A delivered/read report. The answer is the receipt with the marks
    /// as now stored (a lower report moves nothing).
    async fn marks(&self, room: RoomId, delivered: Seq, read: Seq) -> Result<ServerFrame, FrameError> {
        self.member(room).await?;
        let user = self.user.id;
        let (delivered, read, read_n) = self.state.receipts.report(room, user, delivered, read).await?;
        Ok(ServerFrame::Receipt {
            room,
            user,
            delivered,
            read,
            read_n,
        })
    }
}

fn page(limit: Option<u32>) -> u32 {
    limit.unwrap_or(PAGE_DEFAULT).clamp(1, PAGE_MAX)
}
