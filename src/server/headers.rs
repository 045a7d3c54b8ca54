//! What the server tells browsers about every response, as middleware: how
//! long they may keep it (`cache`), and what they must not do with it
//! (`security`, with the Content-Security-Policy of `csp::Policy`). Nothing
//! here decides what a response holds.

use axum::http::request::Parts;
use axum::{
    extract::{Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::Response,
};
use leptos::{nonce::Nonce, prelude::*};

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
    let html = is_html(&res);
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

/// Headers every response carries: a Content-Security-Policy (see
/// `csp::Policy`; a page's carries the nonce its inline scripts were rendered
/// with, new for each response), no guessing of content types, no referrer
/// leaves (message links must not reveal room URLs), no framing by other
/// sites (clickjacking), a browsing context of its own (no window of
/// another site keeps a handle on this one), and the powerful features the
/// app does not use turned off. Behind HTTPS (`CHAT_SECURE_COOKIE`),
/// browsers are told to come back only over HTTPS.
///
/// The nonce is made here and handed to the renderer in the request's
/// extensions (`page_nonce` gives it to Leptos), so the header and
/// the page cannot disagree.
pub async fn security(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    // Pages are GETs: the API's POSTs and the socket's frames make none.
    let page = matches!(*req.method(), Method::GET | Method::HEAD);
    let nonce = page.then(Nonce::new);
    if let Some(nonce) = &nonce {
        req.extensions_mut().insert(nonce.clone());
    }
    let mut res = next.run(req).await;
    let nonce = nonce.filter(|_| is_html(&res));
    let headers = res.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        let policy = state.policy.header(nonce.as_deref());
        if let Ok(value) = HeaderValue::from_str(&policy) {
            headers.insert(header::CONTENT_SECURITY_POLICY, value);
        }
    }
    let mut set = |name: header::HeaderName, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::X_FRAME_OPTIONS, "DENY");
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

/// Renders the page with the nonce `security` put in its policy
/// (Leptos would make one of its own, which no header would name).
pub fn page_nonce() {
    let nonce = use_context::<Parts>().and_then(|parts| parts.extensions.get::<Nonce>().cloned());
    if let Some(nonce) = nonce {
        provide_context(nonce);
    }
}

fn is_html(res: &Response) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"))
}

/// Browser features the app never uses, refused for it and anything it embeds.
const PERMISSIONS: &str = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), \
serial=(), hid=(), midi=(), display-capture=()";
