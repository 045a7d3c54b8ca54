//! The Content-Security-Policy of this deployment, as text: fixed at start
//! from the allowed origins, but for the nonce each page gets
//! (`headers::security` sets it on responses).

/// Where browsers send what the policy blocked (`http::csp_report` logs it).
pub const REPORTS_PATH: &str = "/csp-reports";

/// The Content-Security-Policy: scripts only from this origin's files (the
/// hashed bundle) or inline with the response's nonce (Leptos' hydration
/// and resource scripts), never `eval` but WebAssembly compiled
/// (`'wasm-unsafe-eval'`); styles, images, fonts, workers and the manifest
/// from this origin (images also as `blob:` and `data:`, for pasted and
/// previewed pictures); connections to this origin and its WebSocket (and
/// `cargo leptos watch`'s reload socket in the developer loop); no plugins,
/// no `<base>`, forms posting only here, no framing. Violations are
/// reported to `REPORTS_PATH` by `report-uri`: every browser sends those at
/// once, while with a `report-to` directive Chromium ignores `report-uri`
/// and queues its reports for later (none came within a minute, tried).
///
/// Everything but the nonce is fixed at start-up; responses that are not
/// pages get the same policy without a nonce, which also governs the
/// service worker (its script's policy is the worker's).
#[derive(Debug)]
pub struct Policy {
    connect: String,
}

impl Policy {
    /// `origins`: the allowed origins (`CHAT_ALLOWED_ORIGINS` or the
    /// loopback names of the port); `reload_port`: cargo-leptos' live-reload
    /// port when the app runs under `cargo leptos watch`.
    pub fn new(origins: &[String], reload_port: Option<u32>) -> Self {
        let mut connect = vec!["'self'".to_string()];
        for origin in origins {
            let socket = origin
                .strip_prefix("https://")
                .map(|host| format!("wss://{host}"))
                .or_else(|| origin.strip_prefix("http://").map(|host| format!("ws://{host}")));
            connect.extend(socket);
            if let (Some(port), Some((scheme, rest))) = (reload_port, origin.split_once("://")) {
                let host = rest.rsplit_once(':').map_or(rest, |(h, _)| h);
                let ws = if scheme == "https" { "wss" } else { "ws" };
                connect.push(format!("{ws}://{host}:{port}"));
            }
        }
        connect.dedup();
        Self {
            connect: connect.join(" "),
        }
    }

    /// The header's value, with `nonce` allowed for inline scripts.
    pub fn header(&self, nonce: Option<&str>) -> String {
        let nonce = nonce.map(|n| format!(" 'nonce-{n}'")).unwrap_or_default();
        format!(
            "default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; \
             style-src 'self'; img-src 'self' blob: data:; font-src 'self'; \
             connect-src {connect}; worker-src 'self'; manifest-src 'self'; \
             object-src 'none'; base-uri 'none'; form-action 'self'; \
             frame-ancestors 'none'; report-uri {REPORTS_PATH}",
            connect = self.connect
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_the_sockets_of_the_allowed_origins() {
        let origins = [
            "http://127.0.0.1:3000".to_string(),
            "https://chat.example.com".to_string(),
        ];
        let p = Policy::new(&origins, None).header(Some("abc"));
        assert!(
            p.contains("connect-src 'self' ws://127.0.0.1:3000 wss://chat.example.com;"),
            "{p}"
        );
        assert!(
            p.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval';"),
            "{p}"
        );
        assert!(
            !p.contains("unsafe-inline") && !p.contains("'unsafe-eval'"),
            "{p}"
        );
        let watch = Policy::new(&origins[..1], Some(3001)).header(None);
        assert!(
            watch.contains("ws://127.0.0.1:3000 ws://127.0.0.1:3001;"),
            "{watch}"
        );
        assert!(watch.contains("script-src 'self' 'wasm-unsafe-eval';"), "{watch}");
    }
}
