# Shared build environment of the repository's scripts (sourced, not run).
# One target directory per machine, outside the clone, so DuckDB's C++ is built once per machine.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tenure-target}"
# ccache turns a DuckDB rebuild (any change to the build script's host dependencies re-runs it) from
# ~40 minutes into a few. Installed by .ci/run and scripts/demo.sh when missing and possible.
if ! command -v ccache >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && apt-get install -y -qq ccache) >/dev/null 2>&1 || true
fi
if command -v ccache >/dev/null 2>&1; then
  export CC="ccache gcc" CXX="ccache g++"
  export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/tenure-ccache}"
  export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-5G}"
fi
# The encoder's matrix products link Debian's OpenBLAS statically (tenure-lm feature `openblas`, on by
# default in the `tenure` binary; docs/LM.md#speed). Installed here when missing and possible.
OPENBLAS_A="/usr/lib/$(uname -m)-linux-gnu/openblas-pthread/libopenblas.a"
if [ -z "${TENURE_OPENBLAS_LIB_DIR:-}" ] && [ ! -f "$OPENBLAS_A" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && apt-get install -y -qq libopenblas-dev) >/dev/null 2>&1 || true
  fi
  [ -f "$OPENBLAS_A" ] || echo "note: $OPENBLAS_A is missing: install libopenblas-dev (or build tenure-cli with --no-default-features)" >&2
fi
