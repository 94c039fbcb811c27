#!/usr/bin/env bash
# Runs every test of the workspace (the README's test command; .ci/run calls it too).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tenure-target}"
exec cargo test --workspace --locked "$@"
