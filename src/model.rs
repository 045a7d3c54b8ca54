//! Plain data shared by the browser and the server: users, rooms, and the
//! input rules that both sides apply (the UI to explain them, the server to
//! enforce them). Nothing here does I/O.

use serde::{Deserialize, Serialize};

pub type UserId = i64;
pub type RoomId = i64;

/// Handles: 3–32 characters, lower-case letters, digits and `_`, starting
/// with a letter. Sign-up and look-ups lower-case what the person typed.
pub const HANDLE_RULES: &str =
    "3–32 characters: letters, digits and _, starting with a letter (case does not matter)";
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 256;
pub const DISPLAY_NAME_MAX: usize = 64;
/// The longest status line ("On holiday until the 9th"), in characters.
pub const STATUS_MAX: usize = 140;
pub const ROOM_NAME_MAX: usize = 80;
/// The longest reason given with a report, in characters.
pub const REPORT_REASON_MAX: usize = 500;
/// The longest group description, in characters.
pub const DESCRIPTION_MAX: usize = 500;
/// Characters a message body may have unless the server says otherwise
/// (`CHAT_MAX_BODY_CHARS`, sent in `welcome`).
pub const BODY_MAX_DEFAULT: usize = 4_000;
/// How long (s) after sending one may edit or delete one's message unless
/// the server says otherwise (`CHAT_EDIT_WINDOW_SECS`, sent in `welcome`).
pub const EDIT_WINDOW_SECS: u64 = 86_400;

/// A person as other people see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub handle: String,
    pub display_name: String,
}

/// Someone the people directory found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub user: User,
    pub status: String,
    /// Their picture (`avatar_url`), if they chose one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
}

/// The name of an account its owner deleted (its messages stay, under it).
pub const DELETED_ACCOUNT: &str = "Deleted account";

/// A deleted account's handle: `_deleted_<id>`, which no sign-up can
/// take (a handle starts with a letter).
pub fn deleted_handle(id: UserId) -> String {
    format!("_deleted_{id}")
}

/// Whether a handle is a deleted account's (`deleted_handle`).
pub fn is_deleted_handle(handle: &str) -> bool {
    handle.starts_with("_deleted_")
}

/// A handle as the UI writes it: `@ann`, or "deleted account".
pub fn shown_handle(handle: &str) -> String {
    if is_deleted_handle(handle) {
        "deleted account".into()
    } else {
        format!("@{handle}")
    }
}

/// Where a picture (a person's or a group's) is served: its id changes
/// with every new picture, so browsers may keep one for good.
pub fn avatar_url(avatar: &str) -> String {
    format!("/avatars/{avatar}")
}

/// How many colours the circles of initials come in (`avatar-0`…).
pub const AVATAR_SHADES: u8 = 12;

/// The colour of the circle that carries the initial of someone (or of a
/// group) without a picture, one of `AVATAR_SHADES`: derived from their
/// id, so it is the same on every screen and device.
pub fn avatar_shade(id: i64) -> u8 {
    // A multiplicative hash spreads neighbouring ids over the colours.
    (((id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % u64::from(AVATAR_SHADES)) as u8
}

/// A page of the people directory, by user id; `next`: ask again after it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeoplePage {
    pub people: Vec<Person>,
    pub next: Option<UserId>,
}

/// People in a page of the directory.
pub const PEOPLE_PAGE: u32 = 20;

/// My profile as the settings screen edits it: how others see me, and
/// which messages of a room I join notify me unless I say otherwise there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub user: User,
    pub status: String,
    pub notify_default: Notify,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
}

/// A status line, trimmed: at most `STATUS_MAX` characters on one line,
/// no control or direction-changing characters; empty for none.
pub fn clean_status(raw: &str) -> Result<String, String> {
    let status = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(c) = status.chars().find(|&c| c.is_control() || is_format_trick(c)) {
        return Err(format!(
            "A status may not hold the character U+{:04X}.",
            u32::from(c)
        ));
    }
    let len = status.chars().count();
    if len > STATUS_MAX {
        return Err(format!(
            "A status has at most {STATUS_MAX} characters (this one has {len})."
        ));
    }
    Ok(status)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    Direct,
    Group,
}

