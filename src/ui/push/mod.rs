//! Web Push in the page: where this device stands (`Status`), and the
//! browser's part — the service worker, the subscription saved on the
//! server, the app badge — in `web.rs`. The server build compiles
//! `stub.rs` instead, with the same functions doing nothing.

#[cfg(feature = "hydrate")]
#[path = "web.rs"]
mod imp;
#[cfg(not(feature = "hydrate"))]
#[path = "stub.rs"]
mod imp;

pub use imp::{enable, forget, set_badge, status};

/// Where notifications stand on this device.
#[derive(Clone, Debug, PartialEq)]
// The server build only ever has `Unknown`.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub enum Status {
    /// Not known yet (and always, on the server).
    Unknown,
    /// No service workers or Web Push here (or not a secure context).
    Unsupported,
    Off,
    On,
    /// The person (or a policy) denied the permission.
    Blocked,
}
