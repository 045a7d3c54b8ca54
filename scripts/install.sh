#!/usr/bin/env bash
# Installs the tools the project needs, skipping what is already there.
# `install.sh serve` (what `make run` calls): what building and serving the
# app needs. `install.sh` (what `make test` calls): that and what the checks
# need (Chromium, Redis, PostgreSQL, nginx, clippy, the browser tests' npm
# packages). Safe to run again and again. Only the package registries are
# used (Debian, crates.io, npm): nothing downloads a prebuilt binary from
# anywhere else. Each step says one line; their output goes to a log.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
mode=${1:-all}

log() { echo "install: $*" >&2; }
LOG="$CACHE_DIR/logs/install.log"
mkdir -p "$(dirname "$LOG")"
# Runs a step quietly; on failure shows the end of its output.
quiet() {
  if ! "$@" >>"$LOG" 2>&1; then
    echo "install: failed: $* — the end of $LOG:" >&2
    tail -30 "$LOG" >&2
    return 1
  fi
}

# Debian packages: Node for wasm-opt (npm's binaryen) always; Chromium for
# Playwright, Redis/PostgreSQL/nginx for the cluster shape and its tests.
# Installing them starts nothing on default ports.
need_apt=()
command -v node >/dev/null || need_apt+=(nodejs npm)
if [ "$mode" != serve ]; then
  command -v chromium >/dev/null || need_apt+=(chromium)
  command -v redis-server >/dev/null || need_apt+=(redis-server)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
  command -v nginx >/dev/null || need_apt+=(nginx)
  # moto (the tests' S3 server) runs in a Python virtualenv.
  command -v python3 >/dev/null || need_apt+=(python3)
  python3 -c 'import ensurepip, venv' 2>/dev/null || need_apt+=(python3-venv)
fi
if ((${#need_apt[@]})); then
  log "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  quiet apt-get update -qq
  quiet apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
  # Debian may start services from their packages; stop them so nothing listens on default ports.
  (service redis-server stop; service postgresql stop; service nginx stop) >/dev/null 2>&1 || true
fi

if ! rustup target list --installed | grep -q wasm32-unknown-unknown; then
  log "rustup target add wasm32-unknown-unknown"
  quiet rustup target add wasm32-unknown-unknown
fi
if [ "$mode" != serve ]; then
  rustup component list --installed | grep -q '^clippy' || quiet rustup component add clippy
  rustup component list --installed | grep -q '^rustfmt' || quiet rustup component add rustfmt
fi

# Build tools, built once per machine into ~/.cargo/bin (cargo-leptos is
# most of a fresh machine's install: about 12 minutes on 2 cores; building
# it without its LTO and single codegen unit was measured no faster).
if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  log "cargo install cargo-leptos $CARGO_LEPTOS_VERSION (about 12 minutes on 2 cores, once per machine)"
  quiet cargo install cargo-leptos --locked --version "$CARGO_LEPTOS_VERSION" --features no_downloads
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 2 minutes, once per machine)"
  quiet cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# wasm-opt from npm's binaryen: Debian's is too old and silently breaks hydration.
if ! grep -qs "\"version\": \"$BINARYEN_VERSION\"" "$TOOLS/node_modules/binaryen/package.json"; then
  log "npm install binaryen@$BINARYEN_VERSION"
  mkdir -p "$TOOLS"
  quiet npm --prefix "$TOOLS" install --no-audit --no-fund "binaryen@$BINARYEN_VERSION"
fi

[ "$mode" = serve ] && exit 0

# An S3-speaking server for the tests and the cluster shape: moto, in a
# virtualenv of its own (about 20 s; only its S3 part and its server).
if [ ! -x "$MOTO/bin/moto_server" ]; then
  log "pip install moto $MOTO_VERSION (the S3 server of the tests)"
  rm -rf "$MOTO"
  quiet python3 -m venv "$MOTO"
  quiet "$MOTO/bin/pip" install --quiet "moto[s3]==$MOTO_VERSION" "flask<4" "flask-cors<7"
fi

# Playwright (the test runner only; the browser is Debian's Chromium).
if [ -f end2end/package-lock.json ] &&
  ! cmp -s end2end/package-lock.json end2end/node_modules/.package-lock.json.installed 2>/dev/null; then
  log "npm ci in end2end/"
  (cd end2end && export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 && quiet npm ci --no-audit --no-fund)
  cp end2end/package-lock.json end2end/node_modules/.package-lock.json.installed
fi
