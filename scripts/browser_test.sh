#!/usr/bin/env bash
# End-to-end dashboard test in headless Chromium (docs/DASHBOARD.md): builds tenure, makes a demo
# project, trains and scores churn on the generated shop, creates a read key, serves the project on
# a free loopback port, runs scripts/browser/dashboard.test.mjs (Playwright), and stops the server.
# Screenshots go to docs/screenshots/. Needs /usr/bin/chromium (Debian packages chromium and
# chromium-driver; .ci/run installs them) and node with `npm ci` run in scripts/browser.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/env.sh

if [ ! -x /usr/bin/chromium ]; then
  echo "browser test: /usr/bin/chromium is missing: apt-get install -y chromium chromium-driver" >&2
  exit 1
fi
if [ ! -d scripts/browser/node_modules/playwright-core ]; then
  (cd scripts/browser && npm ci --no-audit --no-fund)
fi

cargo build --locked -p tenure-cli --bin tenure
TENURE="$CARGO_TARGET_DIR/debug/tenure"
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "browser test: building a demo project in $WORK"
"$TENURE" demo --dir "$WORK/demo" --shop-customers "${TENURE_BROWSER_SHOP:-1500}" --no-serve > "$WORK/demo.log"
PROJECT="$WORK/demo/shop"
# A churn model, so the risk page and a model page show model probabilities, ROC and calibration.
"$TENURE" --project "$PROJECT" train churn > "$WORK/train.log"
"$TENURE" --project "$PROJECT" score risk > "$WORK/score.log"
# Figures the API has no route for, computed here by SQL before the server holds the store.
AS_OF="$("$TENURE" --project "$PROJECT" --json sql "SELECT CAST(as_of AS VARCHAR) AS d FROM score_runs ORDER BY created_at DESC, run_id DESC LIMIT 1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].d))')"
export EXPECT_REVENUE="$("$TENURE" --project "$PROJECT" --json sql "SELECT coalesce(sum(amount), 0) AS v FROM orders WHERE ordered_at < DATE '$AS_OF' + INTERVAL 1 DAY AND coalesce(lower(status), '') NOT IN ('cancelled', 'canceled', 'void', 'failed')" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].v))')"
export TENURE_KEY="$("$TENURE" --project "$PROJECT" keys create --scope read --name browser-test 2>/dev/null)"

"$TENURE" --project "$PROJECT" --json serve --addr 127.0.0.1:0 > "$WORK/serve.out" 2> "$WORK/serve.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do
  if grep -q listening "$WORK/serve.out" 2>/dev/null; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then cat "$WORK/serve.log" >&2; exit 1; fi
  sleep 0.2
done
export TENURE_URL="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8").split("\n")[0]).listening)' "$WORK/serve.out")"
echo "browser test: server at $TENURE_URL (as of $AS_OF)"
export SCREENSHOTS="${SCREENSHOTS:-$PWD/docs/screenshots}"
mkdir -p "$SCREENSHOTS"
node scripts/browser/dashboard.test.mjs
