#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback, for tests and the cluster shape.
#   pg.sh start DIR PORT   initialise DIR if new, start on 127.0.0.1:PORT,
#                          ensure role/database "chat" (password "chat", CREATEDB);
#                          prints the URL
#   pg.sh stop DIR         fast shutdown (keeps the data)
# Runs the server as the "postgres" user (PostgreSQL refuses root).
set -euo pipefail
cmd=${1:?start|stop}; dir=$(realpath -m "${2:?DIR}")
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { (cd /tmp && runuser -u postgres -- "$@"); }
case "$cmd" in
start)
  port=${3:?PORT}
  mkdir -p "$dir" && chown postgres:postgres "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log"
  fi
  as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/pg.log" -w -t 30 \
    -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c max_connections=300 -c fsync=on" \
    start >/dev/null
  as_pg psql -q -h "$dir" -p "$port" -U postgres -v ON_ERROR_STOP=1 >/dev/null <<SQL
SELECT 'CREATE ROLE chat LOGIN CREATEDB PASSWORD ''chat''' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'chat')\gexec
SELECT 'CREATE DATABASE chat OWNER chat' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'chat')\gexec
SQL
  echo "postgres://chat:chat@127.0.0.1:$port/chat"
  ;;
stop)
  [ -f "$dir/data/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
  ;;
*) echo "usage: pg.sh start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
