#!/usr/bin/env bash
# Ingest benchmark (docs/BENCHMARKS.md): `tenure ingest` of ROWS order rows from CSV against pandas
# read_csv (just reading) and DuckDB's own read_csv, same file, same machine, same run.
#   ROWS=10000000 ./scripts/bench_ingest.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/env.sh
ROWS="${ROWS:-10000000}"
WORK="${WORK:-$HOME/.cache/tenure-bench}"
mkdir -p "$WORK"
if [ ! -x "$WORK/venv/bin/python" ]; then
  python3 -m venv "$WORK/venv"
  "$WORK/venv/bin/pip" install --quiet pandas duckdb
fi
CSV="$WORK/orders-$ROWS.csv"
[ -f "$CSV" ] || python3 scripts/peers/make_orders_csv.py "$ROWS" "$CSV"
cargo build --locked -p tenure-cli --bin tenure 2>&1 | tail -1
BIN="$CARGO_TARGET_DIR/debug/tenure"
echo "file: $CSV ($(du -h "$CSV" | cut -f1), $ROWS rows)"

PEERS=$("$WORK/venv/bin/python" scripts/peers/read_csv_peers.py "$CSV")
echo "peers: $PEERS"

PROJ="$WORK/project"
rm -rf "$PROJ"
"$BIN" --project "$PROJ" init >/dev/null
/usr/bin/time -v "$BIN" --project "$PROJ" ingest "$CSV" --table orders --json >"$WORK/ingest.json" 2>"$WORK/ingest.time" || true
T1=$(python3 -c "import json;print(json.load(open('$WORK/ingest.json'))['seconds'])")
RSS1=$(awk '/Maximum resident/ {print $6}' "$WORK/ingest.time")
WALL1=$(awk '/Elapsed \(wall/ {print $8}' "$WORK/ingest.time")
/usr/bin/time -v "$BIN" --project "$PROJ" ingest "$CSV" --table orders --json >"$WORK/reingest.json" 2>"$WORK/reingest.time" || true
T2=$(python3 -c "import json;print(json.load(open('$WORK/reingest.json'))['seconds'])")
python3 - "$PEERS" "$T1" "$T2" "$RSS1" "$WALL1" "$ROWS" <<'PY'
import json, sys
peers = json.loads(sys.argv[1]); t1, t2 = float(sys.argv[2]), float(sys.argv[3])
rss_mb = int(sys.argv[4]) / 1024; wall = sys.argv[5]; rows = int(sys.argv[6])
p = peers["pandas_read_csv_s"]; d = peers["duckdb_read_csv_s"]
dp, du = peers["duckdb_persistent_s"], peers["duckdb_persistent_unordered_s"]
print(f"| rows | tenure ingest (first) | tenure re-ingest (all duplicates) | pandas read_csv | pandas + to_datetime | duckdb read_csv (memory) | duckdb read_csv into a file (default / unordered) | ratio vs pandas read_csv | duckdb into a file vs pandas |")
print(f"|---|---|---|---|---|---|---|---|---|")
print(f"| {rows:,} | {t1:.2f} s ({rows/t1/1e6:.2f} M rows/s, wall {wall}, RSS {rss_mb:.0f} MB) | {t2:.2f} s | {p:.2f} s | {p + peers['pandas_parse_dates_s']:.2f} s | {d:.2f} s | {dp:.2f} s / {du:.2f} s | {p/t1:.2f}x | {p/dp:.2f}x / {p/du:.2f}x |")
print(f"pandas {peers['pandas_version']}, duckdb (python) {peers['duckdb_version']}")
PY
