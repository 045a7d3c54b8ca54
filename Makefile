# The two set-up commands (see README): `make run` and `make test`.
.PHONY: run test install watch fmt clean cluster cluster-stop

run:
	bash scripts/run.sh

test:
	bash scripts/test.sh

install:
	bash scripts/install.sh

# The cluster shape on this machine: PostgreSQL, Redis, three nodes, nginx.
cluster: install
	. scripts/env.sh && cargo leptos build --release
	bash scripts/cluster.sh start

cluster-stop:
	bash scripts/cluster.sh stop

# Developer loop: rebuild and reload on every change.
watch: install
	. scripts/env.sh && cargo leptos watch

fmt:
	cargo fmt --all

clean:
	. scripts/env.sh && rm -rf "$$CARGO_TARGET_DIR" target
