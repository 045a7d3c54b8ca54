#!/usr/bin/env bash
# `make test`: installs what is missing, starts a throwaway PostgreSQL and
# Redis on loopback, runs every check, and stops what it started, also on failure.
# Prints how long each stage took.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

STATE=$(mktemp -d /tmp/chat-test.XXXXXX)
chmod 755 "$STATE"
SERVER_PID=
declare -a TIMES=()
T0=$SECONDS

cleanup() {
  local rc=$?
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  bash scripts/pg.sh stop "$STATE/pg" || true
  bash scripts/redis.sh stop "$STATE/redis" || true
  bash scripts/s3.sh stop "$STATE/s3" || true
  [ -d "$STATE/cluster" ] && CLUSTER_DIR="$STATE/cluster" bash scripts/cluster.sh stop >/dev/null 2>&1 || true
  rm -rf "$STATE"
  echo
  echo "== stage times =="
  printf '%s\n' "${TIMES[@]}"
  echo "total: $((SECONDS - T0)) s"
  [ $rc -eq 0 ] && echo "make test: all checks passed" || echo "make test: FAILED (exit $rc)"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stage() {
  local name=$1; shift
  local start=$SECONDS
  echo; echo "== $name =="
  if "$@"; then
    TIMES+=("$(printf '%-22s %5d s' "$name" $((SECONDS - start)))")
  else
    local rc=$?
    TIMES+=("$(printf '%-22s %5d s  FAILED' "$name" $((SECONDS - start)))")
    return $rc
  fi
}

stage install bash scripts/install.sh
stage prune bash scripts/prune-target.sh
# A fresh clone compiles this crate once: incremental data would only fill the disk.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi
stage fmt cargo fmt --all -- --check
stage clippy-ssr cargo clippy --features ssr --all-targets -- -D warnings
stage clippy-hydrate cargo clippy --lib --target wasm32-unknown-unknown --no-default-features --features hydrate -- -D warnings

start_pg() {
  TEST_POSTGRES_URL=$(bash scripts/pg.sh start "$STATE/pg" "$(bash scripts/free-port.sh)")
  export TEST_POSTGRES_URL
  echo "PostgreSQL at ${TEST_POSTGRES_URL/chat:chat@/chat:***@}"
}
stage postgres start_pg
start_redis() {
  TEST_REDIS_URL=$(bash scripts/redis.sh start "$STATE/redis" "$(bash scripts/free-port.sh)")
  export TEST_REDIS_URL
  echo "Redis at $TEST_REDIS_URL"
}
stage redis start_redis
start_s3() {
  TEST_S3_URL=$(bash scripts/s3.sh start "$STATE/s3" "$(bash scripts/free-port.sh)")
  export TEST_S3_URL AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
  echo "S3 at $TEST_S3_URL"
}
stage s3 start_s3
# Tests that need PostgreSQL or Redis fail rather than skip here.
export CHAT_REQUIRE_POSTGRES=1
stage cargo-test cargo test --features ssr
# The chaos checker in both shapes, briefly (its own PostgreSQL and Redis); prints its counts.
stage chaos env CHAOS_SECONDS="${CHAOS_SECONDS:-20}" \
  cargo test --features ssr --test chaos -- --ignored --nocapture --test-threads=1

stage build-release bash scripts/build-release.sh
# The benchmark harness, tiny (every server, seconds): so it cannot rot. `make bench` measures.
stage bench-smoke bash scripts/bench.sh smoke

e2e() {
  local port; port=$(bash scripts/free-port.sh)
  # The push test runs its own push service on loopback, over http; every
  # test person signs up from loopback.
  CHAT_BIND=127.0.0.1:$port DATABASE_URL="sqlite://$STATE/e2e/chat.db" CHAT_PUSH_ALLOW_HTTP=1 \
    CHAT_SIGNUP_BURST=10000 \
    LEPTOS_SITE_ROOT="$SITE_ROOT" \
    "$CARGO_TARGET_DIR/release/chat" >"$STATE/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$STATE/server.log"; return 1; }
    sleep 0.1
  done
  local rc=0
  # The update test runs a server of its own from the same binary and a copy of the site.
  (cd end2end && BASE_URL="http://127.0.0.1:$port" CHAT_BIN="$CARGO_TARGET_DIR/release/chat" SITE_ROOT="$SITE_ROOT" \
    npx playwright test) 2>&1 | tee "$STATE/playwright.log" || rc=$?
  # On failure the server's log first, then Playwright's summary of what failed, so
  # the end of CI's output names the failing tests.
  [ $rc -eq 0 ] || { echo "--- server log ---"; tail -40 "$STATE/server.log";
    echo "--- failed tests ---"; grep -E '^\s+[0-9]+\) |✘|failed|flaky|passed' "$STATE/playwright.log" | tail -40
    echo "--- why ---"; grep -E -A14 '^\s+[0-9]+\) \[' "$STATE/playwright.log" | grep -vE '^\s*$' | head -60; }
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
  return $rc
}
stage playwright e2e

# The cluster shape: nginx round-robin in front of two nodes on PostgreSQL and
# Redis (started by scripts/cluster.sh on free ports), and a browser test through
# it; then the same over a Redis Cluster (three masters with replicas).
e2e_cluster() {
  local port n1 n2 rc=0
  port=$(bash scripts/free-port.sh); n1=$(bash scripts/free-port.sh); n2=$(bash scripts/free-port.sh)
  export CLUSTER_DIR="$STATE/cluster" CLUSTER_PORT=$port NODES=2 NODE_PORTS="$n1 $n2"
  export PG_PORT=$(bash scripts/free-port.sh) REDIS_SHAPE=${1:-single}
  if [ "$REDIS_SHAPE" = cluster ]; then REDIS_PORT=$(bash scripts/free-port.sh 6); else REDIS_PORT=$(bash scripts/free-port.sh); fi
  export REDIS_PORT S3_PORT=$(bash scripts/free-port.sh) CHAT_SIGNUP_BURST=10000
  bash scripts/cluster.sh start || { tail -20 "$CLUSTER_DIR"/*.log; return 1; }
  (cd end2end && BASE_URL="http://127.0.0.1:$port" \
    CLUSTER_NODES="http://127.0.0.1:$n1,http://127.0.0.1:$n2" npx playwright test cluster) 2>&1 \
    | tee "$STATE/playwright-cluster.log" || rc=$?
  [ $rc -eq 0 ] || { echo "--- node logs ---"; tail -30 "$CLUSTER_DIR"/node-*.log;
    echo "--- failed tests ---"; grep -E '^\s+[0-9]+\) |✘|failed|flaky|passed' "$STATE/playwright-cluster.log" | tail -40; }
  bash scripts/cluster.sh stop
  return $rc
}
stage playwright-cluster e2e_cluster single
stage playwright-redis-cluster e2e_cluster cluster
