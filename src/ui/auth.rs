//! The log-in / sign-up page.

use leptos::{prelude::*, task::spawn_local};

use crate::api::{log_in, sign_up};
use crate::model::{HANDLE_RULES, PASSWORD_MIN};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    LogIn,
    SignUp,
}

#[component]
pub fn AuthPage() -> impl IntoView {
    let mode = RwSignal::new(Mode::LogIn);
    let handle = RwSignal::new(String::new());
    let display_name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let (h, n, p) = (
            handle.get_untracked(),
            display_name.get_untracked(),
            password.get_untracked(),
        );
        let m = mode.get_untracked();
        spawn_local(async move {
            let result = match m {
                Mode::LogIn => log_in(h, p).await,
                Mode::SignUp => sign_up(h, n, p).await,
            };
            match result {
                Ok(_) => super::go_to("/"),
                Err(e) => {
                    error.set(Some(e.to_string()));
                    busy.set(false);
                }
            }
        });
    };
    let switch = move |to: Mode| {
        move |_| {
            mode.set(to);
            error.set(None);
        }
    };

    view! {
        <main class="auth">
            <section class="auth-card">
                <h1 class="brand">"Chat"</h1>
                <p class="tagline">"Messages that arrive, in order, once."</p>
                <div class="tabs" role="tablist">
                    <button type="button" role="tab" class:active=move || mode.get() == Mode::LogIn
                        aria-selected=move || (mode.get() == Mode::LogIn).to_string()
                        on:click=switch(Mode::LogIn)>"Log in"</button>
                    <button type="button" role="tab" class:active=move || mode.get() == Mode::SignUp
                        aria-selected=move || (mode.get() == Mode::SignUp).to_string()
                        on:click=switch(Mode::SignUp)>"Sign up"</button>
                </div>
                <form on:submit=submit>
                    <label>
                        "Handle"
                        <input name="handle" autocomplete="username" required autofocus
                            prop:value=handle on:input=move |ev| handle.set(event_target_value(&ev))/>
                    </label>
                    <Show when=move || mode.get() == Mode::SignUp>
                        <p class="hint">{HANDLE_RULES}</p>
                        <label>
                            "Display name " <span class="optional">"(optional)"</span>
                            <input name="display_name" autocomplete="nickname"
                                prop:value=display_name on:input=move |ev| display_name.set(event_target_value(&ev))/>
                        </label>
                    </Show>
                    <label>
                        "Password"
                        <input name="password" type="password" required
                            autocomplete=move || if mode.get() == Mode::SignUp { "new-password" } else { "current-password" }
                            prop:value=password on:input=move |ev| password.set(event_target_value(&ev))/>
                    </label>
                    <Show when=move || mode.get() == Mode::SignUp>
                        <p class="hint">{format!("At least {PASSWORD_MIN} characters.")}</p>
                    </Show>
                    <p class="error" role="alert">{move || error.get()}</p>
                    <button type="submit" class="primary" disabled=move || busy.get()>
                        {move || match mode.get() { Mode::LogIn => "Log in", Mode::SignUp => "Create account" }}
                    </button>
                </form>
            </section>
        </main>
    }
}
