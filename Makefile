# The two set-up commands (see README): `make run` and `make test`.
.PHONY: run test install watch fmt clean cluster cluster-stop chaos bench bench-quick

run:
	bash scripts/run.sh

test:
	bash scripts/test.sh

install:
	bash scripts/install.sh

# The cluster shape on this machine: PostgreSQL, Redis, three nodes, nginx.
# `make cluster REDIS=cluster`: a three-master Redis Cluster and two nodes.
REDIS ?= single
cluster: install
	bash scripts/build-release.sh
	REDIS_SHAPE=$(REDIS) bash scripts/cluster.sh start

cluster-stop:
	bash scripts/cluster.sh stop

# The chaos checker, long: `make chaos SECONDS=600`, or replay a run with
# `make chaos SEED=… SECONDS=…` (both shapes; `make test` runs them briefly).
SEED ?=
SECONDS ?= 300
chaos: install
	. scripts/env.sh && CHAOS_SEED=$(SEED) CHAOS_SECONDS=$(SECONDS) \
	  cargo test --features ssr --test chaos -- --ignored --nocapture --test-threads=1

# The benchmark against the peers (Node ws, Socket.IO, a bare Rust broadcast
# server): prints the table, writes JSON under bench/results/ (docs/BENCHMARKS.md).
bench: install
	bash scripts/bench.sh full

bench-quick: install
	bash scripts/bench.sh quick

# Developer loop: rebuild and reload on every change.
watch: install
	. scripts/env.sh && cargo leptos watch

fmt:
	cargo fmt --all

clean:
	. scripts/env.sh && rm -rf "$$CARGO_TARGET_DIR" target
