#!/usr/bin/env bash
# Runs every test of the workspace (the README's test command; .ci/run calls it too).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/env.sh
# The dashboard end to end in headless Chromium (docs/DASHBOARD.md); TENURE_BROWSER_TEST=0 skips it.
if [ "${TENURE_BROWSER_TEST:-1}" != 0 ]; then
  ./scripts/browser_test.sh
fi
exec cargo test --workspace --locked "$@"
