#!/usr/bin/env bash
# Browser tests: Playwright (playwright-core from npm) drives Debian's chromium headless against
# `mimir serve` on 127.0.0.1: the chat page and status button in each model state (status_page.mjs), then
# feedback, the review view and the export end to end (feedback_page.mjs). Installs what it needs; exit
# status 1 on any failure.
# Screenshots go to artifacts/browser/.
# Usage: tests/browser/run.sh <path to the mimir executable>
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mimir="$(realpath "${1:?usage: tests/browser/run.sh <path to mimir>}")"
build_dir="$(cd "$(dirname "$mimir")/../.." && pwd)"

if [[ ! -x /usr/bin/chromium && -z "${MIMIR_CHROMIUM:-}" ]]; then
  echo "browser tests: installing chromium" >&2
  sudo_cmd=""; [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
if [[ ! -d "$here/node_modules/playwright-core" ]]; then
  (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
fi

models="$build_dir/browser-test-models"
mkdir -p "$models"
[[ -f "$models/base.gguf" ]] || "$mimir" model tiny --out "$models/base.gguf" >/dev/null
cp "$models/base.gguf" "$models/fine-tuned.gguf"
[[ -f "$models/adapter.gguf" ]] || "$mimir" model tiny-adapter --base "$models/base.gguf" --out "$models/adapter.gguf" >/dev/null
head -c 4096 /dev/urandom | { printf 'GGUF'; cat; } > "$models/corrupt.gguf"

status=0
timeout 600 node "$here/status_page.mjs" --mimir "$mimir" --models "$models" --artifacts "$root/artifacts/browser" || status=1
timeout 420 node "$here/feedback_page.mjs" --mimir "$mimir" --models "$models" --artifacts "$root/artifacts/browser" || status=1
exit $status
