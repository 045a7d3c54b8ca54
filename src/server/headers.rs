//! What the server tells browsers about every response, as middleware: how
//! long they may keep it (`cache`), and what they must not do with it
//! (`security`). Nothing here decides what a response holds.

use axum::{
    extract::{Request, State},
    http::{header, HeaderValue, StatusCode},
    middleware::Next,
    response::Response,
};

use super::state::AppState;

/// How long browsers may keep what they got. The bundle (`/pkg/…`: the
/// WASM, its JS and the CSS) has content-hashed names in a release build,
/// so a name never changes its bytes: kept a year, never asked again. Its
/// files are served precompressed (brotli or gzip, made at build time, by
/// `Accept-Encoding`). Pages and the other files (the service worker, the
/// icon) are asked again each time (`no-cache`: a 304 when unchanged), so a
/// new release is seen at once.
pub async fn cache(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let bundle = req
        .uri()
        .path()
        .starts_with(&format!("/{}/", state.leptos.site_pkg_dir));
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    if headers.contains_key(header::CACHE_CONTROL) {
        return res;
    }
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    let immutable = bundle && state.leptos.hash_files && res.status() == StatusCode::OK;
    let value = if immutable {
        "public, max-age=31536000, immutable"
    } else if html || res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED {
        "no-cache"
    } else {
        return res;
    };
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    if bundle {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    res
}

/// Headers every response carries: no guessing of content types, no
/// referrer leaves (message links must not reveal room URLs), no framing by
/// other sites (clickjacking), a browsing context of its own (no window of
/// another site keeps a handle on this one), and the powerful features the
/// app does not use turned off. Behind HTTPS (`CHAT_SECURE_COOKIE`),
/// browsers are told to come back only over HTTPS.
pub async fn security(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    let mut set = |name: header::HeaderName, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'");
    set(
        header::HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(header::HeaderName::from_static("permissions-policy"), PERMISSIONS);
    if state.config.secure_cookie {
        set(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    }
    res
}

/// Browser features the app never uses, refused for it and anything it embeds.
const PERMISSIONS: &str = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), \
serial=(), hid=(), midi=(), display-capture=()";
