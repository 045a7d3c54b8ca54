//! The server binary (feature `ssr`). The browser's entry is `hydrate` in lib.rs.

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    chat::server::main().await
}

#[cfg(not(feature = "ssr"))]
fn main() {}
