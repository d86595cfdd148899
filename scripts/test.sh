#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs every test: the C++ unit tests through ctest, then the browser tests
# (Playwright driving Debian's chromium against a real `mimir serve`), after checking the C++ formatting
# (scripts/format.sh --check). Exit status is non-zero if any fails.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --build-dir build
status=0
scripts/format.sh --check || status=1
ctest --test-dir build --output-on-failure -j "${MIMIR_JOBS:-$(nproc)}" --timeout 600 || status=1
if [[ -x tests/browser/run.sh ]]; then
  tests/browser/run.sh build/src/cli/mimir || status=1
fi
exit $status
