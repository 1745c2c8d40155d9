#!/usr/bin/env bash
# scripts/test.sh: every check and test of the project; what CI runs
# (.ci/run). On a fresh Debian machine with Rust it installs Prosody first.
#
#   formatting, clippy (warnings are errors), a build of every target, all
#   tests (unit, property, fuzz-corpus replay, end to end against a real
#   Prosody on both runtimes), a smoke run of the benchmarks
#   (BENCHMARKS.md), and a build of the fuzz targets.
#
# About 10-20 minutes on a 2-core machine from a cold cache.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

started=$(date +%s)
section() {
    printf '\n==== [%4ss] %s ====\n' "$(( $(date +%s) - started ))" "$*"
}

section "dependencies (Prosody, openssl)"
scripts/install-deps.sh
cargo --version
rustc --version

section "cargo fmt --check"
cargo fmt --all -- --check

section "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

section "cargo build (every target; the end-to-end tests run these binaries)"
cargo build --workspace --all-targets

section "cargo test (end to end against Prosody required)"
# FOCUS_E2E_REQUIRED: a missing Prosody fails instead of skipping.
# FOCUS_E2E_NO_BUILD: the binaries were just built above.
FOCUS_E2E_REQUIRED=1 FOCUS_E2E_NO_BUILD=1 cargo test --workspace

section "benchmark smoke run"
cargo bench -p focus-proto --bench stream_parse -- --quick
cargo bench -p focus-proto --bench bridge_selection -- --quick
cargo bench -p focus-tests --bench conference_requests -- --quick
cargo bench -p focus-tests --bench media_joins -- --quick
cargo bench -p focus-tests --bench media_memory -- --quick
# Through Prosody (skipped with a message when it is not installed). The
# smoke run uses the debug binaries built above (a release build would
# cost minutes); the figures in BENCHMARKS.md come from a full release run.
FOCUS_E2E_PROFILE=debug FOCUS_E2E_NO_BUILD=1 cargo bench -p focus-tests --bench media_latency -- --quick

section "fuzz targets build"
if [ -f fuzz/Cargo.toml ]; then
    # A plain stable build of the libFuzzer binaries: it checks they
    # compile and link (fuzzing itself needs cargo-fuzz and nightly).
    cargo build --manifest-path fuzz/Cargo.toml --target-dir target/fuzz --bins
else
    echo "no fuzz/Cargo.toml: skipped"
fi

section "all checks passed"
