//! The settings screen (route `/settings`): my profile (picture, display
//! name and status line, which every room of mine hears of), this device's look
//! (light, dark or the system's), which messages of rooms I join notify
//! me, whom I block (unblock them), my password, where I am logged in
//! (log out one session, or all others), and deleting my account. Each section is a form of its own that says what happened,
//! and a view of its own type (`AnyView`: the page's type stays shallow).

use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};
use leptos_router::components::A;

use super::avatar::{Avatar, PictureChooser};
use super::live::Live;
use super::theme;
use super::time::list_time;
use crate::api::{
    blocked, change_password, delete_account, end_other_sessions, end_session, my_profile, sessions,
    set_notify_default, unblock, update_profile, ApiError,
};
use crate::model::{Notify, SessionInfo, User, UserId, DISPLAY_NAME_MAX, PASSWORD_MIN, STATUS_MAX};

/// Me as the sidebar shows me: the settings screen changes my name and picture.
#[derive(Clone, Copy)]
pub struct Me {
    pub id: UserId,
    pub name: RwSignal<String>,
    pub picture: RwSignal<Option<String>>,
}

/// A section's call in flight and what came of it.
#[derive(Clone, Copy)]
struct Outcome {
    busy: RwSignal<bool>,
    said: RwSignal<Option<String>>,
    error: RwSignal<Option<String>>,
}

impl Outcome {
    fn new() -> Self {
        Self {
            busy: RwSignal::new(false),
            said: RwSignal::new(None),
            error: RwSignal::new(None),
        }
    }

    /// Runs `call`; on success `done` gets its answer and says what it did.
    fn run<T: 'static>(
        self,
        call: impl std::future::Future<Output = Result<T, ApiError>> + 'static,
        done: impl FnOnce(T) -> String + 'static,
    ) {
        self.busy.set(true);
        self.said.set(None);
        self.error.set(None);
        spawn_local(async move {
            let answer = call.await;
            self.busy.set(false);
            match answer {
                Ok(value) => self.said.set(Some(done(value))),
                Err(e) => self.error.set(Some(e.to_string())),
            }
        });
    }

    fn view(self) -> AnyView {
        view! {
            <p class="status" role="status">{move || self.said.get()}</p>
            <p class="error" role="alert">{move || self.error.get()}</p>
        }
        .into_any()
    }
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    provide_context(SessionsChanged(RwSignal::new(0)));
    view! {
        <div class="settings">
            <header class="room-header">
                <A href="/" attr:class="back" attr:aria-label="Back to the room list">"‹"</A>
                <div class="room-title"><h2>"Settings"</h2></div>
            </header>
            <div class="settings-body">
                <ProfileSection/>
                <AppearanceSection/>
                <BlockedSection/>
                <PasswordSection/>
                <SessionsSection/>
                <DeleteSection/>
            </div>
        </div>
    }
}

#[component]
fn ProfileSection() -> AnyView {
    let name = RwSignal::new(String::new());
    let status = RwSignal::new(String::new());
    let notify = RwSignal::new(Notify::All);
    let outcome = Outcome::new();
    let notify_outcome = Outcome::new();
    let me = expect_context::<Me>();
    // Browser only: the fields start from the profile as stored.
    Effect::new(move |_| {
        spawn_local(async move {
            match my_profile().await {
                Ok(p) => {
                    name.set(p.user.display_name);
                    status.set(p.status);
                    notify.set(p.notify_default);
                }
                Err(e) => outcome.error.set(Some(e.to_string())),
            }
        });
    });
    let save = move |ev: SubmitEvent| {
        ev.prevent_default();
        outcome.run(
            update_profile(name.get_untracked(), status.get_untracked()),
            move |p| {
                name.set(p.user.display_name.clone());
                status.set(p.status);
                me.name.set(p.user.display_name);
                "Saved: the people you talk with see it now.".into()
            },
        );
    };
    let choose = move |ev| {
        let Some(want) = Notify::parse(&event_target_value(&ev)) else {
            return;
        };
        notify.set(want);
        notify_outcome.run(set_notify_default(want), |_| "Saved.".into());
    };
    view! {
        <section class="settings-section" aria-labelledby="profile-h">
            <h3 id="profile-h">"Profile"</h3>
            <div class="picture-row">
                <Avatar id=me.id name=me.name picture=me.picture large=true/>
                <PictureChooser url="/avatars/mine".into() picture=me.picture/>
            </div>
            <form on:submit=save>
                <label>
                    "Display name"
                    <input name="display_name" required maxlength=DISPLAY_NAME_MAX autocomplete="nickname"
                        prop:value=name on:input=move |ev| name.set(event_target_value(&ev))/>
                </label>
                <label>
                    "Status"
                    <input name="status" maxlength=STATUS_MAX placeholder="What you are up to (optional)"
                        prop:value=status on:input=move |ev| status.set(event_target_value(&ev))/>
                </label>
                <button type="submit" class="primary" disabled=outcome.busy>"Save profile"</button>
                {outcome.view()}
            </form>
            <label>
                "New conversations notify me of"
                <select name="notify_default" prop:value=move || notify.get().as_str() on:change=choose>
                    <option value="all">"All messages"</option>
                    <option value="mentions">"Mentions and replies"</option>
                    <option value="none">"Nothing (muted)"</option>
                </select>
            </label>
            {notify_outcome.view()}
        </section>
    }
    .into_any()
}

