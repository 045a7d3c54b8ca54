#!/usr/bin/env bash
# Keeps the shared build directory from filling the disk. Every clone (as in
# CI) builds this crate's own libraries, test binaries and incremental data
# anew under a new fingerprint (a few GB a run); those older than three hours
# are never used again (a run takes well under one).
# Dependencies' artifacts stay: they are what makes the next build fast.
set -euo pipefail
source "$(dirname "$0")/env.sh"
for profile in "$CARGO_TARGET_DIR"/debug "$CARGO_TARGET_DIR"/*/debug "$CARGO_TARGET_DIR"/release "$CARGO_TARGET_DIR"/*/release; do
  [ -d "$profile" ] || continue
  find "$profile/incremental" -mindepth 1 -maxdepth 1 -mmin +180 -exec rm -rf {} + 2>/dev/null || true
  # The crate's own library, and its test and binary executables (no extension).
  find "$profile/deps" -maxdepth 1 -type f -mmin +180 -name 'libchat-*' -delete 2>/dev/null || true
  find "$profile/deps" -maxdepth 1 -type f ! -name '*.*' -perm -u+x -mmin +180 \
    \( -name 'chat-*' $(for t in tests/*.rs tests/*/; do printf -- "-o -name %s-* " "$(basename "${t%.rs}")"; done) \) \
    -delete 2>/dev/null || true
  find "$profile/examples" -maxdepth 1 -type f -mmin +180 -name 'chatbench-*' -delete 2>/dev/null || true
done
echo "build directory: $(du -sh "$CARGO_TARGET_DIR" 2>/dev/null | cut -f1)"
