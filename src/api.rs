//! The HTTP API as server functions: accounts, rooms and members, and Web
//! Push subscriptions. Each is a
//! plain `POST /api/<name>` taking JSON and answering JSON, callable from the
//! browser (generated client), from the server during rendering, and from
//! tests. The bodies are thin: the work happens in `server::accounts`,
//! `server::rooms` and `server::subscriptions`, which also set the HTTP status of an error.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

pub use crate::error::ApiError;
use crate::model::{
    FilePage, MemberPage, Notify, PeoplePage, Profile, Role, RoomId, RoomSummary, SearchCursor, SearchPage,
    SessionInfo, User, UserId,
};
use crate::protocol::Seq;

/// Creates an account and logs it in (sets the session cookie).
#[server(prefix = "/api", endpoint = "sign_up", input = Json)]
pub async fn sign_up(handle: String, display_name: String, password: String) -> Result<User, ApiError> {
    crate::server::accounts::sign_up(handle, display_name, password).await
}

/// Logs in (sets the session cookie).
#[server(prefix = "/api", endpoint = "log_in", input = Json)]
pub async fn log_in(handle: String, password: String) -> Result<User, ApiError> {
    crate::server::accounts::log_in(handle, password).await
}

/// Ends this device's session (and with it its push subscription).
#[server(prefix = "/api", endpoint = "log_out", input = Json)]
pub async fn log_out() -> Result<(), ApiError> {
    crate::server::accounts::log_out().await
}

/// My log-in sessions, the latest used first.
#[server(prefix = "/api", endpoint = "sessions", input = Json)]
pub async fn sessions() -> Result<Vec<SessionInfo>, ApiError> {
    crate::server::sessions::sessions().await
}

/// Ends one of my sessions (its sockets close at once).
#[server(prefix = "/api", endpoint = "end_session", input = Json)]
pub async fn end_session(id: String) -> Result<(), ApiError> {
    crate::server::sessions::end_session(id).await
}

/// Ends all my sessions but this one.
#[server(prefix = "/api", endpoint = "end_other_sessions", input = Json)]
pub async fn end_other_sessions() -> Result<(), ApiError> {
    crate::server::sessions::end_other_sessions().await
}

/// Changes my password, given the current one; my other sessions end.
/// Deletes my account, given my password: my messages stay under "Deleted
/// account" (or are erased, as the server is set), I leave my groups, and
/// every session of mine ends.
#[server(prefix = "/api", endpoint = "delete_account", input = Json)]
pub async fn delete_account(password: String) -> Result<(), ApiError> {
    crate::server::accounts::delete_account(password).await
}

#[server(prefix = "/api", endpoint = "change_password", input = Json)]
pub async fn change_password(current: String, new: String) -> Result<(), ApiError> {
    crate::server::sessions::change_password(current, new).await
}

/// My profile: name, status line, notification default.
#[server(prefix = "/api", endpoint = "my_profile", input = Json)]
pub async fn my_profile() -> Result<Profile, ApiError> {
    crate::server::accounts::profile().await
}

/// Sets my display name and status line (every room of mine hears of it).
#[server(prefix = "/api", endpoint = "update_profile", input = Json)]
pub async fn update_profile(display_name: String, status: String) -> Result<Profile, ApiError> {
    crate::server::accounts::update_profile(display_name, status).await
}

/// The people directory: who `query` finds by the start of a word of
/// their name or of their handle (case and accents do not matter), 20 a
/// page after `after`; limited per person per minute.
#[server(prefix = "/api", endpoint = "find_people", input = Json)]
pub async fn find_people(query: String, after: Option<UserId>) -> Result<PeoplePage, ApiError> {
    crate::server::accounts::find_people(query, after).await
}

/// Which messages of the rooms I join from now on notify me.
#[server(prefix = "/api", endpoint = "set_notify_default", input = Json)]
pub async fn set_notify_default(notify: Notify) -> Result<Profile, ApiError> {
    crate::server::accounts::set_notify_default(notify).await
}

