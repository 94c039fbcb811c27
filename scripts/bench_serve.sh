#!/usr/bin/env bash
# API load benchmark (issue 6 bar: GET customer at 2,000 requests/s for 60 s on 2 cores → p99 < 10 ms,
# 0 errors; docs/BENCHMARKS.md). Loopback only, bounded:
#  1. a scored CDNOW project (init + ingest + score value) and a read key, in a scratch folder;
#  2. `tenure serve` on 127.0.0.1 (request logs off to /dev/null), waiting until its profile cache is
#     warm (every customer's profile computed once at start; see crates/tenure-server/src/cache.rs);
#  3. the fixed-rate load generator (crates/tenure-server/examples/load.rs: keep-alive connections,
#     latency from each request's scheduled send time, as wrk2) at RATE requests/s for DURATION s of
#     GET /v1/customers/{id} over every customer (2,357), printing p50/p90/p99/p99.9/max and errors;
#  4. the server's own view from /metrics, then the server is stopped.
#   ./scripts/bench_serve.sh        RATE=4000 DURATION=30 CONNECTIONS=100 ./scripts/bench_serve.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/env.sh
RATE="${RATE:-2000}"
DURATION="${DURATION:-60}"
CONNECTIONS="${CONNECTIONS:-50}"
WORKERS="${WORKERS:-2}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tenure-bench-serve.XXXXXX")"
SERVER=""
cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

cargo build --locked -p tenure-cli --bin tenure 2>&1 | tail -1
cargo build --locked -p tenure-server --example load 2>&1 | tail -1
BIN="$CARGO_TARGET_DIR/debug/tenure"
LOAD="$CARGO_TARGET_DIR/debug/examples/load"
P="$WORK/project"
"$BIN" --project "$P" init >/dev/null
"$BIN" --project "$P" ingest tests/fixtures/cdnow/CDNOW_sample.txt --table orders \
  --map customer_id=column2 --map ordered_at=column3 --map amount=column5 >/dev/null
"$BIN" --project "$P" score value >/dev/null
KEY=$("$BIN" --project "$P" --json keys create --scope read --name bench | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

"$BIN" --project "$P" --json serve --addr 127.0.0.1:0 --workers "$WORKERS" >"$WORK/serve.out" 2>/dev/null &
SERVER=$!
for _ in $(seq 100); do
  [ -s "$WORK/serve.out" ] && break
  sleep 0.1
done
ADDR=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["listening"].removeprefix("http://"))' "$WORK/serve.out")
# `tenure serve` caches every customer's profile in the background at start (one store connection,
# a chunk at a time); the run starts once /metrics says the cache is warm.
T0=$(date +%s)
for _ in $(seq 900); do
  curl -s "http://$ADDR/metrics" | grep -q '^tenure_profile_cache_warm 1$' && break
  sleep 1
done
echo "== profile cache warm after $(( $(date +%s) - T0 )) s ($(curl -s "http://$ADDR/metrics" | grep '^tenure_profile_cache_entries' | cut -d' ' -f2) profiles)"
echo "== tenure serve on $ADDR (workers $WORKERS, $(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
echo "== $RATE requests/s for $DURATION s over $CONNECTIONS keep-alive connections"
"$LOAD" --addr "$ADDR" --key "$KEY" --rate "$RATE" --seconds "$DURATION" --connections "$CONNECTIONS" | tee "$WORK/load.json"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== server view (/metrics, GET /v1/customers/{id}):"
python3 - "$ADDR" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen(f"http://{sys.argv[1]}/metrics").read().decode()
for line in text.splitlines():
    if 'route="/v1/customers/{id}"' in line and ("_count" in line or 'le="0.005"' in line or 'le="0.01"' in line or "requests_total" in line):
        print("  " + line)
PY
python3 - "$WORK/load.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ok = r["errors"] == 0 and r["p99_ms"] < 10.0
print(f"== bar (p99 < 10 ms, 0 errors): {'met' if ok else 'MISSED'} (p99 {r['p99_ms']} ms, errors {r['errors']})")
PY
