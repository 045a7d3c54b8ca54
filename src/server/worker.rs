//! What lets the app open without a network: the app shell (`/shell`, the
//! document with the bundle and no page in it, which the browser renders
//! itself) and the service worker's script (`/sw.js`, `public/sw.js` with
//! this build's version and bundle names in front, so that a new build is
//! a new script: browsers install it and the page offers to reload). What
//! the worker does with them is in `public/sw.js`; nothing here knows a
//! person.

use axum::{
    extract::State,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};

use super::state::AppState;

pub fn routes(state: &AppState) -> Router<AppState> {
    let options = state.leptos.clone();
    let keep = crate::ui::Keep {
        rooms: state.config.offline_rooms,
        rows: state.config.offline_rows,
    };
    let shell = leptos_axum::render_app_to_stream_with_context(super::headers::page_nonce, move || {
        crate::ui::app_shell(options.clone(), keep)
    });
    Router::new()
        .route("/shell", get(shell))
        .route("/sw.js", get(script))
}

/// The service worker: this build's names, then `public/sw.js`. A build
/// without hashed names (or `cargo leptos watch`, which rebuilds all the
/// time) has the version "": the worker then keeps nothing.
async fn script(State(state): State<AppState>) -> Response {
    let site = std::path::Path::new(state.leptos.site_root.as_ref());
    let body = match tokio::fs::read_to_string(site.join("sw.js")).await {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "the service worker's script is missing from the site");
            return StatusCode::NOT_FOUND.into_response();
        }
    };
    let hashes = match state.bundle_hashes() {
        Some(path) if std::env::var_os("LEPTOS_WATCH").is_none() => {
            tokio::fs::read_to_string(path).await.unwrap_or_default()
        }
        _ => String::new(),
    };
    let prefix = preamble(&hashes, &state.leptos.site_pkg_dir);
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        format!("{prefix}\n{body}"),
    )
        .into_response()
}

/// `VERSION` and `BUNDLE` from the lines of cargo-leptos' hash file
/// (`js: …`, `wasm: …`, `css: …`); empty ones without all three.
fn preamble(hashes: &str, pkg: &str) -> String {
    let hash = |kind: &str| {
        hashes.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            (k.trim() == kind && !v.trim().is_empty()).then(|| v.trim().to_string())
        })
    };
    let (version, bundle) = match (hash("js"), hash("wasm"), hash("css")) {
        (Some(js), Some(wasm), Some(css)) => (
            format!("{js}.{wasm}.{css}"),
            format!("\"/{pkg}/chat.{js}.js\", \"/{pkg}/chat.{wasm}.wasm\", \"/{pkg}/chat.{css}.css\""),
        ),
        _ => (String::new(), String::new()),
    };
    format!(
        "// This build (written by the server, server/worker.rs).\n\
         const VERSION = \"{version}\";\nconst BUNDLE = [{bundle}];"
    )
}

#[cfg(test)]
mod tests {
    use super::preamble;

    #[test]
    fn the_version_names_all_three_files_of_the_bundle() {
        let p = preamble("js: aa\nwasm: bb\ncss: cc\n", "pkg");
        assert!(p.contains("const VERSION = \"aa.bb.cc\";"), "{p}");
        assert!(
            p.contains(r#"["/pkg/chat.aa.js", "/pkg/chat.bb.wasm", "/pkg/chat.cc.css"]"#),
            "{p}"
        );
    }

    #[test]
    fn without_hashes_there_is_no_version() {
        let p = preamble("js: aa\n", "pkg");
        assert!(
            p.contains("const VERSION = \"\";") && p.contains("const BUNDLE = [];"),
            "{p}"
        );
    }
}