#[component]
fn AppearanceSection() -> AnyView {
    let chosen = RwSignal::new("system".to_string());
    Effect::new(move |_| chosen.set(theme::load()));
    let option = move |value: &'static str, label: &'static str| {
        view! {
            <label class="choice">
                <input type="radio" name="theme" value=value prop:checked=move || chosen.get() == value
                    on:change=move |_| {
                        chosen.set(value.to_string());
                        theme::save(value);
                    }/>
                {label}
            </label>
        }
    };
    view! {
        <section class="settings-section" aria-labelledby="look-h">
            <h3 id="look-h">"Appearance"</h3>
            <fieldset class="choices">
                <legend>"Theme on this device"</legend>
                {option("system", "Follow the system")}
                {option("light", "Light")}
                {option("dark", "Dark")}
            </fieldset>
        </section>
    }
    .into_any()
}

#[component]
fn BlockedSection() -> AnyView {
    let live = expect_context::<Live>();
    let list = RwSignal::new(Vec::<User>::new());
    let outcome = Outcome::new();
    // Browser only: read again whenever whom I block changes (here or elsewhere).
    Effect::new(move |_| {
        live.blocked.track();
        spawn_local(async move {
            match blocked().await {
                Ok(users) => list.set(users),
                Err(e) => outcome.error.set(Some(e.to_string())),
            }
        });
    });
    let row = move |u: User| {
        let label = format!("Unblock {} (@{})", u.display_name, u.handle);
        view! {
            <li class="session">
                <span class="device">{u.display_name.clone()}</span>
                <span class="where">{crate::model::shown_handle(&u.handle)}</span>
                <button type="button" aria-label=label disabled=outcome.busy
                    on:click=move |_| outcome.run(unblock(u.id), move |users| {
                        list.set(users);
                        "Unblocked.".into()
                    })>"Unblock"</button>
            </li>
        }
    };
    view! {
        <section class="settings-section" aria-labelledby="blocked-h">
            <h3 id="blocked-h">"Blocked people"</h3>
            <Show when=move || list.with(Vec::is_empty)>
                <p class="muted">"You block no one. Block someone from your conversation with them."</p>
            </Show>
            <ul class="sessions">
                <For each=move || list.get() key=|u| u.id children=row/>
            </ul>
            {outcome.view()}
        </section>
    }
    .into_any()
}

#[component]
fn PasswordSection() -> AnyView {
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let again = RwSignal::new(String::new());
    let outcome = Outcome::new();
    let SessionsChanged(refresh) = expect_context::<SessionsChanged>();
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if new.get_untracked() != again.get_untracked() {
            outcome
                .error
                .set(Some("The new password and its repetition differ.".into()));
            return;
        }
        outcome.run(
            change_password(current.get_untracked(), new.get_untracked()),
            move |()| {
                for field in [current, new, again] {
                    field.set(String::new());
                }
                refresh.update(|n| *n += 1);
                "Password changed. Your other sessions were logged out.".into()
            },
        );
    };
    let field =
        move |label: &'static str, name: &'static str, value: RwSignal<String>, auto: &'static str| {
            view! {
                <label>
                    {label}
                    <input type="password" name=name required minlength=PASSWORD_MIN autocomplete=auto
                        prop:value=value on:input=move |ev| value.set(event_target_value(&ev))/>
                </label>
            }
        };
    view! {
        <section class="settings-section" aria-labelledby="password-h">
            <h3 id="password-h">"Password"</h3>
            <form on:submit=submit>
                {field("Current password", "current", current, "current-password")}
                {field("New password", "new", new, "new-password")}
                {field("New password again", "again", again, "new-password")}
                <button type="submit" disabled=outcome.busy>"Change password"</button>
                {outcome.view()}
            </form>
        </section>
    }
    .into_any()
}

