//! The server build's twin of `theme.rs`: the server renders the system's
//! look; the browser applies the person's choice once it runs.

pub fn load() -> String {
    "system".into()
}

pub fn save(_theme: &str) {}

pub fn apply(_theme: &str) {}
