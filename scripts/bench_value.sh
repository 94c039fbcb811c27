#!/usr/bin/env bash
# Value-model benchmark (issue 3, docs/BENCHMARKS.md), same machine, same run:
#  1. CDNOW master (23,570 customers, from the lifetimes 0.11.3 wheel): fit BG/NBD + Gamma-Gamma and
#     score P(alive), E[X(90 days)] and 12-month CLV for every customer, whole process each side:
#     lifetimes (scripts/peers/lifetimes_value.py) against tenure's project path
#     (init + ingest + score value), with tenure's own fit + score time from `score value --json`.
#  2. tenure bench value at CUSTOMERS generated customers (default 10M): fit + score time, peak RSS.
#   ./scripts/bench_value.sh            CUSTOMERS=1000000 ./scripts/bench_value.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/env.sh
CUSTOMERS="${CUSTOMERS:-10000000}"
WORK="${WORK:-$HOME/.cache/tenure-bench}"
mkdir -p "$WORK"
if [ ! -x "$WORK/lt-venv/bin/python" ]; then
  python3 -m venv "$WORK/lt-venv"
  "$WORK/lt-venv/bin/pip" install --quiet lifetimes==0.11.3
fi
MASTER="$WORK/CDNOW_master.txt"
if [ ! -f "$MASTER" ]; then
  python3 -m pip download --quiet --no-deps lifetimes==0.11.3 -d "$WORK/wheels"
  python3 - "$WORK/wheels" "$MASTER" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/[Ll]ifetimes-0.11.3-*.whl")[0]
open(sys.argv[2], "wb").write(zipfile.ZipFile(wheel).read("lifetimes/datasets/CDNOW_master.txt"))
PY
fi
cargo build --locked -p tenure-cli --bin tenure 2>&1 | tail -1
BIN="$CARGO_TARGET_DIR/debug/tenure"
wall() { /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -1; }

echo "== CDNOW master: $(($(wc -l <"$MASTER") - 1)) transactions"
LT=$(wall "$WORK/lt-venv/bin/python" scripts/peers/lifetimes_value.py "$MASTER" "$WORK/lifetimes_scores.csv")
"$WORK/lt-venv/bin/python" scripts/peers/lifetimes_value.py "$MASTER" "$WORK/lifetimes_scores.csv" 2>&1 >/dev/null | sed 's/^/lifetimes: /'
PROJ="$WORK/value-project"
rm -rf "$PROJ"
MAP=(--map customer_id=customer_id --map ordered_at=date --map amount=dollar_value)
T_INIT=$(wall "$BIN" --project "$PROJ" init)
T_INGEST=$(wall "$BIN" --project "$PROJ" ingest "$MASTER" --table orders "${MAP[@]}")
T_SCORE=$(wall "$BIN" --project "$PROJ" score value --interval-resamples 0)
"$BIN" --project "$PROJ" score value --interval-resamples 0 --json >"$WORK/tenure_value.json"
python3 - "$LT" "$T_INIT" "$T_INGEST" "$T_SCORE" "$WORK/tenure_value.json" <<'PY'
import json, sys
lt, init, ingest, score = ([float(x) for x in a.split()] for a in sys.argv[1:5])
v = json.load(open(sys.argv[5]))
kernel = sum(p[1] for p in v["phases"])
print("tenure: bg/nbd", [round(x, 4) for x in v["bg_nbd"]], "gamma-gamma", v["gamma_gamma"])
project = init[0] + ingest[0] + score[0]
print("| | wall | peak RSS | lifetimes / tenure |")
print("|---|---|---|---|")
print(f"| lifetimes 0.11.3 (read, summary, fit, score) | {lt[0]:.2f} s | {lt[1]/1024:.0f} MB | 1 |")
print(f"| tenure, project (init {init[0]:.2f} + ingest {ingest[0]:.2f} + score {score[0]:.2f}) | {project:.2f} s | {max(init[1], ingest[1], score[1])/1024:.0f} MB | {lt[0]/project:.1f}x |")
print(f"| of which tenure's fit + score | {kernel:.3f} s | | {lt[0]/kernel:.0f}x |")
PY

echo "== tenure bench value --customers $CUSTOMERS"
/usr/bin/time -f "wall %e s, peak RSS %M KB" "$BIN" bench value --customers "$CUSTOMERS"