impl RoomKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomKind::Direct => "direct",
            RoomKind::Group => "group",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "direct" => Some(RoomKind::Direct),
            "group" => Some(RoomKind::Group),
            _ => None,
        }
    }
}

/// Which messages of a room notify a member while they are away (Web Push).
/// Unread counts are the same either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notify {
    /// Every message of the others.
    #[default]
    All,
    /// Only messages that mention me or answer mine (and edits that add
    /// a mention of me).
    Mentions,
    /// None (the room is muted).
    None,
}

impl Notify {
    pub fn as_str(self) -> &'static str {
        match self {
            Notify::All => "all",
            Notify::Mentions => "mentions",
            Notify::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "all" => Some(Notify::All),
            "mentions" => Some(Notify::Mentions),
            "none" => Some(Notify::None),
            _ => None,
        }
    }
}

/// What a row of a room's stream is. Only `Message` rows are shown as
/// messages (and counted as unread); the others change the message named
/// by their `target`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    #[default]
    Message,
    /// The target's new body (in `body`).
    Edit,
    /// The target is deleted for everyone: body and reactions erased.
    Delete,
    /// The sender reacted to the target with the emoji in `body`.
    React,
    /// The sender took back that reaction.
    Unreact,
    /// A change to the room itself (`protocol::Message::change`): renamed,
    /// people added or removed, someone left, a role changed. Shown as a
    /// line of its own, never counted as unread; it has no target.
    Room,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Message => "message",
            Kind::Edit => "edit",
            Kind::Delete => "delete",
            Kind::React => "react",
            Kind::Unreact => "unreact",
            Kind::Room => "room",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Kind::Message,
            Kind::Edit,
            Kind::Delete,
            Kind::React,
            Kind::Unreact,
            Kind::Room,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    pub fn is_message(self) -> bool {
        self == Kind::Message
    }
}

/// One emoji on a message and who reacted with it, in the order they did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    pub emoji: String,
    pub users: Vec<UserId>,
}

/// The most distinct emoji one message carries (any number of people may
/// react with each).
pub const REACTIONS_MAX: usize = 20;
/// The most characters (Unicode scalar values) one reaction's emoji has: a
/// family or a flag with modifiers fits, a sentence does not.
pub const EMOJI_MAX_CHARS: usize = 16;
/// The most people one message (or one edit) may mention.
pub const MENTIONS_MAX: usize = 50;
/// The most unread mentions a room summary lists (the badge says "@" either way).
pub const MENTIONED_MAX: usize = 100;
/// The most messages of one room a summary lists as deleted for me (the
/// newest; older ones show again on a device that loads the room anew).
pub const HIDDEN_MAX: usize = 1_000;

/// Why a reaction's emoji is refused.
pub fn check_emoji(emoji: &str) -> Result<(), String> {
    let len = emoji.chars().count();
    if len == 0 || len > EMOJI_MAX_CHARS {
        return Err(format!(
            "A reaction is 1–{EMOJI_MAX_CHARS} characters (this one has {len})."
        ));
    }
    if emoji
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c.is_alphanumeric())
    {
        return Err("A reaction is an emoji: no letters, digits or spaces.".into());
    }
    Ok(())
}

/// A member's role in a group (`groups` says what each may do). Both
/// people of a direct room are members.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Role::Owner, Role::Admin, Role::Member]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// One line of a person's room list: what the list and the room header show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSummary {
    pub id: RoomId,
    pub kind: RoomKind,
    /// The group's name; for a direct room, the other person's display name.
    pub name: String,
    /// For a direct room, the other person (their presence is the room's).
    #[serde(default)]
    pub peer: Option<UserId>,
    /// For a direct room, the other person's handle.
    pub peer_handle: Option<String>,
    /// For a direct room, the other person's status line.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub peer_status: String,
    pub head_seq: i64,
    pub read_seq: i64,
    pub member_count: i64,
    /// Milliseconds since the Unix epoch of the last message (or of creation).
    pub last_activity: i64,
    /// The body of the last message, if any.
    pub preview: Option<String>,
    /// Which of its messages notify me while I am away.
    #[serde(default)]
    pub notify: Notify,
    /// My role in the room (a group's owners delete anyone's messages).
    #[serde(default)]
    pub role: Role,
    /// How many messages the room has had (`protocol::Message::n` of the head).
    #[serde(default)]
    pub head_n: i64,
    /// The `n` of the row at my read mark.
    #[serde(default)]
    pub read_n: i64,
    /// The deleted messages after my read mark (they no longer count).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gone: Vec<i64>,
    /// The messages after my read mark that call me by name (mention me
    /// or answer a message of mine), oldest first; at most `MENTIONED_MAX`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentioned: Vec<i64>,
    /// The messages I deleted for me (hidden on all my devices), oldest
    /// first; at most the newest `HIDDEN_MAX`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden: Vec<i64>,
    /// A group's description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The seq of the room's last change (`Kind::Room` row) this summary
    /// includes: a client applies later ones to it as they come.
    #[serde(default)]
    pub changed: i64,
    /// I left the group or was removed: it stays readable up to
    /// `head_seq` (the row that said so), and nothing later reaches me.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub left: bool,
    /// The group's picture, or the other person's in a direct room
    /// (`avatar_url`); None: their initial on a colour (`avatar_shade`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
}

