#!/usr/bin/env bash
# The benchmark: `bench.sh quick|full|smoke`. Builds the release server and
# chatbench (smoke uses the debug chatbench `cargo test` built), installs the
# Node peers from npm, raises the open-file limit, and runs chatbench on the
# last core(s) with the servers pinned to core 0. Prints the table; quick and
# full also write JSON under bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
mode=${1:-quick}

[ -d bench/node/node_modules ] || (cd bench/node && npm ci --no-audit --no-fund --loglevel=error)
if [ "$mode" = smoke ]; then
  bench="$CARGO_TARGET_DIR/debug/examples/chatbench"
  [ -x "$bench" ] || cargo build --features ssr --example chatbench
else
  cargo leptos build --release
  cargo build --release --features ssr --example chatbench
  bench="$CARGO_TARGET_DIR/release/examples/chatbench"
fi
chat="$CARGO_TARGET_DIR/release/chat"
[ -x "$chat" ] || cargo leptos build --release

ulimit -n "$(ulimit -Hn)"
last=$(($(nproc) - 1))
if [ "$last" -ge 1 ]; then gen="1-$last"; else gen=0; fi
CHAT_LOG=${CHAT_LOG:-warn} RUST_LOG=${RUST_LOG:-info} \
  taskset -c "$gen" "$bench" run --mode "$mode" --chat-bin "$chat" --server-cores 0
