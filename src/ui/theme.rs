//! Browser only: the light or dark look a person chose on this device
//! ("system" follows the device), kept in localStorage and applied as
//! `data-theme` on the document (the stylesheet's `color-scheme` follows
//! it). The server build compiles `theme_ssr.rs` instead.

const KEY: &str = "chat.theme";

/// The theme chosen on this device: "light", "dark" or "system".
pub fn load() -> String {
    web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|s| s.get_item(KEY).ok().flatten())
        .filter(|t| t == "light" || t == "dark")
        .unwrap_or_else(|| "system".into())
}

/// Keeps `theme` for this device and shows it at once.
pub fn save(theme: &str) {
    if let Some(s) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = s.set_item(KEY, theme);
    }
    apply(theme);
}

/// Shows `theme` ("system": whatever the device prefers).
pub fn apply(theme: &str) {
    let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    else {
        return;
    };
    let _ = match theme {
        "light" | "dark" => root.set_attribute("data-theme", theme),
        _ => root.remove_attribute("data-theme"),
    };
}