/// Deleting my account: my password, and the button pressed twice. Then
/// this device forgets me (drafts, push) and shows the log-in page.
#[component]
fn DeleteSection() -> AnyView {
    let me = expect_context::<Me>();
    let password = RwSignal::new(String::new());
    let asking = RwSignal::new(false);
    let outcome = Outcome::new();
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if !asking.get_untracked() {
            asking.set(true);
            return;
        }
        asking.set(false);
        let id = me.id;
        outcome.run(delete_account(password.get_untracked()), move |()| {
            super::drafts::forget(id);
            spawn_local(async move {
                super::push::forget().await;
                super::go_to("/login");
            });
            "Your account was deleted.".into()
        });
    };
    view! {
        <section class="settings-section" aria-labelledby="delete-h">
            <h3 id="delete-h">"Delete account"</h3>
            <p class="muted">
                "Your messages stay in the conversations, under “Deleted account” (unless this server erases them), "
                "you leave your groups, and every session of yours is logged out. This cannot be undone."
            </p>
            <form on:submit=submit>
                <label>
                    "Your password"
                    <input type="password" name="delete_password" required autocomplete="current-password"
                        prop:value=password on:input=move |ev| password.set(event_target_value(&ev))/>
                </label>
                <button type="submit" class="danger" disabled=outcome.busy>
                    {move || if asking.get() { "Really delete my account?" } else { "Delete my account" }}
                </button>
                {outcome.view()}
            </form>
        </section>
    }
    .into_any()
}

/// Moves when my sessions changed (the list is read again).
#[derive(Clone, Copy)]
struct SessionsChanged(RwSignal<u32>);

#[component]
fn SessionsSection() -> AnyView {
    let live = expect_context::<Live>();
    let SessionsChanged(changed) = expect_context::<SessionsChanged>();
    let list = RwSignal::new(Vec::<SessionInfo>::new());
    let outcome = Outcome::new();
    // Browser only: read (again) after every change.
    Effect::new(move |_| {
        changed.track();
        spawn_local(async move {
            match sessions().await {
                Ok(s) => list.set(s),
                Err(e) => outcome.error.set(Some(e.to_string())),
            }
        });
    });
    let end = move |id: String| {
        outcome.run(end_session(id), move |()| {
            changed.update(|n| *n += 1);
            "Logged out there.".into()
        })
    };
    let end_others = move |_| {
        outcome.run(end_other_sessions(), move |()| {
            changed.update(|n| *n += 1);
            "Every other session was logged out.".into()
        })
    };
    let row = move |s: SessionInfo| {
        let device = device(&s.agent);
        let when = move || match s.current {
            true => "this device".to_string(),
            false => format!("active {}", list_time(s.seen_at, live.clock.get())),
        };
        let id = s.id.clone();
        let label = format!("Log out {device}");
        view! {
            <li class="session" class:current=s.current>
                <span class="device">{device.clone()}</span>
                <span class="where">{s.address.clone()} " · " {when}</span>
                <Show when=move || !s.current>
                    <button type="button" disabled=outcome.busy aria-label=label.clone()
                        on:click={
                            let id = id.clone();
                            move |_| end(id.clone())
                        }>"Log out"</button>
                </Show>
            </li>
        }
    };
    view! {
        <section class="settings-section" aria-labelledby="sessions-h">
            <h3 id="sessions-h">"Where you are logged in"</h3>
            <ul class="sessions">
                <For each=move || list.get() key=|s| s.id.clone() children=row/>
            </ul>
            <button type="button" class="danger" disabled=move || outcome.busy.get() || list.with(|l| l.len() < 2)
                on:click=end_others>"Log out all other sessions"</button>
            {outcome.view()}
        </section>
    }
    .into_any()
}

/// "Firefox on Linux" from a User-Agent; the agent itself (cut) when it
/// names nothing known.
fn device(agent: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .into_iter()
    .find(|(mark, _)| agent.contains(mark))
    .map(|(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(mark, _)| agent.contains(mark))
    .map(|(_, name)| name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => s.to_string(),
        (None, None) if agent.trim().is_empty() => "Unknown device".to_string(),
        (None, None) => agent.chars().take(40).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::device;

    #[test]
    fn agents_read_as_browser_and_system() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36";
        assert_eq!(device(chrome), "Chrome on Linux");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(device(iphone), "Safari on iPhone");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0";
        assert_eq!(device(edge), "Edge on Windows");
        assert_eq!(device("Firefox/128.0"), "Firefox");
        assert_eq!(device(""), "Unknown device");
        assert_eq!(device("curl/8.0"), "curl/8.0");
    }
}
