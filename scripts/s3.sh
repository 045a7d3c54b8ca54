#!/usr/bin/env bash
# A throwaway S3-speaking server on loopback (moto's, from the Python
# package index, installed by install.sh), for tests and the cluster shape.
#   s3.sh start DIR PORT   start it on 127.0.0.1:PORT with an empty bucket
#                          "chat"; prints the endpoint URL
#   s3.sh stop DIR         stop it (its objects live in its memory only)
# Clients use any key pair (AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cmd=${1:?start|stop}; dir=$(realpath -m "${2:?DIR}")
case "$cmd" in
start)
  port=${3:?PORT}
  mkdir -p "$dir"
  [ -x "$MOTO/bin/moto_server" ] || { echo "s3.sh: moto is not installed (run scripts/install.sh)" >&2; exit 1; }
  nohup "$MOTO/bin/moto_server" -H 127.0.0.1 -p "$port" >"$dir/s3.log" 2>&1 &
  echo $! >"$dir/s3.pid"
  url="http://127.0.0.1:$port"
  for _ in $(seq 100); do
    curl -sf -o /dev/null -X PUT "$url/chat" && break
    kill -0 "$(cat "$dir/s3.pid")" 2>/dev/null || { cat "$dir/s3.log" >&2; exit 1; }
    sleep 0.1
  done
  curl -sf -o /dev/null -X PUT "$url/chat" || { echo "s3.sh: the server did not start" >&2; exit 1; }
  echo "$url"
  ;;
stop)
  if [ -f "$dir/s3.pid" ]; then
    kill "$(cat "$dir/s3.pid")" 2>/dev/null || true
    rm -f "$dir/s3.pid"
  fi
  ;;
*)
  echo "usage: s3.sh start DIR PORT | stop DIR" >&2
  exit 2
  ;;
esac
