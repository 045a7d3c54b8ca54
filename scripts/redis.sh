#!/usr/bin/env bash
# A throwaway Redis on loopback, for tests and the cluster shape.
#   redis.sh start DIR PORT   start redis-server on 127.0.0.1:PORT (no persistence); prints the URL
#   redis.sh stop DIR         shut it down
set -euo pipefail
cmd=${1:?start|stop}; dir=$(realpath -m "${2:?DIR}")
case "$cmd" in
start)
  port=${3:?PORT}
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
  for _ in $(seq 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "$port" >"$dir/port"
  echo "redis://127.0.0.1:$port"
  ;;
stop)
  [ -f "$dir/port" ] && redis-cli -p "$(cat "$dir/port")" shutdown nosave >/dev/null 2>&1 || true
  ;;
*) echo "usage: redis.sh start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