/// The logged-in user, or `None` without a valid session.
#[server(prefix = "/api", endpoint = "me", input = Json)]
pub async fn me() -> Result<Option<User>, ApiError> {
    crate::server::accounts::me().await
}

/// The caller's rooms, latest activity first.
#[server(prefix = "/api", endpoint = "my_rooms", input = Json)]
pub async fn my_rooms() -> Result<Vec<RoomSummary>, ApiError> {
    crate::server::rooms::my_rooms().await
}

/// The direct room with the person `handle`, created on first use.
#[server(prefix = "/api", endpoint = "open_direct", input = Json)]
pub async fn open_direct(handle: String) -> Result<RoomSummary, ApiError> {
    crate::server::rooms::open_direct(handle).await
}

/// A new group owned by the caller, with the people `members` (handles).
#[server(prefix = "/api", endpoint = "create_group", input = Json)]
pub async fn create_group(name: String, members: Vec<String>) -> Result<RoomSummary, ApiError> {
    crate::server::rooms::create_group(name, members).await
}

/// Adds the person `handle` to a group the caller is in.
#[server(prefix = "/api", endpoint = "add_member", input = Json)]
pub async fn add_member(room: RoomId, handle: String) -> Result<MemberPage, ApiError> {
    crate::server::rooms::add_member(room, handle).await
}

/// Adds several people to a group the caller is in, in one go (all or
/// none); answers the first page of members.
#[server(prefix = "/api", endpoint = "add_members", input = Json)]
pub async fn add_members(room: RoomId, handles: Vec<String>) -> Result<MemberPage, ApiError> {
    crate::server::rooms::add_members(room, handles).await
}

/// Renames a group (its admins and owner); answers the room as the caller sees it.
#[server(prefix = "/api", endpoint = "rename_room", input = Json)]
pub async fn rename_room(room: RoomId, name: String) -> Result<RoomSummary, ApiError> {
    crate::server::groups::rename(room, name).await
}

/// Sets a group's description (its admins and owner; empty for none).
#[server(prefix = "/api", endpoint = "describe_room", input = Json)]
pub async fn describe_room(room: RoomId, text: String) -> Result<RoomSummary, ApiError> {
    crate::server::groups::describe(room, text).await
}

/// Removes a member from a group (admins remove members, the owner also
/// admins); they keep what they had, read-only, and get nothing later.
#[server(prefix = "/api", endpoint = "remove_member", input = Json)]
pub async fn remove_member(room: RoomId, user: UserId) -> Result<RoomSummary, ApiError> {
    crate::server::groups::remove(room, user).await
}

/// Makes a member an admin or a member again (the owner only).
#[server(prefix = "/api", endpoint = "set_role", input = Json)]
pub async fn set_role(room: RoomId, user: UserId, role: Role) -> Result<RoomSummary, ApiError> {
    crate::server::groups::set_role(room, user, role).await
}

/// Hands the group over to another member (the owner only; they become an admin).
#[server(prefix = "/api", endpoint = "hand_over", input = Json)]
pub async fn hand_over(room: RoomId, user: UserId) -> Result<RoomSummary, ApiError> {
    crate::server::groups::hand_over(room, user).await
}

/// Leaves a group (an owner's goes to the longest-standing admin, else
/// member); answers the read-only room the caller keeps.
#[server(prefix = "/api", endpoint = "leave_room", input = Json)]
pub async fn leave_room(room: RoomId) -> Result<RoomSummary, ApiError> {
    crate::server::groups::leave(room).await
}

/// Blocks a person: their direct messages no longer reach me (they are not
/// told), they cannot start a conversation with me or add me to a group,
/// and their messages in groups are folded. Answers whom I block.
#[server(prefix = "/api", endpoint = "block", input = Json)]
pub async fn block(user: UserId) -> Result<Vec<User>, ApiError> {
    crate::server::blocks::block(user).await
}

