#!/usr/bin/env bash
# The benchmark: `bench.sh quick|full|smoke`. Builds the release server and
# chatbench (smoke uses the debug chatbench `cargo test` built), installs the
# Node peers from npm, starts a PostgreSQL and a Redis of its own on loopback
# (the two-node and PostgreSQL runs; stopped at the end), raises the open-file
# limit, and runs chatbench on the last core(s) with the servers pinned to
# core 0. Prints the table; quick and full also write JSON under bench/results/
# and measure a cold page load in Chromium (bench/page.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
mode=${1:-quick}

[ -d bench/node/node_modules ] || (cd bench/node && npm ci --no-audit --no-fund --loglevel=error)
if [ "$mode" = smoke ]; then
  bench="$CARGO_TARGET_DIR/debug/examples/chatbench"
  [ -x "$bench" ] || cargo build --features ssr --example chatbench
else
  bash scripts/build-release.sh
  # A build directory of its own: cargo-leptos builds leptos with other
  # settings, and sharing one directory would rebuild both every time.
  CARGO_TARGET_DIR="$CARGO_TARGET_DIR/bench" cargo build --release --features ssr --example chatbench
  bench="$CARGO_TARGET_DIR/bench/release/examples/chatbench"
fi
chat="$CARGO_TARGET_DIR/release/chat"
[ -x "$chat" ] || bash scripts/build-release.sh

STATE=$(mktemp -d /tmp/chat-bench.XXXXXX)
chmod 755 "$STATE"
cleanup() {
  bash scripts/pg.sh stop "$STATE/pg" || true
  bash scripts/redis.sh stop "$STATE/redis" || true
  rm -rf "$STATE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# The services run on core 0 with the servers under test: they are part of the server side.
BENCH_POSTGRES_URL=$(taskset -c 0 bash scripts/pg.sh start "$STATE/pg" "$(bash scripts/free-port.sh)")
BENCH_REDIS_URL=$(taskset -c 0 bash scripts/redis.sh start "$STATE/redis" "$(bash scripts/free-port.sh)")
export BENCH_POSTGRES_URL BENCH_REDIS_URL

ulimit -n "$(ulimit -Hn)"
last=$(($(nproc) - 1))
if [ "$last" -ge 1 ]; then gen="1-$last"; else gen=0; fi
CHAT_LOG=${CHAT_LOG:-warn} RUST_LOG=${RUST_LOG:-info} \
  taskset -c "$gen" "$bench" run --mode "$mode" --chat-bin "$chat" --server-cores 0

# The page itself: bytes over the wire and time to interactive for a cold
# load in Chromium (not in smoke: it needs the release site).
if [ "$mode" != smoke ]; then
  port=$(bash scripts/free-port.sh)
  CHAT_BIND=127.0.0.1:$port DATABASE_URL="sqlite://$STATE/page.db" LEPTOS_SITE_ROOT="$SITE_ROOT" CHAT_LOG=warn \
    taskset -c 0 "$chat" &
  server=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  taskset -c "$gen" node bench/page.mjs "http://127.0.0.1:$port" || true
  kill "$server"; wait "$server" 2>/dev/null || true
fi
