//! Managing a group: the changes to a room that ride its stream as
//! `Kind::Room` rows (renamed, described, people added or removed, someone
//! left, a role changed, ownership handed over), what each says in the
//! timeline, and who may make which (`check`): the server enforces it, the
//! UI offers only what it allows. No I/O and no `cfg` here.

use serde::{Deserialize, Serialize};

use crate::model::{Role, User, UserId};

/// The most people an `Added` row names (it counts them all).
pub const ADDED_NAMED: usize = 20;

/// A change to a room, as its row carries it (the sender made it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    /// The group's new name.
    Renamed { name: String },
    /// The group's new description (empty: none).
    Described { text: String },
    /// People joined: the first `ADDED_NAMED` of them, and how many in all.
    Added { users: Vec<User>, count: u32 },
    /// Someone was removed by the sender.
    Removed { user: User },
    /// The sender left; `owner` took over when the sender was the owner.
    Left {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<User>,
    },
    /// Someone's role was set (to admin or member).
    Role { user: User, role: Role },
    /// The owner handed the group over to `user` and is an admin now.
    HandedOver { user: User },
    /// The group's new picture (`model::avatar_url`); None: removed.
    Avatar {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        avatar: Option<String>,
    },
    /// The sender changed their profile (in every room of theirs): `user`
    /// as they are now, `was` their display name before, and their picture.
    /// `deleted`: the sender deleted their account (`user` is now the
    /// "Deleted account"); `erased`: with the bodies of their messages, which
    /// a client holding them erases as deleted.
    Profile {
        user: User,
        was: String,
        status: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        avatar: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        deleted: bool,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        erased: bool,
    },
}

impl Change {
    /// Who no longer gets the room once this row is stored (the sender
    /// for `Left`).
    pub fn gone(&self, sender: UserId) -> Option<UserId> {
        match self {
            Change::Removed { user } => Some(user.id),
            Change::Left { .. } => Some(sender),
            _ => None,
        }
    }

    /// The role `user` has after this row, if it changed it (`sender`
    /// made the change).
    pub fn role_of(&self, sender: UserId, user: UserId) -> Option<Role> {
        match self {
            Change::Role { user: u, role } if u.id == user => Some(*role),
            Change::HandedOver { user: u } if u.id == user => Some(Role::Owner),
            Change::HandedOver { .. } if sender == user => Some(Role::Admin),
            Change::Left { owner: Some(u) } if u.id == user => Some(Role::Owner),
            _ => None,
        }
    }

    /// How the member count moves.
    pub fn members_delta(&self) -> i64 {
        match self {
            Change::Added { count, .. } => i64::from(*count),
            Change::Removed { .. } | Change::Left { .. } => -1,
            _ => 0,
        }
    }

    /// The line the timeline shows, `who` being the sender's name and
    /// `me` the reader ("you" where it is them); None for a change that
    /// shows elsewhere (a profile's status or avatar).
    pub fn line(&self, who: &str, sender: UserId, me: Option<UserId>) -> Option<String> {
        let name = |u: &User| {
            if Some(u.id) == me {
                "you".to_string()
            } else {
                u.display_name.clone()
            }
        };
        let who = if Some(sender) == me { "You" } else { who };
        Some(match self {
            Change::Renamed { name } => format!("{who} renamed the group to “{name}”"),
            Change::Described { text } if text.is_empty() => format!("{who} removed the description"),
            Change::Described { .. } => format!("{who} changed the description"),
            Change::Avatar { avatar: Some(_) } => format!("{who} changed the group's picture"),
            Change::Avatar { avatar: None } => format!("{who} removed the group's picture"),
            Change::Added { users, count } => {
                let mut names: Vec<String> = users.iter().map(name).collect();
                let more = (*count as usize).saturating_sub(names.len());
                if more > 0 {
                    names.push(format!("{more} more"));
                }
                format!("{who} added {}", join(&names))
            }
            Change::Removed { user } => format!("{who} removed {}", name(user)),
            Change::Left { owner: None } => format!("{who} left"),
            Change::Left { owner: Some(u) } => {
                format!("{who} left; {} is the owner now", name(u))
            }
            Change::Role {
                user,
                role: Role::Admin,
            } => format!("{who} made {} an admin", name(user)),
            Change::Role { user, .. } => format!("{who} made {} a member", name(user)),
            Change::HandedOver { user } => format!("{who} made {} the owner", name(user)),
            Change::Profile {
                was, deleted: true, ..
            } => format!("{was} deleted their account"),
            Change::Profile { user, was, .. } if *was != user.display_name => {
                let was = if Some(sender) == me { "You" } else { was.as_str() };
                format!("{was} changed their name to {}", user.display_name)
            }
            Change::Profile { .. } => return None,
        })
    }
}

fn join(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// What someone asks to do to a group, with the roles involved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Rename,
    Describe,
    Add,
    /// Remove a member whose role is this.
    Remove(Role),
    /// Set the role of a member whose role is the first to the second.
    SetRole(Role, Role),
    /// Hand the group over to another member.
    HandOver,
    Leave,
}