impl RoomSummary {
    /// The others' messages after my read mark that are still there:
    /// messages since the mark, less those deleted since. (My own messages
    /// are never after my mark: sending one raises it.)
    pub fn unread(&self) -> i64 {
        let after = |s: &&i64| **s > self.read_seq;
        let gone = self.gone.iter().filter(after).count();
        let hidden = self
            .hidden
            .iter()
            .filter(after)
            .filter(|s| !self.gone.contains(s))
            .count();
        (self.head_n - self.read_n - (gone + hidden) as i64).max(0)
    }

    /// The unread messages that call me by name (deleted or hidden ones do not).
    pub fn mentions(&self) -> usize {
        self.mentioned
            .iter()
            .filter(|&&s| s > self.read_seq && !self.gone.contains(&s) && !self.hidden.contains(&s))
            .count()
    }
}

/// A room member as the room pane lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user: User,
    pub role: Role,
}

/// A page of a room's members by user id, and how many it has in all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberPage {
    pub members: Vec<Member>,
    pub total: i64,
    /// More members follow the last one (ask again after its user id).
    pub more: bool,
}

/// The members one page holds when the caller does not say.
pub const MEMBER_PAGE_DEFAULT: u32 = 50;
/// The most members one page holds.
pub const MEMBER_PAGE_MAX: u32 = 200;

/// Lower-cases and checks a handle; the error says what is wrong.
pub fn normalize_handle(raw: &str) -> Result<String, String> {
    let handle = raw.trim().to_lowercase();
    let len = handle.chars().count();
    if !(3..=32).contains(&len) {
        return Err(format!("A handle has 3–32 characters (this one has {len})."));
    }
    if !handle.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("A handle starts with a letter.".into());
    }
    if let Some(bad) = handle
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        return Err(format!("A handle has only letters, digits and _ (not {bad:?})."));
    }
    Ok(handle)
}

/// What a (normalised) handle looks like at a glance, for refusing a new
/// handle that passes for an existing one: `0` reads as `o`, `1` as `l`,
/// `rn` as `m` and `vv` as `w`. The same folding is written in SQL in the
/// migration that added `users.skeleton`; the two must agree.
pub fn handle_skeleton(handle: &str) -> String {
    let folded: String = handle
        .chars()
        .map(|c| match c {
            '0' => 'o',
            '1' => 'l',
            c => c,
        })
        .collect();
    folded.replace("rn", "m").replace("vv", "w")
}

pub fn check_password(password: &str) -> Result<(), String> {
    let len = password.chars().count();
    if len < PASSWORD_MIN {
        return Err(format!("A password has at least {PASSWORD_MIN} characters."));
    }
    if len > PASSWORD_MAX {
        return Err(format!("A password has at most {PASSWORD_MAX} characters."));
    }
    Ok(())
}

/// Trims a display or room name and checks its length; `what` names the field.
pub fn clean_name(raw: &str, max: usize, what: &str) -> Result<String, String> {
    let name: String = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(format!("The {what} is empty."));
    }
    if let Some(c) = name.chars().find(|&c| c.is_control() || is_format_trick(c)) {
        return Err(format!(
            "The {what} may not hold control or direction-changing characters (it has U+{:04X}).",
            u32::from(c)
        ));
    }
    if name.chars().count() > max {
        return Err(format!("The {what} has at most {max} characters."));
    }
    Ok(name)
}

