#!/usr/bin/env bash
# Value-model benchmark (issue 3, docs/BENCHMARKS.md), same machine, same run:
#  1. CDNOW master (23,570 customers, from the lifetimes 0.11.3 wheel): fit BG/NBD + Gamma-Gamma and
#     score P(alive), E[X(90 days)] and 12-month CLV for every customer, whole process each side:
#     lifetimes (scripts/peers/lifetimes_value.py) against `tenure score value --orders FILE --out
#     CSV --columns p_alive,expected_purchases_90d,clv` (store-less: the same work as the script),
#     the same with every score column, and tenure's project path (init + lossless ingest + score
#     value); median of RUNS (3) runs per side, answers compared per customer.
#  2. tenure bench value at CUSTOMERS generated customers (default 10M; 0 skips): fit + score, peak RSS.
#   ./scripts/bench_value.sh            CUSTOMERS=1000000 ./scripts/bench_value.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/env.sh
CUSTOMERS="${CUSTOMERS:-10000000}"
RUNS="${RUNS:-3}"
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
# Wall seconds (bash's microsecond clock; /usr/bin/time prints only hundredths) and peak RSS in KB.
wall() {
  local t0=$EPOCHREALTIME rss
  rss=$(/usr/bin/time -f "%M" "$@" 2>&1 >/dev/null | tail -1)
  local t1=$EPOCHREALTIME
  echo "$(python3 -c "print(f'{$t1 - $t0:.4f}')") $rss"
}

echo "== CDNOW master: $(($(wc -l <"$MASTER") - 1)) transactions (median of $RUNS runs per side; load average $(cut -d' ' -f1-3 /proc/loadavg))"
# Median wall time and its peak RSS over RUNS runs of a command.
median() {
  for _ in $(seq "$RUNS"); do wall "$@"; done | sort -n | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'
}
LT=$(median "$WORK/lt-venv/bin/python" scripts/peers/lifetimes_value.py "$MASTER" "$WORK/lifetimes_scores.csv")
"$WORK/lt-venv/bin/python" scripts/peers/lifetimes_value.py "$MASTER" "$WORK/lifetimes_scores.csv" 2>&1 >/dev/null | sed 's/^/lifetimes: /'
MAP=(--map customer_id=customer_id --map ordered_at=date --map amount=dollar_value)
# Store-less, like for like: read + validate the file, summarise, fit both models, score the
# peer's three outputs (P(alive), E[X(90 days)], CLV), write them (no project).
SAME=(--columns p_alive,expected_purchases_90d,clv)
T_SAME=$(median "$BIN" score value --orders "$MASTER" "${MAP[@]}" --out "$WORK/tenure_same.csv" --interval-resamples 0 "${SAME[@]}")
# Store-less, every score column (adds RFM, E[X] at 30 and 365 days, the next-order date).
T_FILE=$(median "$BIN" score value --orders "$MASTER" "${MAP[@]}" --out "$WORK/tenure_scores.csv" --interval-resamples 0)
"$BIN" score value --orders "$MASTER" "${MAP[@]}" --out "$WORK/tenure_same.csv" --interval-resamples 0 "${SAME[@]}" --json >"$WORK/tenure_file.json"
# Project: init + lossless ingest into DuckDB + feature SQL + fit + score + store the scores.
PROJ="$WORK/value-project"
rm -rf "$PROJ"
T_INIT=$(wall "$BIN" --project "$PROJ" init)
T_INGEST=$(wall "$BIN" --project "$PROJ" ingest "$MASTER" --table orders "${MAP[@]}")
T_SCORE=$(wall "$BIN" --project "$PROJ" score value --interval-resamples 0)
python3 - "$LT" "$T_FILE" "$T_INIT" "$T_INGEST" "$T_SCORE" "$WORK/tenure_file.json" "$WORK/lifetimes_scores.csv" "$WORK/tenure_scores.csv" "$T_SAME" "$WORK/tenure_same.csv" <<'PY'
import csv, json, sys
lt, file_, init, ingest, score = ([float(x) for x in a.split()] for a in sys.argv[1:6])
same = [float(x) for x in sys.argv[9].split()]
v = json.load(open(sys.argv[6]))
# Main-thread phases between reading and writing (RFM and the Gamma-Gamma fit run beside BG/NBD).
kernel = sum(p[1] for p in v["phases"] if p[0] not in ("read and validate", "write", "rfm", "fit gamma-gamma"))
print("tenure: bg/nbd", [round(x, 4) for x in v["bg_nbd"]], "gamma-gamma", [round(x, 4) for x in v["gamma_gamma"]])
# Same answers: largest per-customer differences against lifetimes.
lt_rows = {r["customer_id"]: r for r in csv.DictReader(open(sys.argv[7]))}
for name, path in (("every column", sys.argv[8]), ("like for like", sys.argv[10])):
    worst = {"p_alive": 0.0, "expected_purchases_90d": 0.0, "clv": 0.0}
    seen = 0
    for r in csv.DictReader(open(path)):
        l = lt_rows.get(r["customer_id"]) or lt_rows.get(r["customer_id"].lstrip("0"))
        if l is None or not r["p_alive"]:
            continue
        seen += 1
        for k in worst:
            a, b = float(r[k] or 0), float(l[k])
            worst[k] = max(worst[k], abs(a - b) / max(1.0, abs(b)))
    print(f"{name}: {seen} customers; largest relative difference vs lifetimes:", {k: f"{v:.1e}" for k, v in worst.items()})
project = init[0] + ingest[0] + score[0]
print("| | wall | peak RSS | lifetimes / tenure |")
print("|---|---|---|---|")
print(f"| lifetimes 0.11.3 (import, read, summary, fit, score, write CSV) | {lt[0]:.2f} s | {lt[1]/1024:.0f} MB | 1 |")
print(f"| tenure score value --orders --columns p_alive,expected_purchases_90d,clv (the peer's work: read + validate, summary, both fits, its three scores, write CSV) | {same[0]:.3f} s | {same[1]/1024:.0f} MB | **{lt[0]/same[0]:.0f}x** |")
print(f"| tenure score value --orders, every column (adds RFM, E[X] 30/365 d, next-order date) | {file_[0]:.3f} s | {file_[1]/1024:.0f} MB | {lt[0]/file_[0]:.0f}x |")
print(f"| tenure project (init {init[0]:.2f} + ingest {ingest[0]:.2f} + score {score[0]:.2f}) | {project:.2f} s | {max(init[1], ingest[1], score[1])/1024:.0f} MB | {lt[0]/project:.1f}x |")
print(f"| of which (like for like) summary + fits + scores | {kernel:.3f} s | | {lt[0]/kernel:.0f}x |")
PY

[ "$CUSTOMERS" -gt 0 ] || exit 0
echo "== tenure bench value --customers $CUSTOMERS"
/usr/bin/time -f "wall %e s, peak RSS %M KB" "$BIN" bench value --customers "$CUSTOMERS"
