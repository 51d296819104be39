# The same entry points on every machine. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo
WASM_TARGET := wasm32-wasip2
# One target/ for everything; the plugin workspace builds in its own corner of it
# (target/plugins): its native test builds of the SDK and plugin crates would otherwise
# overwrite the host's (the host's tests and benches build some plugin crates natively too),
# and the next build of either fails with "multiple different versions of crate".
export CARGO_TARGET_DIR := $(CURDIR)/target
PLUGIN_TARGET := $(CURDIR)/target/plugins
PLUGIN_CARGO = cd plugins && CARGO_TARGET_DIR=$(PLUGIN_TARGET) $(CARGO)
MOTO_VERSION := 5.2.5

DETECTION_PLUGINS := root-usage cloudtrail-tampering console-no-mfa access-key-other-user s3-public-access-block admin-policy-attached monitoring-disabled network-exposure s3-exposure resource-exposure storage-exposure service-watch identity-changes organization-guard keys-secrets sigma anomaly
TEST_GUESTS := infinite-loop memory-hog trap flood legacy-v010 deep-recursion huge-strings ungranted-calls wasi-probe flood-per-event sleeper state-hog memory-probe

.PHONY: help build plugins host test demo bench fmt lint clean toolchain

# What a fresh machine lacks for the plugins, installed once (each step is a no-op after):
# the wasm target, componentize-py in .venv, jco in plugins/js/node_modules.
toolchain:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)

help:
	@echo "make demo   run the platform on the bundled example (examples/), no AWS account"
	@echo "make test   build the plugins and run the whole test suite"
	@echo "make build  release binary at target/release/trailwarden, plugins at plugins/dist/"
	@echo "make bench  wasm plugins through the host vs. the same logic natively"
	@echo "make bench-history  the cost of a first-seen check (cached, from SQLite, new) and of a rate check; the anomaly plugin per event"
	@echo "make bench-languages  the same detection in Rust, Python, JavaScript: size, load, per event"
	@echo "make agreement  agreement with Panther's labelled tests, per plugin (real host, real components)"
	@echo "make bench-search  search --count vs zcat|grep and zcat|jq over ~200 MB of gzip logs"
	@echo "make bench-growth  10,000 to 1,000,000 events through every shipped plugin: time, RSS, cost per event"
	@echo "make bench-daemon  event-to-committed latency over HTTP at 1,000 and 20,000 events/s (p50/p99/max, RSS)"
	@echo "make bench-shipped  replay throughput of every shipped plugin together (example config)"
	@echo "make bench-plugin-cost [PLUGIN=service-watch] [RECORDED=1]  the set with and without one plugin, alternating: its cost (RECORDED=1: on recorded CloudTrail only)"
	@echo "make fuzz FUZZ_SECONDS=600  fuzz the normaliser, pattern parser, Sigma rules and config (per target)"
	@echo "make console  serve the demo's findings in the web console (prints the URL and how to log in)"
	@echo "make bench-console  the console's list and overview queries at 1,000,000 findings"
	@echo "make rules  every detection of the example config, with severity, ATT&CK technique, response"
	@echo "make rules-doc  regenerate docs/plugins.md's rule table from rules list --format json"
	@echo "make python-stubs  regenerate the Python plugins' tests/wit_stubs.py from the WIT"

build: plugins host

host:
	@$(CARGO) build --release -p trailwarden

