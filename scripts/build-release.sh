#!/usr/bin/env bash
# The release build: the server binary and the site (the WASM bundle with
# content-hashed names, precompressed with brotli and gzip). Clones of this
# repository share one build directory; cargo links each clone's own
# artifacts to the same final paths only when it builds them, so another
# clone's could be left there. Removing the final paths first makes cargo
# link this clone's (it always restores a missing one).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
rm -f "$CARGO_TARGET_DIR/front/wasm32-unknown-unknown/wasm-release/chat.wasm" \
  "$CARGO_TARGET_DIR/release/chat"
exec cargo leptos build --release --precompress "$@"
