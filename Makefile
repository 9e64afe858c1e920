# Quiet Engine. Two commands matter: `make dev` (the local stack) and
# `make test` (everything CI runs). Both install what they need, and are
# quick when it is already there.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# The Python tools live outside the repo on purpose: `cargo lambda watch`
# gives every function instance its own recursive file watcher over the
# repo, and a venv inside it (4,000+ directories) made each instance start
# take seconds and snowball into dozens of instances (see tools/stack.py).
# Keyed by the requirements, so two checkouts or branches never fight.
REQS_HASH := $(shell cksum < tools/requirements.txt | cut -d' ' -f1)
VENV ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/quiet-engine/venv-$(REQS_HASH)
PY := $(VENV)/bin/python
TOOLS_CACHE := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/quiet-engine
# cargo-audit, pinned, built once per version, without its default
# binary-scanning feature (which we do not use). No package registry we can
# reach ships it prebuilt, so it is built unoptimised and without debug
# info: 96 s on 2 cores against 221 s for a release build (measured),
# and an audit takes 1 s instead of 0.15 s.
CARGO_AUDIT_VERSION := 0.22.2
CARGO_AUDIT := $(TOOLS_CACHE)/cargo-audit-$(CARGO_AUDIT_VERSION)/bin/cargo-audit
# The RustSec snapshot that ships next to the repository; ADVISORY_DB=...
# points elsewhere. Audited offline: the snapshot is the source of truth.
ADVISORY_DB ?= $(wildcard $(abspath ../shared/advisory-db))
AUDIT_LOCKFILE ?= Cargo.lock
# cargo-fuzz, pinned the same way; the targets build on nightly.
CARGO_FUZZ_VERSION := 0.13.2
CARGO_FUZZ := $(TOOLS_CACHE)/cargo-fuzz-$(CARGO_FUZZ_VERSION)/bin/cargo-fuzz
FUZZ_TARGETS := cursor jwt webhook_signature bodies
FUZZ_SECONDS ?= 60
# Renamed when what an install does changes, so existing venvs redo it.
TOOLS_STAMP := $(VENV)/.installed-compiled
FUNCTIONS := $(notdir $(wildcard functions/*))
export PATH := $(VENV)/bin:$(PATH)
export QUIET_PYTHON := $(PY)
export CARGO_TERM_COLOR ?= never

.PHONY: help dev test check tools browser lint fmt layers clippy cfn-lint build-tests tests test-rust test-e2e build bench simulate why load soak audit fuzz

help:
	@echo "make dev    local stack on http://127.0.0.1:3000 (Ctrl-C stops it)"
	@echo "make test   everything CI runs: fmt, cfn-lint, clippy (in the build), audit, unit, property, integration, end-to-end"
	@echo "make check  a quick answer while you work: fmt, the layering check, clippy on the crates you changed, the domain's unit tests"
	@echo "make build  release arm64 binaries of every function (cargo lambda build)"
	@echo "make audit  cargo-audit against the RustSec snapshot (part of make test)"
	@echo "make bench  cold start, memory, instructions and DynamoDB cost of every function -> docs/PERFORMANCE.md"
	@echo "make simulate  a flash sale against DynamoDB's partition limits, 1 counter vs shards -> docs/FLASH-SALE.md (part of make bench)"
	@echo "make why    where bytes, init and warm instructions and memory go -> docs/PERFORMANCE-WHY.md"
	@echo "make fuzz   every fuzz target for FUZZ_SECONDS (60) each, on nightly (not in make test)"
	@echo "make load   a bounded loopback load test (wrk) of browsing + checkout, checked for oversell and 5xx"
	@echo "make soak   a few minutes of ordinary traffic on the make dev stack: instances, processes, load, async latency -> docs/SOAK.md"

# Python tools (moto, cfn-lint, cargo-lambda, zig), installed once per
# requirements.txt version. By uv, pinned, which pip installs first: 7 s
# against pip's 64 s for the same packages on a new machine. uv reads no
# pip configuration, so where it cannot reach the index pip does the job.
# Compiled to bytecode here (10 s once), as pip would: uv does not by
# default, and where PYTHONDONTWRITEBYTECODE is set (container images
# often set it) every Python process compiled moto, boto and cfn-lint again:
# 4.5 s of CPU per emulator start, and there is one per Rust test binary.
UV_VERSION := 0.13.9
$(TOOLS_STAMP): tools/requirements.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -r tools/requirements.txt \
	  || $(PY) -m pip install --quiet --disable-pip-version-check -r tools/requirements.txt
	@touch $@

tools: $(TOOLS_STAMP)
	@rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt

# Headless Chromium and its driver, Debian's packages, for the /docs page
# test (tests/test_docs.py). Installed when missing and we may (root or
# passwordless sudo); otherwise that test skips with a loud message.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
	  export DEBIAN_FRONTEND=noninteractive; \
	  APT="$$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver"; \
	  $$APT >/dev/null 2>&1 || { $$SUDO apt-get update -qq && $$APT; } \
	  || echo "browser: could not install Chromium; tests/test_docs.py will skip"; }

dev: tools
	@$(PY) tools/stack.py dev

# A developer's quick answer, not CI's (make test is the gate): formatting,
# clippy with -D warnings and the workspace lints on the crates the
# uncommitted change touches (tools/changed-crates; every crate when a
# manifest changed), and the domain's unit tests. Under a minute once warm.
check:
	cargo fmt --all -- --check
	@tools/layers
	@crates="$$(tools/changed-crates)"; \
	if [ -n "$${crates// }" ]; then \
	  echo "cargo clippy $$crates"; cargo clippy --locked $$crates --all-targets -- -D warnings; \
	else echo "clippy: no crate changed"; fi
	cargo test --locked --quiet -p quiet-support -p quiet-domain

# make test compiles the workspace once. clippy-driver (what `cargo clippy`
# runs in place of rustc) compiles the workspace's own crates, linting them
# with -D warnings on the way, so the build the tests and the stack run is
# also the lint: `cargo clippy` first would check every dependency, then the
# tests build them all again (2.5 min of a 7.5 min compile, measured fresh).
# Only workspace members go through the wrapper; dependencies are plain
# rustc builds, shared with `make dev`'s. Cargo keeps the wrapped and plain
# builds of our crates apart, so neither rebuilds the other's.
# tools/clippy-planted proves a planted lint still fails this build.
CLIPPY_DRIVER = $(shell rustc --print sysroot)/bin/clippy-driver
build-tests test-rust test-e2e: export RUSTC_WORKSPACE_WRAPPER = $(CLIPPY_DRIVER)
# `cargo clippy -- -D warnings` hands clippy-driver its arguments this way.
build-tests test-rust test-e2e: export CLIPPY_ARGS = -D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__

# Where cargo-audit must be built first (about 4 min of CPU), it builds in
# the background at the lowest CPU priority while the checks run: it fills
# the compile's serial stretches and the core the tests leave idle, and
# takes nothing they want. It runs in a session of its own, so a failure
# here can stop all of it; and since Linux shares CPU fairly between
# sessions before nice counts (autogroups), its session is niced too, or
# it takes half the CPU (measured: the test build 5:34 -> 7:29). A failed
# background build is retried in the foreground by `audit`, where its
# errors show.
AUDIT_BUILD_LOG := .local/cargo-audit-build.log
#
# A fresh make test writes about 5 GB into target/ (4.7 GB measured).
# Where the disk fills, the first sign is the linker dying with "signal 7
# [Bus error]" (it writes through mmap), which names no disk: so with less
# free than this it says so first. A warning, not a failure: a warm run
# writes little.
TEST_DISK_MB := 6000
test: tools browser
	@avail=$$(df -Pm . | awk 'NR == 2 { print $$4 }'); \
	[ "$${avail:-0}" -ge $(TEST_DISK_MB) ] || \
	  echo "make test: WARNING: $$avail MB free here; a fresh run needs about $(TEST_DISK_MB) MB, and a full disk shows as a linker 'Bus error'" >&2
	@set -e; bg=; \
	if [ ! -x $(CARGO_AUDIT) ]; then \
	  mkdir -p .local; \
	  echo "cargo-audit $(CARGO_AUDIT_VERSION) builds in the background (log: $(AUDIT_BUILD_LOG))"; \
	  setsid sh -c 'echo 19 >/proc/self/autogroup 2>/dev/null; exec nice -n 19 "$$@"' sh \
	    $(MAKE) --no-print-directory $(CARGO_AUDIT) >$(AUDIT_BUILD_LOG) 2>&1 & bg=$$!; \
	  trap 'kill -- -$$bg 2>/dev/null || true' EXIT; \
	fi; \
	$(MAKE) --no-print-directory fmt layers cfn-lint build-tests tests; \
	if [ -n "$$bg" ]; then \
	  echo "waiting for the cargo-audit build"; \
	  wait $$bg || echo "the background cargo-audit build failed (log: $(AUDIT_BUILD_LOG)); building it here"; \
	  trap - EXIT; \
	fi; \
	$(MAKE) --no-print-directory audit

# What a developer runs before pushing; make test checks the same, above.
lint: fmt layers clippy cfn-lint

fmt:
	cargo fmt --all -- --check

# shared/'s levels import only downward and no files in a circle
# (shared/src/lib.rs); --planted shows a planted upward import fails it.
layers:
	@tools/layers
	@tools/layers --planted

clippy:
	cargo clippy --workspace --all-targets --locked -- -D warnings

cfn-lint:
	cfn-lint template.yaml

# Every target `cargo clippy --all-targets` lints, and the stack's binaries.
build-tests:
	@tools/clippy-planted
	cargo build --workspace --all-targets --locked

$(CARGO_AUDIT):
	CARGO_PROFILE_DEV_DEBUG=false cargo install --locked --quiet --debug --no-default-features cargo-audit --version $(CARGO_AUDIT_VERSION) --root $(TOOLS_CACHE)/cargo-audit-$(CARGO_AUDIT_VERSION)

# Every advisory is fixed by an upgrade or ignored, with its reason, in
# .cargo/audit.toml. tools/audit-planted proves this fails on a known one.
audit: $(CARGO_AUDIT)
	@test -n "$(ADVISORY_DB)" || { echo "audit: no RustSec snapshot at ../shared/advisory-db; set ADVISORY_DB"; exit 1; }
	@! grep '^source = ' $(AUDIT_LOCKFILE) | grep -v '^source = "registry+https://github.com/rust-lang/crates.io-index"$$' \
		|| { echo "audit: every dependency must come from the default registry"; exit 1; }
	$(CARGO_AUDIT) audit --db $(ADVISORY_DB) --no-fetch --stale --deny warnings --file $(AUDIT_LOCKFILE)
	@[ "$(AUDIT_LOCKFILE)" != Cargo.lock ] || CARGO_AUDIT=$(CARGO_AUDIT) ADVISORY_DB=$(ADVISORY_DB) tools/audit-planted

# The Rust tests and the end-to-end suite, side by side. The suite is a
# chain of waits on its stack and leaves about half of two cores idle, and
# the Rust tests (50 s) fill it: a warm make test took 5:17 with them one
# after the other and 4:37 side by side, run back to back. They write a log,
# shown whole once both are done, so neither's output is cut into the
# other's; both always run to the end, and either failing fails this.
# The Rust tests run in a session of their own, ended with this recipe.
RUST_TEST_LOG := .local/test-rust.log
tests:
	@mkdir -p .local; \
	setsid $(MAKE) --no-print-directory test-rust >$(RUST_TEST_LOG) 2>&1 & rust=$$!; \
	trap 'kill -- -$$rust 2>/dev/null || true' EXIT; \
	echo "cargo test --workspace runs beside the end-to-end suite (log: $(RUST_TEST_LOG))"; \
	e2e=0; $(MAKE) --no-print-directory test-e2e || e2e=$$?; \
	rc=0; wait $$rust || rc=$$?; trap - EXIT; \
	cat $(RUST_TEST_LOG); \
	[ $$rc = 0 ] || echo "make test: the Rust tests FAILED (above; log: $(RUST_TEST_LOG))"; \
	[ $$e2e = 0 ] || echo "make test: the end-to-end suite FAILED (its output is before the Rust tests' log)"; \
	[ $$rc = 0 ] && [ $$e2e = 0 ]

# Unit tests and in-process integration tests (handlers against the emulator).
test-rust:
	cargo test --workspace --locked

# End-to-end: the harness starts its own stack on port 3300 and stops it.
test-e2e:
	$(PY) -m pytest -q tests

build: tools
	@rustup target list --installed | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
	cargo lambda build --release --arm64 --locked $(addprefix --package ,$(FUNCTIONS))
	@for f in $(FUNCTIONS); do printf '%-16s %s bytes\n' $$f $$(stat -c %s target/lambda/$$f/bootstrap); done

# Not part of `make test`: release builds for two targets take a while.
# Sizes come from the arm64 build; timings from host release binaries run
# under a Lambda Runtime API emulator (bench/run.py).
bench: build simulate
	cargo build --release --locked --workspace --bins
	@command -v valgrind >/dev/null || echo "bench: valgrind not found; instructions per call are skipped"
	$(PY) bench/run.py $(if $(shell command -v valgrind),,--no-callgrind)

# A model, not a measurement (bench/simulate.py says what it assumes);
# about ten seconds. Its behaviour is tested in make test
# (tests/test_simulation.py); the full sweep and plot are written here.
simulate: tools
	$(PY) bench/simulate.py

# Not part of `make test` either: explains docs/PERFORMANCE.md from
# release builds with their symbols kept (the `profiling` profile), with
# callgrind, nm and strace.
WHY_BINS := floor seed put-cart-item login health get-product checkout
why: tools
	@for tool in valgrind callgrind_annotate strace nm size; do command -v $$tool >/dev/null || { echo "why: $$tool not found (Debian: valgrind, strace, binutils)"; exit 1; }; done
	cargo build --profile profiling --locked $(addprefix -p ,$(WHY_BINS))
	$(PY) bench/why.py

$(CARGO_FUZZ):
	cargo install --locked --quiet cargo-fuzz --version $(CARGO_FUZZ_VERSION) --root $(TOOLS_CACHE)/cargo-fuzz-$(CARGO_FUZZ_VERSION)

# Each target runs FUZZ_SECONDS from its committed seeds (fuzz/seeds) plus
# what earlier runs found (.local/fuzz/corpus, kept between runs). A crash
# stops here with its input in fuzz/artifacts/<target>/: turn it into a
# regression test next to the code it broke. The build goes to target/fuzz.
fuzz: $(CARGO_FUZZ)
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@mkdir -p .local/fuzz
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p .local/fuzz/corpus/$$t; \
		RUSTUP_TOOLCHAIN=nightly $(CARGO_FUZZ) fuzz run --target-dir target/fuzz $$t \
			.local/fuzz/corpus/$$t fuzz/seeds/$$t -- -max_total_time=$(FUZZ_SECONDS) \
			> .local/fuzz/$$t.log 2>&1 || { tail -40 .local/fuzz/$$t.log; echo "fuzz: $$t FAILED (log: .local/fuzz/$$t.log)"; exit 1; }; \
		printf '%-18s %s\n' $$t "$$(grep -o 'Done [0-9]* runs in [0-9]* second(s)' .local/fuzz/$$t.log)"; \
	done

# wrk comes from the distribution (Debian: apt-get install wrk).
load: tools
	@command -v wrk >/dev/null || (command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk) || { echo "load: install wrk first"; exit 1; }
	$(PY) bench/load.py

# Not part of `make test`: SOAK_SECONDS (180) of traffic from SOAK_CLIENTS
# (8, at most 16) against the stack `make dev` runs, started on its own
# ports; the report goes to docs/SOAK.md (bench/soak.py says what it counts).
soak: tools
	$(PY) bench/soak.py --write