/// Why `me`, whose role in the group is `role`, may not do `action`; Ok
/// when they may. Admins add and remove members and rename; owners also
/// remove admins, set roles and hand the group over; anyone may leave.
pub fn check(role: Role, action: Action) -> Result<(), &'static str> {
    let admin = role >= Role::Admin;
    let owner = role == Role::Owner;
    match action {
        Action::Leave => Ok(()),
        Action::Rename | Action::Describe | Action::Add if admin => Ok(()),
        Action::Rename | Action::Describe => {
            Err("Only the group's admins and its owner change its name, description and picture.")
        }
        Action::Add => Err("Only the group's admins and its owner add people."),
        Action::Remove(Role::Owner) => {
            Err("The group's owner cannot be removed (they may hand it over and leave).")
        }
        Action::Remove(Role::Admin) if owner => Ok(()),
        Action::Remove(Role::Admin) => Err("Only the group's owner removes an admin."),
        Action::Remove(Role::Member) if admin => Ok(()),
        Action::Remove(Role::Member) => Err("Only the group's admins and its owner remove people."),
        Action::SetRole(_, _) | Action::HandOver if !owner => Err("Only the group's owner changes roles."),
        Action::SetRole(Role::Owner, _) => Err("The owner's role changes only by handing the group over."),
        Action::SetRole(_, Role::Owner) => Err("A group has one owner: hand it over instead."),
        Action::SetRole(_, _) | Action::HandOver => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: UserId, name: &str) -> User {
        User {
            id,
            handle: name.to_lowercase(),
            display_name: name.into(),
        }
    }

    #[test]
    fn each_role_may_do_what_it_says_and_no_more() {
        use Action::*;
        use Role::*;
        let all = [
            Rename,
            Describe,
            Add,
            Remove(Member),
            Remove(Admin),
            Remove(Owner),
            SetRole(Member, Admin),
            SetRole(Admin, Member),
            SetRole(Member, Owner),
            SetRole(Owner, Member),
            HandOver,
            Leave,
        ];
        let may = |role| {
            all.iter()
                .filter(|&&a| check(role, a).is_ok())
                .copied()
                .collect::<Vec<_>>()
        };
        assert_eq!(may(Member), vec![Leave]);
        assert_eq!(may(Admin), vec![Rename, Describe, Add, Remove(Member), Leave]);
        assert_eq!(
            may(Owner),
            vec![
                Rename,
                Describe,
                Add,
                Remove(Member),
                Remove(Admin),
                SetRole(Member, Admin),
                SetRole(Admin, Member),
                HandOver,
                Leave
            ]
        );
    }

    #[test]
    fn rows_say_what_happened_and_to_whom() {
        let (ann, ben) = (user(1, "Ann"), user(2, "Ben"));
        let added = Change::Added {
            users: vec![ben.clone(), user(3, "Cat")],
            count: 5,
        };
        assert_eq!(
            added.line("Ann", 1, Some(9)).unwrap(),
            "Ann added Ben, Cat and 3 more"
        );
        assert_eq!(
            added.line("Ann", 1, Some(2)).unwrap(),
            "Ann added you, Cat and 3 more"
        );
        assert_eq!(added.members_delta(), 5);
        let removed = Change::Removed { user: ben.clone() };
        assert_eq!(removed.line("Ann", 1, Some(1)).unwrap(), "You removed Ben");
        let renamed = Change::Profile {
            user: user(1, "Annie"),
            was: "Ann".into(),
            status: String::new(),
            avatar: None,
            deleted: false,
            erased: false,
        };
        assert_eq!(
            renamed.line("Annie", 1, Some(2)).unwrap(),
            "Ann changed their name to Annie"
        );
        let status = Change::Profile {
            user: user(1, "Ann"),
            was: "Ann".into(),
            status: "away".into(),
            avatar: Some("pic".into()),
            deleted: false,
            erased: false,
        };
        assert_eq!(
            status.line("Ann", 1, Some(2)),
            None,
            "a status or a picture is shown elsewhere"
        );
        let picture = Change::Avatar {
            avatar: Some("pic".into()),
        };
        assert_eq!(
            picture.line("Ann", 1, Some(2)).unwrap(),
            "Ann changed the group's picture"
        );
        assert_eq!(removed.gone(1), Some(2));
        let left = Change::Left {
            owner: Some(ben.clone()),
        };
        assert_eq!(left.gone(1), Some(1));
        assert_eq!(left.role_of(1, 2), Some(Role::Owner));
        let over = Change::HandedOver { user: ben };
        assert_eq!(
            (over.role_of(1, 1), over.role_of(1, 2)),
            (Some(Role::Admin), Some(Role::Owner))
        );
        assert_eq!(Change::Renamed { name: "x".into() }.role_of(1, 1), None);
        let json = serde_json::to_value(Change::Role {
            user: ann,
            role: Role::Admin,
        })
        .unwrap();
        assert_eq!(json["op"], "role");
        assert_eq!(json["role"], "admin");
    }
}
