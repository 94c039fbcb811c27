#!/usr/bin/env bash
# Runs every test of the workspace (the README's test command; .ci/run calls it too).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/env.sh
exec cargo test --workspace --locked "$@"
