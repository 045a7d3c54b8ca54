//! The state every request handler shares: the store, the settings and the
//! Leptos options. Cheap to clone.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use super::config::Config;
use super::storage::DynStore;

#[derive(Clone)]
pub struct AppState {
    pub store: DynStore,
    pub config: Arc<Config>,
    /// Origins allowed to call the API and open the socket.
    pub origins: Arc<[String]>,
    pub leptos: LeptosOptions,
}

impl AppState {
    pub fn new(config: Config, store: DynStore, addr: std::net::SocketAddr) -> Self {
        let leptos = LeptosOptions::builder()
            .output_name("chat")
            .site_root(config.site_root.as_str())
            .site_pkg_dir(config.site_pkg_dir.as_str())
            .site_addr(addr)
            .reload_port(config.reload_port)
            .build();
        let origins = config.origins(addr.port()).into();
        Self {
            store,
            config: Arc::new(config),
            origins,
            leptos,
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