/// Characters that change how the text around them is shown without
/// showing themselves: bidi overrides, embeddings and isolates, marks,
/// zero-width ones. A name holding one can pass for another.
pub fn is_format_trick(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200b}'..='\u{200f}' | '\u{2060}' | '\u{feff}' | '\u{061c}')
}

/// Why a message body cannot be sent. The same rule holds on every backend:
/// a body is text (valid Unicode, which a Rust `String` always is) with at
/// least one visible character, at most the configured number of characters,
/// and no C0 control character other than tab and newline (U+0000 cannot be
/// stored by PostgreSQL, and the others have no business in a message).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("A message cannot be empty.")]
    Empty,
    #[error("A message has at most {max} characters (this one has {len}).")]
    TooLong { len: usize, max: usize },
    #[error("A message may not hold control characters other than tab and newline (it has U+{0:04X} at character {1}).")]
    Control(u32, usize),
}

/// Checks a message body against the rule above.
pub fn check_body(body: &str, max_chars: usize) -> Result<(), BodyError> {
    if let Some((at, c)) = body
        .chars()
        .enumerate()
        .find(|(_, c)| *c < ' ' && *c != '\t' && *c != '\n')
    {
        return Err(BodyError::Control(u32::from(c), at + 1));
    }
    if body.trim().is_empty() {
        return Err(BodyError::Empty);
    }
    let len = body.chars().count();
    if len > max_chars {
        return Err(BodyError::TooLong { len, max: max_chars });
    }
    Ok(())
}

/// The most files one message carries.
pub const FILES_MAX: usize = 10;
/// A thumbnail fits in a square of this many pixels.
pub const THUMB_MAX: u32 = 320;
/// The longest file name kept (characters).
pub const FILE_NAME_MAX: usize = 200;

/// A file a message carries: uploaded before the `send` that names it,
/// its type told by its bytes, an image re-encoded (metadata stripped).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: uuid::Uuid,
    /// The name it was uploaded with, cleaned (`clean_file_name`).
    pub name: String,
    /// Its size in bytes as served.
    pub size: u64,
    /// Its type, from its bytes (`image/jpeg`, `application/pdf`, …).
    pub mime: String,
    /// An image's width and height in pixels (0 for other files): the
    /// timeline reserves the space before the image loads.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub w: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub h: u32,
    /// An image's average colour (`#rrggbb`), shown until it loads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Attachment {
    /// Shown as a picture (it has a thumbnail), not as a file to download.
    pub fn is_image(&self) -> bool {
        self.w > 0 && self.h > 0
    }

    /// Where the file is served (to members of a room holding it).
    pub fn url(&self) -> String {
        format!("/files/{}", self.id)
    }

    /// Where its thumbnail is served (images only).
    pub fn thumb_url(&self) -> String {
        format!("/files/{}/thumb", self.id)
    }

    /// The thumbnail's size: the image fitted into `THUMB_MAX` square,
    /// never enlarged.
    pub fn thumb_size(&self) -> (u32, u32) {
        thumb_size(self.w, self.h)
    }
}

/// A file of a room as its "files and media" list shows it: the message
/// that carries it (to go there), who sent it and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomFile {
    pub seq: i64,
    pub sender: UserId,
    pub ts: i64,
    pub file: Attachment,
}

/// A page of a room's files, newest first; `more`: older ones exist
/// (ask again with `before` the last one's seq).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePage {
    pub files: Vec<RoomFile>,
    pub more: bool,
}

/// The longest search, in characters.
pub const SEARCH_MAX_CHARS: usize = 256;

/// Results in a page of search results.
pub const SEARCH_PAGE: u32 = 20;

/// A message a search found: where it is, who sent it when, and its text
/// around what matched, as parts (`hit`: a matched word).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub room: RoomId,
    pub seq: i64,
    pub sender: UserId,
    pub from: String,
    pub ts: i64,
    pub parts: Vec<SnippetPart>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnippetPart {
    pub text: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hit: bool,
}

