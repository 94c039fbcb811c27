#!/usr/bin/env bash
# Sets up and runs the demo: builds tenure (first build compiles DuckDB once per machine, see
# docs/BUILD.md), ingests the bundled CDNOW sample and a generated shop, prints what the store holds.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/env.sh
exec cargo run --locked -p tenure-cli --bin tenure -- demo --dir demo-project "$@"