/// Unblocks a person; answers whom I block.
#[server(prefix = "/api", endpoint = "unblock", input = Json)]
pub async fn unblock(user: UserId) -> Result<Vec<User>, ApiError> {
    crate::server::blocks::unblock(user).await
}

/// The people I block.
#[server(prefix = "/api", endpoint = "blocked", input = Json)]
pub async fn blocked() -> Result<Vec<User>, ApiError> {
    crate::server::blocks::blocked().await
}

/// Reports message `seq` of a room of mine to the operator, with a reason
/// (the message's text as it is now is kept with it).
#[server(prefix = "/api", endpoint = "report_message", input = Json)]
pub async fn report_message(room: RoomId, seq: Seq, reason: String) -> Result<(), ApiError> {
    crate::server::blocks::report(room, seq, reason).await
}

/// Sets which messages of a room of the caller's notify them while away
/// (`all`, or `none`: muted); answers the room as they now see it.
#[server(prefix = "/api", endpoint = "set_notify", input = Json)]
pub async fn set_notify(room: RoomId, notify: Notify) -> Result<RoomSummary, ApiError> {
    crate::server::rooms::set_notify(room, notify).await
}

/// Deletes message `seq` of a room for the caller alone (hidden on all
/// their devices); answers the room as they now see it.
#[server(prefix = "/api", endpoint = "hide_message", input = Json)]
pub async fn hide_message(room: RoomId, seq: Seq) -> Result<RoomSummary, ApiError> {
    crate::server::rooms::hide_message(room, seq).await
}

/// A page of the members of a room the caller is in, by user id after
/// `after` (`limit`: 50 unless said, at most 200), and how many in all.
#[server(prefix = "/api", endpoint = "room_members", input = Json)]
pub async fn room_members(
    room: RoomId,
    after: Option<UserId>,
    limit: Option<u32>,
) -> Result<MemberPage, ApiError> {
    crate::server::rooms::members(room, after, limit).await
}

/// The files of a room the caller is in, newest first, a page of them
/// before message `before` (all when None).
#[server(prefix = "/api", endpoint = "room_files", input = Json)]
pub async fn room_files(room: RoomId, before: Option<Seq>) -> Result<FilePage, ApiError> {
    crate::server::rooms::files(room, before).await
}

/// The messages of the caller's rooms (of `room` only, when given) that
/// `query` finds, newest first, a page at a time (`next` from the page
/// before). `offset_min` is the browser's time zone (`getTimezoneOffset`),
/// for `before:` and `after:` dates.
#[server(prefix = "/api", endpoint = "search", input = Json)]
pub async fn search(
    query: String,
    room: Option<RoomId>,
    next: Option<SearchCursor>,
    offset_min: i32,
) -> Result<SearchPage, ApiError> {
    crate::server::rooms::search(query, room, next, offset_min).await
}

/// The public VAPID key the browser subscribes with (`applicationServerKey`, base64url).
#[server(prefix = "/api", endpoint = "push_key", input = Json)]
pub async fn push_key() -> Result<String, ApiError> {
    crate::server::subscriptions::public_key().await
}

/// Stores this device's push subscription (as `PushSubscription.toJSON()`
/// gives it) for the caller's session.
#[server(prefix = "/api", endpoint = "push_subscribe", input = Json)]
pub async fn push_subscribe(endpoint: String, p256dh: String, auth: String) -> Result<(), ApiError> {
    crate::server::subscriptions::subscribe(endpoint, p256dh, auth).await
}

/// Removes one of the caller's push subscriptions; false if it was not there.
#[server(prefix = "/api", endpoint = "push_unsubscribe", input = Json)]
pub async fn push_unsubscribe(endpoint: String) -> Result<bool, ApiError> {
    crate::server::subscriptions::unsubscribe(endpoint).await
}