/// Where a page of results ended: (sent at, room, seq) of its last hit.
pub type SearchCursor = (i64, RoomId, i64);

/// One of my log-in sessions, as the account screen lists them. `id` names
/// it for "log out this one" (it is not the token, nor enough to rebuild it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: String,
    /// The session this request came with.
    pub current: bool,
    /// The browser's User-Agent at log-in.
    pub agent: String,
    /// The address it logged in from.
    pub address: String,
    pub created_at: i64,
    /// When it last logged in or opened a socket.
    pub seen_at: i64,
}

/// A page of search results, newest first; `next`: older ones exist (ask
/// again with it). `problem`: why the search as typed cannot be made (no
/// hits then) — a person typing meets these on the way to a good search,
/// so they are an answer, not an error.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    pub next: Option<SearchCursor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// `w`×`h` fitted into a `THUMB_MAX` square, never enlarged, at least 1×1.
pub fn thumb_size(w: u32, h: u32) -> (u32, u32) {
    let (w, h) = (w.max(1), h.max(1));
    if w <= THUMB_MAX && h <= THUMB_MAX {
        return (w, h);
    }
    let scale = f64::from(THUMB_MAX) / f64::from(w.max(h));
    let fit = |n: u32| ((f64::from(n) * scale).round() as u32).clamp(1, THUMB_MAX);
    (fit(w), fit(h))
}

/// What a list or a notification says of a message of files alone:
/// "📎 photo.jpg", "📎 3 files"; None with no files.
pub fn files_line(files: &[Attachment]) -> Option<String> {
    match files {
        [] => None,
        [one] => Some(format!("📎 {}", one.name)),
        many => Some(format!("📎 {} files", many.len())),
    }
}

/// A file size for people: 512 B, 1.5 KB, 12.3 MB.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut n = bytes as f64 / 1024.0;
    let mut unit = 0;
    while n >= 1024.0 && unit + 1 < UNITS.len() {
        n /= 1024.0;
        unit += 1;
    }
    if n < 10.0 {
        format!("{n:.1} {}", UNITS[unit])
    } else {
        format!("{n:.0} {}", UNITS[unit])
    }
}