# Every plugin component into plugins/dist/NAME.wasm; test guests into target/guests/.
# Python and JavaScript plugins: plugins-polyglot, below.
plugins: toolchain plugins-polyglot
	@$(PLUGIN_CARGO) build --release --target $(WASM_TARGET)
	@mkdir -p plugins/dist target/guests
	@for p in $(DETECTION_PLUGINS); do \
	  cp $(PLUGIN_TARGET)/$(WASM_TARGET)/release/$${p//-/_}.wasm plugins/dist/$$p.wasm; done
	@for p in $(TEST_GUESTS); do \
	  cp $(PLUGIN_TARGET)/$(WASM_TARGET)/release/$${p//-/_}.wasm target/guests/$$p.wasm; done

# --- Python and JavaScript plugins ------------------------------------------------------
# plugins/python/NAME/ (app.py, componentize-py) and plugins/js/NAME/ (package.json, jco)
# into plugins/dist/NAME.wasm, rebuilt when their sources change; then checked: unit tests,
# imports, and the shipped fixtures run under Node (plugins/js/tools/check-component.mjs).
# The tools: `make plugins-tools` (componentize-py into .venv, `npm ci` in plugins/js).
PY_PLUGINS := $(patsubst plugins/python/%/app.py,%,$(wildcard plugins/python/*/app.py))
JS_PLUGINS := $(patsubst plugins/js/%/package.json,%,$(wildcard plugins/js/*/package.json))
PY_WASM := $(PY_PLUGINS:%=plugins/dist/%.wasm)
JS_WASM := $(JS_PLUGINS:%=plugins/dist/%.wasm)
COMPONENTIZE_PY_VERSION := 0.25.1
POLYGLOT_CHECKED := target/polyglot-checked.stamp

.PHONY: plugins-polyglot plugins-polyglot-check plugins-tools plugins-templates-check

plugins-polyglot: plugins-tools $(PY_WASM) $(JS_WASM) $(POLYGLOT_CHECKED)

# The checks run again only when a component or a test changed (`make demo` stays quiet
# when nothing was rebuilt); `make plugins-polyglot-check` runs them on demand.
$(POLYGLOT_CHECKED): $(PY_WASM) $(JS_WASM) plugins/js/tools/check-component.mjs \
    $(wildcard plugins/python/*/tests/*.py plugins/js/*/test/*.mjs)
	@mkdir -p target
	@echo "checking the Python and JavaScript plugins (unit tests, imports, fixtures under Node)"
	@$(MAKE) --no-print-directory plugins-polyglot-check > target/polyglot-check.log 2>&1 \
	  || { cat target/polyglot-check.log; exit 1; }
	@touch $@

.SECONDEXPANSION:
$(PY_WASM): plugins/dist/%.wasm: $$(wildcard plugins/python/$$*/*.py plugins/python/$$*/world.wit \
    plugins/python/$$*/requirements.txt plugins/python/$$*/fixtures/*.json) \
    plugins/python/build.sh wit/0.2.0/plugin.wit wit/0.3.0/plugin.wit
	plugins/python/build.sh plugins/python/$* $@

$(JS_WASM): plugins/dist/%.wasm: $$(wildcard plugins/js/$$*/*.js plugins/js/$$*/*.mjs plugins/js/$$*/world.wit \
    plugins/js/$$*/package.json plugins/js/$$*/fixtures/*.json) \
    plugins/js/build.sh plugins/js/package-lock.json wit/0.2.0/plugin.wit wit/0.3.0/plugin.wit
	plugins/js/build.sh plugins/js/$* $@

plugins-polyglot-check:
	for p in $(PY_PLUGINS); do \
	  if [ -d plugins/python/$$p/tests ]; then (cd plugins/python/$$p && python3 -m unittest -q) || exit 1; fi; done
	for p in $(JS_PLUGINS); do \
	  if [ -d plugins/js/$$p/test ]; then node --test --test-reporter=spec plugins/js/$$p/test/*.test.mjs || exit 1; fi; done
	for w in $(PY_WASM) $(JS_WASM); do node plugins/js/tools/check-component.mjs $$w || exit 1; done

# Idempotent: installs only what is missing or at another version.
plugins-tools:
	@if [ "$$(.venv/bin/componentize-py --version 2>/dev/null)" != "componentize-py $(COMPONENTIZE_PY_VERSION)" ]; then \
	  [ -x .venv/bin/pip ] || python3 -m venv .venv; \
	  echo ".venv/bin/pip install componentize-py==$(COMPONENTIZE_PY_VERSION)"; \
	  .venv/bin/pip install --quiet --disable-pip-version-check componentize-py==$(COMPONENTIZE_PY_VERSION); \
	fi
	@if ! cmp -s plugins/js/package-lock.json plugins/js/node_modules/.trailwarden-installed-lock; then \
	  echo "npm ci (plugins/js)"; \
	  (cd plugins/js && npm ci --no-audit --no-fund --loglevel=error) && \
	  cp plugins/js/package-lock.json plugins/js/node_modules/.trailwarden-installed-lock; \
	fi

# Instantiates each template of `trailwarden plugin new` in a scratch folder and builds it.
plugins-templates-check:
	plugins/templates/check.sh
# --- end of Python and JavaScript plugins ------------------------------------------------

# What the tests need beyond the plugins: moto's AWS emulator in .venv (the response tests
# start it on 127.0.0.1). Idempotent: installs only when missing or at another version.
.PHONY: test-tools
test-tools:
	@if [ ! -x .venv/bin/moto_server ] || \
	     [ "$$(.venv/bin/python -c 'import moto; print(moto.__version__)' 2>/dev/null)" != "$(MOTO_VERSION)" ]; then \
	  [ -x .venv/bin/pip ] || python3 -m venv .venv; \
	  echo ".venv/bin/pip install moto[server]==$(MOTO_VERSION)"; \
	  .venv/bin/pip install --quiet --disable-pip-version-check "moto[server]==$(MOTO_VERSION)"; \
	else echo "moto $(MOTO_VERSION) is installed in .venv"; fi
	@# The console's browser test drives Debian's chromium through chromedriver.
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "apt-get install chromium chromium-driver"; \
	  apt-get update -qq && apt-get install -y -qq chromium chromium-driver; \
	else echo "the console's browser test needs chromium and chromedriver: apt-get install chromium chromium-driver" >&2; exit 1; fi

test: plugins test-tools
	$(PLUGIN_CARGO) test --quiet
	$(CARGO) test --workspace

# Mutational fuzzing of every parser that reads outside input (tests/fuzz/mutate.rs), each
# for FUZZ_SECONDS (the test suite runs them for 10 s each). A failing input is written to
# target/fuzz-failures/ (target/plugins/fuzz-failures/ for Sigma); FUZZ_SEED replays a run.
FUZZ_SECONDS ?= 60
.PHONY: fuzz
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(CARGO) test -p cloudtrail-normalize --test fuzz -- --nocapture
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(CARGO) test -p event-pattern --test fuzz_mutations -- --nocapture
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(CARGO) test -p trailwarden --test all fuzz:: -- --nocapture
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(PLUGIN_CARGO) test -p sigma --test fuzz -- --nocapture

# The demo's story in one screen: what was read, what was found (one line per event),
# what would be done and the command to approve it.
DEMO := ./target/release/trailwarden
DEMO_CONFIG := --config examples/trailwarden.toml
demo: build
	@rm -f examples/demo.db examples/demo.db-wal examples/demo.db-shm
	@echo
	@echo "\$$ trailwarden replay $(DEMO_CONFIG) --summary-only examples/logs"
	@$(DEMO) replay $(DEMO_CONFIG) --summary-only examples/logs
	@echo
	@echo "\$$ trailwarden audit findings $(DEMO_CONFIG) --by-event    # what was found, one line per event"
	@$(DEMO) audit findings $(DEMO_CONFIG) --by-event
	@echo
	@echo "\$$ trailwarden actions list $(DEMO_CONFIG)    # what the response plugins would do"
	@$(DEMO) actions list $(DEMO_CONFIG)

bench: plugins
	$(CARGO) bench -p trailwarden --bench replay

# The web console over the demo's findings: replays the example logs into examples/demo.db
# (as `make demo` does), then serves them; Ctrl-C stops it.
.PHONY: console bench-console
CONSOLE_LISTEN ?= 127.0.0.1:8080
console: build
	@rm -f examples/demo.db examples/demo.db-wal examples/demo.db-shm
	@$(DEMO) replay $(DEMO_CONFIG) --summary-only examples/logs >/dev/null
	@echo
	@echo "web console: http://$(CONSOLE_LISTEN)/"
	@echo "log in with an empty name and, as the password, the admin token (approver):"
	@echo "    cat examples/trailwarden.admin-token"
	@echo "or the ingest token (read-only): cat examples/trailwarden.token"
	@echo "(both are created on first start, mode 0600; [console] users: see docs/console.md)"
	@echo
	@$(DEMO) run $(DEMO_CONFIG) --listen $(CONSOLE_LISTEN)

# The console's queries at 1,000,000 findings: list with each filter, overview 24 h and 7 d
# (host/benches/console.rs). FINDINGS=100000 for a quicker run.
bench-console:
	$(CARGO) bench -p trailwarden --bench console

# The cost of a first-seen check (host/benches/history.rs): the store alone, then the
# shipped anomaly plugin through the host.
bench-history: plugins
	$(CARGO) bench -p trailwarden --bench history

# The same detection in Rust, Python and JavaScript (plugins/bench/), built into
# target/bench-plugins/, then measured in one run: size, compile, cached load, fresh
# instance, per-event cost, and the Rust logic natively (host/benches/languages.rs).
.PHONY: bench-languages
bench-languages:
	mkdir -p target/bench-plugins
	plugins/build-plugin.sh plugins/bench/rust target/bench-plugins/rust.wasm
	plugins/build-plugin.sh plugins/bench/python target/bench-plugins/python.wasm
	plugins/build-plugin.sh plugins/bench/js target/bench-plugins/js.wasm
	$(CARGO) bench -p trailwarden --bench languages

fmt:
	$(CARGO) fmt --all
	cd plugins && $(CARGO) fmt --all

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(PLUGIN_CARGO) clippy --target $(WASM_TARGET) -- -D warnings

clean:
	rm -rf target plugins/dist

# Agreement with Panther's labelled tests, per plugin, through the real host and components.
.PHONY: agreement rules
agreement: plugins
	$(CARGO) test -p trailwarden --test all panther -- --nocapture

# Replay throughput of every shipped plugin together (the example config), release build.
.PHONY: bench-shipped
bench-shipped: plugins
	$(CARGO) build --release -p trailwarden --bin trailwarden --example json_parse_rate \
	  --example findings_floor
	python3 host/benches/shipped.py $(CURDIR) target/release/trailwarden \
	  target/release/examples/json_parse_rate 50000 --workers 1,2 \
	  --floor target/release/examples/findings_floor

# What one plugin costs the shipped set (release, one worker): the whole set and the set
# without PLUGIN, alternating REPEAT times each on the same 50,000 events, with the medians.
# RECORDED=1: on the corpus's recorded CloudTrail alone, without Panther's test events.
.PHONY: bench-plugin-cost
PLUGIN ?= service-watch
REPEAT ?= 5
bench-plugin-cost: plugins
	$(CARGO) build --release -p trailwarden --bin trailwarden --example json_parse_rate
	python3 host/benches/shipped.py $(CURDIR) target/release/trailwarden \
	  target/release/examples/json_parse_rate 50000 --cost-of $(PLUGIN) --repeat $(REPEAT) --workers 1 \
	  $(if $(RECORDED),--records-only)

# Growth: 10,000 to 1,000,000 events through every shipped plugin (release): time, peak RSS,
# database size, and the cost per event at each size. Bounded: one replay per size.
.PHONY: bench-growth
bench-growth: plugins
	$(CARGO) build --release -p trailwarden --bin trailwarden --example json_parse_rate
	python3 host/benches/shipped.py $(CURDIR) target/release/trailwarden \
	  target/release/examples/json_parse_rate --growth 10000,100000,1000000

# `trailwarden search --count` vs zcat | grep and zcat | jq over ~200 MB of gzip log files
# built from the corpus (kept in target/bench-search/); SIZE_MB=50 for a quicker run.
.PHONY: bench-search
bench-search:
	$(CARGO) build --release -p trailwarden --bin trailwarden
	python3 host/benches/search.py $(CURDIR) target/release/trailwarden --size-mb $(or $(SIZE_MB),200)

# Event-to-committed latency of the daemon at 1,000 and 20,000 events/s offered over HTTP on
# loopback (bounded: 10 s per rate), with the example config; p50/p99/max and peak RSS, and
# how late the load generator (examples/offer_load.rs) sent and the CPU it used.
.PHONY: bench-daemon
bench-daemon: plugins
	$(CARGO) build --release -p trailwarden --bin trailwarden --example offer_load
	python3 host/benches/daemon.py $(CURDIR) target/release/trailwarden target/release/examples/offer_load \
	  --seconds 10 --rates 1000,20000

# Every loaded detection of the example config (Sigma rules: loaded and refused, with reasons).
rules: plugins
	$(CARGO) run -q -p trailwarden -- rules list --config examples/trailwarden.toml

# docs/plugins.md's rule table, regenerated from `rules list --format json` over the example
# config (the test that checks it is current, told to rewrite it).
# The Python plugins' test stand-ins, generated from the WIT (a test checks they are current).
.PHONY: python-stubs
python-stubs:
	python3 plugins/python/gen_wit_stubs.py

.PHONY: rules-doc
rules-doc: plugins
	UPDATE_RULE_TABLE=1 $(CARGO) test -p trailwarden --test all rules::the_rule_table_in_the_docs_is_generated_from_rules_list
