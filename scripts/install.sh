#!/usr/bin/env bash
# Installs every tool the project needs, skipping what is already there.
# Safe to run again and again; `make run` and `make test` call it first.
# Only the package registries are used (Debian, crates.io, npm): nothing
# downloads a prebuilt binary from anywhere else.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

log() { echo "install: $*" >&2; }

# Debian packages: Chromium for Playwright, Redis/PostgreSQL/nginx for the
# cluster shape and its tests. Installing them starts nothing on default ports.
need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v redis-server >/dev/null || need_apt+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v nginx >/dev/null || need_apt+=(nginx)
command -v node >/dev/null || need_apt+=(nodejs npm)
if ((${#need_apt[@]})); then
  log "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # Debian may start services from their packages; stop them so nothing listens on default ports.
  (service redis-server stop; service postgresql stop; service nginx stop) >/dev/null 2>&1 || true
fi

rustup target list --installed | grep -q wasm32-unknown-unknown ||
  rustup target add wasm32-unknown-unknown
rustup component list --installed | grep -q '^clippy' || rustup component add clippy
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt

if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  log "cargo install cargo-leptos $CARGO_LEPTOS_VERSION (about 10 minutes, once per machine)"
  cargo install cargo-leptos --locked --version "$CARGO_LEPTOS_VERSION" --features no_downloads
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# wasm-opt from npm's binaryen: Debian's is too old and silently breaks hydration.
if ! grep -qs "\"version\": \"$BINARYEN_VERSION\"" "$TOOLS/node_modules/binaryen/package.json"; then
  log "npm install binaryen@$BINARYEN_VERSION"
  mkdir -p "$TOOLS"
  npm --prefix "$TOOLS" install --no-audit --no-fund "binaryen@$BINARYEN_VERSION" >/dev/null
fi

# Playwright (the test runner only; the browser is Debian's Chromium).
if [ -f end2end/package-lock.json ] &&
  ! cmp -s end2end/package-lock.json end2end/node_modules/.package-lock.json.installed 2>/dev/null; then
  log "npm ci in end2end/"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >/dev/null)
  cp end2end/package-lock.json end2end/node_modules/.package-lock.json.installed
fi
log "all tools present"
