#!/usr/bin/env bash
# Runs every check and test of the project (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."

section() { printf '\n==== %s ====\n' "$*"; }

section "dependencies"
scripts/install-deps.sh

section "cargo fmt --check"
cargo fmt --all -- --check

section "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

section "build (binaries used by the end-to-end tests)"
cargo build --workspace --all-targets

section "cargo test (unit, property, simulation, end to end against Prosody)"
FOCUS_E2E_REQUIRED=1 cargo test --workspace

section "benchmark smoke run"
cargo bench -p focus-proto --bench stream_parse -- --quick

section "fuzz targets build"
cargo build --manifest-path fuzz/Cargo.toml --target-dir target/fuzz --bins

section "done"
