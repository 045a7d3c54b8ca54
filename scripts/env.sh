# Shared settings for the project's scripts; sourced, not run.
# Pinned tool versions: wasm-bindgen's CLI must equal the crate pinned in Cargo.toml.
export CARGO_LEPTOS_VERSION=0.3.10
export WASM_BINDGEN_VERSION=0.2.130
export BINARYEN_VERSION=132.0.0
# The S3-speaking server the tests and the cluster shape start (moto, from PyPI).
export MOTO_VERSION=5.1.22
export PATH="$HOME/.cargo/bin:$PATH"
# Tools from npm and build output live outside the clone, so a fresh clone
# (as in CI) reuses them when this machine built them before.
export CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/chat"
export TOOLS="$CACHE_DIR/tools"
export MOTO="$CACHE_DIR/moto-$MOTO_VERSION"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE_DIR/target}"
export PATH="$TOOLS/node_modules/.bin:$PATH"
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
export SITE_ROOT="$PWD/target/site"
