#!/usr/bin/env bash
# Prints a TCP port that is free on 127.0.0.1 now.
#   free-port.sh N   the first of N consecutive free ports whose cluster-bus
#                    ports (10,000 above, as Redis Cluster uses) are free too
exec python3 - "${1:-}" <<'PY'
import random, socket, sys

def free(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()

if not sys.argv[1]:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])
    sys.exit()
n = int(sys.argv[1])
while True:
    first = random.randrange(20000, 30000)
    if all(free(p) and free(p + 10000) for p in range(first, first + n)):
        print(first)
        break
PY
