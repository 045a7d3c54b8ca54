#!/usr/bin/env bash
# A throwaway Redis on loopback, for tests and the cluster shape.
#   redis.sh start DIR PORT   start redis-server on 127.0.0.1:PORT (no persistence); prints the URL
#   redis.sh stop DIR         shut it down
#   redis.sh cluster-start DIR PORT
#                             a Redis Cluster: six redis-servers on PORT..PORT+5,
#                             three masters and a replica of each (a master that
#                             stops answering for a second is failed over);
#                             prints the seeds' URLs, comma-separated
#   redis.sh cluster-stop DIR shut all six down
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
cluster-start)
  port=${3:?PORT}
  mkdir -p "$dir"
  ports=$(seq "$port" $((port + 5)))
  for p in $ports; do
    mkdir -p "$dir/$p"
    rm -f "$dir/$p/nodes.conf"
    redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 1000 \
      --cluster-require-full-coverage no \
      --dir "$dir/$p" --pidfile "$dir/$p/redis.pid" --logfile "$dir/$p/redis.log"
  done
  for p in $ports; do
    for _ in $(seq 50); do
      redis-cli -p "$p" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
  done
  redis-cli --cluster create $(for p in $ports; do printf '127.0.0.1:%s ' "$p"; done) \
    --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1
  # Every node must see the whole cluster before it is used.
  for p in $ports; do
    for _ in $(seq 100); do
      redis-cli -p "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok' && break
      sleep 0.1
    done
  done
  echo "$ports" >"$dir/ports"
  for p in $ports; do printf 'redis://127.0.0.1:%s\n' "$p"; done | paste -sd, -
  ;;
cluster-stop)
  if [ -f "$dir/ports" ]; then
    for p in $(cat "$dir/ports"); do
      redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true
    done
  fi
  ;;
*) echo "usage: redis.sh start DIR PORT | stop DIR | cluster-start DIR PORT | cluster-stop DIR" >&2; exit 2 ;;
esac
