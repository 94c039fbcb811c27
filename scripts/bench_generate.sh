#!/usr/bin/env bash
# Simulator benchmark (docs/BENCHMARKS.md): wall time and peak RSS of `tenure generate`.
#   CUSTOMERS=1000000 ./scripts/bench_generate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/env.sh
CUSTOMERS="${CUSTOMERS:-1000000}"
OUT="${OUT:-$HOME/.cache/tenure-bench/shop-$CUSTOMERS}"
cargo build --locked -p tenure-cli --bin tenure 2>&1 | tail -1
rm -rf "$OUT"
/usr/bin/time -v "$CARGO_TARGET_DIR/debug/tenure" --json generate --customers "$CUSTOMERS" --seed 42 --out "$OUT" >"$OUT.json" 2>"$OUT.time"
cat "$OUT.json"
echo "wall: $(awk '/Elapsed \(wall/ {print $8}' "$OUT.time")  peak RSS: $(( $(awk '/Maximum resident/ {print $6}' "$OUT.time") / 1024 )) MB  on disk: $(du -sh "$OUT" | cut -f1)"
