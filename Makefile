# The two set-up commands (see README): `make run` and `make test`.
.PHONY: run test install watch fmt clean

run:
	bash scripts/run.sh

test:
	bash scripts/test.sh

install:
	bash scripts/install.sh

# Developer loop: rebuild and reload on every change.
watch: install
	. scripts/env.sh && cargo leptos watch

fmt:
	cargo fmt --all

clean:
	. scripts/env.sh && rm -rf "$$CARGO_TARGET_DIR" target
