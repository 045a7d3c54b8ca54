//! The state every request handler shares: the store, the settings and the
//! Leptos options. Cheap to clone.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use super::bus::{Bus, LocalBus};
use super::cache::{Cache, LocalCache};
use super::config::Config;
use super::delivery::Delivery;
use super::hub::Hub;
use super::presence::Leases;
use super::receipts::Receipts;
use super::storage::DynStore;

/// Messages per room the recent-message cache keeps.
const CACHED_PER_ROOM: usize = 100;

#[derive(Clone)]
pub struct AppState {
    pub store: DynStore,
    pub config: Arc<Config>,
    /// Origins allowed to call the API and open the socket.
    pub origins: Arc<[String]>,
    pub leptos: LeptosOptions,
    pub hub: Arc<Hub>,
    pub bus: Arc<dyn Bus>,
    pub cache: Arc<dyn Cache>,
    pub delivery: Delivery,
    pub receipts: Receipts,
    /// Who is online (presence leases).
    pub leases: Leases,
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
        let hub = Hub::new(config.send_queue);
        let bus: Arc<dyn Bus> = Arc::new(LocalBus::new(hub.clone()));
        let cache: Arc<dyn Cache> = Arc::new(LocalCache::new(CACHED_PER_ROOM));
        let delivery = Delivery::start(store.clone(), cache.clone(), bus.clone(), config.max_body_chars);
        let receipts = Receipts::new(bus.clone());
        let leases = Leases::new(store.clone(), bus.clone(), config.presence_max_members);
        Self {
            receipts,
            leases,
            store,
            config: Arc::new(config),
            origins,
            leptos,
            hub,
            bus,
            cache,
            delivery,
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
