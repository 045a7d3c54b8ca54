#!/usr/bin/env bash
# `make run`: installs what is missing, builds a release and serves the app
# on http://127.0.0.1:3000 with the embedded default (SQLite under data/).
# Any flag or environment variable of the server can be added, e.g.
#   CHAT_BIND=0.0.0.0:8080 make run
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bash scripts/install.sh
cargo leptos build --release --precompress
export LEPTOS_SITE_ROOT="$SITE_ROOT"
exec "$CARGO_TARGET_DIR/release/chat" "$@"
