#!/usr/bin/env bash
# `make run`: installs what serving needs, builds a release (or reuses the
# one this machine built for the same sources, from any clone) and serves
# the app on http://127.0.0.1:3000 with the embedded default (SQLite under
# data/). One line per step; the build's output goes to a log. Any flag or
# environment variable of the server can be added, e.g.
#   CHAT_BIND=0.0.0.0:8080 make run
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
say() { echo "make run: $*" >&2; }

bash scripts/install.sh serve

# A clean checkout is keyed by its tree: another clone of the same version
# finds the build here and starts at once.
builds="$CACHE_DIR/builds"
key=
if [ -z "$(git status --porcelain 2>/dev/null)" ]; then
  key=$(git rev-parse 'HEAD^{tree}' 2>/dev/null || true)
fi
kept="$builds/${key:-none}"
if [ -n "$key" ] && [ -x "$kept/chat" ] && [ -f "$kept/hash.txt" ] && [ -d "$kept/site" ]; then
  say "release build of this version found ($kept)"
else
  log="$CACHE_DIR/logs/build.log"
  mkdir -p "$(dirname "$log")"
  say "building the release (about 10 minutes the first time on 2 cores, a minute or two after a change; log: $log)"
  if ! bash scripts/build-release.sh >"$log" 2>&1; then
    say "the build failed — the end of $log:"
    tail -40 "$log" >&2
    exit 1
  fi
  kept="$CACHE_DIR/builds/${key:-current}"
  rm -rf "$kept.tmp" && mkdir -p "$kept.tmp"
  # The binary reads hash.txt (the bundle's hashed names) from its own directory.
  cp "$CARGO_TARGET_DIR/release/chat" "$CARGO_TARGET_DIR/release/hash.txt" "$kept.tmp/"
  cp -r "$SITE_ROOT" "$kept.tmp/site"
  rm -rf "$kept" && mv "$kept.tmp" "$kept"
  # Keep the five newest versions.
  ls -1dt "$builds"/*/ 2>/dev/null | tail -n +6 | xargs -r rm -rf
fi

addr=${CHAT_BIND:-127.0.0.1:3000}
say "serving http://$addr (Ctrl-C stops; data in ${DATABASE_URL:-data/chat.db})"
export LEPTOS_SITE_ROOT="$kept/site" CHAT_LOG="${CHAT_LOG:-warn}"
exec "$kept/chat" "$@"
