# The same entry points on every machine. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo
WASM_TARGET := wasm32-wasip2
# One shared target/ for the host and the plugins (different triples never collide).
export CARGO_TARGET_DIR := $(CURDIR)/target

DETECTION_PLUGINS := root-usage cloudtrail-tampering console-no-mfa access-key-other-user s3-public-access-block admin-policy-attached
TEST_GUESTS := infinite-loop memory-hog trap flood legacy-v010

.PHONY: help build plugins host test demo bench fmt lint clean

help:
	@echo "make demo   run the platform on the bundled example (examples/), no AWS account"
	@echo "make test   build the plugins and run the whole test suite"
	@echo "make build  release binary at target/release/trailwarden, plugins at plugins/dist/"
	@echo "make bench  wasm plugins through the host vs. the same logic natively"

build: plugins host

host:
	$(CARGO) build --release -p trailwarden

# Every plugin component into plugins/dist/NAME.wasm; test guests into target/guests/.
plugins:
	cd plugins && $(CARGO) build --release --target $(WASM_TARGET)
	mkdir -p plugins/dist target/guests
	for p in $(DETECTION_PLUGINS); do \
	  cp target/$(WASM_TARGET)/release/$${p//-/_}.wasm plugins/dist/$$p.wasm; done
	for p in $(TEST_GUESTS); do \
	  cp target/$(WASM_TARGET)/release/$${p//-/_}.wasm target/guests/$$p.wasm; done

test: plugins
	cd plugins && $(CARGO) test --quiet
	$(CARGO) test --workspace

demo: build
	rm -f examples/demo.db examples/demo.db-wal examples/demo.db-shm
	./target/release/trailwarden replay --config examples/trailwarden.toml examples/logs
	@echo
	@echo "The findings are kept in examples/demo.db:"
	./target/release/trailwarden audit findings --config examples/trailwarden.toml --format table

bench: plugins
	$(CARGO) bench -p trailwarden --bench replay

fmt:
	$(CARGO) fmt --all
	cd plugins && $(CARGO) fmt --all

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	cd plugins && $(CARGO) clippy --target $(WASM_TARGET) -- -D warnings

clean:
	rm -rf target plugins/dist