/// A file name as kept and shown: its last path part only (no directory,
/// no `..`), without control, bidi-override or reserved characters, no
/// leading dots, at most `FILE_NAME_MAX` characters; "file" when nothing
/// is left.
pub fn clean_file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| {
            !c.is_control()
                && !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{feff}')
                && !matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*')
        })
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    let kept: String = trimmed.chars().take(FILE_NAME_MAX).collect();
    if kept.is_empty() {
        "file".into()
    } else {
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_paths_and_tricks() {
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("C:\\Users\\me\\photo.jpg"), "photo.jpg");
        assert_eq!(clean_file_name("..."), "file");
        assert_eq!(clean_file_name(".bashrc"), "bashrc");
        assert_eq!(clean_file_name("invoice\u{202e}gpj.exe"), "invoicegpj.exe");
        assert_eq!(clean_file_name("a\nb\u{0}c.txt"), "abc.txt");
        assert_eq!(clean_file_name("회의록 final.pdf"), "회의록 final.pdf");
        assert_eq!(clean_file_name(&"x".repeat(500)).chars().count(), FILE_NAME_MAX);
    }

    #[test]
    fn thumbnails_fit_the_square_and_are_never_enlarged() {
        assert_eq!(thumb_size(4000, 3000), (320, 240));
        assert_eq!(thumb_size(3000, 4000), (240, 320));
        assert_eq!(thumb_size(100, 50), (100, 50));
        assert_eq!(thumb_size(100_000, 10), (320, 1));
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KB");
        assert_eq!(human_size(12_900_000), "12 MB");
    }

    #[test]
    fn handles_are_lower_cased_and_checked() {
        assert_eq!(normalize_handle("  Alice_1 ").unwrap(), "alice_1");
        assert!(normalize_handle("al").is_err());
        assert!(normalize_handle("1alice").is_err());
        assert!(normalize_handle("alice-b").is_err());
        assert!(normalize_handle(&"a".repeat(33)).is_err());
        assert!(normalize_handle("ålice").is_err());
    }

    #[test]
    fn neighbouring_ids_get_different_colours() {
        let shades: std::collections::HashSet<u8> = (1..=6).map(avatar_shade).collect();
        assert!(shades.len() >= 4, "{shades:?}");
        assert!((1..10_000).all(|id| avatar_shade(id) < AVATAR_SHADES));
    }

    #[test]
    fn look_alike_handles_share_a_skeleton() {
        let s = handle_skeleton;
        assert_eq!(s("b0b"), s("bob"));
        assert_eq!(s("bi11"), s("bill"));
        assert_eq!(s("kim_rn"), s("kim_m"));
        assert_eq!(s("vvill"), s("will"));
        assert_ne!(s("bob"), s("bobb"));
        assert_ne!(s("ann_b"), s("annb"));
        assert_ne!(s("user10"), s("user01"));
    }

    #[test]
    fn passwords_have_a_length_range() {
        assert!(check_password("1234567").is_err());
        assert!(check_password("12345678").is_ok());
        assert!(check_password(&"x".repeat(PASSWORD_MAX + 1)).is_err());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            clean_name("  Team   chat ", 80, "room name").unwrap(),
            "Team chat"
        );
        assert!(clean_name("   ", 80, "room name").is_err());
        assert!(clean_name(&"x".repeat(81), 80, "room name").is_err());
    }

    #[test]
    fn names_hold_no_control_characters() {
        assert!(clean_name("Team\u{0}chat", 80, "room name").is_err());
        assert!(clean_name("Team\u{7}", 80, "room name").is_err());
        assert!(clean_name("Ann\u{202e}nimda", 80, "display name").is_err());
        assert!(clean_name("A\u{200b}nn", 80, "display name").is_err());
        assert_eq!(clean_name("팀 채팅", 80, "room name").unwrap(), "팀 채팅");
    }

    #[test]
    fn bodies_are_text_without_control_characters() {
        assert_eq!(check_body("hello\n\tworld 회의", 4000), Ok(()));
        assert_eq!(check_body(" \n\t ", 4000), Err(BodyError::Empty));
        assert_eq!(check_body("", 4000), Err(BodyError::Empty));
        assert_eq!(check_body("a\u{0}b", 4000), Err(BodyError::Control(0, 2)));
        assert_eq!(check_body("a\r\nb", 4000), Err(BodyError::Control(13, 2)));
        assert_eq!(check_body("\u{1b}[31m", 4000), Err(BodyError::Control(0x1b, 1)));
        assert_eq!(
            check_body(&"é".repeat(5), 4),
            Err(BodyError::TooLong { len: 5, max: 4 })
        );
        assert_eq!(check_body(&"é".repeat(4), 4), Ok(()));
        // DEL and C1 controls are not C0: they pass.
        assert_eq!(check_body("a\u{7f}\u{85}", 4000), Ok(()));
    }

    #[test]
    fn emoji_are_short_and_not_words() {
        assert!(check_emoji("👍").is_ok());
        assert!(check_emoji("👨‍👩‍👧‍👦").is_ok());
        assert!(check_emoji("🇰🇷").is_ok());
        assert!(check_emoji("").is_err());
        assert!(check_emoji("lol").is_err());
        assert!(check_emoji("👍 👍").is_err());
        assert!(check_emoji(&"👍".repeat(17)).is_err());
    }

    #[test]
    fn unread_counts_messages_after_the_mark_less_the_deleted() {
        let mut r = RoomSummary {
            role: Default::default(),
            notify: Default::default(),
            head_n: 6,
            read_n: 3,
            gone: vec![2, 9],
            mentioned: Vec::new(),
            hidden: Vec::new(),
            id: 1,
            kind: RoomKind::Group,
            name: "g".into(),
            peer: None,
            peer_handle: None,
            peer_status: String::new(),
            head_seq: 10,
            read_seq: 7,
            member_count: 2,
            last_activity: 0,
            preview: None,
            description: String::new(),
            changed: 0,
            left: false,
            avatar: None,
        };
        // Messages 4, 5, 6 came after the mark (at seq 7); 9 was deleted.
        assert_eq!(r.unread(), 2);
        r.read_seq = 12;
        r.read_n = 6;
        assert_eq!(r.unread(), 0);
        r.read_n = 9;
        assert_eq!(r.unread(), 0, "never negative");
    }
}
